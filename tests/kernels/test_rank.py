"""Median and mean filters against scipy.ndimage (median exact, mean within rounding).

Mean tolerance: float64 results within ``1e-12 * max(1, max|image|)`` of scipy's
``correlate``; float32 results within float32 rounding, ``2**-23 * max(1, max|image|)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from bgsub.kernels import flat
from bgsub.kernels.flat import SUPPORTED_DTYPES, flat_dilation, flat_erosion, footprint_array
from bgsub.kernels.rank import mean_filter, median_filter, rank_transform
from bgsub.kernels.threads import limit_threads

DTYPES = [d.type for d in SUPPORTED_DTYPES]


def random_image(shape: tuple[int, ...], dtype: type, seed: int = 0) -> np.ndarray:
    """Random image with many ties (small ints) or full-range values (wide types)."""
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    if kind == "f":
        img = rng.normal(scale=100.0, size=shape).astype(dtype)
        img.flat[::7] = 0.0
        img.flat[::11] = -0.0
        return img
    info = np.iinfo(dtype)
    img = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    img.flat[::3] = rng.integers(info.min, info.min + 5, size=img.flat[::3].shape)
    return img


def scipy_median(img: np.ndarray, radius, shape: str) -> np.ndarray:
    fp = footprint_array(radius, shape, ndim=img.ndim)
    return ndi.median_filter(img, footprint=fp, mode="reflect")


def scipy_mean(img: np.ndarray, radius, shape: str) -> np.ndarray:
    fp = footprint_array(radius, shape, ndim=img.ndim).astype(np.float64)
    return ndi.correlate(img.astype(np.float64), fp / fp.sum(), mode="reflect")


def assert_mean_close(got: np.ndarray, img: np.ndarray, radius, shape: str) -> None:
    ref = scipy_mean(img, radius, shape)
    scale = max(1.0, float(np.abs(img.astype(np.float64)).max(initial=0.0)))
    tol = 1e-12 if got.dtype == np.float64 else 2.0**-23
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * scale)


# ---------------------------------------------------------------------------
# Rank transform
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_rank_transform_roundtrip(dtype: type) -> None:
    img = random_image((17, 23), dtype)
    ranks, values = rank_transform(img)
    np.testing.assert_array_equal(values[ranks], img)
    assert np.all(np.diff(values) > 0)
    assert ranks.max() == values.size - 1
    # order preserving
    order = np.argsort(img, axis=None, kind="stable")
    assert np.all(np.diff(ranks.ravel()[order].astype(np.int64)) >= 0)


def test_rank_transform_wide_range_and_many_values() -> None:
    img = np.array([[-(2**31), 2**31 - 1], [0, 5]], dtype=np.int32)
    ranks, values = rank_transform(img)
    np.testing.assert_array_equal(values[ranks], img)
    many = np.arange(70_000, dtype=np.float32)[::-1].reshape(350, 200)
    ranks, values = rank_transform(many)
    assert ranks.dtype == np.int32
    np.testing.assert_array_equal(values[ranks], many)


# ---------------------------------------------------------------------------
# Median
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize("r", [1, 2, 5])
def test_median_2d_equals_scipy(dtype: type, shape: str, r: int) -> None:
    img = random_image((29, 41), dtype, seed=r)
    got = median_filter(img, r, shape)
    assert got.dtype == img.dtype
    np.testing.assert_array_equal(got, scipy_median(img, r, shape))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_median_2d_larger_radius(dtype: type) -> None:
    img = random_image((64, 75), dtype, seed=11)
    np.testing.assert_array_equal(median_filter(img, 12), scipy_median(img, 12, "disk"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_median_3d_equals_scipy(dtype: type, shape: str) -> None:
    img = random_image((7, 12, 15), dtype, seed=4)
    for radius in (1, (1, 2, 2), (2, 1, 3)):
        np.testing.assert_array_equal(
            median_filter(img, radius, shape), scipy_median(img, radius, shape)
        )


@pytest.mark.parametrize(
    "radius", [(1, 4), (4, 1), (0, 3), (3, 0), (2.5, 1.5), (0, 0), (0, 2, 2), (1.5, 0, 2)]
)
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_median_anisotropic(radius: tuple[float, ...], shape: str) -> None:
    img = random_image((6, 21, 18)[-len(radius) :], np.uint16, seed=6)
    np.testing.assert_array_equal(
        median_filter(img, radius, shape), scipy_median(img, radius, shape)
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize("img_shape", [(1, 1), (1, 7), (6, 1), (4, 5), (9, 3)])
def test_median_radius_larger_than_image(dtype: type, shape: str, img_shape) -> None:
    # padding wider than the image: reflected repeatedly, as scipy does
    img = random_image(img_shape, dtype, seed=8)
    for r in (4, 9):
        np.testing.assert_array_equal(median_filter(img, r, shape), scipy_median(img, r, shape))


def test_median_many_distinct_values() -> None:
    """More than 65536 distinct values: coarse histogram and super-block steps in use."""
    rng = np.random.default_rng(1)
    img = rng.normal(size=(20, 64, 70))
    img[:, :, 35:] += 1e6  # a big jump in rank space
    for radius in ((1, 1, 1), (1, 2, 3)):
        np.testing.assert_array_equal(median_filter(img, radius), scipy_median(img, radius, "disk"))


def test_median_step_edges_uint16() -> None:
    """Large jumps of the median (coarse-block steps) in both directions."""
    img = np.zeros((40, 90), np.uint16)
    img[:, 30:60] = 65535
    img[10:20] = 40000
    img ^= np.random.default_rng(2).integers(0, 8, img.shape, dtype=np.uint16)
    np.testing.assert_array_equal(median_filter(img, 6), scipy_median(img, 6, "disk"))


def test_empty_images() -> None:
    img = np.zeros((0, 7), np.uint16)
    assert median_filter(img, 2).shape == (0, 7)
    assert mean_filter(img, 2).dtype == np.float32


def test_median_input_layouts_and_errors() -> None:
    img = random_image((30, 40), np.uint16, seed=3)
    ref = scipy_median(img, 3, "disk")
    np.testing.assert_array_equal(median_filter(np.asfortranarray(img), 3), ref)
    np.testing.assert_array_equal(median_filter(img.astype(">u2"), 3), ref)
    with pytest.raises(ValueError):
        median_filter(img, 3, shape="ring")
    with pytest.raises(TypeError):
        median_filter(img.astype(np.int64), 3)


# ---------------------------------------------------------------------------
# Mean
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize("r", [1, 4, 11])
def test_mean_2d_close_to_scipy(dtype: type, shape: str, r: int) -> None:
    img = random_image((31, 44), dtype, seed=r)
    got = mean_filter(img, r, shape)
    assert got.dtype == (np.float64 if dtype is np.float64 else np.float32)
    assert got.shape == img.shape
    assert_mean_close(got, img, r, shape)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float64])
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize(
    "radius", [1, (1, 2, 3), (2, 0, 1), (0, 3, 3), (2.5, 1.5, 1.5), 9, (3, 5), (5, 0)]
)
def test_mean_nd_and_anisotropic(dtype: type, shape: str, radius) -> None:
    ndim = 2 if isinstance(radius, tuple) and len(radius) == 2 else 3
    img = random_image((5, 9, 13)[-ndim:], dtype, seed=9)
    assert_mean_close(mean_filter(img, radius, shape), img, radius, shape)


@pytest.mark.parametrize(
    ("shape", "radius"),
    [((64, 57), 1), ((64, 57), 2), ((7, 30, 41), 1), ((7, 30, 41), (0, 1, 3)),
     ((3, 40), 2), ((2, 9, 9), 1)],
)
def test_mean_box_bits_equal_scipy_uniform_filter(shape, radius) -> None:
    """The box mean is SciPy's moving sum bit for bit (outer axes run it on whole planes;
    an axis shorter than the box, here 3 < 5 and 2 < 3, falls back to SciPy)."""
    rng = np.random.default_rng(3)
    for img in (rng.gamma(2.0, 300.0, shape), rng.normal(0.0, 1e6, shape)):
        size = [2 * int(r) + 1 for r in np.broadcast_to(radius, (len(shape),))]
        expected = ndi.uniform_filter(img, size, mode="reflect")
        np.testing.assert_array_equal(mean_filter(img, radius, "box"), expected)


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
@pytest.mark.parametrize("threads", [1, 3])
def test_mean_box_bits_equal_scipy_for_every_dtype(
    dtype: np.dtype, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled moving sums convert each value exactly and round the last pass as
    ``astype`` does: SciPy's float64 result bit for bit, in 2D and 3D, for windows from 3
    up to the axis length, with more columns than one block of the outer pass (512)."""
    monkeypatch.setattr(flat, "_MIN_WORK_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", "3")
    out_dtype = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    cases = [((9, 1100), (4, 1)), ((31, 40), (2, 3)), ((4, 11, 13), (1, 5, 6)),
             ((3, 7, 5), (1, 3, 2)), ((40, 7), (19, 3))]
    with limit_threads(threads):
        for seed, (shape, radius) in enumerate(cases):
            img = random_image(shape, dtype, seed=40 + seed)
            size = [2 * r + 1 for r in radius]
            expected = ndi.uniform_filter(img.astype(np.float64), size, mode="reflect")
            np.testing.assert_array_equal(mean_filter(img, radius, "box"),
                                          expected.astype(out_dtype))


def test_mean_integer_sums_are_exact() -> None:
    img = np.full((20, 20), 2**32 - 1, dtype=np.uint32)
    assert (mean_filter(img, 7) == np.float32(2**32 - 1)).all()
    img = np.arange(400, dtype=np.int32).reshape(20, 20) - 200
    fp = footprint_array(3, ndim=2)
    padded = np.pad(img.astype(np.int64), 3, mode="symmetric")
    exact = np.array(
        [
            [(padded[y : y + 7, x : x + 7] * fp).sum() / fp.sum() for x in range(20)]
            for y in range(20)
        ]
    )
    np.testing.assert_array_equal(mean_filter(img.astype(np.float64), 3), exact)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

images = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(
        dt,
        hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=10),
        # |x| <= 1e100: the float prefix sums of mean_filter must not overflow
        elements=hnp.from_dtype(
            np.dtype(dt), allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100
        )
        if np.dtype(dt) == np.float64
        else hnp.from_dtype(np.dtype(dt), allow_nan=False, allow_infinity=False)
        if np.dtype(dt).kind == "f"
        else None,
    )
)
radii = st.floats(min_value=0, max_value=4, allow_nan=False)
shapes = st.sampled_from(["disk", "box"])
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


scalars = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.from_dtype(np.dtype(dt), allow_nan=False, allow_infinity=True)
)


@PROPS
@given(value=scalars, side=st.integers(1, 12), r=radii, shape=shapes)
def test_property_median_of_constant(value: np.generic, side: int, r: float, shape: str):
    img = np.full((side, side + 3), value, dtype=value.dtype)
    np.testing.assert_array_equal(median_filter(img, r, shape), img)


@PROPS
@given(img=images, r=radii, shape=shapes)
def test_property_median_within_window_range(img: np.ndarray, r: float, shape: str) -> None:
    # reflected pixels lie inside the footprint, so the ignore-boundary min/max bound it
    med = median_filter(img, r, shape)
    assert (flat_erosion(img, r, shape) <= med).all()
    assert (med <= flat_dilation(img, r, shape)).all()
    np.testing.assert_array_equal(med, scipy_median(img, r, shape))


@PROPS
@given(img=images, r=radii, shape=shapes)
def test_property_mean_within_window_range(img: np.ndarray, r: float, shape: str) -> None:
    mean = mean_filter(img, r, shape).astype(np.float64)
    lo = flat_erosion(img, r, shape).astype(np.float64)
    hi = flat_dilation(img, r, shape).astype(np.float64)
    slack = 1e-6 * np.maximum(1.0, np.abs(img.astype(np.float64)).max())
    assert (lo - slack <= mean).all()
    assert (mean <= hi + slack).all()


@pytest.mark.parametrize("shape", ["disk", "box"])
def test_multithreaded_equals_scipy(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small jobs run single-threaded; force every thread on a mid-size image."""
    monkeypatch.setattr(flat, "_MIN_WORK_PER_THREAD", 1)
    img2 = random_image((151, 173), np.uint16, seed=21)
    img3 = random_image((9, 30, 27), np.float32, seed=22)
    for img, r in ((img2, 7), (img3, (1, 3, 3))):
        np.testing.assert_array_equal(median_filter(img, r, shape), scipy_median(img, r, shape))
        assert_mean_close(mean_filter(img, r, shape), img, r, shape)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_thread_count_equals_scipy(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled loops give the same result on any number of threads (tiles, rows)."""
    monkeypatch.setattr(flat, "_MIN_WORK_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", "3")
    img2 = random_image((67, 45), np.uint16, seed=31)
    img3 = random_image((5, 19, 23), np.float64, seed=32)
    with limit_threads(threads):
        for img, r in ((img2, 5), (img3, (1, 2, 2))):
            np.testing.assert_array_equal(median_filter(img, r), scipy_median(img, r, "disk"))
            assert_mean_close(mean_filter(img, r), img, r, "disk")
