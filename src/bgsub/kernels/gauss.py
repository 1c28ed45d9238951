"""SciPy's Gaussian filter of 1D and 2D float64 arrays, compiled: the same values bit for bit.

:func:`scipy.ndimage.gaussian_filter` correlates each axis in turn with a symmetric kernel,
each output ``centre * w[0]`` plus, from the outermost tap in, ``(left + right) * w[k]``, on a
line buffer extended by the boundary rule, one line at a time. Here the same operations in the
same order for every value (``_gauss.h``), but many outputs at once (vectorised) and both axes
in one pass over the rows (the row's axis-0 result, in a line buffer, is correlated along axis
1 at once): 3-6x sooner on `robust`'s block grids, and no per-call overhead of note on the
small ones. The weights are SciPy's (``exp(-x**2 / (2 sigma**2))`` for ``|x| <= int(truncate
* sigma + 0.5)``, over their sum). Arrays of other dtypes or dimensions, other modes, orders
and outputs go to SciPy itself.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from bgsub.kernels._gauss import gauss_2d
from bgsub.kernels.threads import threads_for_work

__all__ = ["gaussian_filter", "gaussian_filter1d", "line_indices"]

MODES = ("nearest", "reflect", "constant")

#: Pixel-taps per thread below which one thread does the whole filter.
_TAPS_PER_THREAD = 1 << 24


@functools.lru_cache(maxsize=256)
def _weights(sigma: float, truncate: float) -> np.ndarray:
    """The kernel's weights from its centre out (SciPy's ``_gaussian_kernel1d``, order 0)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    return np.ascontiguousarray(phi[::-1][radius::-1])  # (correlate1d's fw[-k], k = 0..r)


@functools.lru_cache(maxsize=256)
def line_indices(n: int, r: int, mode: str) -> np.ndarray:
    """The source index of each position ``-r .. n + r - 1`` of a line of ``n`` extended by
    ``mode`` (SciPy's rules: ``nearest`` repeats the edge, ``reflect`` is ``d c b a | a b c d
    | d c b a``, repeated; ``constant``: -1, a zero).

    Examples
    --------
    >>> line_indices(3, 4, "reflect").tolist()
    [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]
    >>> line_indices(3, 2, "constant").tolist()
    [-1, -1, 0, 1, 2, -1, -1]
    """
    i = np.arange(-r, n + r)
    if mode == "nearest":
        index = np.clip(i, 0, n - 1)
    elif mode == "reflect":
        i = i % (2 * n)
        index = np.where(i >= n, 2 * n - 1 - i, i)
    else:
        index = np.where((i >= 0) & (i < n), i, -1)
    return np.ascontiguousarray(index, dtype=np.intp)


@functools.lru_cache(maxsize=64)
def _identity(size: int) -> np.ndarray:
    return np.arange(size, dtype=np.intp)


def _sigmas(sigma: Any, ndim: int) -> tuple[float, ...] | None:
    if np.ndim(sigma) == 0:
        return (float(sigma),) * ndim
    sigmas = tuple(float(s) for s in sigma)
    return sigmas if len(sigmas) == ndim else None


def _compiled(values: np.ndarray, sigmas: tuple[float, ...], mode: str, truncate: float,
              axis: int | None = None) -> np.ndarray | None:
    """The filter of 1D or 2D float64 ``values`` (along ``axis`` only, if given), or None where
    SciPy must do it."""
    if not (isinstance(values, np.ndarray) and values.dtype == np.float64
            and values.ndim in (1, 2) and values.size and mode in MODES):
        return None
    plane = values.reshape(1, -1) if values.ndim == 1 else values
    sigmas = (0.0, *sigmas) if values.ndim == 1 else sigmas
    weights, indices = [], []
    for n, s in zip(plane.shape, sigmas, strict=True):
        if not s > 1e-15:  # (SciPy leaves such an axis alone, NaN included)
            weights.append(None)
            indices.append(None)
            continue
        w = _weights(s, truncate)
        r = w.size - 1
        weights.append(w)
        indices.append(line_indices(n, r, mode))
    if weights[0] is not None and mode == "constant":
        return None  # (no rows of zeros along axis 0: SciPy's)
    one = np.ones(1)
    w0 = one if weights[0] is None else weights[0]
    w1 = one if weights[1] is None else weights[1]
    idx0 = _identity(1) if indices[0] is None else indices[0]
    idx1 = _identity(1) if indices[1] is None else indices[1]
    r1 = w1.size - 1
    n0, n1 = plane.shape
    out = np.empty((n0, n1))
    threads = min(threads_for_work(n0 * n1 * (w0.size + w1.size), _TAPS_PER_THREAD), n0)
    gauss_2d(np.ascontiguousarray(plane), out, w0, idx0, weights[0] is not None, w1, idx1,
             _identity(n1 + 2 * r1), weights[1] is not None,
             np.empty((threads, n1 + 2 * r1)), threads)
    return out.reshape(values.shape)


def gaussian_filter(input: Any, sigma: Any, order: int = 0, output: Any = None,
                    mode: str = "reflect", cval: float = 0.0, truncate: float = 4.0,
                    **kwargs: Any) -> np.ndarray:
    """:func:`scipy.ndimage.gaussian_filter`, the same values; compiled for 1D and 2D float64
    arrays in the ``nearest``, ``reflect`` and ``constant`` (``cval=0``) modes.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> image = np.random.default_rng(0).random((40, 50))
    >>> bool((gaussian_filter(image, (2.0, 3.5), mode="nearest")
    ...       == ndi.gaussian_filter(image, (2.0, 3.5), mode="nearest")).all())
    True
    """
    if order == 0 and output is None and cval == 0.0 and not kwargs \
            and isinstance(mode, str) and isinstance(input, np.ndarray):
        sigmas = _sigmas(sigma, input.ndim)
        if sigmas is not None:
            result = _compiled(input, sigmas, mode, float(truncate))
            if result is not None:
                return result
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(input, sigma, order, output, mode, cval, truncate, **kwargs)


def gaussian_filter1d(input: Any, sigma: float, axis: int = -1, order: int = 0,
                      output: Any = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, **kwargs: Any) -> np.ndarray:
    """:func:`scipy.ndimage.gaussian_filter1d`, the same values; compiled for 1D float64
    arrays (as :func:`gaussian_filter`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> counts = np.random.default_rng(0).random(400)
    >>> bool((gaussian_filter1d(counts, 7.5, mode="constant")
    ...       == ndi.gaussian_filter1d(counts, 7.5, mode="constant")).all())
    True
    """
    if order == 0 and output is None and cval == 0.0 and not kwargs \
            and isinstance(mode, str) and isinstance(input, np.ndarray) and input.ndim == 1 \
            and axis in (0, -1) and np.ndim(sigma) == 0:
        result = _compiled(input, (float(sigma),), mode, float(truncate))
        if result is not None:
            return result
    from scipy import ndimage as ndi

    return ndi.gaussian_filter1d(input, sigma, axis, order, output, mode, cval, truncate,
                                 **kwargs)

