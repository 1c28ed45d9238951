"""The plugin's Qt-free parts: settings text and the plane/block computations.

These need neither napari nor Qt, so they run with the core suite.
"""

from __future__ import annotations

import shlex

import numpy as np
import pytest

import bgsub
from bgsub.data import synthetic
from bgsub.napari._compute import Plane, preview, subtract_in_blocks
from bgsub.napari._settings import (
    Settings,
    array_axes,
    array_layout,
    guess_channel_axis,
    layer_axes,
    spatial_spacing,
)


def _run(generator):
    """Exhaust a progress generator; return what it yielded and its return value."""
    progress = []
    try:
        while True:
            progress.append(next(generator))
    except StopIteration as stop:
        return progress, stop.value


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """2x20x40x44 uint16 time series of stacks (T, Z, Y, X)."""
    one = synthetic((20, 40, 44), object_radius=(2, 4), density=0.05, seed=4).image
    return np.stack([one, one[::-1]])


def test_defaults_are_left_out_of_python_and_cli():
    settings = Settings("tophat", 25, light_background=True)
    assert settings.as_python() == ('bgsub.subtract_background(image, method="tophat", '
                                    'radius=25, light_background=True)')
    assert settings.as_cli() == "bgsub run INPUT -o OUTDIR --method tophat --radius 25 --light"


def test_every_setting_reaches_python_and_cli():
    settings = Settings("rolling_ball", 12.5, presmooth="gaussian", presmooth_size=1.5,
                        true_3d=True, options={"envelope": True, "height": 30.0},
                        axes="TZYX", spacing=(2.0, 0.5, 0.5))
    assert settings.kwargs() == {
        "method": "rolling_ball", "radius": 12.5, "axes": "TZYX", "true_3d": True,
        "spacing": (2.0, 0.5, 0.5), "presmooth": "gaussian:1.5", "envelope": True,
        "height": 30.0}
    assert settings.as_python("data") == (
        'bgsub.subtract_background(data, method="rolling_ball", radius=12.5, axes="TZYX", '
        'true_3d=True, spacing=(2, 0.5, 0.5), presmooth="gaussian:1.5", envelope=True, '
        'height=30)')
    assert shlex.split(settings.as_cli("in.tif", "out")) == [
        "bgsub", "run", "in.tif", "-o", "out", "--method", "rolling_ball", "--radius", "12.5",
        "--presmooth", "gaussian:1.5", "--3d", "--axes", "TZYX", "--spacing", "2,0.5,0.5",
        "-O", "envelope=true", "-O", "height=30"]


def test_cli_names_the_layout_bgsub_would_guess_but_a_file_may_not_have():
    # (a Z stack napari saves reads as QYX in `bgsub run`; the API guesses ZYX for an array)
    settings = Settings("mean", 5, layout=array_layout(3))
    assert settings.as_cli() == "bgsub run INPUT -o OUTDIR --method mean --radius 5 --axes ZYX"
    assert settings.as_python() == 'bgsub.subtract_background(image, method="mean", radius=5)'
    assert "--axes TZYX" in Settings(axes="TZYX", layout="TZYX").as_cli()


def test_python_text_evaluates_to_the_same_result(stack):
    settings = Settings("gaussian", 3, light_background=True, axes=array_axes(stack.ndim),
                        options={"sigma": 2.0})
    result = eval(settings.as_python(), {"bgsub": bgsub, "image": stack})  # noqa: S307
    np.testing.assert_array_equal(result, bgsub.subtract_background(stack, **settings.kwargs()))


def test_metadata_is_json_friendly():
    import json

    record = Settings("tophat", 5, spacing=(1.0, 2.0)).metadata()
    assert json.loads(json.dumps(record)) == record
    assert record["kwargs"]["spacing"] == [1.0, 2.0]
    assert record["bgsub_version"] == bgsub.__version__


@pytest.mark.parametrize(("ndim", "rgb", "axes"), [
    (2, False, None), (3, False, None), (4, False, "TZYX"), (5, False, "TQZYX"),
    (3, True, None), (4, True, "ZYXS"), (6, True, "TQZYXS"),
])
def test_array_axes(ndim, rgb, axes):
    assert array_axes(ndim, rgb) == axes


@pytest.mark.parametrize(("ndim", "rgb", "channel_axis", "axes"), [
    (3, False, 0, "CYX"), (4, False, 0, "CZYX"), (4, False, 1, "ZCYX"), (4, False, -3, "ZCYX"),
    (5, False, 1, "TCZYX"), (5, False, 2, "TZCYX"), (4, True, 0, "CYXS"),
])
def test_array_axes_with_channels(ndim, rgb, channel_axis, axes):
    assert array_axes(ndim, rgb, channel_axis) == axes


@pytest.mark.parametrize("channel_axis", [2, 3, -1, -2, 7])
def test_channel_axis_must_be_before_the_plane(channel_axis):
    with pytest.raises(ValueError, match="channel_axis"):
        array_axes(4, False, channel_axis)


def test_channel_axis_guessed_from_labels_and_z_kept_apart():
    assert guess_channel_axis(("T", "Channel", "z", "y", "x")) == 1
    assert guess_channel_axis(("axis -3", "axis -2", "axis -1")) is None
    assert guess_channel_axis(("y", "c")) is None  # a plane axis is never the channel axis
    assert layer_axes(4, False, (4.0, 1.0, 0.5, 0.5), True, 1) == ("ZCYX", (4.0, 0.5, 0.5), True)
    assert layer_axes(3, False, (1.0, 0.5, 0.5), True, 0) == ("CYX", None, False)
    assert layer_axes(3, False, (2.0, 0.5, 0.5), True, None) == (None, (2.0, 0.5, 0.5), True)
    assert layer_axes(2, False, (2.0, 1.0), True) == (None, (2.0, 1.0), False)


def test_defaults_are_the_apis():
    import inspect

    assert Settings().method == bgsub.api.RECOMMENDED_METHOD
    radius = inspect.signature(bgsub.subtract_background).parameters["radius"].default
    assert Settings().radius == radius


def test_spacing_only_when_it_matters():
    assert spatial_spacing((1.0, 1.0), true_3d=False) is None
    assert spatial_spacing((3.0, 1.0, 1.0), true_3d=False) is None
    assert spatial_spacing((3.0, 1.0, 1.0), true_3d=True) == (3.0, 1.0, 1.0)
    assert spatial_spacing((5.0, 1.0, 0.5), true_3d=False) == (1.0, 0.5)


@pytest.mark.parametrize("true_3d", [False, True])
def test_blocks_with_progress_equal_one_call(stack, true_3d):
    settings = Settings("tophat", 3, true_3d=true_3d, axes="TZYX", presmooth="mean")
    progress, (foreground, background) = _run(subtract_in_blocks(stack, settings))
    expected = bgsub.subtract_background(stack, return_background=True, **settings.kwargs())
    np.testing.assert_array_equal(foreground, expected[0])
    np.testing.assert_array_equal(background, expected[1])
    total = 2 if true_3d else 40
    assert progress == [(i, total) for i in range(total + 1)]


@pytest.mark.parametrize("z", [0, 3, 10, 19])
def test_3d_preview_of_a_window_equals_the_whole_stack(stack, z):
    settings = Settings("tophat", 3, true_3d=True, axes="TZYX", presmooth="gaussian",
                        spacing=(2.0, 1.0, 1.0))
    plane = Plane(stack, settings, (1, z, 0, 0))
    assert plane.axes == "ZYX" and plane.data.shape[0] < stack.shape[1]
    background, foreground = preview(stack, settings, (1, z, 0, 0))
    expected = bgsub.subtract_background(stack[1], return_background=True,
                                         **{**settings.kwargs(), "axes": "ZYX"})
    np.testing.assert_array_equal(foreground, expected[0][z])
    np.testing.assert_array_equal(background, expected[1][z])


@pytest.mark.parametrize("method", ["mean", "median", "tophat"])
def test_3d_preview_with_pixels_to_fill_equals_the_whole_stack(method):
    # (a dropped, all-NaN plane is filled from the nearest valid pixels across the whole
    # stack, beyond the preview's window: the window's own fill differed by up to 18 grey
    # levels two planes away)
    stack = synthetic((10, 40, 44), object_radius=(2, 4), density=0.05, seed=8).image
    stack = stack.astype(np.float32)
    stack[:3] += 1000
    stack[3] = np.nan
    settings = Settings(method, 3, true_3d=True, spacing=(0.5, 1.0, 1.0))
    expected = bgsub.subtract_background(stack, return_background=True, **settings.kwargs())
    for z in (3, 6, 9):
        background, foreground = preview(stack, settings, (z, 0, 0))
        np.testing.assert_array_equal(background, expected[1][z])
        np.testing.assert_array_equal(foreground, expected[0][z])
    padded = np.nan_to_num(stack, nan=0.0)  # the same with missing=0 (a mosaic's padding)
    settings = Settings(method, 3, true_3d=True, spacing=(0.5, 1.0, 1.0), missing=0.0)
    expected = bgsub.subtract_background(padded, return_background=True, **settings.kwargs())
    background, _ = preview(padded, settings, (6, 0, 0))
    np.testing.assert_array_equal(background, expected[1][6])


def test_2d_preview_clips_the_position_and_keeps_rgb():
    rgb = synthetic((32, 36), seed=2).image[..., None].repeat(3, axis=-1)
    background, foreground = preview(rgb, Settings("mean", 4), (99, 99, 0))
    np.testing.assert_array_equal(foreground, bgsub.subtract_background(rgb, "mean", 4))
    assert background.shape == rgb.shape


def test_apply_keeps_an_rgba_layers_alpha_and_reads_big_endian_as_the_preview_does():
    # (Apply ran the engine on all four samples: the alpha of an opaque layer came out 0,
    # while the preview, through subtract_background, kept it)
    rng = np.random.default_rng(0)
    grey = (rng.poisson(50, (60, 64)) + np.arange(64)).astype(np.uint8)
    rgba = np.dstack([grey, grey // 2, grey // 3, np.full_like(grey, 255)])
    settings = Settings("rolling_ball", 10)
    _, (foreground, background) = _run(subtract_in_blocks(rgba, settings))
    expected = bgsub.subtract_background(rgba, "rolling_ball", 10, axes="YXS",
                                         return_background=True)
    assert np.array_equal(foreground, expected[0]) and np.array_equal(background, expected[1])
    assert (foreground[..., 3] == 255).all()
    swapped = (rng.poisson(100, (48, 40)) + 1e9).astype(">f8")
    _, (foreground, _) = _run(subtract_in_blocks(swapped, Settings("robust", 20)))
    assert np.array_equal(foreground, bgsub.subtract_background(swapped.astype("<f8"),
                                                                "robust", 20))
