# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.resample` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid

ctypedef fused real:
    float
    double


cdef inline real _step(real low, real high, double weight) noexcept nogil:
    """``low + (high - low) * weight`` as NumPy computes it for arrays of ``real``: the
    difference in ``real``, the product in float64 rounded back to ``real``, the sum in
    ``real``."""
    cdef real diff = high - low
    cdef real part = <real>(<double>diff * weight)
    return low + part


def upsample_2d(const real[:, ::1] cells, const Py_ssize_t[::1] low0, const double[::1] w0,
                const Py_ssize_t[::1] low1, const double[::1] w1, real[:, ::1] out,
                real[:, ::1] rows, int nthreads):
    """``out[y, x]``: linear interpolation of ``cells`` along axis 0 (cell ``low0[y]`` and the
    next, weight ``w0[y]``), then along axis 1 (``low1[x]``, ``w1[x]``); a last cell's step is
    ``last - last``. ``rows`` (``nthreads`` x ``cells.shape[1]``) is scratch."""
    cdef Py_ssize_t n0 = out.shape[0], n1 = out.shape[1], m0 = cells.shape[0]
    cdef Py_ssize_t m1 = cells.shape[1], y, x, j, a, b
    cdef real* row
    if n0 == 0 or n1 == 0:
        return
    for y in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        row = &rows[threadid(), 0]
        a = low0[y]
        b = a + 1 if a + 1 < m0 else a
        for j in range(m1):
            row[j] = _step(cells[a, j], cells[b, j], w0[y])
        for x in range(n1):
            a = low1[x]
            b = a + 1 if a + 1 < m1 else a
            out[y, x] = _step(row[a], row[b], w1[x])
