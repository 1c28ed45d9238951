"""The shading functions in napari: manifest entries, results equal to the API, one-line errors.

Skipped where napari or pytest-qt is missing (`pip install -e ".[napari-test]"`).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari.viewer", reason="napari is not installed (extra bgsub[napari])")

import bgsub  # noqa: E402
from bgsub.shading import list_shading_methods  # noqa: E402

SIZE = 64
TILES = 12
COMMANDS = {"bgsub.estimate_shading": "bgsub.napari._shading:estimate_shading_widget",
            "bgsub.correct_shading": "bgsub.napari._shading:correct_shading_widget"}


def _vignetting() -> np.ndarray:
    """Off-centre radial falloff to about a quarter of the mean in a corner."""
    y, x = (np.mgrid[:SIZE, :SIZE] + 0.5) / SIZE
    field = 1.0 / (1.0 + ((y - 0.45) ** 2 + (x - 0.55) ** 2) / 0.25) ** 2
    return field / field.mean()


@pytest.fixture(scope="module")
def tiles() -> np.ndarray:
    """(12, 64, 64) uint16 tiles of different levels under a known vignetting, Poisson noise."""
    rng = np.random.default_rng(3)
    level = rng.uniform(150, 450, TILES)[:, None, None]
    return rng.poisson(level * _vignetting()).astype(np.uint16)


@pytest.fixture
def layer(tiles):
    from napari.layers import Image

    return Image(tiles, name="tiles", scale=(1.0, 0.65, 0.65), translate=(0.0, 10.0, 20.0),
                 units=("pixel", "micrometer", "micrometer"))


def test_widgets_are_in_the_manifest_and_the_layers_filter_menu():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("bgsub")
    manifest.validate_imports()
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    widgets = {w.command: w.display_name for w in manifest.contributions.widgets}
    in_filter = {item.command for item in manifest.contributions.menus["napari/layers/filter"]}
    for command, python_name in COMMANDS.items():
        assert commands[command] == python_name
        assert widgets[command].startswith("Shading correction > ")
        assert command in in_filter


def test_estimate_equals_the_api_and_keeps_the_planes_placement(layer, tiles):
    from bgsub.napari._shading import estimate_shading, estimate_shading_widget

    assert estimate_shading_widget().method.choices == tuple(
        m.name for m in list_shading_methods())
    (flat, meta, kind), = estimate_shading(layer)
    np.testing.assert_array_equal(flat, bgsub.estimate_shading(tiles).flatfield)
    assert np.sqrt(np.mean((flat - _vignetting()) ** 2)) < 0.03  # the known field, roughly
    assert kind == "image" and meta["name"] == "flatfield"
    assert meta["scale"] == (0.65, 0.65) and meta["translate"] == (10.0, 20.0)
    assert meta["units"] == ("micrometer", "micrometer")
    layers = estimate_shading(layer, "lowrank", True)
    expected = bgsub.estimate_shading(tiles, "lowrank", darkfield=True)
    assert [m["name"] for _, m, _ in layers] == ["flatfield", "darkfield"]
    np.testing.assert_array_equal(layers[0][0], expected.flatfield)
    np.testing.assert_array_equal(layers[1][0], expected.darkfield)


def _glow() -> np.ndarray:
    """A measured dark frame: a 100-count offset with a 24-count amplifier glow."""
    x = (np.arange(SIZE) + 0.5) / SIZE
    return np.broadcast_to(100.0 + 24.0 * (x - 0.5), (SIZE, SIZE)).astype(np.float32)


def test_estimate_with_a_measured_dark_frame_or_offset_equals_the_api(tiles):
    from napari.layers import Image

    from bgsub.napari._shading import estimate_shading

    dark = tiles + np.round(_glow()).astype(np.uint16)
    layers = estimate_shading(Image(dark, scale=(1, 0.5, 0.5)), "lowrank",
                              dark_frame=Image(_glow(), name="dark frame"))
    expected = bgsub.estimate_shading(dark, "lowrank", darkfield=_glow())
    assert [m["name"] for _, m, _ in layers] == ["flatfield", "darkfield"]
    np.testing.assert_array_equal(layers[0][0], expected.flatfield)
    np.testing.assert_array_equal(layers[1][0], _glow())
    assert layers[1][1]["scale"] == (0.5, 0.5)
    (flat, _, _), (offset, meta, _) = estimate_shading(Image(tiles + 100), "gaussian",
                                                       dark_offset=100.0)
    np.testing.assert_array_equal(
        flat, bgsub.estimate_shading(tiles + 100, "gaussian", darkfield=100.0).flatfield)
    np.testing.assert_array_equal(offset, np.full((SIZE, SIZE), 100.0, np.float32))
    assert meta["name"] == "darkfield"


def test_estimate_with_a_channel_axis_gives_one_field_per_channel(tiles):
    from napari.layers import Image

    from bgsub.napari._shading import estimate_shading

    stack = np.stack([tiles, tiles // 2 + 5], axis=1)  # (N, C, Y, X)
    (flat, meta, _), = estimate_shading(Image(stack, scale=(1, 1, 0.5, 0.5)), "gaussian")
    np.testing.assert_array_equal(flat, bgsub.estimate_shading(stack, "gaussian").flatfield)
    assert flat.shape == (2, SIZE, SIZE) and meta["scale"] == (1.0, 0.5, 0.5)


def test_an_rgb_layer_gives_a_field_per_colour_and_is_corrected_as_rgb(tiles):
    # an RGB layer (slide-scanner tiles, H&E) was refused: "split the channels into a
    # (N, C, Y, X) stack first", which napari's own Split RGB does not make
    from napari.layers import Image

    from bgsub.napari._shading import correct_shading, estimate_shading

    colours = np.stack([tiles, tiles // 2, tiles // 3], axis=-1).astype(np.uint16)  # (N,Y,X,S)
    layer = Image(colours, rgb=True, scale=(10, 0.5, 0.5), translate=(500, 0, 0),
                  contrast_limits=(0, 2000))
    (flat, meta, _), = estimate_shading(layer, "gaussian")
    profile = bgsub.estimate_shading(np.moveaxis(colours, -1, 1), "gaussian")
    np.testing.assert_array_equal(flat, profile.flatfield)
    # (the colour axis took the tiles' scale and translate: 10 and 500)
    assert flat.shape == (3, SIZE, SIZE) and meta["scale"] == (1.0, 0.5, 0.5)
    assert meta["translate"] == (0.0, 0.0, 0.0)
    corrected, meta, _ = correct_shading(layer, Image(flat))
    want = np.moveaxis(bgsub.correct_shading(np.moveaxis(colours, -1, 1), profile), 1, -1)
    np.testing.assert_array_equal(corrected, want)
    assert meta["rgb"] and meta["scale"] == (10.0, 0.5, 0.5) and corrected.dtype == np.uint16
    assert meta["translate"] == (500.0, 0.0, 0.0)
    one, _, _ = correct_shading(Image(colours[2], rgb=True, contrast_limits=(0, 2000)),
                                Image(flat))
    np.testing.assert_array_equal(one, want[2])


def test_correct_equals_the_api(layer, tiles):
    from napari.layers import Image

    from bgsub.napari._shading import correct_shading

    profile = bgsub.estimate_shading(tiles, "lowrank", darkfield=True)
    flat = Image(profile.flatfield, name="flatfield")
    dark = Image(profile.darkfield, name="darkfield")
    data, meta, kind = correct_shading(layer, flat, dark)
    np.testing.assert_array_equal(data, bgsub.correct_shading(tiles, profile))
    assert data.dtype == tiles.dtype and meta["name"] == "tiles corrected"
    assert meta["scale"] == (1.0, 0.65, 0.65) and meta["translate"] == (0.0, 10.0, 20.0)
    one, _, _ = correct_shading(Image(tiles[3]), flat)  # a single tile, no dark-field
    no_dark = bgsub.shading.ShadingProfile(profile.flatfield, np.zeros_like(profile.darkfield))
    np.testing.assert_array_equal(one, bgsub.correct_shading(tiles[3], no_dark))
    # (floats keep what the flat-field lifts past the dtype's top, which "same" clips)
    floats, _, _ = correct_shading(layer, flat, dark, "float32")
    np.testing.assert_array_equal(floats, bgsub.correct_shading(tiles, profile,
                                                                output_dtype="float32"))


def test_correct_takes_one_dark_frame_for_every_channel(tiles):
    # a (Y, X) dark-frame layer with a (C, Y, X) flat-field was refused ("a flat-field of
    # shape (2, 64, 64) and a dark-field of shape (64, 64) ..."); estimate takes it so
    from napari.layers import Image

    from bgsub.napari._shading import correct_shading

    stack = np.stack([tiles, tiles // 2 + 5], axis=1)  # (N, C, Y, X)
    frame = np.full((SIZE, SIZE), 3, np.float32)
    profile = bgsub.estimate_shading(stack, "gaussian", darkfield=frame)
    data, _, _ = correct_shading(Image(stack), Image(profile.flatfield), Image(frame))
    np.testing.assert_array_equal(data, bgsub.correct_shading(stack, profile))


def test_widgets_run_in_a_viewer(make_napari_viewer, need_screen, layer, tiles):
    from bgsub.napari._shading import correct_shading_widget, estimate_shading_widget

    viewer = make_napari_viewer()
    viewer.add_layer(layer)
    estimate = estimate_shading_widget()
    viewer.window.add_dock_widget(estimate)
    estimate.method.value = "gaussian"
    estimate()
    added = viewer.layers["flatfield"]
    np.testing.assert_array_equal(added.data, bgsub.estimate_shading(tiles, "gaussian").flatfield)
    np.testing.assert_array_equal(added.scale, (0.65, 0.65))
    estimate()  # again: the same layer, not a second one
    assert [lay.name for lay in viewer.layers] == ["tiles", "flatfield"]
    correct = correct_shading_widget()
    viewer.window.add_dock_widget(correct)
    correct.image.value, correct.flatfield.value = layer, added
    correct()
    assert viewer.layers["tiles corrected"].data.shape == tiles.shape
    assert correct.output_dtype.choices == ("same", "float", "float32", "float64")
    correct.output_dtype.value = "float32"
    correct()
    assert viewer.layers["tiles corrected"].data.dtype == np.float32


def test_estimate_widget_takes_a_dark_frame_layer(make_napari_viewer, need_screen, tiles):
    from napari.layers import Image

    from bgsub.napari._shading import estimate_shading_widget

    viewer = make_napari_viewer()
    dark = tiles + np.round(_glow()).astype(np.uint16)
    viewer.add_layer(Image(dark, name="tiles"))
    frame = viewer.add_layer(Image(_glow(), name="dark frame"))
    estimate = estimate_shading_widget()
    viewer.window.add_dock_widget(estimate)
    assert estimate.dark_frame.value is None  # optional: none unless chosen
    estimate.image.value = viewer.layers["tiles"]
    estimate.method.value, estimate.dark_frame.value = "gaussian", frame
    estimate()
    expected = bgsub.estimate_shading(dark, "gaussian", darkfield=_glow())
    np.testing.assert_array_equal(viewer.layers["flatfield"].data, expected.flatfield)
    np.testing.assert_array_equal(viewer.layers["darkfield"].data, _glow())


def test_estimating_again_without_a_dark_field_removes_the_earlier_one(make_napari_viewer,
                                                                       need_screen, layer):
    """The earlier estimate's `darkfield` stayed, and Correct shading offered it beside the
    new flat-field it does not belong to; a layer of that name the widget did not add stays."""
    from napari.layers import Image

    from bgsub.napari._shading import estimate_shading_widget

    viewer = make_napari_viewer()
    viewer.add_layer(layer)
    estimate = estimate_shading_widget()
    viewer.window.add_dock_widget(estimate)
    assert "viewer" not in [w.name for w in estimate if w.visible]
    estimate.darkfield.value = True
    estimate()
    assert [lay.name for lay in viewer.layers] == ["tiles", "flatfield", "darkfield"]
    estimate.darkfield.value = False
    estimate()
    assert [lay.name for lay in viewer.layers] == ["tiles", "flatfield"]
    viewer.add_layer(Image(np.zeros((SIZE, SIZE)), name="darkfield"))  # the user's own
    estimate()
    assert [lay.name for lay in viewer.layers] == ["tiles", "flatfield", "darkfield"]


@pytest.mark.parametrize("case, words", [
    ("not a stack", "stack of tiles"),
    ("fields of another shape", "profile is for tiles of shape"),
    ("zeros in the flat-field", "zero, negative or not finite"),
    ("dark-field of another shape", "of one shape"),
    ("dark-field from a method without one", "does not estimate a dark-field"),
    ("one RGB tile", "shape (8, 8, 3); shading is estimated from a stack of tiles (N, Y, X, RGB)"),
    ("dark-field estimated and given", "give one of darkfield and dark_frame"),
    ("dark offset and frame", "give one of dark_frame and dark_offset"),
    ("dark frame of another shape", "dark frame has shape (32, 32), the tiles (64, 64)"),
    ("dark frame stack", "dark frame layer has shape (2, 3, 64, 64)"),
    ("dark frame above the tiles", "dark frame lies at or above the tiles"),
])
def test_bad_input_is_one_line(case, words, tiles):
    from napari.layers import Image

    from bgsub.napari._shading import correct_shading, estimate_shading

    flat = np.ones((SIZE, SIZE), np.float32)
    with pytest.raises(ValueError) as error:
        if case == "not a stack":
            estimate_shading(Image(tiles[0]))
        elif case == "fields of another shape":
            correct_shading(Image(tiles), Image(np.ones((32, 32), np.float32)))
        elif case == "zeros in the flat-field":
            flat[5, 5] = 0
            correct_shading(Image(tiles), Image(flat))
        elif case == "dark-field of another shape":
            correct_shading(Image(tiles), Image(flat), Image(np.zeros((32, 32), np.float32)))
        elif case == "dark-field from a method without one":
            estimate_shading(Image(tiles), "gaussian", True)
        elif case == "dark-field estimated and given":
            estimate_shading(Image(tiles), "lowrank", True, Image(flat))
        elif case == "dark offset and frame":
            estimate_shading(Image(tiles), "lowrank", dark_frame=Image(flat), dark_offset=5.0)
        elif case == "dark frame of another shape":
            estimate_shading(Image(tiles), dark_frame=Image(np.zeros((32, 32), np.float32)))
        elif case == "dark frame stack":
            estimate_shading(Image(tiles), dark_frame=Image(np.zeros((2, 3, SIZE, SIZE))))
        elif case == "dark frame above the tiles":
            estimate_shading(Image(tiles), dark_offset=float(tiles.max()) + 1)
        else:
            estimate_shading(Image(np.zeros((8, 8, 3), np.uint8), rgb=True))
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_dask_layer_stays_lazy_and_gives_the_same_result(tiles):
    da = pytest.importorskip("dask.array")
    from napari.layers import Image

    from bgsub.napari._shading import correct_shading, estimate_shading

    lazy = Image(da.from_array(tiles, chunks=(3, SIZE, SIZE)), name="lazy")
    (flat, _, _), = estimate_shading(lazy, "gaussian")
    profile = bgsub.estimate_shading(tiles, "gaussian")
    np.testing.assert_array_equal(flat, profile.flatfield)
    corrected, _, _ = correct_shading(lazy, Image(flat))
    assert isinstance(corrected, da.Array)
    np.testing.assert_array_equal(corrected.compute(), bgsub.correct_shading(tiles, profile))
