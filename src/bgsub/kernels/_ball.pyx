# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.ball` (no validation: the wrapper checks)."""

from cython.parallel cimport prange
from libc.math cimport INFINITY, ceil, fabs, floor, nextafterf, sqrt
from libc.stdint cimport int64_t, uint8_t, uint64_t

import numpy as np

# The 16-lane block primitives.  Minima are ``a < b ? a : b`` (x86 ``minpd`` has exactly
# these semantics, so a NaN from ``-inf + inf`` at a window edge of the gather is ignored);
# the gather keeps its 16 accumulators in vector registers, with an AVX2 version chosen at
# run time where the CPU has it (the build itself targets any x86-64).
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #if defined(__GNUC__) && defined(__x86_64__)
    #include <immintrin.h>
    #define BALL_X86 1
    #endif
    /* versions of a loop for AVX-512, AVX2 and any x86-64, picked when the module loads */
    #if defined(BALL_X86) && defined(__linux__) && defined(BALL_NO_AVX512)
    #define BALL_CLONES __attribute__((target_clones("avx2", "default")))
    #elif defined(BALL_X86) && defined(__linux__) && !defined(BALL_BASELINE)
    #define BALL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
    #else
    #define BALL_CLONES
    #endif

    static void ball_gather_rows_generic(
        const int64_t* cpos, const double* cval, const int64_t* first, int64_t n,
        const double* ctab, int64_t w, const int64_t* blocks, int64_t nb, double* res)
    {
        for (int64_t i = 0; i < nb; i++) {
            int64_t x0 = blocks[i] * 16;
            int64_t lo = x0 - w > 0 ? x0 - w : 0;
            int64_t hi = x0 + 16 + w < n ? x0 + 16 + w : n;
            const double* tab = ctab + x0;
    #ifdef BALL_X86
            __m128d a[8];
            for (int k = 0; k < 8; k++) a[k] = _mm_set1_pd(INFINITY);
            for (int64_t j = first[lo]; j < first[hi]; j++) {
                __m128d v = _mm_set1_pd(cval[j]);
                const double* t = tab - cpos[j];
                for (int k = 0; k < 8; k++)
                    a[k] = _mm_min_pd(_mm_add_pd(v, _mm_loadu_pd(t + 2 * k)), a[k]);
            }
            for (int k = 0; k < 8; k++) _mm_storeu_pd(res + x0 + 2 * k, a[k]);
    #else
            double a[16];
            for (int l = 0; l < 16; l++) a[l] = INFINITY;
            for (int64_t j = first[lo]; j < first[hi]; j++) {
                double v = cval[j];
                const double* t = tab - cpos[j];
                for (int l = 0; l < 16; l++) {
                    double s = v + t[l];
                    a[l] = s < a[l] ? s : a[l];
                }
            }
            for (int l = 0; l < 16; l++) res[x0 + l] = a[l];
    #endif
        }
    }

    #ifdef BALL_X86
    /* One block of 16 output pixels held in vector registers: a = min(c + t[0..15], a). The
       gathers below (all candidates, or only those of live segments) share it. */
    #define BALL_ACC_AVX2_INIT __m256d a0 = _mm256_set1_pd(INFINITY), a1 = a0, a2 = a0, a3 = a0
    #define BALL_ACC_AVX2_ADD(c, tp) do {                                                 \
            __m256d v_ = _mm256_set1_pd(c);                                               \
            const double* t_ = (tp);                                                      \
            a0 = _mm256_min_pd(_mm256_add_pd(v_, _mm256_loadu_pd(t_)), a0);               \
            a1 = _mm256_min_pd(_mm256_add_pd(v_, _mm256_loadu_pd(t_ + 4)), a1);           \
            a2 = _mm256_min_pd(_mm256_add_pd(v_, _mm256_loadu_pd(t_ + 8)), a2);           \
            a3 = _mm256_min_pd(_mm256_add_pd(v_, _mm256_loadu_pd(t_ + 12)), a3);          \
        } while (0)
    #define BALL_ACC_AVX2_STORE(p) do {                                                   \
            _mm256_storeu_pd((p), a0); _mm256_storeu_pd((p) + 4, a1);                     \
            _mm256_storeu_pd((p) + 8, a2); _mm256_storeu_pd((p) + 12, a3);                \
        } while (0)
    #define BALL_ACC_AVX512_INIT __m512d a0 = _mm512_set1_pd(INFINITY), a1 = a0
    #define BALL_ACC_AVX512_ADD(c, tp) do {                                               \
            __m512d v_ = _mm512_set1_pd(c);                                               \
            const double* t_ = (tp);                                                      \
            a0 = _mm512_min_pd(_mm512_add_pd(v_, _mm512_loadu_pd(t_)), a0);               \
            a1 = _mm512_min_pd(_mm512_add_pd(v_, _mm512_loadu_pd(t_ + 8)), a1);           \
        } while (0)
    #define BALL_ACC_AVX512_STORE(p) do {                                                 \
            _mm512_storeu_pd((p), a0); _mm512_storeu_pd((p) + 8, a1);                     \
        } while (0)

    /* The gather over every candidate within reach of each listed block, for one ISA. */
    #define BALL_GATHER_ROWS_DEFINE(NAME, TARGET, ACC)                                    \
        __attribute__((target(TARGET)))                                                   \
        static void NAME(                                                                 \
            const int64_t* cpos, const double* cval, const int64_t* first, int64_t n,     \
            const double* ctab, int64_t w, const int64_t* blocks, int64_t nb, double* res) \
        {                                                                                 \
            for (int64_t i = 0; i < nb; i++) {                                            \
                int64_t x0 = blocks[i] * 16;                                              \
                int64_t lo = x0 - w > 0 ? x0 - w : 0;                                     \
                int64_t hi = x0 + 16 + w < n ? x0 + 16 + w : n;                           \
                const double* tab = ctab + x0;                                            \
                BALL_ACC_##ACC##_INIT;                                                    \
                for (int64_t j = first[lo]; j < first[hi]; j++)                           \
                    BALL_ACC_##ACC##_ADD(cval[j], tab - cpos[j]);                         \
                BALL_ACC_##ACC##_STORE(res + x0);                                         \
            }                                                                             \
        }
    BALL_GATHER_ROWS_DEFINE(ball_gather_rows_avx2, "avx2", AVX2)
    BALL_GATHER_ROWS_DEFINE(ball_gather_rows_avx512, "avx512f", AVX512)

    /* 2: AVX-512, 1: AVX2, 0: neither */
    static int ball_cpu_has_avx2(void)
    {
    #ifdef BALL_BASELINE
        return 0;  /* testing the code for any x86-64 (and below, for AVX2 without AVX-512) */
    #endif
        __builtin_cpu_init();
    #ifndef BALL_NO_AVX512
        if (__builtin_cpu_supports("avx512f")) return 2;
    #endif
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    #else
    #define ball_gather_rows_avx2 ball_gather_rows_generic
    #define ball_gather_rows_avx512 ball_gather_rows_generic
    static int ball_cpu_has_avx2(void) { return 0; }
    #endif

    /* Direct erosion, register-blocked: the same expression per pixel as a pass-by-pass
       evaluation (a = row + cs[0]; then per four offsets a = min(min(min(v0, v1),
       min(v2, v3)), a); then the last offsets one by one; min(a, b) = a < b ? a : b, which
       is x86 minpd), but chunks of pixels keep their minimum in vector registers over all
       the offsets.  row[0:n] is padded with +inf by at least w on each side.  nd == 0:
       out[0:n] = the erosion; else dst = min(dst, erosion) + 0.0 in each of the nd rows
       dsts (float32 rows if f32, else float64). */
    #define BALL_DIRECT_SCALAR_TAIL                                                       \
        for (; x < n; x++) {                                                              \
            const double* s = base + x;                                                   \
            double a = s[0] + cs[0];                                                      \
            int64_t k = 1;                                                                \
            for (; k + 4 <= m; k += 4) {                                                  \
                double v0 = s[k] + cs[k], v1 = s[k + 1] + cs[k + 1];                      \
                double v2 = s[k + 2] + cs[k + 2], v3 = s[k + 3] + cs[k + 3];              \
                v0 = v0 < v1 ? v0 : v1;                                                   \
                v2 = v2 < v3 ? v2 : v3;                                                   \
                v0 = v0 < v2 ? v0 : v2;                                                   \
                a = v0 < a ? v0 : a;                                                      \
            }                                                                             \
            for (; k < m; k++) {                                                          \
                double v = s[k] + cs[k];                                                  \
                a = v < a ? v : a;                                                        \
            }                                                                             \
            if (nd == 0) out[x] = a;                                                      \
            else if (f32)                                                                 \
                for (int d = 0; d < nd; d++) {                                            \
                    float* p = (float*)dsts[d];                                           \
                    double o = (double)p[x];                                              \
                    p[x] = (float)((a < o ? a : o) + 0.0);                                \
                }                                                                         \
            else                                                                          \
                for (int d = 0; d < nd; d++) {                                            \
                    double* p = (double*)dsts[d];                                         \
                    double o = p[x];                                                      \
                    p[x] = (a < o ? a : o) + 0.0;                                         \
                }                                                                         \
        }

    #define BALL_DIRECT_DEFINE(NAME, ATTR, VD, NL, SET1, LOADU, STOREU, ADD, MIN, LOADF, STOREF) \
    ATTR static void NAME(const double* restrict row, int64_t n, const double* restrict cs,  \
                          int64_t w, double* restrict out, void* const* dsts, int nd, int f32) \
    {                                                                                     \
        const double* base = row - w;                                                     \
        const int64_t m = 2 * w + 1, k1 = 1 + (m - 1) / 4 * 4;                            \
        int64_t x = 0;                                                                    \
        for (; x + 4 * NL <= n; x += 4 * NL) {                                            \
            const double* s = base + x;                                                   \
            VD a[4];                                                                      \
            VD c = SET1(cs[0]);                                                           \
            for (int j = 0; j < 4; j++) a[j] = ADD(LOADU(s + j * NL), c);                 \
            for (int64_t k = 1; k < k1; k += 4) {                                         \
                VD c0 = SET1(cs[k]), c1 = SET1(cs[k + 1]);                                \
                VD c2 = SET1(cs[k + 2]), c3 = SET1(cs[k + 3]);                            \
                const double* t = s + k;                                                  \
                for (int j = 0; j < 4; j++) {                                             \
                    VD v0 = ADD(LOADU(t + j * NL), c0), v1 = ADD(LOADU(t + j * NL + 1), c1); \
                    VD v2 = ADD(LOADU(t + j * NL + 2), c2), v3 = ADD(LOADU(t + j * NL + 3), c3); \
                    v0 = MIN(v0, v1);                                                     \
                    v2 = MIN(v2, v3);                                                     \
                    v0 = MIN(v0, v2);                                                     \
                    a[j] = MIN(v0, a[j]);                                                 \
                }                                                                         \
            }                                                                             \
            for (int64_t k = k1; k < m; k++) {                                            \
                VD ck = SET1(cs[k]);                                                      \
                for (int j = 0; j < 4; j++) a[j] = MIN(ADD(LOADU(s + k + j * NL), ck), a[j]); \
            }                                                                             \
            if (nd == 0) {                                                                \
                for (int j = 0; j < 4; j++) STOREU(out + x + j * NL, a[j]);               \
            } else if (f32) {                                                             \
                VD zero = SET1(0.0);                                                      \
                for (int d = 0; d < nd; d++) {                                            \
                    float* p = (float*)dsts[d] + x;                                       \
                    for (int j = 0; j < 4; j++)                                           \
                        STOREF(p + j * NL, ADD(MIN(a[j], LOADF(p + j * NL)), zero));      \
                }                                                                         \
            } else {                                                                      \
                VD zero = SET1(0.0);                                                      \
                for (int d = 0; d < nd; d++) {                                            \
                    double* p = (double*)dsts[d] + x;                                     \
                    for (int j = 0; j < 4; j++)                                           \
                        STOREU(p + j * NL, ADD(MIN(a[j], LOADU(p + j * NL)), zero));      \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        BALL_DIRECT_SCALAR_TAIL                                                           \
    }

    #ifdef BALL_X86
    #define BALL_SSE_LOADF(p) _mm_cvtps_pd(_mm_castpd_ps(_mm_load_sd((const double*)(p))))
    #define BALL_SSE_STOREF(p, v) _mm_store_sd((double*)(p), _mm_castps_pd(_mm_cvtpd_ps(v)))
    BALL_DIRECT_DEFINE(ball_direct_generic, , __m128d, 2, _mm_set1_pd, _mm_loadu_pd,
                       _mm_storeu_pd, _mm_add_pd, _mm_min_pd, BALL_SSE_LOADF, BALL_SSE_STOREF)
    #define BALL_AVX2_LOADF(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
    #define BALL_AVX2_STOREF(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
    BALL_DIRECT_DEFINE(ball_direct_avx2, __attribute__((target("avx2"))), __m256d, 4,
                       _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_add_pd,
                       _mm256_min_pd, BALL_AVX2_LOADF, BALL_AVX2_STOREF)
    #define BALL_AVX512_LOADF(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
    #define BALL_AVX512_STOREF(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
    BALL_DIRECT_DEFINE(ball_direct_avx512, __attribute__((target("avx512f"))), __m512d, 8,
                       _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd,
                       _mm512_min_pd, BALL_AVX512_LOADF, BALL_AVX512_STOREF)
    #else
    static void ball_direct_generic(const double* restrict row, int64_t n,
                                    const double* restrict cs, int64_t w, double* restrict out,
                                    void* const* dsts, int nd, int f32)
    {
        const double* base = row - w;
        const int64_t m = 2 * w + 1;
        int64_t x = 0;
        BALL_DIRECT_SCALAR_TAIL
    }
    #define ball_direct_avx2 ball_direct_generic
    #define ball_direct_avx512 ball_direct_generic
    #endif

    static void ball_direct(int avx2, const double* row, int64_t n, const double* cs, int64_t w,
                            double* out, void* const* dsts, int nd, int f32)
    {
        if (avx2 == 2)
            ball_direct_avx512(row, n, cs, w, out, dsts, nd, f32);
        else if (avx2)
            ball_direct_avx2(row, n, cs, w, out, dsts, nd, f32);
        else
            ball_direct_generic(row, n, cs, w, out, dsts, nd, f32);
    }

    /* The gather method on the blocks blocks[:nb]: res[x] = min over the candidates i within
       w of the block of cval[i] + ctab[x - cpos[i]] (ctab padded with +inf, no window test). */
    static void ball_gather_rows(
        int avx2, const int64_t* cpos, const double* cval, const int64_t* first, int64_t n,
        const double* ctab, int64_t w, const int64_t* blocks, int64_t nb, double* res)
    {
        if (avx2 == 2)
            ball_gather_rows_avx512(cpos, cval, first, n, ctab, w, blocks, nb, res);
        else if (avx2)
            ball_gather_rows_avx2(cpos, cval, first, n, ctab, w, blocks, nb, res);
        else
            ball_gather_rows_generic(cpos, cval, first, n, ctab, w, blocks, nb, res);
    }

    /* dst = min(dst, res) over a row, exact after rounding to dst's dtype ("+ 0.0" is an
       identity here: no value is -0). */
    BALL_CLONES
    static void ball_min_row_f(float* restrict dst, const double* restrict res, int64_t n)
    {
        for (int64_t x = 0; x < n; x++) {
            double v = res[x], o = (double)dst[x];
            dst[x] = (float)((v < o ? v : o) + 0.0);
        }
    }

    BALL_CLONES
    static void ball_min_row_d(double* restrict dst, const double* restrict res, int64_t n)
    {
        for (int64_t x = 0; x < n; x++) {
            double v = res[x], o = dst[x];
            dst[x] = (v < o ? v : o) + 0.0;
        }
    }

    /* line = sign * src in float64. */
    BALL_CLONES
    static void ball_load_row_f(double* restrict line, const float* restrict src, double sign,
                                int64_t n)
    {
        for (int64_t x = 0; x < n; x++) line[x] = sign * (double)src[x];
    }

    BALL_CLONES
    static void ball_load_row_d(double* restrict line, const double* restrict src, double sign,
                                int64_t n)
    {
        for (int64_t x = 0; x < n; x++) line[x] = sign * src[x];
    }

    /* out[sg] = the largest sign * (b[x] - a[x]) over the segment's pixels, plus slack (+inf
       if b is NULL or a value is not finite). */
    #define BALL_SEG_RISE_DEFINE(NAME, T)                                                 \
        BALL_CLONES                                                                       \
        static void NAME(const T* a, const T* b, double sign, int64_t n, int64_t nblk,    \
                         double slack, double* out)                                       \
        {                                                                                 \
            for (int64_t sg = 0; sg < nblk; sg++) {                                       \
                int64_t x0 = sg * 16, x1 = x0 + 16 < n ? x0 + 16 : n;                     \
                double hi = -INFINITY, bad = 0.0;                                         \
                if (b == NULL) { out[sg] = INFINITY; continue; }                          \
                for (int64_t x = x0; x < x1; x++) {                                       \
                    double d = sign * ((double)b[x] - (double)a[x]);                      \
                    bad += d - d;                                                         \
                    hi = d > hi ? d : hi;                                                 \
                }                                                                         \
                out[sg] = bad == bad ? hi + slack : INFINITY;                             \
            }                                                                             \
        }
    BALL_SEG_RISE_DEFINE(ball_seg_rise_f, float)
    BALL_SEG_RISE_DEFINE(ball_seg_rise_d, double)

    /* Blocks of 16 pixels as four vectors of four float64 lanes (GCC vector extensions),
       in one fixed order whatever the target: minima and maxima "a < b ? a : b" per
       lane, then across the lanes.  The output rows are float32 or float64 (f32), compiled
       apart as constants. */
    #pragma GCC diagnostic ignored "-Wpsabi"
    typedef double ball_v4d __attribute__((vector_size(32)));
    typedef float ball_v4f __attribute__((vector_size(16)));
    typedef int64_t ball_v4l __attribute__((vector_size(32)));
    #define BALL_INLINE static inline __attribute__((always_inline))

    /* Macros, not functions: clang refuses a 32-byte vector passed by value between a
       function compiled for AVX (a target_clones version) and one that is not. */
    #define ball_ld(p) __extension__ ({ ball_v4d ball_v_; memcpy(&ball_v_, (p), sizeof ball_v_); ball_v_; })
    #define ball_ld_dst(dst, i, f32) __extension__ ({ ball_v4d ball_r_; if (f32) { ball_v4f ball_f_; memcpy(&ball_f_, (const float*)(dst) + (i), sizeof ball_f_); ball_r_ = __builtin_convertvector(ball_f_, ball_v4d); } else { memcpy(&ball_r_, (const double*)(dst) + (i), sizeof ball_r_); } ball_r_; })
    #define ball_st_dst(dst, i, v, f32) do { ball_v4d ball_s_ = (v); if (f32) { ball_v4f ball_g_ = __builtin_convertvector(ball_s_, ball_v4f); memcpy((float*)(dst) + (i), &ball_g_, sizeof ball_g_); } else { memcpy((double*)(dst) + (i), &ball_s_, sizeof ball_s_); } } while (0)
    #define ball_sel(m, a, b) ((ball_v4d)(((m) & (ball_v4l)(a)) | (~(m) & (ball_v4l)(b))))

    BALL_INLINE double ball_get(const void* dst, int64_t i, int f32)
    {
        return f32 ? (double)((const float*)dst)[i] : ((const double*)dst)[i];
    }

    BALL_INLINE void ball_set(void* dst, int64_t i, double v, int f32)
    {
        if (f32) ((float*)dst)[i] = (float)v;
        else ((double*)dst)[i] = v;
    }

    /* The smallest float32 >= v. */
    static inline float ball_round_up32(double v)
    {
        float up = (float)v;
        if ((double)up < v) up = nextafterf(up, INFINITY);
        return up;
    }

    /* Min res into dst on the blocks blocks[:nb] (a float32 dst gets res rounded first:
       rounding is monotone, so the result is exact); top[blk] = the block's new maximum,
       rounded up to float32. */
    BALL_INLINE void ball_update_target_impl(void* dst, const double* res, const int64_t* blocks,
                                             int64_t nb, float* top, int64_t n, int f32)
    {
        int64_t nfull = n / 16;
        for (int64_t i = 0; i < nb; i++) {
            int64_t blk = blocks[i], x0 = blk * 16;
            if (blk < nfull) {
                ball_v4d hi = {0.0, 0.0, 0.0, 0.0};
                for (int k = 0; k < 4; k++) {
                    ball_v4d r = ball_ld(res + x0 + 4 * k);
                    if (f32)
                        r = __builtin_convertvector(__builtin_convertvector(r, ball_v4f), ball_v4d);
                    ball_v4d d = ball_ld_dst(dst, x0 + 4 * k, f32);
                    ball_v4d m = ball_sel(r < d, r, d);
                    ball_st_dst(dst, x0 + 4 * k, m, f32);
                    hi = k == 0 ? m : ball_sel(hi > m, hi, m);
                }
                double acc = hi[0];
                for (int l = 1; l < 4; l++) acc = acc > hi[l] ? acc : hi[l];
                top[blk] = ball_round_up32(acc);
            } else {
                double high = -INFINITY;
                for (int64_t x = x0; x < n; x++) {
                    if (res[x] < ball_get(dst, x, f32)) ball_set(dst, x, res[x], f32);
                    double v = ball_get(dst, x, f32);
                    if (v > high) high = v;
                }
                top[blk] = ball_round_up32(high);
            }
        }
    }

    BALL_CLONES
    static void ball_update_target_f(float* dst, const double* res, const int64_t* blocks,
                                     int64_t nb, float* top, int64_t n)
    {
        ball_update_target_impl(dst, res, blocks, nb, top, n, 1);
    }

    BALL_CLONES
    static void ball_update_target_d(double* dst, const double* res, const int64_t* blocks,
                                     int64_t nb, float* top, int64_t n)
    {
        ball_update_target_impl(dst, res, blocks, nb, top, n, 0);
    }

    /* Append to blocks[:nb] the blocks where lower + off < dst somewhere (live flags those
       listed): first the blocks whose minimum of lower plus off is below top (an upper bound
       of dst's maximum), 64 blocks to a bit mask, then pixel by pixel (maybe is unused).  Returns
       the count. */
    BALL_INLINE int64_t ball_flag_live_impl(
        const double* lower, const double* lower_min, double off, const void* dst,
        const float* top, int64_t nblk, uint8_t* live, int64_t* blocks, int64_t nb,
        uint8_t* maybe, int64_t nmaybe, int64_t n, int f32)
    {
        int64_t nfull = n / 16;
        ball_v4d voff = {off, off, off, off};
        (void)maybe;
        (void)nmaybe;
        for (int64_t base = 0; base < nblk; base += 64) {
            int64_t cnt = nblk - base < 64 ? nblk - base : 64;
            uint64_t word = 0;
            for (int64_t k = 0; k < cnt; k++)
                word |= (uint64_t)(lower_min[base + k] + off < (double)top[base + k]) << k;
            while (word != 0) {
                int64_t blk = base + __builtin_ctzll(word);
                word &= word - 1;
                if (live[blk]) continue;
                int64_t x0 = blk * 16;
                int hit = 0;
                if (blk < nfull) {
                    ball_v4l h = {0, 0, 0, 0};
                    for (int k = 0; k < 4; k++)
                        h |= (ball_ld(lower + x0 + 4 * k) + voff) < ball_ld_dst(dst, x0 + 4 * k, f32);
                    hit = (h[0] | h[1] | h[2] | h[3]) != 0;
                } else {
                    for (int64_t x = x0; x < n; x++) hit |= lower[x] + off < ball_get(dst, x, f32);
                }
                if (hit) {
                    live[blk] = 1;
                    blocks[nb++] = blk;
                }
            }
        }
        return nb;
    }

    BALL_CLONES
    static int64_t ball_flag_live_f(
        const double* lower, const double* lower_min, double off, const float* dst,
        const float* top, int64_t nblk, uint8_t* live, int64_t* blocks, int64_t nb,
        uint8_t* maybe, int64_t nmaybe, int64_t n)
    {
        return ball_flag_live_impl(lower, lower_min, off, dst, top, nblk, live, blocks, nb,
                                   maybe, nmaybe, n, 1);
    }

    BALL_CLONES
    static int64_t ball_flag_live_d(
        const double* lower, const double* lower_min, double off, const double* dst,
        const float* top, int64_t nblk, uint8_t* live, int64_t* blocks, int64_t nb,
        uint8_t* maybe, int64_t nmaybe, int64_t n)
    {
        return ball_flag_live_impl(lower, lower_min, off, dst, top, nblk, live, blocks, nb,
                                   maybe, nmaybe, n, 0);
    }

    /* out[blk] = min(src[16 blk : 16 (blk + 1)]), the last block stopping at n. */
    BALL_CLONES
    static void ball_block_minima(const double* src, int64_t n, double* out, int64_t nblk)
    {
        int64_t nfull = n / 16;
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t x0 = blk * 16;
            if (blk < nfull) {
                ball_v4d low = ball_ld(src + x0);
                for (int k = 1; k < 4; k++) {
                    ball_v4d v = ball_ld(src + x0 + 4 * k);
                    low = ball_sel(low < v, low, v);
                }
                double acc = low[0];
                for (int l = 1; l < 4; l++) acc = acc < low[l] ? acc : low[l];
                out[blk] = acc;
            } else {
                double low = INFINITY;
                for (int64_t x = x0; x < n; x++) low = src[x] < low ? src[x] : low;
                out[blk] = low;
            }
        }
    }

    /* acc = min(acc, nb + m) ("+ 0.0": an identity here). */
    BALL_CLONES
    static void ball_lower_margin(const double* restrict nb, double m, double* restrict acc,
                                  int64_t n)
    {
        for (int64_t x = 0; x < n; x++) {
            double v = nb[x] + m, a = acc[x];
            acc[x] = (v < a ? v : a) + 0.0;
        }
    }

    /* keep[x] = whether pixel x has no cover on both sides (see the candidates). */
    BALL_CLONES
    static void ball_keep(const double* restrict g, const double* restrict ar,
                          const double* restrict al, uint8_t* restrict keep, int64_t n)
    {
        for (int64_t x = 0; x < n; x++) {
            double gb = g[x], r = ar[x], u = al[x];
            int covered = (r <= gb) & (r < INFINITY) & (u <= gb) & (u < INFINITY) & (gb > -INFINITY);
            keep[x] = !covered;
        }
    }

    /* The gather restricted by thresholds: for each block, a 16-pixel segment of the input
       row within reach is visited only if segmin[seg] + cost(distance from pixel x to the
       segment) < thr[x] for some pixel x of the block (the costs grow with the distance, so
       no candidate of a segment that fails can take an output pixel below thr).  With the
       table symmetric, those costs are 16 consecutive entries of ctab.  Lanes and order of
       the minima as in ball_gather_rows. */
    BALL_INLINE int ball_seg_hits(double m, const double* c, const double* t)
    {
        ball_v4d vm = {m, m, m, m};
        ball_v4l h = {0, 0, 0, 0};
        for (int k = 0; k < 4; k++) h |= (vm + ball_ld(c + 4 * k)) < ball_ld(t + 4 * k);
        return (h[0] | h[1] | h[2] | h[3]) != 0;
    }

    BALL_INLINE int ball_seg_live(const double* segmin, int64_t sg, const double* ctab,
                                    int64_t x0, const double* thr)
    {
        int64_t s0 = sg * 16;
        if (s0 == x0) return 1;
        return ball_seg_hits(segmin[sg], ctab + (s0 < x0 ? x0 - s0 - 15 : x0 - s0), thr + x0);
    }

    /* The largest of 16 values. */
    BALL_INLINE double ball_max16(const double* t)
    {
        ball_v4d m = ball_ld(t);
        for (int k = 1; k < 4; k++) {
            ball_v4d v = ball_ld(t + 4 * k);
            m = ball_sel(v > m, v, m);
        }
        double a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
        return a > b ? a : b;
    }

    /* Per block: a segment m >= 1 segments away is at least 16 m - 15 pixels from every
       pixel of the block, so segmin + cost(16 m - 15) >= tmax (the block's largest
       threshold) rules it out with one scalar test, before the 16-lane one.  The scalar
       tests of up to 64 segments go into a bit mask first (no branch per segment: about a
       fifth pass, unpredictably), whose set bits are then visited in increasing order, the
       order of the loop they replace; c16s holds the costs by signed segment distance. */
    #define BALL_FILTER_LOOP(...)                                                         \
        const int64_t ms_ = (w + 31) / 16 + 1;                                            \
        double c16s[2 * ms_ + 1];                                                         \
        for (int64_t m = 1; m <= ms_; m++)                                                \
            c16s[ms_ + m] = c16s[ms_ - m] = ctab[16 * m - 15];                            \
        c16s[ms_] = -INFINITY;                                                            \
        for (int64_t i = 0; i < nb; i++) {                                                \
            int64_t blk = blocks[i], x0 = blk * 16;                                       \
            int64_t lo = x0 - w > 0 ? x0 - w : 0;                                         \
            int64_t hi = x0 + 16 + w < n ? x0 + 16 + w : n;                               \
            const double* tab = ctab + x0;                                                \
            double tmax = ball_max16(thr + x0);                                           \
            (void)tab;                                                                    \
            __VA_ARGS__                                                                   \
        }

    #define BALL_FILTER_SEGMENTS(...)                                                     \
        for (int64_t base = lo / 16, sg_end = (hi + 15) / 16; base < sg_end; base += 64) { \
            int64_t cnt = sg_end - base < 64 ? sg_end - base : 64;                        \
            const double* sm_ = segmin + base;                                            \
            const double* cs_ = c16s + ms_ + base - blk;                                  \
            const double* st_ = segthr + base;                                            \
            uint64_t mask = 0;                                                            \
            for (int64_t k = 0; k < cnt; k++)                                             \
                mask |= (uint64_t)((sm_[k] + cs_[k] < tmax) & (st_[k] > rise_dy)) << k;   \
            while (mask != 0) {                                                           \
                int64_t sg = base + __builtin_ctzll(mask);                                \
                mask &= mask - 1;                                                         \
                int64_t s0 = sg * 16;                                                     \
                if (!ball_seg_live(segmin, sg, ctab, x0, thr)) continue;                  \
                int64_t jlo = BALL_FIRST(s0 > lo ? s0 : lo);                              \
                int64_t jhi = BALL_FIRST(s0 + 16 < hi ? s0 + 16 : hi);                    \
                for (int64_t j = jlo; j < jhi; j++) { __VA_ARGS__ }                       \
            }                                                                             \
        }

    /* Candidate j's position and the first candidate at or after position x: through the
       lists, or the identity when every pixel is a candidate (dense_, a constant per
       compiled version). */
    #define BALL_FIRST(x) (dense_ ? (x) : first[x])
    #define BALL_CPOS(j) (dense_ ? (j) : cpos[j])

    /* thr[x] = max over the nd rows dsts of dst[x] on the blocks listed (lanes past n:
       -inf). */
    BALL_INLINE void ball_thresholds_impl(void* const* dsts, int nd, const int64_t* blocks,
                                          int64_t nb, double* thr, int64_t n, int f32)
    {
        int64_t nfull = n / 16;
        for (int64_t i = 0; i < nb; i++) {
            int64_t x0 = blocks[i] * 16;
            if (blocks[i] < nfull) {
                for (int k = 0; k < 4; k++) {
                    ball_v4d m = ball_ld_dst(dsts[0], x0 + 4 * k, f32);
                    for (int d = 1; d < nd; d++) {
                        ball_v4d v = ball_ld_dst(dsts[d], x0 + 4 * k, f32);
                        m = ball_sel(v > m, v, m);
                    }
                    memcpy(thr + x0 + 4 * k, &m, sizeof m);
                }
            } else {
                for (int64_t x = x0; x < x0 + 16; x++) {
                    double m = -INFINITY;
                    for (int d = 0; d < nd && x < n; d++) {
                        double v = ball_get(dsts[d], x, f32);
                        m = v > m ? v : m;
                    }
                    thr[x] = m;
                }
            }
        }
    }

    BALL_CLONES
    static void ball_thresholds_f(void* const* dsts, int nd, const int64_t* blocks, int64_t nb,
                                  double* thr, int64_t n)
    {
        ball_thresholds_impl(dsts, nd, blocks, nb, thr, n, 1);
    }

    BALL_CLONES
    static void ball_thresholds_d(void* const* dsts, int nd, const int64_t* blocks, int64_t nb,
                                  double* thr, int64_t n)
    {
        ball_thresholds_impl(dsts, nd, blocks, nb, thr, n, 0);
    }

    static void ball_gather_filtered_generic(
        const int64_t* cpos, const double* cval, const int64_t* first, int64_t n,
        const double* ctab, int64_t w, const int64_t* blocks, int64_t nb,
        const double* segmin, const double* segthr, double rise_dy, const double* thr,
        double* res)
    {
        const int dense_ = 0;
        BALL_FILTER_LOOP(
            double a[16];
            for (int l = 0; l < 16; l++) a[l] = INFINITY;
            BALL_FILTER_SEGMENTS(
                double v = cval[j];
                const double* t = tab - cpos[j];
                for (int l = 0; l < 16; l++) {
                    double sum = v + t[l];
                    a[l] = sum < a[l] ? sum : a[l];
                }
            )
            for (int l = 0; l < 16; l++) res[x0 + l] = a[l];
        )
    }

    #ifdef BALL_X86
    /* The gather over the live segments only, for one ISA. */
    #define BALL_GATHER_FILTERED_DEFINE(NAME, TARGET, ACC, DENSE)                         \
        __attribute__((target(TARGET)))                                                   \
        static void NAME(                                                                 \
            const int64_t* cpos, const double* cval, const int64_t* first, int64_t n,     \
            const double* ctab, int64_t w, const int64_t* blocks, int64_t nb,             \
            const double* segmin, const double* segthr, double rise_dy, const double* thr, \
            double* res)                                                                  \
        {                                                                                 \
            const int dense_ = DENSE;                                                     \
            BALL_FILTER_LOOP(                                                             \
                BALL_ACC_##ACC##_INIT;                                                    \
                BALL_FILTER_SEGMENTS(BALL_ACC_##ACC##_ADD(cval[j], tab - BALL_CPOS(j));)  \
                BALL_ACC_##ACC##_STORE(res + x0);                                         \
            )                                                                             \
        }
    BALL_GATHER_FILTERED_DEFINE(ball_gather_filtered_avx2, "avx2", AVX2, 0)
    BALL_GATHER_FILTERED_DEFINE(ball_gather_filtered_avx512, "avx512f", AVX512, 0)
    BALL_GATHER_FILTERED_DEFINE(ball_gather_dense_avx2, "avx2", AVX2, 1)
    BALL_GATHER_FILTERED_DEFINE(ball_gather_dense_avx512, "avx512f", AVX512, 1)
    #else
    #define ball_gather_filtered_avx2 ball_gather_filtered_generic
    #define ball_gather_filtered_avx512 ball_gather_filtered_generic
    #define ball_gather_dense_avx2 ball_gather_filtered_generic
    #define ball_gather_dense_avx512 ball_gather_filtered_generic
    #endif

    /* dense: every pixel is a candidate (cpos[j] == j, first[x] == x). */
    static void ball_gather_filtered(
        int avx2, int dense, const int64_t* cpos, const double* cval, const int64_t* first,
        int64_t n, const double* ctab, int64_t w, const int64_t* blocks, int64_t nb,
        const double* segmin, const double* segthr, double rise_dy, const double* thr,
        double* res)
    {
        if (avx2 == 2 && dense)
            ball_gather_dense_avx512(cpos, cval, first, n, ctab, w, blocks, nb, segmin,
                                     segthr, rise_dy, thr, res);
        else if (avx2 == 2)
            ball_gather_filtered_avx512(cpos, cval, first, n, ctab, w, blocks, nb, segmin,
                                        segthr, rise_dy, thr, res);
        else if (avx2 && dense)
            ball_gather_dense_avx2(cpos, cval, first, n, ctab, w, blocks, nb, segmin,
                                   segthr, rise_dy, thr, res);
        else if (avx2)
            ball_gather_filtered_avx2(cpos, cval, first, n, ctab, w, blocks, nb, segmin,
                                      segthr, rise_dy, thr, res);
        else
            ball_gather_filtered_generic(cpos, cval, first, n, ctab, w, blocks, nb, segmin,
                                         segthr, rise_dy, thr, res);
    }


    static const int64_t ball_tier_level[6] = {0, 1, 1, 2, 3, 4};
    static const int64_t ball_tier_lo[6] = {1, 1, 3, 5, 9, 17};
    static const int64_t ball_tier_hi[6] = {1, 2, 4, 8, 16, 32};
    """
    void ball_gather_rows(int avx2, const int64_t* cpos, const double* cval,
                          const int64_t* first, int64_t n, const double* ctab, int64_t w,
                          const int64_t* blocks, int64_t nb, double* res) noexcept nogil
    int ball_cpu_has_avx2() noexcept nogil
    void ball_direct(int avx2, const double* row, int64_t n, const double* cs, int64_t w,
                     double* out, void** dsts, int nd, int f32) noexcept nogil
    void ball_min_row_f(float* dst, const double* res, int64_t n) noexcept nogil
    void ball_min_row_d(double* dst, const double* res, int64_t n) noexcept nogil
    void ball_load_row_f(double* line, const float* src, double sign, int64_t n) noexcept nogil
    void ball_load_row_d(double* line, const double* src, double sign, int64_t n) noexcept nogil
    float ball_round_up32(double v) noexcept nogil
    void ball_update_target_f(float* dst, const double* res, const int64_t* blocks, int64_t nb,
                              float* top, int64_t n) noexcept nogil
    void ball_update_target_d(double* dst, const double* res, const int64_t* blocks,
                              int64_t nb, float* top, int64_t n) noexcept nogil
    int64_t ball_flag_live_f(const double* lower, const double* lower_min, double off,
                             const float* dst, const float* top, int64_t nblk, uint8_t* live,
                             int64_t* blocks, int64_t nb, uint8_t* maybe, int64_t nmaybe,
                             int64_t n) noexcept nogil
    int64_t ball_flag_live_d(const double* lower, const double* lower_min, double off,
                             const double* dst, const float* top, int64_t nblk, uint8_t* live,
                             int64_t* blocks, int64_t nb, uint8_t* maybe, int64_t nmaybe,
                             int64_t n) noexcept nogil
    void ball_seg_rise_f(const float* a, const float* b, double sign, int64_t n, int64_t nblk,
                         double slack, double* out) noexcept nogil
    void ball_seg_rise_d(const double* a, const double* b, double sign, int64_t n, int64_t nblk,
                         double slack, double* out) noexcept nogil
    void ball_block_minima(const double* src, int64_t n, double* out, int64_t nblk) noexcept nogil
    void ball_lower_margin(const double* nb, double m, double* acc, int64_t n) noexcept nogil
    void ball_keep(const double* g, const double* ar, const double* al, uint8_t* keep,
                   int64_t n) noexcept nogil
    void ball_thresholds_f(void** dsts, int nd, const int64_t* blocks, int64_t nb, double* thr,
                           int64_t n) noexcept nogil
    void ball_thresholds_d(void** dsts, int nd, const int64_t* blocks, int64_t nb, double* thr,
                           int64_t n) noexcept nogil
    void ball_gather_filtered(int avx2, int dense, const int64_t* cpos, const double* cval,
                              const int64_t* first, int64_t n, const double* ctab, int64_t w,
                              const int64_t* blocks, int64_t nb, const double* segmin,
                              const double* segthr, double rise_dy, const double* thr,
                              double* res) noexcept nogil
    const int64_t* ball_tier_level
    const int64_t* ball_tier_lo
    const int64_t* ball_tier_hi


ctypedef fused real_in:
    float
    double

ctypedef fused real_out:
    float
    double

cdef enum:
    BLOCK = 16
    # the coarse-to-fine driver erodes an input row for each of its two output rows apart
    # (each with its own neighbour domination) from this cap half-width on
    SPLIT_MIN_WIDTH = 64
    NGROUPS = 7
    KMAX = 32

#: The two sweeps keep each input row's central-cap erosion (the lower bound) from the first
#: sweep for the second when the central cap is at least E0_KEEP_MIN_WIDTH pixels wide on
#: each side and the rows kept fit in E0_KEEP_BYTES; otherwise the second sweep computes it
#: again (the same values).  Narrower caps are cheaper to redo than to keep in a fresh
#: image-sized buffer: 2048x2048 benchmark image, one thread, keeping made the erosion
#: about 5 % slower at r = 20-30; at r = 150, 8 % fewer instructions.
cdef Py_ssize_t E0_KEEP_BYTES = 256 * 1024 * 1024
cdef int64_t E0_KEEP_MIN_WIDTH = 64

#: A closed-form switch-over point this close to an integer is re-checked directly.
cdef double NEAR = 1e-6

cdef int AVX2 = ball_cpu_has_avx2()

# the constants as the kernel uses them, for the Python module (one definition)
BLOCK_SIZE = BLOCK
NEAR_INTEGER = NEAR
TIER_LEVEL = tuple([ball_tier_level[t] for t in range(6)])
TIER_LO = tuple([ball_tier_lo[t] for t in range(6)])
TIER_HI = tuple([ball_tier_hi[t] for t in range(6)])


cdef struct Params:
    # the problem, shared by every block of output rows (read-only)
    Py_ssize_t nz, ny, nx, fz, fy, pad_c, pad, nblk, ncost, nctab, rowlen
    const int64_t* widths
    const double* rhos
    const double* costs
    const double* ctabs
    const double* offs
    const int64_t* groups
    const double* margins
    const double* method
    const int64_t* all_blocks
    double inv_s, slack, sign
    bint use_bounds
    float* tops
    double* e0all
    double* e0min_all
    Py_ssize_t lmax
    # neighbour domination (2D coarse to fine): rise[dy], the least increase of the cost from
    # row dy - 1 to row dy at any column (made non-decreasing in dy); reach[2 row + side], the
    # largest dy for which input row ``row`` can matter to output row row - dy (side 0) or
    # row + dy (side 1); NULL: every dy
    const double* rise
    int64_t* reach
    # segthr[side * nz * ny * nblk + row * nblk + sg]: see _segment_thresholds
    double* segthr
    # two sweeps: each input row's central-cap erosion and its block minima, kept from
    # the first sweep for the second (NULL: recomputed), e0rows rows per block of rows
    double* e0keep
    double* e0min_keep
    uint8_t* e0kept
    Py_ssize_t e0rows


cdef struct Scratch:
    # per block of output rows: block b's buffers start at b times each length
    double* row
    double* res
    double* e0
    double* e0_min
    double* mins
    int64_t* cpos
    double* cval
    int64_t* first
    int64_t* nks
    double* debt
    double* ar
    double* al
    uint8_t* keep
    uint8_t* live
    uint8_t* maybe
    int64_t* blocks
    int64_t* qa
    double* qg
    int64_t* qt
    double* segmin
    double* thr
    bint use_thr
    # the filtered gather's neighbour domination: the input row's segment thresholds and
    # rise[dy] of the cap being eroded (a segment goes when rise[dy] >= its threshold)
    const double* segthr
    double rise_dy
    const double* inf_seg  # nblk times +inf (no domination)
    double* segcomb  # the larger of the loaded row's two sides' thresholds
    Py_ssize_t n16, nmaybe


# ----------------------------------------------------------------------------
# 1D erosion of one row by one cap
# ----------------------------------------------------------------------------


cdef inline bint _better(double ga, double gb, int64_t a, int64_t b, int64_t x, int64_t w,
                         const double* cs) noexcept nogil:
    return gb + cs[x - b + w] <= ga + cs[x - a + w]


cdef int64_t _switch_point(double ga, double gb, int64_t a, int64_t b, int64_t w, double rho,
                           double inv_s, double span, const double* cs) noexcept nogil:
    """First integer x at which candidate ``b > a`` is at least as good as ``a``."""
    cdef int64_t lo = b - w, hi = a + w + 1, t
    cdef double delta = gb - ga, ds, d, l2, edge, xc, q
    cdef bint near
    if delta > span:
        return hi
    if delta <= -span:
        return lo
    if delta != delta:
        return lo
    ds = delta * inv_s
    d = <double>(b - a)
    l2 = d * d + ds * ds
    edge = 2.0 * rho * d
    if l2 > edge:
        t = hi if delta > 0 else lo
        near = l2 - edge < NEAR * edge
    else:
        q = rho * rho / l2 - 0.25
        if 0.0 > q:
            q = 0.0
        xc = 0.5 * <double>(a + b) + ds * sqrt(q)
        if xc <= lo:
            t = lo
        elif xc >= hi:
            t = hi
        else:
            t = <int64_t>ceil(xc)
        near = fabs(xc - floor(xc + 0.5)) < NEAR
    if near:
        while t > lo and _better(ga, gb, a, b, t - 1, w, cs):
            t -= 1
        while t < hi and not _better(ga, gb, a, b, t, w, cs):
            t += 1
    return t


cdef void _min_shift(const double* src, double* dst, Py_ssize_t half,
                     Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t p
    cdef double a, b
    for p in range(size - half):
        a = src[p]
        b = src[p + half]
        dst[p] = a if a < b else b
    for p in range(size - half if size - half > 0 else 0, size):
        dst[p] = src[p]


cdef void _tier_minima(const double* row, Py_ssize_t done, Py_ssize_t levels, double* mins,
                       Py_ssize_t size) noexcept nogil:
    if done < 1 <= levels:
        _min_shift(row, mins, 1, size)
    if done < 2 <= levels:
        _min_shift(mins, mins + size, 2, size)
    if done < 3 <= levels:
        _min_shift(mins + size, mins + 2 * size, 4, size)
    if done < 4 <= levels:
        _min_shift(mins + 2 * size, mins + 3 * size, 8, size)


cdef int64_t _candidates(const double* row, Py_ssize_t pad, Py_ssize_t n, const double* mins,
                         Py_ssize_t size, const double* margins, Py_ssize_t group,
                         int64_t* cpos, double* cval, int64_t* first, double* ar, double* al,
                         uint8_t* keep) noexcept nogil:
    """Keep the pixels of ``row[pad:pad + n]`` that may win some erosion; return their count."""
    cdef const double* g = row + pad
    cdef const double* src
    cdef Py_ssize_t x, t, b, level
    cdef int64_t nk = 0
    cdef double m
    for x in range(n):
        ar[x] = INFINITY
        al[x] = INFINITY
    for t in range(0 if group == 1 else 1, group):
        level = ball_tier_level[t]
        m = margins[ball_tier_hi[t]]
        src = row if level == 0 else mins + (level - 1) * size
        ball_lower_margin(src + pad + ball_tier_lo[t], m, ar, n)
        ball_lower_margin(src + pad - ball_tier_hi[t], m, al, n)
    ball_keep(g, ar, al, keep, n)
    if n > 1:
        keep[0] = not ((ar[0] <= g[0]) & (ar[0] < INFINITY) & (g[0] > -INFINITY))
        keep[n - 1] = not ((al[n - 1] <= g[n - 1]) & (al[n - 1] < INFINITY)
                           & (g[n - 1] > -INFINITY))
    for b in range(n):
        first[b] = nk
        cpos[nk] = b
        cval[nk] = g[b]
        nk += keep[b]
    first[n] = nk
    return nk


cdef void _erode_line_envelope(const int64_t* cpos, const double* cval, int64_t nk,
                               const double* cs, int64_t w, double rho, double inv_s,
                               double* out, Py_ssize_t n, int64_t* sa, double* sg,
                               int64_t* st) noexcept nogil:
    """Lower envelope of the candidates' cost translates (stack), read out segment by segment."""
    cdef double span = cs[0] - cs[w], gb, ga
    cdef Py_ssize_t top = -1, i, x
    cdef int64_t b, lo, x0, t, off, x1
    for i in range(nk):
        b = cpos[i]
        gb = cval[i]
        lo = b - w
        while top >= 0:
            x0 = st[top]
            if x0 >= lo and gb + cs[x0 - lo] <= sg[top] + cs[x0 - sa[top] + w]:
                top -= 1
            else:
                break
        t = 0
        if top >= 0:
            t = _switch_point(sg[top], gb, sa[top], b, w, rho, inv_s, span, cs)
        top += 1
        sa[top] = b
        sg[top] = gb
        st[top] = t
    for i in range(top + 1):
        ga = sg[i]
        off = w - sa[i]
        if i < top:
            x1 = st[i + 1] if st[i + 1] < n else n
        else:
            x1 = n
        for x in range(st[i], x1):
            out[x] = ga + cs[x + off]


cdef inline void _erode_line_direct(const double* row, Py_ssize_t pad, Py_ssize_t n,
                                    const double* cs, int64_t w, double* out) noexcept nogil:
    """Direct erosion of ``row[pad:pad + n]`` by the cap ``cs[0:2w+1]`` into ``out``."""
    ball_direct(AVX2, row + pad, n, cs, w, out, NULL, 0, 0)


# ----------------------------------------------------------------------------
# Output-row updates (float32 or float64 output rows)
# ----------------------------------------------------------------------------


cdef inline void _min_row(real_out* dst, const double* res, Py_ssize_t n) noexcept nogil:
    if real_out is float:
        ball_min_row_f(dst, res, n)
    else:
        ball_min_row_d(dst, res, n)


cdef inline void _update_target(real_out* dst, const double* res, const int64_t* blocks,
                                Py_ssize_t nb, float* top, Py_ssize_t n) noexcept nogil:
    if real_out is float:
        ball_update_target_f(dst, res, blocks, nb, top, n)
    else:
        ball_update_target_d(dst, res, blocks, nb, top, n)


cdef inline Py_ssize_t _flag_live(const double* lower, const double* lower_min, double off,
                                  const real_out* dst, const float* top, Py_ssize_t nblk,
                                  uint8_t* live, int64_t* blocks, Py_ssize_t nb, uint8_t* maybe,
                                  Py_ssize_t nmaybe, Py_ssize_t n) noexcept nogil:
    if real_out is float:
        return ball_flag_live_f(lower, lower_min, off, dst, top, nblk, live, blocks, nb, maybe,
                                nmaybe, n)
    else:
        return ball_flag_live_d(lower, lower_min, off, dst, top, nblk, live, blocks, nb, maybe,
                                nmaybe, n)


# ----------------------------------------------------------------------------
# Method choice and the nD driver
# ----------------------------------------------------------------------------


cdef inline bint _direct_first(const double* method, int64_t w, Py_ssize_t nlive, Py_ssize_t n,
                               bint no_list) noexcept nogil:
    """Whether a row goes straight to the direct method, before any candidate list."""
    cdef double force = method[0], cost_direct, gather_low
    if force == 1:
        return True
    if force != 0:
        return False
    cost_direct = <double>((2 * w + 1) * n) * method[6]
    gather_low = <double>nlive * (<double>(2 * w + BLOCK) * method[2] / 4.0 + method[3])
    return w == 0 or (no_list and cost_direct <= gather_low)


cdef Py_ssize_t _erode_row(const Params* p, const Scratch* s, Py_ssize_t dz, Py_ssize_t dy,
                           Py_ssize_t levels_done, const int64_t* blocks, Py_ssize_t nlive,
                           double* res) noexcept nogil:
    """Erode the loaded row by the cap ``(dz, dy)`` into ``res`` on the blocks listed."""
    cdef Py_ssize_t cap = dz * (p.fy + 1) + dy, n = p.nx
    cdef int64_t w = p.widths[cap], g = p.groups[cap], nk = 0, ntiers, need
    cdef double force = p.method[0], build, reach, cost_gather, cost_env
    cdef double cost_direct = <double>((2 * w + 1) * n) * p.method[6]
    cdef int use
    cdef const double* values
    if _direct_first(p.method, w, nlive, n, s.nks[g] < 0):
        use = 1
    else:
        if s.nks[g] < 0:
            ntiers = 1 if g == 1 else g - 1
            build = <double>n * (p.method[8] + p.method[9] * <double>ntiers)
            s.debt[g] += <double>(nlive * (2 * w + BLOCK)) * p.method[2] * 0.7
            if force != 0 or s.debt[g] > build:
                need = ball_tier_level[g - 1]
                if need > levels_done:
                    _tier_minima(s.row, levels_done, need, s.mins, p.rowlen)
                    levels_done = need
                s.nks[g] = _candidates(
                    s.row, p.pad, n, s.mins, p.rowlen, p.margins + g * (KMAX + 1), g,
                    s.cpos + g * n, s.cval + g * n, s.first + g * (n + 1), s.ar, s.al, s.keep,
                )
            else:
                g = 0
        nk = s.nks[g]
        reach = <double>(nk * (2 * w + BLOCK)) / <double>n
        cost_gather = <double>nlive * (reach * p.method[2] + p.method[3])
        if w > p.method[7]:
            cost_env = <double>nk * p.method[4] + <double>n * p.method[5]
        else:
            cost_env = INFINITY
        if force == 2:
            use = 2
        elif force == 3:
            use = 3
        elif s.use_thr and cost_direct > cost_env:
            use = 2  # the filtered gather visits far fewer candidates than estimated here
        elif cost_direct <= cost_gather and cost_direct <= cost_env:
            use = 1
        elif cost_gather <= cost_env:
            use = 2
        else:
            use = 3
    if use == 1:
        _erode_line_direct(s.row, p.pad, n, p.costs + cap * p.ncost + p.pad_c - w, w, res)
    else:
        values = s.row + p.pad if g == 0 else s.cval + g * n
        if use == 2 and s.use_thr:
            ball_gather_filtered(AVX2, g == 0, s.cpos + g * n, values, s.first + g * (n + 1), n,
                                 p.ctabs + cap * p.nctab + BLOCK + p.pad_c, w, blocks, nlive,
                                 s.segmin, s.segthr, s.rise_dy, s.thr, res)
        elif use == 2:
            ball_gather_rows(AVX2, s.cpos + g * n, values, s.first + g * (n + 1), n,
                             p.ctabs + cap * p.nctab + BLOCK + p.pad_c, w, blocks, nlive, res)
        else:
            _erode_line_envelope(s.cpos + g * n, values, nk, p.costs + cap * p.ncost + p.pad_c - w,
                                 w, p.rhos[cap], p.inv_s, res, n, s.qa, s.qg, s.qt)
    return levels_done


cdef Py_ssize_t _fill_rows_upto(real_out* out, const Params* p, Py_ssize_t z0, Py_ssize_t z1,
                                Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t done,
                                Py_ssize_t limit) noexcept nogil:
    """Set to +inf the block's output rows from the ``done``-th on, up to row index ``limit``.

    The rows ``[z0, z1) x [y0, y1)`` are counted in (z, y) order; a row's index in the
    image is ``z * ny + y``.  Returns the count set so far.
    """
    cdef Py_ssize_t nyb = y1 - y0, nout = (z1 - z0) * (y1 - y0), zt, yt, x
    cdef real_out* dst
    while done < nout:
        zt = z0 + done // nyb
        yt = y0 + done % nyb
        if zt * p.ny + yt > limit:
            break
        dst = out + (zt * p.ny + yt) * p.nx
        for x in range(p.nx):
            dst[x] = INFINITY
        done += 1
    return done


cdef void _scratch_for(const Params* p, const Scratch* s0, Py_ssize_t b,
                       Scratch* s) noexcept nogil:
    """Point ``s`` at block ``b``'s share of the scratch buffers."""
    cdef Py_ssize_t nx = p.nx, nblk = p.nblk, n16 = s0.n16
    s.n16 = n16
    s.nmaybe = s0.nmaybe
    s.row = s0.row + b * p.rowlen
    s.res = s0.res + b * n16
    s.e0 = s0.e0 + b * n16
    s.e0_min = s0.e0_min + b * nblk
    s.mins = s0.mins + b * 4 * p.rowlen
    s.cpos = s0.cpos + b * NGROUPS * nx
    s.cval = s0.cval + b * NGROUPS * nx
    s.first = s0.first + b * NGROUPS * (nx + 1)
    s.nks = s0.nks + b * NGROUPS
    s.debt = s0.debt + b * NGROUPS
    s.ar = s0.ar + b * nx
    s.al = s0.al + b * nx
    s.keep = s0.keep + b * nx
    s.live = s0.live + b * nblk
    s.maybe = s0.maybe + b * s0.nmaybe
    s.blocks = s0.blocks + b * nblk
    s.qa = s0.qa + b * nx
    s.qg = s0.qg + b * nx
    s.qt = s0.qt + b * nx
    s.segmin = s0.segmin + b * nblk
    s.thr = s0.thr + b * n16
    s.use_thr = False
    s.segthr = NULL
    s.rise_dy = -INFINITY
    s.inf_seg = s0.inf_seg
    s.segcomb = s0.segcomb + b * nblk


cdef void _load_row(const real_in* img, const Params* p, const Scratch* s, Py_ssize_t k,
                    Py_ssize_t j) noexcept nogil:
    """Load input row ``(k, j)`` (times the sign) and forget the previous row's candidates."""
    cdef Py_ssize_t i
    cdef const real_in* src = img + (k * p.ny + j) * p.nx
    if real_in is float:
        ball_load_row_f(s.row + p.pad, src, p.sign, p.nx)
    else:
        ball_load_row_d(s.row + p.pad, src, p.sign, p.nx)
    for i in range(NGROUPS):
        s.nks[i] = -1
        s.debt[i] = 0.0
    s.nks[0] = p.nx


cdef inline Py_ssize_t _row_level(Py_ssize_t k, Py_ssize_t j, Py_ssize_t lmax) noexcept nogil:
    """Coarse-to-fine level of input row ``(k, j)``: the trailing zero bits of its indices."""
    cdef Py_ssize_t lev = 0
    while lev < lmax and (j >> lev) & 1 == 0 and (k >> lev) & 1 == 0:
        lev += 1
    return lev


cdef int64_t _reach(const Params* p, const double* seg) noexcept nogil:
    """The largest ``dy`` for which an input row can matter to the output row ``dy`` away on
    one side, from the row's segment thresholds ``seg`` for that side.

    Neighbour domination: where the centre ``(yn, x)`` one row nearer to the output row is
    lower (in the kernel's sign) than ``(yt, x)`` by at most the least cost increase between
    the caps ``dy`` and ``dy - 1`` (``rise[dy]``, minus the slack), the centre ``(yn, x)`` gives
    a strictly smaller value than ``(yt, x)`` at every pixel of the output row, so row ``yt``
    cannot win there. The test takes the row's largest ``sign * (row yn - row yt)``.
    """
    cdef double thr = -INFINITY
    cdef Py_ssize_t sg
    cdef int64_t lo = 0, hi = p.fy, mid
    for sg in range(p.nblk):
        thr = seg[sg] if seg[sg] > thr else thr
    if not thr < INFINITY:
        return p.fy
    while lo < hi:  # the largest dy in [0, fy] with rise[dy] < thr (rise[0] = -inf)
        mid = (lo + hi + 1) // 2
        if p.rise[mid] < thr:
            lo = mid
        else:
            hi = mid - 1
    return lo


cdef void _segment_thresholds(const real_in* img, const Params* p, Py_ssize_t zt, Py_ssize_t yt,
                              double* out) noexcept nogil:
    """Per 16-pixel segment of input row ``yt``: the largest rise to the row above (``out``)
    and to the row below (``out + nz * ny * nblk``), plus the slack (``+inf`` where that row is
    missing): no centre of the segment can matter to the output row ``dy`` away on that side
    where ``rise[dy]`` reaches it."""
    cdef const real_in* a = img + (zt * p.ny + yt) * p.nx
    cdef const real_in* up = a - p.nx if yt > 0 else NULL
    cdef const real_in* dn = a + p.nx if yt + 1 < p.ny else NULL
    cdef double* out_dn = out + p.nz * p.ny * p.nblk
    if real_in is float:
        ball_seg_rise_f(a, up, p.sign, p.nx, p.nblk, p.slack, out)
        ball_seg_rise_f(a, dn, p.sign, p.nx, p.nblk, p.slack, out_dn)
    else:
        ball_seg_rise_d(a, up, p.sign, p.nx, p.nblk, p.slack, out)
        ball_seg_rise_d(a, dn, p.sign, p.nx, p.nblk, p.slack, out_dn)


cdef void _central_block(const real_in* img, real_out* out, const Params* p, const Scratch* s0,
                         Py_ssize_t b, Py_ssize_t z0, Py_ssize_t z1, Py_ssize_t y0,
                         Py_ssize_t y1) noexcept nogil:
    """First stage of the bounded erosion, on the rows ``[z0, z1) x [y0, y1)``.

    Each row's erosion by the central cap is kept (with its block minima) as the lower
    bound of every cap's erosion of that row, and is the output row's first value.
    """
    cdef Scratch s
    cdef Py_ssize_t nx = p.nx, nblk = p.nblk, zt, yt, x, row
    cdef int64_t w0 = p.widths[0]
    cdef double* e0
    cdef real_out* dst
    _scratch_for(p, s0, b, &s)
    for zt in range(z0, z1):
        for yt in range(y0, y1):
            row = zt * p.ny + yt
            e0 = p.e0all + row * s.n16  # rows of whole blocks: eroded in place, no copy
            _load_row(img, p, &s, zt, yt)
            if _direct_first(p.method, w0, nblk, nx, s.nks[p.groups[0]] < 0):
                _erode_line_direct(s.row, p.pad, nx, p.costs + p.pad_c - w0, w0, e0)
            else:
                _erode_row(p, &s, 0, 0, 0, p.all_blocks, nblk, e0)
            ball_block_minima(e0, nx, p.e0min_all + row * nblk, nblk)
            dst = out + row * nx
            for x in range(nx):
                dst[x] = INFINITY
            _update_target(dst, e0, p.all_blocks, nblk, p.tops + row * nblk, nx)
            if p.reach != NULL:
                _segment_thresholds(img, p, zt, yt, p.segthr + row * nblk)
                p.reach[2 * row] = _reach(p, p.segthr + row * nblk)
                p.reach[2 * row + 1] = _reach(p, p.segthr + (p.nz * p.ny + row) * nblk)


cdef void _bounded_block(const real_in* img, real_out* out, const Params* p, const Scratch* s0,
                         Py_ssize_t b, Py_ssize_t z0, Py_ssize_t z1, Py_ssize_t y0,
                         Py_ssize_t y1) noexcept nogil:
    """Second stage: every other cap into the rows ``[z0, z1) x [y0, y1)``.

    The input rows are visited coarse to fine (every ``2 ** lmax``-th row first, then
    the rows halfway between, ...), so that each output row soon holds values close to
    its result and the lower bounds skip most of the caps and blocks.
    """
    cdef Scratch s
    cdef Py_ssize_t nx = p.nx, nblk = p.nblk, fz = p.fz, fy = p.fy
    cdef Py_ssize_t k_lo, j_lo, n_j, nrows, idx, k, j, dz, dy, side_z, side_y, lev
    cdef Py_ssize_t zt, yt, nt, t, i, x, levels, nlive, cap, row
    cdef int64_t w
    cdef void* dptr[4]
    cdef Py_ssize_t tz[4]
    cdef Py_ssize_t ty[4]
    cdef Py_ssize_t ts[4]
    cdef Py_ssize_t ngrp, grp, gsel, ntall
    cdef bint loaded, split, have_comb
    cdef const double* up_t
    cdef const double* dn_t
    cdef double off
    cdef const double* lower
    cdef const double* lower_min
    cdef real_out* dst
    cdef float* top
    _scratch_for(p, s0, b, &s)
    k_lo = z0 - fz if z0 - fz > 0 else 0
    j_lo = y0 - fy if y0 - fy > 0 else 0
    n_j = (p.ny if p.ny < y1 + fy else y1 + fy) - j_lo
    nrows = ((p.nz if p.nz < z1 + fz else z1 + fz) - k_lo) * n_j
    for lev in range(p.lmax, -1, -1):
        for idx in range(nrows):
            k = k_lo + idx // n_j
            j = j_lo + idx % n_j
            if _row_level(k, j, p.lmax) != lev:
                continue
            row = k * p.ny + j
            lower = p.e0all + row * s.n16
            lower_min = p.e0min_all + row * nblk
            loaded = False
            have_comb = False
            levels = 0
            for dz in range(fz + 1):
                for dy in range(fy + 1):
                    cap = dz * (fy + 1) + dy
                    w = p.widths[cap]
                    if w < 0:
                        break
                    if dz == 0 and dy == 0:
                        continue
                    nt = 0
                    for side_z in range(1 if dz == 0 else 2):
                        zt = k - dz if side_z == 0 else k + dz
                        for side_y in range(1 if dy == 0 else 2):
                            yt = j - dy if side_y == 0 else j + dy
                            if z0 <= zt < z1 and y0 <= yt < y1 and (
                                    p.reach == NULL or dy <= p.reach[2 * row + side_y]):
                                tz[nt] = zt
                                ty[nt] = yt
                                ts[nt] = side_y
                                nt += 1
                    if nt == 0:
                        continue
                    # 2D with neighbour domination, caps at least SPLIT_MIN_WIDTH wide: each
                    # target row on its own (its side's segment thresholds, its own pixel
                    # thresholds); else all together (narrow caps: one erosion of the row)
                    split = p.reach != NULL and w >= SPLIT_MIN_WIDTH
                    ngrp = nt if split else 1
                    ntall = nt
                    for grp in range(ngrp):
                        if split:
                            nt = 1
                            gsel = grp
                        else:
                            nt = ntall
                            gsel = 0
                        off = p.offs[cap] - p.slack
                        nlive = 0
                        for t in range(nt):
                            top = p.tops + (tz[gsel + t] * p.ny + ty[gsel + t]) * nblk
                            dst = out + (tz[gsel + t] * p.ny + ty[gsel + t]) * nx
                            nlive = _flag_live(lower, lower_min, off, dst, top, nblk, s.live,
                                               s.blocks, nlive, s.maybe, s.nmaybe, nx)
                        for i in range(nlive):
                            s.live[s.blocks[i]] = 0
                        if nlive == 0:
                            continue
                        if not loaded:
                            _load_row(img, p, &s, k, j)
                            ball_block_minima(s.row + p.pad, nx, s.segmin, nblk)
                            loaded = True
                        if _direct_first(p.method, w, nlive, nx, s.nks[p.groups[cap]] < 0):
                            _erode_line_direct(s.row, p.pad, nx,
                                               p.costs + cap * p.ncost + p.pad_c - w, w, s.res)
                        else:
                            for t in range(nt):  # what a candidate must beat, per pixel
                                dptr[t] = <void*>(out + (tz[gsel + t] * p.ny + ty[gsel + t])
                                                  * nx)
                            if real_out is float:
                                ball_thresholds_f(dptr, <int>nt, s.blocks, nlive, s.thr, nx)
                            else:
                                ball_thresholds_d(dptr, <int>nt, s.blocks, nlive, s.thr, nx)
                            s.use_thr = True
                            if split:
                                s.segthr = (p.segthr + ts[gsel] * p.nz * p.ny * nblk
                                            + row * nblk)
                                s.rise_dy = p.rise[dy]
                            elif p.reach != NULL:  # both sides dominated
                                if not have_comb:
                                    up_t = p.segthr + row * nblk
                                    dn_t = up_t + p.nz * p.ny * nblk
                                    for i in range(nblk):
                                        s.segcomb[i] = up_t[i] if up_t[i] > dn_t[i] else dn_t[i]
                                    have_comb = True
                                s.segthr = s.segcomb
                                s.rise_dy = p.rise[dy]
                            else:
                                s.segthr = s.inf_seg
                                s.rise_dy = -INFINITY
                            levels = _erode_row(p, &s, dz, dy, levels, s.blocks, nlive, s.res)
                            s.use_thr = False
                        for t in range(nt):
                            top = p.tops + (tz[gsel + t] * p.ny + ty[gsel + t]) * nblk
                            dst = out + (tz[gsel + t] * p.ny + ty[gsel + t]) * nx
                            _update_target(dst, s.res, s.blocks, nlive, top, nx)
    if p.sign < 0:
        for zt in range(z0, z1):
            for yt in range(y0, y1):
                dst = out + (zt * p.ny + yt) * nx
                for x in range(nx):
                    dst[x] = <real_out>(0.0 - <double>dst[x])


cdef void _erode_block(const real_in* img, real_out* out, const Params* p, const Scratch* s0,
                       Py_ssize_t b, Py_ssize_t z0, Py_ssize_t z1, Py_ssize_t y0,
                       Py_ssize_t y1) noexcept nogil:
    """Erode the output rows ``[z0, z1) x [y0, y1)``, one or two sweeps over the input rows."""
    cdef Scratch s
    cdef Py_ssize_t nx = p.nx, nblk = p.nblk, n16 = s0.n16, fz = p.fz, fy = p.fy
    cdef Py_ssize_t k_lo, j_lo, n_j, nrows, sweep, idx, r, k, j, dz, dy, side_z, side_y
    cdef Py_ssize_t zt, yt, nt, t, i, x, levels, nlive, cap, g0
    cdef int64_t w, w0
    cdef Py_ssize_t tz[4]
    cdef Py_ssize_t ty[4]
    cdef void* dptr[4]
    cdef bint loaded, have_e0, central, before
    cdef bint use_bounds = p.use_bounds
    cdef double off, sign = p.sign
    cdef double* line
    cdef double* e0 = s0.e0
    cdef double* e0_min = s0.e0_min
    cdef double* e0keep = NULL
    cdef double* e0min_keep = NULL
    cdef uint8_t* e0kept = NULL
    cdef const int64_t* todo
    cdef const real_in* src
    cdef real_out* dst
    cdef float* top
    cdef Py_ssize_t ntops = nblk if use_bounds else 0
    cdef Py_ssize_t n_init = 0
    _scratch_for(p, s0, b, &s)
    line = s.row + p.pad
    k_lo = z0 - fz if z0 - fz > 0 else 0
    j_lo = y0 - fy if y0 - fy > 0 else 0
    n_j = (p.ny if p.ny < y1 + fy else y1 + fy) - j_lo
    nrows = ((p.nz if p.nz < z1 + fz else z1 + fz) - k_lo) * n_j
    if use_bounds and p.e0keep != NULL and nrows <= p.e0rows:
        e0keep = p.e0keep + b * p.e0rows * n16
        e0min_keep = p.e0min_keep + b * p.e0rows * nblk
        e0kept = p.e0kept + b * p.e0rows
        for r in range(nrows):
            e0kept[r] = 0
    for sweep in range(2 if use_bounds else 1):
        if sweep == 1:
            n_init = _fill_rows_upto(out, p, z0, z1, y0, y1, n_init, p.nz * p.ny)
        for idx in range(nrows):
            r = idx if sweep == 0 else nrows - 1 - idx
            k = k_lo + r // n_j
            j = j_lo + r % n_j
            if sweep == 0:  # output rows start at +inf just before this row can reach them
                n_init = _fill_rows_upto(out, p, z0, z1, y0, y1, n_init,
                                         (k + fz) * p.ny + j + fy)
            loaded = False
            have_e0 = False
            levels = 0
            for dz in range(fz + 1):
                for dy in range(fy + 1):
                    cap = dz * (fy + 1) + dy
                    w = p.widths[cap]
                    if w < 0:
                        break
                    central = dz == 0 and dy == 0
                    nt = 0
                    for side_z in range(1 if dz == 0 else 2):
                        zt = k - dz if side_z == 0 else k + dz
                        for side_y in range(1 if dy == 0 else 2):
                            yt = j - dy if side_y == 0 else j + dy
                            if not (z0 <= zt < z1 and y0 <= yt < y1):
                                continue
                            before = zt < k or (zt == k and yt < j)
                            if use_bounds and (before or central) != (sweep == 0):
                                continue
                            tz[nt] = zt
                            ty[nt] = yt
                            nt += 1
                    if nt == 0:
                        continue
                    if not loaded:
                        src = img + (k * p.ny + j) * nx
                        if real_in is float:
                            ball_load_row_f(line, src, sign, nx)
                        else:
                            ball_load_row_d(line, src, sign, nx)
                        for i in range(NGROUPS):
                            s.nks[i] = -1
                            s.debt[i] = 0.0
                        s.nks[0] = nx
                        loaded = True
                    if use_bounds and not have_e0:  # the central cap's erosion: the bound
                        if e0keep != NULL:
                            e0 = e0keep + r * n16
                            e0_min = e0min_keep + r * nblk
                        else:
                            e0 = s.e0
                            e0_min = s.e0_min
                        if e0keep == NULL or not e0kept[r]:
                            w0 = p.widths[0]
                            g0 = p.groups[0]
                            if _direct_first(p.method, w0, nblk, nx, s.nks[g0] < 0):
                                _erode_line_direct(s.row, p.pad, nx, p.costs + p.pad_c - w0, w0,
                                                   e0)
                            else:
                                levels = _erode_row(p, &s, 0, 0, levels, p.all_blocks, nblk, e0)
                            ball_block_minima(e0, nx, e0_min, nblk)
                            if e0keep != NULL:
                                e0kept[r] = 1
                        have_e0 = True
                    if use_bounds and central:
                        for t in range(nt):
                            top = p.tops + (tz[t] * p.ny + ty[t]) * ntops
                            dst = out + (tz[t] * p.ny + ty[t]) * nx
                            _update_target(dst, e0, p.all_blocks, nblk, top, nx)
                        continue
                    if use_bounds:
                        off = p.offs[cap] - p.slack
                        nlive = 0
                        for t in range(nt):
                            top = p.tops + (tz[t] * p.ny + ty[t]) * ntops
                            dst = out + (tz[t] * p.ny + ty[t]) * nx
                            nlive = _flag_live(e0, e0_min, off, dst, top, nblk, s.live,
                                               s.blocks, nlive, s.maybe, s.nmaybe, nx)
                        for i in range(nlive):
                            s.live[s.blocks[i]] = 0
                        if nlive == 0:
                            continue
                        todo = s.blocks
                    else:
                        nlive = nblk
                        todo = p.all_blocks
                    if not use_bounds and _direct_first(p.method, w, nlive, nx,
                                                        s.nks[p.groups[cap]] < 0):
                        # the erosion goes straight into the output rows
                        for t in range(nt):
                            dptr[t] = <void*>(out + (tz[t] * p.ny + ty[t]) * nx)
                        ball_direct(AVX2, line, nx, p.costs + cap * p.ncost + p.pad_c - w, w,
                                    s.res, dptr, <int>nt, real_out is float)
                        continue
                    if _direct_first(p.method, w, nlive, nx, s.nks[p.groups[cap]] < 0):
                        _erode_line_direct(s.row, p.pad, nx,
                                           p.costs + cap * p.ncost + p.pad_c - w, w, s.res)
                    else:
                        levels = _erode_row(p, &s, dz, dy, levels, todo, nlive, s.res)
                    for t in range(nt):
                        dst = out + (tz[t] * p.ny + ty[t]) * nx
                        if use_bounds:
                            top = p.tops + (tz[t] * p.ny + ty[t]) * ntops
                            _update_target(dst, s.res, todo, nlive, top, nx)
                        else:
                            _min_row(dst, s.res, nx)
    n_init = _fill_rows_upto(out, p, z0, z1, y0, y1, n_init, p.nz * p.ny)
    if sign < 0:
        for zt in range(z0, z1):
            for yt in range(y0, y1):
                dst = out + (zt * p.ny + yt) * nx
                for x in range(nx):
                    dst[x] = <real_out>(0.0 - <double>dst[x])


def erode_nd(const real_in[:, :, ::1] img, real_out[:, :, ::1] out, double sign,
             const int64_t[:, ::1] widths, const double[:, ::1] rhos,
             const double[:, :, ::1] costs, const double[:, :, ::1] ctabs,
             const double[:, ::1] offs, const int64_t[:, ::1] groups, double inv_s,
             const double[::1] method, const double[:, ::1] margins, double slack,
             Py_ssize_t bz, Py_ssize_t by, int nthreads, alloc=None,
             const double[::1] rise=None):
    """Erode ``sign * img`` into ``out`` (``sign`` applied back), blocks of rows in parallel.

    ``alloc(shape, dtype)``, when given, supplies the image-sized scratch arrays (any
    contents) instead of ``np.empty``, e.g. from a pool kept between calls. ``rise`` (length
    ``fy + 1``, ``ball._rise_table``) turns on the neighbour domination of the coarse-to-fine
    driver for 2D balls.
    """
    cdef Params p
    cdef Scratch s
    cdef Py_ssize_t nz = img.shape[0], ny = img.shape[1], nx = img.shape[2]
    cdef Py_ssize_t nbz = (nz + bz - 1) // bz, nby = (ny + by - 1) // by
    cdef Py_ssize_t nb = nbz * nby, blk, z0, y0
    if nz == 0 or ny == 0 or nx == 0:
        return
    p.nz = nz
    p.ny = ny
    p.nx = nx
    p.fz = widths.shape[0] - 1
    p.fy = widths.shape[1] - 1
    p.ncost = costs.shape[2]
    p.nctab = ctabs.shape[2]
    p.pad_c = (p.ncost - 1) // 2
    p.pad = p.pad_c if p.pad_c > KMAX else KMAX
    p.nblk = (nx + BLOCK - 1) // BLOCK
    p.rowlen = nx + 2 * p.pad
    p.use_bounds = method[1] > 0
    p.widths = &widths[0, 0]
    p.rhos = &rhos[0, 0]
    p.costs = &costs[0, 0, 0]
    p.ctabs = &ctabs[0, 0, 0]
    p.offs = &offs[0, 0]
    p.groups = &groups[0, 0]
    p.margins = &margins[0, 0]
    p.method = &method[0]
    p.inv_s = inv_s
    p.slack = slack
    p.sign = sign
    # scratch for every block, allocated here so that running out of memory raises
    cdef Py_ssize_t nblk = p.nblk, n16 = nblk * BLOCK, nmaybe = (nblk + 7) // 8 * 8
    cdef int64_t[::1] all_blocks = np.arange(nblk, dtype=np.int64)
    if alloc is None:
        alloc = np.empty
    tops_a = alloc((nz, ny, nblk if p.use_bounds else 1), np.float32)
    tops_a.fill(np.inf)
    cdef float[:, :, ::1] tops = tops_a
    cdef double[:, ::1] row = np.full((nb, p.rowlen), np.inf)
    cdef double[:, ::1] res = np.full((nb, n16), np.inf)
    cdef double[:, ::1] e0 = np.full((nb, n16), np.inf)
    cdef double[:, ::1] e0_min = np.empty((nb, nblk))
    cdef double[:, ::1] mins = np.empty((nb, 4 * p.rowlen))
    cpos_a = np.empty((nb, NGROUPS, nx), dtype=np.int64)
    cpos_a[:, 0] = np.arange(nx)
    first_a = np.empty((nb, NGROUPS, nx + 1), dtype=np.int64)
    first_a[:, 0] = np.arange(nx + 1)
    cdef int64_t[:, :, ::1] cpos = cpos_a
    cdef int64_t[:, :, ::1] first = first_a
    cdef double[:, :, ::1] cval = np.empty((nb, NGROUPS, nx))
    cdef int64_t[:, ::1] nks = np.empty((nb, NGROUPS), dtype=np.int64)
    cdef double[:, ::1] debt = np.empty((nb, NGROUPS))
    cdef double[:, ::1] ar = np.empty((nb, nx))
    cdef double[:, ::1] al = np.empty((nb, nx))
    cdef uint8_t[:, ::1] keep = np.empty((nb, nx), dtype=np.uint8)
    cdef uint8_t[:, ::1] live = np.zeros((nb, nblk), dtype=np.uint8)
    cdef uint8_t[:, ::1] maybe = np.zeros((nb, nmaybe), dtype=np.uint8)
    cdef int64_t[:, ::1] blocks = np.empty((nb, nblk), dtype=np.int64)
    cdef int64_t[:, ::1] qa = np.empty((nb, nx), dtype=np.int64)
    cdef double[:, ::1] qg = np.empty((nb, nx))
    cdef int64_t[:, ::1] qt = np.empty((nb, nx), dtype=np.int64)
    p.all_blocks = &all_blocks[0]
    p.tops = &tops[0, 0, 0]
    s.n16 = n16
    s.nmaybe = nmaybe
    s.row = &row[0, 0]
    s.res = &res[0, 0]
    s.e0 = &e0[0, 0]
    s.e0_min = &e0_min[0, 0]
    s.mins = &mins[0, 0]
    s.cpos = &cpos[0, 0, 0]
    s.cval = &cval[0, 0, 0]
    s.first = &first[0, 0, 0]
    s.nks = &nks[0, 0]
    s.debt = &debt[0, 0]
    s.ar = &ar[0, 0]
    s.al = &al[0, 0]
    s.keep = &keep[0, 0]
    s.live = &live[0, 0]
    s.maybe = &maybe[0, 0]
    s.blocks = &blocks[0, 0]
    s.qa = &qa[0, 0]
    s.qg = &qg[0, 0]
    s.qt = &qt[0, 0]
    cdef double[:, ::1] segmin = np.empty((nb, nblk))
    cdef double[:, ::1] thr = np.empty((nb, n16))
    s.segmin = &segmin[0, 0]
    s.thr = &thr[0, 0]
    s.use_thr = False
    # the two sweeps: rows of central-cap erosions kept between them (see E0_KEEP_BYTES)
    cdef Py_ssize_t e0rows = ((nz if nz < bz + 2 * p.fz else bz + 2 * p.fz)
                              * (ny if ny < by + 2 * p.fy else by + 2 * p.fy))
    cdef bint keep_e0 = (p.use_bounds and not method[10] > 0 and widths[0, 0] >= E0_KEEP_MIN_WIDTH
                         and nb * e0rows * (n16 + nblk + 1) * 8 <= E0_KEEP_BYTES)
    if not keep_e0:
        e0rows = 0
    cdef double[:, :, ::1] e0keep = alloc((nb, e0rows, n16), np.float64)
    cdef double[:, :, ::1] e0min_keep = alloc((nb, e0rows, nblk), np.float64)
    cdef uint8_t[:, ::1] e0kept = alloc((nb, e0rows), np.uint8)
    p.e0rows = e0rows
    p.e0keep = &e0keep[0, 0, 0] if keep_e0 else NULL
    p.e0min_keep = &e0min_keep[0, 0, 0] if keep_e0 else NULL
    p.e0kept = &e0kept[0, 0] if keep_e0 else NULL
    if not (p.use_bounds and method[10] > 0):
        for blk in prange(nb, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=1):
            z0 = (blk // nby) * bz
            y0 = (blk % nby) * by
            _erode_block(&img[0, 0, 0], &out[0, 0, 0], &p, &s, blk, z0,
                         z0 + bz if z0 + bz < nz else nz, y0, y0 + by if y0 + by < ny else ny)
        return
    cdef double[:, :, ::1] e0all = alloc((nz, ny, n16), np.float64)
    cdef double[:, :, ::1] e0min_all = alloc((nz, ny, nblk), np.float64)
    p.e0all = &e0all[0, 0, 0]
    p.e0min_all = &e0min_all[0, 0, 0]
    # neighbour domination: 2D only (rise[dy] for dy = 0 .. fy)
    cdef int64_t[::1] reach
    cdef double[:, :, ::1] segthr
    cdef double[::1] inf_seg = np.full(nblk, np.inf)
    cdef double[:, ::1] segcomb = np.empty((nb, nblk))
    s.segcomb = &segcomb[0, 0]
    p.rise = NULL
    p.reach = NULL
    p.segthr = NULL
    s.inf_seg = &inf_seg[0]
    if rise is not None and p.fz == 0 and p.fy >= 1 and rise.shape[0] == p.fy + 1:
        reach = np.empty(2 * nz * ny, dtype=np.int64)
        segthr = alloc((2 * nz, ny, nblk), np.float64)
        p.rise = &rise[0]
        p.reach = &reach[0]
        p.segthr = &segthr[0, 0, 0]
    p.lmax = 0
    while (4 << p.lmax) < p.fy:
        p.lmax += 1
    for blk in prange(nb, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=1):
        z0 = (blk // nby) * bz
        y0 = (blk % nby) * by
        _central_block(&img[0, 0, 0], &out[0, 0, 0], &p, &s, blk, z0,
                       z0 + bz if z0 + bz < nz else nz, y0, y0 + by if y0 + by < ny else ny)
    for blk in prange(nb, nogil=True, num_threads=nthreads, schedule="dynamic", chunksize=1):
        z0 = (blk // nby) * bz
        y0 = (blk % nby) * by
        _bounded_block(&img[0, 0, 0], &out[0, 0, 0], &p, &s, blk, z0,
                       z0 + bz if z0 + bz < nz else nz, y0, y0 + by if y0 + by < ny else ny)


# ----------------------------------------------------------------------------
# Entry points of the building blocks (for the tests)
# ----------------------------------------------------------------------------


def tier_minima(const double[::1] row, Py_ssize_t done, Py_ssize_t levels, double[:, ::1] mins):
    """``mins[j - 1, p] = min(row[p : p + 2 ** j])`` for ``done < j <= levels``."""
    _tier_minima(&row[0], done, levels, &mins[0, 0], row.shape[0])


def candidates(const double[::1] row, Py_ssize_t pad, Py_ssize_t n, const double[:, ::1] mins,
               const double[::1] margins, Py_ssize_t group, int64_t[::1] cpos, double[::1] cval,
               int64_t[::1] first, double[::1] ar, double[::1] al, uint8_t[::1] keep):
    """The pruned candidates of ``row[pad:pad + n]``; returns their count."""
    return _candidates(&row[0], pad, n, &mins[0, 0], mins.shape[1], &margins[0], group,
                       &cpos[0], &cval[0], &first[0], &ar[0], &al[0], &keep[0])


def update_target(real_out[::1] dst, const double[::1] res, const int64_t[::1] blocks,
                  Py_ssize_t nb, float[::1] top, Py_ssize_t n):
    """Min ``res`` into ``dst`` on the blocks ``blocks[:nb]``; refresh their maxima ``top``."""
    if nb > 0:
        _update_target(&dst[0], &res[0], &blocks[0], nb, &top[0], n)


def flag_live(const double[::1] lower, const double[::1] lower_min, double off,
              const real_out[::1] dst, const float[::1] top, uint8_t[::1] live,
              int64_t[::1] blocks, Py_ssize_t nb, uint8_t[::1] maybe, Py_ssize_t n):
    """List the blocks where ``lower + off < dst`` somewhere; return the new count."""
    return _flag_live(&lower[0], &lower_min[0], off, &dst[0], &top[0], top.shape[0], &live[0],
                      &blocks[0], nb, &maybe[0], maybe.shape[0], n)


def round_up32(double value):
    """The smallest float32 that is ``>= value``."""
    return np.float32(ball_round_up32(value))
