"""Gaussian smoothing equal to :func:`scipy.ndimage.gaussian_filter`, fast for large sigma.

For every axis with ``sigma > 1e-15`` the image is correlated with the same
truncated, normalised 1D kernel that scipy builds (weights
``exp(-x**2 / (2 sigma**2))`` for ``|x| <= int(truncate * sigma + 0.5)``,
divided by their sum) under scipy's ``'reflect'`` boundary rule
(``d c b a | a b c d | d c b a``, repeated for pads longer than the line).
Short kernels go through scipy's own direct correlation; long kernels through
an FFT convolution of the reflect-padded lines, whose cost grows only with
``log(sigma)``.

For the small kernels of ``robust``'s block grids, :func:`direct_gaussian_filter` and
:func:`direct_gaussian_filter1d` are SciPy's own filters in every mode it offers, bit for
bit, compiled (``_gauss.pyx`` + ``_gauss.h``) for 1D and 2D float64 arrays in the
``nearest``, ``reflect`` and ``constant`` (``cval=0``) modes: each output ``centre * w[0]``
plus, from the outermost tap in, ``(left + right) * w[k]``, as SciPy's ``correlate1d``, but
many outputs at once and both axes in one pass over the rows (3-6x sooner on the block grids,
no per-call overhead of note on the small ones). Other dtypes, dimensions, modes, orders and
outputs go to SciPy itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from bgsub._axes import per_axis
from bgsub._lazy import lazy_module
from bgsub.kernels._gauss import gauss_2d
from bgsub.kernels.threads import threads_for_work

ndi = lazy_module("scipy.ndimage")  # (on first use: robust imports this module with bgsub)
sfft = lazy_module("scipy.fft")

__all__ = ["direct_gaussian_filter", "direct_gaussian_filter1d", "gaussian_filter",
           "gaussian_filter_in_double", "gaussian_kernel1d", "line_indices", "reflect_indices"]

#: Kernel radius from which the FFT path is used (measured crossover: scipy's
#: direct correlation costs O(radius) per pixel, the FFT O(log(n + radius))).
FFT_MIN_RADIUS = 40

#: Roughly how many float64 values one FFT block may hold (bounds memory use).
_BLOCK_VALUES = 1 << 21

#: The modes of the compiled direct filters.
MODES = ("nearest", "reflect", "constant")

#: Pixel-taps per thread below which one thread does the whole direct filter.
_TAPS_PER_THREAD = 1 << 24


def gaussian_kernel1d(sigma: float, radius: int) -> np.ndarray:
    """Return scipy's normalised, truncated 1D Gaussian kernel (order 0).

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    radius : int
        Half-length of the kernel; it has ``2 * radius + 1`` taps.

    Returns
    -------
    ndarray of float64
        The weights, summing to one.

    Examples
    --------
    >>> gaussian_kernel1d(1.0, 1).round(4)
    array([0.2741, 0.4519, 0.2741])
    """
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


def reflect_indices(n: int, before: int, after: int) -> np.ndarray:
    """Indices into a line of length ``n`` that extend it with scipy's ``'reflect'`` rule.

    Position ``i`` (``-before <= i < n + after``) maps to ``i mod 2n`` folded
    back into ``[0, n)``, i.e. ``d c b a | a b c d | d c b a | a b ...``.

    Parameters
    ----------
    n : int
        Length of the line (>= 1).
    before, after : int
        Number of samples to add on each side (may exceed ``n``).

    Returns
    -------
    ndarray of intp
        ``n + before + after`` indices.

    Examples
    --------
    >>> reflect_indices(3, 4, 4)
    array([2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0])
    """
    i = np.arange(-before, n + after) % (2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


def _fft_filter_axis(
    data: np.ndarray, weights: np.ndarray, axis: int, workers: int | None
) -> np.ndarray:
    """Correlate float64 ``data`` with symmetric ``weights`` along ``axis`` by FFT.

    Lines are reflect-padded by the kernel radius and convolved circularly
    with an FFT length of at least the padded length; the output window
    ``[2 radius, 2 radius + n)`` is free of wrap-around.  A per-block offset is
    removed first so the FFT's rounding error scales with the data's spread,
    not its magnitude.
    """
    n = data.shape[axis]
    radius = (weights.size - 1) // 2
    padded_len = n + 2 * radius
    nfft = sfft.next_fast_len(padded_len, real=True)
    kernel_spec = sfft.rfft(weights, nfft)
    index = reflect_indices(n, radius, radius)
    lines = np.moveaxis(data, axis, -1)
    flat = lines.reshape(-1, n)
    out = np.empty_like(flat)
    step = max(1, _BLOCK_VALUES // nfft)
    for start in range(0, flat.shape[0], step):
        block = flat[start : start + step]
        offset = float(np.mean(block)) if block.size else 0.0
        padded = block[:, index] - offset
        spec = sfft.rfft(padded, nfft, axis=-1, workers=workers)
        spec *= kernel_spec
        conv = sfft.irfft(spec, nfft, axis=-1, workers=workers)
        out[start : start + step] = conv[:, 2 * radius : 2 * radius + n] + offset
    return np.moveaxis(out.reshape(lines.shape), -1, axis)


def gaussian_filter(
    image: np.ndarray,
    sigma: float | Sequence[float],
    truncate: float = 4.0,
    *,
    workers: int | None = -1,
) -> np.ndarray:
    """Gaussian filter matching ``scipy.ndimage.gaussian_filter(image, sigma, mode='reflect')``.

    Same kernel and boundary rule as scipy (see the module docstring), but
    axes whose kernel radius is at least :data:`FFT_MIN_RADIUS` are filtered
    by FFT, so the time is nearly independent of sigma for large sigma.  When
    no axis needs the FFT, scipy itself is called on the input dtype;
    otherwise intermediate results are kept in float64.

    Parameters
    ----------
    image : ndarray
        Input of any dimension.  float32 gives float32, float64 gives float64,
        other dtypes give float64.
    sigma : float or sequence of float
        Standard deviation per axis in pixels; 0 leaves that axis alone.
    truncate : float, optional
        Truncate the kernel at this many standard deviations (default 4.0).
    workers : int or None, optional
        Threads for :mod:`scipy.fft` (default -1: all cores).

    Returns
    -------
    ndarray
        The smoothed image, same shape as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> img = np.random.default_rng(0).random((64, 80))
    >>> ours = gaussian_filter(img, 30.0)
    >>> bool(np.allclose(ours, ndi.gaussian_filter(img, 30.0), rtol=0, atol=1e-12))
    True
    """
    image = np.asarray(image)
    out_dtype = image.dtype if image.dtype in (np.float32, np.float64) else np.float64
    sigmas = per_axis(sigma, image.ndim, "sigma", positive=False)
    radii = [int(truncate * s + 0.5) for s in sigmas]
    if all(s <= 1e-15 or r < FFT_MIN_RADIUS for s, r in zip(sigmas, radii, strict=True)):
        # scipy alone, on the input dtype: identical to the reference and fastest
        data = image if image.dtype == out_dtype else image.astype(out_dtype)
        return ndi.gaussian_filter(data, sigmas, mode="reflect", truncate=truncate)
    work = np.asarray(image, dtype=np.float64)
    for axis, s in enumerate(sigmas):
        if s <= 1e-15 or image.shape[axis] == 0:
            continue
        radius = int(truncate * s + 0.5)
        if radius < FFT_MIN_RADIUS:
            work = ndi.gaussian_filter1d(work, s, axis=axis, mode="reflect", truncate=truncate)
        else:
            work = _fft_filter_axis(work, gaussian_kernel1d(s, radius), axis, workers)
    if work is image:
        work = work.copy()
    return work.astype(out_dtype, copy=False)


@functools.lru_cache(maxsize=256)
def _weights(sigma: float, truncate: float) -> np.ndarray:
    """The kernel's weights from its centre out (correlate1d's ``fw[-k]``, ``k = 0..r``)."""
    radius = int(truncate * sigma + 0.5)
    return np.ascontiguousarray(gaussian_kernel1d(sigma, radius)[radius:])


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
    if mode == "reflect":
        return np.ascontiguousarray(reflect_indices(n, r, r), dtype=np.intp)
    i = np.arange(-r, n + r)
    index = np.clip(i, 0, n - 1) if mode == "nearest" else np.where((i >= 0) & (i < n), i, -1)
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
              axis: int | None = None, in_double: bool = False) -> np.ndarray | None:
    """The filter of 1D or 2D float64 ``values`` (along ``axis`` only, if given), or (where
    ``in_double``) of a 2D float32 plane computed in float64 and rounded once, or None where
    SciPy must do it."""
    if not (isinstance(values, np.ndarray) and values.size and mode in MODES
            and (values.dtype == np.float64 and values.ndim in (1, 2)
                 or in_double and values.dtype == np.float32 and values.ndim == 2)):
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
    out = np.empty((n0, n1), values.dtype)
    threads = min(threads_for_work(n0 * n1 * (w0.size + w1.size), _TAPS_PER_THREAD), n0)
    rows = 1 if values.dtype == np.float64 else 2  # (a float32 row is summed in double first)
    gauss_2d(np.ascontiguousarray(plane), out, w0, idx0, weights[0] is not None, w1, idx1,
             _identity(n1 + 2 * r1), weights[1] is not None,
             np.empty((threads, rows * (n1 + 2 * r1))), threads)
    return out.reshape(values.shape)


def direct_gaussian_filter(input: Any, sigma: Any, order: int = 0, output: Any = None,
                    mode: str = "reflect", cval: float = 0.0, truncate: float = 4.0,
                    **kwargs: Any) -> np.ndarray:
    """:func:`scipy.ndimage.gaussian_filter`, the same values; compiled for 1D and 2D float64
    arrays in the ``nearest``, ``reflect`` and ``constant`` (``cval=0``) modes.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> image = np.random.default_rng(0).random((40, 50))
    >>> bool((direct_gaussian_filter(image, (2.0, 3.5), mode="nearest")
    ...       == ndimage.gaussian_filter(image, (2.0, 3.5), mode="nearest")).all())
    True
    """
    if order == 0 and output is None and cval == 0.0 and not kwargs \
            and isinstance(mode, str) and isinstance(input, np.ndarray):
        sigmas = _sigmas(sigma, input.ndim)
        if sigmas is not None:
            result = _compiled(input, sigmas, mode, float(truncate))
            if result is not None:
                return result
    return ndi.gaussian_filter(input, sigma, order, output, mode, cval, truncate, **kwargs)


def gaussian_filter_in_double(values: np.ndarray, sigma: Any, mode: str = "reflect",
                              truncate: float = 4.0) -> np.ndarray:
    """``direct_gaussian_filter(values.astype(np.float64), ...).astype(values.dtype)``, the
    same values; for a 2D float32 plane without either float64 copy (6 image-sized float32
    buffers fewer; 4.7 ms instead of 17.2 at 2048x2048, sigma 1). (SciPy's own filter of a
    float32 plane rounds to float32 between the axes: not the same values.)

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.random.default_rng(0).random((40, 50), dtype=np.float32)
    >>> want = direct_gaussian_filter(plane.astype(np.float64), 1.5, mode="nearest")
    >>> bool((gaussian_filter_in_double(plane, 1.5, mode="nearest")
    ...       == want.astype(np.float32)).all())
    True
    """
    if values.dtype == np.float32 and values.ndim == 2:
        sigmas = _sigmas(sigma, 2)
        if sigmas is not None:
            result = _compiled(values, sigmas, mode, float(truncate), in_double=True)
            if result is not None:
                return result
    return direct_gaussian_filter(values.astype(np.float64, copy=False), sigma, mode=mode,
                                  truncate=truncate).astype(values.dtype, copy=False)


def direct_gaussian_filter1d(input: Any, sigma: float, axis: int = -1, order: int = 0,
                      output: Any = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, **kwargs: Any) -> np.ndarray:
    """:func:`scipy.ndimage.gaussian_filter1d`, the same values; compiled for 1D float64
    arrays (as :func:`direct_gaussian_filter`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> counts = np.random.default_rng(0).random(400)
    >>> bool((direct_gaussian_filter1d(counts, 7.5, mode="constant")
    ...       == ndimage.gaussian_filter1d(counts, 7.5, mode="constant")).all())
    True
    """
    if order == 0 and output is None and cval == 0.0 and not kwargs \
            and isinstance(mode, str) and isinstance(input, np.ndarray) and input.ndim == 1 \
            and axis in (0, -1) and np.ndim(sigma) == 0:
        result = _compiled(input, (float(sigma),), mode, float(truncate))
        if result is not None:
            return result
    return ndi.gaussian_filter1d(input, sigma, axis, order, output, mode, cval, truncate,
                                 **kwargs)
