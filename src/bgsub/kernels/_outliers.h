/* The inner loop of _outliers.pyx: each pixel's 8 neighbours along a row folded into their
 * lowest, second lowest, second highest and highest with selects instead of branches (a NaN
 * neighbour counts as +infinity), so that the compiler vectorises it, and the row's cold
 * pixels counted. On x86-64 Linux with GCC or clang it is compiled for AVX-512, AVX2 and
 * baseline SSE2, picked when the module loads; minima and maxima are exact, so all give the
 * same values.
 */
#ifndef BGSUB_OUTLIERS_H
#define BGSUB_OUTLIERS_H

#include <math.h>
#include <stddef.h>

#include "_clones.h"

#define BGSUB_TAKE(T, v)                                                                     \
    do {                                                                                     \
        T x_ = (v);                                                                          \
        x_ = x_ == x_ ? x_ : INFINITY;                                                       \
        T high_ = x_ > low ? x_ : low;                                                       \
        second_ = high_ < second_ ? high_ : second_;                                         \
        low = x_ < low ? x_ : low;                                                           \
        T under_ = x_ < top ? x_ : top;                                                      \
        upper = under_ > upper ? under_ : upper;                                             \
        top = x_ > top ? x_ : top;                                                           \
    } while (0)

/* How many mid[j], 0 < j < n - 1 (rows up, mid, down of n pixels each), lie below the
 * second lowest of their 8 neighbours by more than sqrt(sds2 * max(gain * that neighbour +
 * offset, floor2)) and by more than spread times what the second highest lies above it, none
 * being NaN (_outliers.pyx's _is_cold, the same operations). */
#define BGSUB_COLD_IN_ROW(NAME, T)                                                            \
BGSUB_CLONES static ptrdiff_t NAME(const T *up, const T *mid, const T *down,                 \
                                   ptrdiff_t n, double gain, double offset, double floor2,   \
                                   double sds2, double spread)                               \
{                                                                                            \
    ptrdiff_t found = 0;                                                                     \
    for (ptrdiff_t j = 1; j < n - 1; j++) {                                                  \
        T low = INFINITY, second_ = INFINITY, upper = -INFINITY, top = -INFINITY;            \
        BGSUB_TAKE(T, up[j - 1]);                                                            \
        BGSUB_TAKE(T, up[j]);                                                                \
        BGSUB_TAKE(T, up[j + 1]);                                                            \
        BGSUB_TAKE(T, mid[j - 1]);                                                           \
        BGSUB_TAKE(T, mid[j + 1]);                                                           \
        BGSUB_TAKE(T, down[j - 1]);                                                          \
        BGSUB_TAKE(T, down[j]);                                                              \
        BGSUB_TAKE(T, down[j + 1]);                                                          \
        double second = second_; /* (exact: a float widened) */                              \
        double gap = second - (double)mid[j];                                                \
        double span = (double)upper - second;                                                \
        double variance = gain * second + offset;                                            \
        variance = variance < floor2 ? floor2 : variance;                                    \
        found += (top < INFINITY) & (gap > spread * span) & (gap * gap > sds2 * variance);   \
    }                                                                                        \
    return found;                                                                            \
}

BGSUB_COLD_IN_ROW(bgsub_cold_in_row, double)
BGSUB_COLD_IN_ROW(bgsub_cold_in_row_f, float)

#endif
