"""SciPy's Gaussian filters compiled (`bgsub.kernels.gaussian.direct_*`): the same values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from bgsub.kernels import gaussian
from bgsub.kernels.gaussian import direct_gaussian_filter as gaussian_filter
from bgsub.kernels.gaussian import direct_gaussian_filter1d as gaussian_filter1d


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


@settings(max_examples=300, deadline=None)
@given(
    n0=st.integers(1, 70), n1=st.integers(1, 70),
    s0=st.floats(0.0, 25.0), s1=st.floats(0.0, 25.0),
    mode=st.sampled_from(["nearest", "reflect"]), scale=st.floats(-3, 6),
    integer=st.booleans(), seed=st.integers(0, 2**16),
)
def test_plane_equals_scipy_bit_for_bit(n0, n1, s0, s1, mode, scale, integer, seed) -> None:
    """Any sigma per axis (0: that axis left alone; kernels far longer than the line: the
    boundary rule repeated), either mode, any magnitude, integer-valued data with ties."""
    values = np.random.default_rng(seed).normal(0.0, 10.0**scale, (n0, n1))
    if integer:
        values = np.round(values)
    want = ndi.gaussian_filter(values, (s0, s1), mode=mode)
    assert _same(gaussian_filter(values, (s0, s1), mode=mode), want)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 500), sigma=st.floats(0.01, 600.0),
       mode=st.sampled_from(["constant", "nearest", "reflect"]), seed=st.integers(0, 2**16))
def test_line_equals_scipy_bit_for_bit(n, sigma, mode, seed) -> None:
    """1D (a histogram's counts smoothed in the constant mode: ``robust``'s mode finder)."""
    counts = np.random.default_rng(seed).poisson(5.0, n).astype(np.float64)
    want = ndi.gaussian_filter1d(counts, sigma, mode=mode)
    assert _same(gaussian_filter1d(counts, sigma, mode=mode), want)
    assert _same(gaussian_filter(counts, sigma, mode=mode), ndi.gaussian_filter(counts, sigma,
                                                                                  mode=mode))


@pytest.mark.parametrize("shape", [(410, 410), (128, 131), (3, 517)])
@pytest.mark.parametrize("sigma", [(1.0, 1.0), (11.9, 11.9), (0.5, 6.0), (3.0, 0.0)])
def test_block_grid_sizes_on_any_number_of_threads(shape, sigma, monkeypatch) -> None:
    """`robust`'s grid sizes and sigmas (blocks of 32 and 8 outputs, the rest one by one),
    rows split over threads: the same bits."""
    values = np.random.default_rng(3).gamma(2.0, 50.0, shape)
    want = ndi.gaussian_filter(values, sigma, mode="nearest")
    assert _same(gaussian_filter(values, sigma, mode="nearest"), want)
    monkeypatch.setattr(gaussian, "_TAPS_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", "3")
    assert _same(gaussian_filter(values, sigma, mode="nearest"), want)


def test_special_values_propagate_as_in_scipy() -> None:
    values = np.random.default_rng(4).normal(size=(40, 40))
    values[5, 7], values[20, 30], values[33, 2], values[0, 0] = np.nan, np.inf, -np.inf, -0.0
    for mode in ("nearest", "reflect"):
        assert np.array_equal(gaussian_filter(values, 2.0, mode=mode),
                              ndi.gaussian_filter(values, 2.0, mode=mode), equal_nan=True)


@pytest.mark.parametrize("case", ["float32", "3d", "mirror", "cval", "order", "view"])
def test_everything_else_is_scipys(case) -> None:
    """Other dtypes, dimensions, modes, ``cval`` and orders go to SciPy; a non-contiguous view
    is filtered as its values are."""
    rng = np.random.default_rng(5)
    values, kwargs = rng.normal(size=(30, 40)), {"mode": "nearest"}
    if case == "float32":
        values = values.astype(np.float32)
    elif case == "3d":
        values = rng.normal(size=(4, 20, 30))
    elif case == "mirror":
        kwargs = {"mode": "mirror"}
    elif case == "cval":
        kwargs = {"mode": "constant", "cval": 2.0}
    elif case == "order":
        kwargs = {"mode": "nearest", "order": 1}
    else:
        values = rng.normal(size=(60, 80))[::2, 1::2]
    want = ndi.gaussian_filter(values, 1.5, **kwargs)
    assert _same(gaussian_filter(values, 1.5, **kwargs), want)


def test_constant_mode_along_rows_of_a_plane_is_scipys() -> None:
    values = np.random.default_rng(6).normal(size=(20, 30))
    for sigma in (2.0, (2.0, 0.0), (0.0, 2.0)):
        assert _same(gaussian_filter(values, sigma, mode="constant"),
                     ndi.gaussian_filter(values, sigma, mode="constant"))



@settings(max_examples=200, deadline=None)
@given(
    n0=st.integers(1, 70), n1=st.integers(1, 70),
    s0=st.floats(0.0, 25.0), s1=st.floats(0.0, 25.0),
    mode=st.sampled_from(["nearest", "reflect", "constant"]), scale=st.floats(-3, 6),
    seed=st.integers(0, 2**16),
)
def test_a_float32_plane_in_double_equals_its_float64_copys_filter_cast(
        n0, n1, s0, s1, mode, scale, seed) -> None:
    """The float32 path reads the plane as doubles and rounds each row once: the values of
    SciPy's filter of the float64 copy, cast to float32, bit for bit (and not SciPy's filter
    of the float32 plane, which rounds between the axes)."""
    values = np.random.default_rng(seed).normal(0.0, 10.0**scale, (n0, n1)).astype(np.float32)
    want = ndi.gaussian_filter(values.astype(np.float64), (s0, s1), mode=mode)
    got = gaussian.gaussian_filter_in_double(values, (s0, s1), mode=mode)
    assert _same(got, want.astype(np.float32))


def test_other_inputs_in_double_are_their_float64_copys_filter_cast() -> None:
    volume = np.random.default_rng(1).random((3, 9, 11)).astype(np.float32)
    want = ndi.gaussian_filter(volume.astype(np.float64), 1.2).astype(np.float32)
    assert _same(gaussian.gaussian_filter_in_double(volume, 1.2), want)
    plane = np.random.default_rng(2).random((9, 11))
    assert _same(gaussian.gaussian_filter_in_double(plane, 1.2), ndi.gaussian_filter(plane, 1.2))
