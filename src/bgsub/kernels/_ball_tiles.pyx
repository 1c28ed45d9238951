# cython: language_level=3
"""Tiled branch and bound for the 2D ball erosion (see :mod:`bgsub.kernels.ball`).

No validation: the wrapper checks the arguments and that every pixel is finite.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    #define TILE 16
    static int64_t tile_stats[8];
    #define TILE_NSEED 32

    typedef struct {
        const double* V;        /* sign * image, ny x nx, every value finite */
        int64_t ny, nx;
        const double* ctab;     /* cost rows dy = 0..fy, each nctab long, dx = 0 at c0 */
        int64_t nctab, c0, fy, P;
        const double* BM;       /* minimum of each 16 x 16 block of V */
        const int64_t* BA;      /* its position (flat index) */
        int64_t nby, nbx;
        const double* BG;       /* cost at the least distance between a tile and a block */
        int64_t ndi, ndj;       /* BG is ndi x ndj, indexed by |block - tile| in blocks */
        double sign;
        int f32;
        void* out;
        int64_t budget;         /* work units before giving up (see tile_erode) */
        int64_t* spent;         /* shared work counter */
        int* abort_flag;
    } TileP;

    typedef struct {
        double acc[TILE * TILE];
        int64_t arg[TILE * TILE];
        double ubrow[TILE];
        double ub;
        int64_t seeds[TILE_NSEED];
        int nseeds;
        int64_t* cand;          /* scratch: candidate positions (TILE * TILE) */
        double* lb;             /* scratch: block lower bounds */
        int64_t work;
    } TileS;

    /* Least distance from pixel coordinate u to the tile range [t0, t1). */
    static inline int64_t tile_gap(int64_t u, int64_t t0, int64_t t1)
    {
        return u < t0 ? t0 - u : (u >= t1 ? u - (t1 - 1) : 0);
    }

    /* The per-ISA primitives: the 16 lanes of one tile row, a = min(v + t, a) with the
       winner's position kept in g (x < a ? x : a, the same value as the kernels' minima);
       the candidates of one row of a block (v + cost < ub); a row's largest value. */
    #if defined(__GNUC__) && defined(__x86_64__)
    #include <immintrin.h>
    #define TILE_X86 1
    #define TILE_ROW_AVX512(v, t, a, g, j) do {                                            \
            __m512d vv_ = _mm512_set1_pd(v);                                              \
            __m512i jj_ = _mm512_set1_epi64(j);                                           \
            for (int k_ = 0; k_ < 16; k_ += 8) {                                          \
                __m512d x_ = _mm512_add_pd(vv_, _mm512_loadu_pd((t) + k_));               \
                __m512d a_ = _mm512_loadu_pd((a) + k_);                                   \
                __mmask8 m_ = _mm512_cmp_pd_mask(x_, a_, _CMP_LT_OQ);                     \
                _mm512_storeu_pd((a) + k_, _mm512_mask_mov_pd(a_, m_, x_));               \
                __m512i g_ = _mm512_loadu_si512((const void*)((g) + k_));                 \
                _mm512_storeu_si512((void*)((g) + k_), _mm512_mask_mov_epi64(g_, m_, jj_)); \
            }                                                                             \
        } while (0)
    #define TILE_ROW_AVX2(v, t, a, g, j) do {                                              \
            __m256d vv_ = _mm256_set1_pd(v);                                              \
            __m256d jj_ = _mm256_castsi256_pd(_mm256_set1_epi64x(j));                     \
            for (int k_ = 0; k_ < 16; k_ += 4) {                                          \
                __m256d x_ = _mm256_add_pd(vv_, _mm256_loadu_pd((t) + k_));               \
                __m256d a_ = _mm256_loadu_pd((a) + k_);                                   \
                __m256d m_ = _mm256_cmp_pd(x_, a_, _CMP_LT_OQ);                           \
                _mm256_storeu_pd((a) + k_, _mm256_blendv_pd(a_, x_, m_));                 \
                __m256d g_ = _mm256_loadu_pd((const double*)((g) + k_));                  \
                _mm256_storeu_pd((double*)((g) + k_), _mm256_blendv_pd(g_, jj_, m_));    \
            }                                                                             \
        } while (0)
    #define TILE_MASK_AVX512(vr, cr, ub) (                                                 \
        (unsigned)_mm512_cmp_pd_mask(_mm512_add_pd(_mm512_loadu_pd(vr), _mm512_loadu_pd(cr)), \
                                     _mm512_set1_pd(ub), _CMP_LT_OQ)                      \
        | ((unsigned)_mm512_cmp_pd_mask(_mm512_add_pd(_mm512_loadu_pd((vr) + 8),          \
                                                      _mm512_loadu_pd((cr) + 8)),         \
                                        _mm512_set1_pd(ub), _CMP_LT_OQ) << 8))
    #define TILE_MASK4_AVX2(vr, cr, ub, k) ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(     \
        _mm256_add_pd(_mm256_loadu_pd((vr) + (k)), _mm256_loadu_pd((cr) + (k))),          \
        _mm256_set1_pd(ub), _CMP_LT_OQ)) << (k))
    #define TILE_MASK_AVX2(vr, cr, ub) (TILE_MASK4_AVX2(vr, cr, ub, 0)                     \
        | TILE_MASK4_AVX2(vr, cr, ub, 4) | TILE_MASK4_AVX2(vr, cr, ub, 8)                 \
        | TILE_MASK4_AVX2(vr, cr, ub, 12))
    #define TILE_MAX_AVX512(a) _mm512_reduce_max_pd(                                        \
        _mm512_max_pd(_mm512_loadu_pd(a), _mm512_loadu_pd((a) + 8)))
    #define TILE_MAX_AVX2(a) tile_hmax4(_mm256_max_pd(                                      \
        _mm256_max_pd(_mm256_loadu_pd(a), _mm256_loadu_pd((a) + 4)),                     \
        _mm256_max_pd(_mm256_loadu_pd((a) + 8), _mm256_loadu_pd((a) + 12))))
    __attribute__((target("avx2")))
    static inline double tile_hmax4(__m256d x)
    {
        __m128d lo = _mm256_castpd256_pd128(x), hi = _mm256_extractf128_pd(x, 1);
        lo = _mm_max_pd(lo, hi);
        return _mm_cvtsd_f64(_mm_max_sd(lo, _mm_unpackhi_pd(lo, lo)));
    }
    #endif
    #define TILE_ROW_GENERIC(v, t, a, g, j) do {                                           \
            for (int l_ = 0; l_ < 16; l_++) {                                             \
                double x_ = (v) + (t)[l_];                                                \
                if (x_ < (a)[l_]) { (a)[l_] = x_; (g)[l_] = (j); }                        \
            }                                                                             \
        } while (0)
    static inline unsigned tile_mask_generic(const double* vr, const double* cr, double ub)
    {
        unsigned m = 0;
        for (int l = 0; l < 16; l++) m |= (unsigned)(vr[l] + cr[l] < ub) << l;
        return m;
    }
    #define TILE_MASK_GENERIC(vr, cr, ub) tile_mask_generic(vr, cr, ub)
    static inline double tile_max_generic(const double* a)
    {
        double m = -INFINITY;
        for (int l = 0; l < 16; l++) m = a[l] > m ? a[l] : m;
        return m;
    }
    #define TILE_MAX_GENERIC(a) tile_max_generic(a)

    /* Per ISA: eval (min the sums v(u) + cost(u - c) of the pixel j = (uy, ux) into every
       centre c of the tile -- exactly the double sums of the row-based kernels -- skipping the
       tile rows where even the least cost over the row leaves the sum at or above every
       lane's value; returns the rows touched), cands (the pixels u of a block with v(u) + the
       least cost to the tile < s->ub) and refresh (the rows' largest values, and theirs). */
    #define TILE_DEFINE(SUF, ATTR, ROW, MASK, MAX)                                         \
    ATTR static unsigned tile_eval_##SUF(const TileP* p, TileS* s, int64_t ty, int64_t tx, \
                                         int64_t tx1, int64_t j)                          \
    {                                                                                     \
        int64_t uy = j / p->nx, ux = j - uy * p->nx;                                      \
        double v = p->V[j];                                                               \
        int64_t gx = tile_gap(ux, tx, tx1);                                               \
        unsigned touched = 0;                                                             \
        if (gx > p->P) return 0;  /* beyond every row of the ball */                      \
        for (int r = 0; r < TILE; r++) {                                                  \
            int64_t cy = ty + r;                                                          \
            int64_t dy = uy > cy ? uy - cy : cy - uy;                                     \
            if (dy > p->fy) continue;                                                     \
            const double* crow = p->ctab + dy * p->nctab + p->c0;                         \
            if (!(v + crow[gx] < s->ubrow[r])) continue;                                  \
            ROW(v, crow + (tx - ux), s->acc + r * TILE, s->arg + r * TILE, j);            \
            touched |= 1u << r;                                                           \
        }                                                                                 \
        s->work += __builtin_popcount(touched);                                           \
        return touched;                                                                   \
    }                                                                                     \
    ATTR static int64_t tile_cands_##SUF(const TileP* p, TileS* s, int64_t bi, int64_t bj, \
                                         int64_t ty, int64_t ty1, int64_t tx, int64_t tx1) \
    {                                                                                     \
        int64_t n = 0, nx = p->nx;                                                        \
        int64_t y0 = bi * TILE, y1 = y0 + TILE < p->ny ? y0 + TILE : p->ny;               \
        int64_t x0 = bj * TILE, x1 = x0 + TILE < nx ? x0 + TILE : nx;                     \
        double ub = s->ub, flat[TILE];                                                    \
        /* the least cost to the tile's columns, by symmetry crow[ux - ref] */            \
        int64_t ref = x0 < tx ? tx : tx1 - 1, full = x1 - x0 == TILE;                     \
        int inside = x0 >= tx && x0 < tx1;                                                \
        for (int64_t uy = y0; uy < y1; uy++) {                                            \
            int64_t gy = tile_gap(uy, ty, ty1);                                           \
            if (gy > p->fy) continue;                                                     \
            const double* crow = p->ctab + gy * p->nctab + p->c0;                         \
            const double* vr = p->V + uy * nx;                                            \
            s->work += 1;                                                                 \
            if (!full) {                                                                  \
                for (int64_t ux = x0; ux < x1; ux++)                                      \
                    if (vr[ux] + crow[tile_gap(ux, tx, tx1)] < ub) s->cand[n++] = uy * nx + ux; \
                continue;                                                                 \
            }                                                                             \
            const double* cr = crow + (x0 - ref);                                         \
            if (inside) {                                                                 \
                for (int l = 0; l < TILE; l++) flat[l] = crow[0];                         \
                cr = flat;                                                                \
            }                                                                             \
            unsigned m = MASK(vr + x0, cr, ub);                                           \
            while (m) {                                                                   \
                s->cand[n++] = uy * nx + x0 + __builtin_ctz(m);                           \
                m &= m - 1;                                                               \
            }                                                                             \
        }                                                                                 \
        return n;                                                                         \
    }                                                                                     \
    ATTR static void tile_refresh_##SUF(TileS* s, unsigned rows)                          \
    {                                                                                     \
        while (rows) {                                                                    \
            int r = __builtin_ctz(rows);                                                  \
            rows &= rows - 1;                                                             \
            s->ubrow[r] = MAX(s->acc + r * TILE);                                         \
        }                                                                                 \
        double ub = -INFINITY;                                                            \
        for (int r = 0; r < TILE; r++) ub = s->ubrow[r] > ub ? s->ubrow[r] : ub;          \
        s->ub = ub;                                                                       \
    }

    TILE_DEFINE(generic, , TILE_ROW_GENERIC, TILE_MASK_GENERIC, TILE_MAX_GENERIC)
    #ifdef TILE_X86
    TILE_DEFINE(avx2, __attribute__((target("avx2"))), TILE_ROW_AVX2, TILE_MASK_AVX2,
                TILE_MAX_AVX2)
    TILE_DEFINE(avx512, __attribute__((target("avx512f"))), TILE_ROW_AVX512, TILE_MASK_AVX512,
                TILE_MAX_AVX512)
    #endif

    /* 2: AVX-512, 1: AVX2, 0: neither */
    static int tile_isa(void)
    {
    #if defined(TILE_X86) && !defined(BALL_BASELINE)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) return 2;
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    #else
        return 0;
    #endif
    }

    #ifndef TILE_X86
    #define tile_eval_avx2 tile_eval_generic
    #define tile_eval_avx512 tile_eval_generic
    #define tile_cands_avx2 tile_cands_generic
    #define tile_cands_avx512 tile_cands_generic
    #define tile_refresh_avx2 tile_refresh_generic
    #define tile_refresh_avx512 tile_refresh_generic
    #endif
    #define TILE_ISA_CALL(isa, fn, ...) ((isa) == 2 ? fn##_avx512(__VA_ARGS__)            \
        : (isa) == 1 ? fn##_avx2(__VA_ARGS__) : fn##_generic(__VA_ARGS__))

    /* Erode the tile at (ti, tj). */
    static void tile_one(const TileP* p, TileS* s, int64_t ti, int64_t tj, int isa)
    {
        int64_t ny = p->ny, nx = p->nx;
        int64_t ty = ti * TILE, tx = tj * TILE;
        int64_t ty1 = ty + TILE < ny ? ty + TILE : ny, tx1 = tx + TILE < nx ? tx + TILE : nx;
        unsigned touched = 0;
        /* start from the centres themselves (cost 0); lanes outside the image at -inf */
        for (int r = 0; r < TILE; r++)
            for (int l = 0; l < TILE; l++) {
                int ok = ty + r < ty1 && tx + l < tx1;
                int64_t j = (ty + r) * nx + tx + l;
                s->acc[r * TILE + l] = ok ? p->V[j] + p->ctab[p->c0] : -INFINITY;
                s->arg[r * TILE + l] = ok ? j : -1;
            }
        /* the blocks in reach and their lower bounds */
        int64_t bi0 = ti - (p->ndi - 1), bi1 = ti + p->ndi, bj0 = tj - (p->ndj - 1), bj1 = tj + p->ndj;
        if (bi0 < 0) bi0 = 0;
        if (bj0 < 0) bj0 = 0;
        if (bi1 > p->nby) bi1 = p->nby;
        if (bj1 > p->nbx) bj1 = p->nbx;
        int64_t nbj = bj1 - bj0;
        for (int64_t bi = bi0; bi < bi1; bi++) {
            int64_t di = bi > ti ? bi - ti : ti - bi;
            const double* bg = p->BG + di * (2 * p->ndj - 1) + (p->ndj - 1) - tj;
            const double* bm = p->BM + bi * p->nbx;
            double* lb = s->lb + (bi - bi0) * nbj - bj0;
            for (int64_t bj = bj0; bj < bj1; bj++) lb[bj] = bm[bj] + bg[bj];
        }
        /* seeds: the previous tile's winners, or the minima of the four most promising blocks */
        if (s->nseeds == 0) {
            int64_t best[4] = {-1, -1, -1, -1};
            double bestv[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
            for (int64_t bi = bi0; bi < bi1; bi++) {
                const double* lb = s->lb + (bi - bi0) * nbj - bj0;
                for (int64_t bj = bj0; bj < bj1; bj++) {
                    double x = lb[bj];
                    if (!(x < bestv[3])) continue;
                    int k = 3;
                    while (k > 0 && x < bestv[k - 1]) {
                        bestv[k] = bestv[k - 1];
                        best[k] = best[k - 1];
                        k--;
                    }
                    bestv[k] = x;
                    best[k] = bi * p->nbx + bj;
                }
            }
            for (int k = 0; k < 4; k++)
                if (best[k] >= 0) s->seeds[s->nseeds++] = p->BA[best[k]];
        }
        TILE_ISA_CALL(isa, tile_refresh, s, 0xFFFFu);
        for (int k = 0; k < s->nseeds; k++)
            touched |= TILE_ISA_CALL(isa, tile_eval, p, s, ty, tx, tx1, s->seeds[k]);
        TILE_ISA_CALL(isa, tile_refresh, s, touched);
        /* every block that may hold a better sum: its pixels that may, evaluated */
        for (int64_t bi = bi0; bi < bi1; bi++) {
            const double* lb = s->lb + (bi - bi0) * nbj - bj0;
            for (int64_t bj = bj0; bj < bj1; bj++) {
                if (!(lb[bj] < s->ub)) continue;
                int64_t n = TILE_ISA_CALL(isa, tile_cands, p, s, bi, bj, ty, ty1, tx, tx1);
                tile_stats[0]++; tile_stats[1] += n;
                if (n == 0) continue;
                touched = 0;
                for (int64_t k = 0; k < n; k++)
                    touched |= TILE_ISA_CALL(isa, tile_eval, p, s, ty, tx, tx1, s->cand[k]);
                if (touched) TILE_ISA_CALL(isa, tile_refresh, s, touched);
            }
        }
        tile_stats[3]++;
        /* the result, and the distinct winners as the next tile's seeds */
        s->nseeds = 0;
        for (int r = 0; r < ty1 - ty; r++) {
            for (int l = 0; l < tx1 - tx; l++) {
                double a = s->acc[r * TILE + l] + 0.0;
                int64_t j = (ty + r) * nx + tx + l;
                if (p->f32) {
                    float f = (float)a;
                    ((float*)p->out)[j] = p->sign < 0 ? (float)(0.0 - (double)f) : f;
                } else {
                    ((double*)p->out)[j] = p->sign < 0 ? 0.0 - a : a;
                }
                int64_t w = s->arg[r * TILE + l];
                if ((l > 0 && w == s->arg[r * TILE + l - 1])
                        || (r > 0 && w == s->arg[(r - 1) * TILE + l]))
                    continue;
                int dup = 0;
                for (int k = 0; k < s->nseeds; k++) dup |= s->seeds[k] == w;
                if (!dup && s->nseeds < TILE_NSEED) s->seeds[s->nseeds++] = w;
            }
        }
    }

    /* One row of tiles; returns 0, or 1 when the shared budget ran out. */
    static int tile_row(const TileP* p, int64_t ti, int64_t* cand, double* lb)
    {
        TileS s;
        s.cand = cand;
        s.lb = lb;
        s.nseeds = 0;
        int64_t ntj = (p->nx + TILE - 1) / TILE;
        int isa = tile_isa();
        for (int64_t tj = 0; tj < ntj; tj++) {
            if (__atomic_load_n(p->abort_flag, __ATOMIC_RELAXED)) return 1;
            s.work = 0;
            tile_one(p, &s, ti, tj, isa);
            int64_t total = __atomic_add_fetch(p->spent, s.work, __ATOMIC_RELAXED);
            if (total > p->budget) {
                __atomic_store_n(p->abort_flag, 1, __ATOMIC_RELAXED);
                return 1;
            }
        }
        return 0;
    }

    /* Minimum and its position of each 16 x 16 block. */
    static void tile_block_minima(const double* V, int64_t ny, int64_t nx, int64_t bi,
                                  double* BM, int64_t* BA, int64_t nbx)
    {
        int64_t y0 = bi * TILE, y1 = y0 + TILE < ny ? y0 + TILE : ny;
        for (int64_t bj = 0; bj < nbx; bj++) {
            int64_t x0 = bj * TILE, x1 = x0 + TILE < nx ? x0 + TILE : nx;
            double m = INFINITY;
            int64_t a = y0 * nx + x0;
            for (int64_t y = y0; y < y1; y++)
                for (int64_t x = x0; x < x1; x++)
                    if (V[y * nx + x] < m) {
                        m = V[y * nx + x];
                        a = y * nx + x;
                    }
            BM[bi * nbx + bj] = m;
            BA[bi * nbx + bj] = a;
        }
    }
    """
    ctypedef struct TileP:
        const double* V
        int64_t ny, nx
        const double* ctab
        int64_t nctab, c0, fy, P
        const double* BM
        const int64_t* BA
        int64_t nby, nbx
        const double* BG
        int64_t ndi, ndj
        double sign
        int f32
        void* out
        int64_t budget
        int64_t* spent
        int* abort_flag
    int TILE
    int64_t tile_stats[8]
    int tile_row(const TileP* p, int64_t ti, int64_t* cand, double* lb) noexcept nogil
    void tile_block_minima(const double* V, int64_t ny, int64_t nx, int64_t bi, double* BM,
                           int64_t* BA, int64_t nbx) noexcept nogil

TILE_SIZE = TILE


def tile_erode(const double[:, ::1] V, out, const double[:, ::1] ctab, Py_ssize_t c0,
               Py_ssize_t P, const double[:, ::1] bg, double sign, double budget, int nthreads):
    """Erode ``V`` (``sign`` times the image, every pixel finite) by the tabulated 2D ball.

    ``ctab[dy, c0 + dx]``: the cost of offset ``(dy, dx)`` (``+inf`` outside the ball, whose
    rows are at most ``P`` wide on each side), for ``0 <= dy <= fy`` and ``|dx| <= P + 16``, non-decreasing in ``|dy|`` and ``|dx|``.
    ``bg[di, ndj - 1 + dj]``: the cost at the least distance between two 16 x 16 tiles
    ``di >= 0`` and ``|dj| < ndj`` tiles apart (``+inf`` beyond the ball). ``out`` (float32 or float64, the image's shape)
    receives ``sign`` times the erosion. Returns False, with ``out`` partly written, when the
    work (rows of 16 sums evaluated, rows of blocks scanned) would exceed ``budget``.
    """
    cdef TileP p
    cdef Py_ssize_t ny = V.shape[0], nx = V.shape[1], ti, bi
    cdef Py_ssize_t nby = (ny + TILE - 1) // TILE, nbx = (nx + TILE - 1) // TILE
    cdef double[:, ::1] bm = np.empty((nby, nbx))
    cdef int64_t[:, ::1] ba = np.empty((nby, nbx), dtype=np.int64)
    cdef int64_t[::1] spent = np.zeros(1, dtype=np.int64)
    cdef int[::1] abort_flag = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = np.zeros(nby, dtype=np.intc)
    cdef double[:, ::1] out_d
    cdef float[:, ::1] out_f
    if ny == 0 or nx == 0:
        return True
    p.V = &V[0, 0]
    p.ny = ny
    p.nx = nx
    p.ctab = &ctab[0, 0]
    p.nctab = ctab.shape[1]
    p.c0 = c0
    p.fy = ctab.shape[0] - 1
    p.P = P
    p.BM = &bm[0, 0]
    p.BA = &ba[0, 0]
    p.nby = nby
    p.nbx = nbx
    p.BG = &bg[0, 0]
    p.ndi = bg.shape[0]
    p.ndj = (bg.shape[1] + 1) // 2
    p.sign = sign
    if out.dtype == np.float32:
        out_f = out
        p.f32 = 1
        p.out = <void*>&out_f[0, 0]
    else:
        out_d = out
        p.f32 = 0
        p.out = <void*>&out_d[0, 0]
    p.budget = <int64_t>min(budget, 9e18)
    p.spent = &spent[0]
    p.abort_flag = &abort_flag[0]
    cdef Py_ssize_t nlb = (2 * p.ndi + 1) * (2 * p.ndj + 1)
    cdef int64_t[:, ::1] cand = np.empty((nby, TILE * TILE), dtype=np.int64)
    cdef double[:, ::1] lb = np.empty((nby, nlb))
    for bi in prange(nby, nogil=True, num_threads=nthreads, schedule="static"):
        tile_block_minima(p.V, ny, nx, bi, &bm[0, 0], &ba[0, 0], nbx)
    for ti in prange(nby, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=1):
        failed[ti] = tile_row(&p, ti, &cand[ti, 0], &lb[ti, 0])
    return abort_flag[0] == 0


def stats(reset=False):
    r = [tile_stats[i] for i in range(8)]
    if reset:
        for i in range(8):
            tile_stats[i] = 0
    return r
