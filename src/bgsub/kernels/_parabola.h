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

BGSUB_AVX512 static void bgsub_stacks16_avx512(const double* L, double c, Py_ssize_t n,
                                              long long* prev, double* fprev, double* zprev,
                                              long long* top, double* ftop, double* ztop)
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
        const __m512d fa = _mm512_loadu_pd(L + 16 * q), fb = _mm512_loadu_pd(L + 16 * q + 8);
        /* +inf never takes part (the scalar loop skips it); NaN does, as there */
        const __mmask8 act_a = _mm512_cmp_pd_mask(fa, K.inf, _CMP_NEQ_UQ);
        const __mmask8 act_b = _mm512_cmp_pd_mask(fb, K.inf, _CMP_NEQ_UQ);
        K.qd = _mm512_set1_pd((double)q);
        bgsub_group_test(&A, &K, fa, act_a);
        bgsub_group_test(&B, &K, fb, act_b);
        while (A.pop | B.pop) {
            if (A.pop) {
                bgsub_group_pop(&A, &K, lane_a, prev, fprev, zprev);
                bgsub_group_test(&A, &K, fa, act_a);
            }
            if (B.pop) {
                bgsub_group_pop(&B, &K, lane_b, prev, fprev, zprev);
                bgsub_group_test(&B, &K, fb, act_b);
            }
        }
        bgsub_group_push(&A, &K, fa, act_a, q, prev + 16 * q, fprev + 16 * q, zprev + 16 * q);
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
 * stack). Returns 0 (nothing done) where the AVX-512 loop is off. */
static int bgsub_stacks16(const double* L, double c, Py_ssize_t n, long long* prev,
                          double* fprev, double* zprev, long long* top, double* ftop,
                          double* ztop)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 1) {
        bgsub_stacks16_avx512(L, c, n, prev, fprev, zprev, top, ftop, ztop);
        return 1;
    }
#endif
    (void)L; (void)c; (void)n; (void)prev; (void)fprev; (void)zprev; (void)top; (void)ftop;
    (void)ztop;
    return 0;
}

/* Whether bgsub_stacks16 runs. */
static int bgsub_parabola_simd_on(void)
{
    return bgsub_parabola_simd == 1;
}

#endif
