"""Automatic radius and a ground-truth-free quality score.

:func:`suggest_radius` measures how big the objects are -- not the texture
inside them: it segments a smoothed, flattened image (Otsu's threshold, never
below the noise), fills the objects' holes and takes each connected object's
inscribed radius (the largest distance from its inside to its edge, so
touching objects that merge still measure as one; a network of cell outlines
or membranes, whose many wide holes are cells, as objects half as wide as the
cells it encloses), and
picks the background radius from their size distribution (``factor`` times the
area-weighted median object radius, 3 by default: the field's rule that the
structuring element be about three times the object size, so that the
background cannot follow, or "show", the objects).

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

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from bgsub._arrays import finite_number, in_ordinary_unit, is_number, plain
from bgsub._axes import parse_axes
from bgsub._field_stop import field_stop_finding, field_stop_share
from bgsub._inputs import check_flag, check_image, check_progress
from bgsub._padding import check_missing, padding_finding, padding_share, valid_pixels
from bgsub._polarity import LIGHT_MESSAGE, looks_light
from bgsub._quality import SCORES, plane_quality
from bgsub._warnings import warn
from bgsub.kernels.binary import (
    binary_opening_cross,
    clipped_histogram_centres,
    distance_transform_edt,
    largest_distance_by_label,
)
from bgsub.kernels.bins import MAD_TO_SD, median, percentiles
from bgsub.kernels.blocks import BLOCK_MEAN_DTYPES, coarse_cells, plane_block_means
from bgsub.kernels.gaussian import direct_gaussian_filter
from bgsub.methods.robust import (
    clip_outliers,
    estimate_noise,
    prepare_robust,
    raise_cold_pixels,
    robust_background,
)

__all__ = ["Dominant", "Objects", "Suggestion", "measure_objects", "quality", "suggest_radius"]

MAX_PLANES = 8
MEASURE_SIDE = 512  # planes are measured on a grid of at most this many cells per side
# objects under 3 cells across are measured again on a full-resolution crop of MEASURE_SIDE;
# the grid's objects at least LARGE_CELLS cells in radius (well measured on it, and likely
# outside the crop) are kept beside the crop's smaller ones, which stand for the whole plane
LARGE_CELLS = 8.0
#: :func:`suggest_radius` says so where one object covers this share of a plane and the
#: radius it sets is capped.
ONE_OBJECT_FILLS = 0.5
#: ... and warns where compact objects cut by the image's edge hold this share of the
#: objects' area ...
CUT_BY_EDGE = 0.8
#: ... compact: at most this many times the area of a disc of their inscribed radius (a disc
#: cut in half: 2; a few merged discs: 2-8; a filament crossing the image: 20 or more)
CUT_COMPACT = 12.0
NOISE_LEVEL = 4.0  # the threshold is never below this many noise sds of the smoothed image
PEAK_LEVEL = 6.0  # ... and one object at least rises this many above its surroundings
SURROUND = 8.0  # cells: the Gaussian window of an object's surroundings
MIN_AREA = 9  # smaller specks (in measured cells) are noise
MIN_RADIUS = 2.0
# the suggested radius is never under this (but a quarter of the side): small objects (spots r
# 2-5) set 6-15 px, where the background is an average of so few pixels that it follows the
# noise and rises into the objects' skirts; a background bends far more slowly than that
MIN_AUTO_RADIUS = 16.0
FACTOR = 3.0  # the radius: this many times the typical object radius (suggest_radius's default)
# a true 3D volume's radius along Z, without a spacing (:func:`depth_radius`): FACTOR x the
# objects' half-depth, from the runs of object cells along Z, on at most DEPTH_PLANES planes
# around the middle of at least DEPTH_FEWEST, each on at most DEPTH_SIDE cells a side, less its
# Gaussian over DEPTH_FLATTEN x the Y, X radius
DEPTH_PLANES = 64
DEPTH_FEWEST = 3
DEPTH_SIDE = 256
DEPTH_FLATTEN = 0.5
THRESHOLD_BAND = 0.2  # objects are measured at the threshold and this fraction below and above
THRESHOLD_STEPS = (0, -1, 1)  # (x THRESHOLD_BAND: the threshold itself first)
# a plane is flattened by its noise-aware background at 1 / FLATTENING of its smaller side;
# where the objects found would set a radius wider than that, it is measured again on a
# flattening half as wide (at most FINER_STEPS times), taken where the radius drops below
# FINER_DROP of the wider one's; only while the objects cover under FINER_COVER of the plane
FLATTENING = 6.0
# ... by a dome that bends FLATTENING_FOLLOW x the background's measured bending, gentler than
# the estimate's (robust's FOLLOW): a steeper one cuts into wide objects and texture alike,
# and the pieces measure smaller (an H&E image's radius 56 -> 16 px at 2.5x)
FLATTENING_FOLLOW = 1.5
FINER_STEPS = 3
FINER_DROP = 0.85
FINER_COVER = 0.5
FINER_FIT = 0.5  # ... and never at a scale under this fraction of the objects' typical radius
# that chain's choice is reviewed against two neighbouring flattenings that agree (the radii
# they set within CONFIRM of each other): taken over a finer measurement under CUT of theirs
CONFIRM = 0.15
CUT = 0.5
# a filled object is a network (cell outlines, membranes, vessels) rather than an object with
# texture inside when it encloses at least NETWORK_HOLES holes each at least NETWORK_HOLE cells
# wide (inscribed radius: an enclosed cell, far wider than the one-cell smoothing that texture
# lives at), together at least NETWORK_SHARE of its filled area
NETWORK_HOLE = 8.0
NETWORK_HOLES = 4
NETWORK_SHARE = 0.1
NETWORK_WALL = 1.75  # ... with thin walls: half-width at most this many times the cells' radius
# ... and it counts as objects this fraction of its cells' radius: at the default FACTOR the
# radius is 1.5 cells' radii, which bridges a cell but still follows a background that bends
# over a few cells (a hot spot as wide as the holes, which 3 cells' radii cut under)
NETWORK_OBJECTS = 0.5
SMOOTHED_CELLS = 0.28  # the cells' noise sd after their sigma-1 smoothing, per sd before
#                        (_quality.SMOOTHED_NOISE rounded, as the segmentation has always taken it)
FAINT = (1.5, 3.0)  # objects rising this many pixel noise sds (mean) or less / more ...
FAINT_FACTOR = 2.0  # ... get this / 1 times the factor (log-linear between)
# ... and are warned of below this many (measured above the threshold, the objects' mean rise
# reads 0.5-0.8 sds above their true one where they are faint: 1.51 for cells rising 0.79,
# keeping 72 % of their light; 144 generated cases, docs/accuracy.md, Session 49)
FAINT_WARN = 2.0
# a radius set by a few large objects among many small ones is warned of (a bright patch of
# the illumination -- a laser beam's spot, a hot spot -- segments as such objects): at most
# DOMINANT_FEW of the largest objects per plane measured, holding at least DOMINANT_SHARE of
# the objects' area (so that the typical radius is theirs: a few giants among small objects
# that hold less only raise the radius to cover them, as meant), without which at least
# DOMINANT_OTHERS others would set a radius at most 1 / DOMINANT_GAP of the one set
DOMINANT_FEW = 5
DOMINANT_SHARE = 0.5
DOMINANT_OTHERS = 20
DOMINANT_GAP = 3.0


@dataclass(frozen=True)
class Objects:
    """Connected objects found in an image.

    Attributes
    ----------
    radius : ndarray
        Each object's inscribed radius in pixels (the largest distance from a
        point inside it to its edge: a disk's radius, a merged clump's single
        member's radius, an elongated cell's half-width).
    area : ndarray
        Each object's area in pixels.
    network : ndarray of bool, optional
        Which objects are networks (cell outlines, membranes: many wide holes), whose
        ``radius`` is half that of the cells they enclose; none when omitted.
    across : tuple of Objects, optional
        The same field's objects measured at thresholds a little below and above (see
        :func:`suggest_radius`); none when omitted.
    contrast : ndarray, optional
        Each object's mean rise above its surroundings, in noise sds of one pixel.
    cut : ndarray of bool, optional
        Which objects touch the image's edge (cut by it); none when omitted.
    """

    radius: np.ndarray
    area: np.ndarray
    network: np.ndarray | None = None
    across: tuple[Objects, ...] = ()
    contrast: np.ndarray | None = None
    cut: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.radius.size)

    def quantile(self, q: float) -> float:
        """Area-weighted quantile of the radii (``q`` in 0-1), interpolated.

        Examples
        --------
        >>> round(Objects(np.array([2.0, 4.0, 8.0]), np.array([1.0, 1.0, 2.0])).quantile(0.5), 2)
        5.33
        """
        order = np.argsort(self.radius)
        weights = self.area[order].astype(np.float64)
        cumulative = np.cumsum(weights) - 0.5 * weights
        return float(np.interp(q * weights.sum(), cumulative, self.radius[order]))


@dataclass(frozen=True)
class Suggestion:
    """A suggested background radius and why.

    Attributes
    ----------
    radius : float
        The suggested ``radius`` for :func:`bgsub.subtract_background`, in
        pixels of the image plane (Y, X).
    object_radius : float
        The typical object radius found (area-weighted median), in pixels;
        ``nan`` when no object was found.
    reason : str
        One human-readable sentence: what was measured and how the radius
        follows from it.
    padding : tuple of float
        The share of the planes measured that looks like a stitched or
        registered image's padding (solid regions of one extreme value reaching
        the edge) and that value; ``(0.0, nan)`` where none was found or
        ``missing`` was given.
    contrast : float
        The objects' typical contrast: how many noise standard deviations of one
        pixel they rise above their surroundings on average (area-weighted
        median); ``nan`` when no object was found.
    faint : float
        How many times wider the radius is for faint objects (1 for objects
        rising at least 3 noise sds, 2 at 1.5 sds or less; see
        :func:`suggest_radius`).
    dominant : Dominant or None
        Where a few large objects among many small ones set the radius, what
        they are and the radius the others alone would set; None otherwise.
    looks_light : bool
        Measured without ``light_background``, most planes look like dark
        objects on a light background (bright field): see
        :func:`light_finding`.
    cut_share : float
        The share of the objects' area in compact objects cut by the image's
        edge (0-1; filaments and networks, long rather than cut, are not counted;
        ``nan`` when no object was found, or where one covers half the image: a
        tissue section): most of it in an image a few objects wide (a crop). See
        :func:`cut_finding`.
    guessed : bool
        No object stood out of the noise of planes that are not constant, and the
        radius is a fallback: a blank field's, or objects too faint to measure (see
        :func:`blank_finding`).
    caveat : str
        What ``radius="auto"`` warns of, in one line, each finding with its fix:
        no object found (the radius a fallback), faint objects, a radius set by a
        few large objects among many small ones, an image that looks like a
        light background measured as a dark one, an image a few objects wide;
        ``""`` where none holds.
    """

    radius: float
    object_radius: float
    reason: str
    padding: tuple[float, float] = (0.0, float("nan"))
    contrast: float = float("nan")
    faint: float = 1.0
    dominant: Dominant | None = None
    looks_light: bool = False
    cut_share: float = float("nan")
    guessed: bool = False

    @property
    def caveat(self) -> str:
        """What ``radius="auto"`` warns of, each finding and its fix, in one line (``""``:
        nothing)."""
        return "; ".join(findings(self))


@dataclass(frozen=True)
class Dominant:
    """A few large objects that set a suggested radius among many small ones.

    Attributes
    ----------
    count : int
        How many of the largest objects set the radius.
    radius : float
        The largest one's inscribed radius, in pixels.
    share : float
        The share of all the objects' area that they hold (0-1).
    others : int
        How many objects are smaller.
    others_radius : float
        The smaller objects' typical radius (area-weighted median), in pixels.
    suggested : float
        The radius the smaller objects alone would set, in pixels.
    """

    count: int
    radius: float
    share: float
    others: int
    others_radius: float
    suggested: float


def suggest_radius(
    image: Any,
    axes: str | None = None,
    *,
    light_background: bool = False,
    factor: float = FACTOR,
    min_radius: float = MIN_AUTO_RADIUS,
    progress: Callable[[int, int], Any] | None = None,
    missing: float | None = None,
) -> Suggestion:
    """Suggest a background radius from the size of the objects in ``image``.

    Each Y-X plane (up to 8, evenly spaced, for a stack; pooled, so every
    plane gets the same radius) is averaged down to at most 512 cells a side,
    smoothed over one cell and flattened (its noise-aware background at a
    sixth of its size subtracted; where the objects found would set a radius
    wider than that flattening -- a smooth field's crest that it left, a strong
    wave's or a hot spot's, is segmented as objects that wide -- measured again
    on flattenings half, a quarter and an eighth as wide while the radius they
    set drops by at least 15 % and the objects cover under half the plane: the
    noise-aware background bridges real objects, so they stay, while the
    residue goes; two neighbouring flattenings that agree on the radius
    (within 15 %) overrule that chain where it went on to objects under half
    their size, cut from the objects' texture, and where it stopped at the
    first only because its objects covered half the plane), then
    thresholded (Otsu's threshold within
    Otsu's lower class, never below 4 noise standard deviations: between the
    background and the objects' bodies even when bright texture inside them is
    the upper class); holes are filled, so bright spots inside an
    object count as the object. Each connected object's inscribed radius is
    measured (touching objects that merge still measure as one of them). An
    object enclosing at least 4 holes at least 8 cells wide, together at
    least a tenth of its filled area, is a network (cell outlines, membranes,
    vessels) when its walls are thin (half-width at most 1.75 times the cells'
    radius): it is measured by the cells it encloses (three times its holes'
    mean distance to their edge) and counts as objects half as wide, so that
    the radius (at the default factor) is 1.5 times the cells': it bridges a
    cell, yet follows a background that bends over a few cells.
    The typical object radius is the area-weighted median; the suggested
    radius is ``factor`` times it, but at least twice the area-weighted 90th
    percentile (the largest objects still stay out of the background), and
    at least ``min_radius`` (16 px: small spots would set a few pixels, over
    which the background averages so few pixels that it follows the noise
    and rises into the spots' skirts) and at most a quarter of the image's
    smaller side. Faint objects widen the radius and its floor: where they
    rise (area-weighted median of each object's mean) under 3 noise sds of
    one pixel above their surroundings, up to twice at 1.5 sds or less
    (log-linear between; :attr:`Suggestion.contrast`, :attr:`Suggestion.faint`).
    Such objects barely lift a pixel out of the noise, so a background
    averaged over few pixels rises into them; over more it passes under.
    Objects under 3 cells across are re-measured on a full-resolution crop
    (``MEASURE_SIDE`` pixels a side, in the middle; where it holds none, on the
    windows around the quadrants' middles too), which stands for the whole
    plane; the plane's objects of ``LARGE_CELLS`` cells or more in radius, measured
    on the cells, are kept beside them, so that a few large objects off the crop
    still keep the radius at twice their size.
    The objects are also measured at 20 % below and above the threshold: the
    typical radius is the mean of the three medians, the 90th percentile that
    of the three sets pooled (each a third of the weight). An object whose
    edge is shallow moves its inscribed radius by a whole pixel step when one
    edge pixel crosses the threshold (under a smooth field added to the image,
    say); across the band the sizes move by a third of that, at crossings
    spread over the band, so the radius follows the image more smoothly.

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
        Radius as a multiple of the typical object radius (times
        :attr:`Suggestion.faint` for faint objects).
    missing : float, optional
        Pixels of this value are not data (a mosaic's padding): left out as NaN pixels are.
    min_radius : float
        The suggested radius is at least this many pixels (16 by default;
        times :attr:`Suggestion.faint` for faint objects; but at most a quarter
        of the image's smaller side); 0 for ``factor`` times the objects alone.
    progress : callable, optional
        ``progress(done, total)``: called with ``(0, total)``, then after each
        plane measured (``total`` planes in all).

    Returns
    -------
    Suggestion

    Notes
    -----
    Assumes the objects are brighter than their surroundings (darker with
    ``light_background``) and stand out of the noise. Thin filaments give
    their half-width; a field filled edge to edge with merged objects gives
    the size of the widest clump; when nothing stands out of the noise (no
    object rises 6 noise sds of the smoothed image above its surroundings: a
    blank field, whatever smooth field lies on it) the radius falls back to
    an eighth of the image's smaller side. The noise sd is the larger of the
    pixel-difference model's and the flattened background's measured
    spread, so correlated noise (a tomogram's plane outside the sample, an
    interpolated or denoised image) is not taken for objects.

    Examples
    --------
    >>> from bgsub.data import synthetic
    >>> s = synthetic((256, 256), object_radius=10, seed=2)
    >>> 8 < suggest_radius(s.image).object_radius < 12
    True
    """
    image = check_image(image)  # (the API's checks: the same image refused the same way)
    light_background = check_flag(light_background, "light_background")
    progress = check_progress(progress)
    factor = float(factor)
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"factor={factor!r} is out of range; use a number > 0")
    min_radius = float(min_radius)
    if not (np.isfinite(min_radius) and min_radius >= 0):
        raise ValueError(f"min_radius={min_radius!r} is out of range; use a number >= 0 "
                         "(0: no floor)")
    missing = check_missing(missing)
    found, sides, pixels, padded, light, stop = [], [], 0, (0.0, float("nan")), 0, 0.0
    varies = False  # (some plane without objects is not constant: a radius then guessed)
    # one plane at a time; an integer plane as it is (read as float64 where measured)
    for plane in _planes(image, axes, light_background, progress, measured=True,
                         missing=missing):
        objects, plane_light = _measure(plane, light_background and plane.dtype.kind in "iu",
                                        check_light=not light_background)
        found.append(objects)
        if len(objects) == 0 and not varies:
            varies = bool(np.max(plane) > np.min(plane))
        light += plane_light
        sides.append(min(plane.shape))
        pixels = plane.size
        if missing is None:
            padded = max(padded, _padding_of(plane, light_background))
        stop = max(stop, field_stop_share(plane))
    seems_light = 2 * light >= len(found) > 0
    count = sum(len(o) for o in found)
    # the objects at the threshold and across its band (see THRESHOLD_BAND), each pooled
    # over the planes
    bands = [_pooled([o.across[k - 1] if k and o.across else o for o in found])
             for k in range(len(THRESHOLD_STEPS))]
    objects = bands[0]
    smaller_side = min(sides)
    if len(objects) == 0:
        radius = max(MIN_RADIUS, smaller_side / 8)
        return Suggestion(radius, float("nan"),
                          f"no object stood out of the noise; radius {radius:.3g} px is an "
                          f"eighth of the image's smaller side ({smaller_side} px)"
                          f"{_padding_note(*padded)}{_field_stop_note(stop)}", padded,
                          looks_light=seems_light, guessed=varies)
    # across the threshold's band (see THRESHOLD_BAND): the typical radius is the mean of
    # the bands' medians (pooled, where one object holds about half the area, the median
    # would jump between it and the rest); the large radius is the 90th percentile of the
    # bands' objects pooled (each a third of the weight), which interpolates between the
    # largest objects' three sizes where a mean of three percentiles still steps with each
    typical, large = _typical_and_large(bands)
    # faint objects: the radius (and its floor) wider, the background averaged over more
    contrast = _typical_contrast(objects)
    faint = _faint_factor(contrast)
    measured = _radius_of(typical, large, factor * faint)
    cap = max(MIN_RADIUS, smaller_side / 4)
    radius = _within(measured, faint * min_radius, cap)
    times = "" if faint == 1.0 else (f" x {faint:.2g} (faint objects, {contrast:.2g} noise sds: "
                                     "a background averaged over more pixels)")
    reason = (f"{count} objects found: typical radius {typical:.3g} px "
              f"(90% of their area in objects up to {large:.3g} px); "
              f"radius = {factor:g} x {typical:.3g}{times} = {factor * faint * typical:.3g} px"
              f"{_adjusted(radius, factor * faint * typical, 2.0 * large, faint * min_radius)}")
    if np.any(objects.network):
        reason += ("; networks (cell outlines, membranes: many wide holes) measured by the "
                   "cells they enclose, as objects half their radius")
    fills = _one_object_fills(objects, pixels, measured, radius)
    reason += fills + _padding_note(*padded) + _field_stop_note(stop)
    # (on a light background a dark object as wide is tissue far more often than the shade
    # of the illumination; where one object fills the plane, the reason says so already)
    dominant = None if light_background or fills else _dominant(
        objects, radius, factor, min_radius, cap, len(found))
    return Suggestion(float(radius), float(typical), reason, padded, contrast, faint, dominant,
                      seems_light, _cut_share(objects, pixels))


def _dominant(objects: Objects, radius: float, factor: float, min_radius: float, cap: float,
              planes: int = 1) -> Dominant | None:
    """The fewest of the largest ``objects`` (at most ``DOMINANT_FEW`` per plane of
    ``planes``), holding at least ``DOMINANT_SHARE`` of their area, without which the others
    (at least ``DOMINANT_OTHERS``) would set a radius at most ``1 / DOMINANT_GAP`` of
    ``radius``; None where there are none. The others' radius is set as
    :func:`suggest_radius` sets it (``factor``, ``min_radius``, the ``cap``), from their own
    sizes and contrast.

    Examples
    --------
    >>> radii = np.r_[np.full(40, 3.0), 60.0, 20.0]
    >>> found = _dominant(Objects(radii, np.pi * radii**2), 100.0, 3.0, 16.0, 128.0)
    >>> (found.count, found.radius, found.others, round(found.share, 2), found.suggested)
    (2, 60.0, 40, 0.92, 16.0)
    """
    order = np.argsort(objects.radius, kind="stable")[::-1]
    contrasts = _contrasts(objects)
    for count in range(1, min(DOMINANT_FEW * planes, len(objects) - DOMINANT_OTHERS) + 1):
        rest = order[count:]
        others = Objects(objects.radius[rest], objects.area[rest], contrast=contrasts[rest])
        share = 1.0 - float(others.area.sum() / objects.area.sum())
        if share < DOMINANT_SHARE:
            continue
        typical, faint = others.quantile(0.5), _faint_factor(_typical_contrast(others))
        suggested = _within(_radius_of(typical, others.quantile(0.9), factor * faint),
                            faint * min_radius, cap)
        if DOMINANT_GAP * suggested <= radius:
            return Dominant(count, float(objects.radius[order[0]]), share, len(others),
                            typical, suggested)
    return None


def findings(suggestion: Suggestion) -> list[str]:
    """What ``radius="auto"`` warns of (:func:`light_finding`, :func:`blank_finding`,
    :func:`faint_finding`, :func:`dominant_finding`, :func:`cut_finding`): each finding and
    its fix in one line."""
    return [line for line in (light_finding(suggestion), blank_finding(suggestion),
                              faint_finding(suggestion), dominant_finding(suggestion),
                              cut_finding(suggestion)) if line]


def light_finding(suggestion: Suggestion) -> str:
    """Where ``suggestion`` was measured without ``light_background`` on planes that look
    like dark objects on a light background (:attr:`Suggestion.looks_light`), that finding
    and its fix in one line; ``""`` otherwise. A guess: a confluent fluorescent field with
    dark gaps between the cells and even noise looks the same (docs/accuracy.md, Session 35).

    Examples
    --------
    >>> light_finding(Suggestion(40.0, 12.0, "...", looks_light=True)).endswith(
    ...     "give light_background=True (on the command line --light)")
    True
    >>> light_finding(Suggestion(40.0, 12.0, "..."))
    ''
    """
    return LIGHT_MESSAGE if suggestion.looks_light else ""


def dominant_finding(suggestion: Suggestion) -> str:
    """Where a few large objects among many small ones set ``suggestion``'s radius
    (:attr:`Suggestion.dominant`), that finding and its fix in one line; ``""`` otherwise.
    A bright patch of the illumination (a laser beam's spot, a hot spot) left by the
    flattening segments as such an object, and sets a radius that cannot follow it (spots
    under a beam of sigma an eighth of the side: up to 4x Fiji's error at 50 px, and 4.5-28x
    the error at the radius the spots alone set; docs/accuracy.md, Session 32).

    Examples
    --------
    >>> beam = Dominant(1, 75.5, 0.69, 217, 2.66, 27.6)
    >>> line = dominant_finding(Suggestion(128.0, 75.5, "...", dominant=beam))
    >>> line.startswith("one object (radius 75.5 px) holds 69% of the objects' area")
    True
    >>> line.endswith("rather than objects to keep, give radius=27.6")
    True
    >>> findings(Suggestion(128.0, 75.5, "...", dominant=beam)) == [line]
    True
    """
    found = suggestion.dominant
    if found is None:
        return ""
    one = found.count == 1
    which = (f"one object (radius {found.radius:.3g} px) holds" if one else
             f"{found.count} objects (radius up to {found.radius:.3g} px) hold")
    patch = "it is a bright patch" if one else "they are bright patches"
    return (f"{which} "
            f"{found.share:.0%} of the objects' area and set radius=\"auto\" to "
            f"{suggestion.radius:.3g} px, while {found.others} smaller ones are typically "
            f"{found.others_radius:.3g} px: if {patch} of the illumination (a laser beam's "
            f"spot, a hot spot) rather than objects to keep, give radius={found.suggested:.3g}")


def cut_finding(suggestion: Suggestion) -> str:
    """Where objects cut by the image's edge hold most of the objects' area
    (:attr:`Suggestion.cut_share`, at least ``CUT_BY_EDGE``), that finding and its fix in one
    line; ``""`` otherwise. An image a few objects wide (a crop): the cut objects measure
    short, and over so few background pixels the default's background may rise into the
    objects. On crops of generated fields (objects of radius 3-30 px, crops 48-256 px a side:
    256 cases) the default lost to the rolling ball in 28, 19 of them warned of, and 38 of
    the 228 it won were warned of too (docs/accuracy.md, Session 48).

    Examples
    --------
    >>> line = cut_finding(Suggestion(16.0, 6.5, "...", cut_share=0.9))
    >>> line.startswith("90% of the objects' area lies in objects cut by the image's edge")
    True
    >>> cut_finding(Suggestion(16.0, 6.5, "...", cut_share=0.2))
    ''
    """
    if not suggestion.cut_share >= CUT_BY_EDGE:
        return ""
    return (f"{suggestion.cut_share:.0%} of the objects' area lies in objects cut by the "
            f"image's edge: an image a few objects wide, where they measure short "
            f"(radius=\"auto\" took {suggestion.radius:.3g} px) and the background may rise "
            "into them; correct the whole field and crop afterwards, or give radius= 3x "
            "their radius")


def blank_finding(suggestion: Suggestion) -> str:
    """Where ``suggestion`` found no object in planes that vary and fell back to a fraction of
    the image's side (:attr:`Suggestion.guessed`), that finding and its fix in one line;
    ``""`` otherwise. Right for a blank field (an empty well, a plane outside the sample),
    where any wide radius does; a guess where the objects are too faint to stand out of the
    noise: on 144 generated cases 3 fell back, all holding objects (0.1-0.8 noise sds above
    the background), which kept 34-60 % of their light (docs/accuracy.md, Session 49).

    Examples
    --------
    >>> line = blank_finding(Suggestion(32.0, float("nan"), "...", guessed=True))
    >>> line.startswith('radius="auto" found no object standing out of the noise and took 32 px')
    True
    >>> blank_finding(Suggestion(40.0, 12.0, "..."))
    ''

    A constant image holds no object for sure: nothing to warn of.
    """
    if not suggestion.guessed:
        return ""
    return (f"radius=\"auto\" found no object standing out of the noise and took "
            f"{suggestion.radius:.3g} px, a fraction of the image's side: right for a blank "
            "field; if the image holds objects (too faint to measure), give radius= 3x their "
            "radius, or average frames or bin pixels for more signal")


def faint_finding(suggestion: Suggestion) -> str:
    """Where ``suggestion`` found faint objects (under ``FAINT_WARN`` noise sds a pixel above
    their surroundings, on average, as measured: over the threshold, which reads faint objects
    brighter than they are), that finding and its fix in one line; ``""`` otherwise (and
    where no object was found). Its wider radius (``FAINT``) takes less of their light, but
    not none: on 144 generated cases, the objects of 23 of the 31 so warned kept under 95 %
    of their light, of 27 of the 113 others (docs/accuracy.md, Session 49)."""
    if not suggestion.contrast < FAINT_WARN:
        return ""
    return (f"the objects rise {suggestion.contrast:.2g} noise sds a pixel above their "
            f"surroundings on average: radius=\"auto\" took {suggestion.radius:.3g} px, "
            f"{suggestion.faint:.2g}x as wide as for bright objects, and the background may "
            "still take part of their light; more signal (a longer exposure, binning) helps, "
            "or a wider radius where the background is smooth")


def warn_of_findings(suggestion: Suggestion, stacklevel: int = 4) -> None:
    """A :class:`~bgsub.BackgroundWarning` of each of :func:`findings`."""
    for finding in findings(suggestion):
        warn(finding, stacklevel=stacklevel)


def depth_radius(volume: Any, radius: float, light_background: bool = False) -> float:
    """``radius="auto"``'s radius along Z of a true 3D ``volume`` (Z, Y, X) of unknown voxel
    size: ``FACTOR`` x the objects' half-depth in planes, at least one plane, as the Y, X
    ``radius`` is ``FACTOR`` x their radius; NaN where it cannot be measured (fewer than
    ``DEPTH_FEWEST`` planes, values that are not finite, no object).

    Each plane (at most ``DEPTH_PLANES`` around the middle, on at most ``DEPTH_SIDE`` cells a
    side) less its Gaussian over ``DEPTH_FLATTEN`` x the radius is thresholded at Otsu's level
    over the volume; an ellipsoid's mean chord along Z is 4/3 of its half-depth, so the
    half-depth is 3/4 of the object cells' mean run along Z. On the 48 stacks of
    ``benchmarks/families_outside.py`` (seeds 0-47) it came within 1.5x of the true half-depth
    on 30, 1.13x too deep on average (the generator's blur along Z), and the estimate with it
    missed by 0.84x the plane-by-plane error (geometric mean; 32 cases better by over 10 %,
    6 worse), about as with the true depth (0.83x), where the Y, X radius along Z missed by
    2.48x; on the two real stacks under added fields (docs/accuracy.md, Session 50) by
    0.29-0.96x, against 0.37-7.6x.

    Examples
    --------
    >>> zz, yy, xx = np.mgrid[:24, :96, :96]
    >>> volume = np.zeros((24, 96, 96))
    >>> for cy, cx in [(20, 20), (20, 70), (70, 30), (65, 75)]:
    ...     inside = ((zz - 12) / 4) ** 2 + ((yy - cy) ** 2 + (xx - cx) ** 2) / 100 <= 1
    ...     volume[inside] += 50.0
    >>> volume += np.random.default_rng(0).normal(0, 1, volume.shape)
    >>> 9.0 < depth_radius(volume, 30.0) < 15.0  # 3 x the half-depth of 4 planes
    True
    """
    planes = volume.shape[0]
    if planes < DEPTH_FEWEST:
        return float("nan")
    first = max(0, (planes - DEPTH_PLANES) // 2)
    cells, step = [], 1
    for z in range(first, min(planes, first + DEPTH_PLANES)):
        plane, step = coarse_cells(np.asarray(volume[z]), DEPTH_SIDE, light_background)
        cells.append(plane.astype(np.float32))
    stack = np.stack(cells)
    if not np.isfinite(stack).all():
        return float("nan")
    sigma = DEPTH_FLATTEN * radius / step
    stack -= ndi.gaussian_filter(stack, (0.0, sigma, sigma), mode="nearest")
    objects = stack > _otsu(stack)
    runs = int(np.count_nonzero(objects[0])) + int(np.count_nonzero(objects[1:] & ~objects[:-1]))
    if not runs:
        return float("nan")
    return max(1.0, FACTOR * 0.75 * float(np.count_nonzero(objects)) / runs)


def volume_radius_finding(radius: float, planes: int) -> str:
    """What to say where the automatic ``radius`` reaches along Z of a true 3D volume of
    ``planes`` planes without a ``spacing`` and without a measured depth
    (:func:`depth_radius`: too few planes; napari's *Auto*, which sets one number): the
    objects were measured in its Y, X planes only, and the same number of pixels along Z is
    right only for cubic voxels. On the 48 stacks of ``benchmarks/families_outside.py``
    (seeds 0-47: 5-20 planes, objects 0.5-3 planes deep, the haze changing from plane to plane)
    it missed by 2.48x (geometric mean) the plane-by-plane estimate's error (17 of 48 worse
    than Fiji's ball, against 2), and by 0.83x with a Z radius of 3x the objects' half-depth in
    planes (33 better by over 10 %, 7 worse).

    Examples
    --------
    >>> volume_radius_finding(16.0, 2)[:60]
    'radius="auto" measured the objects in the Y, X planes only: '
    """
    reach = "more than the stack's" if radius >= planes else "in a stack of"
    return (f'radius="auto" measured the objects in the Y, X planes only: with true_3d '
            f"(--3d) and no spacing it reaches as far along Z ({radius:.3g} planes, {reach} "
            f"{planes}), right only for cubic voxels; give spacing=(dz, dy, dx) "
            "(--spacing Z,Y,X) to scale it, or a radius per axis, e.g. "
            f"radius=(rz, {radius:.3g}, {radius:.3g}) with rz about 3x the objects' "
            "half-depth in planes")


def warn_of_volume_radius(radius: float, planes: int, stacklevel: int = 4) -> None:
    """A :class:`~bgsub.BackgroundWarning` of :func:`volume_radius_finding`."""
    warn(volume_radius_finding(radius, planes), stacklevel=stacklevel)


def _padding_of(plane: np.ndarray, light_background: bool) -> tuple[float, float]:
    """:func:`bgsub._padding.padding_share` of one plane as :func:`_planes` yields it (a
    float plane of a light background negated: its padding, at the maximum, is then the
    minimum, and its value is told back in the image's own sign)."""
    negated = light_background and plane.dtype.kind == "f"
    share, value = padding_share(plane[None], light_background and not negated)
    return share, (-value if negated else value)


def _padding_note(share: float, value: float) -> str:
    """For the reason, where the planes measured hold padding (solid regions of one extreme
    value reaching the edge): the objects were measured with it; ``missing=`` leaves it out.
    (The estimate's own warning is the engine's.)"""
    if not share > 0:
        return ""
    return (f"; {padding_finding(share, value)}: give missing={value:g} (--missing {value:g}) "
            "to leave it out")


def _field_stop_note(share: float) -> str:
    """For the reason, where the planes measured look like a field stop's disc of light
    (:func:`bgsub._field_stop.field_stop_share`); the estimate's own warning is the
    engine's."""
    if not share > 0:
        return ""
    return (f"; {field_stop_finding(share)}: if it is a field stop's, mark the surround NaN "
            "or crop inside the disc")


def _one_object_fills(objects: Objects, pixels: int, measured: float, radius: float) -> str:
    """For the reason, where the radius was capped because one object covers most of a plane
    (``pixels``): a tissue section, a confluent sheet, or the bright disc of a field stop, in
    which the objects to keep may lie unmeasured. Not a warning: on the benchmark's tissue
    and bright-field images (16 of 155) the capped radius serves well."""
    if not len(objects) or measured <= radius:
        return ""
    share = float(objects.area.max()) / max(pixels, 1)
    if share < ONE_OBJECT_FILLS:
        return ""
    return (f"; one object covers {100 * min(share, 1.0):.0f} % of the image (a tissue "
            "section, a confluent sheet, or a field stop's bright disc): if the objects to "
            "keep lie inside it, give radius= 3x their radius")


def _adjusted(radius: float, scaled: float, covering: float, floor: float) -> str:
    """What moved the suggested ``radius`` from ``scaled`` (factor x the typical object
    radius), for the reason: the largest objects (twice their radius, ``covering``), the
    ``floor``, the cap."""
    notes, reached = [], scaled
    if covering > reached + 1e-9:
        reached = covering
        notes.append(f"raised to {reached:.3g} px to cover the largest objects")
    if floor > reached + 1e-9 and radius > reached + 1e-9:
        reached = min(radius, floor)
        notes.append(f"raised to {reached:.3g} px: a narrower background follows the noise")
    if radius < reached - 1e-9:
        notes.append(f"capped at {radius:.3g} px, a quarter of the image's smaller side")
    return "".join(f" ({note})" for note in notes)


def _pooled(found: list[Objects]) -> Objects:
    return Objects(np.concatenate([o.radius for o in found]),
                   np.concatenate([o.area for o in found]),
                   np.concatenate([_flags(o, o.network) for o in found]),
                   contrast=np.concatenate([_contrasts(o) for o in found]),
                   cut=np.concatenate([_flags(o, o.cut) for o in found]))


def _cut_share(objects: Objects, pixels: int) -> float:
    """The share of ``objects``' area in compact ones cut by the edge of their plane (of
    ``pixels``; compact: at most ``CUT_COMPACT`` times the area of a disc of their inscribed
    radius -- a filament or a network crosses the edge by being long, not because the image
    is a crop); ``nan`` where there are none, or where one of them covers
    ``ONE_OBJECT_FILLS`` of the plane (a tissue section, a confluent sheet: the objects to
    keep lie inside it)."""
    total = float(objects.area.sum())
    if not total > 0 or float(objects.area.max()) >= ONE_OBJECT_FILLS * pixels:
        return float("nan")
    compact = objects.area <= CUT_COMPACT * np.pi * objects.radius**2
    return float(objects.area[_flags(objects, objects.cut) & compact].sum()) / total


def _contrasts(objects: Objects) -> np.ndarray:
    if objects.contrast is None:
        return np.full(len(objects), np.nan)
    return np.asarray(objects.contrast, dtype=np.float64)


def _flags(objects: Objects, flags: np.ndarray | None) -> np.ndarray:
    """One of ``objects``' per-object flags (``network``, ``cut``) as booleans, all False
    where it was not measured (None)."""
    if flags is None:
        return np.zeros(len(objects), dtype=bool)
    return np.asarray(flags, dtype=bool)


def measure_objects(plane: np.ndarray) -> Objects:
    """Connected objects of a 2D image and their inscribed radii.

    Parameters
    ----------
    plane : ndarray
        2D image without NaN, objects brighter than the background.

    Returns
    -------
    Objects
        Radii and areas in pixels of ``plane``.

    Examples
    --------
    >>> img = np.zeros((64, 64)); yy, xx = np.mgrid[:64, :64]
    >>> img[(yy - 32) ** 2 + (xx - 32) ** 2 <= 36] = 100.0
    >>> img += np.random.default_rng(0).normal(0, 1, img.shape)
    >>> objects = measure_objects(img)
    >>> len(objects), 5 < objects.quantile(0.5) < 7
    (1, True)
    """
    return _measure(np.asarray(plane, dtype=np.float64))[0]


def _measure(plane: np.ndarray, negate: bool = False, check_light: bool = False
             ) -> tuple[Objects, bool]:
    """:func:`measure_objects` of ``plane`` read as float64 and negated where ``negate`` (an
    integer plane as it is: only its block means, or its crop's rows, become float64 -- the
    same values and layouts, without a float64 copy of the whole plane), and, where
    ``check_light``, whether it looks like dark objects on a light background
    (:func:`bgsub._polarity.looks_light`, on the same cells)."""
    cells, step = coarse_cells(plane, MEASURE_SIDE, negate)
    light = check_light and looks_light(cells)
    objects = _segment(cells, step)
    del cells  # (not held through a second measurement)
    # (objects a few cells wide, or none at all -- small dense spots average out over the
    # cells: objects of radius 2-3 px covering half of a 2048 px field stood out nowhere, and
    # the radius fell back to an eighth of the side -- are measured again at full resolution)
    if step > 1 and (not len(objects) or objects.quantile(0.5) < 3 * step):
        windows = _crop_windows(plane.shape)
        crops = [_segment_crop(plane, windows[0], negate)]
        if not len(crops[0]) and len(objects):
            # (none in the middle, but the cells hold objects around it -- cells grown at a
            # well's rim: 1,500 spots of 3 px, none within 300 px of the middle of a 1200 px
            # field, fell back to a blank field's radius, 150 px, warned of as blank): the
            # windows around the quadrants' middles too
            crops += [_segment_crop(plane, window, negate) for window in windows[1:]]
        found = [crop for crop in crops if len(crop)]
        pooled = _pooled_bands(found) if found else None
        share = min(1.0, len(crops) * math.prod(min(n, MEASURE_SIDE) for n in plane.shape)
                    / plane.size)
        if pooled is not None and (len(crops) == 1
                                   or _typical_contrast(pooled) >= FAINT[1]):
            objects = _with_large(pooled, objects, LARGE_CELLS * step, share)
        else:  # (a blank middle, with at most faint specks around it: the blank field's
            # fallback, wider, suits objects that faint better -- 3 generated fields of objects
            # at 0.3-0.6 noise sds missed by 1.1-2.5x more at the specks' radius)
            objects = crops[0]
    return objects, light


def _crop_windows(shape: tuple[int, ...]) -> list[tuple[slice, slice]]:
    """The full-resolution windows of at most ``MEASURE_SIDE`` px a side that small objects
    are measured on: the plane's middle first, then those around each quadrant's middle
    (those that differ from it)."""
    def window(centres: tuple[float, float]) -> tuple[slice, slice]:
        return tuple(slice(start, start + min(n, MEASURE_SIDE)) for start, n in (
            (min(max(0, int(c) - MEASURE_SIDE // 2), max(0, n - MEASURE_SIDE)), n)
            for c, n in zip(centres, shape, strict=True)))

    windows = [window((0.5 * shape[0], 0.5 * shape[1]))]
    for fy in (0.25, 0.75):
        for fx in (0.25, 0.75):
            candidate = window((fy * shape[0], fx * shape[1]))
            if candidate not in windows:
                windows.append(candidate)
    return windows


def _segment_crop(plane: np.ndarray, window: tuple[slice, slice], negate: bool) -> Objects:
    """:func:`_segment` of ``plane``'s full-resolution ``window``; its objects are not told
    cut (the window's edges are not the plane's)."""
    rows, columns = window
    # (a view of whole float64 rows, as of the whole float64 plane: the same strides)
    return replace(_segment(_as_floats(plane[rows], negate)[:, columns], 1), cut=None)


def _pooled_bands(found: list[Objects]) -> Objects:
    """``found`` pooled (:func:`_pooled`), at the threshold and across its band."""
    if len(found) == 1:
        return found[0]
    bands = max(len(o.across) for o in found)
    return replace(_pooled(found), across=tuple(
        _pooled([o.across[k] if len(o.across) > k else o for o in found])
        for k in range(bands)))


def _with_large(crop: Objects, grid: Objects, large: float, share: float) -> Objects:
    """The objects of a full-resolution ``crop`` (``share`` of the plane) under ``large`` px
    in radius, their areas scaled to the whole plane, with the objects of the whole plane's
    coarse ``grid`` from ``large`` px (at each threshold of the band: :attr:`Objects.across`).

    Small objects, measured again on the crop, would otherwise leave out the plane's few
    large ones: three objects of radius 60-80 px among 3-px ones (18 % of the objects' area,
    off the crop) were not measured, the radius was 20 px and took 27 % of the objects'
    light (``benchmarks/families_outside.py``, ``sizes`` s96; docs/accuracy.md, Session 51).

    Examples
    --------
    >>> crop = Objects(np.array([3.0, 3.5, 40.0]), np.array([28.0, 38.0, 5000.0]))
    >>> grid = Objects(np.array([4.0, 40.0, 70.0]), np.array([50.0, 5000.0, 15000.0]))
    >>> both = _with_large(crop, grid, 16.0, 0.25)
    >>> both.radius.tolist(), both.area.tolist()
    ([3.0, 3.5, 40.0, 70.0], [112.0, 152.0, 5000.0, 15000.0])
    """

    def joined(fine: Objects, coarse: Objects) -> Objects:
        small, wide = fine.radius < large, coarse.radius >= large
        return Objects(
            np.concatenate([fine.radius[small], coarse.radius[wide]]),
            np.concatenate([fine.area[small] / share, coarse.area[wide]]),
            np.concatenate([_flags(fine, fine.network)[small],
                            _flags(coarse, coarse.network)[wide]]),
            contrast=np.concatenate([_contrasts(fine)[small], _contrasts(coarse)[wide]]),
            cut=np.concatenate([_flags(fine, fine.cut)[small], _flags(coarse, coarse.cut)[wide]]))

    if not np.any(grid.radius >= large):
        return crop
    coarse_across = grid.across or (grid,) * len(crop.across)
    return replace(joined(crop, grid), across=tuple(
        joined(fine, coarse) for fine, coarse in zip(crop.across, coarse_across, strict=False)))


def _as_floats(values: np.ndarray, negate: bool) -> np.ndarray:
    """``values`` as float64 (itself when it is), negated where ``negate``."""
    values = np.asarray(values, dtype=np.float64)
    return -values if negate else values


def _segment(cells: np.ndarray, step: int) -> Objects:
    """Otsu objects of ``cells`` (each ``step`` pixels a side), holes filled; measured in a
    unit that brings their span into an ordinary range (:func:`bgsub._arrays.ordinary_unit`:
    a plane spanning 1e-14 or 1e200 would meet absolute guards that do not scale)."""
    if min(cells.shape) < 8:
        return Objects(np.empty(0), np.empty(0))
    # (hot pixels, smoothed over their neighbours, would lift Otsu's threshold; dead ones
    # would sink the flattening's envelope around them: the objects measured grew to the
    # fallback's size where 0.02 % of the pixels were dead pairs)
    cells = clip_outliers(in_ordinary_unit(cells)[0])
    cells = raise_cold_pixels(cells)
    smoothed = direct_gaussian_filter(cells, 1.0, mode="nearest")
    side = min(cells.shape)
    # the cells' noise is measured on a second thread meanwhile (NumPy's and SciPy's loops
    # release the GIL): the same values, sooner where a core is free
    with ThreadPoolExecutor(1) as pool:
        model = pool.submit(estimate_noise, cells)
        scale = side / FLATTENING
        # (the noise model and trend of ``smoothed``, whatever the flattening's width:
        # measured once for all the flattenings)
        prepared = prepare_robust(smoothed, shading=False)
        flat = _flattened(smoothed, scale, prepared)
        noise = float(model.result().sd(float(median(cells)))) * SMOOTHED_CELLS
    cap = side * step / 4.0
    found = _chosen(_Flattenings(smoothed, prepared, noise, step, scale, first=flat), cap,
                    cells.size * step**2)
    if found is None:  # blank: no object (the radius falls back to a fraction of the side)
        return Objects(np.empty(0), np.empty(0))
    return found


class _Flattenings:
    """The objects of a plane measured on flattenings ``scale``, ``scale / 2``, ... cells
    wide (:func:`_segment_flat` of each), each computed once, when first asked for."""

    def __init__(self, smoothed: np.ndarray, prepared: Any, noise: float, step: int,
                 scale: float, first: np.ndarray) -> None:
        self.smoothed, self.prepared = smoothed, prepared
        self.noise, self.step, self.scale = noise, step, scale
        self._found: dict[int, Objects | None] = {0: _segment_flat(first, noise, step)}

    def at(self, k: int) -> Objects | None:
        """The objects on the flattening ``scale / 2**k`` cells wide (``None``: blank)."""
        if k not in self._found:
            self._found[k] = _segment_flat(
                _flattened(self.smoothed, self.scale / 2**k, self.prepared), self.noise,
                self.step)
        return self._found[k]

    def width(self, k: int) -> float:
        """The flattening ``k``'s width in pixels."""
        return self.scale / 2**k * self.step


def _agreeing(flattenings: _Flattenings, cap: float, ks: range) -> int | None:
    """The first ``k`` of ``ks`` whose measurement the next flattening, half as wide,
    confirms: radii within ``CONFIRM`` of each other, not both at the ``cap`` (which is no
    measurement); ``None`` where none is."""
    for k in ks:
        wider, finer = flattenings.at(k), flattenings.at(k + 1)
        if wider is None or finer is None or not len(wider) or not len(finer):
            continue
        a, b = _radius(wider, cap), _radius(finer, cap)
        if max(a, b) <= (1.0 + CONFIRM) * min(a, b) and min(a, b) < cap:
            return k
    return None


def _chosen(flattenings: _Flattenings, cap: float, pixels: float) -> Objects | None:
    """The objects measured on the first flattening, or on a finer one where the first
    sets a radius wider than itself (:func:`_chain`), reviewed against two neighbouring
    flattenings that agree (:func:`_agreeing`).

    Real objects measure alike on flattenings of any width that bridges them, while a
    smooth field's residue that a wide flattening leaves (a crest, a hot spot) shrinks with
    the flattening, as do the pieces that a narrow one cuts from objects or their texture.
    So (1) where the chain went on past an agreeing pair to objects under ``CUT`` of their
    size (a narrow flattening cut textured nuclei into their chromatin's spots), the pair's
    measurement is taken; (2) where the chain stopped at the first flattening only because
    its objects covered over ``FINER_COVER`` of the plane (a steep field's residue joining
    touching nuclei into clumps) and the next two flattenings agree, theirs is."""
    taken, covered = _chain(flattenings, cap, pixels)
    if taken > 0:
        pair = _agreeing(flattenings, cap, range(taken - 1))
        if pair is not None and (_radius(flattenings.at(taken), cap)
                                 < CUT * _radius(flattenings.at(pair), cap)):
            return flattenings.at(pair)
    elif covered:
        pair = _agreeing(flattenings, cap, range(1, FINER_STEPS))
        if pair is not None:
            return flattenings.at(pair)
    return flattenings.at(taken)


def _chain(flattenings: _Flattenings, cap: float, pixels: float) -> tuple[int, bool]:
    """Which flattening's objects to take before the review (:func:`_chosen`): the first, or
    a finer one where the first sets a radius wider than itself (see below); and whether the
    chain stopped at the first only because its objects covered over ``FINER_COVER`` of the
    plane."""
    found = 0
    for k in range(FINER_STEPS):  # (on the flattening k: the chain goes on only to k + 1)
        # a smooth field's crest or slope that the flattening left (a strong wave's, a hot
        # spot's) is segmented as objects as wide as the flattening; where the objects found
        # would set a radius wider than the flattening that found them, they are measured again
        # on a flattening half as wide, which removes such a residue but not real objects
        # (the noise-aware background bridges them): the finer measurement is taken where
        # it finds the objects smaller than the last one taken by FINER_DROP, and the chain
        # goes on while they shrink (a crest may shrink by less than that in one halving)
        # (the radii as suggest_radius caps them, at a quarter of the side: a field filled
        # by one wide object, which the finer flattenings cut into, keeps its radius)
        # (only where the objects cover under FINER_COVER of the plane: a field filled by
        # tissue, which the finer flattenings cut up, keeps the first measurement)
        # (and never narrower than FINER_FIT of the objects' typical radius: a narrower
        # flattening cuts into real objects and texture alike, measuring the pieces)
        objects = flattenings.at(k)
        if objects is None or _radius(objects, cap) <= flattenings.width(k):
            break
        fits = (flattenings.width(k) / 2.0
                >= FINER_FIT * _typical_and_large([objects, *objects.across])[0])
        if float(objects.area.sum()) >= FINER_COVER * pixels:
            return found, k == 0 and fits
        if not fits:
            break
        finer = flattenings.at(k + 1)
        if finer is None or _radius(finer, cap) >= _radius(objects, cap):
            break
        if _radius(finer, cap) < FINER_DROP * _radius(flattenings.at(found), cap):
            found = k + 1
    return found, False


def _flattened(smoothed: np.ndarray, scale: float, prepared: Any) -> np.ndarray:
    """``smoothed`` less its noise-aware background at ``scale`` cells (``prepared``:
    :func:`prepare_robust` of ``smoothed``, without the noise's shading)."""
    # (a dense field is fine here: not warned of; one noise level for the plane: the objects
    # are measured as before the noise's shading was taken into robust_background)
    return smoothed - robust_background(smoothed, (scale,) * 2, prepared=prepared,
                                        follow=FLATTENING_FOLLOW, steeper=0, warn=False)


def _radius(objects: Objects, cap: float) -> float:
    """The radius :func:`suggest_radius` would set (``factor`` FACTOR) from one plane's
    objects, at most ``cap``."""
    typical, large = _typical_and_large([objects, *objects.across])
    return min(_radius_of(typical, large, FACTOR), cap)


def _typical_and_large(bands: list[Objects]) -> tuple[float, float]:
    """The typical object radius (the mean of the bands' medians) and the large one (the 90th
    percentile of the bands' objects pooled)."""
    typical = float(np.mean([b.quantile(0.5) for b in bands if len(b)]))
    return typical, _pooled(bands).quantile(0.9)


def _typical_contrast(objects: Objects) -> float:
    """The objects' typical contrast: the area-weighted median of their mean rise, in noise
    sds of one pixel (``nan`` where not measured)."""
    contrast = _contrasts(objects)
    known = np.isfinite(contrast)
    if not np.any(known):
        return float("nan")
    return Objects(contrast[known], objects.area[known]).quantile(0.5)


def _faint_factor(contrast: float) -> float:
    """How many times wider the radius is for objects of this ``contrast``: ``FAINT_FACTOR``
    at ``FAINT[0]`` noise sds or less, 1 from ``FAINT[1]``, log-linear between. Faint objects
    barely lift a pixel over the noise: a background averaged over a wider window follows
    less of the noise into them (``benchmarks/families_outside.py``, seeds 0-11: on the 29
    cases measured under 2 sds, ``robust`` at twice the radius was off by 0.81x, median, and
    better on 22).

    Examples
    --------
    >>> [round(_faint_factor(c), 2) for c in (1.0, 1.5, 2.0, 3.0, 8.0)]
    [2.0, 2.0, 1.5, 1.0, 1.0]
    """
    low, high = FAINT
    if not contrast < high:  # (nan: not measured)
        return 1.0
    share = (np.log(high) - np.log(max(contrast, low))) / (np.log(high) - np.log(low))
    return float(np.exp(share * np.log(FAINT_FACTOR)))


def _within(radius: float, floor: float, cap: float) -> float:
    """``radius`` raised to the ``floor``, then at most the ``cap`` (which wins: a small
    image's quarter side may lie under the floor)."""
    return min(max(radius, floor), cap)


def _radius_of(typical: float, large: float, factor: float) -> float:
    """``factor`` times the ``typical`` object radius, raised to cover the ``large`` objects."""
    return max(factor * typical, 2.0 * large, MIN_RADIUS)


def _segment_flat(flat: np.ndarray, noise: float, step: int) -> Objects | None:
    """The objects of a flattened plane at the threshold and across its band (``None``: the
    plane is blank)."""
    # Otsu's threshold within the lower of Otsu's two classes: between the background and
    # the objects' bodies even when bright texture inside them (chromatin) is the upper class
    upper = _otsu(flat)
    level = max(_otsu(flat[flat < upper]) if np.any(flat < upper) else upper, NOISE_LEVEL * noise)
    # the objects are also measured at thresholds THRESHOLD_BAND below and above (and
    # combined by suggest_radius, each a third of the weight): where an object's edge is shallow, a
    # field's residual after the flattening (a fraction of a noise sd) moves its edge by a
    # pixel, and its inscribed radius by a whole distance step (a faint streak's 7.56 -> 8.99
    # px); pooled, the size distribution moves by a third of that at each crossing, the
    # crossings spread over the band
    # (the band's thresholds on another thread meanwhile, one after the other: the same
    # values, sooner where a core is free; wasted only on a blank field. One thread, not one
    # each: on two cores no sooner, and three sets of labels at once took the peak at
    # 1024x1024 from 4.6-5.7 to 5.3-7.1 image buffers)
    with ThreadPoolExecutor(1) as pool:
        band = [pool.submit(_objects, flat, level * (1.0 + k * THRESHOLD_BAND), noise, step,
                            False) for k in THRESHOLD_STEPS[1:]]
        found = [_objects(flat, level, noise, step, blank_test=True)]
        found += [f.result() for f in band]
    if found[0] is None:
        return None
    main = found[0]
    return Objects(main.radius, main.area, main.network, tuple(found[1:]), main.contrast,
                   main.cut)


def _objects(flat: np.ndarray, level: float, noise: float, step: int,
             blank_test: bool) -> Objects | None:
    """The filled objects above ``level`` in ``flat`` and their inscribed radii; ``None``
    when ``blank_test`` and no object rises clearly out of the noise (see below)."""
    raw = flat > level
    rest, edge = _holes(raw)
    mask = binary_opening_cross(~edge[rest])  # holes filled (ndi.binary_opening's values)
    labels, count = ndi.label(mask)
    if count == 0:
        return None if blank_test else Objects(np.empty(0), np.empty(0), np.empty(0, bool))
    # each object's largest distance to its edge on a second thread meanwhile (the same
    # values, sooner): ndi.distance_transform_edt's, without the distances as an image
    with ThreadPoolExecutor(1) as pool:
        inscribed = pool.submit(largest_distance_by_label, mask, labels, count)
        # (ndi.sum_labels(mask, labels, index)'s values: each label's pixel count, 3x sooner)
        area = np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.float64)
        if blank_test:
            # a field holds objects only where one rises clearly out of the noise:
            # PEAK_LEVEL noise sds above its surroundings. On a blank field (an empty well, a
            # plane outside the sample) the flattening leaves the noise's centre above 0
            # and, under a steep field, low hills; there the smoothed noise reaches
            # NOISE_LEVEL in a few specks of a pixel or two, which would set a radius of a
            # few pixels, but never PEAK_LEVEL above its surroundings
            centre = _noise_centre(flat, noise)
            peak = _rise(flat, mask, labels, count, max(0.0, centre))
    inscribed = inscribed.result()[1:]
    # a network is measured by the cells it encloses, not as one object as wide as itself
    network = _network_radius(raw, rest, edge, labels, count, area)
    is_network = network < inscribed
    # (in distance-transform units: half a pixel beyond the radius, as the inscribed radii)
    inscribed = np.where(is_network, NETWORK_OBJECTS * (network - 0.5) + 0.5, inscribed)
    keep = area >= MIN_AREA
    # the noise model (pixel differences, white noise smoothed) under-estimates correlated
    # noise (a cryo-electron tomogram's, an interpolated or denoised image's): its blobs
    # rise PEAK_LEVEL model sds; the flattened background's own spread measures them
    if blank_test and (not np.any(peak[keep] >= PEAK_LEVEL * noise) or not np.any(
            peak[keep] >= PEAK_LEVEL * _background_spread(flat, noise, centre))):
        return None
    # each object's mean rise in noise sds of one pixel (the cells' noise is the smoothed
    # cells' ``noise`` before the smoothing; a cell averages step x step pixels)
    rise = np.bincount(labels.ravel(), flat.ravel(), minlength=count + 1)[1:] / area
    contrast = rise / (noise / SMOOTHED_CELLS * step)
    # the distance transform reaches the first pixel outside: half a pixel beyond the edge
    return Objects((np.asarray(inscribed)[keep] - 0.5) * step, area[keep] * step**2,
                   is_network[keep], contrast=contrast[keep], cut=_touching_edge(labels,
                                                                                 count)[keep])


def _touching_edge(labels: np.ndarray, count: int) -> np.ndarray:
    """Which of the ``count`` labelled objects touch the image's edge."""
    touching = np.zeros(count + 1, dtype=bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touching[side] = True
    return touching[1:]


def _holes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 4-connected parts of the rest of ``mask`` (labels, 0 on the mask) and which of
    them touch the image's edge: ``~edge[rest]`` is ``ndi.binary_fill_holes(mask)`` of a 2D
    mask (the same pixels, 3x faster)."""
    rest, count = ndi.label(~mask)
    # (label 0, the mask itself, is no part of the rest)
    return rest, np.concatenate(([False], _touching_edge(rest, count)))


def _network_radius(raw: np.ndarray, rest: np.ndarray, edge: np.ndarray, labels: np.ndarray,
                    count: int, area: np.ndarray) -> np.ndarray:
    """Each filled object's radius as a network (in distance-transform units, as the
    inscribed radii), ``inf`` for an object that is not one.

    A network encloses at least ``NETWORK_HOLES`` holes at least ``NETWORK_HOLE`` cells wide,
    together at least ``NETWORK_SHARE`` of its filled area, with thin walls: their typical
    half-width (twice their mean distance to their edge: a strip's half-width) at most
    ``NETWORK_WALL`` times the cells' radius. Filled, it is one object as wide as itself, and
    a ball that wide bridges its cells; a ball about its cells' size already stays under
    its walls. So its radius is that of the cells it encloses (the caller counts it as
    objects ``NETWORK_OBJECTS`` as wide): three times its holes' mean
    distance to their edge (a disk's radius; pooled over all its holes' pixels, it moves
    little when a hole splits or merges, where a median of the holes' own radii jumps). Thick
    walls around wide holes (tissue, a clump of touching cells) stay one filled object."""
    radius = np.full(count, np.inf)
    size = np.bincount(rest.ravel())
    wide = ~edge & (size >= np.pi * NETWORK_HOLE**2)
    wide[0] = False
    if np.count_nonzero(wide) < NETWORK_HOLES:  # (the usual case: nothing more to measure)
        return radius
    hole = ~edge
    hole[0] = False
    inside = hole[rest]
    ids = rest[inside]
    distance = distance_transform_edt(inside)
    width = np.zeros(size.size)  # each hole's inscribed radius
    np.maximum.at(width, ids, distance[inside])
    owner = np.zeros(size.size, dtype=np.intp)  # the object around each hole
    np.maximum.at(owner, ids, labels[inside])
    # (a distance transform reaches the first pixel outside: half a pixel beyond the edge, as
    # for the inscribed radii; the means and medians below are converted to those units)
    for k in np.unique(owner[wide & (width >= NETWORK_HOLE)]):
        if k == 0:
            continue
        own = hole & (owner == k)
        big = own & (width >= NETWORK_HOLE)
        if (np.count_nonzero(big) < NETWORK_HOLES
                or size[big].sum() < NETWORK_SHARE * area[k - 1]):
            continue
        cells = 3.0 * (float(distance[own[rest] & inside].mean()) - 0.5) + 0.5
        walls = raw & (labels == k)
        half_width = 2.0 * (float(distance_transform_edt(walls)[walls].mean()) - 0.5) + 0.5
        if half_width <= NETWORK_WALL * cells:
            radius[k - 1] = cells
    return radius


def _rise(flat: np.ndarray, mask: np.ndarray, labels: np.ndarray, count: int,
          default: float) -> np.ndarray:
    """Each object's highest rise above its surroundings: the mean of the pixels outside
    ``mask`` in a Gaussian window of ``SURROUND`` cells (a normalised convolution, on blocks
    of 4 x 4 cells), ``default`` where no such pixel is near."""
    step = 4
    outside = (~mask).astype(np.float64)
    weight = direct_gaussian_filter(plane_block_means(outside, step), SURROUND / step,
                                    mode="nearest")
    level = direct_gaussian_filter(plane_block_means(np.multiply(flat, outside, out=outside), step),
                                   SURROUND / step, mode="nearest")
    del outside
    near = weight > 0.05
    around = np.where(near, level / np.where(near, weight, 1.0), default)
    ys, xs = np.nonzero(mask)
    rise = flat[ys, xs] - around[np.minimum(ys // step, around.shape[0] - 1),
                                 np.minimum(xs // step, around.shape[1] - 1)]
    peak = np.full(count + 1, -np.inf)
    np.maximum.at(peak, labels[ys, xs], rise)
    return peak[1:]


def _noise_centre(flat: np.ndarray, noise: float) -> float:
    """The flattened image's background peak: mean shift from 0 with a window of 2 noise sds
    either side (on every fourth row and column)."""
    values = flat[::4, ::4].ravel()
    centre = 0.0
    for _ in range(10):
        near = values[np.abs(values - centre) < 2.0 * noise]
        if near.size == 0:
            break
        moved, centre = centre, float(near.mean())
        if abs(centre - moved) < 0.01 * noise:
            break
    return centre


def _background_spread(flat: np.ndarray, noise: float, centre: float) -> float:
    """The flattened image's background spread: the MAD-based sd of its values below the
    background peak ``centre`` (mirrored: the objects lie above), on every second row and
    column. Where it exceeds ``noise`` (correlated noise) the peak is looked for again with
    a window that wide (the narrow one stops short of it) and the spread measured again."""
    values = flat[::2, ::2]
    spread = _spread_below(values, centre)
    if spread > noise:
        spread = _spread_below(values, _noise_centre(flat, spread))
    return spread


def _spread_below(values: np.ndarray, centre: float) -> float:
    """The MAD-based sd of ``values`` below ``centre``, mirrored (0 when none is)."""
    below = centre - values[values < centre]
    return MAD_TO_SD * float(median(below)) if below.size else 0.0


def _otsu(values: np.ndarray) -> float:
    from skimage.filters import threshold_otsu

    low, high = percentiles(values, [0.1, 99.9])
    if not high > low:
        return float(high)
    # threshold_otsu(np.clip(values, low, high))'s value: its histogram (the clipped values'
    # extremes are low and high), 2x sooner without the copy
    return float(threshold_otsu(hist=clipped_histogram_centres(values, low, high)))


def quality(
    image: Any,
    background: Any,
    *,
    axes: str | None = None,
    light_background: bool = False,
    object_radius: float | None = None,
    missing: float | None = None,
) -> dict[str, float]:
    """Score a background without ground truth.

    Measurements on the foreground ``image - background`` (reversed with
    ``light_background``), combined into an estimate of the background's error:

    * ``object_signal_in_background`` -- how much of the objects' structure
      the background repeats: the objects' detail (a second-order Gaussian
      high-pass -- the high-pass of the high-pass, blind to a curved field as
      to a tilted one -- at twice the object radius of the lightly smoothed
      image, less the background its surroundings show -- see below) is split
      into its bright and its dark part, the background's detail (the same
      high-pass) is fitted on both (least squares), and the fit's RMS, less
      what the same fit explains by chance (on the objects' detail flipped),
      is taken over the objects' detail's RMS.
      0: none; 1: the background follows the objects entirely (radius far too
      small). A background that dips under the objects (pulled down by dark
      halos) counts as well as one that follows them up.
    * ``copied_level`` -- that copy in noise standard deviations: the fraction
      times the RMS of the objects' detail, over the median noise sd. A small
      fraction of bright objects is a large error in grey levels.
    * ``raised_under_objects`` -- how far the background sits above (or below)
      under the objects what the background pixels around them show, in noise
      sds: the mean, over the objects, of the background less the image's
      background pixels' Gaussian-weighted mean at twice the object radius (a
      normalised convolution), times the square root of the objects' share of
      the image. A wide radius leaves a low, smooth bump under clusters of
      objects that the high-pass above barely sees; this sees it.
    * ``unevenness`` -- how flat the corrected background is: the spread
      (standard deviation) of the foreground's mean background level over an
      8x8 grid of tiles, in noise standard deviations, less the spread that
      the tiles' own noise explains (so the true background scores about 0
      at any noise level).
    * ``offset`` -- the foreground's mean background level, in noise standard
      deviations (about +2 to +3 for minimum-based methods, whose background
      rests on the bottom of the noise; 0 through its middle).

    Background pixels are those near the foreground's background peak (the
    lowest histogram peak at least a quarter as high as the highest): bright
    objects and dark halos, dilated, are left out. An object stands out of
    its surroundings at a few object radii or lies far above the background
    (5 noise sds; of the background peak's own noise where that is less than
    the noise model's, which a specimen's texture inflates), so a wide region
    where the background is too low still counts. Levels are means, not
    medians, so that on photon-counting images (a few discrete values) they
    follow the background smoothly. A tile whose background pixels vary from
    pixel to pixel (the variance of neighbours' differences) more than 16
    times as much as the background peak's own pixels do is left out of
    ``unevenness`` and ``offset``: that is a specimen's texture (faint
    tissue in bright field, too broad and faint to stand out as objects),
    whose level is no background error; a smooth error does not change it.

    ``expected_error = sqrt(copied_level**2 + raised_under_objects**2
    + unevenness**2 + offset**2)`` (noise sds) and
    ``score = 1 / (1 + expected_error)``, between 0 and 1, higher is better.

    Parameters
    ----------
    image : array_like
        The image.
    background : array_like
        Its estimated background, same shape.
    axes, light_background
        As for :func:`bgsub.estimate_background`.
    object_radius : float, optional
        The objects' radius in pixels (> 0); measured with :func:`suggest_radius`
        when omitted. NaN, which :func:`suggest_radius` gives where no object
        stood out, takes a 24th of the image's smaller side.
    missing : float, optional
        Pixels of this value are not data (a mosaic's padding), as for
        :func:`bgsub.estimate_background`: like NaN pixels, they count in
        no score (the noise, the background's peak, the tiles, the objects).

    Returns
    -------
    dict
        ``score``, ``expected_error``, ``object_signal_in_background``,
        ``copied_level``, ``raised_under_objects``, ``unevenness``, ``offset``
        (averaged over up to 8 planes) and ``object_radius``.

    Notes
    -----
    Limits: background pixels are told from objects by a noise threshold, so
    faint objects count as background and dense fields leave few background
    pixels per tile (tiles less than a tenth background are skipped; when no
    tile is left -- a small image or a field covered by objects -- a
    ``BackgroundWarning`` says so and the score counts the copied signal
    only); an error that is smooth *and* the same in every tile shows up only
    in ``offset``; where strong dark halos pull the background down
    everywhere, the background peak itself is too low and the score too
    kind; the noise is measured from the image, so a noise-free or heavily
    filtered image makes every deviation look large. The score compares
    backgrounds of the same image (radii, methods); it is not an absolute
    accuracy.

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
    image = np.asarray(check_image(image))
    background = np.asarray(check_image(background, "background"))
    light_background = check_flag(light_background, "light_background")
    object_radius = _check_object_radius(object_radius)
    if image.shape != background.shape:
        raise ValueError(f"image {image.shape} and background {background.shape} differ in "
                         "shape; pass the background estimated from this image")
    missing = check_missing(missing)
    valid = valid_pixels(image, missing)
    if valid is not None and not valid.any():
        raise ValueError("no pixel of the image is data (all NaN, inf or missing); score a "
                         "background of an image that holds some")
    if object_radius is None:
        object_radius = suggest_radius(image, axes, light_background=light_background,
                                       missing=missing).object_radius
    if not np.isfinite(object_radius):
        object_radius = min(image.shape[-2:]) / 24
    images = list(_planes(image, axes, light_background, missing=missing))
    backgrounds = list(_planes(background, axes, light_background))
    valids = ([None] * len(images) if valid is None
              else [plane > 0.5 for plane in _planes(valid, axes, False)])
    rows = [plane_quality(*_in_ordinary_unit(i, b), float(object_radius), v)
            for i, b, v in zip(images, backgrounds, valids, strict=True)]
    rows = [r for r in rows if r is not None] or [dict.fromkeys(SCORES, float("nan"))]
    result = {key: _finite_mean([r[key] for r in rows]) for key in rows[0]}
    if not (np.isfinite(result["unevenness"]) and np.isfinite(result["offset"])):
        warn("quality: too few background pixels to measure the corrected background's "
             "evenness and offset (a small image or a field covered by objects); the score "
             "counts only the objects' signal copied into the background: compare settings "
             "on a larger image or a crop with some background", stacklevel=2)
    result["expected_error"] = float(np.sqrt(result["copied_level"] ** 2
                                             + result["raised_under_objects"] ** 2
                                             + np.nan_to_num(result["unevenness"]) ** 2
                                             + np.nan_to_num(result["offset"]) ** 2))
    result["score"] = 1.0 / (1.0 + result["expected_error"])
    result["object_radius"] = float(object_radius)
    return result


def _check_object_radius(value: Any) -> float | None:
    """``quality``'s ``object_radius``: None (measure it), NaN (what :func:`suggest_radius`
    gives where no object stood out) or a finite number of pixels > 0; else a one-line error.

    Examples
    --------
    >>> _check_object_radius(0)
    Traceback (most recent call last):
    ...
    ValueError: object_radius=0 is out of range; use a number of pixels > 0, or None to measure it
    """
    if value is None or (is_number(value) and np.isnan(value)):
        return value
    radius = finite_number(value, "object_radius", "a number of pixels")
    if radius <= 0:
        raise ValueError(f"object_radius={plain(value)} is out of range; use a number of "
                         "pixels > 0, or None to measure it")
    return radius


def _in_ordinary_unit(image: np.ndarray, background: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """An image plane and its background, both times the power of two that brings the
    image's span into an ordinary range (:func:`bgsub._arrays.ordinary_unit`): the scores are
    in noise units, but their guards and kernels' widths are not."""
    image, unit = in_ordinary_unit(image)
    return image, (background if unit == 1.0 else background * unit)


def _median_in_double(values: np.ndarray) -> float:
    """``np.median`` of ``values`` (a copy, sorted in place) as NumPy finds it on their
    float64 copy: the middle value, or the float64 mean of the middle two.

    Examples
    --------
    >>> _median_in_double(np.array([1.0, 2.0, 4.0, 8.0], np.float32))
    3.0
    """
    n = values.size
    middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    values.partition(middle)
    return float(np.mean(values[middle].astype(np.float64)))


def _finite_mean(values: list[float]) -> float:
    """Mean of the finite values; NaN (without NumPy's empty-slice warning) when none is."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


# --- planes ------------------------------------------------------------------

def _planes(image: Any, axes: str | None, light_background: bool,
            progress: Callable[[int, int], Any] | None = None,
            measured: bool = False, missing: float | None = None) -> Iterator[np.ndarray]:
    """Up to ``MAX_PLANES`` evenly spaced Y-X planes, float64, NaN (and ``missing``) filled,
    dark objects negated. A Dask array stays lazy: only the chosen planes are computed.
    ``progress`` hears of each plane once the caller is done with it. ``measured`` (for the
    radius's measurement, which reads block means as float64): a plane of
    :data:`BLOCK_MEAN_DTYPES` as it is, neither converted nor negated, where it has nothing
    to fill (no ``missing``) and is of integers, or of floats on a dark background; else a
    float32 copy where that holds its values and the fill."""
    from bgsub._arrays import is_dask_array

    array = image if is_dask_array(image) else np.asarray(image)
    if array.ndim < 2:
        raise ValueError(f"image must have at least 2 dimensions (Y, X), got shape "
                         f"{array.shape}")
    layout = parse_axes(axes, array.shape, False)
    selectors = list(layout.planes(array.shape))
    chosen = np.unique(np.linspace(0, len(selectors) - 1, min(MAX_PLANES, len(selectors)))
                       .round().astype(int))
    if progress is not None:
        progress(0, len(chosen))
    # (a float plane as it is too, where it has nothing to fill or negate: its float64 copy
    # alone was two float32 copies of the image)
    raw = measured and missing is None and array.dtype in BLOCK_MEAN_DTYPES and (
        array.dtype.kind in "iu" or not light_background)
    # (else a float32 copy where it holds every value exactly, for the radius's measurement,
    # which reads its block means as float64 all the same; float64 for quality's sums)
    narrow = measured and (array.dtype == np.float32 or (
        array.dtype.kind in "iu" and array.dtype.itemsize <= 2))
    for done, i in enumerate(chosen, start=1):
        plane = np.asarray(layout.block(array, selectors[i])) if raw else None
        if plane is not None and (plane.dtype.kind in "iu" or np.isfinite(plane).all()):
            yield plane
            if progress is not None:
                progress(done, len(chosen))
            continue
        block = layout.block(array, selectors[i]) if plane is None else plane
        plane = np.array(block, dtype=np.float32 if narrow else np.float64)
        valid = valid_pixels(plane, missing, finite=array.dtype.kind not in "iub")  # ints: finite
        if valid is not None:
            fill = _median_in_double(plane[valid]) if valid.any() else 0.0
            if plane.dtype != np.float64 and float(plane.dtype.type(fill)) != fill:
                plane = plane.astype(np.float64)  # (a fill between two float32 values)
            plane[~valid] = fill
            del valid
        yield np.negative(plane, out=plane) if light_background else plane
        if progress is not None:
            progress(done, len(chosen))
