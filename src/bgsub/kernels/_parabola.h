/* AVX-512 loop of _parabola.pyx: the lower-envelope stacks of 16 lines, one per lane.
 *
 * The 16 lines are interleaved (point x of line b at L[16 * x + b]) and all take their point q
 * together: each line pops while the parabola on its top is hidden (the same test, with the
 * same IEEE operations in the same order, as the scalar loop _lower_envelope; the build has
 * -ffp-contract=off), then pushes q. The stacks and take-over points are therefore the same
 * doubles. A stack is a chain of records, one per point pushed: record q (at 16 * q + b) holds
 * the element below q (its index, value and take-over point), written with plain stores when q
 * is pushed; the top two elements of every stack stay in registers, so a push needs no
 * scatter and a pop three gathers (the new second, from the old second's record) that do not
 * wait for one another. Chosen at run time: on a CPU without AVX-512F/DQ, or off x86-64/GCC,
 * bgsub_stacks16 returns 0 and the caller runs its scalar loop.
 */
#ifndef BGSUB_PARABOLA_H
#define BGSUB_PARABOLA_H

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target)
#define BGSUB_PARABOLA_AVX512 1
#endif
#endif

static int bgsub_parabola_simd = -1; /* -1: not probed yet; 0: off; 1: on */

#ifdef BGSUB_PARABOLA_AVX512
#include <immintrin.h>

#define BGSUB_AVX512 __attribute__((target("avx512f,avx512dq")))

/* The stack of each of 8 lanes: top (index p, as a double pd too, value fp, take-over point
 * zp) and second (p2, p2d, fp2, z2); index -1 where there is none. s, ne, pop: the current
 * test (its take-over point, which lanes have a top, which pop). */
typedef struct {
    __m512i p, p2;
    __m512d pd, fp, zp, p2d, fp2, z2, s;
    __mmask8 ne, pop;
} bgsub_group;

typedef struct {
    __m512d half, c2, inf, minus_inf, zero, qd;
    __m512i none;
} bgsub_consts;

BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_init(bgsub_group* g, const bgsub_consts* K)
{
    g->p = g->p2 = K->none;
    g->pd = g->p2d = _mm512_set1_pd(-1.0);
    g->fp = g->zp = g->fp2 = g->z2 = g->s = K->zero;
    g->ne = g->pop = 0;
}

/* The take-over point of q against the top, 0.5 * (double)(q + p) + (fq - fv[k]) / (2c *
 * (double)(q - p)) as the scalar loop (the indices are exact in double), and the lanes that
 * pop: live (fq not +inf), a top, s <= its take-over point. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_test(bgsub_group* g, const bgsub_consts* K, __m512d fq, __mmask8 act)
{
    g->ne = _mm512_cmp_pd_mask(g->pd, K->zero, _CMP_GE_OQ);
    g->s = _mm512_add_pd(_mm512_mul_pd(K->half, _mm512_add_pd(K->qd, g->pd)),
                         _mm512_div_pd(_mm512_sub_pd(fq, g->fp),
                                       _mm512_mul_pd(K->c2, _mm512_sub_pd(K->qd, g->pd))));
    g->pop = act & g->ne & _mm512_cmp_pd_mask(g->s, g->zp, _CMP_LE_OQ);
}

/* Pop the lanes in g->pop: second becomes top, the element below it (its record) second. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_pop(bgsub_group* g, const bgsub_consts* K, __m512i lane, const long long* prev,
                const double* fprev, const double* zprev)
{
    const __mmask8 pop = g->pop;
    const __mmask8 below = pop & _mm512_cmpge_epi64_mask(g->p2, _mm512_setzero_si512());
    const __m512i i2 = _mm512_add_epi64(_mm512_slli_epi64(g->p2, 4), lane);
    const __m512i p3 = _mm512_mask_i64gather_epi64(K->none, below, i2, prev, 8);
    const __m512d fp3 = _mm512_mask_i64gather_pd(K->zero, below, i2, fprev, 8);
    const __m512d z3 = _mm512_mask_i64gather_pd(K->zero, below, i2, zprev, 8);
    g->p = _mm512_mask_blend_epi64(pop, g->p, g->p2);
    g->pd = _mm512_mask_blend_pd(pop, g->pd, g->p2d);
    g->fp = _mm512_mask_blend_pd(pop, g->fp, g->fp2);
    g->zp = _mm512_mask_blend_pd(pop, g->zp, g->z2);
    g->p2 = _mm512_mask_blend_epi64(pop, g->p2, p3);
    g->p2d = _mm512_mask_blend_pd(pop, g->p2d, _mm512_cvtepi64_pd(p3));
    g->fp2 = _mm512_mask_blend_pd(pop, g->fp2, fp3);
    g->z2 = _mm512_mask_blend_pd(pop, g->z2, z3);
}

/* Push q on the live lanes (take-over point s, -inf on an empty stack): record q holds the
 * old top, which becomes second. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_push(bgsub_group* g, const bgsub_consts* K, __m512d fq, __mmask8 act, Py_ssize_t q,
                 long long* prev, double* fprev, double* zprev)
{
    const __m512d zs = _mm512_mask_blend_pd(g->ne, K->minus_inf, g->s);
    _mm512_storeu_si512((void*)prev, g->p);
    _mm512_storeu_pd(fprev, g->fp);
    _mm512_storeu_pd(zprev, g->zp);
    g->p2 = _mm512_mask_blend_epi64(act, g->p2, g->p);
    g->p2d = _mm512_mask_blend_pd(act, g->p2d, g->pd);
    g->fp2 = _mm512_mask_blend_pd(act, g->fp2, g->fp);
    g->z2 = _mm512_mask_blend_pd(act, g->z2, g->zp);
    g->p = _mm512_mask_blend_epi64(act, g->p, _mm512_set1_epi64((long long)q));
    g->pd = _mm512_mask_blend_pd(act, g->pd, K->qd);
    g->fp = _mm512_mask_blend_pd(act, g->fp, fq);
    g->zp = _mm512_mask_blend_pd(act, g->zp, zs);
}

/* With `two` 0 only the first 8 lanes (the others hold +inf: nothing to do). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_stacks16_loop(const double* L, double c, Py_ssize_t n, long long* prev, double* fprev,
                    double* zprev, long long* top, double* ftop, double* ztop, const int two)
{
    bgsub_consts K;
    K.half = _mm512_set1_pd(0.5);
    K.c2 = _mm512_set1_pd(2.0 * c);
    K.inf = _mm512_set1_pd(INFINITY);
    K.minus_inf = _mm512_set1_pd(-INFINITY);
    K.zero = _mm512_setzero_pd();
    K.none = _mm512_set1_epi64(-1);
    const __m512i lane_a = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lane_b = _mm512_add_epi64(lane_a, _mm512_set1_epi64(8));
    bgsub_group A, B;
    bgsub_group_init(&A, &K);
    bgsub_group_init(&B, &K);
    for (Py_ssize_t q = 0; q < n; q++) {
        const __m512d fa = _mm512_loadu_pd(L + 16 * q);
        const __m512d fb = two ? _mm512_loadu_pd(L + 16 * q + 8) : K.inf;
        /* +inf never takes part (the scalar loop skips it); NaN does, as there */
        const __mmask8 act_a = _mm512_cmp_pd_mask(fa, K.inf, _CMP_NEQ_UQ);
        const __mmask8 act_b = two ? _mm512_cmp_pd_mask(fb, K.inf, _CMP_NEQ_UQ) : 0;
        K.qd = _mm512_set1_pd((double)q);
        bgsub_group_test(&A, &K, fa, act_a);
        if (two)
            bgsub_group_test(&B, &K, fb, act_b);
        while (A.pop | B.pop) {
            if (A.pop) {
                bgsub_group_pop(&A, &K, lane_a, prev, fprev, zprev);
                bgsub_group_test(&A, &K, fa, act_a);
            }
            if (two && B.pop) {
                bgsub_group_pop(&B, &K, lane_b, prev, fprev, zprev);
                bgsub_group_test(&B, &K, fb, act_b);
            }
        }
        bgsub_group_push(&A, &K, fa, act_a, q, prev + 16 * q, fprev + 16 * q, zprev + 16 * q);
        if (two)
            bgsub_group_push(&B, &K, fb, act_b, q, prev + 16 * q + 8, fprev + 16 * q + 8,
                             zprev + 16 * q + 8);
    }
    _mm512_storeu_si512((void*)top, A.p);
    _mm512_storeu_si512((void*)(top + 8), B.p);
    _mm512_storeu_pd(ftop, A.fp);
    _mm512_storeu_pd(ftop + 8, B.fp);
    _mm512_storeu_pd(ztop, A.zp);
    _mm512_storeu_pd(ztop + 8, B.zp);
}

BGSUB_AVX512 static void bgsub_stacks16_avx512(const double* L, double c, Py_ssize_t n,
                                              long long* prev, double* fprev, double* zprev,
                                              long long* top, double* ftop, double* ztop,
                                              Py_ssize_t width)
{
    if (width > 8)
        bgsub_stacks16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 1);
    else
        bgsub_stacks16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 0);
}

/* The read-out state of 8 lanes: the element serving x (index vd as a double, value fj,
 * take-over point zj) and its index v, to find the element below in its record. */
typedef struct {
    __m512i v;
    __m512d vd, fj, zj;
} bgsub_serving;

BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_serving_init(bgsub_serving* S, const long long* top, const double* ftop, const double* ztop)
{
    const __m512i v = _mm512_loadu_si512((const void*)top);
    const __mmask8 empty = _mm512_cmplt_epi64_mask(v, _mm512_setzero_si512());
    /* an empty stack (a line of +inf) reads out +inf: value +inf, never left */
    S->v = v;
    S->vd = _mm512_mask_blend_pd(empty, _mm512_cvtepi64_pd(v), _mm512_setzero_pd());
    S->fj = _mm512_mask_blend_pd(empty, _mm512_loadu_pd(ftop), _mm512_set1_pd(INFINITY));
    S->zj = _mm512_mask_blend_pd(empty, _mm512_loadu_pd(ztop), _mm512_set1_pd(-INFINITY));
}

/* Step the lanes in `down` to the element below (from the serving element's record). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_serving_down(bgsub_serving* S, __mmask8 down, __m512i lane, const long long* prev,
                   const double* fprev, const double* zprev)
{
    const __m512i i = _mm512_add_epi64(_mm512_slli_epi64(S->v, 4), lane);
    S->v = _mm512_mask_i64gather_epi64(S->v, down, i, prev, 8);
    S->fj = _mm512_mask_i64gather_pd(S->fj, down, i, fprev, 8);
    S->zj = _mm512_mask_i64gather_pd(S->zj, down, i, zprev, 8);
    S->vd = _mm512_mask_blend_pd(down, S->vd, _mm512_cvtepi64_pd(S->v));
}

/* Envelope of 8 lanes at x, min(f, fj + c * d * d) as the scalar read-out, over f in L. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_serving_value(const bgsub_serving* S, __m512d c, __m512d xd, double* L)
{
    const __m512d d = _mm512_sub_pd(xd, S->vd);
    const __m512d a = _mm512_add_pd(S->fj, _mm512_mul_pd(_mm512_mul_pd(c, d), d));
    const __m512d f = _mm512_loadu_pd(L);
    _mm512_storeu_pd(L, _mm512_mask_blend_pd(_mm512_cmp_pd_mask(f, a, _CMP_LT_OQ), a, f));
}

/* The envelopes of the 16 lines of L from their stacks (bgsub_stacks16), into L in place.
 * Without NaN the take-over points of a stack rise strictly from -inf at its bottom, so the
 * element that the scalar read-out (_read_out) picks for x, the first j with
 * not z[j + 1] < x, is the last with z[j] < x: from x = n - 1 down, each lane steps down
 * its chain while its element's take-over point is not below x. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_readout16_loop(double* L, double c, Py_ssize_t n, const long long* prev,
                     const double* fprev, const double* zprev, const long long* top,
                     const double* ftop, const double* ztop, const int two)
{
    const __m512i lane_a = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lane_b = _mm512_add_epi64(lane_a, _mm512_set1_epi64(8));
    const __m512d cv = _mm512_set1_pd(c);
    bgsub_serving A, B;
    bgsub_serving_init(&A, top, ftop, ztop);
    bgsub_serving_init(&B, top + 8, ftop + 8, ztop + 8);
    for (Py_ssize_t x = n - 1; x >= 0; x--) {
        const __m512d xd = _mm512_set1_pd((double)x);
        __mmask8 down_a = _mm512_cmp_pd_mask(A.zj, xd, _CMP_NLT_UQ);
        __mmask8 down_b = two ? _mm512_cmp_pd_mask(B.zj, xd, _CMP_NLT_UQ) : 0;
        while (down_a | down_b) {
            if (down_a) {
                bgsub_serving_down(&A, down_a, lane_a, prev, fprev, zprev);
                down_a &= _mm512_cmp_pd_mask(A.zj, xd, _CMP_NLT_UQ);
            }
            if (two && down_b) {
                bgsub_serving_down(&B, down_b, lane_b, prev, fprev, zprev);
                down_b &= _mm512_cmp_pd_mask(B.zj, xd, _CMP_NLT_UQ);
            }
        }
        bgsub_serving_value(&A, cv, xd, L + 16 * x);
        if (two)
            bgsub_serving_value(&B, cv, xd, L + 16 * x + 8);
    }
}

BGSUB_AVX512 static void bgsub_readout16_avx512(double* L, double c, Py_ssize_t n,
                                               const long long* prev, const double* fprev,
                                               const double* zprev, const long long* top,
                                               const double* ftop, const double* ztop,
                                               Py_ssize_t width)
{
    if (width > 8)
        bgsub_readout16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 1);
    else
        bgsub_readout16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 0);
}

/* 8 x 8 transpose: c[j][i] = r[i][j]. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void bgsub_transpose8(__m512d* r)
{
    __m512d t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
        u[4 * h + 0] = _mm512_shuffle_f64x2(t[4 * h], t[4 * h + 2], 0x88);     /* cols 0, 4 */
        u[4 * h + 1] = _mm512_shuffle_f64x2(t[4 * h], t[4 * h + 2], 0xDD);     /* 2, 6 */
        u[4 * h + 2] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0x88); /* 1, 5 */
        u[4 * h + 3] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0xDD); /* 3, 7 */
    }
    r[0] = _mm512_shuffle_f64x2(u[0], u[4], 0x88);
    r[4] = _mm512_shuffle_f64x2(u[0], u[4], 0xDD);
    r[2] = _mm512_shuffle_f64x2(u[1], u[5], 0x88);
    r[6] = _mm512_shuffle_f64x2(u[1], u[5], 0xDD);
    r[1] = _mm512_shuffle_f64x2(u[2], u[6], 0x88);
    r[5] = _mm512_shuffle_f64x2(u[2], u[6], 0xDD);
    r[3] = _mm512_shuffle_f64x2(u[3], u[7], 0x88);
    r[7] = _mm512_shuffle_f64x2(u[3], u[7], 0xDD);
}

/* rows prefetched ahead along a strided axis; 8 values in and out (AVX-512F only, no VL) */
#define BGSUB_AHEAD 12

#define BGSUB_LOAD8_f32(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define BGSUB_LOAD8_f64(p) _mm512_loadu_pd(p)
#define BGSUB_MLOAD8_f32(m, p) \
    _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps((__mmask16)(m), p)))
#define BGSUB_MLOAD8_f64(m, p) _mm512_maskz_loadu_pd(m, p)
#define BGSUB_STORE8_f32(p, v) _mm256_storeu_ps(p, _mm512_cvtpd_ps(v))
#define BGSUB_STORE8_f64(p, v) _mm512_storeu_pd(p, v)
#define BGSUB_MSTORE8_f32(p, m, v) \
    _mm512_mask_storeu_ps(p, (__mmask16)(m), _mm512_castps256_ps512(_mm512_cvtpd_ps(v)))
#define BGSUB_MSTORE8_f64(p, m, v) _mm512_mask_storeu_pd(p, m, v)

/* bgsub_load16_T: the width (<= 16) lines of n points of src (point x of line b at
 * src[b * step + x * stride]; step 1 or stride 1), as double, negated (-x) with negate, into
 * L[16 * x + b], +inf in the lanes past width; returns whether a -inf or NaN was read.
 * bgsub_store16_T: the inverse, L's lanes into dst, negated as 0.0 - x with negate, rounded
 * to dst's type. */
#define BGSUB_MOVES(T, CT)                                                                     \
BGSUB_AVX512 static int bgsub_load16_##T##_avx512(const CT* src, Py_ssize_t n, Py_ssize_t stride, \
                                                 Py_ssize_t step, Py_ssize_t width, int negate,  \
                                                 double* L)                                      \
{                                                                                              \
    const __m512d sign = _mm512_set1_pd(negate ? -0.0 : 0.0), inf = _mm512_set1_pd(INFINITY);  \
    const __m512d minus_inf = _mm512_set1_pd(-INFINITY);                                       \
    __mmask8 special = 0;                                                                      \
    Py_ssize_t x = 0;                                                                          \
    if (step == 1) {                                                                           \
        const __mmask8 ma = (__mmask8)(width >= 8 ? 0xFF : (1u << width) - 1);                \
        const __mmask8 mb = (__mmask8)(width >= 16 ? 0xFF : width <= 8 ? 0 : (1u << (width - 8)) - 1); \
        for (; x < n; x++) {                                                                   \
            const CT* row = src + x * stride;                                                  \
            if (x + BGSUB_AHEAD < n) { /* a page a row: not prefetched by the CPU */           \
                __builtin_prefetch(row + BGSUB_AHEAD * stride, 0, 3);                          \
                __builtin_prefetch(row + BGSUB_AHEAD * stride + width - 1, 0, 3);              \
            }                                                                                  \
            __m512d a = _mm512_xor_pd(BGSUB_MLOAD8_##T(ma, row), sign);                        \
            __m512d b = _mm512_xor_pd(BGSUB_MLOAD8_##T(mb, row + 8), sign);                    \
            a = _mm512_mask_blend_pd(ma, inf, a);                                              \
            b = _mm512_mask_blend_pd(mb, inf, b);                                              \
            special |= _mm512_cmp_pd_mask(a, minus_inf, _CMP_EQ_OQ)                            \
                | _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q)                                       \
                | _mm512_cmp_pd_mask(b, minus_inf, _CMP_EQ_OQ)                                 \
                | _mm512_cmp_pd_mask(b, b, _CMP_UNORD_Q);                                      \
            _mm512_storeu_pd(L + 16 * x, a);                                                   \
            _mm512_storeu_pd(L + 16 * x + 8, b);                                               \
        }                                                                                      \
        return special != 0;                                                                   \
    }                                                                                          \
    if (width == 16) { /* stride 1: 8 x 8 transposes */                                        \
        for (; x + 8 <= n; x += 8) {                                                           \
            for (int g = 0; g < 2; g++) {                                                      \
                __m512d r[8];                                                                  \
                for (int i = 0; i < 8; i++) {                                                  \
                    r[i] = _mm512_xor_pd(BGSUB_LOAD8_##T(src + (8 * g + i) * step + x), sign); \
                    special |= _mm512_cmp_pd_mask(r[i], minus_inf, _CMP_EQ_OQ)                \
                        | _mm512_cmp_pd_mask(r[i], r[i], _CMP_UNORD_Q);                        \
                }                                                                              \
                bgsub_transpose8(r);                                                           \
                for (int i = 0; i < 8; i++)                                                    \
                    _mm512_storeu_pd(L + 16 * (x + i) + 8 * g, r[i]);                          \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    for (; x < n; x++) {                                                                       \
        for (Py_ssize_t b = 0; b < 16; b++) {                                                  \
            double value = INFINITY;                                                           \
            if (b < width) {                                                                   \
                value = negate ? -(double)src[b * step + x] : (double)src[b * step + x];       \
                special |= (value == -INFINITY) | (value != value);                            \
            }                                                                                  \
            L[16 * x + b] = value;                                                             \
        }                                                                                      \
    }                                                                                          \
    return special != 0;                                                                       \
}                                                                                              \
                                                                                               \
BGSUB_AVX512 static void bgsub_store16_##T##_avx512(const double* L, CT* dst, Py_ssize_t n,   \
                                                   Py_ssize_t stride, Py_ssize_t step,         \
                                                   Py_ssize_t width, int negate)               \
{                                                                                              \
    const __m512d zero = _mm512_setzero_pd();                                                  \
    Py_ssize_t x = 0;                                                                          \
    if (step == 1) {                                                                           \
        const __mmask8 ma = (__mmask8)(width >= 8 ? 0xFF : (1u << width) - 1);                \
        const __mmask8 mb = (__mmask8)(width >= 16 ? 0xFF : width <= 8 ? 0 : (1u << (width - 8)) - 1); \
        for (; x < n; x++) {                                                                   \
            CT* row = dst + x * stride;                                                        \
            if (x + BGSUB_AHEAD < n) {                                                         \
                __builtin_prefetch(row + BGSUB_AHEAD * stride, 1, 3);                          \
                __builtin_prefetch(row + BGSUB_AHEAD * stride + width - 1, 1, 3);              \
            }                                                                                  \
            __m512d a = _mm512_loadu_pd(L + 16 * x), b = _mm512_loadu_pd(L + 16 * x + 8);     \
            if (negate) {                                                                      \
                a = _mm512_sub_pd(zero, a);                                                    \
                b = _mm512_sub_pd(zero, b);                                                    \
            }                                                                                  \
            BGSUB_MSTORE8_##T(row, ma, a);                                                     \
            if (mb)                                                                            \
                BGSUB_MSTORE8_##T(row + 8, mb, b);                                             \
        }                                                                                      \
        return;                                                                                \
    }                                                                                          \
    if (width == 16) {                                                                         \
        for (; x + 8 <= n; x += 8) {                                                           \
            for (int g = 0; g < 2; g++) {                                                      \
                __m512d r[8];                                                                  \
                for (int i = 0; i < 8; i++) {                                                  \
                    r[i] = _mm512_loadu_pd(L + 16 * (x + i) + 8 * g);                          \
                    if (negate)                                                                \
                        r[i] = _mm512_sub_pd(zero, r[i]);                                      \
                }                                                                              \
                bgsub_transpose8(r);                                                           \
                for (int i = 0; i < 8; i++)                                                    \
                    BGSUB_STORE8_##T(dst + (8 * g + i) * step + x, r[i]);                      \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    for (; x < n; x++)                                                                         \
        for (Py_ssize_t b = 0; b < width; b++)                                                 \
            dst[b * step + x] = (CT)(negate ? 0.0 - L[16 * x + b] : L[16 * x + b]);            \
}

BGSUB_MOVES(f32, float)
BGSUB_MOVES(f64, double)
#endif

/* Whether the AVX-512 loop runs; 0 forces the scalar loop (tests), -1 probes the CPU. */
static int bgsub_parabola_set_simd(int on)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (on < 0)
        on = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    bgsub_parabola_simd = on ? 1 : 0;
#else
    bgsub_parabola_simd = 0;
#endif
    return bgsub_parabola_simd;
}

/* The stacks of the 16 interleaved lines of L (16 * n values, no -inf): record q of line b at
 * 16 * q + b in prev, fprev, zprev (the element below q when q was pushed: index, -1 for none,
 * value and take-over point), the top of line b in top[b], ftop[b], ztop[b] (top[b] -1: empty
 * stack); only the first 8 lines (the others are +inf) where width <= 8. Returns 0 (nothing
 * done) where the AVX-512 loop is off. */
static int bgsub_stacks16(const double* L, double c, Py_ssize_t n, long long* prev,
                          double* fprev, double* zprev, long long* top, double* ftop,
                          double* ztop, Py_ssize_t width)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 1) {
        bgsub_stacks16_avx512(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
#endif
    (void)L; (void)c; (void)n; (void)prev; (void)fprev; (void)zprev; (void)top; (void)ftop;
    (void)ztop; (void)width;
    return 0;
}

/* The envelopes of the 16 lines of L (no NaN) from bgsub_stacks16's output, into L in place:
 * L[16 * x + b] = min(f, the parabola serving x), as the scalar read-out gives it (the first 8
 * lines only where width <= 8). Returns 0 (nothing done) where the AVX-512 loop is off. */
static int bgsub_readout16(double* L, double c, Py_ssize_t n, const long long* prev,
                           const double* fprev, const double* zprev, const long long* top,
                           const double* ftop, const double* ztop, Py_ssize_t width)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 1) {
        bgsub_readout16_avx512(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
#endif
    (void)L; (void)c; (void)n; (void)prev; (void)fprev; (void)zprev; (void)top; (void)ftop;
    (void)ztop; (void)width;
    return 0;
}

/* bgsub_load16_f32/f64 and bgsub_store16_f32/f64 (see BGSUB_MOVES); -1 and nothing done
 * where the AVX-512 loop is off. */
#ifdef BGSUB_PARABOLA_AVX512
#define BGSUB_ENTRY(T, CT)                                                                     \
static int bgsub_load16_##T(const CT* src, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t step,   \
                            Py_ssize_t width, int negate, double* L)                           \
{                                                                                              \
    if (bgsub_parabola_simd != 1)                                                              \
        return -1;                                                                             \
    return bgsub_load16_##T##_avx512(src, n, stride, step, width, negate, L);                  \
}                                                                                              \
static int bgsub_store16_##T(const double* L, CT* dst, Py_ssize_t n, Py_ssize_t stride,        \
                             Py_ssize_t step, Py_ssize_t width, int negate)                    \
{                                                                                              \
    if (bgsub_parabola_simd != 1)                                                              \
        return -1;                                                                             \
    bgsub_store16_##T##_avx512(L, dst, n, stride, step, width, negate);                        \
    return 0;                                                                                  \
}
#else
#define BGSUB_ENTRY(T, CT)                                                                     \
static int bgsub_load16_##T(const CT* src, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t step,   \
                            Py_ssize_t width, int negate, double* L)                           \
{                                                                                              \
    (void)src; (void)n; (void)stride; (void)step; (void)width; (void)negate; (void)L;          \
    return -1;                                                                                 \
}                                                                                              \
static int bgsub_store16_##T(const double* L, CT* dst, Py_ssize_t n, Py_ssize_t stride,        \
                             Py_ssize_t step, Py_ssize_t width, int negate)                    \
{                                                                                              \
    (void)L; (void)dst; (void)n; (void)stride; (void)step; (void)width; (void)negate;          \
    return -1;                                                                                 \
}
#endif
BGSUB_ENTRY(f32, float)
BGSUB_ENTRY(f64, double)

/* Whether bgsub_stacks16 runs. */
static int bgsub_parabola_simd_on(void)
{
    return bgsub_parabola_simd == 1;
}

#endif
