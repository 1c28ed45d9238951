"""Padding (a stitched or registered image's solid regions of one value) is named in a
warning, with the fix; a dim or clipped background is not."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

import bgsub
from bgsub._padding import padding_share
from bgsub.data import synthetic
from errors import rmse


def _field(seed: int = 4, shape: tuple[int, int] = (256, 256)):
    return synthetic(shape, object_radius=(3, 6), seed=seed)


def _caught(fn, *args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, bgsub.BackgroundWarning)]


def test_a_zero_strip_a_rotated_canvas_and_white_padding_are_found():
    image = _field().image
    strip = image.copy()
    strip[:, :64] = 0
    assert padding_share(strip) == (0.25, 0.0)
    # a registered image rotated by 10 degrees on a zero canvas: four triangles at the corners
    rotated = ndi.rotate(image, 10.0, reshape=True, order=1, cval=0.0)
    share, value = padding_share(rotated)
    assert value == 0.0 and 0.05 < share < 0.3
    # bright field: white padding on the background's side
    light = (4000 - image.astype(np.int64)).astype(np.uint16)
    light[:40] = 65535
    assert padding_share(light, light_background=True) == pytest.approx((40 / 256, 65535.0))
    # ... and in a stack, on the planes that have it
    stack = np.stack([image, strip, strip])
    assert padding_share(stack)[0] == pytest.approx(2 / 3 * 0.25)


def test_zeros_of_a_dim_or_clipped_background_are_not_padding():
    rng = np.random.default_rng(0)
    assert padding_share(rng.poisson(0.7, (256, 256)))[0] == 0.0  # photon counting
    # a background clipped at 0 on one side (an offset subtracted): it rises out of the floor
    yy, xx = np.mgrid[0:256, 0:256]
    clipped = np.clip(rng.normal(xx / 16.0 - 4.0, 1.0), 0, None).round().astype(np.uint8)
    assert padding_share(clipped)[0] == 0.0
    # one value in a solid region that does not reach the edge: an object, not padding
    hole = _field().image.copy()
    hole[100:160, 100:160] = 0
    assert padding_share(hole)[0] == 0.0
    # a noise-free image's constant background under sharp objects (most of the image)
    spots = np.full((64, 64), 100.0)
    spots[::16, ::16] = 600.0
    assert padding_share(spots)[0] == 0.0
    # a constant image, a tiny one, a few zeros, a NaN-marked padding
    assert padding_share(np.zeros((64, 64)))[0] == 0.0
    assert padding_share(np.array([[1, 2, 3], [4, 5, 6]]))[0] == 0.0
    few = _field().image.copy()
    few[:2, :2] = 0
    assert padding_share(few)[0] == 0.0
    marked = _field().image.astype(np.float32)
    marked[:, :64] = np.nan
    assert padding_share(marked)[0] == 0.0


def test_the_default_warns_once_and_marking_the_padding_missing_is_the_fix():
    s = _field(shape=(512, 512))
    padded = s.image.copy()
    padded[:, :150] = 0
    messages = _caught(bgsub.subtract_background, padded, radius="auto")
    assert len(messages) == 1, messages
    assert "29 % of the image is one value (0)" in messages[0]
    assert "missing=0; on the command line --missing 0" in messages[0]
    marked = np.where(padded == 0, np.nan, padded)
    assert _caught(bgsub.estimate_background, marked, radius="auto") == []
    data = np.s_[:, 150:]
    # (measured when written: 229 grey levels over the data with the zeros, 3.2 marked; the
    # noise's sd is about 32)
    assert rmse(bgsub.estimate_background(padded, radius="auto")[data], s.background[data]) > 100
    fixed = bgsub.estimate_background(marked, radius="auto")
    assert rmse(fixed[data], s.background[data]) < 8
    assert np.isnan(bgsub.subtract_background(marked, radius="auto")[:, :150]).all()


def test_every_method_and_the_cli_are_told(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from click.testing import CliRunner

    from bgsub.cli import main

    padded = _field().image.copy()
    padded[:64] = 0
    assert len(_caught(bgsub.estimate_background, padded, "rolling_ball", radius=20)) == 1
    source = tmp_path / "mosaic.tif"
    tifffile.imwrite(source, padded)
    result = CliRunner().invoke(main, ["run", str(source), "-o", str(tmp_path / "out"),
                                       "--radius", "20"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "bgsub: warning:" in line]
    assert len(lines) == 1 and "mosaic.tif" in lines[0] and "padding" in lines[0], lines


def test_looking_for_padding_warns_of_nothing_else():
    # NumPy's "All-NaN slice encountered" leaked from the first nanmin on an all-NaN image
    for image in (np.full((64, 64), np.nan, np.float32), np.full((32, 40), np.inf),
                  np.zeros((64, 64), np.uint8)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            bgsub.subtract_background(image, "rolling_ball", radius=10)


def _padded_field():
    s = _field(shape=(256, 256))
    padded = s.image.copy()
    padded[:, :80] = 0
    return s, padded


def test_missing_leaves_the_padding_out_as_nan_does_and_keeps_it():
    s, padded = _padded_field()
    marked = np.where(padded == 0, np.nan, padded.astype(np.float64))
    assert _caught(bgsub.subtract_background, padded, radius="auto", missing=0) == []
    foreground, background = bgsub.subtract_background(padded, radius="auto", missing=0,
                                                      return_background=True)
    data = np.s_[:, 80:]
    # (float32 work for uint16 against float64 for the NaN-marked float64 image)
    np.testing.assert_allclose(background[data], bgsub.estimate_background(marked,
                               radius="auto")[data], atol=0.05)
    assert foreground.dtype == np.uint16 and not foreground[:, :80].any()
    assert rmse(background[data], s.background[data]) < 8
    from bgsub.auto import suggest_radius
    assert suggest_radius(padded, missing=0).radius == suggest_radius(marked).radius
    # white padding on a light background keeps its value too
    light = (4000 - padded.astype(np.int64)).astype(np.uint16)
    light[:, :80] = 65535
    out = bgsub.subtract_background(light, radius=20, light_background=True, missing=65535)
    assert (out[:, :80] == 65535).all()


def test_missing_is_the_same_on_dask_and_refused_where_it_cannot_apply():
    da = pytest.importorskip("dask.array")
    _, padded = _padded_field()
    for method, radius in (("robust", 20.0), ("tophat", 6.0)):
        lazy = bgsub.subtract_background(da.from_array(padded, chunks=(128, 128)), method,
                                         radius=radius, missing=0).compute()
        np.testing.assert_array_equal(
            lazy, bgsub.subtract_background(padded, method, radius=radius, missing=0))
    with pytest.raises(ValueError, match="ImageJ, which has no missing pixels"):
        bgsub.subtract_background(padded, "imagej", radius=20, missing=0)
    with pytest.raises(TypeError, match="missing must be a number"):
        bgsub.subtract_background(padded, radius=20, missing="0")
    with pytest.raises(ValueError, match="must be finite"):
        bgsub.estimate_background(padded, radius=20, missing=np.nan)


def test_a_lazy_mosaic_is_warned_of_from_the_planes_its_radius_read():
    # planning does not read a Dask array, but the automatic radius reads its planes: what
    # it found there is the same warning as an in-memory image's, and nothing is read for it
    # at a fixed radius
    da = pytest.importorskip("dask.array")
    _, padded = _padded_field()
    lazy = da.from_array(padded, chunks=(128, 128))
    messages = _caught(bgsub.subtract_background, lazy, radius="auto")
    assert messages == _caught(bgsub.subtract_background, padded, radius="auto")
    assert len(messages) == 1 and "31 % of the image is one value (0)" in messages[0]
    assert _caught(bgsub.subtract_background, lazy, radius="auto", missing=0) == []
    assert _caught(bgsub.subtract_background, lazy, radius=20) == []


def test_the_command_line_and_the_config_take_missing(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from click.testing import CliRunner

    from bgsub.cli import main
    from bgsub.config import ConfigError, Settings

    _, padded = _padded_field()
    source = tmp_path / "mosaic.tif"
    tifffile.imwrite(source, padded)
    result = CliRunner().invoke(main, ["run", str(source), "-o", str(tmp_path / "out"),
                                       "--radius", "20", "--missing", "0"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    written = tifffile.imread(tmp_path / "out" / "mosaic.tif")
    np.testing.assert_array_equal(written, bgsub.subtract_background(padded, radius=20,
                                                                     missing=0))
    assert '"missing": 0.0' in (tmp_path / "out" / "mosaic.tif.bgsub.json").read_text()
    suggested = CliRunner().invoke(main, ["suggest", str(source), "-q", "--missing", "0"])
    from bgsub.auto import suggest_radius
    expected = suggest_radius(padded, missing=0).radius
    assert f"radius        : {expected:.1f} px" in suggested.output, suggested.output
    assert Settings().updated({"missing": 0}).validated().missing == 0.0
    with pytest.raises(ConfigError, match="missing='x' must be a number"):
        Settings().updated({"missing": "x"}).validated()


def test_the_suggested_radius_names_padding_in_its_reason():
    # bgsub suggest calls suggest_radius alone (no engine, no warning): its reason says that
    # the objects were measured with the padding, and names the fix; for a light image
    # (float: negated where measured) in the image's own sign
    from bgsub.auto import suggest_radius

    image = _field().image
    strip = image.copy()
    strip[:, :64] = 0
    found = suggest_radius(strip)
    assert "give missing=0 (--missing 0)" in found.reason and found.padding == (0.25, 0.0)
    assert "padding" not in suggest_radius(strip, missing=0).reason
    assert "padding" not in suggest_radius(image).reason
    assert suggest_radius(image).padding[0] == 0.0
    light = (4000.0 - image).astype(np.float32)
    light[:40] = 65535.0
    assert "missing=65535" in suggest_radius(light, light_background=True).reason


def test_looking_for_padding_copies_the_data_once():
    # the data's median above the padding is taken on one gathered copy, sorted in place
    # (np.median's own copy besides took 2.3 float32 copies of a plane, 1.4 now)
    import tracemalloc

    image = synthetic((1024, 1024), object_radius=(12, 20), seed=1).image.astype(np.float32)
    image[:, :100] = 0.0
    tracemalloc.start()
    try:
        found = padding_share(image)
        peak = tracemalloc.get_traced_memory()[1] / image.nbytes
    finally:
        tracemalloc.stop()
    assert found == (100 / 1024, 0.0)
    assert peak < 1.8


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.01, 0.9))
def test_filling_in_place_is_the_same_fill(seed, share):
    from bgsub._padding import fill_from_nearest

    rng = np.random.default_rng(seed)
    values = rng.normal(100.0, 10.0, tuple(int(n) for n in rng.integers(2, 40, 2)))
    invalid = rng.random(values.shape) < share
    invalid.flat[0] = False  # (at least one valid pixel)
    copied = fill_from_nearest(values, invalid)
    assert np.array_equal(fill_from_nearest(values.copy(), invalid, in_place=True), copied)
    assert np.array_equal(copied[~invalid], values[~invalid])


def test_an_image_with_holes_is_prepared_before_its_radius():
    # NaN pixels are filled for the estimate (a distance transform) and for the radius (a
    # float64 copy): the two side by side peaked at 9.6 float32 copies of a 2048x2048 image
    # with 10 % NaN; in turn, the fill in place: 4.1
    import tracemalloc

    rng = np.random.default_rng(0)
    image = synthetic((2048, 2048), object_radius=(5, 20), seed=1).image.astype(np.float32)
    image[tuple(rng.integers(0, 2048, (2, image.size // 10)))] = np.nan
    tracemalloc.start()
    try:
        bgsub.subtract_background(image, radius="auto")
        peak = tracemalloc.get_traced_memory()[1] / (image.size * 4)
    finally:
        tracemalloc.stop()
    assert peak < 6.0


def test_the_input_warnings_point_at_the_callers_line():
    """A warning's file and line are the user's call, not bgsub's inside (both checks)."""
    plane = synthetic((128, 128), object_radius=5, seed=2).image
    padded = plane.copy()
    padded[:, :40] = 0
    light = (plane.max() - plane).astype(plane.dtype)
    for image in (padded, light):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bgsub.subtract_background(image, radius=10)
        assert [Path(w.filename).name for w in caught
                if issubclass(w.category, bgsub.BackgroundWarning)] == [Path(__file__).name]
