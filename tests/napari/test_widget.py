"""The napari plugin in a real viewer: widget, preview, apply, copy, functions, manifest.

Skipped where napari or pytest-qt is missing (`pip install -e ".[napari-test]"`).
"""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest

pytest.importorskip("napari.viewer", reason="napari is not installed (extra bgsub[napari])")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (extra bgsub[napari-test])")

from pytestqt.exceptions import TimeoutError as WaitTimeout  # noqa: E402

import bgsub  # noqa: E402
from bgsub.auto import Suggestion  # noqa: E402
from bgsub.data import synthetic  # noqa: E402
from bgsub.napari._widget import PREVIEW_DELAY_MS  # noqa: E402

WAIT_MS = 120_000
WIDGET = ("bgsub", "Background subtraction")


@pytest.fixture
def image() -> np.ndarray:
    """80x96 uint16 blobs on an uneven background."""
    return synthetic((80, 96), object_radius=(3, 6), seed=7).image


@pytest.fixture
def stack() -> np.ndarray:
    """14x48x52 uint16 stack."""
    return synthetic((14, 48, 52), object_radius=(2, 4), density=0.05, seed=8).image


@pytest.fixture
def viewer_widget(make_napari_viewer, need_screen, qtbot):
    """A viewer with the plugin's dock widget (preview off), left idle at the end."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(*WIDGET)
    widget.preview_check.setChecked(False)
    yield viewer, widget
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)


def _settle(qtbot, widget) -> None:
    """Wait until the preview shows the widget's current settings."""
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.preview_settings == widget.settings(),
                    timeout=WAIT_MS)


def _preview(qtbot, viewer, widget, image, name: str) -> None:
    """``image`` added as layer ``name`` and previewed at a radius of 20 px."""
    viewer.add_image(image, name=name)
    widget.radius.setValue(20)
    widget.preview_check.setChecked(True)
    _settle(qtbot, widget)


def _apply(qtbot, widget):
    with qtbot.waitSignal(widget.applied, timeout=WAIT_MS) as blocker:
        widget.apply_button.click()
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    return blocker.args[0]


def test_apply_adds_layers_equal_to_subtract_background(viewer_widget, qtbot, image):
    viewer, widget = viewer_widget
    source = viewer.add_image(image, name="cells", scale=(0.5, 0.5), translate=(10, -4),
                              metadata={"origin": "test"})
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("tophat"))
    widget.radius.setValue(6)
    widget.presmooth_combo.setCurrentText("gaussian")
    widget.presmooth_size.setValue(1.5)
    widget.options.editor("footprint").setCurrentText("box")

    background_layer, foreground_layer = _apply(qtbot, widget)

    expected = bgsub.subtract_background(image, "tophat", 6, presmooth="gaussian:1.5",
                                         footprint="box", return_background=True)
    assert foreground_layer.name == "cells foreground"
    assert background_layer.name == "cells background"
    np.testing.assert_array_equal(foreground_layer.data, expected[0])
    np.testing.assert_array_equal(background_layer.data, expected[1])
    assert foreground_layer.data.dtype == np.uint16
    for layer in (foreground_layer, background_layer):
        np.testing.assert_array_equal(layer.scale, source.scale)
        np.testing.assert_array_equal(layer.translate, source.translate)
        assert layer.metadata["origin"] == "test"
        assert layer.metadata["bgsub"]["kwargs"] == {
            "method": "tophat", "radius": 6.0, "presmooth": "gaussian:1.5", "footprint": "box"}
        assert layer.metadata["bgsub"]["source"] == "cells"
    assert widget.progress.isHidden()

    widget.radius.setValue(9)  # applying again updates the same two layers
    _apply(qtbot, widget)
    assert len(viewer.layers) == 3
    np.testing.assert_array_equal(viewer.layers["cells foreground"].data,
                                  bgsub.subtract_background(image, "tophat", 9,
                                                            presmooth="gaussian:1.5",
                                                            footprint="box"))


def test_apply_3d_stack_with_anisotropic_scale(viewer_widget, qtbot, stack):
    viewer, widget = viewer_widget
    source = viewer.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5), units="um",
                              axis_labels=("z", "y", "x"))
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    widget.radius.setValue(3)
    widget.light_check.setChecked(True)
    assert widget.mode_combo.isEnabled()
    widget.mode_combo.setCurrentIndex(1)

    _, foreground_layer = _apply(qtbot, widget)

    expected = bgsub.subtract_background(stack, "gaussian", 3, true_3d=True,
                                         spacing=(2.0, 0.5, 0.5), light_background=True)
    np.testing.assert_array_equal(foreground_layer.data, expected)
    assert foreground_layer.units == source.units
    assert foreground_layer.axis_labels == source.axis_labels
    assert widget.copy_as_cli() == ("bgsub run INPUT -o OUTDIR --method gaussian --radius 3 "
                                    "--light --3d --axes ZYX --spacing 2,0.5,0.5")


def test_second_click_cancels_apply(viewer_widget, qtbot, image, monkeypatch):
    viewer, widget = viewer_widget
    viewer.add_image(image, name="cells")

    def endless(image, settings, split=None, cancel=None):
        done = 0
        while True:
            time.sleep(0.01)
            done += 1
            yield done, 10**6

    monkeypatch.setattr("bgsub.napari._compute.subtract_in_blocks", endless)
    worker = widget.apply()
    assert widget.apply_button.text() == "Cancel" and not widget.progress.isHidden()
    with qtbot.waitSignal(worker.aborted, timeout=WAIT_MS):
        widget.apply_button.click()
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    assert widget.apply_button.text() == "Apply" and widget.progress.isHidden()
    assert "cancelled" in widget.message.text()
    assert [layer.name for layer in viewer.layers] == ["cells"]


def test_preview_follows_settings_and_plane(viewer_widget, qtbot, stack):
    viewer, widget = viewer_widget
    viewer.add_image(stack, name="stack")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("tophat"))
    widget.radius.setValue(4)
    widget.mode_combo.setCurrentIndex(1)
    widget.preview_check.setChecked(True)
    viewer.dims.set_current_step(0, 6)
    _settle(qtbot, widget)
    full = bgsub.subtract_background(stack, "tophat", 4, true_3d=True, return_background=True)
    foreground = viewer.layers["bgsub preview: foreground"]
    background = viewer.layers["bgsub preview: background"]
    np.testing.assert_array_equal(foreground.data, full[0][6])
    np.testing.assert_array_equal(background.data, full[1][6])
    assert viewer.layers.selection.active.name == "stack"  # the preview does not steal it

    widget.radius.setValue(7)
    viewer.dims.set_current_step(0, 2)
    _settle(qtbot, widget)
    full = bgsub.subtract_background(stack, "tophat", 7, true_3d=True)
    np.testing.assert_array_equal(viewer.layers["bgsub preview: foreground"].data, full[2])
    assert "bgsub preview: foreground" not in [widget.layer_combo.itemText(i)
                                               for i in range(widget.layer_combo.count())]

    widget.preview_check.setChecked(False)
    assert "bgsub preview: foreground" not in viewer.layers


def test_stale_preview_is_dropped(viewer_widget, qtbot, image):
    viewer, widget = viewer_widget
    viewer.add_image(image, name="cells")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("gaussian"))
    widget.preview_check.setChecked(True)
    for radius in (2, 3, 4, 5, 6):  # faster than the debounce: one preview, the last
        widget.radius.setValue(radius)
    _settle(qtbot, widget)
    assert widget.preview_settings.radius == 6
    np.testing.assert_array_equal(viewer.layers["bgsub preview: foreground"].data,
                                  bgsub.subtract_background(image, "gaussian", 6))


def test_copy_as_python_reproduces_apply(viewer_widget, qtbot, image):
    viewer, widget = viewer_widget
    viewer.add_image(image, name="cells")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("rolling_ball"))
    widget.radius.setValue(12.5)
    widget.light_check.setChecked(True)
    widget.options.editor("envelope").setChecked(True)

    text = widget.copy_as_python()

    from qtpy.QtWidgets import QApplication

    assert QApplication.clipboard().text() == text
    assert text == ('bgsub.subtract_background(image, method="rolling_ball", radius=12.5, '
                    'light_background=True, envelope=True)')
    _, foreground_layer = _apply(qtbot, widget)
    result = eval(text, {"bgsub": bgsub, "image": image})  # noqa: S307 -- our own text
    np.testing.assert_array_equal(result, foreground_layer.data)
    assert widget.copy_as_cli() == ("bgsub run INPUT -o OUTDIR --method rolling_ball "
                                    "--radius 12.5 --light -O envelope=true")


def test_auto_radius_button(viewer_widget, qtbot, image, monkeypatch):
    viewer, widget = viewer_widget
    if not hasattr(sys.modules.get("bgsub.auto"), "suggest_radius"):
        assert not widget.auto_button.isEnabled()
        assert "suggest_radius" in widget.auto_button.toolTip()

    seen = {}

    def suggest_radius(image, axes=None, **settings):
        seen["shape"], seen["axes"], seen["settings"] = image.shape, axes, settings
        return Suggestion(radius=17.0, object_radius=6.0, reason="objects ~6 px")

    monkeypatch.setitem(sys.modules, "bgsub.auto",
                        types.SimpleNamespace(suggest_radius=suggest_radius))
    viewer.add_image(image, name="cells")
    from bgsub.napari._widget import BackgroundWidget

    auto_widget = BackgroundWidget(viewer)
    viewer.window.add_dock_widget(auto_widget, name="bgsub with auto")
    auto_widget.preview_check.setChecked(False)
    assert auto_widget.auto_button.isEnabled()
    auto_widget.auto_button.click()
    qtbot.waitUntil(lambda: auto_widget.radius.value() == 17.0, timeout=WAIT_MS)
    # (measured as radius="auto" measures it: the light and missing settings go along)
    assert seen == {"shape": image.shape, "axes": "YX",
                    "settings": {"light_background": False, "missing": None}}
    assert "objects ~6 px" in auto_widget.message.text()


def test_auto_on_faint_objects_says_what_the_api_warns(viewer_widget, qtbot):
    """radius="auto"'s faint-objects warning, where napari's Auto sets a number (the preview's
    estimate then measures nothing, so it would not be warned of)."""
    from bgsub.auto import suggest_radius
    from bgsub.data import synthetic

    viewer, widget = viewer_widget
    faint = synthetic((384, 384), object_radius=8, seed=1, object_brightness=30.0).image
    expected = suggest_radius(faint).caveat
    assert expected
    viewer.add_image(faint, name="faint")
    widget.preview_check.setChecked(False)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: widget.radius.value() == 32.0, timeout=WAIT_MS)
    assert f"warning: {expected}" in widget.message.text()


def test_auto_on_a_field_with_no_object_says_the_radius_is_a_guess(viewer_widget, qtbot):
    """radius="auto"'s fallback warning: no object stood out of the noise, so Auto's radius
    (an eighth of the side) is a guess -- right for a blank well, not for objects too faint
    to measure; the message says so and names the fix."""
    import numpy as np

    from bgsub.auto import suggest_radius

    viewer, widget = viewer_widget
    blank = np.random.default_rng(0).poisson(100.0, (256, 256)).astype(np.uint16)
    expected = suggest_radius(blank).caveat
    assert expected.startswith('radius="auto" found no object')
    viewer.add_image(blank, name="empty well")
    widget.preview_check.setChecked(False)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: widget.radius.value() == 32.0, timeout=WAIT_MS)
    assert f"warning: {expected}" in widget.message.text()


def test_auto_on_spots_under_a_beam_names_the_radius_the_spots_set(viewer_widget, qtbot):
    """radius="auto"'s warning of a radius set by a bright patch, where napari's Auto sets
    the (capped) radius: the message names the radius the spots alone set."""
    from bgsub.auto import suggest_radius
    from illumination import spots_under_a_beam

    viewer, widget = viewer_widget
    image = spots_under_a_beam(seed=0)[0]
    suggestion = suggest_radius(image)
    assert suggestion.dominant is not None
    viewer.add_image(image, name="beam")
    widget.preview_check.setChecked(False)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: widget.radius.value() == 128.0, timeout=WAIT_MS)
    assert f"warning: {suggestion.caveat}" in widget.message.text()
    assert f"give radius={suggestion.dominant.suggested:.3g}" in widget.message.text()


def test_auto_on_a_light_background_names_the_light_box(viewer_widget, qtbot):
    """radius="auto"'s warning of dark objects on a light background while *light* is off:
    the message names the fix; with the box on, Auto measures the dark objects, silently."""
    from bgsub._polarity import LIGHT_MESSAGE
    from bgsub.auto import suggest_radius
    from bgsub.data import synthetic

    viewer, widget = viewer_widget
    image = synthetic((384, 384), object_radius=8, seed=3).image
    negative = (image.max() - image).astype(image.dtype)
    dark_radius = round(suggest_radius(negative).radius, 1)
    light_radius = round(suggest_radius(negative, light_background=True).radius, 1)
    assert dark_radius != light_radius
    viewer.add_image(negative, name="bright field")
    widget.preview_check.setChecked(False)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: widget.radius.value() == dark_radius, timeout=WAIT_MS)
    assert f"warning: {LIGHT_MESSAGE}" in widget.message.text()
    # (the radius is shown before the worker reports it has finished, and Auto is ignored
    # while it runs: a click in between was lost on a loaded machine)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    widget.light_check.setChecked(True)
    widget.auto_button.click()
    try:
        qtbot.waitUntil(lambda: widget.radius.value() == light_radius, timeout=WAIT_MS)
    except WaitTimeout:  # (say what the widget shows instead)
        pytest.fail(f"radius {widget.radius.value()}, not {light_radius}; the widget says "
                    f"{widget.message.text()!r}")
    assert "light background" not in widget.message.text()


def test_layer_choice_follows_viewer(viewer_widget, image):
    viewer, widget = viewer_widget
    assert widget.layer() is None and not widget.apply_button.isEnabled()
    viewer.add_image(image, name="a")
    viewer.add_points([[1, 1]], name="points")
    viewer.add_image(image, name="b")
    names = [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())]
    assert names == ["a", "b"]
    widget.layer_combo.setCurrentText("b")
    viewer.layers["a"].name = "renamed"
    assert widget.layer().name == "b"
    viewer.layers.remove("b")
    assert widget.layer().name == "renamed"


def test_function_and_sample_contributions(viewer_widget, image):
    from magicgui import magicgui

    from bgsub.napari import _functions

    for method in bgsub.list_methods():
        assert callable(getattr(_functions, method.name))
    result = _functions.tophat(image, radius=5, footprint="box", dilation_radius=None)
    np.testing.assert_array_equal(result, bgsub.subtract_background(image, "tophat", 5,
                                                                    footprint="box"))
    viewer, _ = viewer_widget
    viewer.add_image(image, name="cells")
    widget = magicgui(_functions.rolling_ball)
    viewer.window.add_dock_widget(widget)
    assert {"image", "radius", "light_background", "presmooth", "height",
            "envelope"} <= {w.name for w in widget}
    widget.radius.value = 8
    np.testing.assert_array_equal(widget(), bgsub.subtract_background(image, "rolling_ball", 8))

    viewer.open_sample("bgsub", "nuclei")
    np.testing.assert_array_equal(viewer.layers[-1].data, bgsub.data.sample())


def test_a_function_on_a_multiscale_layer_works_on_its_full_resolution(image):
    # (the layer's data read as an array was its smallest level: a result 4x smaller)
    from napari.layers import Image

    from bgsub.napari import _functions

    layer = Image([image, image[::2, ::2], image[::4, ::4]], multiscale=True)
    np.testing.assert_array_equal(_functions.mean(layer, radius=5),
                                  bgsub.subtract_background(image, "mean", 5))


def test_manifest_is_valid_and_lists_every_method():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("bgsub")
    manifest.validate_imports()
    commands = {c.python_name for c in manifest.contributions.commands}
    widgets = {w.command for w in manifest.contributions.widgets}
    for method in bgsub.list_methods():
        assert f"bgsub.napari._functions:{method.name}_widget" in commands
        assert f"bgsub.subtract_{method.name}" in widgets
    assert [s.key for s in manifest.contributions.sample_data] == ["nuclei"]


def test_preview_shows_the_default_methods_warning_until_it_no_longer_applies(viewer_widget,
                                                                               qtbot):
    """A dense field: the default's BackgroundWarning is shown in the widget's message."""
    viewer, widget = viewer_widget
    dense = synthetic((256, 256), object_radius=6, density=1.5, seed=1).image  # (15 % bg)
    assert widget.method_combo.currentData() == bgsub.methods.DEFAULT_METHOD
    _preview(qtbot, viewer, widget, dense, "dense")
    assert "warning: only" in widget.message.text()
    assert "look like background" in widget.message.text()
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("rolling_ball"))
    _settle(qtbot, widget)
    assert "warning" not in widget.message.text()


def test_apply_shows_the_default_methods_warning_every_time(viewer_widget, qtbot):
    """A dense field: Apply's BackgroundWarning is shown in the widget's message, on a second
    Apply too (as a Python warning from the worker thread, the same message from the same
    line would be shown once only)."""
    viewer, widget = viewer_widget
    dense = synthetic((256, 256), object_radius=6, density=1.5, seed=1).image  # (15 % bg)
    viewer.add_image(dense, name="dense")
    widget.radius.setValue(20)
    for _ in range(2):
        _apply(qtbot, widget)
        assert "warning: only" in widget.message.text()
        assert "look like background" in widget.message.text()
        assert "added 'dense" in widget.message.text()
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("rolling_ball"))
    _apply(qtbot, widget)
    assert "warning" not in widget.message.text()


def test_preview_names_a_mosaics_padding(viewer_widget, qtbot):
    """A zero-padded plane: the padding warning, with its fix, in the widget's message."""
    viewer, widget = viewer_widget
    padded = synthetic((256, 256), object_radius=(3, 6), seed=4).image
    padded[:, :64] = 0
    _preview(qtbot, viewer, widget, padded, "mosaic")
    assert "25 % of the image is one value (0)" in widget.message.text()
    assert "missing=0" in widget.message.text()
    widget.missing_check.setChecked(True)  # (the value: 0)
    _settle(qtbot, widget)
    assert "warning" not in widget.message.text()
    assert widget.settings().kwargs()["missing"] == 0.0
    assert "--missing 0" in widget.settings().as_cli()


def test_preview_names_a_field_stop(viewer_widget, qtbot):
    """A disc of light in a dark, flat surround: the field stop's warning, with its fix, in
    the widget's message."""
    viewer, widget = viewer_widget
    yy, xx = np.mgrid[0:256, 0:256]
    disc = np.hypot(yy - 128, xx - 128) < 120
    image = synthetic((256, 256), object_radius=(3, 6), seed=4).image.astype(np.float64)
    stop = np.where(disc, image, np.random.default_rng(0).normal(100.0, 3.0, disc.shape))
    _preview(qtbot, viewer, widget, stop, "field stop")
    assert "round disc of light" in widget.message.text()
    assert "mark the surround NaN" in widget.message.text()


def test_cancel_stops_apply_inside_one_large_plane(viewer_widget, qtbot, monkeypatch):
    """One plane cut into tiles: *Cancel* after the first tile stops before the second
    ends, well inside the plane (the worker sees the cancel after each tile)."""
    import threading

    from bgsub import engine
    from bgsub.napari import _compute

    viewer, widget = viewer_widget
    plane = synthetic((160, 150), object_radius=3, seed=2).image
    viewer.add_image(plane, name="plane")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("median"))
    widget.radius.setValue(3)
    monkeypatch.setattr(engine, "SPLIT_PIXELS", 40 * 40)
    seen: list[tuple[int, int]] = []
    holding, clicked = threading.Event(), threading.Event()

    real = _compute.subtract_in_blocks

    def recorded(image, settings, split=None, cancel=None):  # the real one, held after a tile
        steps = real(image, settings, split, cancel=cancel)
        for step in steps:
            seen.append(step)
            yield step
            if step[0] == 1:  # the worker has asked for the second tile
                holding.set()
                clicked.wait(WAIT_MS / 1000)

    monkeypatch.setattr("bgsub.napari._compute.subtract_in_blocks", recorded)
    worker = widget.apply()
    qtbot.waitUntil(holding.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.aborted, timeout=WAIT_MS):
        widget.apply_button.click()
        clicked.set()
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    total = seen[0][1]
    assert total >= 9 and [done for done, _ in seen] == [0, 1, 2]
    assert "cancelled" in widget.message.text()
    assert [layer.name for layer in viewer.layers] == ["plane"]


def test_cancel_inside_a_plane_that_stays_whole(viewer_widget, qtbot, image, monkeypatch):
    """A method that keeps a plane whole (robust) stops between its stages once the flag the
    widget passes is set; the widget reports a cancel, not an error, and adds no layer."""
    import threading

    from bgsub import engine

    viewer, widget = viewer_widget
    viewer.add_image(image, name="cells")
    started, flags = threading.Event(), []

    def stages(image, settings, split=None, cancel=None):  # as robust's checkpoints between stages
        flags.append(cancel)
        yield 0, 1
        started.set()
        for _ in range(WAIT_MS // 10):
            time.sleep(0.01)
            if cancel.is_set():
                raise engine.Cancelled("cancelled")
        yield 1, 1

    monkeypatch.setattr("bgsub.napari._compute.subtract_in_blocks", stages)
    worker = widget.apply()
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.finished, timeout=WAIT_MS):
        widget.apply_button.click()
    assert flags[0] is not None and flags[0].is_set()
    assert widget.message.text() == "cancelled: no layers were added"
    assert [layer.name for layer in viewer.layers] == ["cells"]


def _preview_names(viewer) -> list[str]:
    return [layer.name for layer in viewer.layers if layer.name.startswith("bgsub preview")]


def _docked(make_napari_viewer):
    """A viewer, the plugin's dock (napari's panel) and the widget inside it."""
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(*WIDGET)
    return viewer, dock, widget


def test_a_hidden_panel_previews_nothing(make_napari_viewer, need_screen, qtbot, stack):
    """napari's *hide this panel*: scrolling after it brought deleted preview layers back."""
    viewer, dock, widget = _docked(make_napari_viewer)
    viewer.add_image(stack, name="stack")
    _settle(qtbot, widget)
    dock.close()
    for name in _preview_names(viewer):
        viewer.layers.remove(name)
    viewer.dims.set_current_step(0, 3)
    widget.radius.setValue(20)
    qtbot.wait(2 * PREVIEW_DELAY_MS)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    assert _preview_names(viewer) == []
    dock.show()  # shown again: the next change previews
    viewer.dims.set_current_step(0, 4)
    _settle(qtbot, widget)
    assert len(_preview_names(viewer)) == 2


def test_closing_the_panel_removes_its_preview(make_napari_viewer, need_screen, qtbot, stack):
    """napari's *close this panel*: the preview layers stayed, stale, and nothing updated them."""
    viewer, dock, widget = _docked(make_napari_viewer)
    viewer.add_image(stack, name="stack")
    _settle(qtbot, widget)
    assert len(_preview_names(viewer)) == 2
    viewer.window.remove_dock_widget(dock)
    assert _preview_names(viewer) == []
    viewer.dims.set_current_step(0, 3)
    qtbot.wait(2 * PREVIEW_DELAY_MS)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    assert [layer.name for layer in viewer.layers] == ["stack"]


@pytest.mark.parametrize(("planes", "true_3d"), [(8, True), (4, False)])
def test_copy_as_cli_of_a_stack_reproduces_apply_on_the_file_napari_saves(
        viewer_widget, qtbot, tmp_path, planes, true_3d):
    """A plain Z stack saved by napari reads as QYX, SYX or CYX in `bgsub run`: without
    --axes the 3D command failed and the 2D one gave other pixels."""
    import shlex

    import tifffile
    from napari.utils.io import imsave_tiff

    from bgsub import cli

    viewer, widget = viewer_widget
    stack = synthetic((planes, 48, 52), object_radius=(2, 4), density=0.05, seed=8).image
    viewer.add_image(stack, name="stack")
    widget.radius.setValue(12.5)
    widget.mode_combo.setCurrentIndex(int(true_3d))
    _, foreground = _apply(qtbot, widget)
    imsave_tiff(str(tmp_path / "stack.tif"), stack)  # what File > Save Selected Layers writes
    words = shlex.split(widget.copy_as_cli())
    assert words[:5] == ["bgsub", "run", "INPUT", "-o", "OUTDIR"]
    assert words[words.index("--axes") + 1] == "ZYX"
    with pytest.raises(SystemExit) as ended:
        cli.main(["run", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out"), *words[5:]],
                 standalone_mode=False)
    assert ended.value.code == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "stack.tif"),
                                  foreground.data)


def test_applying_again_updates_contrast_and_placement_as_the_first_apply_sets_them(
        viewer_widget, qtbot, image):
    """Applying again updated the data only: a wider radius's foreground was saturated at the
    first one's top, and a source moved or rescaled meanwhile left its results behind."""
    viewer, widget = viewer_widget
    source = viewer.add_image(image, name="cells")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("tophat"))
    widget.radius.setValue(3)
    _apply(qtbot, widget)
    widget.radius.setValue(40)
    source.scale, source.translate, source.units = (0.25, 0.5), (10, -3), ("um", "um")
    source.contrast_limits = (100, 900)
    background, foreground = _apply(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == ["cells", "cells background",
                                                       "cells foreground"]
    data = foreground.data
    assert tuple(foreground.contrast_limits) == (data.min(), data.max())
    assert tuple(background.contrast_limits) == (100, 900)
    for layer in (background, foreground):
        np.testing.assert_array_equal(layer.scale, source.scale)
        np.testing.assert_array_equal(layer.translate, source.translate)
        assert layer.units == source.units


def test_a_function_widgets_result_is_named_for_its_layer_and_placed_like_it(
        make_napari_viewer, need_screen, image):
    """Run on a second layer, the function widget put its result over the first's, in the
    layer napari names `<function> result`, placed like the first layer."""
    viewer = make_napari_viewer()
    first = viewer.add_image(image, name="A", scale=(0.5, 0.5), translate=(100, 200))
    second = viewer.add_image(image[::-1], name="B", scale=(2.0, 2.0))
    _, gui = viewer.window.add_plugin_dock_widget(
        "bgsub", "Filtering / background removal > Subtract background: rolling ball")
    gui.radius.value = 10
    for source in (first, second, first):
        gui.image.value = source
        gui()
    assert [layer.name for layer in viewer.layers] == [
        "A", "B", "A rolling_ball foreground", "B rolling_ball foreground"]
    for source in (first, second):
        result = viewer.layers[f"{source.name} rolling_ball foreground"]
        np.testing.assert_array_equal(result.data,
                                      bgsub.subtract_background(source.data, "rolling_ball", 10))
        np.testing.assert_array_equal(result.scale, source.scale)
        np.testing.assert_array_equal(result.translate, source.translate)


def test_preview_and_auto_errors_are_told_once_in_the_widget(viewer_widget, qtbot, image,
                                                            monkeypatch):
    """A failing preview or Auto was also re-raised into napari's event loop (an error
    notification with a traceback on every change), where Apply's errors are not."""
    viewer, widget = viewer_widget
    viewer.add_image(image, name="cells")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("dog"))
    widget.radius.setValue(3)
    widget.options.editor("low_sigma").setValue(5)  # above high_sigma (the radius): refused
    with qtbot.capture_exceptions() as raised:
        widget.preview_check.setChecked(True)
        qtbot.waitUntil(lambda: "low_sigma=5" in widget.message.text(), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: not widget.is_busy(), timeout=WAIT_MS)
    assert raised == []
    assert widget.message.text().startswith("ValueError: dog: low_sigma=5")

    def suggest_radius(image, axes=None, **settings):
        raise ValueError("no objects to measure")

    monkeypatch.setitem(sys.modules, "bgsub.auto",
                        types.SimpleNamespace(suggest_radius=suggest_radius))
    from bgsub.napari._widget import BackgroundWidget

    auto_widget = BackgroundWidget(viewer)
    viewer.window.add_dock_widget(auto_widget, name="bgsub with auto")
    auto_widget.preview_check.setChecked(False)
    with qtbot.capture_exceptions() as raised:
        auto_widget.auto_button.click()
        qtbot.waitUntil(lambda: not auto_widget.is_busy(), timeout=WAIT_MS)
    assert raised == []
    assert auto_widget.message.text() == "ValueError: no objects to measure"


def test_a_command_method_on_non_square_pixels_is_refused_with_the_way_on(
        viewer_widget, qtbot, image):
    """imagej takes one radius in pixels (the API refuses spacing=, `bgsub run` a file whose
    pixels are not square): the widget passed the layer's scale and showed the API's
    "drop per-axis radii", which a widget user cannot do; the way on is named instead."""
    from bgsub.napari import _functions

    viewer, widget = viewer_widget
    layer = viewer.add_image(image, name="kymograph", scale=(0.5, 0.1))
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("imagej"))
    widget.radius.setValue(10)
    reason = "this layer's pixels are not square (Y, X scale 0.5, 0.1)"
    with qtbot.capture_exceptions() as raised:
        widget.preview_check.setChecked(True)
        qtbot.waitUntil(lambda: reason in widget.message.text(), timeout=WAIT_MS)
        assert widget.apply() is None and reason in widget.message.text()
    assert raised == [] and [layer.name for layer in viewer.layers] == ["kymograph"]
    with pytest.raises(ValueError, match=r"not square .* give the layer a square scale"):
        _functions.imagej(layer, radius=10)
    layer.scale = (0.5, 0.5)
    widget.preview_check.setChecked(False)
    _, foreground = _apply(qtbot, widget)
    np.testing.assert_array_equal(foreground.data, bgsub.subtract_background(image, "imagej", 10))


def test_missing_is_not_offered_for_a_command_method(viewer_widget, qtbot, image):
    """*missing* stayed enabled, and ticked, for imagej, which the API refuses it for: every
    preview and Apply failed until the user found the box to untick."""
    viewer, widget = viewer_widget
    viewer.add_image(image, name="mosaic")
    widget.radius.setValue(10)
    widget.missing_check.setChecked(True)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("imagej"))
    assert not widget.missing_check.isEnabled() and not widget.missing_value.isEnabled()
    assert "imagej" in widget.missing_check.toolTip()
    assert widget.settings().missing is None
    _, foreground = _apply(qtbot, widget)
    np.testing.assert_array_equal(foreground.data, bgsub.subtract_background(image, "imagej", 10))
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("rolling_ball"))
    assert widget.missing_check.isEnabled() and widget.settings().missing == 0.0


def test_no_preview_while_the_view_shows_other_axes_than_the_image_plane(viewer_widget, qtbot,
                                                                         stack):
    """Dims rolled to a Z, X view: the preview still showed a Y, X plane over the Z, X slice."""
    viewer, widget = viewer_widget
    viewer.add_image(stack, name="stack", axis_labels=("z", "y", "x"))
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("tophat"))
    widget.radius.setValue(4)
    widget.preview_check.setChecked(True)
    _settle(qtbot, widget)
    viewer.dims.order = (1, 0, 2)
    qtbot.waitUntil(lambda: "no preview" in widget.message.text(), timeout=WAIT_MS)
    assert "the view shows axes 0 and 2 (z, x)" in widget.message.text()
    assert _preview_names(viewer) == []
    viewer.dims.order = (0, 1, 2)
    viewer.dims.set_current_step(0, 5)
    _settle(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["bgsub preview: foreground"].data,
                                  bgsub.subtract_background(stack, "tophat", 4)[5])


def test_auto_in_3d_on_a_layer_without_a_voxel_size_says_the_z_radius_is_a_guess(
        viewer_widget, qtbot):
    """radius="auto"'s warning of a true 3D run without a spacing, where Auto sets a number:
    the same number of pixels along Z, right for cubic voxels only; none where the layer's
    scale gives the voxel size."""
    from bgsub.auto import volume_radius_finding
    from bgsub.data import synthetic

    viewer, widget = viewer_widget
    stack = np.stack([synthetic((128, 128), object_radius=(4, 6), seed=seed).image
                      for seed in range(5)])
    viewer.add_image(stack, name="stack")
    widget.preview_check.setChecked(False)
    widget.mode_combo.setCurrentIndex(1)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: "radius" in widget.message.text(), timeout=WAIT_MS)
    expected = volume_radius_finding(widget.radius.value(), 5)
    assert f"warning: {expected}" in widget.message.text()
    viewer.layers.clear()
    viewer.add_image(stack, name="scaled", scale=(4.0, 1.0, 1.0))
    widget.mode_combo.setCurrentIndex(1)
    widget.auto_button.click()
    qtbot.waitUntil(lambda: "radius" in widget.message.text()
                    and "looking" not in widget.message.text(), timeout=WAIT_MS)
    assert "along Z" not in widget.message.text()
