# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled equal-bin sums of :mod:`bgsub.kernels.bins` (no validation: the wrapper checks).

Each step is NumPy's on an array of the values' own dtype (``real``), in NumPy's order, so
that the counts and sums are those of the NumPy definition bit for bit.
"""

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
