"""Block means of a plane read as float64 (``bgsub.kernels.blocks.block_means``): NumPy's
``mean(axis=(1, 3))`` of the whole blocks, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import blocks
from bgsub.kernels.blocks import BLOCK_MEAN_DTYPES, block_means


def _reference(plane: np.ndarray, step: int, negate: bool) -> np.ndarray:
    values = np.array(plane, dtype=np.float64)
    if negate:
        values = -values
    rows, cols = (n // step * step for n in values.shape)
    return values[:rows, :cols].reshape(rows // step, step, cols // step, step).mean(axis=(1, 3))


@settings(max_examples=200, deadline=None)
@given(step=st.sampled_from([2, 3, 4, 5, 7, 8, 9, 16, 17, 130]), extra=st.integers(0, 300),
       blocks0=st.integers(2, 5), blocks1=st.integers(2, 5),
       dtype=st.sampled_from(BLOCK_MEAN_DTYPES), negate=st.booleans(),
       seed=st.integers(0, 2**16))
def test_equals_numpys_mean_of_the_float64_plane(step, extra, blocks0, blocks1, dtype, negate,
                                                 seed) -> None:
    """Any listed dtype, block sizes below 8, up to 128 and beyond (NumPy's pairwise sums),
    zeros (whose sign NumPy's sum from +0.0 sets), a partial last row and column of blocks."""
    rng = np.random.default_rng(seed)
    shape = (blocks0 * step + extra % step, blocks1 * step + (extra // 7) % step)
    if dtype.kind == "f":
        plane = rng.normal(0.0, 1e3, shape).astype(dtype)
        plane[rng.random(shape) < 0.2] = -0.0
    else:
        info = np.iinfo(dtype)
        plane = rng.integers(max(info.min, -70000), min(info.max, 70000), shape).astype(dtype)
        plane[rng.random(shape) < 0.3] = 0
    want = _reference(plane, step, negate)
    got = block_means(plane, step, negate)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("threads", [1, 3])
def test_strided_plane_on_any_number_of_threads(threads, monkeypatch) -> None:
    monkeypatch.setattr(blocks, "_PIXELS_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", str(threads))
    plane = np.random.default_rng(2).integers(0, 4096, (3, 300, 260)).astype(np.uint16)
    view = plane[1, ::2, 5:]  # (not contiguous)
    assert block_means(view, 4, True).tobytes() == _reference(view, 4, True).tobytes()


def test_refuses_what_it_does_not_do() -> None:
    with pytest.raises(ValueError):
        block_means(np.zeros((8, 8), dtype=np.int64), 2)
    with pytest.raises(ValueError):
        block_means(np.zeros((8, 8)), 1)
    with pytest.raises(ValueError):
        block_means(np.zeros((8, 3)), 2)
