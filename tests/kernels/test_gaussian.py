"""Tests for bgsub.kernels.gaussian (scipy-equal Gaussian filter with an FFT path).

Reference: ``scipy.ndimage.gaussian_filter(x_as_float64, sigma, mode='reflect',
truncate=truncate)``.

Tolerance: ``atol = 1e-5 * ptp(x)`` (1e-5 relative to the value range, as
specified) plus the output rounding: ``1e-12 * max|x|`` for float64 and one
float32 ulp of the value for float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from bgsub.kernels import gaussian
from bgsub.kernels.gaussian import gaussian_filter, gaussian_kernel1d, reflect_indices


def assert_matches_scipy(x, sigma, truncate=4.0):
    ref = ndi.gaussian_filter(x.astype(np.float64), sigma, mode="reflect", truncate=truncate)
    got = gaussian_filter(x, sigma, truncate=truncate)
    assert got.dtype == (x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    assert got.shape == x.shape
    scale = float(np.abs(x).max()) if x.size else 0.0
    tol = 1e-5 * float(np.ptp(x)) if x.size else 0.0
    if got.dtype == np.float32:
        tol = tol + np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    else:
        tol = tol + 1e-12 * scale
    np.testing.assert_array_less(np.abs(got.astype(np.float64) - ref), tol + 1e-300)


@pytest.fixture(params=["auto", "fft"])
def path(request, monkeypatch):
    """Run with the default crossover and with the FFT path forced on every axis."""
    if request.param == "fft":
        monkeypatch.setattr(gaussian, "FFT_MIN_RADIUS", 0)
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "sigma"),
    [
        ((101,), 3.0),
        ((64, 77), 12.0),
        ((64, 77), (15.0, 0.0)),  # no smoothing along axis 1
        ((64, 77), (0.0, 20.5)),
        ((33, 40), 60.0),  # kernel much longer than the image: repeated reflection
        ((1, 5), 30.0),
        ((2, 3), 7.0),
        ((9, 10, 11), (2.0, 15.0, 40.0)),
        ((50, 60), 0.7),
    ],
)
def test_matches_scipy(shape, sigma, dtype, path):
    x = np.random.default_rng(1).normal(500.0, 100.0, size=shape).astype(dtype)
    assert_matches_scipy(x, sigma)


@pytest.mark.parametrize("truncate", [1.0, 2.5, 4.0, 6.0])
def test_truncate(truncate, path):
    x = np.random.default_rng(2).random((40, 45))
    assert_matches_scipy(x, (11.0, 17.0), truncate=truncate)


def test_large_sigma_uses_fft_and_matches():
    x = np.random.default_rng(3).random((48, 300)) * 1000 + 1e4  # offset: precision check
    radius = int(4.0 * 30.0 + 0.5)
    assert radius >= gaussian.FFT_MIN_RADIUS
    assert_matches_scipy(x, 30.0)


def test_sigma_zero_is_a_copy():
    x = np.arange(12.0).reshape(3, 4)
    out = gaussian_filter(x, 0.0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_integer_input_gives_float64():
    x = np.arange(60, dtype=np.uint16).reshape(6, 10)
    assert_matches_scipy(x, 30.0)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@pytest.mark.parametrize("pad", [0, 1, 5, 23])
def test_reflect_indices_match_scipy_extension(n, pad):
    """A one-hot correlation weight reads scipy's own boundary extension."""
    x = np.arange(1.0, n + 1.0)
    idx = reflect_indices(n, pad, pad)
    extended = x[idx]
    for shift in range(-pad, pad + 1):
        w = np.zeros(2 * pad + 1)
        w[pad + shift] = 1.0
        got = ndi.correlate1d(x, w, mode="reflect")
        np.testing.assert_array_equal(got, extended[pad + shift : pad + shift + n])


def test_reflect_indices_match_numpy_symmetric_pad():
    x = np.arange(5)
    np.testing.assert_array_equal(x[reflect_indices(5, 3, 4)], np.pad(x, (3, 4), "symmetric"))


def test_kernel_is_scipy_kernel():
    for sigma, radius in [(1.0, 4), (7.3, 29), (50.0, 200)]:
        k = gaussian_kernel1d(sigma, radius)
        delta = np.zeros(2 * radius + 1)
        delta[radius] = 1.0
        ref = ndi.gaussian_filter1d(delta, sigma, radius=radius, mode="constant")
        np.testing.assert_allclose(k, ref, rtol=1e-12, atol=1e-17)


def test_invalid_sigma():
    with pytest.raises(ValueError):
        gaussian_filter(np.zeros((4, 4)), (1.0,))
    with pytest.raises(ValueError):
        gaussian_filter(np.zeros((4, 4)), -1.0)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=30),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    ),
    sigma=st.floats(0.0, 40.0),
    truncate=st.floats(0.5, 5.0),
    force_fft=st.booleans(),
)
def test_property_matches_scipy(x, sigma, truncate, force_fft):
    old = gaussian.FFT_MIN_RADIUS
    gaussian.FFT_MIN_RADIUS = 0 if force_fft else old
    try:
        assert_matches_scipy(x, sigma, truncate=truncate)
    finally:
        gaussian.FFT_MIN_RADIUS = old
