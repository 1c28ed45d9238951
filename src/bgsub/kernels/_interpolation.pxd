# cython: language_level=3
"""Linear interpolation between block centres, as NumPy computes it, shared by the kernels of
:mod:`bgsub.kernels.resample` (``_resample.pyx``) and :mod:`bgsub.kernels.blocks`
(``_blocks.pyx``)."""

ctypedef fused real:
    float
    double


cdef inline real step(real low, real high, double weight) noexcept nogil:
    """``low + (high - low) * weight`` as NumPy computes it for arrays of ``real``: the
    difference in ``real``, the product in float64 rounded back to ``real``, the sum in
    ``real``."""
    cdef real diff = high - low
    cdef real part = <real>(<double>diff * weight)
    return low + part


cdef inline void upsampled_row(const real[:, ::1] cells, Py_ssize_t y,
                               const Py_ssize_t[::1] low0, const double[::1] w0,
                               const Py_ssize_t[::1] low1, const double[::1] w1,
                               real* cell_row, real* out, Py_ssize_t n1) noexcept nogil:
    """``out[x]``, ``x < n1``: row ``y`` of ``cells`` interpolated along axis 0 (cell
    ``low0[y]`` and the next, weight ``w0[y]``, into ``cell_row``), then along axis 1
    (``low1[x]``, ``w1[x]``); a last cell's step is ``last - last``."""
    cdef Py_ssize_t m0 = cells.shape[0], m1 = cells.shape[1], j, x, a, b
    a = low0[y]
    b = a + 1 if a + 1 < m0 else a
    for j in range(m1):
        cell_row[j] = step(cells[a, j], cells[b, j], w0[y])
    for x in range(n1):
        a = low1[x]
        b = a + 1 if a + 1 < m1 else a
        out[x] = step(cell_row[a], cell_row[b], w1[x])
