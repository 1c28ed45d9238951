"""Linear interpolation from block centres (``bgsub.kernels.resample``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import resample
from bgsub.kernels.resample import block_centres, upsample_centres
from bgsub.kernels.threads import limit_threads


def _reference(cells: np.ndarray, factor: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """``np.interp`` along each axis in turn, in float64 (ends held flat)."""
    result = cells.astype(np.float64)
    for axis, (f, n) in enumerate(zip(factor, shape, strict=True)):
        if f == 1:
            continue
        centres = block_centres(f, n)
        result = np.apply_along_axis(lambda line, c=centres, n=n: np.interp(np.arange(n), c, line),
                                     axis, result)
    return result


@settings(max_examples=60, deadline=None)
@given(
    n0=st.integers(1, 60), n1=st.integers(1, 60), f0=st.integers(1, 9), f1=st.integers(1, 9),
    dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
)
def test_interpolates_between_block_centres(n0, n1, f0, f1, dtype, seed) -> None:
    shape, factor = (n0, n1), (f0, f1)
    cells = np.random.default_rng(seed).normal(0.0, 100.0, (-(-n0 // f0), -(-n1 // f1)))
    cells = cells.astype(dtype)
    got = upsample_centres(cells, factor, shape)
    assert got.dtype == dtype and got.shape == shape
    tolerance = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got, _reference(cells, factor, shape), atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_compiled_2d_pass_equals_the_axis_by_axis_one_bit_for_bit(dtype, threads,
                                                                   monkeypatch) -> None:
    """The one compiled 2D pass does NumPy's arithmetic of the axis-by-axis path (a third,
    copied axis sends the same plane there), on any number of threads."""
    monkeypatch.setattr(resample, "_PIXELS_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", "3")
    rng = np.random.default_rng(7)
    for shape, factor in (((203, 157), (5, 3)), ((64, 64), (8, 8)), ((9, 300), (9, 7))):
        cells = (rng.normal(0.0, 1e4, tuple(-(-n // f) for n, f in zip(shape, factor, strict=True)))
                 .astype(dtype))
        cells.flat[::5] = rng.integers(-3, 3, cells.flat[::5].size)  # equal neighbours too
        with limit_threads(threads):
            plane = upsample_centres(cells, factor, shape)
        stack = upsample_centres(cells[np.newaxis], (1, *factor), (1, *shape))
        np.testing.assert_array_equal(plane, stack[0])


def test_block_centres_sit_halfway_along_each_block() -> None:
    np.testing.assert_array_equal(block_centres(3, 7), [1.0, 4.0, 6.0])
    np.testing.assert_array_equal(block_centres(1, 3), [0.0, 1.0, 2.0])


def test_cells_of_the_wrong_shape_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"do not fit blocks of \(2, 2\)"):
        upsample_centres(np.zeros((3, 3)), (2, 2), (8, 8))


@settings(max_examples=60, deadline=None)
@given(
    n0=st.integers(1, 60), n1=st.integers(1, 60), f0=st.integers(1, 9), f1=st.integers(1, 9),
    dtype=st.sampled_from([np.float32, np.float64]), strip=st.integers(1, 400),
    seed=st.integers(0, 2**16),
)
def test_strips_are_the_whole_upsampled_rows(n0, n1, f0, f1, dtype, strip, seed) -> None:
    """Strips of any height (``_PIXELS_PER_STRIP`` lowered) cover every row once, in order,
    each the whole's rows bit for bit."""
    shape, factor = (n0, n1), (f0, f1)
    cells = np.random.default_rng(seed).normal(0.0, 100.0, (-(-n0 // f0), -(-n1 // f1)))
    cells = cells.astype(dtype)
    whole = upsample_centres(cells, factor, shape)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resample, "_PIXELS_PER_STRIP", strip)
        rows = [(r, values.copy()) for r, values in resample.upsampled_strips(cells, factor,
                                                                             shape)]
    assert [r.start for r, _ in rows] == [0] + [r.stop for r, _ in rows[:-1]]
    assert rows[-1][0].stop == n0
    got = np.concatenate([values for _, values in rows])
    assert got.dtype == dtype and got.tobytes() == whole.tobytes()


def test_strips_of_cells_that_do_not_fit_are_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="do not fit blocks"):
        next(resample.upsampled_strips(np.zeros((3, 3)), (2, 2), (9, 9)))
