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
    /* counters for development (built with -DTILE_STATS; not thread-safe); stats() */
    static int64_t tile_stats[8];
    #ifdef TILE_STATS
    #define TILE_STAT(x) x
    #else
    #define TILE_STAT(x)
    #endif
    #define TILE_NSEED TILE

    typedef struct {
        const double* V;        /* sign * image by 16 x 16 blocks (row-major inside, +inf
                                   outside the image), every value finite */
        int64_t ny, nx;
        const double* ctab;     /* cost rows dy = 0..fy, each nctab long, dx = 0 at c0 */
        int64_t nctab, c0, fy, P;
        const double* CT;       /* CT[gx * nct + dy] = cost (dy, gx), +inf for dy > fy */
        int64_t nct;
        const double* CM;       /* CM[gx * ncm + cm0 + k] = CT[gx * nct + |k|] */
        int64_t ncm, cm0;
        const double* RM;       /* the minimum of each row of each block, 16 per block */
        const double* BM4;      /* minimum of each 64 x 64 superblock of V */
        int64_t nsy, nsx;
        const double* BM;       /* minimum of each 16 x 16 block of V */
        const int64_t* BA;      /* its position (flat index) */
        int64_t nby, nbx;
        const double* BG;       /* cost at the least distance between a tile and a block */
        int64_t ndi, ndj;       /* BG is ndi x ndj, indexed by |block - tile| in blocks */
        const double* BMP;      /* BM, each row padded with +inf to 4 * nsx blocks */
        const double* BGS;      /* BGS[di * nbgs + nbgs0 + d] = BG[di * ndj + |d|], +inf for
                                   |d| >= ndj, for |d| <= nbgs0 */
        int64_t nbgs, nbgs0;
        double sign;
        int f32;
        void* out;
        double rate;            /* work units per pixel before giving up (see tile_erode) */
        int64_t slack;          /* work units allowed beyond the rate */
        int64_t* spent;         /* shared counters: work, tiles done */
        int* abort_flag;
        int isa;                /* -1: the best the CPU has; else at most this (tests) */
    } TileP;

    typedef struct {
        double acc[TILE * TILE];
        int64_t arg[TILE * TILE];
        double ubrow[TILE];
        double ub;
        int64_t seeds[TILE_NSEED];
        int nseeds;
        int64_t* cand;          /* scratch: candidate positions (TILE * TILE) */
        double* candv;          /* and their values */
        double* lb;             /* scratch: block lower bounds */
        double* ql;             /* scratch: the blocks to scan, their bounds */
        int64_t* qb;
        int64_t work;
    } TileS;

    /* The value at flat position j = y * nx + x. */
    static inline double tile_v(const TileP* p, int64_t j)
    {
        int64_t y = j / p->nx, x = j - y * p->nx;
        return p->V[((y / TILE) * p->nbx + x / TILE) * (TILE * TILE) + (y % TILE) * TILE + x % TILE];
    }

    /* The value at (y, x). */
    static inline double tile_vxy(const TileP* p, int64_t y, int64_t x)
    {
        return p->V[((y / TILE) * p->nbx + x / TILE) * (TILE * TILE) + (y % TILE) * TILE + x % TILE];
    }

    /* Least distance between the ranges [a0, a1) and [t0, t1). */
    static inline int64_t tile_gap2(int64_t a0, int64_t a1, int64_t t0, int64_t t1)
    {
        return a1 <= t0 ? t0 - (a1 - 1) : (a0 >= t1 ? a0 - (t1 - 1) : 0);
    }

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
    #define TILE_MASKV_AVX512(v, cr, ubv) (                                               \
        (unsigned)_mm512_cmp_pd_mask(_mm512_add_pd(_mm512_set1_pd(v), _mm512_loadu_pd(cr)), \
                                     _mm512_loadu_pd(ubv), _CMP_LT_OQ)                    \
        | ((unsigned)_mm512_cmp_pd_mask(_mm512_add_pd(_mm512_set1_pd(v),                   \
                                                      _mm512_loadu_pd((cr) + 8)),         \
                                        _mm512_loadu_pd((ubv) + 8), _CMP_LT_OQ) << 8))
    #define TILE_MASKV4_AVX2(v, cr, ubv, k) ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(    \
        _mm256_add_pd(_mm256_set1_pd(v), _mm256_loadu_pd((cr) + (k))),                    \
        _mm256_loadu_pd((ubv) + (k)), _CMP_LT_OQ)) << (k))
    #define TILE_MASKV_AVX2(v, cr, ubv) (TILE_MASKV4_AVX2(v, cr, ubv, 0)                   \
        | TILE_MASKV4_AVX2(v, cr, ubv, 4) | TILE_MASKV4_AVX2(v, cr, ubv, 8)               \
        | TILE_MASKV4_AVX2(v, cr, ubv, 12))
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
    static inline unsigned tile_maskv_generic(double v, const double* cr, const double* ubv)
    {
        unsigned m = 0;
        for (int l = 0; l < 16; l++) m |= (unsigned)(v + cr[l] < ubv[l]) << l;
        return m;
    }
    #define TILE_MASKV_GENERIC(v, cr, ubv) tile_maskv_generic(v, cr, ubv)
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
    #define TILE_DEFINE(SUF, ATTR, ROW, MASK, MASKV, MAX)                                         \
    ATTR static unsigned tile_eval_##SUF(const TileP* p, TileS* s, int64_t ty, int64_t tx, \
                                         int64_t tx1, int64_t uy, int64_t ux, double v)   \
    {                                                                                     \
        int64_t gx = tile_gap(ux, tx, tx1), j = uy * p->nx + ux, k0 = ty - uy;            \
        unsigned touched, m;                                                              \
        /* beyond every row or column of the ball */                                      \
        if (gx > p->P || k0 > p->fy || k0 + TILE - 1 < -p->fy) return 0;                  \
        /* the least cost over each tile row (at |ty + r - uy| rows), then the rows where  \
           the sum may win */                                                             \
        touched = m = MASKV(v, p->CM + gx * p->ncm + p->cm0 + k0, s->ubrow);              \
        while (m) {                                                                       \
            int r = __builtin_ctz(m);                                                     \
            m &= m - 1;                                                                   \
            int64_t dy = uy - ty - r;                                                     \
            dy = dy < 0 ? -dy : dy;                                                       \
            const double* crow = p->ctab + dy * p->nctab + p->c0;                         \
            ROW(v, crow + (tx - ux), s->acc + r * TILE, s->arg + r * TILE, j);            \
        }                                                                                 \
        s->work += __builtin_popcount(touched);                                           \
        TILE_STAT(tile_stats[2] += __builtin_popcount(touched); tile_stats[5]++);         \
        return touched;                                                                   \
    }                                                                                     \
    ATTR static int64_t tile_cands_##SUF(const TileP* p, TileS* s, int64_t bi, int64_t bj, \
                                         int64_t ty, int64_t ty1, int64_t tx, int64_t tx1) \
    {                                                                                     \
        int64_t n = 0, y0 = bi * TILE;                                                    \
        int64_t x0 = bj * TILE;                                                           \
        double ub = s->ub, flat[TILE], rc[TILE];                                          \
        /* the least cost to the tile's columns, by symmetry crow[ux - ref] */            \
        int64_t ref = x0 < tx ? tx : tx1 - 1;                                             \
        int inside = x0 >= tx && x0 < tx1;                                                \
        int64_t gxb = inside ? 0 : (x0 < tx ? tx - (x0 + TILE - 1) : x0 - (tx1 - 1));     \
        int64_t dmax = p->nct - 1;                                                        \
        if (gxb > p->P) return 0;                                                         \
        /* the block's rows whose minimum may win */                                      \
        const double* ct = p->CT + gxb * p->nct;                                          \
        for (int k = 0; k < TILE; k++) {                                                  \
            int64_t gy = tile_gap(y0 + k, ty, ty1);                                       \
            rc[k] = ct[gy < dmax ? gy : dmax];                                            \
        }                                                                                 \
        unsigned rows = MASK(p->RM + (bi * p->nbx + bj) * TILE, rc, ub);                  \
        while (rows) {                                                                    \
            int64_t uy = y0 + __builtin_ctz(rows);                                        \
            rows &= rows - 1;                                                             \
            int64_t gy = tile_gap(uy, ty, ty1);                                           \
            const double* crow = p->ctab + gy * p->nctab + p->c0;                         \
            const double* vr = p->V + (bi * p->nbx + bj) * (TILE * TILE) + (uy - y0) * TILE; \
            s->work += 1;                                                                 \
            const double* cr = crow + (x0 - ref);                                         \
            if (inside) {                                                                 \
                for (int l = 0; l < TILE; l++) flat[l] = crow[0];                         \
                cr = flat;                                                                \
            }                                                                             \
            unsigned m = MASK(vr, cr, ub);                                                \
            while (m) {                                                                   \
                int l = __builtin_ctz(m);                                                 \
                int64_t ux = x0 + l;                                                      \
                m &= m - 1;                                                               \
                /* a neighbour towards the tile no higher is at least as good for every   \
                   centre (its costs are no larger): it is evaluated or bounded itself */  \
                double v = vr[l];                                                         \
                if (ux < tx ? tile_vxy(p, uy, ux + 1) <= v                                 \
                        : ux >= tx1 && tile_vxy(p, uy, ux - 1) <= v)                       \
                    continue;                                                             \
                if (uy < ty ? tile_vxy(p, uy + 1, ux) <= v                                 \
                        : uy >= ty1 && tile_vxy(p, uy - 1, ux) <= v)                       \
                    continue;                                                             \
                s->candv[n] = v;                                                          \
                s->cand[n++] = (uy << 32) | ux;                                           \
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

    TILE_DEFINE(generic, , TILE_ROW_GENERIC, TILE_MASK_GENERIC, TILE_MASKV_GENERIC,
                TILE_MAX_GENERIC)
    #ifdef TILE_X86
    TILE_DEFINE(avx2, __attribute__((target("avx2"))), TILE_ROW_AVX2, TILE_MASK_AVX2, TILE_MASKV_AVX2,
                TILE_MAX_AVX2)
    TILE_DEFINE(avx512, __attribute__((target("avx512f"))), TILE_ROW_AVX512, TILE_MASK_AVX512, TILE_MASKV_AVX512,
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
        /* the next tile's own values, read first thing there: fetched now (the blocks scanned
           in between keep the hardware prefetcher off them) */
        if (tj + 1 < p->nbx) {
            const char* nb = (const char*)(p->V + (ti * p->nbx + tj + 1) * (TILE * TILE));
            for (int k = 0; k < TILE * TILE * 8; k += 64) __builtin_prefetch(nb + k, 0, 3);
        }
        /* start from the centres themselves (cost 0); lanes outside the image at -inf */
        if (ty1 - ty == TILE && tx1 - tx == TILE) {
            const double* vt = p->V + (ti * p->nbx + tj) * (TILE * TILE);
            double c = p->ctab[p->c0];
            for (int k = 0; k < TILE * TILE; k++) s->acc[k] = vt[k] + c;
            for (int r = 0; r < TILE; r++)
                for (int l = 0; l < TILE; l++) s->arg[r * TILE + l] = (ty + r) * nx + tx + l;
        } else
        for (int r = 0; r < TILE; r++)
            for (int l = 0; l < TILE; l++) {
                int ok = ty + r < ty1 && tx + l < tx1;
                int64_t j = (ty + r) * nx + tx + l;
                double v = p->V[(ti * p->nbx + tj) * (TILE * TILE) + r * TILE + l];
                s->acc[r * TILE + l] = ok ? v + p->ctab[p->c0] : -INFINITY;
                s->arg[r * TILE + l] = ok ? j : -1;
            }
        if (s->nseeds > 0) {
            /* the previous tile's winners */
            TILE_ISA_CALL(isa, tile_refresh, s, 0xFFFFu);
            for (int k = 0; k < s->nseeds; k++)
                touched |= TILE_ISA_CALL(isa, tile_eval, p, s, ty, tx, tx1, s->seeds[k] / nx,
                                         s->seeds[k] % nx, tile_v(p, s->seeds[k]));
        }
        TILE_ISA_CALL(isa, tile_refresh, s, 0xFFFFu);
        /* the blocks that may hold a better sum, lowest bound first, found through the
           64 x 64 superblocks in reach */
        int64_t nq = 0, dmax = p->nct - 1;
        double ub0 = s->ub;
        int64_t sy0 = ty - p->fy, sy1 = ty1 - 1 + p->fy, sx0 = tx - p->P, sx1 = tx1 - 1 + p->P;
        sy0 = sy0 < 0 ? 0 : sy0 / (4 * TILE);
        sx0 = sx0 < 0 ? 0 : sx0 / (4 * TILE);
        sy1 = (sy1 < ny ? sy1 : ny - 1) / (4 * TILE);
        sx1 = (sx1 < nx ? sx1 : nx - 1) / (4 * TILE);
        for (int64_t si = sy0; si <= sy1; si++) {
            int64_t gy = tile_gap2(si * 4 * TILE, si * 4 * TILE + 4 * TILE, ty, ty1);
            if (gy > p->fy) continue;
            for (int64_t sj = sx0; sj <= sx1; sj++) {
                int64_t gx = tile_gap2(sj * 4 * TILE, sj * 4 * TILE + 4 * TILE, tx, tx1);
                if (gx > p->P) continue;
                if (!(p->BM4[si * p->nsx + sj] + p->CT[gx * p->nct + gy] < ub0)) continue;
                int64_t bi1 = 4 * si + 4 < p->nby ? 4 * si + 4 : p->nby;
                int64_t bj1 = 4 * sj + 4 < p->nbx ? 4 * sj + 4 : p->nbx;
                (void)bj1;
                for (int64_t bi = 4 * si; bi < bi1; bi++) {
                    int64_t di = bi > ti ? bi - ti : ti - bi;
                    if (di >= p->ndi) continue;
                    /* the superblock's four blocks on this row at once (without branches):
                       BMP pads the rows with +inf, BGS[di][nbgs0 + bj - tj] is BG[di][|bj -
                       tj|], +inf from ndj on */
                    const double* bm = p->BMP + bi * (4 * p->nsx) + 4 * sj;
                    const double* bgs = p->BGS + di * p->nbgs + p->nbgs0 + 4 * sj - tj;
                    double xs[4];
                    unsigned m = 0;
                    for (int l = 0; l < 4; l++) {
                        xs[l] = bm[l] + bgs[l];
                        m |= (unsigned)(xs[l] < ub0) << l;
                    }
                    while (m) {
                        int l = __builtin_ctz(m);
                        m &= m - 1;
                        int64_t bj = 4 * sj + l;
                        double x = xs[l];
                        /* sorted while the queue is short (bounded cost) */
                        int64_t k = nq++;
                        while (k > 0 && k < 64 && x < s->ql[k - 1]) {
                            s->ql[k] = s->ql[k - 1];
                            s->qb[k] = s->qb[k - 1];
                            k--;
                        }
                        s->ql[k] = x;
                        s->qb[k] = bi * p->nbx + bj;
                    }
                }
            }
        }
        (void)dmax;
        TILE_STAT(tile_stats[6] += nq);
        if (s->nseeds == 0) {
            /* no winners to start from: the minima of the most promising blocks */
            touched = 0;
            for (int64_t q = 0; q < nq && q < 4; q++) {
                int64_t j = p->BA[s->qb[q]];
                touched |= TILE_ISA_CALL(isa, tile_eval, p, s, ty, tx, tx1, j / nx, j % nx,
                                         tile_v(p, j));
            }
            TILE_ISA_CALL(isa, tile_refresh, s, touched);
        }
        /* every block that may hold a better sum: its pixels that may, evaluated */
        s->work += nq / 4;
        for (int64_t q = 0; q < nq; q++) {
            if (!(s->ql[q] < s->ub)) continue;
            int64_t bi = s->qb[q] / p->nbx, bj = s->qb[q] - bi * p->nbx;
            int64_t n = TILE_ISA_CALL(isa, tile_cands, p, s, bi, bj, ty, ty1, tx, tx1);
            TILE_STAT(tile_stats[0]++; tile_stats[1] += n; tile_stats[4] += n == 0);
            if (n == 0) continue;
            touched = 0;
            for (int64_t k = 0; k < n; k++)
                touched |= TILE_ISA_CALL(isa, tile_eval, p, s, ty, tx, tx1, s->cand[k] >> 32,
                                         s->cand[k] & 0xFFFFFFFF, s->candv[k]);
            if (touched) TILE_ISA_CALL(isa, tile_refresh, s, touched);
        }
        /* the result */
        for (int r = 0; r < ty1 - ty; r++) {
            const double* acc = s->acc + r * TILE;
            int64_t w = tx1 - tx;
            if (p->f32) {
                float* o = (float*)p->out + (ty + r) * nx + tx;
                if (p->sign < 0)
                    for (int l = 0; l < w; l++) o[l] = (float)(0.0 - (double)(float)(acc[l] + 0.0));
                else
                    for (int l = 0; l < w; l++) o[l] = (float)(acc[l] + 0.0);
            } else {
                double* o = (double*)p->out + (ty + r) * nx + tx;
                if (p->sign < 0)
                    for (int l = 0; l < w; l++) o[l] = 0.0 - (acc[l] + 0.0);
                else
                    for (int l = 0; l < w; l++) o[l] = acc[l] + 0.0;
            }
        }
        /* the distinct winners of the last column: the next tile's seeds */
        s->nseeds = 0;
        for (int r = 0; r < ty1 - ty; r++) {
            int64_t w = s->arg[r * TILE + (tx1 - tx - 1)];
            int dup = 0;
            for (int k = 0; k < s->nseeds; k++) dup |= s->seeds[k] == w;
            if (!dup) s->seeds[s->nseeds++] = w;
        }
    }

    /* One row of tiles; returns 0, or 1 when the shared budget ran out. */
    static int tile_row(const TileP* p, int64_t ti, int64_t* cand, double* lb, int64_t nlb)
    {
        TileS s;
        s.cand = cand;
        s.candv = (double*)(cand + TILE * TILE);
        s.lb = lb;
        s.ql = lb + nlb;
        s.qb = (int64_t*)(lb + 2 * nlb);
        s.nseeds = 0;
        int64_t ntj = (p->nx + TILE - 1) / TILE;
        int isa = tile_isa();
        if (p->isa >= 0 && p->isa < isa) isa = p->isa;
        for (int64_t tj = 0; tj < ntj; tj++) {
            if (__atomic_load_n(p->abort_flag, __ATOMIC_RELAXED)) return 1;
            s.work = 0;
            tile_one(p, &s, ti, tj, isa);
            int64_t total = __atomic_add_fetch(p->spent, s.work, __ATOMIC_RELAXED);
            int64_t done = __atomic_add_fetch(p->spent + 1, 1, __ATOMIC_RELAXED);
            if ((double)total > p->rate * (double)(done * TILE * TILE) + (double)p->slack) {
                __atomic_store_n(p->abort_flag, 1, __ATOMIC_RELAXED);
                return 1;
            }
        }
        return 0;
    }

    /* One row of blocks: VB (sign * image by blocks, +inf outside it), the minimum of each
       block and its position, and the minima of its rows. */
    #define TILE_PREP_DEFINE(NAME, T)                                                     \
    static void NAME(const T* img, double sign, int64_t ny, int64_t nx, int64_t bi,       \
                     double* VB, double* BM, int64_t* BA, double* RM, int64_t nbx)        \
    {                                                                                     \
        int64_t y0 = bi * TILE;                                                           \
        for (int64_t bj = 0; bj < nbx; bj++) {                                            \
            int64_t x0 = bj * TILE;                                                       \
            int64_t w = x0 + TILE < nx ? TILE : nx - x0;                                  \
            double* vb = VB + (bi * nbx + bj) * (TILE * TILE);                            \
            double* rm = RM + (bi * nbx + bj) * TILE;                                     \
            double m = INFINITY;                                                          \
            int64_t a = y0 * nx + x0;                                                     \
            for (int64_t k = 0; k < TILE; k++) {                                          \
                double* row = vb + k * TILE;                                              \
                double mr = INFINITY;                                                     \
                if (y0 + k < ny) {                                                        \
                    const T* src = img + (y0 + k) * nx + x0;                              \
                    for (int64_t l = 0; l < w; l++) row[l] = sign * (double)src[l];       \
                }                                                                         \
                for (int64_t l = y0 + k < ny ? w : 0; l < TILE; l++) row[l] = INFINITY;   \
                for (int64_t l = 0; l < TILE; l++) mr = row[l] < mr ? row[l] : mr;        \
                rm[k] = mr;                                                               \
                if (mr < m) {                                                             \
                    m = mr;                                                               \
                    for (int64_t l = 0; l < TILE; l++)                                    \
                        if (row[l] == mr) {                                               \
                            a = (y0 + k) * nx + x0 + l;                                   \
                            break;                                                        \
                        }                                                                 \
                }                                                                         \
            }                                                                             \
            BM[bi * nbx + bj] = m;                                                        \
            BA[bi * nbx + bj] = a;                                                        \
        }                                                                                 \
    }
    TILE_PREP_DEFINE(tile_prep_f, float)
    TILE_PREP_DEFINE(tile_prep_d, double)
    """
    ctypedef struct TileP:
        const double* V
        int64_t ny, nx
        const double* ctab
        int64_t nctab, c0, fy, P
        const double* CT
        int64_t nct
        const double* CM
        int64_t ncm, cm0
        const double* RM
        const double* BM4
        int64_t nsy, nsx
        const double* BM
        const int64_t* BA
        int64_t nby, nbx
        const double* BG
        int64_t ndi, ndj
        const double* BMP
        const double* BGS
        int64_t nbgs, nbgs0
        double sign
        int f32
        void* out
        double rate
        int64_t slack
        int64_t* spent
        int* abort_flag
        int isa
    int TILE
    int64_t tile_stats[8]
    int tile_isa()
    int tile_row(const TileP* p, int64_t ti, int64_t* cand, double* lb, int64_t nlb) noexcept nogil
    void tile_prep_f(const float* img, double sign, int64_t ny, int64_t nx, int64_t bi,
                     double* VB, double* BM, int64_t* BA, double* RM, int64_t nbx) noexcept nogil
    void tile_prep_d(const double* img, double sign, int64_t ny, int64_t nx, int64_t bi,
                     double* VB, double* BM, int64_t* BA, double* RM, int64_t nbx) noexcept nogil

TILE_SIZE = TILE


def cpu_isa():
    """The instruction set the tiles use on this CPU: 2 AVX-512, 1 AVX2, 0 neither."""
    return tile_isa()


ctypedef fused real_in:
    float
    double


def tile_erode(const real_in[:, ::1] img, double[::1] vb, out, const double[:, ::1] ctab,
               Py_ssize_t c0, Py_ssize_t P, const double[:, ::1] ct, const double[:, ::1] bg,
               double sign, double rate, int nthreads, int isa=-1):
    """Erode ``sign * img`` (every pixel finite) by the tabulated 2D ball.

    ``ctab[dy, c0 + dx]``: the cost of offset ``(dy, dx)`` (``+inf`` outside the ball, whose
    rows are at most ``P`` wide on each side), for ``0 <= dy <= fy`` and ``|dx| <= P + 16``,
    symmetric in ``dx`` and non-decreasing in ``|dy|`` and ``|dx|``. ``ct[gx, dy] = ctab[dy,
    c0 + gx]`` for ``gx <= P + 16``, ``dy <= fy + 16`` (``+inf`` beyond ``fy``). ``bg[di,
    dj]``: the cost at the least distance between two 16 x 16 tiles ``di`` and ``dj`` tiles
    apart (``+inf`` beyond the ball). ``out`` (float32 or float64, the image's shape) receives
    ``sign`` times the erosion. ``vb``: scratch of at least as many float64 as the image padded
    to a multiple of 16 on each axis. Returns the number of leading rows of ``out`` that are
    complete: all of them, or fewer when the work (rows of 16 sums evaluated, rows of blocks
    scanned, blocks queued / 4) exceeds ``rate`` per pixel of the tiles done so far (plus that
    of a 32nd of the image, at least four rows of tiles): it gives up early on an image
    where the tiles' bounds prune little. ``isa`` (tests): at most this instruction set (0
    scalar, 1 AVX2, 2 AVX-512; -1 the best the CPU has).
    """
    cdef TileP p
    cdef Py_ssize_t ny = img.shape[0], nx = img.shape[1], ti, bi
    cdef Py_ssize_t nby = (ny + TILE - 1) // TILE, nbx = (nx + TILE - 1) // TILE
    cdef double[:, ::1] bm = np.empty((nby, nbx))
    cdef Py_ssize_t nsy = (nby + 3) // 4, nsx = (nbx + 3) // 4
    cdef double[:, ::1] bm4
    cdef double[:, ::1] bmp
    cdef double[:, ::1] bgs
    cdef int64_t[:, ::1] ba = np.empty((nby, nbx), dtype=np.int64)
    cdef double[:, :, ::1] rm = np.empty((nby, nbx, TILE))
    cdef int64_t[::1] spent = np.zeros(2, dtype=np.int64)
    cdef int[::1] abort_flag = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = np.zeros(nby, dtype=np.intc)
    cdef double[:, ::1] out_d
    cdef float[:, ::1] out_f
    if ny == 0 or nx == 0:
        return ny
    assert vb.shape[0] >= nby * nbx * TILE * TILE
    p.V = &vb[0]
    p.ny = ny
    p.nx = nx
    p.ctab = &ctab[0, 0]
    p.nctab = ctab.shape[1]
    p.c0 = c0
    p.fy = ctab.shape[0] - 1
    p.P = P
    p.CT = &ct[0, 0]
    p.nct = ct.shape[1]
    cdef double[:, ::1] cm = np.ascontiguousarray(np.concatenate([ct[:, :0:-1], ct], axis=1))
    p.CM = &cm[0, 0]
    p.ncm = cm.shape[1]
    p.cm0 = ct.shape[1] - 1
    p.RM = &rm[0, 0, 0]
    p.nsy = nsy
    p.nsx = nsx
    p.BM = &bm[0, 0]
    p.BA = &ba[0, 0]
    p.nby = nby
    p.nbx = nbx
    p.BG = &bg[0, 0]
    p.ndi = bg.shape[0]
    p.ndj = bg.shape[1]
    p.sign = sign
    if out.dtype == np.float32:
        out_f = out
        p.f32 = 1
        p.out = <void*>&out_f[0, 0]
    else:
        out_d = out
        p.f32 = 0
        p.out = <void*>&out_d[0, 0]
    p.rate = rate
    p.slack = <int64_t>min(rate * max(4 * TILE * nx, ny * nx / 32), 9e18)
    p.spent = &spent[0]
    p.abort_flag = &abort_flag[0]
    p.isa = isa
    cdef Py_ssize_t nlb = (2 * p.ndi + 1) * (2 * p.ndj + 1)
    cdef int64_t[:, ::1] cand = np.empty((nby, 2 * TILE * TILE), dtype=np.int64)
    cdef double[:, ::1] lb = np.empty((nby, 3 * nlb))
    for bi in prange(nby, nogil=True, num_threads=nthreads, schedule="static"):
        if real_in is float:
            tile_prep_f(&img[0, 0], sign, ny, nx, bi, &vb[0], &bm[0, 0], &ba[0, 0], &rm[0, 0, 0],
                        nbx)
        else:
            tile_prep_d(&img[0, 0], sign, ny, nx, bi, &vb[0], &bm[0, 0], &ba[0, 0], &rm[0, 0, 0],
                        nbx)
    bm4 = np.pad(np.asarray(bm), ((0, 4 * nsy - nby), (0, 4 * nsx - nbx)),
                 constant_values=np.inf).reshape(nsy, 4, nsx, 4).min(axis=(1, 3))
    p.BM4 = &bm4[0, 0]
    bmp = np.ascontiguousarray(np.pad(np.asarray(bm), ((0, 0), (0, 4 * nsx - nbx)),
                                      constant_values=np.inf))
    p.BMP = &bmp[0, 0]
    p.nbgs0 = 4 * nsx + 4
    p.nbgs = 2 * p.nbgs0 + 1
    d = np.abs(np.arange(-p.nbgs0, p.nbgs0 + 1))
    bgs = np.ascontiguousarray(np.where(d[np.newaxis, :] < p.ndj,
                                        np.asarray(bg)[:, np.minimum(d, p.ndj - 1)], np.inf),
                               dtype=np.float64)
    p.BGS = &bgs[0, 0]
    for ti in prange(nby, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=1):
        failed[ti] = tile_row(&p, ti, &cand[ti, 0], &lb[ti, 0], nlb)
    tile_stats[3] = spent[1]
    tile_stats[7] = spent[0]
    for ti in range(nby):
        if failed[ti]:
            return ti * TILE
    return ny


def stats(reset=False):
    """Counters of the last call: [3] tiles done, [7] work; the others only in a build with
    ``-DTILE_STATS`` (blocks scanned, candidates, rows evaluated, calls, empty blocks,
    blocks queued, summed over calls until reset)."""
    r = [tile_stats[i] for i in range(8)]
    if reset:
        for i in range(8):
            tile_stats[i] = 0
    return r
