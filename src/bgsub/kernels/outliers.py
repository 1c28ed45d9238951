"""Cold pixels of a plane (dead or stuck-low camera pixels), compiled: `robust`'s estimate
sets them aside before it rests its lower envelope on the data; and the gradient magnitude
by which the noise measurement tells edges from flat pixels."""

from __future__ import annotations

import numpy as np

from bgsub.kernels._outliers import cold_counts_2d, cold_pixels_2d, gradient_magnitude_2d
from bgsub.kernels.threads import threads_for_work

__all__ = ["cold_pixels", "gradient_magnitude"]

#: A thread per this many pixels.
_PIXELS_PER_THREAD = 1 << 21


def cold_pixels(plane: np.ndarray, gain: float, offset: float, floor: float, sds: float,
                spread: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of ``plane`` that lie below the second lowest of their 8 neighbours (5 on
    an edge) by more than ``sds`` noise standard deviations, the noise at a level ``v``
    being ``max(sqrt(max(gain * v + offset, 0)), floor)``
    (:class:`bgsub.methods._noise.NoiseModel`'s) taken at that neighbour's level, and by
    more than ``spread`` times what the second highest neighbour lies above that one (the
    neighbours' spread, one hot neighbour left out as one cold one is).

    A dead pixel in the noise lies far below neighbours that lie close together; a pixel
    on the flank of an object, however steep, in a dip of smoothed, correlated noise (where
    a noise model read from the finest scale is too low) or in the shot noise of a bright
    object (where a noise model of one level for the whole image is too low) has
    neighbours that spread about as far as it lies below them. The second lowest
    neighbour, not the lowest, so that two cold pixels side by side are both found; a line
    of pixels is never cold (each has two neighbours on it), but at its ends. A pixel of
    fewer than 5 neighbours (in a corner, or on a plane a pixel wide), which say little of
    their spread, a NaN pixel, or one beside a NaN, is never cold.

    Parameters
    ----------
    plane : ndarray of float32 or float64, 2D
    gain, offset, floor : float
        The noise model.
    sds : float
        How many of its standard deviations below makes a pixel cold ...
    spread : float
        ... and how many times the neighbours' spread (second highest less second lowest).

    Returns
    -------
    rows, cols : ndarray of intp
        Where the cold pixels are, row after row.
    values : ndarray of float64
        The second lowest neighbour of each.

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.full((5, 6), 100.0)
    >>> plane[2, 3] = 0.0
    >>> cold_pixels(plane, gain=0.0, offset=1.0, floor=1.0, sds=6.0, spread=1.0)
    (array([2]), array([3]), array([100.]))
    """
    image = np.ascontiguousarray(plane)
    threads = min(threads_for_work(image.size, _PIXELS_PER_THREAD), max(1, image.shape[0]))
    counts = np.zeros(image.shape[0], dtype=np.intp)
    args = (float(gain), float(offset), float(floor), float(sds), float(spread))
    cold_counts_2d(image, *args, counts, threads)
    total = int(counts.sum())
    rows, cols = np.empty(total, dtype=np.intp), np.empty(total, dtype=np.intp)
    values = np.empty(total, dtype=np.float64)
    if total:
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
        cold_pixels_2d(image, *args, counts, starts, rows, cols, values, threads)
    return rows, cols, values


def gradient_magnitude(plane: np.ndarray) -> np.ndarray:
    """``sqrt(gy ** 2 + gx ** 2)`` of ``np.gradient(plane)`` (a float64 plane of at least 2
    pixels a side), the same values as squaring the two gradients in place, adding them and
    taking the root, in one pass and without either gradient in memory.

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.random.default_rng(0).random((5, 7))
    >>> gy, gx = np.gradient(plane)
    >>> bool((gradient_magnitude(plane) == np.sqrt(gy * gy + gx * gx)).all())
    True
    """
    image = np.ascontiguousarray(plane, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError("a plane of at least 2 x 2 pixels")
    out = np.empty(image.shape)
    gradient_magnitude_2d(image, out, min(threads_for_work(image.size, _PIXELS_PER_THREAD),
                                          image.shape[0]))
    return out
