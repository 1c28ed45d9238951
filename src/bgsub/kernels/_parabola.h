/* AVX-512 step loop of _parabola.pyx: the lower-envelope stacks of 8 lines, one per lane.
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

__attribute__((target("avx512f,avx512dq")))
static void bgsub_envelopes8_avx512(const double* f, double c, Py_ssize_t n, Py_ssize_t* v,
                                    double* z, double* fv, Py_ssize_t* k_out)
{
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i off_m = _mm512_mullo_epi64(lane, _mm512_set1_epi64((long long)(n + 1)));
    const __m512i off_n = _mm512_mullo_epi64(lane, _mm512_set1_epi64((long long)n));
    const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
    const __m512i nv = _mm512_set1_epi64((long long)n);
    const __m512d half = _mm512_set1_pd(0.5), c2 = _mm512_set1_pd(2.0 * c);
    const __m512d inf = _mm512_set1_pd(INFINITY), minus_inf = _mm512_set1_pd(-INFINITY);
    const __m512d zerod = _mm512_setzero_pd();
    __m512i k = _mm512_set1_epi64(-1), q = zero;
    __mmask8 live = n > 0 ? 0xFF : 0;
    while (live) {
        __m512d fq = _mm512_mask_i64gather_pd(inf, live, _mm512_add_epi64(off_n, q), f, 8);
        __mmask8 nonempty = _mm512_cmpge_epi64_mask(k, zero);
        __mmask8 top = live & nonempty;
        __m512i idx = _mm512_add_epi64(off_m, _mm512_max_epi64(k, zero));
        __m512i p = _mm512_mask_i64gather_epi64(zero, top, idx, v, 8);
        __m512d fvk = _mm512_mask_i64gather_pd(zerod, top, idx, fv, 8);
        __m512d zk = _mm512_mask_i64gather_pd(zerod, top, idx, z, 8);
        /* 0.5 * (double)(q + p) + (fq - fv[k]) / (2c * (double)(q - p)), as the scalar code */
        __m512d s = _mm512_add_pd(
            _mm512_mul_pd(half, _mm512_cvtepi64_pd(_mm512_add_epi64(q, p))),
            _mm512_div_pd(_mm512_sub_pd(fq, fvk),
                          _mm512_mul_pd(c2, _mm512_cvtepi64_pd(_mm512_sub_epi64(q, p)))));
        __mmask8 pop = top & _mm512_cmp_pd_mask(s, zk, _CMP_LE_OQ);
        __mmask8 push = live & (__mmask8)~pop & _mm512_cmp_pd_mask(fq, inf, _CMP_NEQ_UQ);
        __m512d zs = _mm512_mask_blend_pd(nonempty, minus_inf, s);
        __m512i idx1 = _mm512_add_epi64(off_m, _mm512_add_epi64(k, one));
        _mm512_mask_i64scatter_epi64(v, push, idx1, q, 8);
        _mm512_mask_i64scatter_pd(z, push, idx1, zs, 8);
        _mm512_mask_i64scatter_pd(fv, push, idx1, fq, 8);
        k = _mm512_mask_add_epi64(k, push, k, one);
        k = _mm512_mask_sub_epi64(k, pop, k, one);
        q = _mm512_mask_add_epi64(q, live & (__mmask8)~pop, q, one);
        live = _mm512_cmplt_epi64_mask(q, nv);
    }
    _mm512_storeu_si512((void*)k_out, k);
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

#endif
