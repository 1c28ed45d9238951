# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled block extremes of :mod:`bgsub.methods.robust` (no validation: the caller checks).

Minima and maxima are exact, so these give NumPy's values whatever the order; the moving
average before the minima is computed as NumPy computes it (each sum and halving in the
array's own dtype). Each block row is reduced line by line into a row of running extremes
(loops the compiler vectorises), then across each block's columns.
"""

from cython.parallel cimport prange, threadid

from bgsub.kernels._interpolation cimport real, upsampled_row


cdef inline real _pair(real a, real b) noexcept nogil:
    """``(a + b) * 0.5`` in ``real`` (as ``pairs += ahead; pairs *= 0.5`` on an array)."""
    cdef real total = a + b
    return total * <real>0.5


cdef inline real _lower(real low, real value) noexcept nogil:
    """``np.minimum(low, value)`` (NaN propagates)."""
    return value if (value < low or value != value) else low


cdef inline real _higher(real high, real value) noexcept nogil:
    """``np.maximum(high, value)`` (NaN propagates)."""
    return value if (value > high or value != value) else high


cdef inline void _fold_row(real* row, real* low, Py_ssize_t n1, bint average1,
                           bint first) noexcept nogil:
    """``row``'s moving average along axis 1 (where ``average1``), folded into the running
    minima ``low`` of its block row (copied where it is the block's ``first`` row)."""
    cdef Py_ssize_t j
    if average1:
        for j in range(n1 - 1):  # ascending: each reads the next, unchanged
            row[j] = _pair(row[j], row[j + 1])
    if first:
        for j in range(n1):
            low[j] = row[j]
    else:
        for j in range(n1):
            low[j] = _lower(low[j], row[j])


cdef inline void _block_minima_of_row(real* low, real* out, Py_ssize_t m1, Py_ssize_t f1,
                                      Py_ssize_t n1) noexcept nogil:
    """``out[b1]``: the minimum of ``low`` over each block of ``f1`` columns (the last may be
    shorter)."""
    cdef Py_ssize_t b1, j, end
    cdef real value
    for b1 in range(m1):
        end = (b1 + 1) * f1
        if end > n1:
            end = n1
        value = low[b1 * f1]
        for j in range(b1 * f1 + 1, end):
            value = _lower(value, low[j])
        out[b1] = value


def block_min_2d(const real[:, ::1] image, Py_ssize_t f0, Py_ssize_t f1, bint average0,
                 bint average1, real[:, ::1] out, real[:, ::1] scratch, int nthreads):
    """``out[b0, b1]``: the minimum over the block of ``f0`` x ``f1`` pixels (the last of an
    axis may be shorter) of ``image``'s 2-pixel moving average along axis 0 (where
    ``average0``: each row with the next, the last row as it is), then along axis 1 (where
    ``average1``). NaN propagates as in ``np.minimum``. ``scratch`` (``2 * nthreads`` x
    ``image.shape[1]``) is scratch."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, i, j, stop
    cdef real* row
    cdef real* low
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        row = &scratch[2 * threadid(), 0]
        low = &scratch[2 * threadid() + 1, 0]
        stop = (b0 + 1) * f0
        if stop > n0:
            stop = n0
        for i in range(b0 * f0, stop):
            if average0 and i + 1 < n0:
                for j in range(n1):
                    row[j] = _pair(image[i, j], image[i + 1, j])
            else:
                for j in range(n1):
                    row[j] = image[i, j]
            _fold_row(row, low, n1, average1, i == b0 * f0)
        _block_minima_of_row(low, &out[b0, 0], m1, f1, n1)


def block_max_2d(const real[:, ::1] image, Py_ssize_t f0, Py_ssize_t f1, double[:, ::1] out,
                 real[:, ::1] scratch, int nthreads):
    """``out[b0, b1]``: the maximum of ``image`` over the block of ``f0`` x ``f1`` pixels (the
    last of an axis may be shorter), as float64. NaN propagates as in ``np.maximum``.
    ``scratch`` (``nthreads`` x ``image.shape[1]``) is scratch."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, b1, i, j, stop, end
    cdef real* high
    cdef real value
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        high = &scratch[threadid(), 0]
        stop = (b0 + 1) * f0
        if stop > n0:
            stop = n0
        for j in range(n1):
            high[j] = image[b0 * f0, j]
        for i in range(b0 * f0 + 1, stop):
            for j in range(n1):
                high[j] = _higher(high[j], image[i, j])
        for b1 in range(m1):
            end = (b1 + 1) * f1
            if end > n1:
                end = n1
            value = high[b1 * f1]
            for j in range(b1 * f1 + 1, end):
                value = _higher(value, high[j])
            out[b0, b1] = value


cdef void _less_row(const real[:, ::1] image, const real[:, ::1] cells, Py_ssize_t i,
                    const Py_ssize_t[::1] low0, const double[::1] w0,
                    const Py_ssize_t[::1] low1, const double[::1] w1, real* cell_row,
                    real* out) noexcept nogil:
    """``out[j] = image[i, j] - up[i, j]``, ``up`` the interpolation of ``cells`` between block
    centres (``upsample_2d``'s values: along axis 0, then axis 1)."""
    cdef Py_ssize_t n1 = image.shape[1], j
    upsampled_row(cells, i, low0, w0, low1, w1, cell_row, out, n1)
    for j in range(n1):
        out[j] = image[i, j] - out[j]


def block_min_less_2d(const real[:, ::1] image, const real[:, ::1] cells,
                      const Py_ssize_t[::1] low0, const double[::1] w0,
                      const Py_ssize_t[::1] low1, const double[::1] w1,
                      Py_ssize_t f0, Py_ssize_t f1, bint average0, bint average1,
                      real[:, ::1] out, real[:, ::1] scratch, real[:, ::1] cell_rows,
                      int nthreads):
    """:func:`block_min_2d` of ``image`` less the interpolation of ``cells`` between block
    centres (``low0``, ``w0``, ``low1``, ``w1``: as for ``upsample_2d``), without that
    difference in memory: each of its rows computed as ``np.subtract(image, upsampled)``
    computes it, once per block row (the row after a block, which the moving average reads,
    twice). ``scratch``: ``4 * nthreads`` x ``image.shape[1]``; ``cell_rows``: ``nthreads`` x
    ``cells.shape[1]``."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, i, j, stop, t
    cdef real* row
    cdef real* low
    cdef real* here
    cdef real* ahead
    cdef real* swap
    cdef real* cell_row
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        t = threadid()
        row = &scratch[4 * t, 0]
        low = &scratch[4 * t + 1, 0]
        here = &scratch[4 * t + 2, 0]
        ahead = &scratch[4 * t + 3, 0]
        cell_row = &cell_rows[t, 0]
        stop = (b0 + 1) * f0
        if stop > n0:
            stop = n0
        _less_row(image, cells, b0 * f0, low0, w0, low1, w1, cell_row, here)
        for i in range(b0 * f0, stop):
            if average0 and i + 1 < n0:
                _less_row(image, cells, i + 1, low0, w0, low1, w1, cell_row, ahead)
                for j in range(n1):
                    row[j] = _pair(here[j], ahead[j])
                swap = here
                here = ahead
                ahead = swap
            else:
                for j in range(n1):
                    row[j] = here[j]
            _fold_row(row, low, n1, average1, i == b0 * f0)
        _block_minima_of_row(low, &out[b0, 0], m1, f1, n1)


ctypedef fused anyreal:
    unsigned char
    signed char
    unsigned short
    short
    unsigned int
    int
    float
    double


cdef double _pairwise(const double* a, Py_ssize_t n) noexcept nogil:
    """NumPy's pairwise float sum of ``a[0 .. n - 1]`` as :func:`bgsub._arrays.pairwise_sum`
    replays it: below 8 terms in order, up to 128 in 8 partial sums, beyond that split in two
    (the first half a multiple of 8)."""
    cdef Py_ssize_t i, j, whole, half
    cdef double total
    cdef double p[8]
    if n < 8:
        total = a[0]
        for i in range(1, n):
            total = total + a[i]
        return total
    if n <= 128:
        for j in range(8):
            p[j] = a[j]
        whole = n - n % 8
        i = 8
        while i < whole:
            for j in range(8):
                p[j] = p[j] + a[i + j]
            i = i + 8
        total = (p[0] + p[1]) + (p[2] + p[3])
        total = total + ((p[4] + p[5]) + (p[6] + p[7]))
        for i in range(whole, n):
            total = total + a[i]
        return total
    half = n // 2
    half = half - half % 8
    total = _pairwise(a, half)
    return total + _pairwise(a + half, n - half)


def block_mean_2d(const anyreal[:, ::1] plane, Py_ssize_t step, bint negate, double[:, ::1] out,
                  double[:, ::1] scratch, int nthreads):
    """``out[b0, b1]``: the mean of the whole ``step`` x ``step`` block of ``plane`` read as
    float64 (negated where ``negate``), as ``bgsub.auto._block_mean`` computes it: each of the
    block's rows summed pairwise along the row, the first plus 0.0, the others added in order,
    the total divided by ``step * step``. ``scratch``: ``2 * nthreads`` x ``out.shape[1] *
    step``."""
    cdef Py_ssize_t m0 = out.shape[0], m1 = out.shape[1], cols = m1 * step, b0, b1, k, j, t
    cdef double* line
    cdef double* acc
    cdef double area = <double>(step * step)
    cdef double total
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        t = threadid()
        line = &scratch[2 * t, 0]
        acc = &scratch[2 * t + 1, 0]
        for k in range(step):
            if negate:
                for j in range(cols):
                    line[j] = -(<double>plane[b0 * step + k, j])
            else:
                for j in range(cols):
                    line[j] = <double>plane[b0 * step + k, j]
            if step < 8:  # (the pairwise sum's first case, inline: in order)
                for b1 in range(m1):
                    total = line[b1 * step]
                    for j in range(b1 * step + 1, (b1 + 1) * step):
                        total = total + line[j]
                    acc[b1] = total + 0.0 if k == 0 else acc[b1] + total
            elif k == 0:
                for b1 in range(m1):
                    acc[b1] = _pairwise(line + b1 * step, step) + 0.0
            else:
                for b1 in range(m1):
                    acc[b1] = acc[b1] + _pairwise(line + b1 * step, step)
        for b1 in range(m1):
            out[b0, b1] = acc[b1] / area


cdef real _pairwise_down(const real[:, ::1] image, Py_ssize_t first, Py_ssize_t n,
                         Py_ssize_t j) noexcept nogil:
    """``image[first .. first + n - 1, j]`` summed in ``real`` as
    :func:`bgsub._arrays.pairwise_sum` adds whole rows: below 8 terms in order, up to 128 in
    8 partial sums, beyond that split in two (the first half a multiple of 8)."""
    cdef Py_ssize_t i, k, whole, half
    cdef real total
    cdef real p[8]
    if n < 8:
        total = image[first, j]
        for i in range(first + 1, first + n):
            total = total + image[i, j]
        return total
    if n <= 128:
        for k in range(8):
            p[k] = image[first + k, j]
        whole = n - n % 8
        i = 8
        while i < whole:
            for k in range(8):
                p[k] = p[k] + image[first + i + k, j]
            i = i + 8
        total = (p[0] + p[1]) + (p[2] + p[3])
        total = total + ((p[4] + p[5]) + (p[6] + p[7]))
        for i in range(whole, n):
            total = total + image[first + i, j]
        return total
    half = n // 2
    half = half - half % 8
    total = _pairwise_down(image, first, half, j)
    return total + _pairwise_down(image, first + half, n - half, j)


def block_mean_by_axis_2d(const real[:, ::1] image, Py_ssize_t f0, Py_ssize_t f1,
                          double[:, ::1] out, real[:, ::1] sums, double[:, ::1] means,
                          int nthreads):
    """``out[b0, b1]``: the mean of ``image`` over the block of ``f0`` x ``f1`` pixels (the last
    of an axis may be shorter) as ``bgsub.methods._robust_blocks.block_mean`` takes it: each
    block row's rows added in ``real`` (the first plus the pairwise sum of the others), divided
    by their count in float64; then each block's columns of that added as ``np.add.reduceat``
    adds them (the first plus NumPy's pairwise sum of the others) and divided by their count.
    ``sums`` (``nthreads`` x ``image.shape[1]``, ``real``) and ``means`` (the same, float64)
    are scratch."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, b1, i, j, t, start, stop, size, end
    cdef real* added
    cdef double* line
    cdef double total
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        t = threadid()
        added = &sums[t, 0]
        line = &means[t, 0]
        start = b0 * f0
        stop = start + f0
        if stop > n0:
            stop = n0
        size = stop - start
        if size == 1:
            for j in range(n1):
                line[j] = <double>image[start, j]
        elif size <= 8:  # (the others' pairwise sum below 8 terms: in order, a row at a time)
            for j in range(n1):
                added[j] = image[start + 1, j]
            for i in range(start + 2, stop):
                for j in range(n1):
                    added[j] = added[j] + image[i, j]
            for j in range(n1):
                added[j] = image[start, j] + added[j]
                line[j] = <double>added[j] / <double>size
        else:
            for j in range(n1):
                added[j] = image[start, j] + _pairwise_down(image, start + 1, size - 1, j)
                line[j] = <double>added[j] / <double>size
        for b1 in range(m1):
            end = (b1 + 1) * f1
            if end > n1:
                end = n1
            total = line[b1 * f1]
            if end - b1 * f1 > 1:
                total = total + _pairwise(line + b1 * f1 + 1, end - b1 * f1 - 1)
            out[b0, b1] = total / <double>(end - b1 * f1)
