# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.parabola` (no validation: the wrapper checks).

Lines go through in blocks (:func:`envelope_pass`). Where the CPU has AVX-512 or AVX2 a
block of 8 to 16 lines is interleaved and its stacks built point by point in SIMD lanes, then
read out from the top down (:func:`_block16`, ``_parabola.h``); elsewhere, and for narrow
blocks or blocks with a -inf or NaN, each line runs the scalar loop (:func:`_lower_envelope`).
All give the same doubles.

The loop is picked at load time, the best the CPU has (``__builtin_cpu_supports``), and can be
forced with :func:`set_simd` (tests, benchmarks) or, at import, with the environment variable
``BGSUB_PARABOLA_SIMD`` (a level; the highest the CPU has at or below it is used): level 2, AVX-512F/DQ (groups of 8 lanes,
lines moved in and out by 8 x 8 transposes); level 1, AVX2 (the same steps in groups of 4
lanes, 32-bit-index gathers, lines moved in and out by 4 x 4 transposes; CPUs without
AVX-512: most laptops, AMD before Zen 4); level 0, the scalar loop (also off x86-64/GCC).
"""

from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY

import os
import warnings

import numpy as np

cdef extern from "_parabola.h" nogil:
    int bgsub_parabola_set_simd(int level)
    int bgsub_parabola_simd_on()
    int bgsub_parabola_level()
    int bgsub_stacks16(const double* L, double c, Py_ssize_t n, double* prev, double* fprev,
                       double* zprev, double* top, double* ftop, double* ztop,
                       Py_ssize_t width)
    int bgsub_load16_f32(const float* src, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t step,
                         Py_ssize_t width, int negate, double* L)
    int bgsub_load16_f64(const double* src, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t step,
                         Py_ssize_t width, int negate, double* L)
    int bgsub_store16_f32(const double* L, float* dst, Py_ssize_t n, Py_ssize_t stride,
                          Py_ssize_t step, Py_ssize_t width, int negate)
    int bgsub_store16_f64(const double* L, double* dst, Py_ssize_t n, Py_ssize_t stride,
                          Py_ssize_t step, Py_ssize_t width, int negate)
    int bgsub_readout16(double* L, double c, Py_ssize_t n, const double* prev,
                        const double* fprev, const double* zprev, const double* top,
                        const double* ftop, const double* ztop, Py_ssize_t width)



def _level_from_env():
    """``BGSUB_PARABOLA_SIMD`` (0, 1, 2; forces at most that level, e.g. to run the tests at
    each level), else -1 (the best)."""
    value = os.environ.get("BGSUB_PARABOLA_SIMD", "").strip()
    if not value:
        return -1
    if value.lstrip("-").isdigit() and -1 <= int(value) <= 2:
        return int(value)
    warnings.warn(f"BGSUB_PARABOLA_SIMD={value!r} is not a level; using the best loop the CPU "
                  f"has (set 0, 1 or 2, or unset it)", RuntimeWarning, stacklevel=2)
    return -1


bgsub_parabola_set_simd(_level_from_env())


def set_simd(on):
    """Pick the loop: ``True`` the best the CPU has, ``False`` the scalar loop (returns whether
    a SIMD loop is in use), or a level (returns the level granted: the highest the CPU has at
    or below it): 0 the scalar loop, 1 AVX2, 2 AVX-512, -1 the best."""
    if isinstance(on, bool):
        return bgsub_parabola_set_simd(-1 if on else 0) > 0
    return bgsub_parabola_set_simd(int(on))


def current_level():
    """The loop in use: 0 scalar, 1 AVX2, 2 AVX-512 (see :func:`set_simd`)."""
    return bgsub_parabola_level()

ctypedef fused src_t:
    float
    double

ctypedef fused dst_t:
    float
    double

# lines are processed in blocks of this many (neighbours along a strided axis, so that every
# cache line read or written holds block rows): 16 in the AVX-512 loop (its lanes; the rows of
# the contiguous axis in the scalar loop too), 8 along a strided axis in the scalar loop
cdef enum:
    BLOCK = 16
    STRIDED = 8
    # a block of fewer lines than this runs the scalar loop (_block: the AVX-512 loop steps
    # 8 lanes or 16 whatever the lines in them; 6 lines took 10-25 % longer in 8 lanes)
    SIMD_WIDTH = 8
    # the lines past 8 take the second group of 8 lanes when they are this many or more, the
    # scalar loop otherwise (9 lines took 12 % longer in 16 lanes than in 8 + 1 scalar)
    SECOND_GROUP = 3


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
    """Envelope of ``width`` lines of ``n`` points ``stride`` apart, ``step`` apart, src to dst
    (the scalar loop, one line at a time)."""
    cdef Py_ssize_t x, b
    cdef const src_t* row
    cdef dst_t* out
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
    for b in range(width):
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


cdef inline void _block16(const src_t* src, dst_t* dst, Py_ssize_t n, Py_ssize_t stride,
                          Py_ssize_t step, Py_ssize_t width, double c, bint negate_in,
                          bint negate_out, double* lines, double* prev, double* fprev,
                          double* zprev, Py_ssize_t* v, double* z, double* fv) noexcept nogil:
    """:func:`_block` for up to 16 lines with a SIMD loop (``bgsub_stacks16``).

    Only with a SIMD loop on, and ``step`` or ``stride`` 1. The lines are interleaved in
    ``lines`` (16 n; the lanes past ``width`` hold +inf, which never takes part; moved in and
    out by ``bgsub_load16_*`` and ``bgsub_store16_*``); ``prev``, ``fprev``, ``zprev`` (16 n)
    receive the stacks' records, and the envelopes (``bgsub_readout16``) replace the lines,
    then go to ``dst``. A block with a -inf or a NaN runs the scalar loop line by line
    (``fprev`` and ``zprev`` its line and result; ``v``, ``z``, ``fv`` (n + 1) its stack), and
    so do the lines past 8 where they are fewer than ``SECOND_GROUP``.
    """
    cdef Py_ssize_t x, b, lanes
    cdef int special
    cdef double top[BLOCK]
    cdef double ftop[BLOCK]
    cdef double ztop[BLOCK]
    # the lines, interleaved; -inf and NaN looked for on the way
    if src_t is float:
        special = bgsub_load16_f32(src, n, stride, step, width, negate_in, lines)
    else:
        special = bgsub_load16_f64(src, n, stride, step, width, negate_in, lines)
    # a second group of 8 lanes for fewer than SECOND_GROUP lines costs more than they do
    lanes = width if width >= 8 + SECOND_GROUP else 8
    if not special and bgsub_stacks16(lines, c, n, prev, fprev, zprev, top, ftop, ztop, lanes):
        bgsub_readout16(lines, c, n, prev, fprev, zprev, top, ftop, ztop, lanes)
        for b in range(lanes, width):  # the others: the scalar loop, into their lanes
            for x in range(n):
                fprev[x] = lines[BLOCK * x + b]
            _lower_envelope(fprev, c, zprev, v, z, fv, n)
            for x in range(n):
                lines[BLOCK * x + b] = zprev[x]
        if dst_t is float:
            bgsub_store16_f32(lines, dst, n, stride, step, width, negate_out)
        else:
            bgsub_store16_f64(lines, dst, n, stride, step, width, negate_out)
        return
    for b in range(width):
        for x in range(n):
            fprev[x] = lines[BLOCK * x + b]
        _lower_envelope(fprev, c, zprev, v, z, fv, n)
        _write(zprev, n, dst + b * step, stride, negate_out)


cdef inline void _write(const double* values, Py_ssize_t n, dst_t* out, Py_ssize_t stride,
                        bint negate) noexcept nogil:
    """``out[x * stride] = values[x]`` (``0.0 - values[x]`` with ``negate``) in dst's dtype."""
    cdef Py_ssize_t x
    if negate:
        for x in range(n):
            out[x * stride] = <dst_t>(0.0 - values[x])
    else:
        for x in range(n):
            out[x * stride] = <dst_t>values[x]


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
    # the AVX-512 loop where a block may have enough lines for it (see SIMD_WIDTH)
    cdef bint simd = bgsub_parabola_simd_on() and min(n_outer if rows else n_inner,
                                                      BLOCK) >= SIMD_WIDTH
    cdef Py_ssize_t width = BLOCK if rows else min(n_inner, BLOCK if simd else STRIDED)
    cdef Py_ssize_t per_outer = (n_inner + width - 1) // width
    cdef Py_ssize_t units = (n_outer + BLOCK - 1) // BLOCK if rows else n_outer * per_outer
    nthreads = <int>max(1, min(<Py_ssize_t>nthreads, units))
    cdef Py_ssize_t chunk = max(1, units // (8 * nthreads))
    # scratch per thread, allocated here so that running out of memory raises
    # (the AVX-512 loop: the interleaved lines, the records' indices, values and take-over
    # points; the scalar loop: the lines, their results; both: the stack of one line)
    cdef Py_ssize_t per_line = BLOCK * n if simd else width * n
    cdef double[:, ::1] lines = np.empty((nthreads, per_line))
    cdef double[:, ::1] records = np.empty((nthreads, per_line if simd else 1))
    cdef double[:, ::1] results = np.empty((nthreads, per_line))
    cdef double[:, ::1] results2 = np.empty((nthreads, per_line if simd else 1))
    cdef double[:, ::1] takeover = np.empty((nthreads, n + 1))
    cdef Py_ssize_t[:, ::1] vertices = np.empty((nthreads, n + 1), dtype=np.intp)
    cdef double[:, ::1] heights = np.empty((nthreads, n + 1))
    cdef Py_ssize_t unit, o, i0, w, tid, step, stride
    for unit in prange(units, nogil=True, num_threads=nthreads, schedule="dynamic",
                       chunksize=chunk):
        tid = threadid()
        if rows:
            o = unit * BLOCK
            w = min(BLOCK, n_outer - o)
            i0 = 0
            step = n
            stride = 1
        else:
            o = unit // per_outer
            i0 = (unit - o * per_outer) * width
            w = min(width, n_inner - i0)
            step = 1
            stride = n_inner
        if simd and w >= SIMD_WIDTH:
            _block16(&src[o, 0, i0], &dst[o, 0, i0], n, stride, step, w, c, negate_in,
                     negate_out, &lines[tid, 0], &records[tid, 0], &results[tid, 0],
                     &results2[tid, 0], &vertices[tid, 0], &takeover[tid, 0], &heights[tid, 0])
        else:
            _block(&src[o, 0, i0], &dst[o, 0, i0], n, stride, step, w, c, negate_in,
                   negate_out, &lines[tid, 0], &results[tid, 0], &vertices[tid, 0],
                   &takeover[tid, 0], &heights[tid, 0])
