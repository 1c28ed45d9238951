# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled block extremes of :mod:`bgsub.methods.robust` (no validation: the caller checks).

Minima and maxima are exact, so these give NumPy's values whatever the order; the moving
average before the minima is computed as NumPy computes it (each sum and halving in the
array's own dtype).
"""

from cython.parallel cimport prange, threadid

ctypedef fused real:
    float
    double


cdef inline real _pair(real a, real b) noexcept nogil:
    """``(a + b) * 0.5`` in ``real`` (as ``pairs += ahead; pairs *= 0.5`` on an array)."""
    cdef real total = a + b
    return total * <real>0.5


def block_min_2d(const real[:, ::1] image, Py_ssize_t f0, Py_ssize_t f1, bint average0,
                 bint average1, real[:, ::1] out, real[:, ::1] rows, int nthreads):
    """``out[b0, b1]``: the minimum over the block of ``f0`` x ``f1`` pixels (the last of an
    axis may be shorter) of ``image``'s 2-pixel moving average along axis 0 (where
    ``average0``: each row with the next, the last row as it is), then along axis 1 (where
    ``average1``). NaN propagates as in ``np.minimum``. ``rows`` (``nthreads`` x
    ``image.shape[1]``) is scratch."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, b1, i, j, stop, end
    cdef real* row
    cdef real value, low
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        row = &rows[threadid(), 0]
        stop = (b0 + 1) * f0
        if stop > n0:
            stop = n0
        for j in range(m1):
            out[b0, j] = <real>1.0 / <real>0.0  # +inf: every value is at most this
        for i in range(b0 * f0, stop):
            if average0 and i + 1 < n0:
                for j in range(n1):
                    row[j] = _pair(image[i, j], image[i + 1, j])
            else:
                for j in range(n1):
                    row[j] = image[i, j]
            for b1 in range(m1):
                low = out[b0, b1]
                end = (b1 + 1) * f1
                if end > n1:
                    end = n1
                for j in range(b1 * f1, end):
                    if average1 and j + 1 < n1:
                        value = _pair(row[j], row[j + 1])
                    else:
                        value = row[j]
                    if value < low or value != value:
                        low = value
                out[b0, b1] = low


def block_max_2d(const real[:, ::1] image, Py_ssize_t f0, Py_ssize_t f1, double[:, ::1] out,
                 int nthreads):
    """``out[b0, b1]``: the maximum of ``image`` over the block of ``f0`` x ``f1`` pixels (the
    last of an axis may be shorter), as float64. NaN propagates as in ``np.maximum``."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1], m0 = out.shape[0]
    cdef Py_ssize_t m1 = out.shape[1], b0, b1, i, j, stop, end
    cdef double value, high
    if n0 == 0 or n1 == 0:
        return
    for b0 in prange(m0, nogil=True, num_threads=nthreads, schedule="static"):
        stop = (b0 + 1) * f0
        if stop > n0:
            stop = n0
        for j in range(m1):
            out[b0, j] = -1.0 / 0.0
        for i in range(b0 * f0, stop):
            for b1 in range(m1):
                high = out[b0, b1]
                end = (b1 + 1) * f1
                if end > n1:
                    end = n1
                for j in range(b1 * f1, end):
                    value = image[i, j]
                    if value > high or value != value:
                        high = value
                out[b0, b1] = high
