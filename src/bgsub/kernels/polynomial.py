"""A polynomial over a plane's coordinates, term by term as NumPy would add its broadcast
terms (each term's products in its own order, the terms summed in theirs from zero), in one
compiled pass a row at a time: the same values as NumPy's loop over strips of rows, 3x faster
on one thread and 6x on two (2.4 ms instead of 15 for degree 6 on 1024x1024)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bgsub.kernels._polynomial import polynomial_plane
from bgsub.kernels.threads import threads_for_work

__all__ = ["plane_of_terms"]

#: Output cells times terms per thread below which one thread evaluates the plane.
_TERM_CELLS_PER_THREAD = 1 << 21


def plane_of_terms(terms: Sequence[tuple[np.ndarray | float, int, bool]], y_size: int,
                   x: np.ndarray) -> np.ndarray:
    """The sum, from zero and in order, of ``terms`` over a plane of ``y_size`` rows and the
    columns of ``x``, each term ``(value, times, column)`` as NumPy broadcasts it:

    * ``column``: ``value`` is a column (``y_size`` values); with ``times`` > 0 the term is
      ``value[:, None] * x``, multiplied by ``x`` ``times - 1`` more times, else the column;
    * otherwise ``value`` is a row (``x``'s length) or a scalar, added as it is.

    The same values, bit for bit, as adding the broadcast terms to ``np.zeros`` in NumPy.

    Examples
    --------
    >>> y, x = np.linspace(-1, 1, 3), np.linspace(-1, 1, 4)
    >>> plane = plane_of_terms([(2.0, 0, False), (3.0 * y, 2, True)], y.size, x)
    >>> bool((plane == 2.0 + 3.0 * y[:, None] * x * x).all())
    True
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"plane_of_terms needs x as one row of coordinates, not {x.shape}")
    count = len(terms)
    columns = np.zeros((count, y_size))
    rows = np.zeros((count, x.size))
    times = np.empty(count, np.intc)
    for t, (value, power, column) in enumerate(terms):
        if column:
            columns[t] = np.broadcast_to(np.asarray(value, np.float64), (y_size,))
            times[t] = power
        else:
            rows[t] = np.broadcast_to(np.asarray(value, np.float64), (x.size,))
            times[t] = -1
    out = np.empty((y_size, x.size))
    threads = min(threads_for_work(out.size * max(1, count), _TERM_CELLS_PER_THREAD),
                  max(1, y_size))
    polynomial_plane(columns, rows, x, times, out, threads)
    return out
