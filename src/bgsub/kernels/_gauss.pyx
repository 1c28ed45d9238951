# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.gauss` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid

from bgsub.kernels._interpolation cimport real

cdef extern from "_gauss.h" nogil:
    void bgsub_gauss_taps(double *out, Py_ssize_t n, const double *base, Py_ssize_t stride,
                          const Py_ssize_t *idx, Py_ssize_t c, Py_ssize_t r, const double *w)
    void bgsub_gauss_taps_f(double *out, Py_ssize_t n, const float *base, Py_ssize_t stride,
                            const Py_ssize_t *idx, Py_ssize_t c, Py_ssize_t r, const double *w)


def gauss_2d(const real[:, ::1] image, real[:, ::1] out,
             const double[::1] w0, const Py_ssize_t[::1] idx0, bint along0,
             const double[::1] w1, const Py_ssize_t[::1] idx1, const Py_ssize_t[::1] ident1,
             bint along1, double[:, ::1] lines, int nthreads):
    """SciPy's Gaussian filter of a plane, axis 0 then axis 1, a row at a time, in double.

    Along axis 0 (when ``along0``), row ``i`` is the symmetric correlation of the rows
    ``idx0[i + k]`` (``k`` in ``0 .. 2 r0``: the padded rows, the boundary rule in the index;
    ``w0``: the ``r0 + 1`` weights from the centre out) into ``lines[thread]`` between its
    pads; along axis 1 (when ``along1``) the pads of that line are filled by ``idx1``
    (source column of each padded position; -1: zero) and it is correlated into ``out[i]``
    (``ident1``: ``0 .. n1 + 2 r1 - 1``). A float plane is read as doubles and each row
    rounded to float once, at the end (through the second half of its line: ``lines`` has
    ``2 (n1 + 2 r1)`` columns then): the values of the filter of its float64 copy, cast."""
    cdef Py_ssize_t n0 = image.shape[0], n1 = image.shape[1]
    cdef Py_ssize_t r0 = w0.shape[0] - 1, r1 = w1.shape[0] - 1
    cdef Py_ssize_t i, p, s
    cdef double* line
    cdef double* row
    if n0 == 0 or n1 == 0:
        return
    for i in prange(n0, nogil=True, num_threads=nthreads, schedule="static"):
        line = &lines[threadid(), 0]
        if along0:
            if real is double:
                bgsub_gauss_taps(line + r1, n1, &image[0, 0], n1, &idx0[0], i + r0, r0, &w0[0])
            else:
                bgsub_gauss_taps_f(line + r1, n1, &image[0, 0], n1, &idx0[0], i + r0, r0,
                                   &w0[0])
        else:
            for p in range(n1):
                line[r1 + p] = image[i, p]
        if along1:
            for p in range(r1):
                s = idx1[p]
                line[p] = line[r1 + s] if s >= 0 else 0.0
                s = idx1[r1 + n1 + p]
                line[r1 + n1 + p] = line[r1 + s] if s >= 0 else 0.0
            if real is double:
                bgsub_gauss_taps(&out[i, 0], n1, line, 1, &ident1[0], r1, r1, &w1[0])
            else:
                row = line + n1 + 2 * r1
                bgsub_gauss_taps(row, n1, line, 1, &ident1[0], r1, r1, &w1[0])
                for p in range(n1):
                    out[i, p] = <float>row[p]
        else:
            for p in range(n1):
                out[i, p] = <real>line[r1 + p]
