# cython: language_level=3
"""Scatter dilation of a smooth 2D image by the ball (the opening's dilation, see
:mod:`bgsub.kernels.ball`): each centre is evaluated only at the output pixels where no
neighbouring centre beats it.

No validation: the wrapper checks the arguments and that every pixel is finite.
"""

from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int64_t

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <math.h>
    #include <string.h>
    #if (defined(__x86_64__) || defined(__i386__)) && defined(__linux__) && defined(__GNUC__)
    #define SC_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define SC_CLONES
    #endif

    /* M[dx] = min(M[dx], a + Cj[dx]) for dx in [lo, hi]: branch-free, vectorised. No
       neighbour tests: every sum is a real one, so testing a pixel more changes no minimum. */
    #pragma GCC diagnostic ignored "-Wpsabi"
    typedef double sc_v4d __attribute__((vector_size(32)));
    typedef int64_t sc_v4l __attribute__((vector_size(32)));
    #define sc_ld(p) __extension__ ({ sc_v4d sc_v_; memcpy(&sc_v_, (p), sizeof sc_v_); sc_v_; })

    /* The float32 minima's vectors: each sum rounded to float first (rounding is monotone,
       so the minimum of the rounded sums is the rounded minimum). */
    typedef float sc_v4f __attribute__((vector_size(16)));
    typedef int32_t sc_v4i __attribute__((vector_size(16)));
    #define sc_ldf(p) __extension__ ({ sc_v4f sc_v_; memcpy(&sc_v_, (p), sizeof sc_v_); sc_v_; })
    #define SC_AS_DOUBLE(x) (x)
    #define SC_AS_FLOAT(x) __builtin_convertvector((x), sc_v4f)

    /* The rows dy = dlo..dhi (cost row |dy| at C + |dy| * nc, minima row at M + dy * nx),
       pixels lo..hi (hi - lo >= 3) of each, into minima of element MT (vector MV, lane mask
       MI, load LD, the sums through CVT). A row's last four pixels are done from the minima
       as they were on entry and stored last: lanes the loop also did get the same
       min(M, sum) again (no scalar tail). */
    #define SC_BLOCK(NAME, MT, MV, MI, LD, CVT)                                                 \
    SC_CLONES                                                                                   \
    static void NAME(const double* C, int64_t nc, MT* restrict M, int64_t nx, double a,         \
                     int64_t dlo, int64_t dhi, int64_t lo, int64_t hi)                          \
    {                                                                                           \
        sc_v4d va = {a, a, a, a};                                                               \
        int64_t e = hi - 3;                                                                     \
        for (int64_t dy = dlo; dy <= dhi; dy++) {                                               \
            const double* Cj = C + (dy >= 0 ? dy : -dy) * nc;                                   \
            MT* Mr = M + dy * nx;                                                               \
            MV te = CVT(va + sc_ld(Cj + e)), me = LD(Mr + e);                                   \
            MI le = te < me;                                                                    \
            me = (MV)((le & (MI)te) | (~le & (MI)me));                                          \
            for (int64_t dx = lo; dx < e; dx += 4) {                                            \
                MV t = CVT(va + sc_ld(Cj + dx)), m = LD(Mr + dx);                               \
                MI lt = t < m;                                                                  \
                m = (MV)((lt & (MI)t) | (~lt & (MI)m));                                         \
                memcpy(Mr + dx, &m, sizeof m);                                                  \
            }                                                                                   \
            memcpy(Mr + e, &me, sizeof me);                                                     \
        }                                                                                       \
    }
    SC_BLOCK(sc_block, double, sc_v4d, sc_v4l, sc_ld, SC_AS_DOUBLE)
    SC_BLOCK(sc_block_f, float, sc_v4f, sc_v4i, sc_ldf, SC_AS_FLOAT)
    """
    void sc_block(const double* C, int64_t nc, double* M, int64_t nx, double a, int64_t dlo,
                  int64_t dhi, int64_t lo, int64_t hi) noexcept nogil
    void sc_block_f(const double* C, int64_t nc, float* M, int64_t nx, double a, int64_t dlo,
                    int64_t dhi, int64_t lo, int64_t hi) noexcept nogil


ctypedef fused mreal:
    float
    double


cdef enum:
    BLOCK_ROWS = 2

cdef struct SP:
    const double* A        # the image (times the sign is applied on reading)
    double sign
    int64_t ny, nx
    const double* C        # C[j * nc + o + dx]: cost of offset (dx, j), j = 0..fy + 1 (+inf rows)
    const double* L        # L[j * nc + o + u]: non-decreasing lower envelope of C(u, j) - C(u - 1, j)
    const double* rise     # rise[j], j = 0..fy + 1: non-decreasing lower bound of C(dx, j) - C(dx, j - 1)
    const int64_t* W       # half-width of row j (-1: empty), j = 0..fy + 1
    const double* K        # K[j * nc + o + u] = min over rows j' >= j of L[j' * nc + o + u]
    const double* GT       # GT[i * (fy + 2) + v]: upper envelope (v' <= v, i' <= i) of C(i', v') - C(i', v' - 1)
    int64_t ng
    int64_t nc, o, fy
    double slack
    int64_t m0             # the first image row of the running minima
    int64_t y0, y1         # output rows this call may write
    int64_t c0, c1         # centre rows this call visits
    bint mono              # L[j][u] non-decreasing in j for u >= 1, non-increasing for u <= 0


cdef inline int64_t _first_at_least(const double* Lj, int64_t lo, int64_t hi, int64_t g,
                                    double a) noexcept nogil:
    """The smallest u in [lo, hi] with Lj[u] >= a (Lj non-decreasing, Lj[hi] >= a assumed),
    searched from the guess g."""
    if g < lo:
        g = lo
    elif g > hi:
        g = hi
    if Lj[g] >= a:
        while g > lo and Lj[g - 1] >= a:
            g -= 1
    else:
        while g < hi and Lj[g] < a:
            g += 1
    return g


cdef inline int64_t _first_above(const double* Gi, int64_t lo, int64_t hi, int64_t g,
                                 double lim) noexcept nogil:
    """The smallest v in [lo, hi] with Gi[v] > lim (Gi non-decreasing, Gi[hi] > lim
    assumed), searched from the guess g."""
    if g < lo:
        g = lo
    elif g > hi:
        g = hi
    if Gi[g] > lim:
        while g > lo and Gi[g - 1] > lim:
            g -= 1
    else:
        while g < hi and Gi[g] <= lim:
            g += 1
    return g


cdef int64_t _tighten(const SP* p, double ar, double al, double lim, int64_t dmax,
                      int64_t* kr, int64_t* kv) noexcept nogil:
    """The first row ``D >= 0`` (at most ``dmax``) where the neighbour on the near side may
    lose: rows ``|dy| < D`` on the far side of a one-sided centre are beaten by it everywhere
    the x-neighbours leave (``lim`` = minus its threshold)."""
    cdef int64_t d = 0, v, xq, xb, fy = p.fy, nc = p.nc, o = p.o, P = p.ng - 2
    cdef double thr = ar if ar > al else al
    while True:
        # the x-neighbours leave rows >= d no pixel beyond |dx| = xb: K[d] non-decreasing,
        # its first index reaching both thresholds is the larger of the two firsts
        xq = _first_at_least(p.K + d * nc + o, -P, P + 1, kr[0], thr)
        kr[0] = xq
        xb = xq - 1
        if xb < 0:
            xb = 0
        # rows v - 1 with G(v, xb) <= lim are beaten (G non-decreasing in v)
        v = _first_above(p.GT + xb * (fy + 2), 0, fy + 1, kv[0], lim)
        kv[0] = v
        if v - 1 <= d:
            return d
        d = v - 1
        if d >= dmax:
            return dmax


cdef inline bint _beyond(const SP* p, int64_t m, double thr, int64_t D, double ar,
                         double al) noexcept nogil:
    """Whether the rows ``|dy| > m`` on one side of a centre (the side of the y-neighbour with
    threshold ``thr``) leave it no pixel: those from ``h`` on are beaten by that neighbour
    (``rise[h] >= thr``), and the rows ``m + 1 .. h - 1`` have empty x-intervals, shown at
    their nearest and farthest rows (``L[j][u]`` is monotone in ``j``, ``p.mono``) by the
    x-neighbours' envelopes reaching their thresholds on either side of the column edge ``D``
    or ``D + 1``."""
    cdef const double* rise = p.rise
    cdef const double* L1
    cdef const double* L2
    cdef int64_t h
    if rise[m + 1] >= thr:
        return True
    if not p.mono:
        return False
    h = m + 2
    while rise[h] < thr:  # rise[fy + 1] = +inf
        h += 1
    L1 = p.L + (m + 1) * p.nc + p.o
    L2 = p.L + (h - 1) * p.nc + p.o
    return ((L1[D] >= ar and L2[D] >= ar and L1[1 - D] >= al and L2[1 - D] >= al)
            or (L1[D + 1] >= ar and L2[D + 1] >= ar and L1[-D] >= al and L2[-D] >= al))


cdef inline bint _single(const SP* p, int64_t y, int64_t J, int64_t D, int64_t* xg, double ar,
                         double al, double ad, double au) noexcept nogil:
    """Whether every pixel of the centre ``(y, x)`` but ``(y + J, x + D)`` is beaten by one of
    its neighbours, shown by a few comparisons at the guessed indices (the tables are
    monotone) instead of :func:`_scatter_rows`' searches: the rows beyond ``J`` by
    :func:`_beyond`, those on the other side of the centre likewise (from row 1 on), the rows
    between the centre and ``J`` by the y-neighbour on the centre's other side as in
    ``_tighten``'s first pass (its ``xb`` is bounded by one search in ``K[0]`` from the guess
    ``xg``, updated, and ``GT``, non-decreasing in ``xb``, there bounds the one it reads), and
    row ``J`` by its x-neighbours' envelopes at ``D`` and ``D + 1``. Only that pixel is then
    tested: testing it adds at most a real sum of the centre, so the minima are the same."""
    cdef const double* Lj
    cdef int64_t m, w, xq, fy = p.fy, P = p.ng - 2
    cdef double near, far, thr
    if y + J < p.y0 or y + J >= p.y1:
        return False
    m = J if J >= 0 else -J
    w = p.W[m]
    if w < 0 or D < -w or D > w:
        return False
    Lj = p.L + m * p.nc + p.o
    if not (Lj[D + 1] >= ar and Lj[1 - D] >= al):
        return False
    if J >= 0:
        near = au
        far = ad
    else:
        near = ad
        far = au
    if not (_beyond(p, 0, near, D, ar, al) and _beyond(p, m, far, D, ar, al)):
        return False
    if m > 0:
        # K[0] non-decreasing: the x-neighbours leave rows >= 0 no pixel beyond |dx| = xq,
        # xq + 1 the first index where K[0] reaches both thresholds (<= P); rows 0..m-1 are
        # beaten by the near y-neighbour within it. GT is non-decreasing in xq: any xq' >= xq
        # (K[0][xq' + 1] reaching both) with GT[xq'][m] <= -near shows it, first tried at the
        # guess, then at xq itself (searched from the guess, which follows it)
        xq = xg[0]
        thr = ar if ar > al else al
        if p.K[p.o + xq + 1] >= thr and p.GT[xq * (fy + 2) + m] <= -near:
            return True
        xq = _first_at_least(p.K + p.o, -P, P + 1, xq + 1, thr) - 1
        if xq < 0:
            xq = 0
        xg[0] = xq
        if not p.GT[xq * (fy + 2) + m] <= -near:
            return False
    return True


cdef inline void _test_pixel(const double* Cj, mreal* Mrow, int64_t dx, double a) noexcept nogil:
    """Pixel ``dx`` of a cost row into the running minima: the scalar twin of ``sc_scan``."""
    cdef double t = a + Cj[dx]
    if mreal is float:
        Mrow[dx] = <float>t if <float>t < Mrow[dx] else Mrow[dx]
    else:
        Mrow[dx] = t if t < Mrow[dx] else Mrow[dx]


cdef void _scatter_rows(const SP* p, mreal* M, int64_t* stats) noexcept nogil:
    """The centre rows ``p.c0..p.c1`` into the running minima ``M`` (+inf at the start): float32 minima hold
    each sum rounded to float32 (rounding is monotone: the minimum of the rounded sums is the
    rounded minimum, which is all a float32 output keeps)."""
    cdef int64_t ny = p.ny, nx = p.nx, nc = p.nc, o = p.o, fy = p.fy
    cdef const double* A = p.A
    cdef const double* C = p.C
    cdef const double* L = p.L
    cdef const double* rise = p.rise
    cdef const int64_t* W = p.W
    cdef double sign = p.sign, s = p.slack, a, ar, al, ad, au
    cdef mreal* Mrow
    cdef const double* Cj
    cdef int64_t k2, xr2, xl2, kv = 1, kr = 0, hd = 1, hu = 1, y, x, dy, dy_lo, dy_hi, j, w, xr, xl, gr, gl, dxlo, dxhi, dx, k
    cdef int64_t nwin = 0, nrows = 0, ntest = 0, nfast = 0, fJ = 0, fX = -1, xg = 0, npix, pJ = 0, pX = 0
    for y in range(p.c0, p.c1):
        gr = 0
        gl = 0
        fX = -1
        for x in range(nx):
            # the boundaries the x-neighbours leave move with the centre (a centre's pixels
            # are at the same place as its left neighbour's): the searches' guesses too
            gr -= 1
            gl += 1
            a = sign * A[y * nx + x]
            ar = sign * A[y * nx + x + 1] - a + s if x + 1 < nx else INFINITY
            al = sign * A[y * nx + x - 1] - a + s if x > 0 else INFINITY
            ad = sign * A[(y + 1) * nx + x] - a + s if y + 1 < ny else INFINITY
            au = sign * A[(y - 1) * nx + x] - a + s if y > 0 else INFINITY
            # inside an eroded bowl a centre's one pixel (its contact, a tie) is its left
            # neighbour's: checked without searching (see _single)
            if fX >= 0 and _single(p, y, fJ, fX - x, &xg, ar, al, ad, au):
                dy = fJ
                dx = fX - x
                j = dy if dy >= 0 else -dy
                Cj = C + j * nc + o
                Mrow = M + (y + dy - p.m0) * nx + x
                _test_pixel(Cj, Mrow, dx, a)
                nfast += 1
                continue
            npix = 0
            if fX >= 0:
                # the x-intervals are likely near the left neighbour's one pixel
                gr = fX - x + 1
                gl = x - fX + 1
            # rows dy >= 1 where the lower neighbour wins everywhere, likewise above
            hd = _first_at_least(rise, 1, fy + 1, hd, ad)
            dy_hi = hd - 1
            hu = _first_at_least(rise, 1, fy + 1, hu, au)
            dy_lo = 1 - hu
            # one side only: rows near the centre beaten by the neighbour on the other side
            if dy_lo == 0 and dy_hi > 0:
                dy_lo = _tighten(p, ar, al, -au, dy_hi, &kr, &kv)
            elif dy_hi == 0 and dy_lo < 0:
                dy_hi = -_tighten(p, ar, al, -ad, -dy_lo, &kr, &kv)
            if dy_hi > p.y1 - 1 - y:
                dy_hi = p.y1 - 1 - y
            if dy_lo < p.y0 - y:
                dy_lo = p.y0 - y
            if dy_hi - dy_lo >= BLOCK_ROWS and p.mono:
                # many rows (a crease): one window for all of them. L[j][u] is monotone in
                # |j| (checked), so each row's bounds lie within those of its nearest and
                # farthest rows
                k = 0 if dy_lo <= 0 <= dy_hi else (dy_lo if dy_lo > 0 else -dy_hi)
                k2 = dy_hi if dy_hi > -dy_lo else -dy_lo
                w = W[k]
                xr = _first_at_least(L + k * nc + o, 1 - w, w + 1, gr, ar)
                xl = _first_at_least(L + k * nc + o, 1 - w, w + 1, gl, al)
                w = W[k2]
                xr2 = _first_at_least(L + k2 * nc + o, 1 - w, w + 1, xr, ar)
                xl2 = _first_at_least(L + k2 * nc + o, 1 - w, w + 1, xl, al)
                gr = xr
                gl = xl
                dxlo = 1 - (xl if xl > xl2 else xl2)
                dxhi = (xr if xr > xr2 else xr2) - 1
                if dxlo < -x:
                    dxlo = -x
                if dxhi > nx - 1 - x:
                    dxhi = nx - 1 - x
                nrows += dy_hi + 1 - dy_lo
                nwin += 1
                Mrow = M + (y - p.m0) * nx + x
                if dxhi - dxlo >= 3:
                    ntest += (dy_hi + 1 - dy_lo) * (dxhi + 1 - dxlo)
                    if mreal is float:
                        sc_block_f(C + o, nc, Mrow, nx, a, dy_lo, dy_hi, dxlo, dxhi)
                    else:
                        sc_block(C + o, nc, Mrow, nx, a, dy_lo, dy_hi, dxlo, dxhi)
                elif dxhi >= dxlo:
                    # a narrow window (a crease across the rows): each pixel alone
                    ntest += (dy_hi + 1 - dy_lo) * (dxhi + 1 - dxlo)
                    for dy in range(dy_lo, dy_hi + 1):
                        j = dy if dy >= 0 else -dy
                        for dx in range(dxlo, dxhi + 1):
                            _test_pixel(C + j * nc + o, Mrow + dy * nx, dx, a)
                fX = -1
                continue
            for dy in range(dy_lo, dy_hi + 1):
                j = dy if dy >= 0 else -dy
                w = W[j]
                if w < 0:
                    continue
                nrows += 1
                # right neighbour wins at dx >= xr, left one at dx <= -xl
                xr = _first_at_least(L + j * nc + o, 1 - w, w + 1, gr, ar)
                xl = _first_at_least(L + j * nc + o, 1 - w, w + 1, gl, al)
                gr = xr
                gl = xl
                dxlo = 1 - xl
                dxhi = xr - 1
                if dxlo < -x:
                    dxlo = -x
                if dxhi > nx - 1 - x:
                    dxhi = nx - 1 - x
                Cj = C + j * nc + o
                Mrow = M + (y + dy - p.m0) * nx + x
                if dxhi - dxlo >= 3:
                    if mreal is float:
                        sc_block_f(C + o, nc, M + (y - p.m0) * nx + x, nx, a, dy, dy, dxlo, dxhi)
                    else:
                        sc_block(C + o, nc, M + (y - p.m0) * nx + x, nx, a, dy, dy, dxlo, dxhi)
                else:
                    for dx in range(dxlo, dxhi + 1):
                        _test_pixel(Cj, Mrow, dx, a)
                ntest += dxhi + 1 - dxlo
                if dxhi >= dxlo:
                    npix += dxhi + 1 - dxlo
                    pJ = dy
                    pX = x + dxlo
            # the next centre's guess: this one's pixel, where it had only one
            if npix == 1:
                fJ = pJ
                fX = pX
            else:
                fX = -1
    stats[0] += nrows
    stats[1] += ntest
    stats[2] += nfast
    stats[3] += nwin


def tables(ctab, c0):
    """The kernel's tables from the cost rows ``ctab`` (rows ``dy = 0..fy``, ``dx = 0`` at
    column ``c0``, +inf outside the ball): ``C``, ``L``, ``rise``, ``W`` and the origin column."""
    ctab = np.asarray(ctab, dtype=np.float64)
    fy = ctab.shape[0] - 1
    right = ctab[:, c0:]
    W = np.array([int(np.sum(np.isfinite(r))) - 1 for r in right] + [-1], dtype=np.int64)
    P = max(int(W.max()), 0)
    o = P + 2
    nc = 2 * P + 5
    C = np.full((fy + 2, nc), np.inf)
    for j in range(fy + 1):
        w = int(W[j])
        if w >= 0:
            C[j, o - w: o + w + 1] = ctab[j, c0 - w: c0 + w + 1]
    L = np.full((fy + 2, nc), np.inf)
    for j in range(fy + 1):
        w = int(W[j])
        if w < 0:
            continue
        f = np.full(nc, np.inf)
        u = np.arange(1 - w, w + 1)
        f[o + u] = C[j, o + u] - C[j, o + u - 1]
        f[: o - w + 1] = -np.inf
        L[j] = np.minimum.accumulate(f[::-1])[::-1]
    rise = np.full(fy + 2, np.inf)
    rise[0] = -np.inf
    for j in range(1, fy + 1):
        w = int(W[j])
        if w < 0:
            break
        rise[j] = float(np.min(C[j, o - w: o + w + 1] - C[j - 1, o - w: o + w + 1]))
    rise[1:] = np.minimum.accumulate(rise[1:][::-1])[::-1]
    K = np.minimum.accumulate(L[::-1], axis=0)[::-1].copy()
    ng = P + 2
    G = np.full((fy + 2, ng), np.inf)
    G[0] = -np.inf
    with np.errstate(invalid="ignore"):
        for v in range(1, fy + 2):
            g = C[v, o: o + ng] - C[v - 1, o: o + ng]
            G[v] = np.where(np.isfinite(C[v - 1, o: o + ng]), g, np.inf)
            G[v] = np.where(np.isnan(G[v]), np.inf, G[v])
    G = np.maximum.accumulate(np.maximum.accumulate(G, axis=0), axis=1)
    # L[j][u] non-decreasing in j for u >= 1, non-increasing for u <= 0 (the ball's rows
    # steepen away from its centre): lets one row's bounds stand for a range of rows
    pos = np.arange(nc) - o >= 1
    with np.errstate(invalid="ignore"):
        grows = np.all(L[1:fy + 1][:, pos] >= L[:fy][:, pos])
        shrinks = np.all(L[1:fy + 1][:, ~pos] <= L[:fy][:, ~pos])
    mono = bool(grows and shrinks)
    return C, L, rise, W, o, np.ascontiguousarray(K), np.ascontiguousarray(G.T), mono


def scratch_shape(int64_t ny, int64_t nx, int64_t nthreads, tabs):
    """The shape of :func:`scatter_dilate`'s scratch for an ``ny x nx`` image (float32 for a
    float32 output, else float64)."""
    fy = tabs[0].shape[0] - 2
    return (nthreads, min(ny, (ny + nthreads - 1) // nthreads + 2 * fy), nx)


ctypedef fused real_out:
    float
    double


def scatter_dilate(const double[:, ::1] image, real_out[:, ::1] out, mreal[:, :, ::1] minima,
                   double sign, tabs, double slack, int64_t nthreads):
    """``out = sign * min over centres c of (sign * image[c] + C(p - c))`` (the minimum rounded
    to ``out``'s type first, as the row-based kernel does), each centre evaluated only where no
    neighbour wins. ``minima``: scratch of :func:`scratch_shape` (any contents; float32 only
    for a float32 output, where it halves the memory traffic); the centres
    are split into ``nthreads`` bands of rows, each band's minima (its rows and ``fy`` more on
    each side) in its own part. Returns the development counters (rows visited, pixels
    tested, centres that took the one-pixel path, centres that took one window for their
    rows)."""
    cdef const double[:, ::1] Cv = tabs[0]
    cdef const double[:, ::1] Lv = tabs[1]
    cdef const double[::1] rv = tabs[2]
    cdef const int64_t[::1] Wv = tabs[3]
    cdef const double[:, ::1] Kv = tabs[5]
    cdef const double[:, ::1] Gv = tabs[6]
    cdef SP p
    cdef SP q
    cdef int64_t[:, ::1] stats = np.zeros((nthreads, 4), dtype=np.int64)
    cdef int64_t t, y, x, u, u0, u1, lo, hi, nt = nthreads, ny = image.shape[0], nx = image.shape[1]
    cdef double m
    cdef mreal* row
    cdef mreal* row2
    cdef mreal* Mp
    cdef real_out r
    p.A = &image[0, 0]
    p.sign = sign
    p.ny = ny
    p.nx = nx
    p.C = &Cv[0, 0]
    p.L = &Lv[0, 0]
    p.rise = &rv[0]
    p.W = &Wv[0]
    p.K = &Kv[0, 0]
    p.GT = &Gv[0, 0]
    p.ng = Gv.shape[0]
    p.nc = Cv.shape[1]
    p.o = tabs[4]
    p.fy = Cv.shape[0] - 2
    p.slack = slack
    p.mono = bool(tabs[7])
    p.y0 = 0
    p.y1 = ny
    p.m0 = 0
    if ny == 0 or nx == 0:
        return np.asarray(stats).sum(axis=0)
    if mreal is float:
        assert real_out is float, "float32 minima need a float32 output"
    assert minima.shape[0] >= nt and minima.shape[2] == nx
    assert minima.shape[1] >= min(ny, (ny + nt - 1) // nt + 2 * p.fy)
    for t in prange(nt, nogil=True, num_threads=nt, schedule="static", chunksize=1):
        q = p
        q.c0 = ny * t // nt
        q.c1 = ny * (t + 1) // nt
        lo = q.c0 - q.fy if q.c0 > q.fy else 0
        hi = q.c1 + q.fy if q.c1 + q.fy < ny else ny
        Mp = &minima[t, 0, 0]
        q.m0 = lo
        for y in range((hi - lo) * nx):
            Mp[y] = INFINITY
        _scatter_rows(&q, Mp, &stats[t, 0])
    # the bands holding row y's minima are consecutive: the first one's row, min-ed with the
    # others' (no -0.0 among the sums, so the minimum does not depend on the order)
    for y in prange(ny, nogil=True, num_threads=nt, schedule="static"):
        u0 = 0
        while ny * (u0 + 1) // nt + p.fy <= y:
            u0 = u0 + 1
        lo = ny * u0 // nt - p.fy
        if lo < 0:
            lo = 0
        row = &minima[u0, y - lo, 0]
        u = u0 + 1
        if u < nt and y >= ny * u // nt - p.fy:
            lo = ny * u // nt - p.fy
            if lo < 0:
                lo = 0
            row2 = &minima[u, y - lo, 0]
            for x in range(nx):
                m = row[x] if row[x] < row2[x] else row2[x]
                u1 = u + 1
                while u1 < nt and y >= ny * u1 // nt - p.fy:
                    lo = ny * u1 // nt - p.fy
                    if lo < 0:
                        lo = 0
                    m = minima[u1, y - lo, x] if minima[u1, y - lo, x] < m else m
                    u1 = u1 + 1
                r = <real_out>m
                if sign < 0:
                    r = <real_out>(0.0 - <double>r)
                out[y, x] = r
        else:
            for x in range(nx):
                r = <real_out>row[x]
                if sign < 0:
                    r = <real_out>(0.0 - <double>r)
                out[y, x] = r
    return np.asarray(stats).sum(axis=0)
