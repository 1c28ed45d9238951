"""Extremes over blocks of a 2D plane (`robust`'s block minima and maxima), compiled.

Minima and maxima are exact, so these give NumPy's values (``np.minimum.reduceat`` /
``np.maximum.reduceat`` over blocks) whatever the order; the 2-pixel moving average before
the minima is computed as NumPy computes it on arrays of the plane's dtype. NaN propagates.
"""

from __future__ import annotations

import numpy as np

from bgsub._arrays import pairwise_sum
from bgsub.kernels._blocks import (
    block_max_2d,
    block_mean_2d,
    block_mean_by_axis_2d,
    block_min_2d,
    block_min_less_2d,
)
from bgsub.kernels.resample import centre_positions
from bgsub.kernels.threads import threads_for_work

__all__ = ["BLOCK_MEAN_DTYPES", "block_maxima", "block_means", "block_means_by_axis",
           "block_minima", "block_minima_less", "coarse_cells", "plane_block_means"]

#: A thread per this many pixels (more threads cost more CPU than they save on 2 cores).
_PIXELS_PER_THREAD = 1 << 23


def _blocks_shape(shape: tuple[int, ...], factor: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-n // f) for n, f in zip(shape, factor, strict=True))


def block_minima(image: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    """Minimum over blocks of ``factor`` pixels (the last of an axis may be shorter) of the
    plane's 2-pixel moving average along each axis with ``factor > 1`` (each row or column
    with the next, the last as it is).

    Parameters
    ----------
    image : ndarray of float32 or float64, 2D
    factor : tuple of two ints
        Block size per axis.

    Returns
    -------
    ndarray
        ``image``'s dtype, one value per block.

    Examples
    --------
    >>> import numpy as np
    >>> block_minima(np.array([[4.0, 0.0, 2.0, 6.0]]), (1, 2))
    array([[1., 4.]])
    """
    out = np.empty(_blocks_shape(image.shape, factor), dtype=image.dtype)
    threads = min(threads_for_work(image.size, _PIXELS_PER_THREAD), out.shape[0])
    block_min_2d(np.ascontiguousarray(image), factor[0], factor[1],
                 factor[0] > 1 and image.shape[0] > 1, factor[1] > 1 and image.shape[1] > 1,
                 out, np.empty((2 * threads, image.shape[1]), dtype=image.dtype), threads)
    return out


def block_maxima(image: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    """Maximum over blocks of ``factor`` pixels (the last of an axis may be shorter), in
    float64.

    Examples
    --------
    >>> import numpy as np
    >>> block_maxima(np.array([[4.0, 0.0, 2.0]], dtype=np.float32), (1, 2))
    array([[4., 2.]])
    """
    out = np.empty(_blocks_shape(image.shape, factor))
    threads = min(threads_for_work(image.size, _PIXELS_PER_THREAD), out.shape[0])
    block_max_2d(np.ascontiguousarray(image), factor[0], factor[1], out,
                 np.empty((threads, image.shape[1]), dtype=image.dtype), threads)
    return out


def block_means_by_axis(image: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    """Means over blocks of ``factor`` pixels (the last of an axis may be shorter), in float64,
    as :func:`bgsub.methods._robust_blocks.block_mean` takes them, bit for bit, in one pass:
    along axis 0 first (each block's first row plus the pairwise sum of its others, in
    ``image``'s dtype, over their count), then along axis 1 (as ``np.add.reduceat`` adds).

    Parameters
    ----------
    image : ndarray of float32 or float64, 2D
    factor : tuple of two ints
        Block size per axis; at least 2 rows (on single rows a float32 plane's columns would
        be added in float64 here, in float32 by ``block_mean``).

    Returns
    -------
    ndarray
        float64, one value per block.

    Examples
    --------
    >>> import numpy as np
    >>> block_means_by_axis(np.arange(15.0).reshape(3, 5), (2, 2))
    array([[ 3. ,  5. ,  6.5],
           [10.5, 12.5, 14. ]])
    """
    if image.ndim != 2 or image.dtype not in (np.float32, np.float64) or factor[0] < 2 \
            or factor[1] < 1:
        raise ValueError("a float32 or float64 plane, blocks of at least 2 rows")
    out = np.empty(_blocks_shape(image.shape, factor))
    threads = min(threads_for_work(image.size, _PIXELS_PER_THREAD), out.shape[0])
    block_mean_by_axis_2d(np.ascontiguousarray(image), factor[0], factor[1], out,
                          np.empty((threads, image.shape[1]), dtype=image.dtype),
                          np.empty((threads, image.shape[1])), threads)
    return out


def block_minima_less(image: np.ndarray, cells: np.ndarray,
                      factor: tuple[int, int]) -> np.ndarray:
    """:func:`block_minima` of ``image - upsample_centres(cells, factor, image.shape)`` (in
    ``image``'s dtype, ``cells`` of it too; blocks of more than one pixel along both axes),
    the same values, without the interpolated plane or the difference in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from bgsub.kernels.resample import upsample_centres
    >>> image = np.arange(48.0).reshape(6, 8) % 7
    >>> cells = np.array([[0.0, 1.0], [2.0, 0.5]])
    >>> bool((block_minima_less(image, cells, (3, 4))
    ...       == block_minima(image - upsample_centres(cells, (3, 4), image.shape), (3, 4))).all())
    True
    """
    if image.ndim != 2 or min(factor) < 2 or cells.dtype != image.dtype:
        raise ValueError("a plane, blocks of more than one pixel per axis, cells of its dtype")
    out = np.empty(_blocks_shape(image.shape, factor), dtype=image.dtype)
    if cells.shape != out.shape:
        raise ValueError(f"cells of shape {cells.shape} do not fit blocks of {factor} over "
                         f"{image.shape}; expected {out.shape}")
    (low0, w0), (low1, w1) = (centre_positions(f, n) for f, n in zip(factor, image.shape,
                                                                    strict=True))
    threads = min(threads_for_work(image.size, _PIXELS_PER_THREAD), out.shape[0])
    block_min_less_2d(np.ascontiguousarray(image), np.ascontiguousarray(cells), low0, w0, low1,
                      w1, factor[0], factor[1], image.shape[0] > 1, image.shape[1] > 1, out,
                      np.empty((4 * threads, image.shape[1]), dtype=image.dtype),
                      np.empty((threads, cells.shape[1]), dtype=image.dtype), threads)
    return out


#: The dtypes :func:`block_means` reads (every value exact in float64).
BLOCK_MEAN_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                                               np.int32, np.float32, np.float64))


def block_means(plane: np.ndarray, step: int, negate: bool = False) -> np.ndarray:
    """Means of the whole ``step`` x ``step`` blocks of a plane (a last partial row and column
    of blocks left out) read as float64, negated where ``negate``: the values of
    ``bgsub.auto``'s block means of ``-np.array(plane, float64)`` (or of it, not negated), bit
    for bit, without that float64 copy. At least two blocks per axis, ``step`` > 1.

    Examples
    --------
    >>> import numpy as np
    >>> block_means(np.arange(16, dtype=np.uint16).reshape(4, 4), 2, negate=True)
    array([[ -2.5,  -4.5],
           [-10.5, -12.5]])
    """
    if plane.ndim != 2 or plane.dtype not in BLOCK_MEAN_DTYPES or step < 2 \
            or min(plane.shape) // step < 2:
        raise ValueError("a plane of a listed dtype, at least two blocks of step > 1 per axis")
    out = np.empty((plane.shape[0] // step, plane.shape[1] // step))
    threads = min(threads_for_work(plane.size, _PIXELS_PER_THREAD), out.shape[0])
    block_mean_2d(np.ascontiguousarray(plane), step, bool(negate), out,
                  np.empty((2 * threads, out.shape[1] * step)), threads)
    return out


def plane_block_means(plane: np.ndarray, step: int) -> np.ndarray:
    """Means of the whole ``step`` x ``step`` blocks of a plane of any dtype (the last partial
    row and column of blocks left out): ``mean(axis=(1, 3))`` of the blocks, bit for bit.
    Compiled (:func:`block_means`) for a float64 plane of at least two blocks per axis;
    otherwise NumPy's own order, 2.5x sooner than ``mean`` where it can be kept: each
    block's rows summed pairwise along the row (:func:`bgsub._arrays.pairwise_sum`), the
    rows added in order to a zero. ``step`` 1: the plane itself.

    Examples
    --------
    >>> import numpy as np
    >>> plane_block_means(np.arange(20.0).reshape(4, 5), 2)
    array([[ 3.,  5.],
           [13., 15.]])
    """
    if step == 1:
        return plane
    if plane.ndim == 2 and plane.dtype == np.float64 and min(plane.shape) // step >= 2:
        return block_means(plane, step)  # (the values below, compiled: 5x sooner)
    rows, cols = (n // step * step for n in plane.shape)
    blocks = plane[:rows, :cols].reshape(rows // step, step, cols // step, step)
    if rows // step < 2 or cols // step < 2 or blocks.dtype != np.float64:
        return blocks.mean(axis=(1, 3))  # (NumPy's order differs on a single row of blocks)
    total = pairwise_sum(blocks[:, 0], -1, 0, step)
    total += 0.0  # NumPy starts from +0.0: a block of -0.0 has the mean +0.0
    for k in range(1, step):
        total += pairwise_sum(blocks[:, k], -1, 0, step)
    total /= step * step
    return total


def coarse_cells(plane: np.ndarray, side: int, negate: bool = False) -> tuple[np.ndarray, int]:
    """A 2D ``plane``'s means over the fewest ``step`` x ``step`` blocks that leave at most
    ``side`` cells on its smaller side (:func:`plane_block_means`; compiled from an integer
    or float plane read as it is, :func:`block_means`), float64, negated where ``negate``;
    and that ``step``.

    Examples
    --------
    >>> import numpy as np
    >>> cells, step = coarse_cells(np.ones((1000, 700), np.uint16), 256)
    >>> cells.shape, step
    ((333, 233), 3)
    """
    step = max(1, int(np.ceil(min(plane.shape) / side)))
    if step > 1 and min(plane.shape) // step >= 2 and plane.dtype in BLOCK_MEAN_DTYPES:
        return block_means(plane, step, negate), step
    values = np.asarray(plane, dtype=np.float64)
    return plane_block_means(-values if negate else values, step), step
