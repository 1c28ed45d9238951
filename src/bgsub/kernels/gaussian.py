"""Gaussian smoothing equal to :func:`scipy.ndimage.gaussian_filter`, fast for large sigma.

For every axis with ``sigma > 1e-15`` the image is correlated with the same
truncated, normalised 1D kernel that scipy builds (weights
``exp(-x**2 / (2 sigma**2))`` for ``|x| <= int(truncate * sigma + 0.5)``,
divided by their sum) under scipy's ``'reflect'`` boundary rule
(``d c b a | a b c d | d c b a``, repeated for pads longer than the line).
Short kernels go through scipy's own direct correlation; long kernels through
an FFT convolution of the reflect-padded lines, whose cost grows only with
``log(sigma)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft as sfft
from scipy import ndimage as ndi

from bgsub._axes import per_axis

__all__ = ["gaussian_filter", "gaussian_kernel1d", "reflect_indices"]

#: Kernel radius from which the FFT path is used (measured crossover: scipy's
#: direct correlation costs O(radius) per pixel, the FFT O(log(n + radius))).
FFT_MIN_RADIUS = 40

#: Roughly how many float64 values one FFT block may hold (bounds memory use).
_BLOCK_VALUES = 1 << 21


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
