"""The background's peak among ``robust``'s scores: the lowest peak of their histogram at
least ``PEAK_SHARE`` as high as the highest (in a dense field the objects' scores may
outnumber the background's), refined by mean shift so that it moves continuously with the
data."""

from __future__ import annotations

import numpy as np

from bgsub.kernels.bins import binned_counts_sums, equal_bin_histogram, median, percentiles
from bgsub.kernels.gaussian import direct_gaussian_filter1d

MODE_BINS = 400  # histogram bins for the scores' peak
MODE_BANDWIDTH = 3.0  # ... refined by mean shift with a kernel this many bins wide
MODE_SHIFTS = 8  # ... at most this many shifts
MODE_FINE_BINS = 2048  # ... on the values summed on this many bins over 4 bandwidths either side
# with a width (scores in noise sds), the histogram smoothed over Silverman's bandwidth,
MODE_SILVERMAN = 0.9  # this times min(sd, IQR / 1.34) n^(-1/5), where wider than the width,
MODE_SMOOTH_CAP = 1.0  # ... up to this many noise sds; its first rise to PEAK_SHARE of the
PEAK_SOFT = 0.1  # highest, a smooth step over this share either side; and from there
MODE_CLIMB = 20  # at most this many mean shifts with the bandwidth, at least MODE_CLIMB_WIDTH
MODE_CLIMB_WIDTH = 1.0  # sds (from a flank, a narrow kernel crawls), then at most MODE_NARROW
MODE_NARROW = 4  # with a narrow one (more crawl on up a peakless ramp), each stage ending once
MODE_SETTLED = 1e-3  # a shift moves less than this share of its bandwidth
PEAK_SHARE = 0.25  # the background's peak is at least this share of the highest


def lowest_peak(score: np.ndarray, width: float = 0.0) -> float:
    """The background's most common value of ``score``: the lowest peak of its histogram
    (smoothed over ``width``, at least two bins) at least a quarter as high as the
    highest -- in a dense field the objects' residuals may outnumber the background's.

    With a ``width`` (scores in noise sds, as ``robust`` scores its cells) the choice is
    continuous in the scores, so that a faint field does not swing it between peaks (on a small
    grid, peaks of sampling noise sit at the share): the histogram is smoothed over at least
    Silverman's bandwidth (capped at MODE_SMOOTH_CAP sds), where it first rises to PEAK_SHARE of
    its highest is found as a smooth step (each bin's weight: its step over the share times what
    the lower bins leave over), and the mode is climbed to from there by mean shift with that
    bandwidth (at least MODE_CLIMB_WIDTH sds; at most MODE_CLIMB shifts), then refined with a
    narrow kernel (at most MODE_NARROW shifts: on a peakless ramp -- a near-blank plane's
    flattening -- it would crawl on up, and the measured radius with it), each stage ending once
    a shift moves less than MODE_SETTLED of its bandwidth: at most MODE_CLIMB + MODE_NARROW
    passes over the cells near the peak."""
    if width > 0:  # (the quartiles with the range: one selection)
        low, q1, q3, high = percentiles(score, [0.5, 25, 75, 99])
        if not high > low:
            return float(low)
        return _soft_mode(score, width, float(low), float(high), float(q3 - q1))
    low, high = percentiles(score, [0.5, 99])
    if not high > low:
        return float(low)
    counts, edges = equal_bin_histogram(score, MODE_BINS, float(low), float(high))
    bin_width = float(edges[1] - edges[0])
    # (never wider than the histogram: scores spread over a tiny range give tiny bins)
    sigma = min(max(2.0, width / bin_width), float(MODE_BINS))
    counts = direct_gaussian_filter1d(counts.astype(np.float64), sigma, mode="constant")
    before, after = np.zeros_like(counts), np.zeros_like(counts)  # (each bin's neighbours)
    before[1:], after[:-1] = counts[:-1], counts[1:]
    peaks = (counts >= np.maximum(before, after)) & (
        counts >= PEAK_SHARE * counts.max())
    peak = int(np.flatnonzero(peaks)[0])
    return _refine_mode(score, float(0.5 * (edges[peak] + edges[peak + 1])),
                        max(MODE_BANDWIDTH * bin_width, min(width, float(high - low))))


def _soft_mode(score: np.ndarray, width: float, low: float, high: float,
               quartiles: float) -> float:
    """``lowest_peak`` with a ``width``: the mean shift from the histogram's soft first crossing
    of PEAK_SHARE of its highest (see ``lowest_peak``; ``low`` and ``high``: the scores' 0.5 and
    99th percentiles, ``quartiles``: their interquartile range)."""
    bandwidth = _mode_bandwidth(score, width, high - low, quartiles)
    counts, edges = equal_bin_histogram(score, MODE_BINS, low, high)
    bin_width = float(edges[1] - edges[0])
    sigma = min(max(2.0, bandwidth / bin_width), float(MODE_BINS))
    counts = direct_gaussian_filter1d(counts.astype(np.float64), sigma, mode="constant")
    if counts.max() > 0:
        step = np.clip((counts / counts.max() - (PEAK_SHARE - PEAK_SOFT)) / (2.0 * PEAK_SOFT),
                       0.0, 1.0)
        step = 0.5 - 0.5 * np.cos(np.pi * step)
        weights = step * np.r_[1.0, np.cumprod(1.0 - step)[:-1]]
        start = float(np.sum(weights * 0.5 * (edges[:-1] + edges[1:])) / np.sum(weights))
    else:  # (two scores: both lie outside their own 0.5-99 % range, the histogram is empty)
        start = float(median(score))
    start = _refine_mode(score, start, max(bandwidth, MODE_CLIMB_WIDTH, MODE_BANDWIDTH * bin_width),
                         MODE_CLIMB, MODE_SETTLED)
    # ... and the peak's top with the narrow kernel (a wide one leans towards the objects)
    return _refine_mode(score, start, max(MODE_BANDWIDTH * bin_width, min(width, high - low)),
                        MODE_NARROW, MODE_SETTLED)


def _mode_bandwidth(score: np.ndarray, width: float, span: float, quartiles: float) -> float:
    """:func:`_soft_mode`'s kernel: Silverman's bandwidth, ``MODE_SILVERMAN x min(sd,
    quartiles / 1.34) x n^(-1/5)``, within ``width`` and ``MODE_SMOOTH_CAP`` and at most the
    scores' ``span``. The sd is taken only where the quartiles' spread would widen the kernel
    beyond ``width`` (where it does not, the smaller of the two cannot either): the same
    bandwidth without an image-sized pass and its copy of the scores."""
    spread = quartiles / 1.34
    if MODE_SILVERMAN * spread * score.size ** -0.2 > width:
        spread = min(float(np.std(score)), spread)
    bandwidth = max(width, min(MODE_SMOOTH_CAP, MODE_SILVERMAN * spread * score.size ** -0.2))
    return min(bandwidth, span)


def _refine_mode(values: np.ndarray, start: float, bandwidth: float,
                 shifts: int = MODE_SHIFTS, settled: float = 0.0) -> float:
    """Mean shift from ``start`` (a Gaussian kernel of ``bandwidth``, over the values within
    4 bandwidths of it): the peak's position no longer depends on where the histogram's bins
    happen to fall. At most ``shifts`` shifts, ending sooner once one moves less than
    ``settled`` times the bandwidth.

    The values are first summed on ``MODE_FINE_BINS`` bins of that reach, and each bin's
    values weighted at their mean (a pass over the data per call, not per shift: at 1 / 256
    of the bandwidth a bin, the kernel's change across one moves the centre by about
    1e-6 of the bandwidth)."""
    counts, sums = _binned(values, start - 4 * bandwidth, start + 4 * bandwidth)
    means = sums / counts
    centre = start
    weights = np.empty_like(means)
    for _ in range(shifts):
        np.subtract(means, centre, out=weights)
        weights /= bandwidth
        np.square(weights, out=weights)
        weights *= -0.5
        np.exp(weights, out=weights)
        total = float(np.sum(weights * counts))
        if not total > 0:
            break
        moved, centre = centre, float(np.sum(weights * sums) / total)
        if abs(centre - moved) < settled * bandwidth:
            break
    return centre


def _binned(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The count and the sum of the ``values`` in ``[low, high]`` on each of
    ``MODE_FINE_BINS`` equal bins, the empty bins left out."""
    if not high > low:  # (a zero bandwidth: the values equal to ``low``, in one bin)
        inside = values[(values >= low) & (values <= high)]
        return np.full(min(inside.size, 1), float(inside.size)), inside[:1] * inside.size
    counts, sums = binned_counts_sums(values, low, high, MODE_FINE_BINS)
    occupied = counts > 0
    return counts[occupied], sums[occupied]
