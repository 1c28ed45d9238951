"""What a napari user sees: defaults, units, Auto's reason, channels, function widgets, menus.

Each test drives the plugin through napari's own API as a user would; the
screenshot test renders the docked widget on the Xvfb display and checks the
picture (the widget really drawn, layer names, units, no warning popping up).
Screenshots are kept in ``$BGSUB_SCREENSHOT_DIR`` when it is set (CI artifact).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari.viewer", reason="napari is not installed (extra bgsub[napari])")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (extra bgsub[napari-test])")

import bgsub  # noqa: E402
from bgsub.auto import Suggestion  # noqa: E402
from bgsub.data import synthetic  # noqa: E402

WAIT_MS = 120_000
WIDGET = ("bgsub", "Background subtraction")
UNITS_WARNING = "Inconsistent units"


@pytest.fixture
def image() -> np.ndarray:
    """80x96 uint16 blobs on an uneven background."""
    return synthetic((80, 96), object_radius=(3, 6), seed=7).image


@pytest.fixture
def stack() -> np.ndarray:
    """10x40x44 uint16 stack."""
    return synthetic((10, 40, 44), object_radius=(2, 4), density=0.05, seed=8).image


@pytest.fixture
def warnings_shown(monkeypatch):
    """Every napari warning notification raised while the test runs (texts)."""
    from napari.utils.notifications import notification_manager

    shown: list[str] = []
    original = notification_manager.dispatch

    def dispatch(notification):
        shown.append(f"{notification.severity}: {notification.message}")
        return original(notification)

    monkeypatch.setattr(notification_manager, "dispatch", dispatch)
    return shown


def _dock(viewer, preview: bool = False):
    _, widget = viewer.window.add_plugin_dock_widget(*WIDGET)
    widget.preview_check.setChecked(preview)
    return widget


def _settle(qtbot, widget) -> None:
    """Wait until the preview shows the widget's current settings."""
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.preview_settings == widget.settings(),
                    timeout=WAIT_MS)


def _draw(viewer) -> np.ndarray:
    """Render the whole window (canvas and docked widgets); napari checks units as it draws."""
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    return np.asarray(viewer.screenshot(canvas_only=False, flash=False))


# ------------------------------------------------------------------ defaults
def test_widget_opens_on_the_api_defaults(make_napari_viewer, need_screen, qtbot, image):
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    widget = _dock(viewer)
    api_radius = inspect.signature(bgsub.subtract_background).parameters["radius"].default
    assert widget.method_combo.currentData() == bgsub.api.RECOMMENDED_METHOD
    assert widget.radius.value() == api_radius
    # the widget's untouched settings give exactly the API's default call
    kwargs = widget.settings().kwargs()
    np.testing.assert_array_equal(bgsub.subtract_background(image, **kwargs),
                                  bgsub.subtract_background(image))
    assert widget.copy_as_python() == (
        f'bgsub.subtract_background(image, method="{bgsub.api.RECOMMENDED_METHOD}", '
        f'radius={api_radius:g})')


# --------------------------------------------------------------------- units
def test_preview_and_results_carry_units_and_axis_labels(make_napari_viewer, need_screen,
                                                         qtbot, stack, warnings_shown):
    viewer = make_napari_viewer()
    source = viewer.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5), translate=(0, 3, 4),
                              units=("um", "um", "um"), axis_labels=("z", "y", "x"))
    widget = _dock(viewer, preview=True)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    widget.radius.setValue(4)
    _settle(qtbot, widget)
    previews = [viewer.layers[name] for name in ("bgsub preview: foreground",
                                                 "bgsub preview: background")]
    for layer in previews:
        assert layer.units == source.units[-2:]
        assert layer.axis_labels == source.axis_labels[-2:]
        np.testing.assert_array_equal(layer.scale, source.scale[-2:])
        np.testing.assert_array_equal(layer.translate, source.translate[-2:])
    assert viewer.layers.extent.units is not None  # napari's test before it warns
    with qtbot.waitSignal(widget.applied, timeout=WAIT_MS) as blocker:
        widget.apply_button.click()
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    for layer in blocker.args[0]:
        assert layer.units == source.units and layer.axis_labels == source.axis_labels
    _draw(viewer)  # napari checks the units when it draws
    assert not [text for text in warnings_shown if UNITS_WARNING in text]


# ---------------------------------------------------------------------- auto
def test_auto_reason_stays_until_the_next_change(make_napari_viewer, need_screen, qtbot, image,
                                                 monkeypatch):
    def suggest_radius(image, axes=None, **settings):  # (light_background=, missing=)
        return Suggestion(radius=31.6053, object_radius=10.5351,
                          reason="typical object radius 10.5 px (3x)")

    monkeypatch.setitem(sys.modules, "bgsub.auto",
                        types.SimpleNamespace(suggest_radius=suggest_radius))
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    widget = _dock(viewer, preview=True)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    _settle(qtbot, widget)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: widget.radius.value() == 31.6, timeout=WAIT_MS)
    _settle(qtbot, widget)  # the preview that the new radius started has come back
    text = widget.message.text()
    assert "typical object radius 10.5 px" in text and "preview:" in text
    assert "31.6 px" in text and "31.6053" not in text  # as the spin box shows it
    assert widget.radius.spin.text() == "31.6 px"

    widget.light_check.setChecked(True)  # the next change: the reason goes
    _settle(qtbot, widget)
    assert "typical object radius" not in widget.message.text()


# ------------------------------------------------------------------ channels
def test_channel_axis_is_offered_and_processed_per_channel(make_napari_viewer, need_screen,
                                                           qtbot, stack):
    viewer = make_napari_viewer()
    two = np.stack([stack[:, :, :], stack[::-1]], axis=1)  # Z, C, Y, X (ImageJ order)
    viewer.add_image(two, name="zc", scale=(3.0, 1.0, 0.5, 0.5), axis_labels=("z", "c", "y", "x"))
    widget = _dock(viewer)
    channels = [widget.channel_combo.itemText(i) for i in range(widget.channel_combo.count())]
    assert channels == ["none", "axis 0 (z)", "axis 1 (c)"]
    assert widget.channel_combo.currentData() == 1  # guessed from the axis label
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    widget.radius.setValue(3)
    widget.mode_combo.setCurrentIndex(1)
    assert widget.mode_combo.isEnabled()
    settings = widget.settings()
    assert settings.axes == "ZCYX" and settings.true_3d and settings.spacing == (3.0, 0.5, 0.5)
    with qtbot.waitSignal(widget.applied, timeout=WAIT_MS) as blocker:
        widget.apply_button.click()
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    foreground = blocker.args[0][1].data
    for channel in range(2):  # each channel alone, as a 3D volume with the layer's voxel size
        np.testing.assert_array_equal(
            foreground[:, channel],
            bgsub.subtract_background(two[:, channel], "gaussian", 3, true_3d=True,
                                      spacing=(3.0, 0.5, 0.5)))

    cyx = viewer.add_image(stack[:3], name="cyx", axis_labels=("c", "y", "x"))
    widget.layer_combo.setCurrentText(cyx.name)
    assert widget.channel_combo.currentData() == 0
    assert not widget.mode_combo.isEnabled()  # three channels are not a Z stack
    assert widget.settings().axes == "CYX" and not widget.settings().true_3d
    widget.channel_combo.setCurrentIndex(0)  # the user says: no channels, this is Z
    assert widget.mode_combo.isEnabled()
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("mean"))
    assert widget.channel_combo.currentData() is None  # a new method keeps that choice
    assert widget.settings().axes is None


# ----------------------------------------------------------------- functions
def test_function_widgets_tooltips_defaults_and_voxel_size(make_napari_viewer, need_screen,
                                                           qtbot, stack):
    from bgsub.napari import _functions

    for method in bgsub.list_methods():
        gui = getattr(_functions, f"{method.name}_widget")()  # what napari docks
        for sub in gui:
            if sub.name != "call_button":
                assert sub.tooltip, f"{method.name}: {sub.name} has no tooltip"
        for option in method.parameters:
            if option.default is None:  # shown as "default", and None when called
                assert gui[option.name].value is None
                assert gui[option.name].native.text() == "default"
        gui.close()

    viewer = make_napari_viewer()
    layer = viewer.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5), units="um")
    gui = _functions.gaussian_widget()
    viewer.window.add_dock_widget(gui)
    gui.image.value = layer
    gui.radius.value = 3
    gui.true_3d.value = True
    result = gui()
    dock = _dock(viewer)  # the dock widget on the same layer and settings
    dock.method_combo.setCurrentIndex(dock.method_combo.findData("gaussian"))
    dock.radius.setValue(3)
    dock.mode_combo.setCurrentIndex(1)
    expected = bgsub.subtract_background(stack, "gaussian", 3, true_3d=True,
                                         spacing=(2.0, 0.5, 0.5))
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(
        bgsub.subtract_background(stack, **dock.settings().kwargs()), expected)
    added = viewer.layers[-1]  # napari places the result like its source
    np.testing.assert_array_equal(added.scale, layer.scale)
    assert added.units == layer.units


def test_functions_are_in_the_layers_filter_menu_and_the_assistant_category():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("bgsub")
    in_filter = {item.command for item in manifest.contributions.menus["napari/layers/filter"]}
    widgets = {w.command: w.display_name for w in manifest.contributions.widgets}
    for method in bgsub.list_methods():
        command = f"bgsub.subtract_{method.name}"
        assert command in in_filter
        # napari-assistant lists npe2 widgets named "<its category> > <operation>"
        assert widgets[command].startswith("Filtering / background removal > ")
    assert "bgsub.widget" in in_filter


def test_functions_take_what_napari_assistant_passes(image):
    """napari-assistant builds each listed widget, takes its function and calls it with the
    layer's array followed by the values of the parameters annotated int/float/bool/str, in
    signature order; so every parameter after the image must be plain, and defaults that a
    spin box cannot hold (None, "") must read as "default"."""
    from npe2 import PluginManifest

    from bgsub.napari import _functions

    manifest = PluginManifest.from_distribution("bgsub")
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    for widget in manifest.contributions.widgets:
        if not widget.command.startswith("bgsub.subtract_"):
            continue  # the dock widget; the shading functions are not the assistant's
        module, name = commands[widget.command].split(":")
        function = getattr(sys.modules[module], name)()._function
        parameters = list(inspect.signature(function).parameters.values())
        assert "Image" in str(parameters[0].annotation)
        assert all(p.annotation in (int, float, bool, str) for p in parameters[1:]), function
    plain = [p.name for p in inspect.signature(_functions.rolling_ball).parameters.values()][1:]
    assistant_values = {"radius": 10.0, "light_background": False, "presmooth": "",
                        "presmooth_size": 10.0, "true_3d": False, "missing": "", "height": 0.0,
                        "envelope": False}
    assert plain == list(assistant_values)
    np.testing.assert_array_equal(_functions.rolling_ball(image, *assistant_values.values()),
                                  bgsub.subtract_background(image, "rolling_ball", 10))
    # an empty text box for a choice is its default (tophat: footprint, dilation_radius)
    np.testing.assert_array_equal(_functions.tophat(image, 10.0, False, "", 1.0, False, "", "",
                                                    0.0),
                                  bgsub.subtract_background(image, "tophat", 10))


def test_functions_leave_out_missing_pixels(image):
    """Each function's ``missing`` text box marks padding as the API's ``missing=`` does;
    empty (its default, and what napari-assistant passes) marks none; ``imagej``, which
    reproduces ImageJ's command, has none, as the API refuses it there."""
    from bgsub.napari import _functions

    canvas = np.zeros((image.shape[0], image.shape[1] + 40), image.dtype)
    canvas[:, :image.shape[1]] = image
    want = bgsub.subtract_background(canvas, "rolling_ball", 10, missing=0)
    for value in ("0", " 0 ", 0):
        np.testing.assert_array_equal(_functions.rolling_ball(canvas, 10.0, missing=value),
                                      want)
    np.testing.assert_array_equal(_functions.rolling_ball(canvas, 10.0),
                                  bgsub.subtract_background(canvas, "rolling_ball", 10))
    assert not np.array_equal(_functions.rolling_ball(canvas, 10.0), want)
    with pytest.raises(ValueError, match="missing='zero' is not a number"):
        _functions.rolling_ball(canvas, 10.0, missing="zero")
    assert "missing" not in inspect.signature(_functions.imagej).parameters
    assert "missing" not in _functions.imagej.__doc__


def test_layers_filter_menu_of_a_running_napari_lists_the_plugin(make_napari_viewer,
                                                                 need_screen):
    viewer = make_napari_viewer()
    menu = next(action.menu() for action in viewer.window.layers_menu.actions()
                if action.menu() is not None and action.text().replace("&", "") == "Filter")
    titles = [action.text() for action in menu.actions()]
    assert any("rolling ball" in title for title in titles), titles
    assert any("Background subtraction" in title for title in titles), titles


# ---------------------------------------------------------------- validation
def test_npe2_validate_and_napari_info_list_the_plugin():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    validate = subprocess.run([sys.executable, "-m", "npe2", "validate", "bgsub"],
                              capture_output=True, text=True, env=env, timeout=300)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "valid" in validate.stdout.lower()
    info = subprocess.run([sys.executable, "-m", "napari", "--info"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert info.returncode == 0, info.stderr
    assert f"bgsub: {bgsub.__version__}" in info.stdout, info.stdout


# ---------------------------------------------------------------- screenshot
def test_screenshot_of_the_docked_widget(make_napari_viewer, need_screen, qtbot, image,
                                         warnings_shown, tmp_path):
    """Grab the X display (Xvfb's framebuffer, what a user would see) and check the picture."""
    from qtpy.QtWidgets import QApplication, QDialog

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 800)
    viewer.add_image(image, name="cells", scale=(0.25, 0.25), units="um", colormap="gray")
    widget = _dock(viewer, preview=True)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    widget.radius.setValue(8)
    _settle(qtbot, widget)
    scale_bar = viewer.canvas.overlays.scale_bar
    scale_bar.visible = True
    viewer.reset_view()
    qt_window = viewer.window._qt_window
    qtbot.waitExposed(qt_window, timeout=WAIT_MS)
    layer_list = viewer.window._qt_viewer.layers
    # the widget and the layer list are on the screen as Qt draws them (nothing over them);
    # waited for, since the X server shows a frame a little after Qt paints it
    qtbot.waitUntil(lambda: _on_screen(widget, qt_window) and _on_screen(layer_list, qt_window),
                    timeout=WAIT_MS)
    picture = _screen_of(qt_window)
    out = Path(os.environ.get("BGSUB_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    from PIL import Image as PILImage

    PILImage.fromarray(picture).save(out / "napari_docked_widget.png")

    assert picture.shape[:2] == (qt_window.height(), qt_window.width())
    # the canvas shows the image (not a blank or a dialog over it)
    assert _region(picture, viewer.window._qt_viewer.canvas.native, qt_window).std() > 10
    # the layer list (on screen, checked above) names the source and both previews
    assert _layer_list_names(viewer) == ["bgsub preview: foreground",
                                         "bgsub preview: background", "cells"]
    # no warning popped up, and napari renders physical units (the scale bar's)
    assert not [t for t in warnings_shown if "WARNING" in t.upper() or "ERROR" in t.upper()]
    assert viewer.layers.extent.units is not None
    assert str(viewer.layers.extent.units[-1]) == "micrometer"
    drawn_bar = viewer.window._qt_viewer.canvas._viewer_overlay_to_visual[scale_bar][0]
    assert drawn_bar.node.text.text.endswith("µm"), drawn_bar.node.text.text
    dialogs = [w for w in QApplication.topLevelWidgets()
               if isinstance(w, QDialog) and w.isVisible()]
    assert not dialogs
    assert "Error" not in widget.message.text()

    # control: a warning box over the widget is seen on the screen
    from qtpy.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, "napari", UNITS_WARNING)
    box.show()
    corner = widget.mapToGlobal(widget.rect().topLeft())
    box.move(corner.x() + 10, corner.y() + 10)
    qtbot.waitExposed(box, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not _on_screen(widget, qt_window), timeout=WAIT_MS)
    box.close()


def _screen_of(window) -> np.ndarray:
    """The X display's pixels under ``window`` (RGB)."""
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    screen = _qimage_to_array(QApplication.primaryScreen().grabWindow(0).toImage())
    frame = window.geometry()
    return screen[frame.top():frame.top() + frame.height(),
                  frame.left():frame.left() + frame.width(), :3]


def _region(picture: np.ndarray, child, window) -> np.ndarray:
    corner = child.mapTo(window, child.rect().topLeft())
    return picture[corner.y():corner.y() + child.height(), corner.x():corner.x() + child.width()]


def _on_screen(child, window) -> bool:
    """Whether the screen shows ``child`` as it draws itself (mean difference < 8 levels)."""
    alone = _qimage_to_array(child.grab().toImage())[..., :3].astype(int)
    shown = _region(_screen_of(window), child, window).astype(int)
    return shown.shape == alone.shape and float(np.mean(np.abs(shown - alone))) < 8


def _qimage_to_array(qimage) -> np.ndarray:
    from qtpy.QtGui import QImage

    qimage = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = qimage.width(), qimage.height()
    data = np.frombuffer(qimage.constBits().asstring(qimage.sizeInBytes()), dtype=np.uint8)
    return data.reshape(height, qimage.bytesPerLine() // 4, 4)[:, :width].copy()


def _layer_list_names(viewer) -> list[str]:
    """The texts the layer list draws, top to bottom (napari lists the top layer first)."""
    from qtpy.QtCore import Qt

    view = viewer.window._qt_viewer.layers
    model = view.model()
    return [model.data(model.index(row, 0), Qt.ItemDataRole.DisplayRole)
            for row in range(model.rowCount())]
