# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.polynomial` (no validation: the wrapper checks)."""

from cython.parallel cimport prange

cdef extern from "_polynomial.h" nogil:
    void bgsub_add_term(double *row, const double *x, Py_ssize_t n, double c, int k)


def polynomial_plane(const double[:, ::1] columns, const double[:, ::1] rows,
                     const double[::1] x, const int[::1] times, double[:, ::1] out,
                     int nthreads):
    """``out[i, j]``: from 0, term ``t`` after term added in order, each as NumPy computes
    it: ``rows[t, j]`` where ``times[t] < 0`` (a row, or a scalar spread along one);
    ``columns[t, i]`` where ``times[t] == 0``; else ``columns[t, i] * x[j]``, multiplied by
    ``x[j]`` ``times[t] - 1`` more times."""
    cdef Py_ssize_t n0 = out.shape[0], n1 = out.shape[1], terms = times.shape[0]
    cdef Py_ssize_t i, j, t
    cdef double c
    cdef double* row
    if n0 == 0 or n1 == 0:
        return
    for i in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        row = &out[i, 0]
        for j in range(n1):
            row[j] = 0.0
        for t in range(terms):
            if times[t] < 0:
                for j in range(n1):
                    row[j] = row[j] + rows[t, j]
            elif times[t] == 0:
                c = columns[t, i]
                for j in range(n1):
                    row[j] = row[j] + c
            else:
                bgsub_add_term(row, &x[0], n1, columns[t, i], times[t])
