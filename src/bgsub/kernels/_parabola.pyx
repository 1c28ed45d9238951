# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.parabola` (no validation: the wrapper checks)."""

from cython.parallel cimport prange
from libc.math cimport INFINITY

import numpy as np


cdef void _lower_envelope(double* f, double c, double* out, Py_ssize_t* v, double* z,
                          Py_ssize_t n) noexcept nogil:
    """``out[x] = min_q f[q] + c * (x - q) ** 2`` for one line, in O(n).

    ``v`` and ``z`` (length n + 1) are scratch: the envelope's parabola vertices and the
    points where each takes over.
    """
    cdef Py_ssize_t k = -1, q, p, x, j
    cdef double fq, s, diff, d, a
    for q in range(n):
        fq = f[q]
        if fq == INFINITY:
            continue
        if fq == -INFINITY:
            for x in range(n):
                out[x] = -INFINITY
            return
        s = -INFINITY
        while k >= 0:
            p = v[k]
            diff = fq - f[p]
            s = 0.5 * <double>(q + p)
            if diff != 0.0:
                s += diff / (2.0 * c * <double>(q - p))
            if s <= z[k]:
                k -= 1
            else:
                break
        if k < 0:
            s = -INFINITY
        k += 1
        v[k] = q
        z[k] = s
    if k < 0:
        for x in range(n):
            out[x] = INFINITY
        return
    z[k + 1] = INFINITY
    j = 0
    for x in range(n):
        while z[j + 1] < <double>x:
            j += 1
        d = <double>(x - v[j])
        # the take-over points are rounded: near a tie the chosen parabola may beat f[x]
        # by less than an ulp of the values, which must not put the erosion above f
        a = f[v[j]] + c * d * d
        out[x] = f[x] if f[x] < a else a


def envelope_axis(double[:, :, ::1] work, double c, int nthreads):
    """Apply the 1D lower envelope in place along axis 1 of a C-contiguous float64 array."""
    cdef Py_ssize_t n_outer = work.shape[0], n = work.shape[1], n_inner = work.shape[2]
    cdef Py_ssize_t n_lines = n_outer * n_inner
    if n_lines == 0 or n == 0:
        return
    cdef Py_ssize_t nchunks = max(1, min(n_lines, 4 * nthreads))
    cdef Py_ssize_t per = (n_lines + nchunks - 1) // nchunks
    # scratch rows per chunk, allocated here so that running out of memory raises
    cdef double[:, ::1] lines = np.empty((nchunks, n))
    cdef double[:, ::1] results = np.empty((nchunks, n))
    cdef double[:, ::1] takeover = np.empty((nchunks, n + 1))
    cdef Py_ssize_t[:, ::1] vertices = np.empty((nchunks, n), dtype=np.intp)
    cdef Py_ssize_t chunk, li, o, i, x
    for chunk in prange(nchunks, nogil=True, num_threads=nthreads, schedule="dynamic"):
        for li in range(chunk * per, min(n_lines, (chunk + 1) * per)):
            o = li // n_inner
            i = li % n_inner
            for x in range(n):
                lines[chunk, x] = work[o, x, i]
            _lower_envelope(&lines[chunk, 0], c, &results[chunk, 0], &vertices[chunk, 0],
                            &takeover[chunk, 0], n)
            for x in range(n):
                work[o, x, i] = results[chunk, x]
