"""Block means taken along axis 0, then axis 1 (``bgsub.kernels.blocks.block_means_by_axis``):
NumPy's ``np.add.reduceat`` along each axis in turn, each divided by the blocks' lengths in
float64, bit for bit -- the values ``robust``'s block means had before they were compiled."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import blocks
from bgsub.kernels.blocks import block_means_by_axis
from bgsub.methods._robust_blocks import block_mean


def _reference(image: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    result = image
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        n = result.shape[axis]
        starts = np.arange(0, n, f)
        counts = np.diff(np.append(starts, n)).astype(np.float64)
        shape = [1, 1]
        shape[axis] = counts.size
        result = np.add.reduceat(result, starts, axis=axis) / counts.reshape(shape)
    return result


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(max_examples=300, deadline=None)
@given(f0=st.sampled_from([2, 3, 5, 8, 9, 10, 17, 40, 140]),
       f1=st.sampled_from([1, 2, 3, 7, 8, 9, 16, 130]),
       rows=st.integers(1, 300), cols=st.integers(1, 300),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_equals_numpys_reduceat_along_each_axis(f0, f1, rows, cols, dtype, seed) -> None:
    """Blocks below 8 rows or columns, up to 128 and beyond (NumPy's pairwise sums), shorter
    last blocks, negative zeros, both dtypes (float32 added in float32 along axis 0)."""
    rng = np.random.default_rng(seed)
    image = (rng.normal(0.0, 1.0, (rows, cols)) * 10.0 ** rng.uniform(-3, 6)).astype(dtype)
    image[rng.random(image.shape) < 0.2] = -0.0
    expected = _reference(image, (f0, f1))
    assert _same_bits(block_means_by_axis(image, (f0, f1)), expected)
    assert _same_bits(block_mean(image, (f0, f1)), expected)


def test_nan_and_infinity_propagate_as_in_numpy() -> None:
    image = np.arange(48.0).reshape(6, 8)
    image[1, 2], image[4, 7], image[5, 0] = np.nan, np.inf, -np.inf
    np.testing.assert_array_equal(block_means_by_axis(image, (2, 3)), _reference(image, (2, 3)))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_strided_plane_on_any_number_of_threads(threads, monkeypatch) -> None:
    monkeypatch.setattr(blocks, "threads_for_work", lambda *_: threads)
    image = np.random.default_rng(3).random((97, 250))[:, ::2]  # (not contiguous)
    assert _same_bits(block_means_by_axis(image, (4, 3)), _reference(image, (4, 3)))


def test_refuses_what_it_does_not_do() -> None:
    """Single rows (a float32 plane's columns are added in float32 by ``block_mean``), other
    dtypes and volumes are refused, not answered with other values."""
    for image, factor in ((np.zeros((4, 6), np.float32), (1, 2)),
                          (np.zeros((4, 6), np.int32), (2, 2)),
                          (np.zeros((2, 4, 6)), (2, 2))):
        with pytest.raises(ValueError, match="at least 2 rows"):
            block_means_by_axis(image, factor)
