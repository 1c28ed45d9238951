"""Small Qt controls of the dock widget: the radius, and a method's own options."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QWidget,
)

from bgsub.methods import Method, Parameter

__all__ = ["OptionsForm", "RadiusControl"]

RADIUS_RANGE = (0.5, 10_000.0)
SLIDER_MAX = 200
OPTION_MAX = 100_000.0
DEFAULT_TEXT = "default"


class RadiusControl(QWidget):
    """A slider for quick changes and a spin box for exact values, kept in step.

    The slider covers 1 to 200 pixels (more when a larger value is typed in
    the spin box); the spin box takes 0.5 to 10000 pixels in steps of 0.5.

    Parameters
    ----------
    value : float
        The starting radius in pixels.
    parent : QWidget, optional
        The Qt parent.
    """

    valueChanged = Signal(float)  # noqa: N815 -- Qt naming

    def __init__(self, value: float = 50.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, SLIDER_MAX)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(*RADIUS_RANGE)
        self.spin.setDecimals(1)
        self.spin.setSingleStep(0.5)
        self.spin.setSuffix(" px")
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, stretch=1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        self.setValue(value)

    def value(self) -> float:
        """The radius in pixels."""
        return float(self.spin.value())

    def text(self) -> str:
        """The radius as the spin box shows it, e.g. ``"31.6 px"`` (its 1 decimal)."""
        return self.spin.textFromValue(self.spin.value()) + self.spin.suffix()

    def setValue(self, value: float) -> None:  # noqa: N802 -- Qt naming
        """Set the radius (in pixels); emits ``valueChanged`` when it changes."""
        self.spin.setValue(float(value))
        self._sync_slider(self.spin.value())

    def _from_slider(self, value: int) -> None:
        self.spin.setValue(float(value))

    def _from_spin(self, value: float) -> None:
        self._sync_slider(value)
        self.valueChanged.emit(float(value))

    def _sync_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(SLIDER_MAX, math.ceil(value)))
        self.slider.setValue(max(1, round(value)))
        self.slider.blockSignals(False)


class OptionsForm(QWidget):
    """One editor per option of a method, built from its registry entry.

    A choice becomes a drop-down (a check box for True/False), a number a
    spin box; a number whose default is None ("use the radius") shows
    ``default`` at the bottom of its spin box.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._getters: dict[str, tuple[Parameter, Callable[[], Any]]] = {}

    def set_method(self, method: Method) -> None:
        """Show the options of ``method``, at their defaults."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._getters.clear()
        for parameter in method.parameters:
            editor, getter = _editor_for(parameter, self.changed.emit)
            editor.setToolTip(parameter.doc)
            editor.setObjectName(f"option_{parameter.name}")
            self._layout.addRow(parameter.name.replace("_", " "), editor)
            self._getters[parameter.name] = (parameter, getter)
        self.setVisible(bool(method.parameters))

    def editor(self, name: str) -> QWidget:
        """The editor of option ``name`` (for tests and scripting)."""
        return self.findChild(QWidget, f"option_{name}")

    def values(self) -> dict[str, Any]:
        """The options that differ from their defaults."""
        values = {}
        for name, (parameter, getter) in self._getters.items():
            value = getter()
            if value != parameter.default:
                values[name] = value
        return values


def _editor_for(
    parameter: Parameter, on_change: Callable[[], None]
) -> tuple[QWidget, Callable[[], Any]]:
    """A Qt editor for ``parameter`` and a function reading its value."""
    choices = parameter.choices
    if choices is not None and set(choices) == {False, True}:
        box = QCheckBox()
        box.setChecked(bool(parameter.default))
        box.toggled.connect(on_change)
        return box, box.isChecked
    if choices is not None:
        combo = QComboBox()
        combo.addItems([str(c) for c in choices])
        combo.setCurrentIndex(choices.index(parameter.default))
        combo.currentIndexChanged.connect(on_change)
        return combo, lambda: choices[combo.currentIndex()]
    if parameter.default is None or isinstance(parameter.default, (int, float)):
        return _number_editor(parameter, on_change)
    line = QLineEdit(str(parameter.default))
    line.editingFinished.connect(on_change)
    return line, line.text


def _number_editor(
    parameter: Parameter, on_change: Callable[[], None]
) -> tuple[QWidget, Callable[[], Any]]:
    spin = QDoubleSpinBox()
    spin.setDecimals(2)
    spin.setKeyboardTracking(False)
    nullable = parameter.default is None
    low = parameter.minimum if parameter.minimum is not None else 0.0
    if not nullable and parameter.exclusive:
        low += 0.01
    spin.setRange(low, OPTION_MAX)
    if nullable:
        spin.setSpecialValueText(DEFAULT_TEXT)
    spin.setValue(low if parameter.default is None else float(parameter.default))
    spin.valueChanged.connect(on_change)

    def value() -> float | None:
        number = spin.value()
        if nullable and number == spin.minimum():
            return None
        return number

    return spin, value
