# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled equal-bin sums of :mod:`bgsub.kernels.bins` (no validation: the wrapper checks).

Each step is NumPy's on an array of the values' own dtype (``real``), in NumPy's order, so
that the counts and sums are those of the NumPy definition bit for bit.
"""

from libc.string cimport memcpy

from bgsub.kernels._interpolation cimport real


def binned_sums(const real[::1] values, real low, real high, real scale, Py_ssize_t last,
                double[::1] counts, double[::1] sums):
    """Add each value in ``[low, high]`` to bin ``min(int((value - low) * scale), last)``:
    one to ``counts``, the value (as a double) to ``sums``, in the values' order."""
    cdef Py_ssize_t i, b, n = values.shape[0]
    cdef real value, position
    with nogil:
        for i in range(n):
            value = values[i]
            if value >= low and value <= high:
                position = value - low
                position = position * scale
                if not position >= 0:  # (NaN: an infinite scale times zero)
                    b = 0
                elif position >= last:  # (before the cast: an infinity has no integer)
                    b = last
                else:
                    b = <Py_ssize_t>position
                counts[b] += 1.0
                sums[b] += <double>value


def equal_bins(const real[::1] values, real first, real last, double width,
               double bins, const real[::1] edges, long long[::1] counts):
    """NumPy's ``histogram`` on equal bins (``edges``: its ``bins + 1`` edges, in ``real``;
    ``width``: ``last - first`` in double): each value in ``[first, last]`` to bin
    ``int((value - first) / width * bins)``, moved by one where that misses its edges
    by rounding, the last bin closed -- NumPy's steps, in its order."""
    cdef Py_ssize_t i, b, n = values.shape[0], top = counts.shape[0] - 1
    cdef real value, offset
    with nogil:
        for i in range(n):
            value = values[i]
            if value >= first and value <= last:
                offset = value - first
                b = <Py_ssize_t>((<double>offset / width) * bins)
                if b > top:
                    b = top
                if value < edges[b] and b > 0:
                    b -= 1
                if value >= edges[b + 1] and b != top:
                    b += 1
                counts[b] += 1


def below(const real[::1] values, real centre, real[::1] out):
    """``centre - value`` for each value under ``centre``, in order, into ``out``; how many."""
    cdef Py_ssize_t i, k = 0, n = values.shape[0]
    cdef real value, difference
    with nogil:
        for i in range(n):
            value = values[i]
            if value < centre:
                difference = centre - value
                out[k] = difference
                k += 1
    return k


cdef inline Py_ssize_t _key(real value, int shift) noexcept nogil:
    """16 bits of ``value``'s order key (its bits as an unsigned integer, negative values'
    bits inverted, positive values' sign bit set: unsigned order is the values' order),
    from bit ``shift`` up."""
    cdef unsigned int bits32
    cdef unsigned long long bits64
    if real is float:
        memcpy(&bits32, &value, 4)
        bits32 = ~bits32 if bits32 >> 31 else bits32 | 0x80000000u
        return (bits32 >> shift) & 0xFFFF
    else:
        memcpy(&bits64, &value, 8)
        bits64 = ~bits64 if bits64 >> 63 else bits64 | 0x8000000000000000ull
        return (bits64 >> shift) & 0xFFFF


def key_histogram(const real[::1] values, int shift, long long[::1] counts):
    """How many values have each of the 65536 values of their order key's 16 bits from bit
    ``shift`` (:func:`_key`); how many are NaN (counted nowhere)."""
    cdef Py_ssize_t i, n = values.shape[0]
    cdef long long nans = 0
    cdef real value
    with nogil:
        for i in range(n):
            value = values[i]
            if value != value:
                nans += 1
            else:
                counts[_key(value, shift)] += 1
    return nans


def gather_keys(const real[::1] values, int shift, const Py_ssize_t[::1] slot,
                Py_ssize_t[::1] filled, real[::1] out):
    """Each value whose key bits ``b`` (:func:`_key`) have ``slot[b] >= 0`` to ``out`` at
    ``filled[slot[b]]`` (then one further on), in order; NaN nowhere."""
    cdef Py_ssize_t i, s, n = values.shape[0]
    cdef real value
    with nogil:
        for i in range(n):
            value = values[i]
            if value == value:
                s = slot[_key(value, shift)]
                if s >= 0:
                    out[filled[s]] = value
                    filled[s] += 1
