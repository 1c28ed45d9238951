/* AVX-512 loop of _parabola.pyx: the lower-envelope stacks of 16 lines, one per lane.
 *
 * The 16 lines are interleaved (point x of line b at L[16 * x + b]) and all take their point q
 * together: each line pops while the parabola on its top is hidden (the same test, with the
 * same IEEE operations in the same order, as the scalar loop _lower_envelope; the build has
 * -ffp-contract=off), then pushes q. The stacks and take-over points are therefore the same
 * doubles. A stack is a chain of records, one per point pushed: record q (at 16 * q + b) holds
 * the element below q (its index, value and take-over point), written with plain stores when q
 * is pushed; the top three elements of every stack stay in registers, so a push needs no
 * scatter and a pop gathers a record only when the cache runs down to one element. The
 * envelopes are then read from the top of each stack down (bgsub_readout16), and the lines
 * moved in and out with 8 x 8 transposes (bgsub_load16_*, bgsub_store16_*). On a CPU with
 * AVX2 but not AVX-512F/DQ the same steps run in groups of 4 lanes (the AVX2 loop below).
 * Chosen at run time (bgsub_parabola_set_simd: 2 AVX-512, 1 AVX2, 0 off); with the SIMD loops
 * off, or off x86-64/GCC, these return 0 or -1 and the caller runs its scalar loop.
 */
#ifndef BGSUB_PARABOLA_H
#define BGSUB_PARABOLA_H

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target)
#define BGSUB_PARABOLA_AVX512 1
#endif
#endif

static int bgsub_parabola_simd = -1; /* -1: not probed yet; 0: off; 1: AVX2; 2: AVX-512 */

#ifdef BGSUB_PARABOLA_AVX512
#include <immintrin.h>

#define BGSUB_AVX512 __attribute__((target("avx512f,avx512dq")))

/* The top BGSUB_CACHED elements of the stacks of 8 lanes, level 0 the top: index (a double,
 * exact; -1 where the stack has no element there, -2 where it has one that is not cached),
 * value and take-over point. Below a -1 all are -1, below a -2 all are -2; level 1 is never
 * -2 between steps, so a pop finds its new top in a register and reads a record (a gather)
 * only when the cache runs down to one element. s, ne, pop: the current test (its take-over
 * point, which lanes have a top, which pop). */
#define BGSUB_CACHED 3

typedef struct {
    __m512d p[BGSUB_CACHED], f[BGSUB_CACHED], z[BGSUB_CACHED], s;
    __mmask8 ne, pop;
} bgsub_group;

typedef struct {
    __m512d half, c2, inf, minus_inf, zero, qd, none, uncached;
} bgsub_consts;

BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_init(bgsub_group* g, const bgsub_consts* K)
{
    for (int i = 0; i < BGSUB_CACHED; i++) {
        g->p[i] = K->none;
        g->f[i] = g->z[i] = K->zero;
    }
    g->s = K->zero;
    g->ne = g->pop = 0;
}

/* The take-over point of q against the top, 0.5 * (double)(q + p) + (fq - fv[k]) / (2c *
 * (double)(q - p)) as the scalar loop (the indices are exact in double), and the lanes that
 * pop: live (fq not +inf), a top, s <= its take-over point. */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_test(bgsub_group* g, const bgsub_consts* K, __m512d fq, __mmask8 act)
{
    g->ne = _mm512_cmp_pd_mask(g->p[0], K->zero, _CMP_GE_OQ);
    g->s = _mm512_add_pd(_mm512_mul_pd(K->half, _mm512_add_pd(K->qd, g->p[0])),
                         _mm512_div_pd(_mm512_sub_pd(fq, g->f[0]),
                                       _mm512_mul_pd(K->c2, _mm512_sub_pd(K->qd, g->p[0]))));
    g->pop = act & g->ne & _mm512_cmp_pd_mask(g->s, g->z[0], _CMP_LE_OQ);
}

/* Pop the lanes in g->pop: each cached level moves up; where level 1 is then not cached, it
 * is read from the new top's record (the element below it). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_pop(bgsub_group* g, const bgsub_consts* K, __m512i lane, const double* prev,
                const double* fprev, const double* zprev)
{
    const __mmask8 pop = g->pop;
    for (int i = 0; i + 1 < BGSUB_CACHED; i++) {
        g->p[i] = _mm512_mask_blend_pd(pop, g->p[i], g->p[i + 1]);
        g->f[i] = _mm512_mask_blend_pd(pop, g->f[i], g->f[i + 1]);
        g->z[i] = _mm512_mask_blend_pd(pop, g->z[i], g->z[i + 1]);
    }
    /* below a -1 stays -1 */
    g->p[BGSUB_CACHED - 1] = _mm512_mask_blend_pd(
        pop & _mm512_cmp_pd_mask(g->p[BGSUB_CACHED - 1], K->zero, _CMP_GE_OQ),
        g->p[BGSUB_CACHED - 1], K->uncached);
    const __mmask8 read = pop & _mm512_cmp_pd_mask(g->p[1], K->uncached, _CMP_EQ_OQ);
    if (read) {
        const __m512i i = _mm512_add_epi64(_mm512_slli_epi64(_mm512_cvttpd_epi64(g->p[0]), 4),
                                           lane);
        g->p[1] = _mm512_mask_i64gather_pd(g->p[1], read, i, prev, 8);
        g->f[1] = _mm512_mask_i64gather_pd(g->f[1], read, i, fprev, 8);
        g->z[1] = _mm512_mask_i64gather_pd(g->z[1], read, i, zprev, 8);
    }
}

/* Push q on the live lanes (take-over point s, -inf on an empty stack): record q holds the
 * old top; each cached level moves down (the lowest leaves the cache, not the stack). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_group_push(bgsub_group* g, const bgsub_consts* K, __m512d fq, __mmask8 act, double* prev,
                 double* fprev, double* zprev)
{
    const __m512d zs = _mm512_mask_blend_pd(g->ne, K->minus_inf, g->s);
    _mm512_storeu_pd(prev, g->p[0]);
    _mm512_storeu_pd(fprev, g->f[0]);
    _mm512_storeu_pd(zprev, g->z[0]);
    for (int i = BGSUB_CACHED - 1; i > 0; i--) {
        g->p[i] = _mm512_mask_blend_pd(act, g->p[i], g->p[i - 1]);
        g->f[i] = _mm512_mask_blend_pd(act, g->f[i], g->f[i - 1]);
        g->z[i] = _mm512_mask_blend_pd(act, g->z[i], g->z[i - 1]);
    }
    g->p[0] = _mm512_mask_blend_pd(act, g->p[0], K->qd);
    g->f[0] = _mm512_mask_blend_pd(act, g->f[0], fq);
    g->z[0] = _mm512_mask_blend_pd(act, g->z[0], zs);
}

/* With `two` 0 only the first 8 lanes (the others hold +inf: nothing to do). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_stacks16_loop(const double* L, double c, Py_ssize_t n, double* prev, double* fprev,
                    double* zprev, double* top, double* ftop, double* ztop, const int two)
{
    bgsub_consts K;
    K.half = _mm512_set1_pd(0.5);
    K.c2 = _mm512_set1_pd(2.0 * c);
    K.inf = _mm512_set1_pd(INFINITY);
    K.minus_inf = _mm512_set1_pd(-INFINITY);
    K.zero = _mm512_setzero_pd();
    K.none = _mm512_set1_pd(-1.0);
    K.uncached = _mm512_set1_pd(-2.0);
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
        bgsub_group_push(&A, &K, fa, act_a, prev + 16 * q, fprev + 16 * q, zprev + 16 * q);
        if (two)
            bgsub_group_push(&B, &K, fb, act_b, prev + 16 * q + 8, fprev + 16 * q + 8,
                             zprev + 16 * q + 8);
    }
    _mm512_storeu_pd(top, A.p[0]);
    _mm512_storeu_pd(top + 8, B.p[0]);
    _mm512_storeu_pd(ftop, A.f[0]);
    _mm512_storeu_pd(ftop + 8, B.f[0]);
    _mm512_storeu_pd(ztop, A.z[0]);
    _mm512_storeu_pd(ztop + 8, B.z[0]);
}

BGSUB_AVX512 static void bgsub_stacks16_avx512(const double* L, double c, Py_ssize_t n,
                                              double* prev, double* fprev, double* zprev,
                                              double* top, double* ftop, double* ztop,
                                              Py_ssize_t width)
{
    if (width > 8)
        bgsub_stacks16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 1);
    else
        bgsub_stacks16_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 0);
}

/* The read-out state of 8 lanes: the element serving x (index vd, a double, value fj,
 * take-over point zj). */
typedef struct {
    __m512d vd, fj, zj;
} bgsub_serving;

BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_serving_init(bgsub_serving* S, const double* top, const double* ftop, const double* ztop)
{
    const __m512d v = _mm512_loadu_pd(top);
    const __mmask8 empty = _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_LT_OQ);
    /* an empty stack (a line of +inf) reads out +inf: value +inf, never left */
    S->vd = _mm512_mask_blend_pd(empty, v, _mm512_setzero_pd());
    S->fj = _mm512_mask_blend_pd(empty, _mm512_loadu_pd(ftop), _mm512_set1_pd(INFINITY));
    S->zj = _mm512_mask_blend_pd(empty, _mm512_loadu_pd(ztop), _mm512_set1_pd(-INFINITY));
}

/* Step the lanes in `down` to the element below (from the serving element's record). */
BGSUB_AVX512 static inline __attribute__((always_inline)) void
bgsub_serving_down(bgsub_serving* S, __mmask8 down, __m512i lane, const double* prev,
                   const double* fprev, const double* zprev)
{
    const __m512i i = _mm512_add_epi64(_mm512_slli_epi64(_mm512_cvttpd_epi64(S->vd), 4), lane);
    S->vd = _mm512_mask_i64gather_pd(S->vd, down, i, prev, 8);
    S->fj = _mm512_mask_i64gather_pd(S->fj, down, i, fprev, 8);
    S->zj = _mm512_mask_i64gather_pd(S->zj, down, i, zprev, 8);
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
bgsub_readout16_loop(double* L, double c, Py_ssize_t n, const double* prev,
                     const double* fprev, const double* zprev, const double* top,
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
                                               const double* prev, const double* fprev,
                                               const double* zprev, const double* top,
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

#ifdef BGSUB_PARABOLA_AVX512
/* The AVX2 loop: the same steps as the AVX-512 one in groups of 4 lanes (__m256d; compare
 * results as lane masks, records read with 32-bit-index gathers, so lines of fewer than 2^26
 * points), run where the CPU has AVX2 but not AVX-512; the lines move in and out in groups of
 * 4 lanes (bgsub_load16_*_avx2, bgsub_store16_*_avx2: 4 x 4 transposes, masked rows) or, for
 * the tails and narrow blocks along the contiguous axis, with plain loops (*_plain). */
#define BGSUB_AVX2 __attribute__((target("avx2")))

typedef struct {
    __m256d p[BGSUB_CACHED], f[BGSUB_CACHED], z[BGSUB_CACHED], s, ne, pop;
} bgsub_group4;

typedef struct {
    __m256d half, c2, inf, minus_inf, zero, qd, none, uncached;
} bgsub_consts4;

#define BGSUB_BLEND4(m, a, b) _mm256_blendv_pd(a, b, m) /* b where m, a elsewhere */

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_group4_init(bgsub_group4* g, const bgsub_consts4* K)
{
    for (int i = 0; i < BGSUB_CACHED; i++) {
        g->p[i] = K->none;
        g->f[i] = g->z[i] = K->zero;
    }
    g->s = g->ne = g->pop = K->zero;
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_group4_test(bgsub_group4* g, const bgsub_consts4* K, __m256d fq, __m256d act)
{
    g->ne = _mm256_cmp_pd(g->p[0], K->zero, _CMP_GE_OQ);
    g->s = _mm256_add_pd(_mm256_mul_pd(K->half, _mm256_add_pd(K->qd, g->p[0])),
                         _mm256_div_pd(_mm256_sub_pd(fq, g->f[0]),
                                       _mm256_mul_pd(K->c2, _mm256_sub_pd(K->qd, g->p[0]))));
    g->pop = _mm256_and_pd(_mm256_and_pd(act, g->ne), _mm256_cmp_pd(g->s, g->z[0], _CMP_LE_OQ));
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_group4_pop(bgsub_group4* g, const bgsub_consts4* K, __m128i lane, const double* prev,
                 const double* fprev, const double* zprev)
{
    const __m256d pop = g->pop;
    for (int i = 0; i + 1 < BGSUB_CACHED; i++) {
        g->p[i] = BGSUB_BLEND4(pop, g->p[i], g->p[i + 1]);
        g->f[i] = BGSUB_BLEND4(pop, g->f[i], g->f[i + 1]);
        g->z[i] = BGSUB_BLEND4(pop, g->z[i], g->z[i + 1]);
    }
    g->p[BGSUB_CACHED - 1] = BGSUB_BLEND4(
        _mm256_and_pd(pop, _mm256_cmp_pd(g->p[BGSUB_CACHED - 1], K->zero, _CMP_GE_OQ)),
        g->p[BGSUB_CACHED - 1], K->uncached);
    const __m256d read = _mm256_and_pd(pop, _mm256_cmp_pd(g->p[1], K->uncached, _CMP_EQ_OQ));
    if (_mm256_movemask_pd(read)) {
        const __m128i i = _mm_add_epi32(_mm_slli_epi32(_mm256_cvttpd_epi32(g->p[0]), 4), lane);
        g->p[1] = _mm256_mask_i32gather_pd(g->p[1], prev, i, read, 8);
        g->f[1] = _mm256_mask_i32gather_pd(g->f[1], fprev, i, read, 8);
        g->z[1] = _mm256_mask_i32gather_pd(g->z[1], zprev, i, read, 8);
    }
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_group4_push(bgsub_group4* g, const bgsub_consts4* K, __m256d fq, __m256d act,
                  double* prev, double* fprev, double* zprev)
{
    const __m256d zs = BGSUB_BLEND4(g->ne, K->minus_inf, g->s);
    _mm256_storeu_pd(prev, g->p[0]);
    _mm256_storeu_pd(fprev, g->f[0]);
    _mm256_storeu_pd(zprev, g->z[0]);
    for (int i = BGSUB_CACHED - 1; i > 0; i--) {
        g->p[i] = BGSUB_BLEND4(act, g->p[i], g->p[i - 1]);
        g->f[i] = BGSUB_BLEND4(act, g->f[i], g->f[i - 1]);
        g->z[i] = BGSUB_BLEND4(act, g->z[i], g->z[i - 1]);
    }
    g->p[0] = BGSUB_BLEND4(act, g->p[0], K->qd);
    g->f[0] = BGSUB_BLEND4(act, g->f[0], fq);
    g->z[0] = BGSUB_BLEND4(act, g->z[0], zs);
}

/* The stacks of the NG groups of 4 lanes from lane 4 * g0. */
BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_stacks4_loop(const double* L, double c, Py_ssize_t n, double* prev, double* fprev,
                   double* zprev, double* top, double* ftop, double* ztop, const int g0,
                   const int NG)
{
    bgsub_consts4 K;
    K.half = _mm256_set1_pd(0.5);
    K.c2 = _mm256_set1_pd(2.0 * c);
    K.inf = _mm256_set1_pd(INFINITY);
    K.minus_inf = _mm256_set1_pd(-INFINITY);
    K.zero = _mm256_setzero_pd();
    K.none = _mm256_set1_pd(-1.0);
    K.uncached = _mm256_set1_pd(-2.0);
    bgsub_group4 G[4];
    __m128i lane[4];
    for (int k = 0; k < NG; k++) {
        bgsub_group4_init(&G[k], &K);
        lane[k] = _mm_set_epi32(4 * (g0 + k) + 3, 4 * (g0 + k) + 2, 4 * (g0 + k) + 1,
                                4 * (g0 + k));
    }
    for (Py_ssize_t q = 0; q < n; q++) {
        __m256d fq[4], act[4];
        K.qd = _mm256_set1_pd((double)q);
        int any = 0;
        for (int k = 0; k < NG; k++) {
            fq[k] = _mm256_loadu_pd(L + 16 * q + 4 * (g0 + k));
            act[k] = _mm256_cmp_pd(fq[k], K.inf, _CMP_NEQ_UQ);
            bgsub_group4_test(&G[k], &K, fq[k], act[k]);
            any |= _mm256_movemask_pd(G[k].pop);
        }
        while (any) {
            any = 0;
            for (int k = 0; k < NG; k++) {
                if (_mm256_movemask_pd(G[k].pop)) {
                    bgsub_group4_pop(&G[k], &K, lane[k], prev, fprev, zprev);
                    bgsub_group4_test(&G[k], &K, fq[k], act[k]);
                    any |= _mm256_movemask_pd(G[k].pop);
                }
            }
        }
        for (int k = 0; k < NG; k++) {
            const Py_ssize_t o = 16 * q + 4 * (g0 + k);
            bgsub_group4_push(&G[k], &K, fq[k], act[k], prev + o, fprev + o, zprev + o);
        }
    }
    for (int k = 0; k < NG; k++) {
        _mm256_storeu_pd(top + 4 * (g0 + k), G[k].p[0]);
        _mm256_storeu_pd(ftop + 4 * (g0 + k), G[k].f[0]);
        _mm256_storeu_pd(ztop + 4 * (g0 + k), G[k].z[0]);
    }
}

#ifndef BGSUB_AVX2_GROUPS
#define BGSUB_AVX2_GROUPS 2 /* groups of 4 lanes stepped together */
#endif

BGSUB_AVX2 static void bgsub_stacks16_avx2(const double* L, double c, Py_ssize_t n,
                                           double* prev, double* fprev, double* zprev,
                                           double* top, double* ftop, double* ztop,
                                           Py_ssize_t width)
{
    const int ng = width > 8 ? 4 : 2;
    for (int g0 = 0; g0 < ng; g0 += BGSUB_AVX2_GROUPS)
        bgsub_stacks4_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, g0, BGSUB_AVX2_GROUPS);
}

typedef struct {
    __m256d vd, fj, zj;
} bgsub_serving4;

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_serving4_init(bgsub_serving4* S, const double* top, const double* ftop, const double* ztop)
{
    const __m256d v = _mm256_loadu_pd(top);
    const __m256d empty = _mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_LT_OQ);
    S->vd = BGSUB_BLEND4(empty, v, _mm256_setzero_pd());
    S->fj = BGSUB_BLEND4(empty, _mm256_loadu_pd(ftop), _mm256_set1_pd(INFINITY));
    S->zj = BGSUB_BLEND4(empty, _mm256_loadu_pd(ztop), _mm256_set1_pd(-INFINITY));
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_serving4_down(bgsub_serving4* S, __m256d down, __m128i lane, const double* prev,
                    const double* fprev, const double* zprev)
{
    const __m128i i = _mm_add_epi32(_mm_slli_epi32(_mm256_cvttpd_epi32(S->vd), 4), lane);
    S->vd = _mm256_mask_i32gather_pd(S->vd, prev, i, down, 8);
    S->fj = _mm256_mask_i32gather_pd(S->fj, fprev, i, down, 8);
    S->zj = _mm256_mask_i32gather_pd(S->zj, zprev, i, down, 8);
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_serving4_value(const bgsub_serving4* S, __m256d c, __m256d xd, double* L)
{
    const __m256d d = _mm256_sub_pd(xd, S->vd);
    const __m256d a = _mm256_add_pd(S->fj, _mm256_mul_pd(_mm256_mul_pd(c, d), d));
    const __m256d f = _mm256_loadu_pd(L);
    _mm256_storeu_pd(L, BGSUB_BLEND4(_mm256_cmp_pd(f, a, _CMP_LT_OQ), a, f));
}

BGSUB_AVX2 static inline __attribute__((always_inline)) void
bgsub_readout4_loop(double* L, double c, Py_ssize_t n, const double* prev,
                    const double* fprev, const double* zprev, const double* top,
                    const double* ftop, const double* ztop, const int NG)
{
    const __m256d cv = _mm256_set1_pd(c);
    bgsub_serving4 S[4];
    __m128i lane[4];
    for (int k = 0; k < NG; k++) {
        bgsub_serving4_init(&S[k], top + 4 * k, ftop + 4 * k, ztop + 4 * k);
        lane[k] = _mm_set_epi32(4 * k + 3, 4 * k + 2, 4 * k + 1, 4 * k);
    }
    for (Py_ssize_t x = n - 1; x >= 0; x--) {
        const __m256d xd = _mm256_set1_pd((double)x);
        __m256d down[4];
        int any = 0;
        for (int k = 0; k < NG; k++) {
            down[k] = _mm256_cmp_pd(S[k].zj, xd, _CMP_NLT_UQ);
            any |= _mm256_movemask_pd(down[k]);
        }
        while (any) {
            any = 0;
            for (int k = 0; k < NG; k++) {
                if (_mm256_movemask_pd(down[k])) {
                    bgsub_serving4_down(&S[k], down[k], lane[k], prev, fprev, zprev);
                    down[k] = _mm256_and_pd(down[k], _mm256_cmp_pd(S[k].zj, xd, _CMP_NLT_UQ));
                    any |= _mm256_movemask_pd(down[k]);
                }
            }
        }
        for (int k = 0; k < NG; k++)
            bgsub_serving4_value(&S[k], cv, xd, L + 16 * x + 4 * k);
    }
}

BGSUB_AVX2 static void bgsub_readout16_avx2(double* L, double c, Py_ssize_t n,
                                            const double* prev, const double* fprev,
                                            const double* zprev, const double* top,
                                            const double* ftop, const double* ztop,
                                            Py_ssize_t width)
{
    if (width > 8)
        bgsub_readout4_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 4);
    else
        bgsub_readout4_loop(L, c, n, prev, fprev, zprev, top, ftop, ztop, 2);
}

/* bgsub_load16_T / bgsub_store16_T (see BGSUB_MOVES) with plain loops. */
#define BGSUB_MOVES_PLAIN(T, CT)                                                               \
BGSUB_AVX2 static int bgsub_load16_##T##_plain(const CT* src, Py_ssize_t n, Py_ssize_t stride, \
                                               Py_ssize_t step, Py_ssize_t width, int negate,  \
                                               double* L)                                      \
{                                                                                              \
    int special = 0;                                                                           \
    for (Py_ssize_t x = 0; x < n; x++) {                                                       \
        double* row = L + 16 * x;                                                              \
        for (Py_ssize_t b = 0; b < width; b++) {                                               \
            const double value = negate ? -(double)src[b * step + x * stride]                  \
                                        : (double)src[b * step + x * stride];                  \
            special |= (value == -INFINITY) | (value != value);                                \
            row[b] = value;                                                                    \
        }                                                                                      \
        for (Py_ssize_t b = width; b < 16; b++)                                                \
            row[b] = INFINITY;                                                                 \
    }                                                                                          \
    return special;                                                                            \
}                                                                                              \
                                                                                               \
BGSUB_AVX2 static void bgsub_store16_##T##_plain(const double* L, CT* dst, Py_ssize_t n,      \
                                                 Py_ssize_t stride, Py_ssize_t step,           \
                                                 Py_ssize_t width, int negate)                 \
{                                                                                              \
    for (Py_ssize_t x = 0; x < n; x++)                                                         \
        for (Py_ssize_t b = 0; b < width; b++)                                                 \
            dst[b * step + x * stride] = (CT)(negate ? 0.0 - L[16 * x + b] : L[16 * x + b]);   \
}

BGSUB_MOVES_PLAIN(f32, float)
BGSUB_MOVES_PLAIN(f64, double)

/* bgsub_load16_T / bgsub_store16_T (see BGSUB_MOVES) in groups of 4 lanes: masked rows along a
 * strided axis, 4 x 4 transposes along the contiguous one (16 lines), plain loops for the rest. */
#define BGSUB_LOAD4_f32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define BGSUB_LOAD4_f64(p) _mm256_loadu_pd(p)
#define BGSUB_MLOAD4_f32(m32, m64, p) ((void)(m64), _mm256_cvtps_pd(_mm_maskload_ps(p, m32)))
#define BGSUB_MLOAD4_f64(m32, m64, p) _mm256_maskload_pd(p, m64)
#define BGSUB_STORE4_f32(p, v) _mm_storeu_ps(p, _mm256_cvtpd_ps(v))
#define BGSUB_STORE4_f64(p, v) _mm256_storeu_pd(p, v)
#define BGSUB_MSTORE4_f32(p, m32, m64, v) ((void)(m64), _mm_maskstore_ps(p, m32, _mm256_cvtpd_ps(v)))
#define BGSUB_MSTORE4_f64(p, m32, m64, v) _mm256_maskstore_pd(p, m64, v)

/* 4 x 4 transpose: c[j][i] = r[i][j]. */
BGSUB_AVX2 static inline __attribute__((always_inline)) void bgsub_transpose4(__m256d* r)
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

#define BGSUB_MOVES4(T, CT)                                                                    \
BGSUB_AVX2 static int bgsub_load16_##T##_avx2(const CT* src, Py_ssize_t n, Py_ssize_t stride,  \
                                              Py_ssize_t step, Py_ssize_t width, int negate,   \
                                              double* L)                                       \
{                                                                                              \
    const __m256d sign = _mm256_set1_pd(negate ? -0.0 : 0.0), inf = _mm256_set1_pd(INFINITY); \
    const __m256d minus_inf = _mm256_set1_pd(-INFINITY);                                       \
    __m256d special = _mm256_setzero_pd();                                                     \
    if (step == 1) {                                                                           \
        __m128i m32[4];                                                                        \
        __m256i m64[4];                                                                        \
        __m256d mk[4];                                                                         \
        for (int k = 0; k < 4; k++) {                                                          \
            m32[k] = _mm_cmpgt_epi32(_mm_set1_epi32((int)(width - 4 * k)),                     \
                                     _mm_set_epi32(3, 2, 1, 0));                               \
            m64[k] = _mm256_cvtepi32_epi64(m32[k]);                                            \
            mk[k] = _mm256_castsi256_pd(m64[k]);                                               \
        }                                                                                      \
        for (Py_ssize_t x = 0; x < n; x++) {                                                   \
            const CT* row = src + x * stride;                                                  \
            if (x + BGSUB_AHEAD < n) { /* a page a row: not prefetched by the CPU */           \
                __builtin_prefetch(row + BGSUB_AHEAD * stride, 0, 3);                          \
                __builtin_prefetch(row + BGSUB_AHEAD * stride + width - 1, 0, 3);              \
            }                                                                                  \
            for (int k = 0; k < 4; k++) {                                                      \
                __m256d a = _mm256_xor_pd(BGSUB_MLOAD4_##T(m32[k], m64[k], row + 4 * k), sign); \
                a = _mm256_blendv_pd(inf, a, mk[k]);                                           \
                special = _mm256_or_pd(special, _mm256_or_pd(                                  \
                    _mm256_cmp_pd(a, minus_inf, _CMP_EQ_OQ), _mm256_cmp_pd(a, a, _CMP_UNORD_Q))); \
                _mm256_storeu_pd(L + 16 * x + 4 * k, a);                                       \
            }                                                                                  \
        }                                                                                      \
        return _mm256_movemask_pd(special) != 0;                                               \
    }                                                                                          \
    if (width != 16)                                                                           \
        return bgsub_load16_##T##_plain(src, n, stride, step, width, negate, L);               \
    Py_ssize_t x = 0;                                                                          \
    for (; x + 4 <= n; x += 4) {                                                               \
        for (int g = 0; g < 4; g++) {                                                          \
            __m256d r[4];                                                                      \
            for (int i = 0; i < 4; i++) {                                                      \
                r[i] = _mm256_xor_pd(BGSUB_LOAD4_##T(src + (4 * g + i) * step + x), sign);     \
                special = _mm256_or_pd(special, _mm256_or_pd(                                  \
                    _mm256_cmp_pd(r[i], minus_inf, _CMP_EQ_OQ),                                \
                    _mm256_cmp_pd(r[i], r[i], _CMP_UNORD_Q)));                                 \
            }                                                                                  \
            bgsub_transpose4(r);                                                               \
            for (int i = 0; i < 4; i++)                                                        \
                _mm256_storeu_pd(L + 16 * (x + i) + 4 * g, r[i]);                              \
        }                                                                                      \
    }                                                                                          \
    int tail = 0;                                                                              \
    if (x < n)                                                                                 \
        tail = bgsub_load16_##T##_plain(src + x, n - x, stride, step, width, negate,           \
                                        L + 16 * x);                                           \
    return (_mm256_movemask_pd(special) != 0) | tail;                                          \
}                                                                                              \
                                                                                               \
BGSUB_AVX2 static void bgsub_store16_##T##_avx2(const double* L, CT* dst, Py_ssize_t n,       \
                                                Py_ssize_t stride, Py_ssize_t step,            \
                                                Py_ssize_t width, int negate)                  \
{                                                                                              \
    const __m256d zero = _mm256_setzero_pd();                                                  \
    if (step == 1) {                                                                           \
        __m128i m32[4];                                                                        \
        __m256i m64[4];                                                                        \
        for (int k = 0; k < 4; k++) {                                                          \
            m32[k] = _mm_cmpgt_epi32(_mm_set1_epi32((int)(width - 4 * k)),                     \
                                     _mm_set_epi32(3, 2, 1, 0));                               \
            m64[k] = _mm256_cvtepi32_epi64(m32[k]);                                            \
        }                                                                                      \
        for (Py_ssize_t x = 0; x < n; x++) {                                                   \
            CT* row = dst + x * stride;                                                        \
            if (x + BGSUB_AHEAD < n) {                                                         \
                __builtin_prefetch(row + BGSUB_AHEAD * stride, 1, 3);                          \
                __builtin_prefetch(row + BGSUB_AHEAD * stride + width - 1, 1, 3);              \
            }                                                                                  \
            for (int k = 0; k < 4 && 4 * k < width; k++) {                                     \
                __m256d a = _mm256_loadu_pd(L + 16 * x + 4 * k);                               \
                if (negate)                                                                    \
                    a = _mm256_sub_pd(zero, a);                                                \
                BGSUB_MSTORE4_##T(row + 4 * k, m32[k], m64[k], a);                             \
            }                                                                                  \
        }                                                                                      \
        return;                                                                                \
    }                                                                                          \
    if (width != 16) {                                                                         \
        bgsub_store16_##T##_plain(L, dst, n, stride, step, width, negate);                     \
        return;                                                                                \
    }                                                                                          \
    Py_ssize_t x = 0;                                                                          \
    for (; x + 4 <= n; x += 4) {                                                               \
        for (int g = 0; g < 4; g++) {                                                          \
            __m256d r[4];                                                                      \
            for (int i = 0; i < 4; i++) {                                                      \
                r[i] = _mm256_loadu_pd(L + 16 * (x + i) + 4 * g);                              \
                if (negate)                                                                    \
                    r[i] = _mm256_sub_pd(zero, r[i]);                                          \
            }                                                                                  \
            bgsub_transpose4(r);                                                               \
            for (int i = 0; i < 4; i++)                                                        \
                BGSUB_STORE4_##T(dst + (4 * g + i) * step + x, r[i]);                          \
        }                                                                                      \
    }                                                                                          \
    if (x < n)                                                                                 \
        bgsub_store16_##T##_plain(L + 16 * x, dst + x, n - x, stride, step, width, negate);   \
}

BGSUB_MOVES4(f32, float)
BGSUB_MOVES4(f64, double)
#endif

/* The loop in use: 0 the scalar loop, 1 AVX2, 2 AVX-512. bgsub_parabola_set_simd(level) asks
 * for a level (-1: the best the CPU has) and returns the one granted: the highest the CPU has
 * at or below it. */
static int bgsub_parabola_set_simd(int level)
{
#ifdef BGSUB_PARABOLA_AVX512
    int best = 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        best = 2;
    else if (__builtin_cpu_supports("avx2"))
        best = 1;
    if (level < 0 || level > best)
        level = best;
    bgsub_parabola_simd = level;
#else
    (void)level;
    bgsub_parabola_simd = 0;
#endif
    return bgsub_parabola_simd;
}

/* The stacks of the 16 interleaved lines of L (16 * n values, no -inf): record q of line b at
 * 16 * q + b in prev, fprev, zprev (the element below q when q was pushed: index as a double,
 * -1 for none, value and take-over point), the top of line b in top[b], ftop[b], ztop[b]
 * (-1: empty stack); only the first 8 lines (the others are +inf) where width <= 8. Returns 0 (nothing
 * done) where the SIMD loops are off. */
static int bgsub_stacks16(const double* L, double c, Py_ssize_t n, double* prev,
                          double* fprev, double* zprev, double* top, double* ftop,
                          double* ztop, Py_ssize_t width)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 2) {
        bgsub_stacks16_avx512(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
    if (bgsub_parabola_simd == 1 && n < ((Py_ssize_t)1 << 26)) { /* 32-bit gather indices */
        bgsub_stacks16_avx2(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
#endif
    (void)L; (void)c; (void)n; (void)prev; (void)fprev; (void)zprev; (void)top; (void)ftop;
    (void)ztop; (void)width;
    return 0;
}

/* The envelopes of the 16 lines of L (no NaN) from bgsub_stacks16's output, into L in place:
 * L[16 * x + b] = min(f, the parabola serving x), as the scalar read-out gives it (the first 8
 * lines only where width <= 8). Returns 0 (nothing done) where the SIMD loops are off. */
static int bgsub_readout16(double* L, double c, Py_ssize_t n, const double* prev,
                           const double* fprev, const double* zprev, const double* top,
                           const double* ftop, const double* ztop, Py_ssize_t width)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 2) {
        bgsub_readout16_avx512(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
    if (bgsub_parabola_simd == 1 && n < ((Py_ssize_t)1 << 26)) {
        bgsub_readout16_avx2(L, c, n, prev, fprev, zprev, top, ftop, ztop, width);
        return 1;
    }
#endif
    (void)L; (void)c; (void)n; (void)prev; (void)fprev; (void)zprev; (void)top; (void)ftop;
    (void)ztop; (void)width;
    return 0;
}

/* bgsub_load16_f32/f64 and bgsub_store16_f32/f64 (see BGSUB_MOVES); -1 and nothing done
 * where the SIMD loops are off. */
#ifdef BGSUB_PARABOLA_AVX512
#define BGSUB_ENTRY(T, CT)                                                                     \
static int bgsub_load16_##T(const CT* src, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t step,   \
                            Py_ssize_t width, int negate, double* L)                           \
{                                                                                              \
    if (bgsub_parabola_simd == 1)                                                              \
        return bgsub_load16_##T##_avx2(src, n, stride, step, width, negate, L);                \
    if (bgsub_parabola_simd != 2)                                                              \
        return -1;                                                                             \
    return bgsub_load16_##T##_avx512(src, n, stride, step, width, negate, L);                  \
}                                                                                              \
static int bgsub_store16_##T(const double* L, CT* dst, Py_ssize_t n, Py_ssize_t stride,        \
                             Py_ssize_t step, Py_ssize_t width, int negate)                    \
{                                                                                              \
    if (bgsub_parabola_simd == 1) {                                                            \
        bgsub_store16_##T##_avx2(L, dst, n, stride, step, width, negate);                      \
        return 0;                                                                              \
    }                                                                                          \
    if (bgsub_parabola_simd != 2)                                                              \
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

/* The level in use (see bgsub_parabola_set_simd). */
static int bgsub_parabola_level(void)
{
    return bgsub_parabola_simd;
}

/* Whether bgsub_stacks16 runs (either SIMD level). */
static int bgsub_parabola_simd_on(void)
{
    return bgsub_parabola_simd > 0;
}

#endif
