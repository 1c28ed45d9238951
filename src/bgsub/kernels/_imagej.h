/* Vectorisable inner loops of _imagej.pyx (ImageJ's rolling ball and 3x3 filters).
 *
 * On x86-64 Linux with GCC or clang each function is compiled three times (AVX-512, AVX2,
 * baseline SSE2) and the best one for the running CPU is picked when the module loads, so the
 * package still runs on any x86-64. Only IEEE min/max selections, additions and subtractions
 * happen here, in the same order for every element whatever the vector width (and the build
 * has -ffp-contract=off), so all three give bit-identical results.
 */
#ifndef BGSUB_IMAGEJ_H
#define BGSUB_IMAGEJ_H

#include <stddef.h>

#include "_clones.h"

/* Elements of a row handled together: their running minima/maxima stay in registers while
 * all the ball's offsets of one row are applied. */
#define BGSUB_BLOCK 64

/* One row of the ball's erosion: tmp = min(a, b) over pw pixels, then for every dx in 0..r
 * (in this order) row[k] = min(row[k], min(tmp[r - dx + k], tmp[r + dx + k]) - bv[dx]). */
BGSUB_CLONES static void bgsub_ij_erode_rows(const float *a, const float *b, float *tmp,
                                             ptrdiff_t pw, const float *bv, ptrdiff_t r,
                                             float *row, ptrdiff_t n)
{
    ptrdiff_t k, k0, dx;
    for (k = 0; k < pw; k++) {
        float va = a[k], vb = b[k];
        tmp[k] = va < vb ? va : vb;
    }
    for (k0 = 0; k0 < n; k0 += BGSUB_BLOCK) {
        ptrdiff_t m = n - k0 < BGSUB_BLOCK ? n - k0 : BGSUB_BLOCK;
        float acc[BGSUB_BLOCK];
        if (m == BGSUB_BLOCK) {
            for (k = 0; k < BGSUB_BLOCK; k++)
                acc[k] = row[k0 + k];
            for (dx = 0; dx <= r; dx++) {
                const float *tl = tmp + r - dx + k0, *tr = tmp + r + dx + k0;
                float c = bv[dx];
                for (k = 0; k < BGSUB_BLOCK; k++) {
                    float x1 = tl[k], x2 = tr[k];
                    float v = (x1 < x2 ? x1 : x2) - c;
                    acc[k] = v < acc[k] ? v : acc[k];
                }
            }
            for (k = 0; k < BGSUB_BLOCK; k++)
                row[k0 + k] = acc[k];
        } else {
            for (dx = 0; dx <= r; dx++) {
                const float *tl = tmp + r - dx + k0, *tr = tmp + r + dx + k0;
                float c = bv[dx];
                for (k = 0; k < m; k++) {
                    float x1 = tl[k], x2 = tr[k];
                    float v = (x1 < x2 ? x1 : x2) - c;
                    float d = row[k0 + k];
                    row[k0 + k] = v < d ? v : d;
                }
            }
        }
    }
}

/* One row of the ball's dilation: tmp = max(a, b) over pw pixels, then for every dx in 0..r
 * (in this order) row[k] = max(row[k], max(tmp[r - dx + k], tmp[r + dx + k]) + bv[dx]). */
BGSUB_CLONES static void bgsub_ij_dilate_rows(const float *a, const float *b, float *tmp,
                                              ptrdiff_t pw, const float *bv, ptrdiff_t r,
                                              float *row, ptrdiff_t n)
{
    ptrdiff_t k, k0, dx;
    for (k = 0; k < pw; k++) {
        float va = a[k], vb = b[k];
        tmp[k] = va > vb ? va : vb;
    }
    for (k0 = 0; k0 < n; k0 += BGSUB_BLOCK) {
        ptrdiff_t m = n - k0 < BGSUB_BLOCK ? n - k0 : BGSUB_BLOCK;
        float acc[BGSUB_BLOCK];
        if (m == BGSUB_BLOCK) {
            for (k = 0; k < BGSUB_BLOCK; k++)
                acc[k] = row[k0 + k];
            for (dx = 0; dx <= r; dx++) {
                const float *tl = tmp + r - dx + k0, *tr = tmp + r + dx + k0;
                float c = bv[dx];
                for (k = 0; k < BGSUB_BLOCK; k++) {
                    float x1 = tl[k], x2 = tr[k];
                    float v = (x1 > x2 ? x1 : x2) + c;
                    acc[k] = v > acc[k] ? v : acc[k];
                }
            }
            for (k = 0; k < BGSUB_BLOCK; k++)
                row[k0 + k] = acc[k];
        } else {
            for (dx = 0; dx <= r; dx++) {
                const float *tl = tmp + r - dx + k0, *tr = tmp + r + dx + k0;
                float c = bv[dx];
                for (k = 0; k < m; k++) {
                    float x1 = tl[k], x2 = tr[k];
                    float v = (x1 > x2 ? x1 : x2) + c;
                    float d = row[k0 + k];
                    row[k0 + k] = v > d ? v : d;
                }
            }
        }
    }
}

/* ImageJ's 3-point line filter along one row (mean, or maximum with the increase of every
 * pixel in diff[k]); edge pixels replicated. Every output depends on the original values
 * only, so the row is first copied to tmp (n + 2 floats, with the edges repeated). */
BGSUB_CLONES static void bgsub_ij_filter3_row(float *row, ptrdiff_t n, int maximum, int v154,
                                              float third, float *tmp, float *diff)
{
    ptrdiff_t k;
    tmp[0] = row[0];
    for (k = 0; k < n; k++)
        tmp[k + 1] = row[k];
    tmp[n + 1] = row[n - 1];
    if (maximum && v154) {
        for (k = 0; k < n; k++) {
            float v1 = tmp[k], v2 = tmp[k + 1], v3 = tmp[k + 2];
            float mx = (v1 > v3 || v3 != v3) ? v1 : v3;
            mx = (v2 > mx || mx != mx) ? v2 : mx;
            diff[k] = mx - v2;
            row[k] = mx;
        }
    } else if (maximum) {
        for (k = 0; k < n; k++) {
            float v1 = tmp[k], v2 = tmp[k + 1], v3 = tmp[k + 2];
            float mx = v1 > v3 ? v1 : v3;
            mx = v2 > mx ? v2 : mx;
            diff[k] = mx - v2;
            row[k] = mx;
        }
    } else if (v154) {
        for (k = 0; k < n; k++) {
            float v2 = tmp[k + 1];
            float mean = ((tmp[k] + v2) + tmp[k + 2]) * third;
            row[k] = mean == mean ? mean : v2;
        }
    } else {
        for (k = 0; k < n; k++)
            row[k] = ((tmp[k] + tmp[k + 1]) + tmp[k + 2]) * third;
    }
}

/* The same filter down m <= BGSUB_BLOCK adjacent columns x0.. of a (height, width) plane, all
 * at once, row by row. For the maximum, 1.53t's per-column sums of the increases (in row
 * order, as double) go to sums[x0 + c]; 1.54t's increases to shifts[x0 * height + y * m + c]
 * (each block of columns row-major in its own part of the array, written in order). */
BGSUB_CLONES static void bgsub_ij_filter3_cols(float *pixels, ptrdiff_t width, ptrdiff_t height,
                                               ptrdiff_t x0, ptrdiff_t m, int maximum,
                                               int v154, float third, double *sums,
                                               float *shifts)
{
    float prev[BGSUB_BLOCK], cur[BGSUB_BLOCK];
    double acc[BGSUB_BLOCK];
    ptrdiff_t c, y;
    for (c = 0; c < m; c++) {
        prev[c] = cur[c] = pixels[x0 + c];
        acc[c] = 0.0;
    }
    for (y = 0; y < height; y++) {
        float *p = pixels + y * width + x0;
        const float *next = y < height - 1 ? p + width : cur;  /* last row: v3 stays */
        if (maximum && v154) {
            for (c = 0; c < m; c++) {
                float v1 = prev[c], v2 = cur[c], v3 = next[c];
                float mx = (v1 > v3 || v3 != v3) ? v1 : v3;
                mx = (v2 > mx || mx != mx) ? v2 : mx;
                shifts[x0 * height + y * m + c] = mx - v2;
                p[c] = mx;
                prev[c] = v2;
                cur[c] = v3;
            }
        } else if (maximum) {
            for (c = 0; c < m; c++) {
                float v1 = prev[c], v2 = cur[c], v3 = next[c];
                float mx = v1 > v3 ? v1 : v3;
                mx = v2 > mx ? v2 : mx;
                acc[c] += (double)(mx - v2);
                p[c] = mx;
                prev[c] = v2;
                cur[c] = v3;
            }
        } else if (v154) {
            for (c = 0; c < m; c++) {
                float v1 = prev[c], v2 = cur[c], v3 = next[c];
                float mean = ((v1 + v2) + v3) * third;
                p[c] = mean == mean ? mean : v2;
                prev[c] = v2;
                cur[c] = v3;
            }
        } else {
            for (c = 0; c < m; c++) {
                float v1 = prev[c], v2 = cur[c], v3 = next[c];
                p[c] = ((v1 + v2) + v3) * third;
                prev[c] = v2;
                cur[c] = v3;
            }
        }
    }
    if (maximum && !v154)
        for (c = 0; c < m; c++)
            sums[x0 + c] = acc[c];
}

#endif /* BGSUB_IMAGEJ_H */
