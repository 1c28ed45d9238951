# cython: language_level=3
"""Compiled loops of :mod:`bgsub.kernels.binary` (no validation: the wrapper checks)."""

from libc.math cimport sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc


cdef void _column_distances(const uint8_t[:, ::1] mask, int32_t[:, ::1] g) noexcept nogil:
    """Each pixel's distance along its column to the nearest zero of ``mask`` (``m + n``
    where the column holds none): down, then up, row by row (contiguous)."""
    cdef Py_ssize_t m = mask.shape[0], n = mask.shape[1], y, x
    cdef int32_t inf = <int32_t> (m + n)
    for x in range(n):
        g[0, x] = inf if mask[0, x] else 0
    for y in range(1, m):
        for x in range(n):
            g[y, x] = g[y - 1, x] + 1 if mask[y, x] else 0
    for y in range(m - 2, -1, -1):
        for x in range(n):
            if g[y + 1, x] < g[y, x]:
                g[y, x] = g[y + 1, x] + 1


cdef void _row_squared(const int32_t[::1] g, int64_t* f, int64_t* s, int64_t* t,
                       int64_t* out) noexcept nogil:
    """One row's exact squared distances into ``out``: the lower envelope of the parabolas
    ``(x - i) ** 2 + g(i) ** 2`` (``f``, ``s``, ``t``: scratch of the row's length)."""
    cdef Py_ssize_t n = g.shape[0], u, q = 0
    cdef int64_t w, d, num
    for u in range(n):
        f[u] = <int64_t> g[u] * g[u]
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
        out[u] = d * d + f[s[q]]
        if u == t[q]:
            q -= 1


cdef int64_t* _row_scratch(Py_ssize_t n) noexcept nogil:
    """Four rows of scratch (``f``, ``s``, ``t`` and the squared distances), or NULL."""
    return <int64_t*> malloc(4 * n * sizeof(int64_t))


def edt_2d(const uint8_t[:, ::1] mask, int32_t[:, ::1] g, double[:, ::1] out):
    """Exact Euclidean distance of each nonzero pixel of ``mask`` to the nearest zero pixel
    of the array (0 on zeros) into ``out``; ``mask`` must hold at least one zero; ``g``:
    scratch of the mask's shape.

    Meijster, Roerdink and Hesselink's separable algorithm in integer arithmetic: along the
    columns the distance to the nearest zero, then along each row the lower envelope of the
    parabolas ``(x - i) ** 2 + g(i) ** 2`` (exact integer squared distances), then ``sqrt``
    (correctly rounded: the same doubles as any exact method's ``sqrt`` of them).
    """
    cdef Py_ssize_t m = mask.shape[0], n = mask.shape[1], y, u
    cdef int64_t* scratch
    if m == 0 or n == 0:
        return
    scratch = _row_scratch(n)
    if scratch == NULL:
        raise MemoryError()
    with nogil:
        _column_distances(mask, g)
        for y in range(m):
            _row_squared(g[y], scratch, scratch + n, scratch + 2 * n, scratch + 3 * n)
            for u in range(n):
                out[y, u] = sqrt(<double> scratch[3 * n + u])
        free(scratch)


def edt_2d_label_max(const uint8_t[:, ::1] mask, const int32_t[:, ::1] labels,
                     int32_t[:, ::1] g, int64_t[::1] best):
    """The largest squared distance of :func:`edt_2d` over each label's pixels, into
    ``best`` (indexed by label, zeros on entry; labels within it), without the distances as
    an image; ``g``: scratch of the mask's shape."""
    cdef Py_ssize_t m = mask.shape[0], n = mask.shape[1], y, u
    cdef int64_t* scratch
    cdef int64_t* row
    cdef int32_t k
    if m == 0 or n == 0:
        return
    scratch = _row_scratch(n)
    if scratch == NULL:
        raise MemoryError()
    row = scratch + 3 * n
    with nogil:
        _column_distances(mask, g)
        for y in range(m):
            _row_squared(g[y], scratch, scratch + n, scratch + 2 * n, row)
            for u in range(n):
                k = labels[y, u]
                if row[u] > best[k]:
                    best[k] = row[u]
        free(scratch)


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
