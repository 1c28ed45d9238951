"""Cold pixels of a plane (``bgsub.kernels.outliers.cold_pixels``) against a plain NumPy
reading of their definition, pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import outliers
from bgsub.kernels.outliers import cold_pixels, gradient_magnitude


def _reference(plane: np.ndarray, gain: float, offset: float, floor: float, sds: float,
               spread: float) -> tuple[list[int], list[int], list[float]]:
    """The definition, one pixel at a time: below the second lowest of its 8 neighbours
    (5 on an edge; never with fewer) by more than ``sds`` sds at that level and by more than
    ``spread`` times what the second highest neighbour lies above it; never beside a NaN."""
    rows, cols, values = [], [], []
    n0, n1 = plane.shape
    for i in range(n0):
        for j in range(n1):
            around = np.array([plane[a, b] for a in range(i - 1, i + 2) for b in range(j - 1, j + 2)
                               if 0 <= a < n0 and 0 <= b < n1 and (a, b) != (i, j)],
                              dtype=np.float64)
            if around.size < 5 or np.isnan(around).any():
                continue
            around.sort()
            level = around[1]
            gap = level - float(plane[i, j])
            sd = max(np.sqrt(max(gain * level + offset, 0.0)), floor)
            if gap > sds * sd and gap > spread * (around[-2] - level):
                rows.append(i)
                cols.append(j)
                values.append(level)
    return rows, cols, values


@settings(max_examples=150, deadline=None)
@given(n0=st.integers(1, 40), n1=st.integers(1, 40), dtype=st.sampled_from([np.float32,
                                                                             np.float64]),
       dead=st.integers(0, 30), sd=st.sampled_from([0.5, 5.0, 30.0]),
       gain=st.sampled_from([0.0, 1.0]), spread=st.sampled_from([0.0, 1.0, 2.0]),
       seed=st.integers(0, 2**16))
def test_equals_the_definition(n0, n1, dtype, dead, sd, gain, spread, seed) -> None:
    rng = np.random.default_rng(seed)
    plane = rng.normal(1000.0, sd, (n0, n1)).astype(dtype)
    plane.flat[rng.integers(0, plane.size, dead)] = rng.choice([0.0, 900.0, 990.0, 5000.0],
                                                               dead)
    args = (gain, sd**2, 0.1, 6.0, spread)
    rows, cols, values = cold_pixels(plane, *args)
    want = _reference(plane, *args)
    assert rows.tolist() == want[0] and cols.tolist() == want[1]
    assert values.tolist() == want[2]


def test_a_lone_dead_pixel_and_a_pair_are_cold_a_line_but_its_ends_and_a_corner_not() -> None:
    plane = np.full((9, 10), 100.0)
    plane[2, 3] = 0.0  # alone
    plane[6, 2] = plane[6, 3] = 0.0  # a pair
    plane[0, 0] = 0.0  # a corner: never
    plane[8, 4] = plane[8, 5] = 0.0  # a pair on an edge
    plane[:, 8] = 0.0  # a dead column: each pixel of it has two neighbours on it, but its ends
    rows, cols, values = cold_pixels(plane, 0.0, 1.0, 1.0, 6.0, 2.0)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [
        (0, 8), (2, 3), (6, 2), (6, 3), (8, 4), (8, 5), (8, 8)]
    assert values.tolist() == [100.0] * 7


def test_a_steep_flank_a_smooth_dip_and_shallow_noise_are_not_cold() -> None:
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    flank = 50.0 * np.hypot(yy - 20.0, xx - 70.0)  # a steep cone whose tip lies off the plane
    dip = 0.5 * ((yy - 30.0) ** 2 + (xx - 30.0) ** 2)  # a smooth pit, no noise
    for plane in (flank, dip, np.random.default_rng(0).normal(0.0, 1.0, (64, 64))):
        assert cold_pixels(plane, 0.0, 1.0, 1.0, 6.0, 2.0)[0].size == 0


def test_beside_a_nan_never_cold_and_a_nan_never_cold() -> None:
    plane = np.full((6, 6), 100.0)
    plane[2, 2] = 0.0
    plane[2, 3] = np.nan
    plane[4, 4] = np.nan
    assert cold_pixels(plane, 0.0, 1.0, 1.0, 6.0, 2.0)[0].size == 0


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_split_over_threads(threads, monkeypatch) -> None:
    monkeypatch.setattr(outliers, "_PIXELS_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", str(threads))
    rng = np.random.default_rng(1)
    plane = rng.normal(1000.0, 30.0, (203, 157))
    plane.flat[rng.integers(0, plane.size, 300)] = 0.0
    want = _reference(plane, 0.0, 900.0, 1.0, 6.0, 2.0)
    rows, cols, values = cold_pixels(plane, 0.0, 900.0, 1.0, 6.0, 2.0)
    assert (rows.tolist(), cols.tolist(), values.tolist()) == want
    assert len(want[0]) > 250


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(2, 60), cols=st.integers(2, 60), scale=st.floats(-3, 5),
       seed=st.integers(0, 2**16), nan=st.booleans())
def test_gradient_magnitude_equals_numpys_gradient_squared_and_added(rows, cols, scale, seed,
                                                                     nan) -> None:
    """``sqrt(gy * gy + gx * gx)`` of ``np.gradient`` (ends of one-sided differences
    included, planes of 2 pixels a side too, NaN carried), bit for bit."""
    rng = np.random.default_rng(seed)
    plane = rng.normal(0.0, 10.0**scale, (rows, cols))
    if nan:
        plane[rng.random(plane.shape) < 0.05] = np.nan
    gy, gx = np.gradient(plane)
    gy *= gy
    gx *= gx
    gy += gx
    expected = np.sqrt(gy)
    assert gradient_magnitude(plane).tobytes() == expected.tobytes()


def test_gradient_magnitude_refuses_what_it_does_not_do() -> None:
    with pytest.raises(ValueError, match="2 x 2"):
        gradient_magnitude(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="2 x 2"):
        gradient_magnitude(np.zeros((3, 4, 5)))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gradient_magnitude_on_any_number_of_threads(threads, monkeypatch) -> None:
    monkeypatch.setattr(outliers, "threads_for_work", lambda *_: threads)
    plane = np.random.default_rng(5).random((41, 90))[:, ::2]  # (not contiguous)
    gy, gx = np.gradient(plane)
    expected = np.sqrt(gy * gy + gx * gx)
    assert outliers.gradient_magnitude(plane).tobytes() == expected.tobytes()
