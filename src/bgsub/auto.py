"""Automatic radius and a ground-truth-free quality score.

:func:`suggest_radius` measures how big the objects are -- the scale at which
each bright blob's scale-normalised Laplacian-of-Gaussian response peaks -- and
picks the background radius from it (``factor`` times the typical object
radius, 3 by default: the field's rule that the structuring element be about
three times the object size, so that the background cannot follow, or "show",
the objects).

:func:`quality` scores a background without knowing the truth: how much of the
objects' structure went into the background, and how flat and how close to
zero the foreground's background pixels are.

Examples
--------
>>> from bgsub.data import synthetic
>>> from bgsub.auto import suggest_radius
>>> s = synthetic((192, 192), object_radius=6, seed=1)
>>> suggestion = suggest_radius(s.image)
>>> 4.5 < suggestion.object_radius < 8, 13 < suggestion.radius < 24
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from bgsub._axes import parse_axes
from bgsub.methods._noise import estimate_noise, robust_centre_scale

__all__ = ["Blobs", "Suggestion", "detect_blobs", "quality", "suggest_radius"]

SCALES_PER_OCTAVE = 4
MIN_SIGMA = 1.0
DETECTION_THRESHOLD = 5.0  # blob responses, in noise standard deviations of the response
MAX_PLANES = 8
TILES = 8
MIN_RADIUS = 2.0


@dataclass(frozen=True)
class Blobs:
    """Bright blobs found in scale space.

    Attributes
    ----------
    radius : ndarray
        Each blob's radius in pixels (``sqrt(2)`` times the scale of its peak
        response: the radius of a flat disk peaking there).
    strength : ndarray
        Each blob's scale-normalised response (its contrast, roughly).
    """

    radius: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return int(self.radius.size)

    def quantile(self, q: float) -> float:
        """Strength-weighted quantile of the radii (``q`` in 0-1).

        Examples
        --------
        >>> Blobs(np.array([2.0, 4.0, 8.0]), np.array([1.0, 1.0, 2.0])).quantile(0.5)
        4.0
        """
        order = np.argsort(self.radius)
        cumulative = np.cumsum(self.strength[order])
        index = int(np.searchsorted(cumulative, q * cumulative[-1]))
        return float(self.radius[order][min(index, order.size - 1)])


@dataclass(frozen=True)
class Suggestion:
    """A suggested background radius and why.

    Attributes
    ----------
    radius : float
        The suggested ``radius`` for :func:`bgsub.subtract_background`, in
        pixels of the image plane (Y, X).
    object_radius : float
        The typical object radius found (strength-weighted median), in pixels;
        ``nan`` when no object was found.
    reason : str
        One human-readable sentence: what was measured and how the radius
        follows from it.
    """

    radius: float
    object_radius: float
    reason: str


def suggest_radius(
    image: Any,
    axes: str | None = None,
    *,
    light_background: bool = False,
    factor: float = 3.0,
) -> Suggestion:
    """Suggest a background radius from the size of the objects in ``image``.

    Blobs are found as the peaks, over position and scale, of the
    scale-normalised Laplacian of Gaussian (``-sigma**2 * LoG``, four scales
    per octave, computed on a pyramid so large scales stay cheap), keeping
    those whose response exceeds 5 noise standard deviations of the response
    at that scale. The typical object radius is the strength-weighted median
    of the blobs' radii; the suggested radius is ``factor`` times it, but never
    less than the strength-weighted 90th percentile (the largest objects are
    still left out of the background). The whole image is measured at once:
    for stacks, up to 8 evenly spaced Y-X planes are pooled, so every plane
    gets the same radius.

    Parameters
    ----------
    image : array_like
        2D image or stack (see ``axes``).
    axes : str, optional
        As for :func:`bgsub.estimate_background`; the radius is measured in
        the Y-X plane.
    light_background : bool
        Dark objects on a bright background.
    factor : float
        Radius as a multiple of the typical object radius.

    Returns
    -------
    Suggestion

    Notes
    -----
    Assumes the objects are blob-like and brighter than their surroundings
    (darker with ``light_background``). Thin filaments, textures or a field
    filled edge to edge with touching objects give less meaningful sizes; when
    nothing stands out of the noise the radius falls back to an eighth of the
    image's smaller side.

    Examples
    --------
    >>> from bgsub.data import synthetic
    >>> s = synthetic((256, 256), object_radius=10, seed=2)
    >>> round(suggest_radius(s.image).object_radius)
    10
    """
    factor = float(factor)
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"factor={factor!r} is out of range; use a number > 0")
    found, sides = [], []
    for plane in _planes(image, axes, light_background):  # one plane in memory at a time
        found.append(detect_blobs(plane))
        sides.append(min(plane.shape))
    blobs = _pool(found)
    smaller_side = min(sides)
    if len(blobs) == 0:
        radius = max(MIN_RADIUS, smaller_side / 8)
        return Suggestion(radius, float("nan"),
                          f"no object stood out of the noise; radius {radius:.3g} px is an "
                          f"eighth of the image's smaller side ({smaller_side} px)")
    typical, large = blobs.quantile(0.5), blobs.quantile(0.9)
    radius = max(factor * typical, large, MIN_RADIUS)
    radius = min(radius, max(MIN_RADIUS, smaller_side / 2))
    reason = (f"{len(blobs)} objects found: typical radius {typical:.3g} px "
              f"(90% of the signal in objects up to {large:.3g} px); "
              f"radius = {factor:g} x {typical:.3g} = {radius:.3g} px")
    if radius > factor * typical + 1e-9:
        reason += " (raised to cover the largest objects)"
    return Suggestion(float(radius), float(typical), reason)


def detect_blobs(plane: np.ndarray, *, threshold: float = DETECTION_THRESHOLD) -> Blobs:
    """Bright blobs of a 2D image: peaks of the scale-normalised LoG.

    Parameters
    ----------
    plane : ndarray
        2D image without NaN.
    threshold : float
        Minimum response, in robust standard deviations of the response at
        that scale.

    Returns
    -------
    Blobs

    Examples
    --------
    >>> img = np.zeros((64, 64)); yy, xx = np.mgrid[:64, :64]
    >>> img[(yy - 32) ** 2 + (xx - 32) ** 2 <= 36] = 100.0
    >>> img += np.random.default_rng(0).normal(0, 1, img.shape)
    >>> blobs = detect_blobs(img)
    >>> 5 < blobs.quantile(0.5) < 7.5
    True
    """
    plane = np.asarray(plane, dtype=np.float64)
    sigmas = _scales(min(plane.shape))
    if sigmas.size < 3:
        return Blobs(np.empty(0), np.empty(0))
    pixel_sd = float(estimate_noise(plane).sd(float(np.median(plane))))
    layers = [_response(plane, s, pixel_sd) for s in sigmas]
    radii, strengths, centres = [], [], []
    for k in range(1, len(sigmas) - 1):
        peaks = _peaks(layers, k, threshold)
        for index in zip(*np.nonzero(peaks), strict=True):
            position = layers[k].position(index)
            here = layers[k].value_at(index)
            below = layers[k - 1].value_near(position)
            above = layers[k + 1].value_near(position)
            if here < below or here < above:
                continue
            radii.append(np.sqrt(2.0) * _refine(sigmas[k], below, here, above))
            strengths.append(here)
            centres.append(position)
    keep = _outside_stronger(np.asarray(centres).reshape(-1, 2), np.asarray(radii),
                             np.asarray(strengths))
    return Blobs(np.asarray(radii)[keep], np.asarray(strengths)[keep])


def quality(
    image: Any,
    background: Any,
    *,
    axes: str | None = None,
    light_background: bool = False,
    object_radius: float | None = None,
) -> dict[str, float]:
    """Score a background without ground truth.

    Three measurements on the foreground ``image - background`` (reversed with
    ``light_background``), combined into one score:

    * ``object_signal_in_background`` -- how much of the objects' structure
      the background copied: the regression slope of the background's detail
      on the (lightly smoothed) image's detail at the objects' scale (Gaussian
      high-pass of twice the object radius). 0: none (the background does not
      show the objects); 1: the background follows them entirely (radius far
      too small).
    * ``unevenness`` -- how flat the corrected background is: the spread
      (standard deviation) of the foreground's median background level over
      an 8x8 grid of tiles, in units of the local noise standard deviation.
    * ``offset`` -- the foreground's median background level, in noise
      standard deviations (about +2 to +3 for minimum-based methods, whose
      background rests on the bottom of the noise; 0 through its middle).

    ``score = (1 - object_signal_in_background) / (1 + unevenness) / (1 + |offset|)``,
    between 0 and 1, higher is better.

    Parameters
    ----------
    image : array_like
        The image.
    background : array_like
        Its estimated background, same shape.
    axes, light_background
        As for :func:`bgsub.estimate_background`.
    object_radius : float, optional
        The objects' radius in pixels; measured with :func:`suggest_radius`
        when omitted.

    Returns
    -------
    dict
        ``score``, ``object_signal_in_background``, ``unevenness``,
        ``offset`` (averaged over up to 8 planes) and ``object_radius``.

    Notes
    -----
    Limits: background pixels are told from objects by a noise threshold, so
    faint objects count as background and dense fields leave few background
    pixels per tile (tiles with less than a quarter of background pixels are
    skipped); an error that is smooth *and* the same in every tile shows up
    only in ``offset``; the noise is measured from the image, so a noise-free
    or heavily filtered image makes every deviation look large. The score
    compares backgrounds of the same image (radii, methods); it is not an
    absolute accuracy.

    Examples
    --------
    >>> import bgsub
    >>> from bgsub.data import synthetic
    >>> s = synthetic((192, 192), object_radius=6, seed=1)
    >>> good = quality(s.image, bgsub.estimate_background(s.image, "robust", 18))
    >>> bad = quality(s.image, bgsub.estimate_background(s.image, "robust", 3))
    >>> good["score"] > bad["score"]
    True
    """
    image = np.asarray(image)
    background = np.asarray(background)
    if image.shape != background.shape:
        raise ValueError(f"image {image.shape} and background {background.shape} differ in "
                         "shape; pass the background estimated from this image")
    if object_radius is None:
        object_radius = suggest_radius(image, axes, light_background=light_background)\
            .object_radius
    if not np.isfinite(object_radius):
        object_radius = min(image.shape[-2:]) / 24
    images = list(_planes(image, axes, light_background))
    backgrounds = list(_planes(background, axes, light_background))
    rows = [_plane_quality(i, b, float(object_radius)) for i, b in
            zip(images, backgrounds, strict=True)]
    result = {key: float(np.nanmean([r[key] for r in rows])) for key in rows[0]}
    result["score"] = ((1.0 - result["object_signal_in_background"])
                       / (1.0 + result["unevenness"]) / (1.0 + abs(result["offset"])))
    result["object_radius"] = float(object_radius)
    return result


# --- scale space -------------------------------------------------------------

@dataclass(frozen=True)
class _Layer:
    """``-sigma**2 * LoG`` at one scale, on a grid ``factor`` times coarser."""

    values: np.ndarray
    factor: int
    noise: float

    def position(self, index: tuple[int, ...]) -> np.ndarray:
        return np.asarray(index) * self.factor + (self.factor - 1) / 2

    def value_at(self, index: tuple[int, ...]) -> float:
        return float(self.values[index])

    def value_near(self, position: np.ndarray) -> float:
        index = np.round((position - (self.factor - 1) / 2) / self.factor).astype(int)
        index = np.clip(index, 0, np.asarray(self.values.shape) - 1)
        return float(self.values[tuple(index)])


def _scales(smaller_side: int) -> np.ndarray:
    """Scales from 1 px to a sixth of the image's smaller side, 4 per octave."""
    top = smaller_side / 6
    if top <= MIN_SIGMA:
        return np.empty(0)
    count = int(np.floor(np.log2(top / MIN_SIGMA) * SCALES_PER_OCTAVE)) + 1
    return MIN_SIGMA * 2.0 ** (np.arange(count) / SCALES_PER_OCTAVE)


def _response(plane: np.ndarray, sigma: float, pixel_sd: float) -> _Layer:
    """Scale-normalised LoG on a grid coarsened so that sigma stays 2-4 cells.

    The response's noise is the larger of its robust spread over the image and
    what white noise of ``pixel_sd`` gives through the filter (the spread of a
    smooth, large-scale response rests on few independent samples).
    """
    factor = 1 << max(0, int(np.floor(np.log2(sigma / 2.0))))
    coarse = _block_mean(plane, factor)
    s = sigma / factor
    values = -(s**2) * ndi.gaussian_laplace(coarse, s, mode="reflect")
    _, spread = robust_centre_scale(values)
    impulse = np.zeros((2 * int(4 * s + 1) + 1,) * 2)
    impulse[impulse.shape[0] // 2, impulse.shape[1] // 2] = 1.0
    gain = float(np.sqrt(np.sum((s**2 * ndi.gaussian_laplace(impulse, s)) ** 2)))
    noise = max(spread, pixel_sd / factor * gain)
    return _Layer(values, factor, noise if noise > 0 else np.inf)


def _block_mean(plane: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return plane
    rows, cols = (n // factor * factor for n in plane.shape)
    trimmed = plane[:rows, :cols]
    return trimmed.reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))


def _peaks(layers: list[_Layer], k: int, threshold: float) -> np.ndarray:
    """Spatial local maxima of layer ``k`` above the noise threshold."""
    layer = layers[k]
    values = layer.values
    local_max = values == ndi.maximum_filter(values, size=3, mode="nearest")
    return local_max & (values > threshold * layer.noise)


def _outside_stronger(centres: np.ndarray, radii: np.ndarray,
                      strengths: np.ndarray) -> np.ndarray:
    """Drop blobs centred inside a larger, stronger one (the rim of a sharp-edged
    object makes small-scale peaks along it)."""
    keep = np.ones(radii.size, dtype=bool)
    if radii.size < 2:
        return keep
    tree = cKDTree(centres)
    for i in np.argsort(-strengths):
        if not keep[i]:
            continue
        for j in tree.query_ball_point(centres[i], radii[i]):
            if j != i and radii[j] < radii[i] and strengths[j] < strengths[i]:
                keep[j] = False
    return keep


def _refine(sigma: float, below: float, here: float, above: float) -> float:
    """Sub-scale peak: a parabola through three responses on a log-scale axis."""
    curvature = below - 2 * here + above
    if curvature >= 0:
        return sigma
    shift = 0.5 * (below - above) / curvature
    return sigma * 2.0 ** (float(np.clip(shift, -0.5, 0.5)) / SCALES_PER_OCTAVE)


def _pool(found: list[Blobs]) -> Blobs:
    return Blobs(np.concatenate([b.radius for b in found]),
                 np.concatenate([b.strength for b in found]))


def _planes(image: Any, axes: str | None, light_background: bool) -> Iterator[np.ndarray]:
    """Up to ``MAX_PLANES`` evenly spaced Y-X planes, float64, NaN filled, dark objects
    negated. A Dask array stays lazy: only the chosen planes are computed."""
    from bgsub.api import _is_dask_array

    array = image if _is_dask_array(image) else np.asarray(image)
    if array.ndim < 2:
        raise ValueError(f"image must have at least 2 dimensions (Y, X), got shape "
                         f"{array.shape}")
    layout = parse_axes(axes, array.shape, False)
    selectors = list(layout.planes(array.shape))
    chosen = np.unique(np.linspace(0, len(selectors) - 1, min(MAX_PLANES, len(selectors)))
                       .round().astype(int))
    for i in chosen:
        plane = np.array(layout.block(array, selectors[i]), dtype=np.float64)
        if not np.isfinite(plane).all():
            finite = np.isfinite(plane)
            plane[~finite] = np.median(plane[finite]) if finite.any() else 0.0
        yield -plane if light_background else plane


# --- quality -----------------------------------------------------------------

def _plane_quality(image: np.ndarray, background: np.ndarray,
                   object_radius: float) -> dict[str, float]:
    model = estimate_noise(image)
    foreground = image - background
    sd = model.sd(background)
    detail_scale = max(2.0 * object_radius, 1.0)
    image_detail = _detail(ndi.gaussian_filter(image, 1.0, mode="reflect"), detail_scale)
    background_detail = _detail(background, detail_scale)
    denominator = float(np.sum(image_detail**2))
    copied = float(np.sum(background_detail * image_detail)) / denominator if denominator \
        else 0.0
    score = foreground / sd
    smoothed = ndi.gaussian_filter(score, 1.0, mode="reflect")
    centre, spread = robust_centre_scale(smoothed)
    objects = ndi.binary_dilation(smoothed > centre + 3.0 * spread, iterations=2)
    levels = _tile_levels(score, ~objects)
    return {
        "object_signal_in_background": float(np.clip(copied, 0.0, 1.0)),
        "unevenness": float(np.std(levels)) if levels.size > 1 else float("nan"),
        "offset": float(np.median(levels)) if levels.size else float("nan"),
    }


def _detail(values: np.ndarray, scale: float) -> np.ndarray:
    return values - ndi.gaussian_filter(values, scale, mode="reflect")


def _tile_levels(score: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Median of ``score`` over the kept pixels of each tile of an 8x8 grid."""
    levels = []
    rows = np.array_split(np.arange(score.shape[0]), TILES)
    cols = np.array_split(np.arange(score.shape[1]), TILES)
    for r in rows:
        for c in cols:
            if r.size == 0 or c.size == 0:
                continue
            tile_keep = keep[np.ix_(r, c)]
            if tile_keep.mean() >= 0.25:
                levels.append(float(np.median(score[np.ix_(r, c)][tile_keep])))
    return np.asarray(levels)
