# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.flat` (no validation: the wrapper checks)."""

from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

ctypedef unsigned char u8
ctypedef unsigned short u16
ctypedef unsigned int u32

ctypedef fused pixel:
    u8
    u16
    short
    u32
    int
    float
    double


# ---------------------------------------------------------------------------
# Element loops. ``min(a, b)`` is Python's (``b if b < a else a``, as in the numba
# kernels this replaces), which decides the result for signed zeros and NaN. The hot
# ones are C compiled for several instruction sets (SSE2, AVX2, AVX-512) and chosen
# when the module loads (GCC's target_clones on x86-64 Linux; plain C elsewhere).
# ---------------------------------------------------------------------------

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define FLAT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define FLAT_CLONES
    #endif
    #define FLAT_R __restrict

    #define FLAT_LOOPS(S, T) \\
    static inline void flat_min_update_##S(T* FLAT_R o, const T* FLAT_R a, const T* FLAT_R b, \\
                                           Py_ssize_t n) { \\
        for (Py_ssize_t i = 0; i < n; i++) { \\
            T v = b[i] < a[i] ? b[i] : a[i]; \\
            o[i] = v < o[i] ? v : o[i]; \\
        } \\
    } \\
    static inline void flat_pair_min_##S(T* FLAT_R d, const T* FLAT_R a, const T* FLAT_R b, \\
                                         Py_ssize_t n) { \\
        for (Py_ssize_t i = 0; i < n; i++) d[i] = b[i] < a[i] ? b[i] : a[i]; \\
    } \\
    static inline void flat_pair_max_##S(T* FLAT_R d, const T* FLAT_R a, const T* FLAT_R b, \\
                                         Py_ssize_t n) { \\
        for (Py_ssize_t i = 0; i < n; i++) d[i] = b[i] > a[i] ? b[i] : a[i]; \\
    } \\
    static inline void flat_fold_min_##S(T* FLAT_R acc, const T* FLAT_R s, Py_ssize_t n) { \\
        for (Py_ssize_t i = 0; i < n; i++) acc[i] = s[i] < acc[i] ? s[i] : acc[i]; \\
    } \\
    static inline void flat_fold_max_##S(T* FLAT_R acc, const T* FLAT_R s, Py_ssize_t n) { \\
        for (Py_ssize_t i = 0; i < n; i++) acc[i] = s[i] > acc[i] ? s[i] : acc[i]; \\
    }

    FLAT_LOOPS(u8, unsigned char)
    FLAT_LOOPS(u16, unsigned short)
    FLAT_LOOPS(i16, short)
    FLAT_LOOPS(u32, unsigned int)
    FLAT_LOOPS(i32, int)
    FLAT_LOOPS(f32, float)
    FLAT_LOOPS(f64, double)

    /* dst[x] = min/max(src[x - w : x + w + 1]) (see _row_window in the .pyx) */
    #define FLAT_ROW_WINDOW(S, T) \
    static inline void flat_row_window_##S(const T* src, Py_ssize_t n, T* dst, Py_ssize_t w, \
                                           int use_max, T ident, T* pa, T* pb) { \
        Py_ssize_t width = n + 2 * w, k = 2 * w + 1, span = 1, m, i; \
        T* cur = pa; \
        T* other = pb; \
        T* swap; \
        for (i = 0; i < w; i++) { \
            cur[i] = ident; \
            cur[w + n + i] = ident; \
        } \
        memcpy(cur + w, src, (size_t)n * sizeof(T)); \
        while (2 * span <= k) { \
            m = width - 2 * span + 1; \
            if (use_max) flat_pair_max_##S(other, cur, cur + span, m); \
            else flat_pair_min_##S(other, cur, cur + span, m); \
            swap = cur; \
            cur = other; \
            other = swap; \
            span *= 2; \
        } \
        if (use_max) flat_pair_max_##S(dst, cur, cur + k - span, n); \
        else flat_pair_min_##S(dst, cur, cur + k - span, n); \
    }

    FLAT_ROW_WINDOW(u8, unsigned char)
    FLAT_ROW_WINDOW(u16, unsigned short)
    FLAT_ROW_WINDOW(i16, short)
    FLAT_ROW_WINDOW(u32, unsigned int)
    FLAT_ROW_WINDOW(i32, int)
    FLAT_ROW_WINDOW(f32, float)
    FLAT_ROW_WINDOW(f64, double)

    /* kind: 0 u8, 1 u16, 2 i16, 3 u32, 4 i32, 5 f32, 6 f64 */
    #define FLAT_SWITCH(kind, CALL) switch (kind) { \\
        case 0: CALL(u8, unsigned char); break; \\
        case 1: CALL(u16, unsigned short); break; \\
        case 2: CALL(i16, short); break; \\
        case 3: CALL(u32, unsigned int); break; \\
        case 4: CALL(i32, int); break; \\
        case 5: CALL(f32, float); break; \\
        default: CALL(f64, double); break; \\
    }

    /* out[i] = min(out[i], min(a[i], b[i])) */
    static FLAT_CLONES void flat_min_update(int kind, void* out, const void* a, const void* b,
                                            Py_ssize_t n) {
        #define FLAT_CALL(S, T) flat_min_update_##S((T*)out, (const T*)a, (const T*)b, n)
        FLAT_SWITCH(kind, FLAT_CALL)
        #undef FLAT_CALL
    }

    /* dst[i] = max(a[i], b[i]) or min(a[i], b[i]); dst overlaps neither */
    static FLAT_CLONES void flat_pair(int kind, int use_max, void* dst, const void* a,
                                      const void* b, Py_ssize_t n) {
        #define FLAT_CALL(S, T) if (use_max) flat_pair_max_##S((T*)dst, (const T*)a, (const T*)b, n); \\
                                else flat_pair_min_##S((T*)dst, (const T*)a, (const T*)b, n)
        FLAT_SWITCH(kind, FLAT_CALL)
        #undef FLAT_CALL
    }

    /* acc[i] = max(acc[i], src[i]) or min(acc[i], src[i]) */
    static FLAT_CLONES void flat_fold(int kind, int use_max, void* acc, const void* src,
                                      Py_ssize_t n) {
        #define FLAT_CALL(S, T) if (use_max) flat_fold_max_##S((T*)acc, (const T*)src, n); \\
                                else flat_fold_min_##S((T*)acc, (const T*)src, n)
        FLAT_SWITCH(kind, FLAT_CALL)
        #undef FLAT_CALL
    }

    /* the row window, one call per row (the doubling steps are short on narrow images) */
    static FLAT_CLONES void flat_row_window(int kind, const void* src, Py_ssize_t n, void* dst,
                                            Py_ssize_t w, int use_max, const void* ident,
                                            void* pa, void* pb) {
        #define FLAT_CALL(S, T) flat_row_window_##S((const T*)src, n, (T*)dst, w, use_max, \
                                                    *(const T*)ident, (T*)pa, (T*)pb)
        FLAT_SWITCH(kind, FLAT_CALL)
        #undef FLAT_CALL
    }
    """
    void flat_row_window(int kind, const void* src, Py_ssize_t n, void* dst, Py_ssize_t w,
                         int use_max, const void* ident, void* pa, void* pb) noexcept nogil
    void flat_min_update(int kind, void* out, const void* a, const void* b,
                         Py_ssize_t n) noexcept nogil
    void flat_pair(int kind, int use_max, void* dst, const void* a, const void* b,
                   Py_ssize_t n) noexcept nogil
    void flat_fold(int kind, int use_max, void* acc, const void* src, Py_ssize_t n) noexcept nogil


cdef inline int _kind(const pixel* p) noexcept nogil:
    """The element type's code in the C loops' ``switch``."""
    if pixel is u8:
        return 0
    elif pixel is u16:
        return 1
    elif pixel is short:
        return 2
    elif pixel is u32:
        return 3
    elif pixel is int:
        return 4
    elif pixel is float:
        return 5
    else:
        return 6


cdef inline void _pair(pixel* dst, const pixel* a, const pixel* b, Py_ssize_t n,
                       bint use_max) noexcept nogil:
    """``dst = max(a, b)`` or ``min(a, b)`` element-wise (``dst`` overlaps neither)."""
    if n > 0:
        flat_pair(_kind(dst), use_max, dst, a, b, n)


cdef inline void _fold(pixel* acc, const pixel* src, Py_ssize_t n, bint use_max) noexcept nogil:
    """``acc = max(acc, src)`` or ``min(acc, src)`` element-wise."""
    if n > 0:
        flat_fold(_kind(acc), use_max, acc, src, n)


cdef inline void _copy_line(pixel* dst, const pixel* src, Py_ssize_t n) noexcept nogil:
    if n > 0:
        memcpy(dst, src, n * sizeof(pixel))


cdef inline void _fill(pixel* dst, pixel value, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = value


# ---------------------------------------------------------------------------
# Disk: row decomposition + sparse tables
# ---------------------------------------------------------------------------


cdef void _build_sparse_table(const pixel* row, Py_ssize_t n, pixel* table, Py_ssize_t p,
                              Py_ssize_t nlev, Py_ssize_t pad, pixel ident, pixel inv_c,
                              bint flip_in) noexcept nogil:
    """``table[k * p + j] = min(q[j : j + 2**k])``, ``q`` = ``row`` padded by ``pad``
    (and order-reversed, ``inv_c - v``, if ``flip_in``)."""
    cdef Py_ssize_t x, k, m, span = 1
    _fill(table, ident, pad)
    _fill(table + pad + n, ident, p - pad - n)
    if flip_in:
        for x in range(n):
            table[pad + x] = <pixel>(inv_c - row[x])
    else:
        _copy_line(table + pad, row, n)
    for k in range(1, nlev):
        m = p - 2 * span + 1
        _pair(table + k * p, table + (k - 1) * p, table + (k - 1) * p + span, m, False)
        span *= 2


cdef inline void _min_update(pixel* out_row, const pixel* la, const pixel* lb,
                             Py_ssize_t n) noexcept nogil:
    """``out_row[x] = min(out_row[x], min(la[x], lb[x]))``."""
    if n > 0:
        flat_min_update(_kind(out_row), out_row, la, lb, n)


def rows_min(const pixel[:, :, ::1] src, pixel[:, :, ::1] out, const int64_t[:, ::1] rowk,
             const int64_t[:, ::1] rowa, const int64_t[:, ::1] rowb, Py_ssize_t pad,
             const pixel[::1] consts, bint flip_in, bint flip_out, Py_ssize_t bz,
             Py_ssize_t by, pixel[:, :, ::1] tables):
    """Minimum over footprint rows, output tiled in ``(bz, by)`` blocks of rows.

    ``consts`` = (identity of min, inversion constant); ``tables`` holds one
    ``(nlev, nx + 2 pad)`` sparse table per thread (its first axis is the thread count).
    """
    cdef Py_ssize_t nz = src.shape[0], ny = src.shape[1], nx = src.shape[2]
    cdef Py_ssize_t rz = (rowk.shape[0] - 1) // 2, ry = (rowk.shape[1] - 1) // 2
    cdef Py_ssize_t nlev = tables.shape[1], width = tables.shape[2]
    cdef int nthreads = <int>tables.shape[0]
    cdef Py_ssize_t ntz = (nz + bz - 1) // bz, nty = (ny + by - 1) // by
    cdef pixel ident = consts[0], inv_c = consts[1]
    cdef Py_ssize_t t, tz, ty, z0, z1, y0, y1, z, y, zz, yy, iz, iy, k, x
    cdef bint built
    cdef pixel* table
    cdef pixel* o
    for t in prange(ntz * nty, nogil=True, num_threads=nthreads, schedule="dynamic",
                    chunksize=1):
        table = &tables[threadid(), 0, 0]
        tz = t // nty
        ty = t - tz * nty
        z0 = tz * bz
        z1 = min(nz, z0 + bz)
        y0 = ty * by
        y1 = min(ny, y0 + by)
        for z in range(z0, z1):
            for y in range(y0, y1):
                _fill(&out[z, y, 0], ident, nx)
        for zz in range(max(0, z0 - rz), min(nz, z1 + rz)):
            for yy in range(max(0, y0 - ry), min(ny, y1 + ry)):
                built = False
                for z in range(max(z0, zz - rz), min(z1, zz + rz + 1)):
                    iz = zz - z + rz
                    for y in range(max(y0, yy - ry), min(y1, yy + ry + 1)):
                        iy = yy - y + ry
                        k = rowk[iz, iy]
                        if k < 0:
                            continue
                        if not built:
                            _build_sparse_table(&src[zz, yy, 0], nx, table, width, nlev, pad,
                                                ident, inv_c, flip_in)
                            built = True
                        _min_update(&out[z, y, 0], table + k * width + rowa[iz, iy],
                                    table + k * width + rowb[iz, iy], nx)
        if flip_out:
            for z in range(z0, z1):
                for y in range(y0, y1):
                    o = &out[z, y, 0]
                    for x in range(nx):
                        o[x] = <pixel>(inv_c - o[x])


# ---------------------------------------------------------------------------
# Box: separable 1D windows in the input dtype, fused per band of lines
# ---------------------------------------------------------------------------


cdef inline void _row_window(const pixel* src, Py_ssize_t n, pixel* dst, Py_ssize_t w,
                             bint use_max, pixel ident, pixel* pa, pixel* pb) noexcept nogil:
    """``dst[x] = min/max(src[x - w : x + w + 1])`` along a row, out-of-row pixels ignored:
    the row padded with ``ident`` takes ``log2(2w + 1)`` doubling steps (``p[j] =
    min(p[j], p[j + span])``), then two overlapping look-ups answer every window. ``pa`` and
    ``pb`` hold ``n + 2w``. (The loop is the C ``flat_row_window`` above.)"""
    flat_row_window(_kind(dst), src, n, dst, w, use_max, &ident, pa, pb)


cdef void _row_stages(const pixel* src, pixel* dst, Py_ssize_t n, const int64_t* ws,
                      const uint8_t* maxes, Py_ssize_t nst, pixel top, pixel bottom,
                      pixel* rows, Py_ssize_t row_len) noexcept nogil:
    """Row windows ``(ws[j], maxes[j])`` in turn, ``src -> dst`` (a copy if none);
    ``rows`` holds three scratch rows of ``row_len`` (``n + 2 max(ws)``)."""
    cdef Py_ssize_t j
    cdef pixel* tmp = rows + 2 * row_len
    cdef const pixel* cur = src
    cdef pixel* target
    if nst == 0:
        _copy_line(dst, src, n)
        return
    for j in range(nst):
        target = dst if j == nst - 1 else tmp
        _row_window(cur, n, target, ws[j], maxes[j], bottom if maxes[j] else top, rows,
                    rows + row_len)
        cur = tmp


cdef void _line_window(const pixel* src, Py_ssize_t src_stride, Py_ssize_t src_lo,
                       Py_ssize_t sc0, pixel* dst, Py_ssize_t dst_stride, Py_ssize_t dst_lo,
                       Py_ssize_t dc0, Py_ssize_t width, Py_ssize_t n, Py_ssize_t y0,
                       Py_ssize_t y1, Py_ssize_t w, bint use_max, pixel* suffix,
                       Py_ssize_t suffix_stride, pixel* pre) noexcept nogil:
    """Van Herk / Gil-Werman window of half-width ``w`` across lines, on ``width`` columns:
    line ``y`` of ``dst`` (``dst + (y - dst_lo) * dst_stride + dc0``) for ``y0 <= y < y1``
    is the min/max of lines ``y - w .. y + w`` of ``src`` inside ``[0, n)``."""
    cdef Py_ssize_t k = 2 * w + 1, s, t, t_hi, t_lo, j, t_end
    cdef bint prefix_empty
    cdef pixel* head
    s = y0
    while s < y1:
        # suffix line t = min(lines s + t - w .. s + w), for t in [t_lo, t_hi]
        t_hi = min(k - 1, n - 1 + w - s)
        t_lo = max(0, w - s)
        _copy_line(suffix + t_hi * suffix_stride,
                   src + (s + t_hi - w - src_lo) * src_stride + sc0, width)
        t = t_hi - 1
        while t >= t_lo:
            _pair(suffix + t * suffix_stride, suffix + (t + 1) * suffix_stride,
                  src + (s + t - w - src_lo) * src_stride + sc0, width, use_max)
            t -= 1
        _copy_line(dst + (s - dst_lo) * dst_stride + dc0, suffix + t_lo * suffix_stride, width)
        prefix_empty = s + w + 1 >= n
        t_end = min(y1, s + k) - s
        for t in range(1, t_end):
            j = s + w + t  # the line entering the prefix for output s + t
            if j < n:
                if t == 1:
                    _copy_line(pre, src + (j - src_lo) * src_stride + sc0, width)
                else:
                    _fold(pre, src + (j - src_lo) * src_stride + sc0, width, use_max)
            head = suffix + max(t, t_lo) * suffix_stride
            if prefix_empty:
                _copy_line(dst + (s + t - dst_lo) * dst_stride + dc0, head, width)
            else:
                _pair(dst + (s + t - dst_lo) * dst_stride + dc0, head, pre, width, use_max)
        s += k


def box_band(const pixel[:, :, ::1] src, pixel[:, :, ::1] dst, const int64_t[::1] pre_w,
             const uint8_t[::1] pre_max, const int64_t[::1] line_w,
             const uint8_t[::1] line_max, const int64_t[::1] post_w,
             const uint8_t[::1] post_max, const pixel[::1] consts, Py_ssize_t band,
             Py_ssize_t cols, pixel[:, :, :, ::1] bufs, pixel[:, :, ::1] suffixes,
             pixel[:, ::1] prefixes, pixel[:, :, ::1] rows):
    """Windows along the rows (``pre``), across the lines (axis 1, ``line``) and along the
    rows again (``post``) of 3D ``src`` -> ``dst`` (not ``src``), on tasks of (plane, band
    of ``band`` lines, strip of ``cols`` columns).

    ``consts`` = (identity of min, identity of max). ``bufs`` (2 line buffers),
    ``suffixes``, ``prefixes`` and ``rows`` (3 scratch rows) are per thread: their first
    axis is the thread count.
    """
    cdef Py_ssize_t nb = src.shape[0], n = src.shape[1], m = src.shape[2]
    cdef Py_ssize_t npre = pre_w.shape[0], nl = line_w.shape[0], npost = post_w.shape[0]
    cdef Py_ssize_t halo = 0, i
    for i in range(nl):
        halo += line_w[i]
    cdef int nthreads = <int>bufs.shape[0]
    cdef Py_ssize_t nbands = (n + band - 1) // band, nstrips = (m + cols - 1) // cols
    cdef Py_ssize_t buf_stride = bufs.shape[3]
    cdef Py_ssize_t suffix_stride = suffixes.shape[2], row_len = rows.shape[2]
    cdef pixel top = consts[0], bottom = consts[1]
    cdef const int64_t* pre_wp = &pre_w[0] if npre else NULL
    cdef const uint8_t* pre_mp = &pre_max[0] if npre else NULL
    cdef const int64_t* post_wp = &post_w[0] if npost else NULL
    cdef const uint8_t* post_mp = &post_max[0] if npost else NULL
    cdef Py_ssize_t task, tid, li, b, rest, y0, y1, c0, width, lo, last, y, left, o0, o1
    cdef Py_ssize_t cur_stride, cur_lo, cur_c0, t_stride, t_lo, t_c0
    cdef const pixel* cur
    cdef pixel* target
    cdef pixel* buf0
    cdef pixel* scratch_rows
    for task in prange(nb * nbands * nstrips, nogil=True, num_threads=nthreads,
                       schedule="dynamic", chunksize=1):
        tid = threadid()
        b = task // (nbands * nstrips)
        rest = task - b * nbands * nstrips
        y0 = (rest // nstrips) * band
        y1 = min(n, y0 + band)
        c0 = (rest % nstrips) * cols
        width = min(m, c0 + cols) - c0
        lo = max(0, y0 - halo)
        scratch_rows = &rows[tid, 0, 0]
        cur = &src[b, 0, 0]
        cur_stride = m
        cur_lo = 0
        cur_c0 = c0
        if npre > 0:  # whole rows (cols == m)
            buf0 = &bufs[tid, 0, 0, 0]
            cur = buf0
            cur_stride = buf_stride
            cur_lo = lo
            cur_c0 = 0
            last = min(n, y1 + halo) if nl > 0 else y1
            for y in range(lo, last):
                if nl == 0:
                    target = &dst[b, y, 0]
                else:
                    target = buf0 + (y - lo) * buf_stride
                _row_stages(&src[b, y, 0], target, m, pre_wp, pre_mp, npre, top, bottom,
                            scratch_rows, row_len)
        if nl > 0:
            left = halo
            for li in range(nl):
                left = left - line_w[li]
                o0 = max(0, y0 - left)
                o1 = min(n, y1 + left)
                if li == nl - 1 and npost == 0:  # straight into dst
                    target = &dst[b, 0, 0]
                    t_stride = m
                    t_lo = 0
                    t_c0 = c0
                else:
                    target = &bufs[tid, (li + 1) % 2, 0, 0]
                    t_stride = buf_stride
                    t_lo = o0
                    t_c0 = 0
                _line_window(cur, cur_stride, cur_lo, cur_c0, target, t_stride, t_lo, t_c0,
                             width, n, o0, o1, line_w[li], line_max[li], &suffixes[tid, 0, 0],
                             suffix_stride, &prefixes[tid, 0])
                cur = target
                cur_stride = t_stride
                cur_lo = t_lo
                cur_c0 = t_c0
            if npost > 0:  # whole rows
                for y in range(y0, y1):
                    _row_stages(cur + (y - cur_lo) * cur_stride, &dst[b, y, 0], m, post_wp,
                                post_mp, npost, top, bottom, scratch_rows, row_len)
