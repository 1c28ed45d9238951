# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.resample` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid

from bgsub.kernels._interpolation cimport real, upsampled_row


def upsample_2d(const real[:, ::1] cells, const Py_ssize_t[::1] low0, const double[::1] w0,
                const Py_ssize_t[::1] low1, const double[::1] w1, real[:, ::1] out,
                real[:, ::1] rows, int nthreads):
    """``out[y, x]``: linear interpolation of ``cells`` along axis 0 (cell ``low0[y]`` and the
    next, weight ``w0[y]``), then along axis 1 (``low1[x]``, ``w1[x]``); a last cell's step is
    ``last - last``. ``rows`` (``nthreads`` x ``cells.shape[1]``) is scratch."""
    cdef Py_ssize_t n0 = out.shape[0], n1 = out.shape[1]
    cdef Py_ssize_t y
    if n0 == 0 or n1 == 0:
        return
    for y in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        upsampled_row(cells, y, low0, w0, low1, w1, &rows[threadid(), 0], &out[y, 0], n1)
