# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.binary` (no validation: the wrapper checks)."""

from libc.math cimport sqrt
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc


def edt_2d(const uint8_t[:, ::1] mask, double[:, ::1] out):
    """Exact Euclidean distance of each nonzero pixel of ``mask`` to the nearest zero pixel
    of the array (0 on zeros) into ``out``; ``mask`` must hold at least one zero.

    Meijster, Roerdink and Hesselink's separable algorithm in integer arithmetic: along the
    columns the distance to the nearest zero, then along each row the lower envelope of the
    parabolas ``(x - i) ** 2 + g(i) ** 2`` (exact integer squared distances), then ``sqrt``
    (correctly rounded: the same doubles as any exact method's ``sqrt`` of them).
    """
    cdef Py_ssize_t m = mask.shape[0], n = mask.shape[1]
    cdef Py_ssize_t y, x, u, q
    cdef int64_t inf = m + n, w, d, num
    cdef int64_t* g
    cdef int64_t* f
    cdef Py_ssize_t* s
    cdef Py_ssize_t* t
    if m == 0 or n == 0:
        return
    g = <int64_t*> malloc(m * n * sizeof(int64_t))
    f = <int64_t*> malloc(n * sizeof(int64_t))
    s = <Py_ssize_t*> malloc(n * sizeof(Py_ssize_t))
    t = <Py_ssize_t*> malloc(n * sizeof(Py_ssize_t))
    if g == NULL or f == NULL or s == NULL or t == NULL:
        free(g)
        free(f)
        free(s)
        free(t)
        raise MemoryError()
    with nogil:
        # along the columns (row by row, contiguous): down, then up
        for x in range(n):
            g[x] = inf if mask[0, x] else 0
        for y in range(1, m):
            for x in range(n):
                g[y * n + x] = g[(y - 1) * n + x] + 1 if mask[y, x] else 0
        for y in range(m - 2, -1, -1):
            for x in range(n):
                if g[(y + 1) * n + x] < g[y * n + x]:
                    g[y * n + x] = g[(y + 1) * n + x] + 1
        # along each row: the lower envelope of the parabolas
        for y in range(m):
            for x in range(n):
                f[x] = g[y * n + x] * g[y * n + x]
            q = 0
            s[0] = 0
            t[0] = 0
            for u in range(1, n):
                while q >= 0:
                    d = t[q] - s[q]
                    w = t[q] - u
                    if d * d + f[s[q]] > w * w + f[u]:
                        q -= 1
                    else:
                        break
                if q < 0:
                    q = 0
                    s[0] = u
                else:
                    # 1 + the last x where s[q] is no farther than u (the numerator is >= 0)
                    num = <int64_t> u * u - <int64_t> s[q] * s[q] + f[u] - f[s[q]]
                    w = 1 + num // (2 * (u - s[q]))
                    if w < n:
                        q += 1
                        s[q] = u
                        t[q] = w
            for u in range(n - 1, -1, -1):
                d = u - s[q]
                out[y, u] = sqrt(<double> (d * d + f[s[q]]))
                if u == t[q]:
                    q -= 1
        free(g)
        free(f)
        free(s)
        free(t)


def clipped_histogram(const double[::1] values, double low, double high,
                      const double[::1] edges, int64_t[::1] counts):
    """Counts of ``min(max(values, low), high)`` in the bins between ``edges`` (``low`` to
    ``high`` in ``counts.size`` equal steps, the last bin closed): ``np.histogram`` of the
    clipped values, bins found as NumPy finds them (scaled, then checked against the
    edges)."""
    cdef Py_ssize_t i, k, n = counts.shape[0]
    cdef double x, span = high - low
    with nogil:
        for k in range(n):
            counts[k] = 0
        for i in range(values.shape[0]):
            x = values[i]
            if x < low:
                x = low
            if x > high:
                x = high
            k = <Py_ssize_t> (((x - low) / span) * n)
            if k >= n:
                k = n - 1
            while k > 0 and x < edges[k]:
                k -= 1
            while k < n - 1 and x >= edges[k + 1]:
                k += 1
            counts[k] += 1
