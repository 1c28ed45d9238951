"""Block statistics of ``robust``'s reduced grid: the means, minima and maxima of blocks of
``factor`` pixels, where the blocks' centres lie, and how deep and how spread a block's
minimum lies in white noise.

A block's minimum is taken of the image's 2-pixel moving average (along each axis with
``factor > 1``): the averaging halves the noise's spread, so the minimum rests less deep in
it. The last block of an axis may be shorter. Every function here is exact (the same values
whatever the order of the operations) or NumPy's own bit for bit; they validate nothing.
"""

from __future__ import annotations

import functools

import numpy as np

from bgsub._arrays import pairwise_sum
from bgsub.kernels.blocks import block_maxima, block_means_by_axis, block_minima
from bgsub.kernels.gaussian import direct_gaussian_filter
from bgsub.kernels.resample import block_centres

PRESMOOTH = 1.0  # Gaussian sigma, in cells, with which block statistics are smoothed
STRIP = 256  # block_min averages about this many rows of the image at a time


@functools.cache
def smoothed_minimum_spread(factor: tuple[int, ...], ndim: int) -> float:
    """The standard deviation, in noise sds, of block minima (as :func:`block_min` takes
    them) smoothed over ``PRESMOOTH`` cells, for white noise (simulated once, fixed seed)."""
    cells = 64 if ndim <= 2 else 16
    shape = tuple(f * cells for f in factor)
    noise = np.random.default_rng(0).standard_normal(shape)
    return float(np.std(direct_gaussian_filter(block_min(noise, factor), PRESMOOTH)))


def block_coordinates(factor: tuple[int, ...], shape: tuple[int, ...]) -> list[np.ndarray]:
    """Per axis, the centres of the blocks (where
    :func:`~bgsub.kernels.resample.upsample_centres` places them) in normalised pixel
    coordinates (-1 at the first pixel, 1 at the last)."""
    coords = []
    for f, n in zip(factor, shape, strict=True):
        centres = block_centres(f, n)
        coords.append(2.0 * centres / (n - 1) - 1.0 if n > 1 else np.zeros(1))
    return coords


def reduce_blocks(ufunc: np.ufunc, array: np.ndarray, f: int, axis: int) -> np.ndarray:
    """``ufunc.reduceat`` (``np.minimum`` or ``np.maximum``: exact, so any order gives the same
    values) over consecutive blocks of ``f`` along ``axis``; the last block may be shorter.

    Along an outer axis the whole blocks are reduced as one reshaped axis: ``reduceat``
    walks an outer axis line by line, 10-15x slower on a 2048 x 2048 image; along the last
    axis ``reduceat`` is the faster of the two.
    """
    n = array.shape[axis]
    if axis == array.ndim - 1 or n < f:
        return ufunc.reduceat(array, np.arange(0, n, f), axis=axis)
    whole = n - n % f
    before = (slice(None),) * axis
    body = array[(*before, slice(0, whole))] if whole < n else array  # a view, not a copy
    shape = array.shape[:axis] + (whole // f, f) + array.shape[axis + 1:]
    result = ufunc.reduce(body.reshape(shape), axis=axis + 1)
    if whole < n:
        tail = ufunc.reduce(array[(*before, slice(whole, n))], axis=axis, keepdims=True)
        result = np.concatenate([result, tail], axis=axis)
    return result


def block_mean(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Means over blocks of ``factor`` pixels (the last block of an axis may be shorter)."""
    if image.ndim == 2 and image.dtype in (np.float32, np.float64) and factor[0] > 1:
        return block_means_by_axis(image, factor)  # (one compiled pass, the same values)
    result = image
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        n = result.shape[axis]
        starts = np.arange(0, n, f)
        sums = block_sums(result, f, axis)
        counts = np.diff(np.append(starts, n)).astype(np.float64)
        shape = [1] * result.ndim
        shape[axis] = counts.size
        result = sums / counts.reshape(shape)
    return result


def block_sums(array: np.ndarray, f: int, axis: int) -> np.ndarray:
    """``np.add.reduceat(array, np.arange(0, n, f), axis=axis)``, bit for bit.

    ``reduceat`` walks an outer axis line by line (20 ms on a 2048 x 2048 image); here the
    blocks are added as whole lines, in the order ``reduceat`` adds them: the block's first
    line plus NumPy's pairwise sum of the others (:func:`bgsub._arrays.pairwise_sum`).
    """
    n = array.shape[axis]
    if axis == array.ndim - 1:
        return np.add.reduceat(array, np.arange(0, n, f), axis=axis)
    lines = array.reshape(int(np.prod(array.shape[:axis], dtype=np.int64)), n, -1)
    whole = n - n % f
    parts = []
    for start, stop, size in ((0, whole, f), (whole, n, n - whole)):
        if stop > start:
            blocks = lines[:, start:stop].reshape(-1, size, lines.shape[2])
            total = blocks[:, 0].copy() if size == 1 else pairwise_sum(blocks, 1, 1, size - 1)
            if size > 1:
                np.add(blocks[:, 0], total, out=total)
            parts.append(total.reshape(lines.shape[0], -1, lines.shape[2]))
    sums = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return sums.reshape(array.shape[:axis] + (sums.shape[1],) + array.shape[axis + 1:])


@functools.cache
def minimum_depth(factor: tuple[int, ...]) -> float:
    """How far, in noise sds, the minimum of a block (as :func:`block_min` takes it) lies
    below the block's mean, on average, for white noise (simulated once, fixed seed)."""
    if all(f == 1 for f in factor):
        return 0.0
    blocks = max(8, 4096 // int(np.prod(factor)))
    shape = tuple(f * (blocks if i == 0 else 1) for i, f in enumerate(factor))
    noise = np.random.default_rng(0).standard_normal(shape)
    return float(np.mean(block_mean(noise, factor) - block_min(noise, factor)))


@functools.cache
def minimum_spread(factor: tuple[int, ...]) -> float:
    """The standard deviation, in noise sds, of the minimum of a block (as
    :func:`block_min` takes it) for white noise (simulated once, fixed seed); 1 for
    single pixels."""
    blocks = max(8, 4096 // int(np.prod(factor)))
    shape = tuple(f * (blocks if i == 0 else 1) for i, f in enumerate(factor))
    noise = np.random.default_rng(0).standard_normal(shape)
    return float(np.std(block_min(noise, factor)))


def block_min(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Minimum over blocks of ``factor`` pixels of the image's 2-pixel moving average
    (along each axis with ``factor > 1``): the averaging halves the noise's spread so
    the minimum rests less deep in it.

    Computed a strip of about ``STRIP`` rows (whole blocks) at a time: the same values,
    without a moving average of the whole image in memory."""
    if image.ndim == 2 and image.dtype in (np.float32, np.float64) and max(factor) > 1:
        return block_minima(image, factor)  # the same values, no moving average in memory
    n = image.shape[0]
    rows = max(1, STRIP // factor[0]) * factor[0]
    if n <= rows or all(f == 1 for f in factor):
        return _strip_min(image, factor, n, image.shape)
    return np.concatenate([_strip_min(image[start:start + rows + 1], factor,
                                      min(rows, n - start), image.shape)
                           for start in range(0, n, rows)], axis=0)


def _strip_min(strip: np.ndarray, factor: tuple[int, ...], keep: int,
               shape: tuple[int, ...]) -> np.ndarray:
    """:func:`block_min` of the first ``keep`` rows of ``strip``: rows of an image of
    ``shape`` from a block's first row on, and the row after them where there is one (the
    moving average reads it)."""
    result = strip
    for axis, f in enumerate(factor):
        if f == 1 or shape[axis] < 2:
            continue
        pairs = np.array(result, copy=True) if result is strip else result
        here = [slice(None)] * strip.ndim
        ahead = [slice(None)] * strip.ndim
        here[axis], ahead[axis] = slice(0, -1), slice(1, None)
        pairs[tuple(here)] += pairs[tuple(ahead)]  # ascending: each reads the next, unchanged
        pairs[tuple(here)] *= 0.5
        result = pairs
    if keep < result.shape[0]:
        result = result[:keep]
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        result = reduce_blocks(np.minimum, result, f, axis)
    return result


def block_max(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Maximum over blocks of ``factor`` pixels (the last block of an axis may be shorter)."""
    if image.ndim == 2 and image.dtype in (np.float32, np.float64) and max(factor) > 1:
        return block_maxima(image, factor)  # one compiled pass, the same values
    result = image
    for axis, f in enumerate(factor):
        if f > 1:
            result = reduce_blocks(np.maximum, result, f, axis)
    return np.asarray(result, dtype=np.float64)
