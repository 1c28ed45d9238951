# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.parabola` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY

import numpy as np

cdef extern from "_parabola.h" nogil:
    int bgsub_parabola_set_simd(int on)
    int bgsub_envelopes8(const double* f, double c, Py_ssize_t n, Py_ssize_t* v, double* z,
                         double* fv, Py_ssize_t* k)
    int bgsub_envelopes16(const double* f, double c, Py_ssize_t n, Py_ssize_t* v, double* z,
                          double* fv, Py_ssize_t* k)

bgsub_parabola_set_simd(-1)


def set_simd(int on):
    """Use the AVX-512 loop where the CPU has it (``on`` -1), never (0); returns whether used."""
    return bool(bgsub_parabola_set_simd(-1 if on else 0))

ctypedef fused src_t:
    float
    double

ctypedef fused dst_t:
    float
    double

# lines are processed in blocks of this many (neighbours along a strided axis, so that every
# cache line read or written holds block rows), their stacks stepped together in SIMD lanes
cdef enum:
    BLOCK = 16
    LANES = 8
    STRIDED = 8


cdef void _lower_envelope(const double* f, double c, double* out, Py_ssize_t* v, double* z,
                          double* fv, Py_ssize_t n) noexcept nogil:
    """``out[x] = min_q f[q] + c * (x - q) ** 2`` for one line, in O(n).

    ``v``, ``z`` and ``fv`` (length n + 1) are scratch: the envelope's parabola vertices,
    the points where each takes over and the values at the vertices.
    """
    cdef Py_ssize_t k = -1, q, p, x
    cdef double fq, s
    cdef double c2 = 2.0 * c
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
            # when fq == fv[k] the quotient is +0.0 and s + 0.0 == s (s > 0): no branch needed
            s = 0.5 * <double>(q + p) + (fq - fv[k]) / (c2 * <double>(q - p))
            if s <= z[k]:
                k -= 1
            else:
                break
        if k < 0:
            s = -INFINITY
        k += 1
        v[k] = q
        z[k] = s
        fv[k] = fq
    _read_out(f, c, out, v, z, fv, k, n)


cdef void _read_out(const double* f, double c, double* out, const Py_ssize_t* v, double* z,
                    const double* fv, Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    """Write the envelope of the ``k + 1`` parabolas on the stack (``z`` length k + 2)."""
    cdef Py_ssize_t x, j, end, vj
    cdef double d, a, zj, fj
    if k < 0:
        for x in range(n):
            out[x] = INFINITY
        return
    z[k + 1] = INFINITY
    # parabola j serves the pixels x (from where j - 1 stopped) with not z[j + 1] < x: up
    # to floor(z[j + 1]), all the rest for +inf or NaN; a branch-free loop for each run
    x = 0
    j = 0
    while j <= k and x < n:
        zj = z[j + 1]
        if not (zj < <double>(n - 1)):
            end = n
        elif zj < <double>x:
            j += 1
            continue
        else:
            end = <Py_ssize_t>zj + 1  # 0 <= x <= zj: truncation is floor
        vj = v[j]
        fj = fv[j]
        while x < end:
            d = <double>(x - vj)
            # the take-over points are rounded: near a tie the chosen parabola may beat
            # f[x] by less than an ulp of the values, which must not put the erosion above f
            a = fj + c * d * d
            out[x] = f[x] if f[x] < a else a
            x += 1
        j += 1


cdef inline void _block(const src_t* src, dst_t* dst, Py_ssize_t n, Py_ssize_t stride,
                        Py_ssize_t step, Py_ssize_t width, double c, bint negate_in,
                        bint negate_out, double* lines, double* results, Py_ssize_t* v,
                        double* z, double* fv) noexcept nogil:
    """Envelope of ``width`` lines of ``n`` points ``stride`` apart, ``step`` apart, src to dst."""
    cdef Py_ssize_t x, b
    cdef const src_t* row
    cdef dst_t* out
    cdef bint minus_inf = False
    cdef Py_ssize_t done
    cdef Py_ssize_t tops[2 * LANES]
    if step == 1:  # neighbouring lines: each cache line holds a row of the block
        for x in range(n):
            row = src + x * stride
            if negate_in:
                for b in range(width):
                    lines[b * n + x] = -<double>row[b]
            else:
                for b in range(width):
                    lines[b * n + x] = <double>row[b]
    else:
        for b in range(width):
            row = src + b * step
            if negate_in:
                for x in range(n):
                    lines[b * n + x] = -<double>row[x * stride]
            else:
                for x in range(n):
                    lines[b * n + x] = <double>row[x * stride]
    for x in range(width * n):
        minus_inf |= lines[x] == -INFINITY
    done = 0
    if not minus_inf:
        if width >= 2 * LANES and bgsub_envelopes16(lines, c, n, v, z, fv, tops):
            done = 2 * LANES
        elif width >= LANES and bgsub_envelopes8(lines, c, n, v, z, fv, tops):
            done = LANES
        for b in range(done):
            _read_out(lines + b * n, c, results + b * n, v + b * (n + 1), z + b * (n + 1),
                      fv + b * (n + 1), tops[b], n)
    for b in range(done, width):
        _lower_envelope(lines + b * n, c, results + b * n, v, z, fv, n)
    if step == 1:
        for x in range(n):
            out = dst + x * stride
            if negate_out:
                for b in range(width):
                    out[b] = <dst_t>(0.0 - results[b * n + x])
            else:
                for b in range(width):
                    out[b] = <dst_t>results[b * n + x]
    else:
        for b in range(width):
            out = dst + b * step
            if negate_out:
                for x in range(n):
                    out[x * stride] = <dst_t>(0.0 - results[b * n + x])
            else:
                for x in range(n):
                    out[x * stride] = <dst_t>results[b * n + x]

def envelope_pass(src_t[:, :, ::1] src, dst_t[:, :, ::1] dst, double c, bint negate_in,
                  bint negate_out, int nthreads):
    """Lower envelope along axis 1 of ``src`` (negated if ``negate_in``) into ``dst``.

    Arithmetic in float64; ``dst`` receives the envelope, or ``0.0 - envelope`` with
    ``negate_out``, rounded to its dtype. ``dst`` may be ``src`` itself.
    """
    cdef Py_ssize_t n_outer = src.shape[0], n = src.shape[1], n_inner = src.shape[2]
    if n_outer == 0 or n == 0 or n_inner == 0:
        return
    # lines along the contiguous axis (n_inner == 1) are grouped BLOCK consecutive rows
    # at a time; otherwise BLOCK neighbouring lines of one outer index
    cdef bint rows = n_inner == 1
    cdef Py_ssize_t width = BLOCK if rows else min(n_inner, STRIDED)
    cdef Py_ssize_t per_outer = (n_inner + width - 1) // width
    cdef Py_ssize_t units = (n_outer + BLOCK - 1) // BLOCK if rows else n_outer * per_outer
    nthreads = <int>max(1, min(<Py_ssize_t>nthreads, units))
    cdef Py_ssize_t chunk = max(1, units // (8 * nthreads))
    # scratch per thread, allocated here so that running out of memory raises
    cdef double[:, ::1] lines = np.empty((nthreads, width * n))
    cdef double[:, ::1] results = np.empty((nthreads, width * n))
    cdef double[:, ::1] takeover = np.empty((nthreads, BLOCK * (n + 1)))
    cdef Py_ssize_t[:, ::1] vertices = np.empty((nthreads, BLOCK * (n + 1)), dtype=np.intp)
    cdef double[:, ::1] heights = np.empty((nthreads, BLOCK * (n + 1)))
    cdef Py_ssize_t unit, o, i0, w, tid
    for unit in prange(units, nogil=True, num_threads=nthreads, schedule="dynamic",
                       chunksize=chunk):
        tid = threadid()
        if rows:
            o = unit * BLOCK
            w = min(BLOCK, n_outer - o)
            _block(&src[o, 0, 0], &dst[o, 0, 0], n, 1, n, w, c, negate_in, negate_out,
                   &lines[tid, 0], &results[tid, 0], &vertices[tid, 0], &takeover[tid, 0],
                   &heights[tid, 0])
        else:
            o = unit // per_outer
            i0 = (unit - o * per_outer) * width
            w = min(width, n_inner - i0)
            _block(&src[o, 0, i0], &dst[o, 0, i0], n, n_inner, 1, w, c, negate_in,
                   negate_out, &lines[tid, 0], &results[tid, 0], &vertices[tid, 0],
                   &takeover[tid, 0], &heights[tid, 0])
