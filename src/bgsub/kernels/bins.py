"""Counts and sums of values on equal bins, compiled: ``robust``'s mean shift reads its
values through them once, not once a shift."""

from __future__ import annotations

import numpy as np

from bgsub.kernels._bins import binned_sums

__all__ = ["binned_counts_sums"]


def binned_counts_sums(values: np.ndarray, low: float, high: float, bins: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The count and the sum of the ``values`` in ``[low, high]`` on each of ``bins`` equal
    bins (the last closed), in one pass without copies of the values.

    The same numbers, bit for bit, as NumPy on an array of the values' dtype (float32 or
    float64; other dtypes are taken as float64)::

        inside = values[(values >= low) & (values <= high)]
        index = np.minimum(((inside - low) * (bins / (high - low))).astype(np.intp), bins - 1)
        np.bincount(index, minlength=bins), np.bincount(index, inside, minlength=bins)

    Parameters
    ----------
    values : ndarray
        Any shape; NaN lies in no bin.
    low, high : float
        The range, ``high > low``.
    bins : int
        How many bins, at least 1.

    Returns
    -------
    counts, sums : ndarray of float64, ``bins`` each

    Examples
    --------
    >>> counts, sums = binned_counts_sums(np.array([0.1, 0.2, 0.9, 1.0, 5.0]), 0.0, 1.0, 2)
    >>> counts.tolist(), sums.tolist()
    ([2.0, 2.0], [0.30000000000000004, 1.9])
    """
    if not high > low or bins < 1:
        raise ValueError(f"binned_counts_sums needs high > low and bins >= 1, not "
                         f"[{low}, {high}] and {bins}")
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    real = values.dtype.type
    counts, sums = np.zeros(bins), np.zeros(bins)
    with np.errstate(over="ignore"):  # (an infinite scale: the values at ``low`` in bin 0)
        scale = real(bins / (high - low))
    binned_sums(np.ravel(values), real(low), real(high), scale, bins - 1, counts, sums)
    return counts, sums
