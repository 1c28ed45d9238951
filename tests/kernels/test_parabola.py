"""Tests for bgsub.kernels.parabola (exact separable paraboloid morphology).

Reference: brute force over all pixel pairs in float64
(``min_q x[q] + sum_i c_i (p_i - q_i)^2``), on images of at most a few hundred pixels.

Tolerances: float64 ``rtol=1e-12, atol=1e-9``; float32 output must equal the
float64 reference rounded to float32 within one float32 ulp (plus 1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bgsub.kernels.parabola import paraboloid_dilation, paraboloid_erosion, paraboloid_opening


def brute_erosion(x, coeff):
    x = np.asarray(x, dtype=np.float64)
    coeff = np.broadcast_to(np.asarray(coeff, dtype=np.float64), (x.ndim,))
    pts = np.indices(x.shape).reshape(x.ndim, -1).T
    vals = x.ravel()
    out = np.empty(vals.size)
    for i, p in enumerate(pts):
        with np.errstate(all="ignore"):
            out[i] = np.min(vals + ((pts - p) ** 2 * coeff).sum(axis=1))
    return out.reshape(x.shape)


def brute_dilation(x, coeff):
    return -brute_erosion(-np.asarray(x, dtype=np.float64), coeff)


def assert_close(got, ref, dtype):
    assert got.dtype == dtype
    if dtype == np.float32:
        ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        np.testing.assert_array_less(np.abs(got.astype(np.float64) - ref), ulp + 1e-6)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "coeff"),
    [
        ((17,), 0.3),
        ((1,), 2.0),
        ((13, 19), (0.05, 2.0)),
        ((7, 1), 1.0),
        ((5, 6, 7), (0.5, 0.1, 3.0)),
        ((9, 11), 1e-4),  # nearly the global minimum everywhere
        ((9, 11), 1e4),  # nearly the identity
    ],
)
def test_matches_brute_force(shape, coeff, dtype):
    rng = np.random.default_rng(len(shape))
    x = (rng.normal(size=shape) * 20).astype(dtype)
    assert_close(paraboloid_erosion(x, coeff), brute_erosion(x, coeff), dtype)
    assert_close(paraboloid_dilation(x, coeff), brute_dilation(x, coeff), dtype)
    opened = brute_dilation(brute_erosion(x, coeff), coeff)
    assert_close(paraboloid_opening(x, coeff), opened, dtype)


def test_integer_ties():
    x = np.array([[2.0, 0.0, 2.0, 0.0], [0.0, 2.0, 0.0, 2.0], [4.0, 4.0, 4.0, 4.0]])
    for c in (0.5, 1.0, 2.0):
        np.testing.assert_array_equal(paraboloid_erosion(x, c), brute_erosion(x, c))


def test_infinities_and_huge_values_give_no_nan():
    x = np.array([np.inf, 3.0, np.inf, np.inf, 1e308, -1e308])
    got = paraboloid_erosion(x, 1.0)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got, brute_erosion(x, 1.0))
    assert np.all(paraboloid_erosion(np.full(5, np.inf), 1.0) == np.inf)
    y = np.array([[0.0, -np.inf, 1.0], [2.0, 3.0, 4.0]])
    assert np.all(paraboloid_erosion(y, 1.0) == -np.inf)
    z = np.array([1e308, -1e308, 1e308, 1e308])
    for c in (1e-300, 1.0, 1e300):
        for fn in (paraboloid_erosion, paraboloid_dilation, paraboloid_opening):
            assert not np.isnan(fn(z, c)).any()


def test_dtype_and_input_untouched():
    x = np.random.default_rng(0).random((6, 7)).astype(np.float32)
    before = x.copy()
    for fn in (paraboloid_erosion, paraboloid_dilation, paraboloid_opening):
        assert fn(x, 1.0).dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert paraboloid_erosion(np.zeros((0, 4)), 1.0).shape == (0, 4)


def test_invalid_arguments():
    with pytest.raises(TypeError):
        paraboloid_erosion(np.zeros(4, dtype=np.int64), 1.0)
    with pytest.raises(ValueError):
        paraboloid_erosion(np.zeros((4, 4)), (1.0,))
    with pytest.raises(ValueError):
        paraboloid_erosion(np.zeros(4), 0.0)
    with pytest.raises(ValueError):
        paraboloid_erosion(np.zeros(4), np.inf)


images = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7),
    elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)
coeffs = st.floats(1e-3, 1e2)


@settings(max_examples=60, deadline=None)
@given(x=images, c=coeffs)
def test_property_matches_brute_and_orders(x, c):
    ero = paraboloid_erosion(x, c)
    np.testing.assert_allclose(ero, brute_erosion(x, c), rtol=1e-12, atol=1e-8)
    assert np.all(ero <= x)
    assert np.all(paraboloid_dilation(x, c) >= x)


def test_a_near_tie_below_rounding_keeps_the_order():
    # found by hypothesis: the take-over point of the parabola from pixel 0 lands exactly on
    # pixel 1 because 1 - 1.6e-256 rounds to 1; the dilation must still not go below the input
    x = np.array([1.0, 1.569152e-256])
    assert np.all(paraboloid_dilation(x, 1.0) >= x)
    assert np.all(paraboloid_erosion(-x, 1.0) <= -x)


@settings(max_examples=60, deadline=None)
@given(x=images, c=coeffs)
def test_property_opening_below_and_idempotent(x, c):
    opened = paraboloid_opening(x, c)
    tol = 1e-9 * max(1.0, float(np.abs(x).max()))
    assert np.all(opened <= x + tol)
    np.testing.assert_allclose(paraboloid_opening(opened, c), opened, rtol=0, atol=tol)


@settings(max_examples=30, deadline=None)
@given(
    value=st.floats(-1e6, 1e6),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    c=coeffs,
)
def test_property_constant_unchanged(value, shape, c):
    x = np.full(shape, value)
    np.testing.assert_array_equal(paraboloid_opening(x, c), x)
