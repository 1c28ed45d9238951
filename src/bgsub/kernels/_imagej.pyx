# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.imagej` (no validation: the wrapper checks).

Java's float (``float``) and double arithmetic is reproduced operation by operation: every
expression below is typed so that C evaluates it in the same precision as ImageJ (and as
the numba loops these replace); ``(int)`` casts truncate toward zero.
"""

from cython.parallel cimport prange, threadid
from libc.float cimport FLT_MAX
from libc.math cimport INFINITY, NAN, floor, sqrt

import numpy as np

cdef float HALF = 0.5
cdef float ONE = 1.0
cdef float TWO = 2.0
cdef float THIRD = 0.33333334  # Java's 0.33333334f
cdef float CURV_TEST = 1.999
cdef Py_ssize_t INT_MAX = 2147483647

cdef enum:
    X_DIRECTION = 0
    Y_DIRECTION = 1
    DIAGONAL_1A = 2
    DIAGONAL_1B = 3
    DIAGONAL_2A = 4
    DIAGONAL_2B = 5


# ------------------------------------------------------------------------------------------
# 3x3 filters
# ------------------------------------------------------------------------------------------
cdef extern from "_imagej.h" nogil:
    enum: BGSUB_BLOCK
    void bgsub_ij_filter3_row(float* row, Py_ssize_t n, int maximum, int v154, float third,
                              float* tmp, float* diff)
    void bgsub_ij_filter3_cols(float* pixels, Py_ssize_t width, Py_ssize_t height,
                               Py_ssize_t x0, Py_ssize_t m, int maximum, int v154, float third,
                               double* sums, float* shifts)
    void bgsub_ij_erode_rows(const float* a, const float* b, float* tmp, Py_ssize_t pw,
                             const float* bv, Py_ssize_t r, float* row, Py_ssize_t n)
    void bgsub_ij_dilate_rows(const float* a, const float* b, float* tmp, Py_ssize_t pw,
                              const float* bv, Py_ssize_t r, float* row, Py_ssize_t n)


cdef void _filter3_rows(float* pixels, Py_ssize_t width, Py_ssize_t height, bint maximum,
                        bint v154, float* row_scratch, double* row_sums, float* shifts,
                        int nthreads) noexcept nogil:
    """The 3-point filter along every row, in parallel.

    ``row_scratch`` holds ``2 * width + 2`` floats per thread. With the maximum, 1.53t's
    per-row sums of the increases (double, in line order) go to ``row_sums``, 1.54t's
    increases of every pixel to ``shifts`` (row-major).
    """
    cdef Py_ssize_t y, k
    cdef float* tmp
    cdef float* diff
    cdef double shift
    for y in prange(height, num_threads=nthreads, schedule="dynamic", chunksize=16):
        tmp = row_scratch + threadid() * (2 * width + 2)
        diff = tmp + width + 2
        if v154 and maximum:
            diff = shifts + y * width
        bgsub_ij_filter3_row(pixels + y * width, width, maximum, v154, THIRD, tmp, diff)
        if maximum and not v154:
            shift = 0.0
            for k in range(width):
                shift = shift + <double>diff[k]
            row_sums[y] = shift


cdef void _filter3_columns(float* pixels, Py_ssize_t width, Py_ssize_t height, bint maximum,
                           bint v154, double* col_sums, float* shifts,
                           int nthreads) noexcept nogil:
    """The 3-point filter down every column, in parallel over blocks of adjacent columns.

    With the maximum, 1.53t's per-column sums of the increases (double, in line order) go to
    ``col_sums``; 1.54t's increases to ``shifts``, block by block (see ``_imagej.h``).
    """
    cdef Py_ssize_t nblocks = (width + BGSUB_BLOCK - 1) // BGSUB_BLOCK, block, x0
    for block in prange(nblocks, num_threads=nthreads, schedule="dynamic", chunksize=1):
        x0 = block * BGSUB_BLOCK
        bgsub_ij_filter3_cols(pixels, width, height, x0, min(<Py_ssize_t>BGSUB_BLOCK, width - x0),
                              maximum, v154, THIRD, col_sums, shifts)


cdef void _add_shifts(const float* shifts, Py_ssize_t count, Py_ssize_t inc,
                      double* total) noexcept nogil:
    """Add the non-NaN of ``count`` ``shifts`` (step ``inc``) to ``total = [sum, n]`` in order."""
    cdef Py_ssize_t k
    cdef float s
    for k in range(count):
        s = shifts[k * inc]
        if s == s:
            total[0] += <double>s
            total[1] += 1.0


cdef double _filter3x3_153(float* pixels, Py_ssize_t width, Py_ssize_t height, bint maximum,
                           float* row_scratch, double* row_sums, double* col_sums,
                           int nthreads) noexcept nogil:
    """1.53t's 3x3 mean or maximum; the per-line sums are added in line order afterwards."""
    cdef Py_ssize_t y, x
    cdef double total = 0.0
    _filter3_rows(pixels, width, height, maximum, False, row_scratch, row_sums, NULL, nthreads)
    _filter3_columns(pixels, width, height, maximum, False, col_sums, NULL, nthreads)
    if not maximum:
        return 0.0
    for y in range(height):
        total = total + row_sums[y]
    for x in range(width):
        total = total + col_sums[x]
    return total / <double>width / <double>height


cdef double _filter3x3_154(float* pixels, Py_ssize_t width, Py_ssize_t height, bint maximum,
                           float* row_scratch, float* shifts, int nthreads) noexcept nogil:
    """1.54t's 3x3 mean or maximum; the increases are summed in ImageJ's order afterwards
    (rows, then columns)."""
    cdef double total[2]
    cdef Py_ssize_t x0, m, c
    total[0] = 0.0
    total[1] = 0.0
    _filter3_rows(pixels, width, height, maximum, True, row_scratch, NULL, shifts, nthreads)
    if maximum:
        _add_shifts(shifts, width * height, 1, total)
    _filter3_columns(pixels, width, height, maximum, True, NULL, shifts, nthreads)
    if maximum:
        x0 = 0
        while x0 < width:
            m = min(<Py_ssize_t>BGSUB_BLOCK, width - x0)
            for c in range(m):
                _add_shifts(shifts + x0 * height + c, height, m, total)
            x0 += m
    return total[0] / total[1]


cdef double _filter3x3(float* pixels, Py_ssize_t width, Py_ssize_t height, bint maximum,
                       bint v154, _Filter3x3Scratch s, int nthreads) noexcept nogil:
    """The 3x3 mean or maximum of the chosen release; for the maximum, its mean increase."""
    if v154:
        return _filter3x3_154(pixels, width, height, maximum, &s.row_scratch[0, 0],
                              &s.shifts[0], nthreads)
    return _filter3x3_153(pixels, width, height, maximum, &s.row_scratch[0, 0],
                          &s.row_sums[0], &s.col_sums[0], nthreads)


cdef class _Filter3x3Scratch:
    """Scratch memory of the 3x3 filters (allocated with the GIL, so running out raises)."""
    cdef float[:, ::1] row_scratch
    cdef double[::1] row_sums
    cdef double[::1] col_sums
    cdef float[::1] shifts

    def __init__(self, Py_ssize_t width, Py_ssize_t height, bint maximum, bint v154,
                 int nthreads):
        self.row_scratch = np.empty((max(1, nthreads), 2 * width + 2), dtype=np.float32)
        self.row_sums = np.empty(height + 1)
        self.col_sums = np.empty(width + 1)
        self.shifts = np.empty(width * height if (maximum and v154) else 1, dtype=np.float32)


def filter3x3(float[:, ::1] plane, bint maximum, bint v154, int nthreads):
    """ImageJ's 3x3 mean or maximum in place on a float32 plane; returns the mean increase."""
    cdef Py_ssize_t height = plane.shape[0], width = plane.shape[1]
    cdef _Filter3x3Scratch s = _Filter3x3Scratch(width, height, maximum, v154, nthreads)
    cdef double result
    with nogil:
        result = _filter3x3(&plane[0, 0], width, height, maximum, v154, s, nthreads)
    return result


# ------------------------------------------------------------------------------------------
# rolling ball
# ------------------------------------------------------------------------------------------
def shrink_image(float[:, ::1] img, Py_ssize_t factor):
    """Block minimum over ``factor x factor`` blocks (partial blocks at the end)."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1]
    cdef Py_ssize_t sh = (h + factor - 1) // factor, sw = (w + factor - 1) // factor
    out_arr = np.empty((sh, sw), dtype=np.float32)
    cdef float[:, ::1] out = out_arr
    cdef Py_ssize_t ys, xs, y, x
    cdef float mn, v
    with nogil:
        for ys in range(sh):
            for xs in range(sw):
                mn = FLT_MAX
                for y in range(factor * ys, min(factor * ys + factor, h)):
                    for x in range(factor * xs, min(factor * xs + factor, w)):
                        v = img[y, x]
                        if v < mn:
                            mn = v
                out[ys, xs] = mn
    return out_arr


def roll_ball(float[:, ::1] img, float[:, ::1] ball, int nthreads):
    """Grey-scale opening with ImageJ's ball, windows clipped to the image."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1]
    cdef Py_ssize_t bw = ball.shape[0]
    cdef Py_ssize_t r = bw // 2
    cdef Py_ssize_t r2 = 2 * r
    cdef Py_ssize_t ph = h + 2 * r2, pw = w + 2 * r2
    cdef Py_ssize_t eh = h + r2, ew = w + r2
    cdef float[:, ::1] pad = np.full((ph, pw), np.inf, dtype=np.float32)
    cdef float[:, ::1] ero = np.empty((eh, ew), dtype=np.float32)
    out_arr = np.empty((h, w), dtype=np.float32)
    cdef float[:, ::1] out = out_arr
    cdef float[:, ::1] scratch = np.empty((max(1, nthreads), pw), dtype=np.float32)
    cdef Py_ssize_t y, x, iy, yp, dy, ya, yb, k
    cdef float v
    cdef float* row
    cdef float* tmp
    with nogil:
        for y in range(h):
            for x in range(w):
                v = img[y, x]
                # ImageJ's "if (z > zReduced)" never picks a NaN: treat NaN like "outside"
                pad[r2 + y, r2 + x] = v if v == v else INFINITY
        for iy in prange(eh, num_threads=nthreads, schedule="dynamic", chunksize=4):
            # centre row iy - r; pixel rows iy + r -/+ dy in `pad`
            row = &ero[iy, 0]
            tmp = &scratch[threadid(), 0]
            for k in range(ew):
                row[k] = FLT_MAX  # ImageJ starts z at Float.MAX_VALUE
            for dy in range(r + 1):
                ya = iy + r - dy
                yb = iy + r + dy
                if (ya < r2 or ya >= r2 + h) and (yb < r2 or yb >= r2 + h):
                    continue
                bgsub_ij_erode_rows(&pad[ya, 0], &pad[yb, 0], tmp, pw, &ball[r + dy, r], r, row,
                                    ew)
        for yp in prange(h, num_threads=nthreads, schedule="dynamic", chunksize=4):
            # centres (yp + r -/+ dy, xp + r -/+ dx) in `ero`
            row = &out[yp, 0]
            tmp = &scratch[threadid(), 0]
            for k in range(w):
                row[k] = -FLT_MAX  # ImageJ starts the background at -Float.MAX_VALUE
            for dy in range(r + 1):
                bgsub_ij_dilate_rows(&ero[yp + r - dy, 0], &ero[yp + r + dy, 0], tmp, ew,
                                     &ball[r + dy, r], r, row, w)
    return out_arr


cdef void _interpolation_arrays(Py_ssize_t* idx, float* wts, Py_ssize_t length,
                                Py_ssize_t small_length, Py_ssize_t factor) noexcept nogil:
    cdef Py_ssize_t half = factor // 2, i, s
    cdef float dist
    for i in range(length):
        s = (i - half) / factor  # C division truncates toward zero, like Java's
        if s >= small_length - 1:
            s = small_length - 2
        idx[i] = s
        dist = (<float>i + HALF) / <float>factor - (<float>s + HALF)
        wts[i] = ONE - dist


def enlarge_image(float[:, ::1] small, Py_ssize_t height, Py_ssize_t width, Py_ssize_t factor):
    """ImageJ's bilinear inter-/extrapolation of the shrunken background."""
    cdef Py_ssize_t sh = small.shape[0], sw = small.shape[1]
    cdef Py_ssize_t[::1] xi = np.empty(width, dtype=np.intp)
    cdef Py_ssize_t[::1] yi = np.empty(height, dtype=np.intp)
    cdef float[::1] xw = np.empty(width, dtype=np.float32)
    cdef float[::1] yw = np.empty(height, dtype=np.float32)
    out_arr = np.empty((height, width), dtype=np.float32)
    cdef float[:, ::1] out = out_arr
    cdef float[::1] buf0 = np.zeros(width, dtype=np.float32)
    cdef float[::1] buf1 = np.empty(width, dtype=np.float32)
    cdef float* line0 = &buf0[0]
    cdef float* line1 = &buf1[0]
    cdef float* swap
    cdef float weight
    cdef Py_ssize_t x, y, row, y_small_line0 = -1
    with nogil:
        _interpolation_arrays(&xi[0], &xw[0], width, sw, factor)
        _interpolation_arrays(&yi[0], &yw[0], height, sh, factor)
        for x in range(width):
            line1[x] = small[0, xi[x]] * xw[x] + small[0, xi[x] + 1] * (ONE - xw[x])
        for y in range(height):
            if y_small_line0 < yi[y]:
                swap = line0
                line0 = line1
                line1 = swap
                y_small_line0 += 1
                row = yi[y] + 1
                for x in range(width):
                    line1[x] = small[row, xi[x]] * xw[x] + small[row, xi[x] + 1] * (ONE - xw[x])
            weight = yw[y]
            for x in range(width):
                out[y, x] = line0[x] * weight + line1[x] * (ONE - weight)
    return out_arr


# ------------------------------------------------------------------------------------------
# sliding paraboloid
# ------------------------------------------------------------------------------------------
cdef inline Py_ssize_t _d2i(double x) noexcept nogil:
    """Java's ``(int)`` cast of a double (truncating, saturating, NaN -> 0)."""
    if x != x:
        return 0
    if x >= 2147483647.0:
        return INT_MAX
    if x <= -2147483648.0:
        return -2147483648
    return <Py_ssize_t>x


cdef inline float _pow6(float dx) noexcept nogil:
    return dx * dx * dx * dx * dx * dx


cdef float _find_touching_points(float* pixels, Py_ssize_t start, Py_ssize_t inc,
                                 Py_ssize_t length, float coeff2, float* cache,
                                 Py_ssize_t* next_point, bint v154) noexcept nogil:
    """Copy one line to ``cache``; chain the points a parabola may touch in ``next_point``."""
    cdef float min_value = FLT_MAX
    cdef Py_ssize_t lastpoint = 0, i, p = start
    cdef float v, v_prev1 = 0.0, v_prev2 = 0.0, last
    cdef float curvature_test = CURV_TEST * coeff2
    cdef bint touch
    for i in range(length):
        v = pixels[p]
        cache[i] = v
        if v < min_value:
            min_value = v
        if i >= 2:
            touch = ((v_prev1 + v_prev1) - v_prev2) - v < curvature_test
            if v154 and not touch:
                touch = (v_prev2 != v_prev2 or v != v) and v_prev1 == v_prev1
            if touch:
                next_point[lastpoint] = i - 1
                lastpoint = i - 1
        v_prev2 = v_prev1
        v_prev1 = v
        p += inc
    last = cache[length - 1]
    if v154 and last != last:
        next_point[lastpoint] = INT_MAX
    else:
        next_point[lastpoint] = length - 1
        next_point[length - 1] = INT_MAX
    return min_value


cdef void _corrected_edges(float* cache, Py_ssize_t length, float coeff2,
                           Py_ssize_t first_corner, Py_ssize_t last_corner, float* edges,
                           bint v154) noexcept nogil:
    """Both edge values of a line estimated without edge particles (``edges``)."""
    cdef float v1, v2, span_f, slope, value0, coeff6, mid, dx, poly6, fc, lc, last
    cdef Py_ssize_t i
    if v154 and first_corner > last_corner:
        edges[0] = NAN
        edges[1] = NAN
        return
    if 4 * first_corner >= length and (not v154 or cache[0] == cache[0]):
        first_corner = 0
    last = cache[length - 1]
    if 4 * (length - 1 - last_corner) >= length and (not v154 or last == last):
        last_corner = length - 1
    v1 = cache[first_corner]
    v2 = cache[last_corner]
    span_f = <float>(last_corner - first_corner)
    if v154 and last_corner - first_corner <= length // 4 + 1:
        slope = NAN
    else:
        slope = (v2 - v1) / span_f
    value0 = v1 - slope * <float>first_corner
    coeff6 = 0.0
    mid = HALF * <float>(last_corner + first_corner)
    for i in range((length + 2) // 3, (2 * length) // 3 + 1):
        dx = (<float>i - mid) * TWO / span_f
        poly6 = _pow6(dx) - ONE
        if cache[i] < (value0 + slope * <float>i) + coeff6 * poly6:
            coeff6 = -((value0 + slope * <float>i) - cache[i]) / poly6
    dx = (<float>first_corner - mid) * TWO / span_f
    fc = <float>first_corner
    edges[0] = (value0 + coeff6 * (_pow6(dx) - ONE)) + coeff2 * fc * fc
    dx = (<float>last_corner - mid) * TWO / span_f
    lc = <float>(length - 1 - last_corner)
    edges[1] = (
        ((value0 + <float>(length - 1) * slope) + coeff6 * (_pow6(dx) - ONE))
        + coeff2 * lc * lc
    )


cdef bint _line_slide_parabola(float* pixels, Py_ssize_t start, Py_ssize_t inc,
                               Py_ssize_t length, float coeff2, float* cache,
                               Py_ssize_t* next_point, float* edges, bint want_edges,
                               bint v154) noexcept nogil:
    """Slide a parabola (curvature ``2*coeff2``) under one line of ``pixels``.

    Returns True where 1.53t never finishes (no slope below ``Float.MAX_VALUE``).
    """
    cdef float min_value = _find_touching_points(pixels, start, inc, length, coeff2, cache,
                                                 next_point, v154)
    cdef Py_ssize_t first_corner = length if v154 else length - 1
    cdef Py_ssize_t last_corner = 0, i1 = 0, i2, search_to, recalculate, j, jj, p
    cdef Py_ssize_t span, max_search
    cdef float v1, v2, min_slope, dj, slope
    cdef double b
    if v154 and cache[0] != cache[0]:  # a line that starts with NaN starts later
        i1 = next_point[0]
    while i1 < length - 1:
        v1 = cache[i1]
        min_slope = FLT_MAX
        i2 = 0
        search_to = length
        recalculate = 0
        j = next_point[i1]
        while j < search_to:
            v2 = cache[j]
            if v154 and v2 != v2:  # no parabola can end on NaN: give up this line
                i1 = length - 1
                break
            dj = <float>(j - i1)
            slope = (v2 - v1) / dj + coeff2 * dj
            if slope < min_slope:
                min_slope = slope
                i2 = j
                recalculate = -3
            if recalculate == 0:
                b = <double>(HALF * min_slope / coeff2)
                span = _d2i(b + sqrt(b * b + <double>((v1 - min_value) / coeff2)) + 1.0)
                max_search = i1 + span
                if max_search > INT_MAX:  # int overflow as in Java
                    max_search -= <Py_ssize_t>4294967296LL
                if max_search < search_to and max_search > 0:
                    search_to = max_search
            j = next_point[j]
            recalculate += 1
        if v154:
            if i2 <= i1:  # no second point (e.g. all NaN)
                i2 = length - 1
            if first_corner >= length and i1 > 0:
                first_corner = i1
            if i2 < length - 1:
                last_corner = i2
        else:
            if i2 == 0:  # 1.53t would restart the line here, endlessly
                return True
            if i1 == 0:
                first_corner = i2
            if i2 == length - 1:
                last_corner = i1
        p = start + (i1 + 1) * inc
        for jj in range(i1 + 1, i2):
            dj = <float>(jj - i1)
            pixels[p] = v1 + dj * (min_slope - dj * coeff2)
            p += inc
        i1 = i2
    if want_edges:
        _corrected_edges(cache, length, coeff2, first_corner, last_corner, edges, v154)
    return False


cdef bint _filter1d(float* pixels, Py_ssize_t width, Py_ssize_t height, int direction,
                    float coeff2, bint v154, float* caches, Py_ssize_t* next_points,
                    Py_ssize_t scratch_len, char* stuck, int nthreads) noexcept nogil:
    """Slide the parabola along all lines of one direction; True if 1.53t never finishes."""
    cdef Py_ssize_t start_line = 0, n_lines = 0, line_inc = 0, point_inc = 0, length = 0
    cdef Py_ssize_t i, n, start_pixel, t
    cdef float edges[2]
    cdef bint any_stuck = False
    if direction == X_DIRECTION:
        n_lines = height
        line_inc = width
        point_inc = 1
        length = width
    elif direction == Y_DIRECTION:
        n_lines = width
        line_inc = 1
        point_inc = width
        length = height
    elif direction == DIAGONAL_1A:
        n_lines = width - 2
        line_inc = 1
        point_inc = width + 1
    elif direction == DIAGONAL_1B:
        start_line = 1
        n_lines = height - 2
        line_inc = width
        point_inc = width + 1
    elif direction == DIAGONAL_2A:
        start_line = 2
        n_lines = width
        line_inc = 1
        point_inc = width - 1
    else:  # DIAGONAL_2B
        n_lines = height - 2
        line_inc = width
        point_inc = width - 1
    for i in prange(start_line, n_lines, num_threads=nthreads, schedule="dynamic", chunksize=16):
        # the lines of one direction are disjoint
        t = threadid()
        start_pixel = i * line_inc
        if direction == DIAGONAL_2B:
            start_pixel = start_pixel + width - 1
        if direction == DIAGONAL_1A:
            n = min(height, width - i)
        elif direction == DIAGONAL_1B:
            n = min(width, height - i)
        elif direction == DIAGONAL_2A:
            n = min(height, i + 1)
        elif direction == DIAGONAL_2B:
            n = min(width, height - i)
        else:
            n = length
        stuck[i] = _line_slide_parabola(
            pixels, start_pixel, point_inc, n, coeff2, caches + t * scratch_len,
            next_points + t * scratch_len, edges, False, v154
        )
    for i in range(start_line, n_lines):
        if stuck[i]:
            any_stuck = True
    return any_stuck


cdef void _add_corner(float* corners, Py_ssize_t* counts, Py_ssize_t k, float value, bint first,
                      bint v154) noexcept nogil:
    """Add one edge estimate to corner ``k`` (1.54t skips NaN estimates and counts)."""
    if v154:
        if value == value:
            corners[k] += value
            counts[k] += 1
    elif first:
        corners[k] = value
    else:
        corners[k] += value


cdef bint _correct_corners(float* pixels, Py_ssize_t width, Py_ssize_t height, float coeff2,
                           float* cache, Py_ssize_t* next_point, bint v154) noexcept nogil:
    """Lower corner pixels that look like foreground to the estimated background."""
    cdef float corners[4]
    cdef Py_ssize_t counts[4]
    cdef float e[2]
    cdef Py_ssize_t w1 = width - 1
    cdef Py_ssize_t last_row = (height - 1) * width
    cdef Py_ssize_t diag = min(width, height)
    cdef float c2d = TWO * coeff2
    # top and bottom rows, left and right columns, then the four corner diagonals
    cdef Py_ssize_t starts[8]
    cdef Py_ssize_t incs[8]
    cdef Py_ssize_t lengths[8]
    cdef float coefficients[8]
    cdef Py_ssize_t corner0[8]
    cdef Py_ssize_t corner1[8]
    cdef Py_ssize_t idx[4]
    cdef Py_ssize_t n, k
    cdef float divisor, est, v
    starts[:] = [0, last_row, 0, w1, 0, w1, last_row, width * height - 1]
    incs[:] = [1, 1, width, width, 1 + width, w1, 1 - width, -1 - width]
    lengths[:] = [width, width, height, height, diag, diag, diag, diag]
    coefficients[:] = [coeff2, coeff2, coeff2, coeff2, c2d, c2d, c2d, c2d]
    corner0[:] = [0, 2, 0, 1, 0, 1, 2, 3]
    corner1[:] = [1, 3, 2, 3, -1, -1, -1, -1]
    idx[:] = [0, w1, last_row, width * height - 1]
    for k in range(4):
        corners[k] = 0.0
        counts[k] = 0
    e[0] = 0.0
    e[1] = 0.0
    for n in range(8):
        if _line_slide_parabola(pixels, starts[n], incs[n], lengths[n], coefficients[n], cache,
                                next_point, e, True, v154):
            return True
        # 1.53t assigns the rows' estimates and adds the others
        _add_corner(corners, counts, corner0[n], e[0], n < 2, v154)
        if corner1[n] >= 0:
            _add_corner(corners, counts, corner1[n], e[1], n < 2, v154)
    for k in range(4):
        divisor = <float>counts[k] if v154 else <float>3.0
        est = corners[k] / divisor
        v = pixels[idx[k]]
        if v > est or (v154 and v != v):
            pixels[idx[k]] = est
    return False


def sliding_paraboloid(float[:, ::1] plane, float radius, bint invert, bint presmooth,
                       bint corners, bint v154, int nthreads):
    """ImageJ's ``slidingParaboloidFloatBackground`` in place on a float32 plane.

    Returns True (leaving the plane half done) where ImageJ 1.53t never finishes.
    """
    cdef Py_ssize_t height = plane.shape[0], width = plane.shape[1]
    cdef Py_ssize_t size = width * height, n = max(width, height), i
    cdef int nt = max(1, nthreads)
    cdef float* pixels = &plane[0, 0]
    cdef float[:, ::1] caches = np.empty((nt, n), dtype=np.float32)
    cdef Py_ssize_t[:, ::1] next_points = np.empty((nt, n), dtype=np.intp)
    cdef char[::1] stuck = np.zeros(n, dtype=np.int8)
    cdef _Filter3x3Scratch s = _Filter3x3Scratch(width, height, True, v154, nthreads)
    cdef float coeff2 = HALF / radius
    cdef float coeff2diag = ONE / radius
    cdef float shift_by = 0.0
    cdef int directions[9]
    cdef float coefficients[9]
    cdef bint endless = False
    directions[:] = [X_DIRECTION, Y_DIRECTION, X_DIRECTION, DIAGONAL_1A, DIAGONAL_1B,
                     DIAGONAL_2A, DIAGONAL_2B, DIAGONAL_1A, DIAGONAL_1B]
    coefficients[:] = [coeff2, coeff2, coeff2, coeff2diag, coeff2diag, coeff2diag, coeff2diag,
                       coeff2diag, coeff2diag]
    with nogil:
        if invert:
            for i in range(size):
                pixels[i] = -pixels[i]
        if presmooth:
            shift_by = <float>_filter3x3(pixels, width, height, True, v154, s, nthreads)
            _filter3x3(pixels, width, height, False, v154, s, nthreads)
            if v154:  # 1.54t's mean increase is per row or column step: half of 1.53t's
                shift_by = TWO * shift_by
        if corners:
            endless = _correct_corners(pixels, width, height, coeff2, &caches[0, 0],
                                       &next_points[0, 0], v154)
        for i in range(9):
            if endless:
                break
            endless = _filter1d(pixels, width, height, directions[i], coefficients[i], v154,
                                &caches[0, 0], &next_points[0, 0], n, &stuck[0], nthreads)
        if endless:
            pass
        elif invert:
            for i in range(size):
                pixels[i] = -(pixels[i] - shift_by)
        elif presmooth:
            for i in range(size):
                pixels[i] = pixels[i] - shift_by
    return endless


# ------------------------------------------------------------------------------------------
# RGB <-> HSB (java.awt.Color, as used by ColorProcessor.getHSB / setHSB)
# ------------------------------------------------------------------------------------------
def rgb_to_hsb_bytes(const unsigned char[:, :, ::1] rgb):
    """Hue, saturation and brightness bytes (shape (3, H, W)) of an RGB plane, like Java."""
    cdef Py_ssize_t h = rgb.shape[0], w = rgb.shape[1], y, x
    out_arr = np.empty((3, h, w), dtype=np.uint8)
    cdef unsigned char[:, :, ::1] out = out_arr
    cdef Py_ssize_t r, g, b, cmax, cmin
    cdef float bright, sat, hue, den, redc, greenc, bluec
    cdef float c255 = 255.0
    with nogil:
        for y in range(h):
            for x in range(w):
                r = rgb[y, x, 0]
                g = rgb[y, x, 1]
                b = rgb[y, x, 2]
                cmax = max(r, g, b)
                cmin = min(r, g, b)
                bright = <float>cmax / c255
                if cmax != 0:
                    sat = <float>(cmax - cmin) / <float>cmax
                else:
                    sat = 0.0
                if sat == 0:
                    hue = 0.0
                else:
                    den = <float>(cmax - cmin)
                    redc = <float>(cmax - r) / den
                    greenc = <float>(cmax - g) / den
                    bluec = <float>(cmax - b) / den
                    if r == cmax:
                        hue = bluec - greenc
                    elif g == cmax:
                        hue = (TWO + redc) - bluec
                    else:
                        hue = (<float>4.0 + greenc) - redc
                    hue = hue / <float>6.0
                    if hue < 0:
                        hue = hue + ONE
                out[0, y, x] = <unsigned char>(<Py_ssize_t>(<double>hue * 255.0) & 255)
                out[1, y, x] = <unsigned char>(<Py_ssize_t>(<double>sat * 255.0) & 255)
                out[2, y, x] = <unsigned char>(<Py_ssize_t>(<double>bright * 255.0) & 255)
    return out_arr


cdef inline unsigned char _to_byte(float v) noexcept nogil:
    return <unsigned char>(<Py_ssize_t>(v * <float>255.0 + HALF) & 255)


def hsb_bytes_to_rgb(const unsigned char[:, ::1] hb, const unsigned char[:, ::1] sb,
                     const unsigned char[:, ::1] bb):
    """The RGB plane (shape (H, W, 3)) of hue, saturation and brightness bytes, like Java."""
    cdef Py_ssize_t h = hb.shape[0], w = hb.shape[1], y, x, sector
    out_arr = np.empty((h, w, 3), dtype=np.uint8)
    cdef unsigned char[:, :, ::1] out = out_arr
    cdef float hue, sat, bri, hh, f, p, q, t
    cdef unsigned char r, g, b
    with nogil:
        for y in range(h):
            for x in range(w):
                hue = <float>(<double>hb[y, x] / 255.0)
                sat = <float>(<double>sb[y, x] / 255.0)
                bri = <float>(<double>bb[y, x] / 255.0)
                if sat == 0:
                    r = g = b = _to_byte(bri)
                else:
                    hh = (hue - <float>floor(<double>hue)) * <float>6.0
                    f = hh - <float>floor(<double>hh)
                    p = bri * (ONE - sat)
                    q = bri * (ONE - sat * f)
                    t = bri * (ONE - sat * (ONE - f))
                    sector = <Py_ssize_t>hh
                    if sector == 0:
                        r, g, b = _to_byte(bri), _to_byte(t), _to_byte(p)
                    elif sector == 1:
                        r, g, b = _to_byte(q), _to_byte(bri), _to_byte(p)
                    elif sector == 2:
                        r, g, b = _to_byte(p), _to_byte(bri), _to_byte(t)
                    elif sector == 3:
                        r, g, b = _to_byte(p), _to_byte(q), _to_byte(bri)
                    elif sector == 4:
                        r, g, b = _to_byte(t), _to_byte(p), _to_byte(bri)
                    elif sector == 5:
                        r, g, b = _to_byte(bri), _to_byte(p), _to_byte(q)
                    else:
                        r = g = b = 0
                out[y, x, 0] = r
                out[y, x, 1] = g
                out[y, x, 2] = b
    return out_arr
