"""Block minima of a plane less an interpolated grid, in one pass
(``bgsub.kernels.blocks.block_minima_less``): the values of the three NumPy-visible steps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import blocks
from bgsub.kernels.blocks import block_minima, block_minima_less
from bgsub.kernels.resample import upsample_centres


@settings(max_examples=150, deadline=None)
@given(n0=st.integers(2, 80), n1=st.integers(2, 80), f0=st.integers(2, 17),
       f1=st.integers(2, 17), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_equals_upsample_subtract_and_block_minima(n0, n1, f0, f1, dtype, seed) -> None:
    rng = np.random.default_rng(seed)
    image = rng.normal(1000.0, 30.0, (n0, n1)).astype(dtype)
    cells = rng.normal(1000.0, 30.0, (-(-n0 // f0), -(-n1 // f1))).astype(dtype)
    plane = upsample_centres(cells, (f0, f1), image.shape)
    np.subtract(image, plane, out=plane)
    want = block_minima(plane, (f0, f1))
    got = block_minima_less(image, cells, (f0, f1))
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_split_over_threads(threads, monkeypatch) -> None:
    monkeypatch.setattr(blocks, "_PIXELS_PER_THREAD", 1)
    monkeypatch.setenv("BGSUB_NUM_THREADS", str(threads))
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1.0, (203, 157))
    image[7, 9] = np.nan
    cells = rng.normal(0.0, 1.0, (41, 32))
    want = block_minima(image - upsample_centres(cells, (5, 5), image.shape), (5, 5))
    assert np.array_equal(block_minima_less(image, cells, (5, 5)), want, equal_nan=True)


def test_refuses_what_it_does_not_do() -> None:
    image = np.zeros((8, 8))
    with pytest.raises(ValueError):
        block_minima_less(image, np.zeros((8, 4)), (1, 2))
    with pytest.raises(ValueError):
        block_minima_less(image, np.zeros((3, 3)), (2, 2))
