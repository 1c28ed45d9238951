"""Counts and sums of values on equal bins, compiled, in one pass without copies of the values:
NumPy's numbers bit for bit, for ``robust``'s peak of a histogram of every pixel's score (its
histogram, the mean shift's binned sums, the spread below the peak)."""

from __future__ import annotations

import numpy as np

from bgsub.kernels._bins import below, binned_sums, equal_bins

__all__ = ["binned_counts_sums", "equal_bin_histogram", "less_than"]


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
    values = _as_real(values)
    real = values.dtype.type
    counts, sums = np.zeros(bins), np.zeros(bins)
    with np.errstate(over="ignore"):  # (an infinite scale: the values at ``low`` in bin 0)
        scale = real(bins / (high - low))
    binned_sums(np.ravel(values), real(low), real(high), scale, bins - 1, counts, sums)
    return counts, sums


def equal_bin_histogram(values: np.ndarray, bins: int, low: float, high: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(values, bins, range=(low, high))`` bit for bit (float32 or float64
    values; others are taken as float64), in one pass without copies of the values.

    Parameters
    ----------
    values : ndarray
        Any shape; NaN lies in no bin.
    bins : int
        How many equal bins, at least 1.
    low, high : float
        The range, finite, ``high > low``; the last bin includes ``high``.

    Returns
    -------
    counts : ndarray of int64, ``bins``
    edges : ndarray, ``bins + 1``
        In the values' dtype, as NumPy's.

    Examples
    --------
    >>> counts, edges = equal_bin_histogram(np.array([0.1, 0.5, 0.5, 1.0, 3.0]), 2, 0.0, 1.0)
    >>> counts.tolist(), edges.tolist()
    ([1, 3], [0.0, 0.5, 1.0])
    """
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and high > low) or bins < 1:
        raise ValueError(f"equal_bin_histogram needs a finite range with high > low and "
                         f"bins >= 1, not [{low}, {high}] and {bins}")
    values = _as_real(values)
    real = values.dtype.type
    edges = np.linspace(low, high, bins + 1, endpoint=True, dtype=values.dtype)
    if np.any(edges[:-1] >= edges[1:]):
        raise ValueError(f"equal_bin_histogram: {bins} bins over [{low}, {high}] are narrower "
                         f"than {values.dtype} can tell apart: use fewer bins")
    counts = np.zeros(bins, np.int64)
    equal_bins(np.ravel(values), real(low), real(high), float(np.float64(high) - low),
               float(bins), edges, counts)
    return counts, edges


def less_than(values: np.ndarray, centre: float) -> np.ndarray:
    """``centre - values[values < centre]`` bit for bit (in the values' dtype, float32 or
    float64; others are taken as float64), without the mask or the selected copy.

    Examples
    --------
    >>> less_than(np.array([3.0, 1.0, 2.5, 0.0]), 2.0).tolist()
    [1.0, 2.0]
    """
    values = np.ravel(_as_real(values))
    out = np.empty_like(values)
    return out[: below(values, values.dtype.type(centre), out)]


def _as_real(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)
