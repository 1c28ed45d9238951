"""The compiled kernels of the ImageJ port against plain NumPy definitions.

The port as a whole is checked against ImageJ itself (``test_imagej_fidelity.py``); these
tests pin the kernels one by one to straightforward NumPy statements of what ImageJ
computes (float32 arithmetic in the same order), and check that the thread count never
changes a bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels.imagej import filter3x3, roll_ball, shrink_image, sliding_paraboloid
from bgsub.methods.imagej import imagej_subtract

THIRD = np.float32(0.33333334)  # Java's 0.33333334f


def _line_filter(a: np.ndarray, axis: int, maximum: bool, v154: bool):
    """ImageJ's 3-point filter along ``axis`` (edges replicated) and each pixel's increase."""
    a = np.moveaxis(a, axis, -1)
    padded = np.concatenate([a[..., :1], a, a[..., -1:]], axis=-1)
    v1, v2, v3 = padded[..., :-2], padded[..., 1:-1], padded[..., 2:]
    if maximum:
        if v154:  # a NaN neighbour is skipped; a NaN pixel stays NaN
            mx = np.where((v1 > v3) | np.isnan(v3), v1, v3)
            mx = np.where((v2 > mx) | np.isnan(mx), v2, mx)
        else:
            mx = np.where(v1 > v3, v1, v3)
            mx = np.where(v2 > mx, v2, mx)
        out, shift = mx, mx - v2
    else:
        out = ((v1 + v2) + v3) * THIRD
        if v154:
            out = np.where(np.isnan(out), v2, out)
        shift = np.zeros_like(out)
    return np.moveaxis(out, -1, axis), np.moveaxis(shift, -1, axis)


def _filter3x3_reference(a: np.ndarray, maximum: bool, v154: bool):
    rows, row_shift = _line_filter(a, 1, maximum, v154)
    out, col_shift = _line_filter(rows, 0, maximum, v154)
    shifts = np.concatenate([row_shift.ravel(), col_shift.ravel()]).astype(np.float64)
    if v154:
        finite = shifts[~np.isnan(shifts)]
        mean = finite.sum() / finite.size if finite.size else np.nan
    else:
        mean = shifts.sum() / a.shape[1] / a.shape[0]
    return out, mean


@pytest.mark.parametrize("v154", [False, True])
@pytest.mark.parametrize("maximum", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (37, 130), (130, 37)])
def test_filter3x3_matches_numpy(shape, maximum, v154):
    rng = np.random.default_rng(sum(shape))
    plane = (rng.normal(0, 100, shape) + 1000).astype(np.float32)
    if v154:
        plane[rng.random(shape) < 0.1] = np.nan
    expected, expected_mean = _filter3x3_reference(plane, maximum, v154)
    result = plane.copy()
    mean = filter3x3(result, maximum=maximum, v154=v154)
    np.testing.assert_array_equal(result, expected)
    if maximum:  # the same terms; the reference sums them in another order
        np.testing.assert_allclose(mean, expected_mean, rtol=1e-9)


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (17, 33), (64, 64)])
def test_shrink_image_is_the_block_minimum(shape, factor):
    plane = np.random.default_rng(factor).random(shape, dtype=np.float32)
    h, w = -(-shape[0] // factor) * factor, -(-shape[1] // factor) * factor
    padded = np.full((h, w), np.inf, np.float32)
    padded[: shape[0], : shape[1]] = plane
    expected = padded.reshape(h // factor, factor, w // factor, factor).min(axis=(1, 3))
    np.testing.assert_array_equal(shrink_image(plane, factor), expected)


def _roll_ball_reference(plane: np.ndarray, ball: np.ndarray) -> np.ndarray:
    """ImageJ's rollBall, literally: for every ball centre (the image extended by the ball's
    radius), z = min(pixel - ball) over the image pixels under the ball (NaN ignored), then
    the background is max(z + ball) over the centres whose ball covers a pixel."""
    h, w = plane.shape
    size = ball.shape[0]
    r2 = size - 1  # twice the ball's radius
    valid = np.pad(~np.isnan(plane), r2, constant_values=False)
    pixels = np.pad(np.nan_to_num(plane), r2)
    z = np.full((h + r2, w + r2), np.finfo(np.float32).max, np.float32)
    for cy in range(h + r2):
        for cx in range(w + r2):
            under = valid[cy : cy + size, cx : cx + size]
            if under.any():
                z[cy, cx] = np.min((pixels[cy : cy + size, cx : cx + size] - ball)[under])
    background = np.full((h, w), -np.finfo(np.float32).max, np.float32)
    for i in range(size):
        for j in range(size):
            shifted = z[r2 - i : r2 - i + h, r2 - j : r2 - j + w] + ball[i, j]
            background = np.maximum(background, shifted)
    return background


def _ball(radius: int) -> np.ndarray:
    d = np.arange(-radius, radius + 1)
    rsq = radius * radius - (d[None, :] ** 2 + d[:, None] ** 2).astype(np.float64)
    return np.where(rsq > 0, np.sqrt(np.maximum(rsq, 0)), 0).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    radius=st.integers(1, 4),
    nan_fraction=st.sampled_from([0.0, 0.2]),
    seed=st.integers(0, 2**16),
)
def test_roll_ball_matches_imagej_definition(h, w, radius, nan_fraction, seed):
    rng = np.random.default_rng(seed)
    plane = (rng.random((h, w)) * 10).astype(np.float32)
    plane[rng.random((h, w)) < nan_fraction] = np.nan
    ball = _ball(radius)
    np.testing.assert_array_equal(roll_ball(plane, ball), _roll_ball_reference(plane, ball))


@pytest.mark.parametrize("v154", [False, True])
def test_thread_count_changes_nothing(monkeypatch, v154):
    """Every parallel loop gives the same bits on 1 thread as on more threads than cores."""
    rng = np.random.default_rng(3)
    plane = (rng.normal(0, 30, (300, 301)) + 500).astype(np.float32)
    plane[100:110, 50:60] += 5000

    def everything():
        out = [roll_ball(plane, _ball(5))]
        for maximum in (False, True):
            work = plane.copy()
            out += [work, np.float64(filter3x3(work, maximum=maximum, v154=v154))]
        work = plane.copy()
        sliding_paraboloid(work, 20.0, invert=False, presmooth=True, correct_corners=True,
                           v154=v154)
        out.append(work)
        image = plane.astype(np.uint16)
        out.append(imagej_subtract(image, 25, version="1.54t" if v154 else "1.53t"))
        return out

    monkeypatch.setenv("BGSUB_NUM_THREADS", "1")
    serial = everything()
    monkeypatch.setenv("BGSUB_NUM_THREADS", "5")
    for a, b in zip(serial, everything(), strict=True):
        np.testing.assert_array_equal(a, b)
