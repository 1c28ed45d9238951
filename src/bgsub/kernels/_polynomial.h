/* The inner loop of _polynomial.pyx: one term of a polynomial added to a row of the plane,
 * row[j] += c * x[j] (* x[j] ... k factors of x in all), each product and the sum rounded as
 * NumPy rounds them (the build has -ffp-contract=off: no fused multiply-add). A case per
 * degree keeps the products in registers, so that the loop vectorises; every version of
 * BGSUB_CLONES runs the same IEEE operations: the same bits. */
#ifndef BGSUB_POLYNOMIAL_H
#define BGSUB_POLYNOMIAL_H

#include <stddef.h>

#include "_clones.h"

#define BGSUB_TERM_LOOP(EXPR) \
    for (j = 0; j < n; j++) { double v = x[j]; double g = c * v; EXPR; row[j] = row[j] + g; }

BGSUB_CLONES static void bgsub_add_term(double *row, const double *x,
                                        ptrdiff_t n, double c, int k)
{
    ptrdiff_t j;
    int m;
    switch (k) {
    case 1: BGSUB_TERM_LOOP((void)0) break;
    case 2: BGSUB_TERM_LOOP(g = g * v) break;
    case 3: BGSUB_TERM_LOOP(g = g * v; g = g * v) break;
    case 4: BGSUB_TERM_LOOP(g = g * v; g = g * v; g = g * v) break;
    case 5: BGSUB_TERM_LOOP(g = g * v; g = g * v; g = g * v; g = g * v) break;
    case 6: BGSUB_TERM_LOOP(g = g * v; g = g * v; g = g * v; g = g * v; g = g * v) break;
    default:
        BGSUB_TERM_LOOP(for (m = 1; m < k; m++) g = g * v)
    }
}

#endif
