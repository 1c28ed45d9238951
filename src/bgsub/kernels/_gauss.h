/* The inner loop of _gauss.pyx: SciPy's symmetric 1D correlation (ndimage's NI_Correlate1D),
 * many outputs at once.
 *
 * For every output x, in this order: acc = centre[x] * w[0], then for k = r down to 1:
 * acc = acc + (left_k[x] + right_k[x]) * w[k] -- SciPy's own operations, in its order, for
 * each element (the build has -ffp-contract=off: no fused multiply-add). Only the loops are
 * interchanged (the taps outside, a block of outputs inside, in registers), which changes no
 * element's arithmetic, so that they vectorise. On x86-64 Linux with GCC or clang the
 * function is compiled for AVX-512, AVX2 and baseline SSE2, picked when the module loads;
 * all give the same bits.
 */
#ifndef BGSUB_GAUSS_H
#define BGSUB_GAUSS_H

#include <stddef.h>

#include "_clones.h"

/* Eight doubles, element by element (IEEE operations each: the same bits as scalar code);
 * AVX-512 holds one in a register, AVX2 two, SSE2 four. */
typedef double bgsub_v8d __attribute__((vector_size(64), aligned(8)));

/* Eight floats, widened to doubles (exactly) */
typedef float bgsub_v8f __attribute__((vector_size(32), aligned(4)));

#define BGSUB_LOAD(p) (*(const bgsub_v8d *)(p))
#define BGSUB_LOADF(p) __builtin_convertvector(*(const bgsub_v8f *)(p), bgsub_v8d)

/* out[x] for x in 0..n-1: line p of the input starts at base + idx[p] * stride; the centre
 * line is p = c, the taps' lines c - k and c + k (k = 1..r), weights w[0..r]. Blocks of 32
 * outputs accumulate in registers over all the taps. Defined for double input, and for
 * float input read as doubles (exactly: the same sums as on a float64 copy). */
#define BGSUB_GAUSS_TAPS(NAME, T, LOAD)                                                      \
BGSUB_CLONES static void NAME(double *out, ptrdiff_t n, const T *base, ptrdiff_t stride,       \
                              const ptrdiff_t *idx, ptrdiff_t c, ptrdiff_t r, const double *w) \
{                                                                                            \
    ptrdiff_t x0 = 0, j, k;                                                                  \
    const T *mid = base + idx[c] * stride;                                                   \
    for (; x0 + 32 <= n; x0 += 32) {                                                         \
        bgsub_v8d w0 = {w[0], w[0], w[0], w[0], w[0], w[0], w[0], w[0]};                     \
        bgsub_v8d a0 = LOAD(mid + x0) * w0, a1 = LOAD(mid + x0 + 8) * w0;                    \
        bgsub_v8d a2 = LOAD(mid + x0 + 16) * w0, a3 = LOAD(mid + x0 + 24) * w0;              \
        for (k = r; k >= 1; k--) {                                                           \
            const T *lo = base + idx[c - k] * stride + x0;                                   \
            const T *hi = base + idx[c + k] * stride + x0;                                   \
            double s = w[k];                                                                 \
            bgsub_v8d wk = {s, s, s, s, s, s, s, s};                                         \
            a0 = a0 + (LOAD(lo) + LOAD(hi)) * wk;                                            \
            a1 = a1 + (LOAD(lo + 8) + LOAD(hi + 8)) * wk;                                    \
            a2 = a2 + (LOAD(lo + 16) + LOAD(hi + 16)) * wk;                                  \
            a3 = a3 + (LOAD(lo + 24) + LOAD(hi + 24)) * wk;                                  \
        }                                                                                    \
        *(bgsub_v8d *)(out + x0) = a0;                                                       \
        *(bgsub_v8d *)(out + x0 + 8) = a1;                                                   \
        *(bgsub_v8d *)(out + x0 + 16) = a2;                                                  \
        *(bgsub_v8d *)(out + x0 + 24) = a3;                                                  \
    }                                                                                        \
    for (; x0 + 8 <= n; x0 += 8) {                                                           \
        bgsub_v8d w0 = {w[0], w[0], w[0], w[0], w[0], w[0], w[0], w[0]};                     \
        bgsub_v8d a0 = LOAD(mid + x0) * w0;                                                  \
        for (k = r; k >= 1; k--) {                                                           \
            double s = w[k];                                                                 \
            bgsub_v8d wk = {s, s, s, s, s, s, s, s};                                         \
            a0 = a0 + (LOAD(base + idx[c - k] * stride + x0)                                 \
                       + LOAD(base + idx[c + k] * stride + x0)) * wk;                        \
        }                                                                                    \
        *(bgsub_v8d *)(out + x0) = a0;                                                       \
    }                                                                                        \
    for (j = x0; j < n; j++) {                                                               \
        double acc = (double)mid[j] * w[0];                                                  \
        for (k = r; k >= 1; k--)                                                             \
            acc = acc + ((double)base[idx[c - k] * stride + j]                               \
                         + (double)base[idx[c + k] * stride + j]) * w[k];                    \
        out[j] = acc;                                                                        \
    }                                                                                        \
}

BGSUB_GAUSS_TAPS(bgsub_gauss_taps, double, BGSUB_LOAD)
BGSUB_GAUSS_TAPS(bgsub_gauss_taps_f, float, BGSUB_LOADF)

#endif
