/* AVX-512 step loop of _parabola.pyx: the lower-envelope stacks of 8 or 16 lines, one per lane.
 *
 * Each lane runs the same pop/push steps as the scalar code (_lower_envelopes), with the same
 * IEEE operations in the same order (the build has -ffp-contract=off), so the stacks and
 * take-over points are the same doubles. Chosen at run time: on a CPU without AVX-512F/DQ, or
 * off x86-64/GCC, bgsub_envelopes8 returns 0 and the caller runs its scalar loop.
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

/* Shared by the steps of all lanes. */
typedef struct {
    __m512i off_m, off_n, one, zero, nv;
    __m512d half, c2, inf, minus_inf, zerod;
} bgsub_lanes;

BGSUB_AVX512 static inline void bgsub_lanes_init(bgsub_lanes* L, double c, Py_ssize_t n)
{
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    L->off_m = _mm512_mullo_epi64(lane, _mm512_set1_epi64((long long)(n + 1)));
    L->off_n = _mm512_mullo_epi64(lane, _mm512_set1_epi64((long long)n));
    L->one = _mm512_set1_epi64(1);
    L->zero = _mm512_setzero_si512();
    L->nv = _mm512_set1_epi64((long long)n);
    L->half = _mm512_set1_pd(0.5);
    L->c2 = _mm512_set1_pd(2.0 * c);
    L->inf = _mm512_set1_pd(INFINITY);
    L->minus_inf = _mm512_set1_pd(-INFINITY);
    L->zerod = _mm512_setzero_pd();
}

/* One step of 8 lines: each live lane pops its top or takes its next point (skip +inf, else
 * push). Returns the lanes still live. */
BGSUB_AVX512 static inline __attribute__((always_inline)) __mmask8
bgsub_step8(const bgsub_lanes* L, const double* f, Py_ssize_t* v, double* z, double* fv,
            __m512i* kp, __m512i* qp, __mmask8 live)
{
    __m512i k = *kp, q = *qp;
    __m512d fq = _mm512_mask_i64gather_pd(L->inf, live, _mm512_add_epi64(L->off_n, q), f, 8);
    __mmask8 nonempty = _mm512_cmpge_epi64_mask(k, L->zero);
    __mmask8 top = live & nonempty;
    __m512i idx = _mm512_add_epi64(L->off_m, _mm512_max_epi64(k, L->zero));
    __m512i p = _mm512_mask_i64gather_epi64(L->zero, top, idx, v, 8);
    __m512d fvk = _mm512_mask_i64gather_pd(L->zerod, top, idx, fv, 8);
    __m512d zk = _mm512_mask_i64gather_pd(L->zerod, top, idx, z, 8);
    /* 0.5 * (double)(q + p) + (fq - fv[k]) / (2c * (double)(q - p)), as the scalar code */
    __m512d s = _mm512_add_pd(
        _mm512_mul_pd(L->half, _mm512_cvtepi64_pd(_mm512_add_epi64(q, p))),
        _mm512_div_pd(_mm512_sub_pd(fq, fvk),
                      _mm512_mul_pd(L->c2, _mm512_cvtepi64_pd(_mm512_sub_epi64(q, p)))));
    __mmask8 pop = top & _mm512_cmp_pd_mask(s, zk, _CMP_LE_OQ);
    __mmask8 push = live & (__mmask8)~pop & _mm512_cmp_pd_mask(fq, L->inf, _CMP_NEQ_UQ);
    __m512d zs = _mm512_mask_blend_pd(nonempty, L->minus_inf, s);
    __m512i idx1 = _mm512_add_epi64(L->off_m, _mm512_add_epi64(k, L->one));
    _mm512_mask_i64scatter_epi64(v, push, idx1, q, 8);
    _mm512_mask_i64scatter_pd(z, push, idx1, zs, 8);
    _mm512_mask_i64scatter_pd(fv, push, idx1, fq, 8);
    k = _mm512_mask_add_epi64(k, push, k, L->one);
    *kp = _mm512_mask_sub_epi64(k, pop, k, L->one);
    q = _mm512_mask_add_epi64(q, live & (__mmask8)~pop, q, L->one);
    *qp = q;
    return _mm512_cmplt_epi64_mask(q, L->nv);
}

BGSUB_AVX512 static void bgsub_envelopes8_avx512(const double* f, double c, Py_ssize_t n,
                                                Py_ssize_t* v, double* z, double* fv,
                                                Py_ssize_t* k_out)
{
    bgsub_lanes L;
    bgsub_lanes_init(&L, c, n);
    __m512i k = _mm512_set1_epi64(-1), q = L.zero;
    __mmask8 live = n > 0 ? 0xFF : 0;
    while (live)
        live = bgsub_step8(&L, f, v, z, fv, &k, &q, live);
    _mm512_storeu_si512((void*)k_out, k);
}

/* Two groups of 8 lines stepped in the same loop, so that one's gathers and division overlap
 * the other's. */
BGSUB_AVX512 static void bgsub_envelopes16_avx512(const double* f, double c, Py_ssize_t n,
                                                 Py_ssize_t* v, double* z, double* fv,
                                                 Py_ssize_t* k_out)
{
    bgsub_lanes L;
    bgsub_lanes_init(&L, c, n);
    const Py_ssize_t m = n + 1;
    __m512i ka = _mm512_set1_epi64(-1), qa = L.zero, kb = ka, qb = L.zero;
    __mmask8 live_a = n > 0 ? 0xFF : 0, live_b = live_a;
    while (live_a | live_b) {
        live_a = bgsub_step8(&L, f, v, z, fv, &ka, &qa, live_a);
        live_b = bgsub_step8(&L, f + 8 * n, v + 8 * m, z + 8 * m, fv + 8 * m, &kb, &qb, live_b);
    }
    _mm512_storeu_si512((void*)k_out, ka);
    _mm512_storeu_si512((void*)(k_out + 8), kb);
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

/* The stacks of the 8 lines f + b * n (no -inf) into v, z, fv (line b at b * (n + 1)) and
 * their tops into k; returns 0 (nothing done) where the AVX-512 loop is off. */
static int bgsub_envelopes8(const double* f, double c, Py_ssize_t n, Py_ssize_t* v, double* z,
                            double* fv, Py_ssize_t* k)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 1) {
        bgsub_envelopes8_avx512(f, c, n, v, z, fv, k);
        return 1;
    }
#endif
    (void)f; (void)c; (void)n; (void)v; (void)z; (void)fv; (void)k;
    return 0;
}

/* The same for the 16 lines f + b * n. */
static int bgsub_envelopes16(const double* f, double c, Py_ssize_t n, Py_ssize_t* v, double* z,
                             double* fv, Py_ssize_t* k)
{
#ifdef BGSUB_PARABOLA_AVX512
    if (bgsub_parabola_simd == 1) {
        bgsub_envelopes16_avx512(f, c, n, v, z, fv, k);
        return 1;
    }
#endif
    (void)f; (void)c; (void)n; (void)v; (void)z; (void)fv; (void)k;
    return 0;
}

#endif
