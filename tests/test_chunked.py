"""Dask arrays: lazy, chunked results equal to the in-memory NumPy results, value for value."""

from __future__ import annotations

import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import bgsub
from bgsub import chunked
from bgsub.data import synthetic

# (method, radius, options): small radii keep the reference kernels quick
CASES = [
    ("rolling_ball", 5, {}),
    ("rolling_ball", 4, {"envelope": True}),
    ("paraboloid", 2, {}),
    ("tophat", 4, {}),
    ("tophat", 3, {"footprint": "box", "dilation_radius": 5}),
    ("median", 3, {}),
    ("median", 2, {"footprint": "box"}),
    ("mean", 3, {}),
    ("gaussian", 3, {}),
    ("gaussian", 2, {"sigma": 1.5}),
    ("dog", 4, {"low_sigma": 1.0}),
]
IDS = [f"{m}-{r}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for m, r, o in CASES]
CHUNKS_2D = (17, 23)  # odd sizes that leave a ragged last chunk on 64 x 70


@pytest.fixture(scope="module")
def image_2d() -> np.ndarray:
    """64x70 uint16 blobs; 17x23 chunk boundaries cut through several of them."""
    return synthetic((64, 70), object_radius=(3, 6), seed=3).image


@pytest.fixture(scope="module")
def low_range_2d(image_2d) -> np.ndarray:
    """The same blobs in a value range of about 10, so the paraboloid's halo is finite."""
    return (image_2d // 200).astype(np.uint8)


@pytest.fixture(scope="module")
def stack_3d() -> np.ndarray:
    """12x40x44 uint16 stack."""
    return synthetic((12, 40, 44), object_radius=(2, 4), density=0.05, seed=4).image


def _input_for(method: str, image: np.ndarray, low_range: np.ndarray) -> np.ndarray:
    # the paraboloid's halo grows with the value range; keep it smaller than the image
    return low_range if method == "paraboloid" else image


def _assert_same(image, chunks, **kwargs):
    """The Dask result (foreground and background) equals the NumPy one exactly."""
    lazy = bgsub.subtract_background(da.from_array(image, chunks=chunks), return_background=True,
                                     **kwargs)
    assert all(isinstance(part, da.Array) for part in lazy)
    got_fg, got_bg = dask.compute(*lazy)
    want_fg, want_bg = bgsub.subtract_background(image, return_background=True, **kwargs)
    assert got_fg.dtype == want_fg.dtype and got_bg.dtype == want_bg.dtype
    assert_array_equal(got_fg, want_fg)
    assert_array_equal(got_bg, want_bg)
    return lazy


# --- every method, 2D --------------------------------------------------------------------------

@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
@pytest.mark.parametrize(("method", "radius", "options"), CASES, ids=IDS)
def test_every_method_2d_equals_numpy(image_2d, low_range_2d, method, radius, options, light):
    image = _input_for(method, image_2d, low_range_2d)
    fg, bg = _assert_same(image, CHUNKS_2D, method=method, radius=radius,
                          light_background=light, **options)
    assert fg.chunks == bg.chunks == da.from_array(image, chunks=CHUNKS_2D).chunks


def test_paraboloid_is_really_chunked(low_range_2d):
    depth = chunked.overlap_depth(da.from_array(low_range_2d, chunks=CHUNKS_2D), "paraboloid", 2)
    span = float(low_range_2d.max()) - float(low_range_2d.min())
    reach = 2 * (int(np.ceil(np.sqrt(span * 2 * 2))) + 1)
    assert depth == {0: reach, 1: reach}
    assert reach < 30  # several chunks per axis, not one


def test_paraboloid_wide_range_falls_back_to_whole_axes(image_2d):
    # a range of ~2000 grey levels gives a reach beyond the image: one chunk, still exact
    assert chunked.overlap_depth(da.from_array(image_2d, chunks=CHUNKS_2D), "paraboloid",
                                 4) == {0: 64, 1: 70}
    _assert_same(image_2d, CHUNKS_2D, method="paraboloid", radius=4)


@pytest.mark.parametrize("presmooth", ["median:1", "mean:2", "gaussian:1"])
@pytest.mark.parametrize(("method", "radius", "options"),
                         [CASES[0], CASES[2], CASES[4], CASES[8]], ids=[IDS[i] for i in
                                                                      (0, 2, 4, 8)])
def test_presmooth_adds_its_reach(image_2d, low_range_2d, method, radius, options, presmooth):
    image = _input_for(method, image_2d, low_range_2d)
    _assert_same(image, CHUNKS_2D, method=method, radius=radius, presmooth=presmooth, **options)


def test_too_small_halo_would_be_caught(image_2d, monkeypatch):
    """The test images do cut objects at chunk boundaries: one pixel less of halo shows."""
    full = chunked._depth
    monkeypatch.setattr(chunked, "_depth", lambda image, plan: {
        axis: h - 1 if axis in plan.layout.spatial else h
        for axis, h in full(image, plan).items()})
    lazy = bgsub.estimate_background(da.from_array(image_2d, chunks=CHUNKS_2D), "median", 3)
    assert not np.array_equal(lazy.compute(), bgsub.estimate_background(image_2d, "median", 3))


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
@pytest.mark.parametrize("method", ["imagej", "robust"])
def test_whole_plane_methods_equal_numpy(stack_3d, method, light):
    """ImageJ's whole command (its own rounding and light background) and the noise-aware
    fit run on whole planes: chunks that split a plane are merged, the result is exact."""
    image = stack_3d[:3]
    _assert_same(image, (1, 17, 23), method=method, radius=8, light_background=light,
                 offset=3.0, axes="ZYX")
    lazy = bgsub.subtract_background(da.from_array(image, chunks=(1, 17, 23)), method, 8)
    assert lazy.chunks == da.from_array(image, chunks=(1, 17, 23)).chunks


# --- stacks, 3D, other axes --------------------------------------------------------------------

@pytest.mark.parametrize("true_3d", [False, True], ids=["per-slice", "true-3d"])
@pytest.mark.parametrize(("method", "radius", "options"), CASES, ids=IDS)
def test_every_method_3d_equals_numpy(stack_3d, method, radius, options, true_3d):
    image = (stack_3d // 200).astype(np.uint8) if method == "paraboloid" else stack_3d
    radius = (1.5, 2, 2.5) if true_3d else min(radius, 3)
    _assert_same(image, (5, 11, 13), method=method, radius=radius, true_3d=true_3d, **options)


def test_per_slice_z_gets_no_overlap(stack_3d):
    lazy = da.from_array(stack_3d, chunks=(5, 11, 13))
    assert chunked.overlap_depth(lazy, "tophat", 3)[0] == 0
    assert chunked.overlap_depth(lazy, "tophat", 3, true_3d=True)[0] == 6


def test_anisotropic_spacing_3d(stack_3d):
    lazy = da.from_array(stack_3d, chunks=(5, 11, 13))
    depth = chunked.overlap_depth(lazy, "tophat", 4, true_3d=True, spacing=(2.0, 0.5, 0.5))
    assert depth == {0: 2, 1: 8, 2: 8}
    _assert_same(stack_3d, (5, 11, 13), method="tophat", radius=4, true_3d=True,
                 spacing=(2.0, 0.5, 0.5))


def test_time_and_channel_axes(stack_3d):
    image = stack_3d[:8].reshape(2, 4, 40, 44)
    _assert_same(image, (1, 3, 17, 13), method="median", radius=2, axes="TCYX")


def test_rgb_samples_axis(image_2d):
    rgb = np.stack([image_2d, image_2d[::-1], image_2d[:, ::-1]], axis=-1)
    _assert_same(rgb, (17, 23, 2), method="tophat", radius=3)  # axes guessed as YXS


# --- NaN, dtypes, halos larger than chunks -------------------------------------------------

@pytest.fixture(scope="module")
def with_nan(image_2d) -> np.ndarray:
    image = image_2d.astype(np.float32)
    image[5:9, 20:27] = np.nan      # across a chunk boundary
    image[30:40, 40:50] = np.nan
    image[0:17, 46:69] = np.nan     # a whole chunk (and a bit): far from any valid pixel
    image[60, 0] = np.inf
    image[63, 69] = -np.inf
    return image


@pytest.mark.parametrize(("method", "radius", "options"),
                         [CASES[0], CASES[3], CASES[5], CASES[8], CASES[10]],
                         ids=[IDS[i] for i in (0, 3, 5, 8, 10)])
def test_nan_and_inf_equal_numpy(with_nan, method, radius, options):
    _assert_same(with_nan, CHUNKS_2D, method=method, radius=radius, **options)
    _assert_same(with_nan, CHUNKS_2D, method=method, radius=radius, light_background=True,
                 presmooth="median:1", **options)


def test_nan_paraboloid_and_all_nan_plane(low_range_2d):
    stack = np.stack([low_range_2d, low_range_2d[::-1]]).astype(np.float64)
    stack[0, 10:20, 10:30] = np.nan
    stack[1] = np.nan
    lazy = _assert_same(stack, (1, 17, 23), method="paraboloid", radius=2, axes="TYX")
    assert np.isnan(lazy[1].compute()[1]).all()


def test_fill_nan_local_skips_the_whole_plane_fill(image_2d, monkeypatch):
    def whole_plane_fill(*args):
        raise AssertionError("fill_nan='local' must not fill whole planes")

    monkeypatch.setattr(chunked, "_filled", whole_plane_fill)
    image = image_2d.astype(np.float32)
    lazy = bgsub.estimate_background(da.from_array(image, chunks=CHUNKS_2D), "tophat", 3,
                                     fill_nan="local")
    assert_array_equal(lazy.compute(), bgsub.estimate_background(image, "tophat", 3))


def test_output_dtype_and_offset(image_2d):
    wide = image_2d.astype(np.int32) - 600
    _assert_same(wide, CHUNKS_2D, method="rolling_ball", radius=4, offset=100)
    _assert_same(wide, CHUNKS_2D, method="gaussian", radius=2, output_dtype="float")
    _assert_same(image_2d.astype(np.float16), CHUNKS_2D, method="mean", radius=2)


def test_halo_larger_than_chunks_is_rechunked(image_2d):
    lazy = _assert_same(image_2d, (5, 7), method="tophat", radius=6, footprint="box")
    assert lazy[0].chunks == da.from_array(image_2d, chunks=(5, 7)).chunks
    assert chunked._merge_small((5,) * 12 + (4,), 12) == (15, 15, 15, 19)


def test_estimate_background_equals_numpy(image_2d):
    lazy = bgsub.estimate_background(da.from_array(image_2d, chunks=CHUNKS_2D), "rolling_ball",
                                     4, light_background=True)
    assert_array_equal(lazy.compute(), bgsub.estimate_background(image_2d, "rolling_ball", 4,
                                                                 light_background=True))


# --- laziness, schedulers, errors -------------------------------------------------------------

def test_nothing_is_computed_until_asked(image_2d):
    reads = []

    def record(block):
        reads.append(block.shape)
        return block

    source = da.from_array(image_2d, chunks=CHUNKS_2D).map_blocks(
        record, meta=np.empty((0, 0), dtype=image_2d.dtype))
    lazy = bgsub.subtract_background(source, "tophat", 3)
    assert reads == []
    assert lazy.compute().shape == image_2d.shape and reads


def test_distributed_client_equals_threads(with_nan, low_range_2d):
    distributed = pytest.importorskip("distributed")
    inputs = [
        (da.from_array(with_nan, chunks=CHUNKS_2D), dict(method="median", radius=3)),
        (da.from_array(low_range_2d, chunks=CHUNKS_2D), dict(method="paraboloid", radius=2)),
    ]
    threaded = [bgsub.subtract_background(x, **kw).compute(scheduler="threads")
                for x, kw in inputs]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            clustered = [bgsub.subtract_background(x, **kw).compute() for x, kw in inputs]
    for got, want in zip(clustered, threaded, strict=True):
        assert_array_equal(got, want)


def test_import_does_not_load_dask():
    code = "import sys, bgsub; sys.exit('dask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_numpy_input_still_gives_numpy(image_2d):
    assert isinstance(bgsub.subtract_background(image_2d, "tophat", 3), np.ndarray)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda x: x[x[:, 0] > 0], ValueError, "compute_chunk_sizes"),
        (lambda x: x > 0, TypeError, "boolean"),
        (lambda x: x[0], ValueError, "at least 2 dimensions"),
    ],
)
def test_bad_dask_input_gets_a_clear_error(image_2d, make, error, message):
    with pytest.raises(error, match=message):
        bgsub.subtract_background(make(da.from_array(image_2d, chunks=CHUNKS_2D)), "tophat", 3)


def test_bad_fill_nan(image_2d):
    with pytest.raises(ValueError, match="fill_nan"):
        chunked.subtract_background(da.from_array(image_2d), "tophat", 3, fill_nan="zero")


# --- halo rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "radius", "options", "expected"),
    [
        ("rolling_ball", 5, {}, 5),
        ("rolling_ball", 4.5, {"envelope": True}, 10),
        ("tophat", 4, {}, 8),
        ("tophat", 3, {"dilation_radius": 5.5}, 9),
        ("median", 3, {}, 3),
        ("mean", 2.5, {}, 3),
        ("gaussian", 3, {}, 12),
        ("gaussian", 3, {"sigma": 2}, 8),
        ("dog", 4, {"low_sigma": 1.0}, 16),
        ("dog", 4, {"high_sigma": 2.0}, 8),
        ("tophat", 4, {"presmooth": "gaussian:1"}, 12),
        ("median", 3, {"presmooth": "median:2"}, 5),
    ],
)
def test_overlap_depth_rules(method, radius, options, expected):
    image = da.zeros((64, 70), dtype=np.uint16, chunks=CHUNKS_2D)
    assert chunked.overlap_depth(image, method, radius, **options) == {0: expected,
                                                                       1: expected}


def test_overlap_depth_takes_subtract_backgrounds_keywords():
    # (light_background: an internal TypeError, "got multiple values for keyword argument")
    image = da.zeros((64, 70), dtype=np.uint16, chunks=CHUNKS_2D)
    assert chunked.overlap_depth(image, "tophat", 4, light_background=True) == {0: 8, 1: 8}


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64, np.uint16])
@pytest.mark.parametrize("kwargs", [{"method": "mean", "footprint": "box"},
                                    {"method": "gaussian", "presmooth": "mean:1"}])
def test_a_running_sum_of_wide_integers_equals_numpy_bit_for_bit(dtype, kwargs):
    # (32- and 64-bit integers are summed as float64 means: split into chunks, they differed
    # by up to 4.5e-13 on a third of the pixels)
    image = np.random.default_rng(0).integers(0, 1000, (40, 50)).astype(dtype)
    expected = bgsub.estimate_background(image, radius=3, **kwargs)
    lazy = bgsub.estimate_background(da.from_array(image, chunks=(9, 11)), radius=3, **kwargs)
    np.testing.assert_array_equal(lazy.compute(), expected)


# --- any chunking ---------------------------------------------------------------------------

HYPOTHESIS_IMAGE = synthetic((40, 44), object_radius=(2, 4), seed=5).image


@settings(max_examples=20)
@given(rows=st.integers(3, 40), cols=st.integers(3, 44),
       case=st.sampled_from([("tophat", 2, {"footprint": "box"}), ("gaussian", 1.5, {})]))
def test_any_chunk_sizes_equal_numpy(rows, cols, case):
    method, radius, options = case
    _assert_same(HYPOTHESIS_IMAGE, (rows, cols), method=method, radius=radius, **options)
