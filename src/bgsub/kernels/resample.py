"""Linear interpolation from a grid of block centres back to every pixel.

The interpolation runs axis by axis: along each axis a pixel takes the value of the block
centre at or before it plus the step to the next centre times its fractional position
(``low + (high - low) * weight``, as NumPy computes it for arrays of the image's dtype: the
step in that dtype, its product with the float64 weight rounded back to it). The 2D case runs
as one compiled pass over the output (threads over rows); other dimensions go axis by axis
in NumPy, with the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bgsub.kernels._resample import upsample_2d
from bgsub.kernels.threads import threads_for_work

__all__ = ["block_centres", "centre_positions", "upsample_centres", "upsampled_strips"]

#: Output pixels per thread below which one thread does the whole interpolation.
_PIXELS_PER_THREAD = 262_144
#: Output pixels per strip of :func:`upsampled_strips`.
_PIXELS_PER_STRIP = 1 << 17


def block_centres(f: int, n: int) -> np.ndarray:
    """The centres, in pixels, of the blocks of ``f`` pixels along an axis of ``n`` (the last
    block possibly shorter, its centre halfway along what it holds).

    Examples
    --------
    >>> block_centres(4, 10)
    array([1.5, 5.5, 8.5])
    """
    m = -(-n // f)
    return np.minimum(np.arange(m) * f + (f - 1) / 2, (np.arange(m) * f + n - 1) / 2)


def centre_positions(f: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of an axis of ``n`` pixels in blocks of ``f``: the block whose centre lies at
    or before it and the weight of the next block's (what :func:`upsample_centres` uses).

    Examples
    --------
    >>> low, weight = centre_positions(4, 10)
    >>> low.tolist(), weight.tolist()[:4]
    ([0, 0, 0, 0, 0, 0, 1, 1, 1, 2], [0.0, 0.0, 0.125, 0.375])
    """
    return _positions(-(-n // f), f, n)


def _positions(m: int, f: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of an axis of ``n`` pixels in blocks of ``f`` (``m`` blocks): the block at or
    before it and the weight of the next one."""
    position = np.interp(np.arange(n), block_centres(f, n), np.arange(m))
    low = np.floor(position).astype(np.intp)
    return low, position - low


def _last(array: np.ndarray, axis: int) -> np.ndarray:
    """The last slice of ``array`` along ``axis``, the axis kept (length 1)."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(-1, None)
    return array[tuple(index)]


def _upsample_axis(values: np.ndarray, low: np.ndarray, weight: np.ndarray,
                   axis: int) -> np.ndarray:
    shape_w = [1] * values.ndim
    shape_w[axis] = weight.size
    # the step to the next centre (the last cell's own difference, 0), taken per cell and
    # then spread: one full-size take and subtraction fewer
    upper = np.take(np.concatenate([np.diff(values, axis=axis),
                                    _last(values, axis) - _last(values, axis)], axis=axis),
                    low, axis=axis)
    result = np.take(values, low, axis=axis)
    upper *= weight.reshape(shape_w)
    result += upper
    return result


def upsample_centres(cells: np.ndarray, factor: tuple[int, ...],
                     shape: tuple[int, ...]) -> np.ndarray:
    """Interpolate ``cells`` (one value per block of ``factor`` pixels) to ``shape``.

    Parameters
    ----------
    cells : ndarray of float32 or float64
        One value per block; its shape is ``ceil(shape / factor)`` along every axis.
    factor : tuple of int
        Block size per axis (1: that axis is copied as it is).
    shape : tuple of int
        The output's shape.

    Returns
    -------
    ndarray
        ``cells``' dtype, of ``shape``.

    Examples
    --------
    >>> import numpy as np
    >>> upsample_centres(np.array([[0.0, 4.0]]), (1, 4), (1, 8))
    array([[0. , 0. , 0.5, 1.5, 2.5, 3.5, 4. , 4. ]])
    """
    _check_fit(cells, factor, shape)
    axes = [axis for axis, f in enumerate(factor) if f > 1]
    places = {axis: _positions(cells.shape[axis], factor[axis], shape[axis]) for axis in axes}
    if cells.ndim == 2 and len(axes) == 2 and cells.dtype in (np.float32, np.float64):
        (low0, w0), (low1, w1) = places[0], places[1]
        out = np.empty(shape, dtype=cells.dtype)
        threads = threads_for_work(out.size, _PIXELS_PER_THREAD)
        rows = np.empty((threads, cells.shape[1]), dtype=cells.dtype)
        upsample_2d(np.ascontiguousarray(cells), low0, w0, low1, w1, out, rows, threads)
        return out
    result = cells
    for axis in axes:
        result = _upsample_axis(result, *places[axis], axis)
    return result


def upsampled_strips(cells: np.ndarray, factor: tuple[int, ...], shape: tuple[int, ...]
                     ) -> Iterator[tuple[slice, np.ndarray]]:
    """:func:`upsample_centres` of ``cells`` a strip of rows at a time: ``(rows, values)``
    pairs, ``values`` the upsampled ``[rows]`` (a buffer the next strip reuses). The same
    values, without an image-sized copy, where the image is 2D and both axes are blocked;
    elsewhere one strip of the whole.

    Examples
    --------
    >>> import numpy as np
    >>> cells = np.arange(12.0).reshape(3, 4)
    >>> whole = upsample_centres(cells, (4, 4), (12, 16))
    >>> all((whole[rows] == values).all()
    ...     for rows, values in upsampled_strips(cells, (4, 4), (12, 16)))
    True
    """
    if not (cells.ndim == 2 and min(factor) > 1 and cells.dtype in (np.float32, np.float64)):
        yield slice(0, shape[0]), upsample_centres(cells, factor, shape)
        return
    _check_fit(cells, factor, shape)
    (low0, w0), (low1, w1) = (_positions(m, f, n)
                              for m, f, n in zip(cells.shape, factor, shape, strict=True))
    step = max(1, _PIXELS_PER_STRIP // max(1, shape[1]))
    buffer = np.empty((min(step, shape[0]), shape[1]), dtype=cells.dtype)
    source = np.ascontiguousarray(cells)
    for start in range(0, shape[0], step):
        rows = slice(start, min(start + step, shape[0]))
        out = buffer[:rows.stop - rows.start]
        threads = threads_for_work(out.size, _PIXELS_PER_THREAD)
        upsample_2d(source, low0[rows], w0[rows], low1, w1, out,
                    np.empty((threads, cells.shape[1]), dtype=cells.dtype), threads)
        yield rows, out


def _check_fit(cells: np.ndarray, factor: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """A one-line error where ``cells`` are not one value per block of ``factor`` over
    ``shape``."""
    expected = tuple(-(-n // f) for n, f in zip(shape, factor, strict=True))
    if cells.shape != expected:
        raise ValueError(f"cells of shape {cells.shape} do not fit blocks of {factor} over "
                         f"{shape}; expected {expected}")
