# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled search for cold pixels of :mod:`bgsub.kernels.outliers` (no validation: the
caller checks).

A pixel is cold where it lies below the second lowest of its 8 neighbours (5 on an edge; one
with fewer, in a corner, never is) by more than ``sds`` noise standard deviations at that
neighbour's level, the noise being ``sqrt(max(gain * level + offset, 0))``, at least
``floor``, and by more than ``spread`` times what the second highest neighbour lies above
that one (none being NaN). Two passes over the rows, each row on its own: the first counts
a row's cold pixels, the second writes where they are and that neighbour, at the offsets
the counts give (so the order is the rows', whatever the threads)."""

from cython.parallel cimport prange
from libc.math cimport INFINITY, sqrt

from bgsub.kernels._interpolation cimport real

cdef extern from "_outliers.h" nogil:
    Py_ssize_t bgsub_cold_in_row(const double *up, const double *mid, const double *down,
                                Py_ssize_t n, double gain, double offset, double floor2,
                                double sds2, double spread)
    Py_ssize_t bgsub_cold_in_row_f(const float *up, const float *mid, const float *down,
                                  Py_ssize_t n, double gain, double offset, double floor2,
                                  double sds2, double spread)


cdef struct Rule:
    double gain  # the noise model: variance = gain * level + offset, sd at least floor
    double offset
    double floor
    double sds  # cold: below the second lowest neighbour by more than this many sds ...
    double spread  # ... and this many times the neighbours' spread (second highest less it)


cdef struct Around:
    double low  # the lowest neighbour
    double second  # the second lowest
    double upper  # the second highest
    double top  # the highest


cdef inline void _take(double value, Around* around) noexcept nogil:
    """Fold ``value`` into ``around``, without a branch (NaN counts as +infinity)."""
    cdef double v = value if value == value else INFINITY
    cdef double high = v if v > around.low else around.low
    around.second = high if high < around.second else around.second
    around.low = v if v < around.low else around.low
    cdef double under = v if v < around.top else around.top
    around.upper = under if under > around.upper else around.upper
    around.top = v if v > around.top else around.top


cdef inline Around _around(const real[:, ::1] image, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    """The neighbours of pixel ``(i, j)`` (``top``: INFINITY where there are fewer than five,
    in a corner or along a plane one pixel wide: the spread of two others says little);
    inside the plane, ``_outliers.h`` computes the same a row at a time."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], a, b, count = 0
    cdef Around around
    around.low = INFINITY
    around.second = INFINITY
    around.upper = -INFINITY
    around.top = -INFINITY
    for a in range(i - 1, i + 2):
        if a < 0 or a >= n0:
            continue
        for b in range(j - 1, j + 2):
            if b < 0 or b >= n1 or (a == i and b == j):
                continue
            _take(image[a, b], &around)
            count += 1
    if count < 5:
        around.top = INFINITY
    return around


cdef inline bint _is_cold(double value, Around around, Rule rule) noexcept nogil:
    """Whether ``value`` is cold beside ``around`` (compared squared, so without a square
    root: ``sd**2 = max(variance, floor**2)``, the variance clipped at 0)."""
    cdef double gap = around.second - value  # (NaN for a NaN pixel: not cold)
    cdef double variance = rule.gain * around.second + rule.offset
    if variance < rule.floor * rule.floor:
        variance = rule.floor * rule.floor
    return around.top < INFINITY and gap > rule.spread * (around.upper - around.second) \
        and gap * gap > rule.sds * rule.sds * variance


cdef Py_ssize_t _inner_row(const real[:, ::1] image, Py_ssize_t i, Rule rule) noexcept nogil:
    """How many pixels of row ``i`` (not the first or last of the plane) but its two ends
    are cold."""
    cdef Py_ssize_t n1 = image.shape[1]
    cdef double floor2 = rule.floor * rule.floor, sds2 = rule.sds * rule.sds
    if real is float:
        return bgsub_cold_in_row_f(&image[i - 1, 0], &image[i, 0], &image[i + 1, 0],
                                  n1, rule.gain, rule.offset, floor2, sds2, rule.spread)
    else:
        return bgsub_cold_in_row(&image[i - 1, 0], &image[i, 0], &image[i + 1, 0],
                                n1, rule.gain, rule.offset, floor2, sds2, rule.spread)


cdef Py_ssize_t _row(const real[:, ::1] image, Py_ssize_t i, Rule rule, Py_ssize_t* rows,
                     Py_ssize_t* cols, double* values) noexcept nogil:
    """The cold pixels of row ``i``: how many; where ``rows`` is not NULL, also written
    there (and to ``cols``, ``values``)."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], j, found = 0
    cdef Around around
    if rows == NULL and 0 < i < n0 - 1 and n1 > 2:  # (counting: the two ends are left)
        found = _inner_row(image, i, rule)
        found += _is_cold(image[i, 0], _around(image, i, 0), rule)
        found += _is_cold(image[i, n1 - 1], _around(image, i, n1 - 1), rule)
        return found
    for j in range(n1):
        around = _around(image, i, j)
        if _is_cold(image[i, j], around, rule):
            if rows != NULL:
                rows[found] = i
                cols[found] = j
                values[found] = around.second
            found += 1
    return found


cdef Rule _rule(double gain, double offset, double floor, double sds, double spread):
    cdef Rule rule
    rule.gain = gain
    rule.offset = offset
    rule.floor = floor
    rule.sds = sds
    rule.spread = spread
    return rule


def cold_counts_2d(const real[:, ::1] image, double gain, double offset, double floor,
                   double sds, double spread, Py_ssize_t[::1] counts, int nthreads):
    """``counts[i]``: how many pixels of row ``i`` are cold."""
    cdef Py_ssize_t n0 = image.shape[0], i
    cdef Rule rule = _rule(gain, offset, floor, sds, spread)
    for i in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        counts[i] = _row(image, i, rule, NULL, NULL, NULL)


def cold_pixels_2d(const real[:, ::1] image, double gain, double offset, double floor,
                   double sds, double spread, const Py_ssize_t[::1] counts,
                   const Py_ssize_t[::1] starts, Py_ssize_t[::1] rows, Py_ssize_t[::1] cols,
                   double[::1] values, int nthreads):
    """The cold pixels, row after row from ``starts[i]`` (the ``counts``' running sums; rows
    without any are passed over, the others pixel by pixel): their ``rows``, ``cols`` and
    second lowest neighbours (``values``)."""
    cdef Py_ssize_t n0 = image.shape[0], i
    cdef Rule rule = _rule(gain, offset, floor, sds, spread)
    for i in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        if counts[i] > 0:
            _row(image, i, rule, &rows[starts[i]], &cols[starts[i]], &values[starts[i]])


def gradient_magnitude_2d(const double[:, ::1] image, double[:, ::1] out, int nthreads):
    """``out``: ``sqrt(gy * gy + gx * gx)``, ``gy``, ``gx`` ``np.gradient``'s (unit spacing,
    first-order edges: ``(f[i + 1] - f[i - 1]) / 2`` inside, ``f[1] - f[0]`` and ``f[-1] -
    f[-2]`` at the ends) along axes 0 and 1 -- the same operations in the same order, each
    pixel on its own. At least 2 pixels along each axis."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], i, j, up, down, left, right
    cdef double gy, gx, dy, dx, total
    for i in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        up = i - 1 if i > 0 else 0
        down = i + 1 if i < n0 - 1 else n0 - 1
        dy = 2.0 if (i > 0 and i < n0 - 1) else 1.0
        for j in range(n1):
            left = j - 1 if j > 0 else 0
            right = j + 1 if j < n1 - 1 else n1 - 1
            dx = 2.0 if (j > 0 and j < n1 - 1) else 1.0
            gy = (image[down, j] - image[up, j]) / dy
            gx = (image[i, right] - image[i, left]) / dx
            total = gy * gy
            total = total + gx * gx
            out[i, j] = sqrt(total)
