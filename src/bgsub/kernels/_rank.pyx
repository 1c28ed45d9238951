# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.rank` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memset

import numpy as np

ctypedef fused rank_t:
    uint16_t
    int32_t

ctypedef fused acc_t:
    int64_t
    double

cdef extern from *:
    """
    /* acc[i] += hi[i] - lo[i], vectorised for the widest SIMD the CPU has (chosen at load
       time where the toolchain supports it); element by element, so any width gives the
       same bits */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define BGSUB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
    #else
    #define BGSUB_SIMD_CLONES
    #endif
    #define BGSUB_ADD_DIFF(NAME, T) \
    BGSUB_SIMD_CLONES static void NAME( \
        T *restrict acc, const T *restrict hi, const T *restrict lo, Py_ssize_t n) { \
        for (Py_ssize_t i = 0; i < n; i++) acc[i] += hi[i] - lo[i]; \
    } \
    BGSUB_SIMD_CLONES static void NAME##2( \
        T *restrict acc, const T *restrict hi, const T *restrict lo, const T *restrict hi2, \
        const T *restrict lo2, Py_ssize_t n) { \
        for (Py_ssize_t i = 0; i < n; i++) acc[i] = (acc[i] + (hi[i] - lo[i])) + (hi2[i] - lo2[i]); \
    }
    BGSUB_ADD_DIFF(bgsub_add_diff_i64, int64_t)
    BGSUB_ADD_DIFF(bgsub_add_diff_f64, double)
    """
    void bgsub_add_diff_i64(int64_t* acc, const int64_t* hi, const int64_t* lo,
                            Py_ssize_t n) noexcept nogil
    void bgsub_add_diff_f64(double* acc, const double* hi, const double* lo,
                            Py_ssize_t n) noexcept nogil
    void bgsub_add_diff_i642(int64_t* acc, const int64_t* hi, const int64_t* lo,
                             const int64_t* hi2, const int64_t* lo2, Py_ssize_t n) noexcept nogil
    void bgsub_add_diff_f642(double* acc, const double* hi, const double* lo,
                             const double* hi2, const double* lo2, Py_ssize_t n) noexcept nogil


# ---------------------------------------------------------------------------
# Median: sliding histogram of ranks
# ---------------------------------------------------------------------------


cdef inline Py_ssize_t _move(const rank_t* p, Py_ssize_t c, const int64_t* add,
                             const int64_t* rem, Py_ssize_t m, int32_t* fine, int32_t* coarse,
                             Py_ssize_t t, Py_ssize_t below, bint track) noexcept nogil:
    """Apply one window move; return the updated count of elements below bin ``t``."""
    cdef Py_ssize_t s, a, r
    if track:
        for s in range(m):
            a = p[c + add[s]]
            r = p[c + rem[s]]
            fine[a] += 1
            fine[r] -= 1
            if (a >> 8) != (r >> 8):
                coarse[a >> 8] += 1
                coarse[r >> 8] -= 1
            below += <Py_ssize_t>(a < t) - <Py_ssize_t>(r < t)
    else:
        for s in range(m):
            a = p[c + add[s]]
            r = p[c + rem[s]]
            fine[a] += 1
            fine[r] -= 1
            below += <Py_ssize_t>(a < t) - <Py_ssize_t>(r < t)
    return below


cdef inline Py_ssize_t _block_sum(const int32_t* h, Py_ssize_t start) noexcept nogil:
    """Sum of the 256 counts ``h[start : start + 256]``."""
    cdef Py_ssize_t total = 0, i
    for i in range(256):
        total += h[start + i]
    return total


cdef inline Py_ssize_t _seek(const int32_t* fine, const int32_t* coarse, Py_ssize_t t,
                             Py_ssize_t* below_ptr, Py_ssize_t rank, bint track) noexcept nogil:
    """Move bin ``t`` until ``below <= rank < below + fine[t]`` (``below`` = count < t).

    Steps of single bins, 256-bin blocks and (with a tracked ``coarse``) 65536-bin
    super-blocks; returns the new ``t`` and updates ``*below_ptr``.
    """
    cdef Py_ssize_t below = below_ptr[0], n
    while below > rank:
        if (t & 255) == 0 and t > 0:
            if track:
                if (t & 65535) == 0:
                    n = _block_sum(coarse, (t >> 8) - 256)
                    if below - n > rank:
                        below -= n
                        t -= 65536
                        continue
                n = coarse[(t >> 8) - 1]
            else:
                n = _block_sum(fine, t - 256)
            if below - n > rank:
                below -= n
                t -= 256
                continue
        t -= 1
        below -= fine[t]
    while below + fine[t] <= rank:
        if (t & 255) == 0:
            if track:
                if (t & 65535) == 0:
                    n = _block_sum(coarse, t >> 8)
                    if below + n <= rank:
                        below += n
                        t += 65536
                        continue
                n = coarse[t >> 8]
            else:
                n = _block_sum(fine, t)
            if below + n <= rank:
                below += n
                t += 256
                continue
        below += fine[t]
        t += 1
    below_ptr[0] = below
    return t


cdef inline void _snake(const rank_t* p, rank_t* o, Py_ssize_t c, Py_ssize_t px,
                        Py_ssize_t rows, Py_ssize_t nx, Py_ssize_t rank,
                        const int64_t* every, Py_ssize_t n_every,
                        const int64_t* right_add, const int64_t* right_rem,
                        const int64_t* left_add, const int64_t* left_rem, Py_ssize_t m_x,
                        const int64_t* down_add, const int64_t* down_rem, Py_ssize_t m_y,
                        int32_t* fine, int32_t* coarse, bint track) noexcept nogil:
    """Median of ``rows`` output rows of ``nx`` pixels (at ``o``), walked in a snake order.

    ``c`` is the padded linear index of the first pixel; ``fine`` and ``coarse`` are zeroed.
    """
    cdef Py_ssize_t s, v, x, y, t = 0, below = 0
    for s in range(n_every):
        v = p[c + every[s]]
        fine[v] += 1
        if track:
            coarse[v >> 8] += 1
    for y in range(rows):
        if y % 2 == 0:
            for x in range(nx):
                if x > 0:
                    below = _move(p, c, right_add, right_rem, m_x, fine, coarse, t, below, track)
                    c += 1
                t = _seek(fine, coarse, t, &below, rank, track)
                o[y * nx + x] = <rank_t>t
        else:
            for x in range(nx - 1, -1, -1):
                if x < nx - 1:
                    below = _move(p, c, left_add, left_rem, m_x, fine, coarse, t, below, track)
                    c -= 1
                t = _seek(fine, coarse, t, &below, rank, track)
                o[y * nx + x] = <rank_t>t
        if y + 1 < rows:
            below = _move(p, c, down_add, down_rem, m_y, fine, coarse, t, below, track)
            c += px


def median_tiles(rank_t[:, :, ::1] padded, rank_t[:, :, ::1] out, Py_ssize_t nbins,
                 Py_ssize_t rank, Py_ssize_t pad_z, Py_ssize_t pad_y, Py_ssize_t pad_x,
                 const int64_t[::1] every, const int64_t[::1] right_add,
                 const int64_t[::1] right_rem, const int64_t[::1] left_add,
                 const int64_t[::1] left_rem, const int64_t[::1] down_add,
                 const int64_t[::1] down_rem, Py_ssize_t by, int nthreads):
    """Sliding-histogram rank filter of ``padded`` ranks into ``out``, tiles of ``by`` rows."""
    cdef Py_ssize_t nz = out.shape[0], ny = out.shape[1], nx = out.shape[2]
    cdef Py_ssize_t py = padded.shape[1], px = padded.shape[2]
    if nz == 0 or ny == 0 or nx == 0:
        return
    cdef Py_ssize_t nty = (ny + by - 1) // by
    cdef Py_ssize_t ntiles = nz * nty
    nthreads = <int>max(1, min(<Py_ssize_t>nthreads, ntiles))
    # fine bins padded to whole 256-blocks; coarse (256-bin block counts) padded to whole
    # 256-entry super-blocks, tracked only when there are more than 65536 bins
    cdef bint track = nbins > 65536
    cdef Py_ssize_t nfine = ((nbins + 255) >> 8) << 8
    cdef Py_ssize_t ncoarse = ((((nfine >> 8) + 255) >> 8) << 8) if track else 1
    # one histogram per thread, allocated here so that running out of memory raises
    cdef int32_t[:, ::1] fine = np.empty((nthreads, nfine), dtype=np.int32)
    cdef int32_t[:, ::1] coarse = np.empty((nthreads, ncoarse), dtype=np.int32)
    cdef Py_ssize_t tile, z, y0, rows, c, tid
    for tile in prange(ntiles, nogil=True, num_threads=nthreads, schedule="dynamic",
                       chunksize=1):
        tid = threadid()
        z = tile // nty
        y0 = (tile - z * nty) * by
        rows = min(ny, y0 + by) - y0
        memset(&fine[tid, 0], 0, nfine * sizeof(int32_t))
        memset(&coarse[tid, 0], 0, ncoarse * sizeof(int32_t))
        c = ((z + pad_z) * py + (y0 + pad_y)) * px + pad_x
        if track:
            _snake(&padded[0, 0, 0], &out[z, y0, 0], c, px, rows, nx, rank,
                   &every[0], every.shape[0], &right_add[0], &right_rem[0], &left_add[0],
                   &left_rem[0], right_add.shape[0], &down_add[0], &down_rem[0],
                   down_add.shape[0], &fine[tid, 0], &coarse[tid, 0], True)
        else:
            _snake(&padded[0, 0, 0], &out[z, y0, 0], c, px, rows, nx, rank,
                   &every[0], every.shape[0], &right_add[0], &right_rem[0], &left_add[0],
                   &left_rem[0], right_add.shape[0], &down_add[0], &down_rem[0],
                   down_add.shape[0], &fine[tid, 0], &coarse[tid, 0], False)


# ---------------------------------------------------------------------------
# Mean: footprint row sums from prefix sums
# ---------------------------------------------------------------------------


def segment_sums(acc_t[:, :, ::1] prefix, acc_t[:, :, ::1] out, const int64_t[::1] rows_dz,
                 const int64_t[::1] rows_dy, const int64_t[::1] rows_w, Py_ssize_t pad_z,
                 Py_ssize_t pad_y, Py_ssize_t pad_x, int nthreads):
    """``out[z, y, x]`` = sum over footprint rows of the padded row sums (prefix diffs)."""
    cdef Py_ssize_t nz = out.shape[0], ny = out.shape[1], nx = out.shape[2]
    cdef Py_ssize_t nrows = nz * ny
    if nrows == 0 or nx == 0:
        return
    cdef Py_ssize_t nseg = rows_dz.shape[0]
    cdef Py_ssize_t zy, z, y, s, x
    cdef acc_t* orow
    cdef const acc_t* hi
    cdef const acc_t* lo
    cdef const acc_t* hi2
    cdef const acc_t* lo2
    for zy in prange(nrows, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=4):
        z = zy // ny
        y = zy - z * ny
        orow = &out[z, y, 0]
        for x in range(nx):
            orow[x] = 0
        # two footprint rows per sweep (same additions in the same order, half the traffic)
        for s in range(0, nseg - 1, 2):
            hi = &prefix[z + pad_z + rows_dz[s], y + pad_y + rows_dy[s], pad_x + rows_w[s] + 1]
            lo = &prefix[z + pad_z + rows_dz[s], y + pad_y + rows_dy[s], pad_x - rows_w[s]]
            hi2 = &prefix[z + pad_z + rows_dz[s + 1], y + pad_y + rows_dy[s + 1],
                          pad_x + rows_w[s + 1] + 1]
            lo2 = &prefix[z + pad_z + rows_dz[s + 1], y + pad_y + rows_dy[s + 1],
                          pad_x - rows_w[s + 1]]
            if acc_t is double:
                bgsub_add_diff_f642(orow, hi, lo, hi2, lo2, nx)
            else:
                bgsub_add_diff_i642(orow, hi, lo, hi2, lo2, nx)
        if nseg % 2:
            s = nseg - 1
            hi = &prefix[z + pad_z + rows_dz[s], y + pad_y + rows_dy[s], pad_x + rows_w[s] + 1]
            lo = &prefix[z + pad_z + rows_dz[s], y + pad_y + rows_dy[s], pad_x - rows_w[s]]
            if acc_t is double:
                bgsub_add_diff_f64(orow, hi, lo, nx)
            else:
                bgsub_add_diff_i64(orow, hi, lo, nx)


# ---------------------------------------------------------------------------
# Box mean: SciPy's moving sum (uniform_filter1d, mode "reflect"), bit for bit
# ---------------------------------------------------------------------------

ctypedef fused box_in:
    uint8_t
    uint16_t
    int16_t
    uint32_t
    int32_t
    float
    double

ctypedef fused box_out:
    float
    double

cdef enum:
    BOX_COLUMNS = 512  # columns per task of the outer-axis pass (its sums stay in L1)


cdef inline Py_ssize_t _reflected(Py_ssize_t k, Py_ssize_t half, Py_ssize_t n) noexcept nogil:
    """Index of extended position ``k`` (``k - half`` reflected once at each end)."""
    cdef Py_ssize_t i = k - half
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - 1 - i
    return i


def box_mean_outer(const box_in[:, :, ::1] src, double[:, :, ::1] out, Py_ssize_t size,
                   int nthreads):
    """The moving mean along the middle axis of ``src`` (outer, axis, inner), column by column:
    the sum starts from 0.0, adds the first ``size`` extended values in order, then moves by
    ``sum += (entering - leaving)`` (each difference in float64); every output is
    ``sum / size``. Needs ``size <= n``."""
    cdef Py_ssize_t nb = src.shape[0], n = src.shape[1], inner = src.shape[2]
    cdef Py_ssize_t chunks = (inner + BOX_COLUMNS - 1) // BOX_COLUMNS
    cdef Py_ssize_t task, b, c0, width, k, j, half = size // 2
    cdef double divisor = <double>size
    cdef double[:, ::1] sums = np.empty((max(nthreads, 1), BOX_COLUMNS))
    cdef double* total
    cdef const box_in* enter
    cdef const box_in* leave
    cdef double* dst
    if nb == 0 or n == 0 or inner == 0:
        return
    for task in prange(nb * chunks, nogil=True, num_threads=nthreads, schedule="static"):
        b = task // chunks
        c0 = (task - b * chunks) * BOX_COLUMNS
        width = inner - c0
        if width > BOX_COLUMNS:
            width = BOX_COLUMNS
        total = &sums[threadid(), 0]
        for j in range(width):
            total[j] = 0.0
        for k in range(size):
            enter = &src[b, _reflected(k, half, n), c0]
            for j in range(width):
                total[j] = total[j] + <double>enter[j]
        dst = &out[b, 0, c0]
        for j in range(width):
            dst[j] = total[j] / divisor
        for k in range(1, n):
            enter = &src[b, _reflected(k + size - 1, half, n), c0]
            leave = &src[b, _reflected(k - 1, half, n), c0]
            dst = &out[b, k, c0]
            for j in range(width):
                total[j] = total[j] + (<double>enter[j] - <double>leave[j])
                dst[j] = total[j] / divisor


def box_mean_last(const box_in[:, ::1] src, box_out[:, ::1] out, Py_ssize_t size,
                  int nthreads):
    """The moving mean along each row of ``src`` (the same recurrence as
    :func:`box_mean_outer`, each value converted to float64 first), rounded to ``out``'s
    dtype. Needs ``size <= n``."""
    cdef Py_ssize_t lines = src.shape[0], n = src.shape[1], half = size // 2
    cdef Py_ssize_t line, k
    cdef double divisor = <double>size, total
    cdef const box_in* row
    cdef box_out* dst
    if lines == 0 or n == 0:
        return
    for line in prange(lines, nogil=True, num_threads=nthreads, schedule="static"):
        row = &src[line, 0]
        dst = &out[line, 0]
        total = 0.0
        for k in range(size):
            total = total + <double>row[_reflected(k, half, n)]
        dst[0] = <box_out>(total / divisor)
        for k in range(1, half + 1):
            total = total + (<double>row[k + half] - <double>row[_reflected(k - 1, half, n)])
            dst[k] = <box_out>(total / divisor)
        for k in range(half + 1, n - half):
            total = total + (<double>row[k + half] - <double>row[k - half - 1])
            dst[k] = <box_out>(total / divisor)
        for k in range(n - half if n - half > half + 1 else half + 1, n):
            total = total + (<double>row[_reflected(k + size - 1, half, n)]
                             - <double>row[k - half - 1])
            dst[k] = <box_out>(total / divisor)
