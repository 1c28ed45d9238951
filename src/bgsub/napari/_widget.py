"""The dock widget: choose an image and settings, preview the shown plane, apply."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
from napari.qt.threading import create_worker
from qtpy.QtCore import QEvent, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import bgsub
from bgsub.engine import Cancelled
from bgsub.methods import Method
from bgsub.napari._compute import Plane, apply_with_warnings, preview_with_warnings
from bgsub.napari._controls import OptionsForm, RadiusControl
from bgsub.napari._settings import (
    DEFAULT_METHOD,
    DEFAULT_RADIUS,
    PRESMOOTH_CHOICES,
    Settings,
    array_layout,
    guess_channel_axis,
    layer_axes,
    spacing_refusal,
)

if TYPE_CHECKING:
    import napari
    from napari.qt.threading import WorkerBase

__all__ = ["BackgroundWidget"]

PREVIEW_DELAY_MS = 300
PREVIEW_TAG = "bgsub_preview"
PREVIEW_NAMES = {"background": "bgsub preview: background",
                 "foreground": "bgsub preview: foreground"}
# Where a result layer sits in space: copied from the source layer.
GEOMETRY = ("scale", "translate", "rotate", "shear", "affine", "units", "axis_labels")
# What a preview (one plane of the source) copies for its two axes.
PLANE_GEOMETRY = ("scale", "translate", "units", "axis_labels")
MISSING_TIP = ("Pixels that are not data (a mosaic's padding): they weigh on no background "
               "and keep their value.")
NO_MISSING_TIP = ("Method {!r} reproduces another program's command, which has no pixels "
                  "that are not data.")
NO_CHANNELS = "none"
ERROR_STYLE = "color: #ff6b6b;"
WARNING_STYLE = "color: #f0b030;"


class BackgroundWidget(QWidget):
    """Background subtraction for napari image layers.

    Pick an image layer, a method (from bgsub's registry; it opens on bgsub's
    default method and radius), a radius and the options, and for a
    multichannel layer its channel axis; the plane on screen is previewed as
    two layers (background and foreground) placed like that plane of the
    source, recomputed in a worker thread 300 ms after the last change.
    *Apply* computes the whole layer with a progress bar and adds
    ``"<name> foreground"`` and ``"<name> background"`` layers placed like the
    source, with the settings in ``layer.metadata["bgsub"]``.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it in when it docks the widget).
    """

    preview_updated = Signal()
    applied = Signal(object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.preview_settings: Settings | None = None
        self._note: tuple[Settings, str] | None = None  # Auto's reason, while it applies
        self._layers: list[Image] = []
        self._generation = 0
        self._preview_worker: WorkerBase | None = None
        self._preview_pending = False
        self._apply_worker: WorkerBase | None = None
        self._cancel = threading.Event()
        self._auto_worker: WorkerBase | None = None
        self._suggest, auto_tip = _find_suggest_radius()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._start_preview)
        self._build(auto_tip)
        self._connect_viewer()
        self.refresh_layers()
        self._method_changed()
        self._layer_changed()

    # ----------------------------------------------------------------- layout
    def _build(self, auto_tip: str) -> None:
        self.layer_combo = QComboBox()
        self.method_combo = QComboBox()
        for method in bgsub.list_methods():
            self.method_combo.addItem(method.name.replace("_", " "), method.name)
            self.method_combo.setItemData(self.method_combo.count() - 1, method.summary,
                                          Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setCurrentIndex(max(self.method_combo.findData(DEFAULT_METHOD), 0))
        self.radius = RadiusControl(DEFAULT_RADIUS)
        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip(auto_tip)
        self.auto_button.setEnabled(self._suggest is not None)
        self.light_check = QCheckBox("bright background, dark objects")
        self.presmooth_combo = QComboBox()
        self.presmooth_combo.addItems(PRESMOOTH_CHOICES)
        self.presmooth_size = QDoubleSpinBox()
        self.presmooth_size.setRange(0.1, 100.0)
        self.presmooth_size.setValue(1.0)
        self.presmooth_size.setSingleStep(0.5)
        self.presmooth_size.setKeyboardTracking(False)
        self.presmooth_size.setToolTip("box radius (mean, median) or sigma (gaussian), px")
        self.missing_check = QCheckBox("leave out pixels of value")
        self.missing_check.setToolTip(MISSING_TIP)
        self.missing_value = QDoubleSpinBox()
        self.missing_value.setRange(-1e12, 1e12)
        self.missing_value.setDecimals(3)
        self.missing_value.setValue(0.0)
        self.missing_value.setKeyboardTracking(False)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("2D, each plane", False)
        self.mode_combo.addItem("3D neighbourhood", True)
        self.channel_combo = QComboBox()
        self.channel_combo.setToolTip("The axis that holds channels: each channel is processed "
                                      "on its own, never as Z of a 3D neighbourhood.")
        self.options = OptionsForm()
        self.preview_check = QCheckBox("live preview of the shown plane")
        self.preview_check.setChecked(True)
        self.apply_button = QPushButton("Apply")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.copy_python_button = QPushButton("Copy as Python")
        self.copy_cli_button = QPushButton("Copy as CLI")
        self.message = QLabel()
        self.message.setWordWrap(True)

        form = QFormLayout()
        form.addRow("image", self.layer_combo)
        form.addRow("method", self.method_combo)
        form.addRow("radius", _row(self.radius, self.auto_button))
        form.addRow("light", self.light_check)
        form.addRow("pre-smooth", _row(self.presmooth_combo, self.presmooth_size))
        form.addRow("missing", _row(self.missing_check, self.missing_value))
        form.addRow("channels", self.channel_combo)
        form.addRow("stack", self.mode_combo)
        box = QGroupBox("method options")
        QVBoxLayout(box).addWidget(self.options)
        self.options_box = box
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(box)
        layout.addWidget(self.preview_check)
        layout.addWidget(_row(self.apply_button, self.progress))
        layout.addWidget(_row(self.copy_python_button, self.copy_cli_button))
        layout.addWidget(self.message)
        layout.addStretch(1)
        self._connect_controls()

    def _connect_controls(self) -> None:
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.method_combo.currentIndexChanged.connect(self._method_changed)
        self.channel_combo.currentIndexChanged.connect(self._channels_changed)
        self.presmooth_combo.currentIndexChanged.connect(self._presmooth_changed)
        for signal in (self.radius.valueChanged, self.light_check.toggled,
                       self.presmooth_size.valueChanged, self.mode_combo.currentIndexChanged,
                       self.options.changed, self.missing_check.toggled,
                       self.missing_value.valueChanged):
            signal.connect(self.schedule_preview)
        self.preview_check.toggled.connect(self._preview_toggled)
        self.auto_button.clicked.connect(self.auto_radius)
        self.apply_button.clicked.connect(self.apply)
        self.copy_python_button.clicked.connect(self.copy_as_python)
        self.copy_cli_button.clicked.connect(self.copy_as_cli)
        self._presmooth_changed()

    def _connect_viewer(self) -> None:
        events = self.viewer.layers.events
        connections = [(events.inserted, self.refresh_layers),
                       (events.removed, self.refresh_layers),
                       (events.reordered, self.refresh_layers),
                       (events.renamed, self.refresh_layers),
                       (self.viewer.dims.events.current_step, self._dims_changed),
                       (self.viewer.dims.events.order, self._dims_changed),
                       (self.viewer.dims.events.ndisplay, self._dims_changed)]
        for emitter, callback in connections:
            emitter.connect(callback)
        self.destroyed.connect(partial(_disconnect, connections))

    # ---------------------------------------------------------------- reading
    def layer(self) -> Image | None:
        """The chosen image layer, if any."""
        index = self.layer_combo.currentIndex()
        return self._layers[index] if 0 <= index < len(self._layers) else None

    def settings(self) -> Settings:
        """The current settings, with the axes and pixel sizes of the chosen layer."""
        layer = self.layer()
        true_3d = bool(self.mode_combo.currentData()) and self.mode_combo.isEnabled()
        axes = spacing = layout = None
        if layer is not None:
            ndim, channel_axis = layer.ndim + int(layer.rgb), self.channel_combo.currentData()
            axes, spacing, true_3d = layer_axes(ndim, bool(layer.rgb), tuple(layer.scale),
                                                true_3d, channel_axis)
            layout = array_layout(ndim, bool(layer.rgb), channel_axis) if ndim > 2 else None
        return Settings(
            method=self.method_combo.currentData(),
            radius=self.radius.value(),
            light_background=self.light_check.isChecked(),
            presmooth=self.presmooth_combo.currentText(),
            presmooth_size=self.presmooth_size.value(),
            true_3d=true_3d,
            options=self.options.values(),
            axes=axes,
            spacing=spacing,
            missing=self.missing_value.value() if self._missing_on() else None,
            layout=layout,
        )

    def _missing_on(self) -> bool:
        return self.missing_check.isChecked() and self.missing_check.isEnabled()

    def is_busy(self) -> bool:
        """Whether a preview or an apply is waiting or running."""
        workers = (self._preview_worker, self._apply_worker, self._auto_worker)
        return self._timer.isActive() or any(w is not None for w in workers)

    # ---------------------------------------------------------------- changes
    def refresh_layers(self, event: Any = None) -> None:
        """Re-read the viewer's image layers, keeping the chosen one if it is still there."""
        current = self.layer()
        layers = [layer for layer in self.viewer.layers
                  if isinstance(layer, Image) and not layer.metadata.get(PREVIEW_TAG)]
        if current is None:
            active = self.viewer.layers.selection.active
            # `==`, not `is`: napari may hand a plugin a proxy of the active layer
            current = next((layer for layer in layers if layer == active), None)
        self._layers = layers
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems([layer.name for layer in layers])
        index = next((i for i, layer in enumerate(layers) if layer is current), 0)
        self.layer_combo.setCurrentIndex(index if layers else -1)
        self.layer_combo.blockSignals(False)
        if self.layer() is not current:
            self._layer_changed()

    def _layer_changed(self, index: int | None = None) -> None:
        self._fill_channels()
        self._update_mode()
        layer = self.layer()
        self.apply_button.setEnabled(layer is not None or self._apply_worker is not None)
        if layer is None:
            self._remove_preview_layers()
        self.schedule_preview()

    def _fill_channels(self) -> None:
        """Offer the layer's axes before the image plane as the channel axis."""
        layer = self.layer()
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        self.channel_combo.addItem(NO_CHANNELS, None)
        if layer is not None:
            labels = tuple(str(label) for label in layer.axis_labels)
            for axis in range(layer.ndim - 2):
                self.channel_combo.addItem(f"axis {axis} ({labels[axis]})", axis)
            guess = guess_channel_axis(labels)
            self.channel_combo.setCurrentIndex(0 if guess is None else guess + 1)
        self.channel_combo.setEnabled(self.channel_combo.count() > 1)
        self.channel_combo.blockSignals(False)

    def _update_mode(self) -> None:
        """3D is offered where the layer has a Z axis besides its channels."""
        layer = self.layer()
        has_z = False
        if layer is not None:
            has_z = layer_axes(layer.ndim + int(layer.rgb), bool(layer.rgb), None, True,
                               self.channel_combo.currentData())[2]
        method = bgsub.get_method(self.method_combo.currentData())
        self.mode_combo.setEnabled(has_z and method.supports_3d)

    def _update_missing(self, method: Method) -> None:
        """*missing* is offered where the method takes it: not for a program's command
        (``imagej``), which the API refuses it for."""
        takes_missing = method.subtract is None
        for control in (self.missing_check, self.missing_value):
            control.setEnabled(takes_missing)
        self.missing_check.setToolTip(MISSING_TIP if takes_missing
                                      else NO_MISSING_TIP.format(method.name))

    def _channels_changed(self, index: int | None = None) -> None:
        self._update_mode()
        self.schedule_preview()

    def _method_changed(self, index: int | None = None) -> None:
        method = bgsub.get_method(self.method_combo.currentData())
        self.method_combo.setToolTip(method.summary)
        self.options.set_method(method)
        self.options_box.setVisible(bool(method.parameters))
        self._update_mode()
        self._update_missing(method)
        self.schedule_preview()

    def _presmooth_changed(self, index: int | None = None) -> None:
        self.presmooth_size.setEnabled(self.presmooth_combo.currentText() != "none")
        self.schedule_preview()

    def _dims_changed(self, event: Any = None) -> None:
        self.schedule_preview()

    def _preview_toggled(self, checked: bool) -> None:
        if checked:
            self.schedule_preview()
        else:
            self._stop_previews()
            self._remove_preview_layers()

    # ------------------------------------------------- hidden, shown, closed
    def hideEvent(self, event: Any) -> None:
        """A hidden panel previews nothing (a minimised window is not hidden by the user)."""
        super().hideEvent(event)
        if not event.spontaneous():
            self._stop_previews()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.schedule_preview()

    def event(self, event: Any) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            self._parent_changed()
        return super().event(event)

    def _parent_changed(self) -> None:
        """Docked: preview; taken out of its dock (napari's *close this panel*): stop
        previewing and remove the preview layers, which nothing would update any more."""
        if self.parentWidget() is None:
            self._stop_previews()
            self._remove_preview_layers()
        else:
            self.schedule_preview()

    def _stop_previews(self) -> None:
        """Start no preview, and drop the result of one on its way."""
        self._generation += 1
        self._timer.stop()
        self._preview_pending = False

    def _in_view(self) -> bool:
        """Whether the widget is docked and no panel holding it is hidden.

        Not ``isVisible()``: that is False in a viewer not shown yet (scripts, tests),
        which previews as a shown one does.
        """
        widget = self
        while (parent := widget.parentWidget()) is not None:
            if widget.isHidden():
                return False
            widget = parent
        return widget is not self or self.isVisible()

    # ---------------------------------------------------------------- preview
    def schedule_preview(self, *args: Any) -> None:
        """Recompute the preview 300 ms after the last change (results already on
        their way become stale and are dropped)."""
        self._generation += 1
        if self._previewing() and self.layer() is not None:
            self._timer.start()

    def _previewing(self) -> bool:
        """Whether previews are wanted: the box ticked, the widget neither hidden nor closed."""
        return self.preview_check.isChecked() and self._in_view()

    def _start_preview(self) -> None:
        layer = self.layer()
        if layer is None or not self._previewing():
            return
        if self._preview_worker is not None:
            self._preview_pending = True
            return
        settings = self.settings()
        if self._refused(layer, settings) or not self._plane_shown(layer):
            self._remove_preview_layers()  # (they would show another result, or plane)
            return
        # (errors to the widget's message only, as Apply's: see _worker)
        worker = _worker(self._on_error, preview_with_warnings, layer.data, settings,
                         self._position(layer))
        worker.returned.connect(partial(self._on_preview, self._generation, layer, settings,
                                        time.perf_counter()))
        worker.finished.connect(self._on_preview_finished)
        self._preview_worker = worker
        self._say(self._with_note("computing the preview ..."))
        worker.start()

    def _on_preview(self, generation: int, source: Image, settings: Settings, started: float,
                    result: tuple[np.ndarray, np.ndarray, list[str]]) -> None:
        if generation != self._generation or source is not self.layer():
            return
        background, foreground, cautions = result
        self._show_preview(source, "background", background)
        self._show_preview(source, "foreground", foreground)
        self.preview_settings = settings
        text = f"preview: {time.perf_counter() - started:.2f} s"
        self._say(self._with_note(_cautioned(text, cautions)), warning=bool(cautions))
        self.preview_updated.emit()

    def _on_preview_finished(self) -> None:
        self._preview_worker = None
        if self._preview_pending:
            self._preview_pending = False
            self._start_preview()

    def _show_preview(self, source: Image, kind: str, data: np.ndarray) -> None:
        geometry = _plane_geometry(source)
        existing = self._preview_layer(kind)
        if existing is not None and (existing.rgb != source.rgb
                                     or existing.data.shape != data.shape):
            self.viewer.layers.remove(existing)  # another kind of image: start afresh
            existing = None
        if existing is not None:
            existing.data = data
            for key, value in geometry.items():
                setattr(existing, key, value)
        else:
            selection = (set(self.viewer.layers.selection), self.viewer.layers.selection.active)
            existing = self.viewer.add_image(
                data, name=PREVIEW_NAMES[kind], rgb=source.rgb, metadata={PREVIEW_TAG: True},
                visible=kind == "foreground", **geometry)
            self.viewer.layers.selection.update(selection[0])
            self.viewer.layers.selection.active = selection[1]
        if not source.rgb:
            _set_contrast(existing, source, kind)

    def _preview_layer(self, kind: str) -> Image | None:
        for layer in self.viewer.layers:
            if layer.name == PREVIEW_NAMES[kind] and layer.metadata.get(PREVIEW_TAG):
                return layer
        return None

    def _remove_preview_layers(self) -> None:
        for kind in PREVIEW_NAMES:
            layer = self._preview_layer(kind)
            if layer is not None:
                self.viewer.layers.remove(layer)
        self.preview_settings = None

    def _plane_shown(self, layer: Image) -> bool:
        """Whether the view shows the layer's Y, X planes (its last two axes), the planes
        the preview computes; if not (dims rolled or transposed: a Z, X view), say so."""
        dims = self.viewer.dims
        offset = dims.ndim - layer.ndim  # (a layer's axes are the world's last ones)
        shown = [axis - offset for axis in dims.displayed if axis >= offset]
        if {layer.ndim - 2, layer.ndim - 1} <= set(shown):
            return True
        self._say(f"no preview: the view shows axes {_axis_names(layer, shown)}, and the "
                  "preview computes Y, X planes, the layer's last two axes "
                  f"({_axis_names(layer, range(layer.ndim - 2, layer.ndim))}); put the dims "
                  "back in order to preview (Apply is not affected)")
        return False

    def _position(self, layer: Image) -> tuple[int, ...]:
        """Index of the shown plane along every array axis of ``layer``."""
        coords = layer.world_to_data(self.viewer.dims.point)
        index = [int(round(float(c))) for c in coords]
        return tuple(index + [0] * int(layer.rgb))

    # ------------------------------------------------------------------ apply
    def apply(self) -> WorkerBase | None:
        """Compute the whole layer in a worker thread; a second click cancels.

        Returns
        -------
        worker or None
            The running worker (``applied`` is emitted with the two new
            layers when it is done), or None when there was nothing to do.
        """
        if self._apply_worker is not None:  # Cancel: seen after the current tile or stage
            self._cancel.set()
            self._apply_worker.quit()
            self.apply_button.setEnabled(False)
            self._say("cancelling ...")
            return None
        layer = self.layer()
        if layer is None:
            self._say("Add an image layer first.", error=True)
            return None
        settings = self.settings()
        if self._refused(layer, settings):
            return None
        self._cancel = threading.Event()
        # (a cancel inside a plane is an error too, see _on_error)
        worker = _worker(self._on_error, apply_with_warnings, layer.data, settings,
                         cancel=self._cancel)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(partial(self._on_applied, layer, settings))
        worker.aborted.connect(partial(self._say, "cancelled: no layers were added"))
        worker.finished.connect(self._on_apply_finished)
        self._apply_worker = worker
        self.apply_button.setText("Cancel")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._say(f"applying {settings.method} to {layer.name!r} ...")
        worker.start()
        return worker

    def _refused(self, layer: Image, settings: Settings) -> bool:
        """Say why ``layer`` cannot be computed with ``settings``, if it cannot."""
        reason = spacing_refusal(settings)
        if layer.multiscale:
            reason = "bgsub works on single-scale layers; this one is multiscale."
        if reason is not None:
            self._say(reason, error=True)
        return reason is not None

    def _on_progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _on_applied(self, source: Image, settings: Settings,
                    result: tuple[np.ndarray, np.ndarray, list[str]]) -> None:
        foreground, background, cautions = result
        layers = (self._publish(source, settings, "background", background),
                  self._publish(source, settings, "foreground", foreground))
        self._say(_cautioned(f"added {layers[1].name!r} and {layers[0].name!r}", cautions),
                  warning=bool(cautions))
        self.applied.emit(layers)

    def _on_apply_finished(self) -> None:
        self._apply_worker = None
        self.apply_button.setText("Apply")
        self.progress.setVisible(False)
        self.apply_button.setEnabled(self.layer() is not None)

    def _publish(self, source: Image, settings: Settings, kind: str, data: np.ndarray) -> Image:
        """Add (or update) the ``kind`` result layer of ``source``."""
        name = f"{source.name} {kind}"
        record = {**settings.metadata(), "source": source.name, "output": kind}
        metadata = {**source.metadata, "bgsub": record}
        state = source.as_layer_data_tuple()[1]
        geometry = {key: state[key] for key in GEOMETRY if key in state}
        for layer in self.viewer.layers:
            old = layer.metadata.get("bgsub", {}) if isinstance(layer, Image) else {}
            if layer.name == name and old.get("source") == source.name:
                # (as a new layer gets them: where the source is now, the new data's contrast)
                layer.data = data
                layer.metadata = metadata
                for key, value in geometry.items():
                    setattr(layer, key, value)
                if not source.rgb:
                    _set_contrast(layer, source, kind)
                return layer
        extra: dict[str, Any] = {"rgb": source.rgb}
        if not source.rgb:
            extra["colormap"] = source.colormap.name
            if kind == "background":
                extra["contrast_limits"] = source.contrast_limits
        return self.viewer.add_image(data, name=name, metadata=metadata, **geometry, **extra)

    # ------------------------------------------------------------------- misc
    def auto_radius(self) -> WorkerBase | None:
        """Set the radius from ``bgsub.auto.suggest_radius`` on the shown plane."""
        layer = self.layer()
        if self._suggest is None or layer is None or self._auto_worker is not None:
            return None
        settings = self.settings()
        plane_settings = Settings(axes=settings.axes)
        plane = Plane(layer.data, plane_settings, self._position(layer))
        # (as radius="auto" measures it: from above on a light background, without the
        # missing pixels)
        worker = _worker(self._on_error, self._suggest, plane.data, axes=plane.axes,
                         light_background=settings.light_background, missing=settings.missing)
        worker.returned.connect(self._on_suggestion)
        worker.finished.connect(partial(setattr, self, "_auto_worker", None))
        self._auto_worker = worker
        self._say("looking at the objects' size ...")
        worker.start()
        return worker

    def _on_suggestion(self, suggestion: Any) -> None:
        self.radius.setValue(float(np.ravel(suggestion.radius)[-1]))
        note = f"radius {self.radius.text()}: {suggestion.reason}"
        # (objects too faint for the radius chosen: radius="auto"'s warnings, here, where the
        # radius set is a number and the preview's estimate measures nothing)
        settings = self.settings()
        caveats = [c for c in (suggestion.caveat, self._volume_caveat(settings)) if c]
        for caveat in caveats:
            note = f"{note}\nwarning: {caveat}"
        self._note = (settings, note)  # shown until the settings change
        self._say(note, warning=bool(caveats))

    def _volume_caveat(self, settings: Settings) -> str:
        """radius="auto"'s warning of a 3D run (``settings``) whose layer has no voxel size
        along Z: Auto measured the plane, and the same number of pixels along Z suits cubic
        voxels only (``bgsub.auto.volume_radius_finding``, where this bgsub has it); ""
        otherwise."""
        layer = self.layer()
        finding = getattr(importlib.import_module("bgsub.auto"), "volume_radius_finding", None)
        if finding is None or layer is None or not settings.true_3d \
                or settings.spacing is not None or "Z" not in (settings.layout or ""):
            return ""
        return finding(self.radius.value(), np.shape(layer.data)[settings.layout.index("Z")])

    def _with_note(self, text: str) -> str:
        """``text`` after *Auto*'s reason while the settings are those it chose."""
        if self._note is not None and self._note[0] != self.settings():
            self._note = None
        return text if self._note is None else f"{self._note[1]}\n{text}"

    def copy_as_python(self) -> str:
        """Put the ``bgsub.subtract_background(...)`` call on the clipboard and return it."""
        text = self.settings().as_python()
        QApplication.clipboard().setText(text)
        self._say(f"copied: {text}")
        return text

    def copy_as_cli(self) -> str:
        """Put the ``bgsub run ...`` command line on the clipboard and return it."""
        text = self.settings().as_cli()
        QApplication.clipboard().setText(text)
        self._say(f"copied: {text}")
        return text

    def _on_error(self, error: Exception) -> None:
        if isinstance(error, Cancelled):  # stopped inside a plane (see subtract_in_blocks)
            self._say("cancelled: no layers were added")
            return
        self._say(f"{type(error).__name__}: {error}", error=True)

    def _say(self, text: str, error: bool = False, warning: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else WARNING_STYLE if warning else "")


def _find_suggest_radius() -> tuple[Callable[..., Any] | None, str]:
    """``bgsub.auto.suggest_radius`` where this bgsub has it, and the button's tooltip."""
    try:
        module = importlib.import_module("bgsub.auto")
    except ImportError as err:
        return None, f"Needs bgsub.auto.suggest_radius, which this bgsub lacks ({err})."
    suggest = getattr(module, "suggest_radius", None)
    if suggest is None:
        return None, "Needs bgsub.auto.suggest_radius, which this bgsub lacks."
    return suggest, "Suggest a radius from the size of the objects in the shown plane."


def _worker(on_error: Callable[[Exception], None], function: Callable[..., Any], *args: Any,
            **kwargs: Any) -> WorkerBase:
    """An unstarted napari worker whose errors go to ``on_error`` only.

    Connected through ``_connect``: a worker created without an ``errored`` connection there
    also re-raises its errors into napari's event loop (an error notification, with a
    traceback, besides the widget's message).
    """
    return create_worker(function, *args, _start_thread=False,
                         _connect={"errored": on_error}, **kwargs)


def _axis_names(layer: Image, axes: Iterable[int]) -> str:
    """``"0 and 2 (z, x)"``: the axes, and their labels where they are not napari's default
    (the negative index)."""
    axes = list(axes)
    labels = [str(layer.axis_labels[axis]) for axis in axes]
    numbers = " and ".join(str(axis) for axis in axes)
    if all(label == str(axis - layer.ndim) for label, axis in zip(labels, axes, strict=True)):
        return numbers
    return f"{numbers} ({', '.join(labels)})"


def _plane_geometry(source: Image) -> dict[str, Any]:
    """Scale, translate, units and axis labels of the source's Y, X plane."""
    state = source.as_layer_data_tuple()[1]
    return {key: tuple(state[key])[-2:] for key in PLANE_GEOMETRY if key in state}


def _set_contrast(layer: Image, source: Image, kind: str) -> None:
    """The background in the source's contrast limits, the foreground in its own data's."""
    if kind == "background":
        layer.contrast_limits = source.contrast_limits
    else:
        layer.reset_contrast_limits()


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


def _disconnect(connections: list[tuple[Any, Callable[..., Any]]], *args: Any) -> None:
    for emitter, callback in connections:
        try:
            emitter.disconnect(callback)
        except (RuntimeError, TypeError, ValueError):
            pass


def _cautioned(text: str, cautions: list[str]) -> str:
    """``text`` under a ``warning: ...`` line for each of ``cautions`` (the method's
    BackgroundWarnings on this result)."""
    return "\n".join([*(f"warning: {c}" for c in cautions), text])
