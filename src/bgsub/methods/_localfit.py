"""Weighted local polynomial regression: a smooth surface through scattered weights.

At every point ``p`` a polynomial of degree ``order`` (in the offsets ``x - p``)
is fitted by least squares to the image, each pixel weighted by
``weights(x) * G(x - p)`` with a Gaussian window ``G`` of the given ``sigma``;
the surface is the fit's value at ``p``. With ``order=0`` this is normalised
(masked) Gaussian convolution; ``order=2`` reproduces any quadratic surface
exactly, even across large holes and at the image border, where plain
smoothing bends towards the missing side.

The fit is computed on a coarse grid of nodes, one every ``sigma / 2``
pixels, from exact within-block moments, and carried back to every pixel by
blending the neighbouring nodes' polynomials with Catmull-Rom weights, so its
cost is a few passes over the image whatever the window size.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from math import comb

import numpy as np
from scipy import ndimage as ndi

__all__ = ["exponents", "local_polynomial_fit"]

TRUNCATE = 4.0
LOWER_DAMPING = 0.0
Exponent = tuple[int, ...]


def exponents(ndim: int, degree: int) -> list[Exponent]:
    """Exponent tuples of every monomial of total degree <= ``degree``.

    Examples
    --------
    >>> exponents(2, 1)
    [(0, 0), (0, 1), (1, 0)]
    """
    every = itertools.product(range(degree + 1), repeat=ndim)
    return sorted((e for e in every if sum(e) <= degree), key=lambda e: (sum(e), e))


def local_polynomial_fit(
    values: np.ndarray,
    weights: np.ndarray,
    sigma: Sequence[float],
    order: int = 2,
    *,
    ridge: float = 1e-2,
    leverage: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Gaussian-windowed weighted least-squares polynomial fit at every pixel.

    Parameters
    ----------
    values : ndarray
        Image (any number of dimensions), finite.
    weights : ndarray
        Non-negative weight of each pixel, same shape (0 excludes a pixel).
    sigma : sequence of float
        The Gaussian window's sigma along each axis, in pixels.
    order : int
        Degree of the local polynomial (0, 1 or 2).
    ridge : float
        Tikhonov damping of the highest-degree coefficients (the lower,
        non-constant ones get a hundredth of it), relative to the weight of a
        window with every pixel present: it leaves well-supported fits almost
        untouched but keeps a window that holds little weight, or weight on one
        side only (deep inside a large hole, a corner covered by objects), from
        extrapolating a wild curvature or slope.
    leverage : bool
        Also return the total leverage (the trace of the hat matrix: how many
        degrees of freedom the fit spends following the data), for
        cross-validation.

    Returns
    -------
    fit : ndarray
        The fitted surface (float64), the shape of ``values``. Where a whole
        window holds no weight, the nearest fitted level is carried over.
    leverage : float
        Only with ``leverage=True``: the sum over pixels of
        ``weights * [M^-1]_00``, taking each block's node for its pixels.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:40, 0:50].astype(float)
    >>> surface = 100 + 0.5 * xx - 0.3 * yy + 0.01 * xx * yy
    >>> weights = np.ones_like(surface); weights[10:30, 10:30] = 0
    >>> fit = local_polynomial_fit(surface + 50 * (weights == 0), weights, (6.0, 6.0), ridge=0)
    >>> bool(np.abs(fit - surface).max() < 1e-6)
    True
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    sigma = tuple(float(s) for s in sigma)
    step = tuple(max(1, int(s // 2)) for s in sigma)
    basis = exponents(values.ndim, order)
    w_blocks = _block_moments(weights, step, sigma, 2 * order)
    v_blocks = _block_moments(weights * values, step, sigma, order)
    w_moments = _window_moments(w_blocks, 2 * order, step, sigma)
    v_moments = _window_moments(v_blocks, order, step, sigma)
    nodes = w_moments[basis[0]].shape
    gram = np.empty(nodes + (len(basis), len(basis)))
    rhs = np.empty(nodes + (len(basis),))
    for i, r in enumerate(basis):
        rhs[..., i] = v_moments[r]
        for j, c in enumerate(basis):
            gram[..., i, j] = w_moments[_add(r, c)]
    full = float(np.prod([np.sqrt(2 * np.pi) * s for s in sigma]))  # weight of a full window
    coeffs, inverse00 = _solve(gram, rhs, ridge * _damping(basis, order), full)
    fit = _evaluate(coeffs, basis, values.shape, step, sigma)
    if not leverage:
        return fit
    # each pixel's leverage is its weight times [M^-1]_00 at its block's node
    return fit, float(np.sum(w_blocks[(0,) * values.ndim] * np.clip(inverse00, 0.0, None)))


def _damping(basis: list[Exponent], order: int) -> np.ndarray:
    """Relative ridge of each coefficient: 1 for the highest degree, 1/100 for the
    other non-constant ones, 0 for the constant term (the fitted level)."""
    degrees = np.array([sum(e) for e in basis])
    return np.where(degrees == order, 1.0, LOWER_DAMPING) * (degrees > 0)


def _add(a: Exponent, b: Exponent) -> Exponent:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _block_moments(
    array: np.ndarray, step: tuple[int, ...], sigma: tuple[float, ...], degree: int
) -> dict[Exponent, np.ndarray]:
    """Sums over blocks of ``step`` pixels of ``array * prod(offset ** e)``.

    Offsets are from each block's centre, in units of ``sigma``.
    """
    coarse = [-(-n // q) for n, q in zip(array.shape, step, strict=True)]
    padded = np.pad(array, [(0, c * q - n) for c, q, n in zip(coarse, step, array.shape,
                                                               strict=True)])
    split = padded.reshape([d for c, q in zip(coarse, step, strict=True) for d in (c, q)])
    partial: dict[Exponent, np.ndarray] = {(): split}
    for axis, (q, s) in enumerate(zip(step, sigma, strict=True)):
        offsets = (np.arange(q) - (q - 1) / 2) / s
        shape = [1] * next(iter(partial.values())).ndim
        shape[axis + 1] = q
        following: dict[Exponent, np.ndarray] = {}
        for prefix, block in partial.items():
            for power in range(degree - sum(prefix) + 1):
                factor = (offsets**power).reshape(shape)
                following[(*prefix, power)] = (block * factor).sum(axis=axis + 1)
        partial = following
    return partial


def _window_kernel(q: int, s: float, power: int) -> np.ndarray:
    """1D Gaussian window on the coarse grid times ``offset ** power``."""
    reach = int(np.ceil(TRUNCATE * s / q))
    offsets = np.arange(-reach, reach + 1) * q / s
    return np.exp(-0.5 * offsets**2) * offsets**power


def _window_moments(
    blocks: dict[Exponent, np.ndarray],
    degree: int,
    step: tuple[int, ...],
    sigma: tuple[float, ...],
) -> dict[Exponent, np.ndarray]:
    """``sum_x G(x - p) B(x) (x - p) ** t`` at every node ``p``, for ``|t| <= degree``.

    ``x - p`` splits into the block centre's offset from the node and the
    pixel's offset inside its block; the binomial expansion combines the exact
    within-block moments with windows sampled at the block centres. Window and
    expansion both factor over the axes, so they are applied one axis at a
    time: after axis ``a`` the keys hold totals ``t`` on axes ``<= a`` and
    within-block exponents on the others.
    """
    current = blocks
    for axis, (q, s) in enumerate(zip(step, sigma, strict=True)):
        kernels = {power: _window_kernel(q, s, power) for power in range(degree + 1)}
        following: dict[Exponent, np.ndarray] = {}
        for key in exponents(len(step), degree):
            total = key[axis]
            terms = []
            for inner in range(total + 1):
                source = current[(*key[:axis], inner, *key[axis + 1:])]
                terms.append(comb(total, inner) * ndi.correlate1d(
                    source, kernels[total - inner], axis=axis, mode="constant"))
            following[key] = np.sum(terms, axis=0) if len(terms) > 1 else terms[0]
        current = following
    return current


def _solve(
    gram: np.ndarray, rhs: np.ndarray, ridge: np.ndarray, full: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-node least-squares coefficients (empty windows copy the nearest node)
    and the constant term's entry of the inverse normal matrix."""
    size = gram.shape[-1]
    total = gram[..., 0, 0]
    empty = total <= 1e-9 * max(float(total.max()), 1e-300)
    gram = gram + np.diag(ridge) * full + 1e-12 * np.eye(size) * total[..., None, None]
    gram[empty] = np.eye(size)
    rhs = np.where(empty[..., None], 0.0, rhs)
    unit = np.zeros(rhs.shape[:-1] + (size, 2))
    unit[..., 0] = rhs
    unit[..., 0, 1] = 1.0
    solved = np.linalg.solve(gram, unit)
    coeffs, inverse00 = solved[..., 0], solved[..., 0, 1]
    inverse00[empty] = 0.0
    if empty.any() and not empty.all():
        nearest = ndi.distance_transform_edt(empty, return_distances=False, return_indices=True)
        coeffs[empty] = 0.0
        coeffs[..., 0] = coeffs[..., 0][tuple(nearest)]
    return coeffs, inverse00


def _interpolation_taps(
    n: int, q: int, s: float, power: int, nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Catmull-Rom taps from the nodes to the pixels, times ``offset ** power``.

    Returns the four node indices and weights of every pixel, shape ``(n, 4)``.
    Nodes beyond the grid are clamped to the edge node, whose polynomial then
    extrapolates with the pixel's true offset from it.
    """
    pixel = np.arange(n, dtype=np.float64)
    t = (pixel - (q - 1) / 2) / q
    frac = t - np.floor(t)
    index = np.clip(np.floor(t).astype(np.intp)[:, None] + np.arange(-1, 3), 0, nodes - 1)
    taps = np.stack([
        ((-frac + 2) * frac - 1) * frac / 2,
        ((3 * frac - 5) * frac * frac + 2) / 2,
        ((-3 * frac + 4) * frac + 1) * frac / 2,
        (frac - 1) * frac * frac / 2,
    ], axis=1)
    offset = (pixel[:, None] - (index * q + (q - 1) / 2)) / s
    return index, taps * offset**power


def _evaluate(
    coeffs: np.ndarray,
    basis: list[Exponent],
    shape: tuple[int, ...],
    step: tuple[int, ...],
    sigma: tuple[float, ...],
) -> np.ndarray:
    """Blend the nodes' polynomials at every pixel.

    Axis by axis, from the last: terms that share their exponents on the axes
    still to be expanded are summed first, so the full-size products are few.
    """
    nodes = coeffs.shape[:-1]
    terms: dict[Exponent, np.ndarray] = {e: coeffs[..., i] for i, e in enumerate(basis)}
    for axis in reversed(range(len(shape))):
        taps = {power: _interpolation_taps(shape[axis], step[axis], sigma[axis], power,
                                           nodes[axis])
                for power in {e[axis] for e in terms}}
        grouped: dict[Exponent, np.ndarray] = {}
        for exponent, field in terms.items():
            index, weight = taps[exponent[axis]]
            moved = np.moveaxis(field, axis, -1)
            expanded = np.moveaxis((moved[..., index] * weight).sum(axis=-1), -1, axis)
            key = exponent[:axis]
            grouped[key] = expanded if key not in grouped else grouped[key] + expanded
        terms = grouped
    return np.ascontiguousarray(terms[()])
