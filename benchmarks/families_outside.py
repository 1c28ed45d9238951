"""Outside families: issue #13's targets on images from a generator of our own.

``accuracy.py`` scores the default on ``_families.py``, the generator it was tuned on. This
script draws its images from an independent generator, written from the physics of
microscopy images rather than from that one (nothing is imported or copied from it), and
checks every target of issue #13 on them:

(a) the default's background RMSE is at most ImageJ's rolling ball (the pixel-exact port,
    ``bgsub.methods.imagej.imagej_background``) at Fiji's ``r = 50`` and at 3x the true
    object radius (``LOSS`` otherwise; ``LOSS(radius)`` where ``robust`` at 3x the true object
    radius beats Fiji, so that the loss is the measured radius's);
(b) the median over the cases of the default's RMSE over the best peer's is at most 0.5 (the
    peers at their best radius among 2, 3, 4, 6x the true object radius, chosen with the
    truth: the exact rolling ball -- bgsub's, equal to ``skimage.restoration.rolling_ball``
    and seconds where that takes minutes --, OpenCV's grey opening (elliptic kernel), SciPy's
    median filter (on every k-th pixel, interpolated back, where the full one would take
    minutes) and ImageJ);
(c) the background stays inside [local minimum - 3 sigma, local maximum] of the image over a
    window of the radius (``BOUND`` where more than 0.1 % of the pixels leave it; sigma is the
    true noise sd at the true background, per pixel), and the objects keep at least 95 % of
    their true integrated intensity in the foreground (``KEPT``; the summary gives the same
    share after Fiji's default, whose ball lies under the background and so mostly passes
    "at least 95 %" by adding light: within 95-105 % is the fair comparison);
(d) the error is smooth in the radius: ``robust`` at 0.95 and 1.05 x the default's radius
    changes the RMSE by at most 25 % (``STEP``).

Families (every parameter drawn from the seed; ``--families`` picks some):

* ``spots``: Gaussian-profile spots (sigma r / 2) and flat-top disks mixed, r 2-12 px;
* ``cells``: ellipses and rods (capsules), random orientation, aspect 1-5, half-width 3-15,
  flat or dome (thickness) profile;
* ``filaments``: persistent random walks drawn as lines 1-5 px wide, blurred by the PSF,
  sparse to networks;
* ``clusters``: touching / overlapping objects grown in clusters to a coverage of 5-75 %,
  brightness adding (fluorescence) or not;
* ``sizes``: most objects r 2-8, plus 1-3 objects r 30-80 (larger than the auto radius), or
  radii log-uniform over a decade;
* ``nuclei``: textured nuclei r 10-30: chromatin texture, bright sub-spots, dark nucleoli;
* ``halo``: bright field, light background: absorbing cells with bright phase halos;
* ``histo``: transmitted light, H&E-like: tissue (eosin) with nuclei (haematoxylin), the
  image the flat field times ``exp(-absorbance)``: objects darker, their decrement scaling
  with the illumination;
* ``stack``: 3D stacks, z 5-20, ellipsoids a few planes deep, the background's level, haze
  and centre changing with z.

Backgrounds: sums of 1-3 of a linear ramp, ``cos^4`` vignetting centred off the image, a
Gaussian hot spot and low-frequency sinusoids, of total amplitude 0.1-5x the objects'
contrast; in fluorescence the illumination's shading also scales the objects' light, in some
cases. Noise: Poisson at 3-1000 photons per background pixel, Gaussian read noise, a camera
offset of 100 counts (uint16), 8-bit with the brightest objects saturating (uint8), or float32
scaled to about 1. Image sizes 256-1024, mostly not square.

``--defects SHARE``: camera defects on top of every case -- ``SHARE`` of the pixels dead
(stuck at 0, half of them as pairs side by side) and as many hot (stuck at the top of the
range: 65535, 255, or 10x the image's 99.9th percentile for float32). The truth is unchanged:
the defects are the camera's, not the specimen's ((c)'s local bounds, read on the image,
take them in and hold more easily; the objects' light kept is summed without them). A
minimum-based background rests on the dead pixels; Fiji's and the peers' do too.

``--dead-lines N``: ``N`` dead bands on top of every case -- columns or rows at 0, 1-8 wide,
each over 15-100 % of the plane (a CCD column dead from its defect to the readout), at the same
place in every plane of a stack (``with_dead_lines``; the truth unchanged, as above).

``--dead-clusters N``: ``N`` dead regions at 0 on top of every case, in turn a cluster (2-8 x
2-8 pixels), a short line (1-3 wide, 8-100 long, columns then rows) and a band 9-16 wide over
30-100 % of the plane, the same place in every plane of a stack (``with_dead_clusters``).

``--bias``: where the objects' light goes -- the default's mean error in noise sds under the
objects, in a ring of ``NEAR`` pixels around them and beyond, and the share of the objects'
light that the error under them costs (``bias_by_region``). The summary says, without it,
in how many of the cases keeping under 95 % that raise costs over 5 % (the rest lose the
light otherwise: a uint8 camera's clipping, which the truth takes as an expectation and the
image count by count, or a halo's light netting out).

Usage::

    PYTHONPATH=src python benchmarks/families_outside.py                  # 3 seeds, all
    PYTHONPATH=src python benchmarks/families_outside.py --defects 2e-4   # dead and hot pixels
    PYTHONPATH=src python benchmarks/families_outside.py --seeds 5 --families cells,halo
    PYTHONPATH=src python benchmarks/families_outside.py --markdown       # also a table
    PYTHONPATH=src python benchmarks/families_outside.py --bias           # where light goes

Not part of the test suite (``tests/test_families_outside.py`` checks the generator's truth).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

import bgsub
from bgsub.auto import suggest_radius
from bgsub.methods.imagej import imagej_background

FACTORS = (2.0, 3.0, 4.0, 6.0)  # the peers' sweep, x the true object radius
MEDIAN_COST = 1.5e8  # SciPy's median runs on every k-th pixel where pixels x window exceed this
BOUND_MAX = 0.001  # (c): at most this fraction of the pixels outside the bounds
KEPT_MIN = 0.95
STEP_MAX = 0.25
NEAR = 5  # pixels: the ring around the objects where ``--bias`` reads the background apart


# --- the truth ------------------------------------------------------------------------

@dataclass
class Truth:
    """One generated image and what it is made of.

    ``image = background + objects + noise`` (``light``: ``background - objects + noise``),
    all in the image's units; ``noise_sd`` is the noise's true sd at the background, per
    pixel; ``mask`` the objects' support; ``object_radius`` the objects' typical radius
    (inscribed: a disk's radius, a rod's half-width), as generated.
    """

    family: str
    seed: int
    image: np.ndarray
    background: np.ndarray
    objects: np.ndarray
    noise: np.ndarray
    mask: np.ndarray
    light: bool
    object_radius: float
    noise_sd: np.ndarray
    params: dict = field(default_factory=dict)
    defects: np.ndarray | None = None  # (``with_defects``: the camera's dead and hot pixels)

    def describe(self) -> str:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in self.params.items())
        return f"{self.image.dtype} {'x'.join(map(str, self.image.shape))}, {shown}"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _shape(rng: np.random.Generator, low: int = 256, high: int = 1024,
           square: float = 0.15) -> tuple[int, int]:
    h = int(rng.integers(low, high + 1))
    w = h if rng.random() < square else int(np.clip(h * rng.uniform(0.6, 1.6), low, high))
    return h, w


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates scaled so that the larger side runs over [-1, 1]."""
    h, w = shape
    s = max(h, w) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return (yy - (h - 1) / 2) / s, (xx - (w - 1) / 2) / s


# --- backgrounds: unit-range shapes -----------------------------------------------------

def _ramp(rng, yy, xx):
    a = rng.uniform(0, 2 * np.pi)
    return np.cos(a) * xx + np.sin(a) * yy


def _vignetting(rng, yy, xx):
    cy, cx = rng.uniform(-0.7, 0.7, 2)
    f = rng.uniform(0.5, 1.8)  # focal length in half-widths: smaller = stronger fall-off
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    return 1.0 / (1.0 + d2 / f**2) ** 2  # cos^4 of the field angle


def _hot_spot(rng, yy, xx):
    cy, cx = rng.uniform(-0.8, 0.8, 2)
    s = rng.uniform(0.15, 0.6)
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))


def _sinusoids(rng, yy, xx):
    out = np.zeros_like(yy)
    for _ in range(int(rng.integers(1, 3))):
        a = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / rng.uniform(0.7, 3.0)  # period 0.35-1.5 image widths
        out += rng.uniform(0.5, 1) * np.sin(k * (np.cos(a) * xx + np.sin(a) * yy)
                                            + rng.uniform(0, 2 * np.pi))
    return out


SHAPES = {"ramp": _ramp, "vignetting": _vignetting, "hot spot": _hot_spot,
          "sinusoids": _sinusoids}


def _field(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A smooth shape in [0, 1] (its minimum 0, its maximum 1) and its components' names."""
    yy, xx = _grid(shape)
    names = list(rng.choice(list(SHAPES), size=int(rng.integers(1, 4)), replace=False))
    total = np.zeros(shape)
    for name in names:
        part = SHAPES[name](rng, yy, xx)
        part = (part - part.min()) / max(np.ptp(part), 1e-12)
        total += rng.uniform(0.3, 1.0) * part
    total = (total - total.min()) / max(np.ptp(total), 1e-12)
    return total, "+".join(names)


# --- objects: unit-peak profiles stamped on a canvas ------------------------------------

def _window(shape, cy, cx, reach):
    y0, y1 = max(0, int(cy - reach)), min(shape[0], int(cy + reach) + 2)
    x0, x1 = max(0, int(cx - reach)), min(shape[1], int(cx + reach) + 2)
    if y0 >= y1 or x0 >= x1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    return (slice(y0, y1), slice(x0, x1)), yy - cy, xx - cx


def _stamp(canvas, support, value, mask, combine):
    if combine == "add":
        canvas[:] += value
    else:
        np.maximum(canvas, value, out=canvas)
    support |= mask


def _ellipse_profile(dy, dx, a, b, angle, dome):
    """Value of an ellipse of semi-axes ``a >= b`` (soft half-pixel edge) or of an
    ellipsoid's thickness (``dome``), and its support."""
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    edge = np.clip((1.0 - rho) * b + 0.5, 0.0, 1.0)  # distance to the edge, about
    value = edge * np.sqrt(np.clip(1.0 - rho**2, 0.0, 1.0)) if dome else edge
    return value, rho <= 1.0 + 1.0 / b


def _rod_profile(dy, dx, length, w, angle, dome):
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    d = np.hypot(np.maximum(np.abs(u) - length / 2, 0.0), v)
    edge = np.clip(w + 0.5 - d, 0.0, 1.0)
    value = edge * np.sqrt(np.clip(1.0 - (d / w) ** 2, 0.0, 1.0)) if dome else edge
    return value, d <= w + 1.0


def _place(rng, shape, n, margin=0.0):
    return (rng.uniform(-margin, shape[0] + margin, n), rng.uniform(-margin, shape[1] + margin, n))


def _psf(values: np.ndarray, sigma: float) -> np.ndarray:
    return ndi.gaussian_filter(values, sigma, mode="constant") if sigma > 0 else values


def _spots(rng, shape, p):
    r0 = _log_uniform(rng, 2.0, 12.0)
    coverage = rng.uniform(0.03, 0.25)
    gauss_share = rng.uniform(0.2, 0.8)
    p.update(r=r0, coverage=coverage, gaussian=gauss_share)
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    radii = []
    while support.mean() < coverage and len(radii) < 20000:
        r = r0 * rng.uniform(0.75, 1.3)
        cy, cx = _place(rng, shape, 1)
        gaussian = rng.random() < gauss_share
        got = _window(shape, cy[0], cx[0], 2.5 * r + 3)
        if got is None:
            continue
        sl, dy, dx = got
        d = np.hypot(dy, dx)
        if gaussian:  # a diffraction-limited or out-of-focus spot: sigma = r / 2
            value, mask = np.exp(-d**2 / (2 * (r / 2) ** 2)), d <= r + 0.5
        else:
            value, mask = np.clip(r + 0.5 - d, 0, 1), d <= r + 1
        brightness = rng.uniform(0.5, 1.5)
        sub_c, sub_s = canvas[sl], support[sl]
        _stamp(sub_c, sub_s, brightness * value, mask, "add")
        radii.append(r)
    return canvas, support, float(np.median(radii))


def _cells(rng, shape, p):
    b0 = _log_uniform(rng, 3.0, 15.0)
    aspect_max = rng.uniform(1.0, 5.0)
    coverage = rng.uniform(0.05, 0.4)
    rods = rng.uniform(0, 1)
    dome = bool(rng.random() < 0.5)
    p.update(halfwidth=b0, aspect=f"1-{aspect_max:.2g}", coverage=coverage, rods=rods,
             dome=dome)
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    widths = []
    while support.mean() < coverage and len(widths) < 20000:
        b = b0 * rng.uniform(0.8, 1.25)
        aspect = rng.uniform(1.0, aspect_max)
        a = b * aspect
        angle = rng.uniform(0, np.pi)
        cy, cx = _place(rng, shape, 1)
        got = _window(shape, cy[0], cx[0], a + 3)
        if got is None:
            continue
        sl, dy, dx = got
        if rng.random() < rods:
            value, mask = _rod_profile(dy, dx, 2 * (a - b), b, angle, dome)
        else:
            value, mask = _ellipse_profile(dy, dx, a, b, angle, dome)
        _stamp(canvas[sl], support[sl], rng.uniform(0.6, 1.4) * value, mask, "max")
        widths.append(b)
    return canvas, support, float(np.median(widths))


def _filaments(rng, shape, p):
    width = rng.uniform(1.0, 5.0)  # line width, px
    count = int(rng.integers(3, 40)) * max(1, shape[0] * shape[1] // 200000)
    persistence = rng.uniform(0.02, 0.3)  # rad per step, the walk's turning
    p.update(width=width, filaments=count, turning=persistence)
    lines = np.zeros(shape, bool)
    for _ in range(count):
        y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.uniform(0.2, 1.5) * max(shape) * 2)):
            angle += rng.normal(0, persistence)
            y += 0.5 * np.sin(angle)
            x += 0.5 * np.cos(angle)
            if not (0 <= y < shape[0] and 0 <= x < shape[1]):
                break
            lines[int(y), int(x)] = True
    d = ndi.distance_transform_edt(~lines)
    value = np.clip(width / 2 + 0.5 - d, 0, 1) * rng.uniform(0.7, 1.3)
    return value, d <= width / 2 + 1.0, max(0.5, width / 2)


def _clusters(rng, shape, p):
    r0 = _log_uniform(rng, 4.0, 14.0)
    coverage = rng.uniform(0.05, 0.75)
    combine = "add" if rng.random() < 0.5 else "max"
    p.update(r=r0, coverage=coverage, overlap=combine)
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    radii = []
    while support.mean() < coverage and len(radii) < 50000:
        cy, cx = _place(rng, shape, 1)
        members = [(cy[0], cx[0])]
        for _ in range(int(rng.integers(3, 30))):
            y, x = members[int(rng.integers(len(members)))]
            a = rng.uniform(0, 2 * np.pi)
            step = r0 * rng.uniform(1.3, 2.1)
            members.append((y + step * np.sin(a), x + step * np.cos(a)))
        for y, x in members:
            r = r0 * rng.uniform(0.8, 1.2)
            got = _window(shape, y, x, r + 3)
            if got is None:
                continue
            sl, dy, dx = got
            value, mask = _ellipse_profile(dy, dx, r * rng.uniform(1, 1.3), r,
                                           rng.uniform(0, np.pi), rng.random() < 0.5)
            _stamp(canvas[sl], support[sl], rng.uniform(0.6, 1.4) * value, mask, combine)
            radii.append(r)
    return canvas, support, float(np.median(radii))


def _sizes(rng, shape, p):
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    radii = []
    if rng.random() < 0.6:  # small objects with a few giants
        small = _log_uniform(rng, 2.0, 8.0)
        n_big = int(rng.integers(1, 4))
        big = [rng.uniform(30, min(80, min(shape) / 3)) for _ in range(n_big)]
        n_small = int(rng.uniform(0.03, 0.15) * shape[0] * shape[1] / (np.pi * small**2))
        wanted = [small * rng.uniform(0.8, 1.25) for _ in range(n_small)] + big
        p.update(small=small, giants=", ".join(f"{b:.0f}" for b in big))
    else:  # log-uniform over a decade
        low = rng.uniform(2, 8)
        high = min(low * 10, 80)
        n = int(rng.uniform(0.05, 0.3) * shape[0] * shape[1] / (np.pi * low * high))
        wanted = [_log_uniform(rng, low, high) for _ in range(max(n, 3))]
        p.update(radii=f"{low:.2g}-{high:.2g}")
    for r in wanted:
        cy, cx = _place(rng, shape, 1)
        got = _window(shape, cy[0], cx[0], 1.3 * r + 3)
        if got is None:
            continue
        sl, dy, dx = got
        value, mask = _ellipse_profile(dy, dx, r * rng.uniform(1, 1.3), r,
                                       rng.uniform(0, np.pi), rng.random() < 0.5)
        _stamp(canvas[sl], support[sl], rng.uniform(0.6, 1.4) * value, mask, "max")
        radii.append(r)
    return canvas, support, float(np.median(radii))


def _nuclei(rng, shape, p):
    r0 = rng.uniform(10, 30)
    coverage = rng.uniform(0.1, 0.5)
    spots = rng.uniform(1.5, 3.0)
    nucleoli = rng.uniform(0.3, 0.6)
    p.update(r=r0, coverage=coverage, subspots=spots, nucleoli=nucleoli)
    texture = ndi.gaussian_filter(rng.normal(0, 1, shape), rng.uniform(1.5, 3.0))
    texture = 1 + rng.uniform(0.1, 0.35) * texture / texture.std()
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    radii = []
    while support.mean() < coverage and len(radii) < 5000:
        r = r0 * rng.uniform(0.8, 1.2)
        a = r * rng.uniform(1.0, 1.5)
        cy, cx = _place(rng, shape, 1)
        got = _window(shape, cy[0], cx[0], a + 3)
        if got is None:
            continue
        sl, dy, dx = got
        angle = rng.uniform(0, np.pi)
        value, mask = _ellipse_profile(dy, dx, a, r, angle, rng.random() < 0.5)
        value = value * texture[sl]
        for _ in range(int(rng.integers(2, 9))):  # bright chromocentres
            oy, ox = rng.uniform(-0.6, 0.6, 2) * r
            s = rng.uniform(1.0, 2.5)
            value += (spots - 1) * np.exp(-((dy - oy) ** 2 + (dx - ox) ** 2) / (2 * s**2)) * (
                value > 0)
        for _ in range(int(rng.integers(1, 4))):  # dark nucleoli
            oy, ox = rng.uniform(-0.4, 0.4, 2) * r
            rr = rng.uniform(2, 5)
            value *= 1 - (1 - nucleoli) * np.clip(rr + 0.5 - np.hypot(dy - oy, dx - ox), 0, 1)
        _stamp(canvas[sl], support[sl], rng.uniform(0.7, 1.3) * value, mask, "max")
        radii.append(r)
    return canvas, support, float(np.median(radii))


def _halo_cells(rng, shape, p):
    """Absorbance minus the halo's brightening (a fraction of the incident light)."""
    r0 = rng.uniform(8, 25)
    coverage = rng.uniform(0.05, 0.35)
    absorb = rng.uniform(0.1, 0.5)
    halo = rng.uniform(0.1, 0.4)
    width = rng.uniform(2, 6)
    p.update(r=r0, coverage=coverage, absorbed=absorb, halo=halo, halo_width=width)
    canvas, support = np.zeros(shape), np.zeros(shape, bool)
    radii = []
    while support.mean() < coverage and len(radii) < 5000:
        b = r0 * rng.uniform(0.8, 1.2)
        a = b * rng.uniform(1.0, 2.0)
        cy, cx = _place(rng, shape, 1)
        got = _window(shape, cy[0], cx[0], a + width + 4)
        if got is None:
            continue
        sl, dy, dx = got
        angle = rng.uniform(0, np.pi)
        body, mask = _ellipse_profile(dy, dx, a, b, angle, False)
        outer, _ = _ellipse_profile(dy, dx, a + width, b + width, angle, False)
        ring = np.clip(outer - body, 0, 1)
        value = absorb * body * rng.uniform(0.6, 1.4) - halo * ring
        sub = canvas[sl]
        sub[:] = np.where(np.abs(value) > np.abs(sub), value, sub)
        support[sl] |= mask
        radii.append(b)
    return canvas, support, float(np.median(radii))


def _histo(rng, shape, p):
    """Absorbance of an H&E section: tissue (eosin) with nuclei (haematoxylin)."""
    coverage = rng.uniform(0.15, 0.6)
    scale = rng.uniform(15, 50)
    noise = ndi.gaussian_filter(rng.normal(0, 1, shape), scale)
    tissue = noise > np.quantile(noise, 1 - coverage)
    eosin = rng.uniform(0.15, 0.6)
    haem = rng.uniform(0.6, 1.5)
    rn = rng.uniform(3, 8)
    p.update(coverage=coverage, tissue_scale=scale, eosin=eosin, haematoxylin=haem,
             nucleus_r=rn)
    absorbance = eosin * tissue * (1 + 0.3 * ndi.gaussian_filter(rng.normal(0, 1, shape), 2)
                                   / 0.14)
    absorbance = np.clip(absorbance, 0, None)
    ys, xs = np.nonzero(tissue)
    n = int(rng.uniform(0.1, 0.4) * ys.size / (np.pi * rn**2))
    nuclei = np.zeros(shape)
    for k in rng.integers(0, ys.size, n):
        got = _window(shape, ys[k], xs[k], 1.5 * rn + 3)
        if got is None:
            continue
        sl, dy, dx = got
        value, _ = _ellipse_profile(dy, dx, rn * rng.uniform(1, 1.5), rn, rng.uniform(0, np.pi),
                                    True)
        np.maximum(nuclei[sl], haem * value * rng.uniform(0.7, 1.3), out=nuclei[sl])
    absorbance = ndi.gaussian_filter(absorbance + nuclei, 0.8)
    support = ndi.binary_dilation(tissue | (nuclei > 0), iterations=2)
    radius = ndi.distance_transform_edt(tissue)
    labels, count = ndi.label(tissue)
    inscribed = ndi.maximum(radius, labels, np.arange(1, count + 1)) if count else [rn]
    return absorbance, support, float(np.median(inscribed))


FLUORESCENCE: dict[str, Callable] = {"spots": _spots, "cells": _cells,
                                     "filaments": _filaments, "clusters": _clusters,
                                     "sizes": _sizes, "nuclei": _nuclei}
FAMILIES = [*FLUORESCENCE, "halo", "histo", "stack"]


# --- the camera -------------------------------------------------------------------------

def _camera(rng: np.random.Generator, mean_photons: np.ndarray, background_photons: np.ndarray,
            light: bool, p: dict) -> dict:
    """Counts from expected photons: Poisson, gain, read noise, offset, rounding, clipping.
    Returns the image and its truth in counts."""
    kind = rng.choice(["uint16", "uint8", "float32"], p=[0.45, 0.3, 0.25])
    read = rng.uniform(0.0, 3.0)  # read noise in photo-electrons
    if kind == "uint16":
        gain, offset, top = rng.uniform(0.5, 4.0), 100.0, 65535.0
    elif kind == "uint8":
        # the brightest objects (or, in transmitted light, the background) reach 80-130 % of
        # the range: some saturate
        peak = float(np.quantile(mean_photons, 0.999))
        gain = rng.uniform(200, 330 if not light else 250) / peak
        offset, top = float(rng.uniform(0, 10)), 255.0
    else:
        gain, offset, top = 1.0 / float(np.quantile(mean_photons, 0.99)), 0.0, np.inf
    photons = rng.poisson(mean_photons).astype(np.float64) + rng.normal(0, read, mean_photons.shape)
    counts = offset + gain * photons
    quantum = 0.0
    if kind != "float32":
        counts, quantum = np.rint(counts), 1.0 / 12
    counts = np.clip(counts, 0, top)
    background = offset + gain * background_photons
    expected = np.clip(offset + gain * mean_photons, 0, top)  # saturation clips the truth too
    objects = (background - expected) if light else (expected - background)
    noise_sd = np.sqrt(gain**2 * (np.maximum(background_photons, 0) + read**2) + quantum)
    p.update(dtype=kind, read=read, gain=gain)
    image = counts.astype(kind)
    return dict(image=image, background=background, objects=objects,
                noise=image.astype(np.float64) - (background - objects if light
                                                  else background + objects),
                noise_sd=noise_sd)


# --- families ---------------------------------------------------------------------------

def generate(family: str, seed: int, max_side: int | None = None) -> Truth:
    """One case of ``family`` drawn from ``seed`` (``max_side``: the image shrunk to at most
    this many pixels a side, everything else drawn the same: for quick tests)."""
    rng = np.random.default_rng([seed, FAMILIES.index(family), 13])
    p: dict = {}
    if family == "stack":
        return _stack(rng, seed, p, max_side)
    light = family in ("halo", "histo")
    shape = _shape(rng, 256, 768 if family in ("nuclei", "sizes", "histo") else 640)
    if family == "sizes":
        shape = _shape(rng, 512, 1024)
    shape = _capped(shape, max_side)
    photons = _log_uniform(rng, 10.0 if light else 3.0, 1000.0)
    gradient = _log_uniform(rng, 0.1, 5.0)
    shading, names = _field(rng, shape)
    p.update(photons=photons, gradient=gradient, field=names)
    if not light:
        unit, support, radius = FLUORESCENCE[family](rng, shape, p)
        unit = _psf(unit, rng.uniform(0.5, 1.5))
        contrast = _log_uniform(rng, 0.3, 5.0)  # objects' peak photons over the background's
        background = photons * (1.0 + gradient * contrast * shading)
        multiplicative = bool(rng.random() < 0.5)  # the illumination shades the objects too
        light_field = background / background.mean() if multiplicative else 1.0
        objects = contrast * photons * unit * light_field
        p.update(contrast=contrast, shaded_objects=multiplicative)
        mean = background + objects
    else:
        if family == "halo":
            absorbance, support, radius = _halo_cells(rng, shape, p)
            transmitted = np.clip(1.0 - _psf(absorbance, rng.uniform(0.5, 1.2)), 0.0, None)
            contrast = p["absorbed"]
        else:
            absorbance, support, radius = _histo(rng, shape, p)
            transmitted = np.exp(-absorbance)
            contrast = p["eosin"]
        # the flat field: its dips at most 80 % of the light
        depth = min(0.8, gradient * contrast)
        background = photons * (1.0 - depth * (1.0 - shading))
        mean = background * transmitted
        p.update(depth=depth)
    truth = _camera(rng, mean, background, light, p)
    return Truth(family, seed, mask=support, light=light, object_radius=radius, params=p,
                 **truth)


def with_defects(truth: Truth, share: float) -> Truth:
    """``truth`` with ``share`` of its pixels dead (0; half of them in pairs along a row) and
    as many hot (the top of its range), drawn from its seed.
    ``noise`` takes the change, so ``image = background + objects + noise`` still holds."""
    rng = np.random.default_rng([truth.seed, FAMILIES.index(truth.family), 29])
    image = truth.image.copy()
    n = max(1, int(share * image.size))
    dead = rng.choice(image.size - 1, n, replace=False)
    pairs = dead[: n // 4]  # (a quarter of the draws, each with its right-hand neighbour)
    hot = rng.choice(image.size, n, replace=False)
    top = (float(np.iinfo(image.dtype).max) if image.dtype.kind in "ui"
           else 10.0 * float(np.quantile(image, 0.999)))
    flat = image.reshape(-1)  # (a view: the copy is contiguous)
    flat[hot] = top
    flat[dead] = 0
    flat[pairs + 1] = 0
    params = dict(truth.params, defects=share)
    defects = np.zeros(image.shape, dtype=bool)
    defects.reshape(-1)[np.concatenate([hot, dead, pairs + 1])] = True
    return _with_image(truth, image, params, defects)


def with_dead_lines(truth: Truth, count: int) -> Truth:
    """``truth`` with ``count`` dead bands (0) drawn from its seed: columns or rows, 1-8
    wide, each over 15-100 % of the plane from a random start (a CCD column dead from its
    defect to the readout), at the same place in every plane of a stack. The pixels join
    ``defects``; ``noise`` takes the change, as in :func:`with_defects`."""

    def band(rng: np.random.Generator, k: int, ny: int, nx: int) -> tuple:
        across = bool(rng.random() < 0.5)  # (a row band: the plane's rows)
        width = int(rng.integers(1, 9))
        side, extent = (ny, nx) if across else (nx, ny)
        start = int(rng.integers(1, side - width - 1))
        length = max(1, int(rng.uniform(0.15, 1.0) * extent))
        first = int(rng.integers(0, extent - length + 1))
        lines, along = slice(start, start + width), slice(first, first + length)
        return (..., lines, along) if across else (..., along, lines)

    return _with_dead(truth, count, band, 31, "dead_lines")


#: ``with_dead_clusters``' shapes: (rows, columns) ranges, drawn in turn
CLUSTER_SHAPES = (((2, 9), (2, 9)),  # a cluster
                  ((8, 101), (1, 4)),  # a short line of 1-3 columns
                  ((1, 4), (8, 101)),  # ... or rows
                  (None, (9, 17)))  # a band 9-16 wide over 30-100 % of the plane


def with_dead_clusters(truth: Truth, count: int) -> Truth:
    """``truth`` with ``count`` dead regions at 0 drawn from its seed, the shapes of
    :data:`CLUSTER_SHAPES` in turn (clusters, short lines, bands too wide for the line rule),
    at the same place in every plane of a stack. The pixels join ``defects``, as in
    :func:`with_dead_lines`."""

    def region(rng: np.random.Generator, k: int, ny: int, nx: int) -> tuple:
        rows, cols = CLUSTER_SHAPES[k % len(CLUSTER_SHAPES)]
        height = (int(rng.uniform(0.3, 1.0) * ny) if rows is None
                  else min(ny - 2, int(rng.integers(*rows))))
        width = min(nx - 2, int(rng.integers(*cols)))
        top, left = int(rng.integers(0, ny - height + 1)), int(rng.integers(1, nx - width))
        return (..., slice(top, top + height), slice(left, left + width))

    return _with_dead(truth, count, region, 37, "dead_clusters")


def _with_dead(truth: Truth, count: int, draw: Callable, salt: int, name: str) -> Truth:
    """``truth`` with ``count`` regions at 0, each ``draw(rng, k, ny, nx)`` (an index into
    the image) from a generator seeded by the case and ``salt``; they join ``defects``, and
    the parameter ``name`` records ``count``."""
    rng = np.random.default_rng([truth.seed, FAMILIES.index(truth.family), salt])
    image = truth.image.copy()
    defects = (np.zeros(image.shape, dtype=bool) if truth.defects is None
               else truth.defects.copy())
    ny, nx = image.shape[-2:]
    for k in range(count):
        where = draw(rng, k, ny, nx)
        image[where] = 0
        defects[where] = True
    return _with_image(truth, image, dict(truth.params, **{name: count}), defects)


def _with_image(truth: Truth, image: np.ndarray, params: dict, defects: np.ndarray) -> Truth:
    """``truth`` with the camera's defects in ``image``: ``noise`` takes the change, so that
    ``image = background + objects + noise`` still holds; the truth itself is unchanged."""
    signed = truth.background - truth.objects if truth.light else truth.background + truth.objects
    return Truth(truth.family, truth.seed, image, truth.background, truth.objects,
                 image.astype(np.float64) - signed, truth.mask, truth.light,
                 truth.object_radius, truth.noise_sd, params, defects)


def _capped(shape: tuple[int, ...], max_side: int | None) -> tuple[int, ...]:
    if max_side is None or max(shape) <= max_side:
        return shape
    return tuple(max(16, n * max_side // max(shape)) for n in shape)


def _stack(rng, seed, p, max_side=None):
    nz = int(rng.integers(5, 21))
    shape2 = _capped(_shape(rng, 256, 384), max_side)
    r0 = _log_uniform(rng, 3.0, 12.0)
    depth = rng.uniform(0.5, 3.0)  # the objects' z semi-axis, planes
    coverage = rng.uniform(0.03, 0.2)
    photons = _log_uniform(rng, 3.0, 1000.0)
    gradient = _log_uniform(rng, 0.1, 5.0)
    contrast = _log_uniform(rng, 0.3, 5.0)
    haze = rng.uniform(0.0, 1.0)  # out-of-focus haze: the level changes this much over z
    p.update(z=nz, r=r0, zdepth=depth, coverage=coverage, photons=photons, gradient=gradient,
             contrast=contrast, haze=haze)
    shape = (nz, *shape2)
    unit = np.zeros(shape)
    support = np.zeros(shape, bool)
    count = int(coverage * shape2[0] * shape2[1] / (np.pi * r0**2) * nz / (2 * depth))
    zz = np.arange(nz)[:, None, None]
    for _ in range(max(count, 3)):
        z0 = rng.uniform(0, nz - 1)
        cy, cx = _place(rng, shape2, 1)
        r = r0 * rng.uniform(0.8, 1.25)
        got = _window(shape2, cy[0], cx[0], 1.3 * r + 3)
        if got is None:
            continue
        sl, dy, dx = got
        value, mask = _ellipse_profile(dy[None], dx[None], r * rng.uniform(1, 1.3), r,
                                       rng.uniform(0, np.pi), True)
        along = np.clip(1 - ((zz - z0) / depth) ** 2, 0, 1)
        value = value * np.sqrt(along)
        sub = unit[(slice(None), *sl)]
        np.maximum(sub, rng.uniform(0.6, 1.4) * value, out=sub)
        support[(slice(None), *sl)] |= mask & (along > 0)
    unit = ndi.gaussian_filter(unit, (0.7, 1.0, 1.0))
    yy, xx = _grid(shape2)
    background = np.empty(shape)
    drift = rng.uniform(-0.4, 0.4, 2)
    vign_f = rng.uniform(0.6, 1.8)
    sub_field, names = _field(rng, shape2)
    for z in range(nz):
        t = z / max(nz - 1, 1)
        cy, cx = drift * (2 * t - 1)
        vign = 1.0 / (1.0 + ((yy - cy) ** 2 + (xx - cx) ** 2) / vign_f**2) ** 2
        level = 1.0 + haze * (1 - t)  # more haze near the coverslip
        shading = 0.5 * vign + 0.5 * sub_field
        background[z] = photons * level * (1 + gradient * contrast * shading)
    p.update(field="z-moving cos4+" + names)
    objects = contrast * photons * unit
    truth = _camera(rng, background + objects, background, False, p)
    return Truth("stack", seed, mask=support, light=False, object_radius=r0, params=p, **truth)


# --- scoring ----------------------------------------------------------------------------

def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    error = np.asarray(estimate, np.float64) - truth
    return float(np.sqrt(np.mean(error**2))) if np.isfinite(error).all() else float("nan")


def _planes(fn: Callable[[np.ndarray, float], np.ndarray]) -> Callable:
    def run(image: np.ndarray, radius: float) -> np.ndarray:
        if image.ndim == 2:
            return fn(image, radius)
        return np.stack([fn(plane, radius) for plane in image])
    return run


@_planes
def fiji_background(image: np.ndarray, radius: float) -> np.ndarray:
    return imagej_background(image.astype(np.float32), (radius, radius)).astype(np.float64)


@_planes
def _ball(image: np.ndarray, radius: float) -> np.ndarray:
    # bgsub's exact rolling ball: equal to skimage.restoration.rolling_ball (tests/methods),
    # seconds where skimage's takes minutes at these radii
    r = max(1, int(round(radius)))
    return np.asarray(bgsub.estimate_background(image, "rolling_ball", r), np.float64)


@_planes
def _opening(image: np.ndarray, radius: float) -> np.ndarray:
    import cv2

    r = max(1, int(round(radius)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.morphologyEx(image.astype(np.float32), cv2.MORPH_OPEN, kernel).astype(np.float64)


@_planes
def _median(image: np.ndarray, radius: float) -> np.ndarray:
    # where the full median would take minutes, it runs on every k-th pixel of each axis
    # (no averaging: the same noise) with the radius / k, and is interpolated back
    k = 1
    while image.size / k**2 * (2 * max(1, int(round(radius / k))) + 1) ** 2 > MEDIAN_COST:
        k += 1
    r = max(1, int(round(radius / k)))
    values = image.astype(np.float64)[::k, ::k]
    small = ndi.median_filter(values, size=2 * r + 1, mode="reflect")
    if k == 1:
        return small
    zoom = [n / m for n, m in zip(image.shape, small.shape, strict=True)]
    return ndi.zoom(small, zoom, order=1, mode="nearest", grid_mode=True)[
        :image.shape[0], :image.shape[1]]


PEERS = {"ball": _ball, "opening": _opening, "median": _median, "imagej": fiji_background}


def _default(image: np.ndarray, light: bool) -> tuple[np.ndarray, float, list[str]]:
    """The default's background, its radius, and what it warned of (:func:`warned_of`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bgsub.BackgroundWarning)
        radius = suggest_radius(image, light_background=light).radius
        caught.clear()  # (suggest_radius itself warns of nothing: the estimate's own)
        background = bgsub.estimate_background(image, radius="auto", light_background=light)
    said = [str(w.message) for w in caught if issubclass(w.category, bgsub.BackgroundWarning)]
    return np.asarray(background, np.float64), float(radius), warned_of(said)


#: What the default's warnings are about, by a phrase each holds.
WARNINGS = {"faint": "noise sds a pixel above", "patch": "of the objects' area and set",
            "light": "light background", "crop": "cut by the image's edge",
            "few-bg": "look like background", "padding": "one value",
            "field-stop": "round disc of light", "blank": "found no object standing out"}


def warned_of(said: list[str]) -> list[str]:
    """The short names (:data:`WARNINGS`) of the warnings ``said``; ``other`` for the rest."""
    names = [next((k for k, phrase in WARNINGS.items() if phrase in line), "other")
             for line in said]
    return sorted(set(names))


def _robust(image: np.ndarray, radius: float, light: bool) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        return np.asarray(bgsub.estimate_background(image, "robust", radius,
                                                    light_background=light), np.float64)


def _outside(truth: Truth, background: np.ndarray, radius: float) -> float:
    """Fraction of pixels where the background leaves [local min - 3 sd, local max] of the
    image over a window of the radius (objects bright: a light image is negated)."""
    sign = -1.0 if truth.light else 1.0
    values = sign * truth.image.astype(np.float64)
    est = sign * background
    size = [1] * (values.ndim - 2) + [2 * int(radius) + 1] * 2
    low = ndi.minimum_filter(values, size=size, mode="nearest")
    high = ndi.maximum_filter(values, size=size, mode="nearest")
    return float(np.mean((est > high + 1e-6) | (est < low - 3 * truth.noise_sd)))


def bias_by_region(truth: Truth, background: np.ndarray, near: int = NEAR) -> dict[str, float]:
    """The background's mean error, in noise sds (positive: raised, it takes the objects'
    light), under the objects (``under``: their mask, defects left out), in the ring of
    ``near`` pixels around them (``near``, within each plane) and beyond (``far``), and the
    share of the objects' light that the raise under them costs (``cost``). Where ``kept``
    is short of 1 and ``far`` is about 0, the background is raised under the objects, not
    offset everywhere."""
    sign = -1.0 if truth.light else 1.0
    error = sign * (np.asarray(background, np.float64) - truth.background)
    error /= float(np.median(truth.noise_sd))
    under = truth.mask if truth.defects is None else truth.mask & ~truth.defects
    structure = np.zeros((3,) * truth.mask.ndim, bool)
    structure[(1,) * (truth.mask.ndim - 2) + (slice(None),) * 2] = ndi.generate_binary_structure(
        2, 1)
    grown = ndi.binary_dilation(truth.mask, structure, iterations=near)
    ring, far = grown & ~truth.mask, ~grown

    def mean(where: np.ndarray) -> float:
        return float(error[where].mean()) if where.any() else float("nan")

    cost = float(error[under].sum() * np.median(truth.noise_sd) / truth.objects[under].sum())
    return dict(under=mean(under), near=mean(ring), far=mean(far), cost=cost)


def score(truth: Truth, peers: bool = True) -> dict:
    image, light = truth.image, truth.light
    sign = -1.0 if light else 1.0
    signed = sign * image.astype(np.float64)
    estimate, radius, warned = _default(image, light)
    row = dict(family=truth.family, seed=truth.seed, describe=truth.describe(),
               object_radius=truth.object_radius, radius=radius,
               default=rmse(estimate, truth.background), warned=warned)
    foreground = sign * (image.astype(np.float64) - estimate)
    # (the objects' light where the camera recorded it: a hot pixel's count is not theirs)
    kept = truth.mask if truth.defects is None else truth.mask & ~truth.defects
    row["kept"] = float(foreground[kept].sum() / truth.objects[kept].sum())
    row["bias"] = bias_by_region(truth, estimate)
    row["outside"] = _outside(truth, estimate, radius)
    row["step"] = max(abs(rmse(_robust(image, radius * f, light), truth.background)
                          - row["default"]) / row["default"] for f in (0.95, 1.05))
    three = 3.0 * truth.object_radius
    # diagnosis: robust at 3x the TRUE object radius (a loss that this wins is the measured
    # radius's fault, not the estimate's)
    row["robust3x"] = rmse(_robust(image, max(three, 2.0), light), truth.background)
    fiji50 = sign * fiji_background(signed, 50.0)
    row["fiji50"] = rmse(fiji50, truth.background)
    # (the same share for Fiji's default: how far the 95 % target is the objects' faintness)
    row["fiji_kept"] = float((sign * (image.astype(np.float64) - fiji50))[kept].sum()
                             / truth.objects[kept].sum())
    row["fiji3x"] = rmse(sign * fiji_background(signed, three), truth.background)
    row["fiji"] = min(row["fiji50"], row["fiji3x"])
    if peers:
        radii = [f * truth.object_radius for f in FACTORS]
        best = {}
        for name, fn in PEERS.items():
            errors = [(rmse(sign * fn(signed, r), truth.background), r) for r in radii]
            errors = [e for e in errors if np.isfinite(e[0])]
            if errors:
                best[name] = min(errors)
        name = min(best, key=lambda k: best[k][0])
        row["peer"], row["peer_error"], row["peer_radius"] = name, *best[name]
        row["ratio"] = row["default"] / row["peer_error"]
    else:
        row.update(peer="-", peer_error=np.nan, peer_radius=np.nan, ratio=np.nan)
    row["noise"] = float(np.median(truth.noise_sd))
    row["loss"] = row["default"] > row["fiji"]
    loss = "LOSS(radius)" if row["robust3x"] <= row["fiji"] else "LOSS"
    row["fails"] = [k for k, bad in ((loss, row["loss"]),
                                     ("BOUND", row["outside"] > BOUND_MAX),
                                     ("KEPT", row["kept"] < KEPT_MIN),
                                     ("STEP", row["step"] > STEP_MAX)) if bad]
    return row


def _line(row: dict) -> str:
    return (f"{row['family']:9s} s{row['seed']:<3d} r_obj {row['object_radius']:5.1f} "
            f"r {row['radius']:6.1f}  default {row['default']:9.4g} (noise {row['noise']:.3g})  "
            f"Fiji50 {row['fiji50']:9.4g} 3x {row['fiji3x']:9.4g}  "
            f"best {row['peer']:7s} {row['peer_error']:9.4g} ratio {row['ratio']:5.2f}  "
            f"robust@3x true {row['robust3x']:9.4g}  "
            f"kept {100 * row['kept']:6.1f} % (Fiji {100 * row['fiji_kept']:6.1f} %)  "
            f"out {100 * row['outside']:5.2f} %  "
            f"step {100 * row['step']:4.0f} %  {' '.join(row['fails'])}"
            f"{'  warned: ' + ','.join(row['warned']) if row['warned'] else ''}")


def summary(rows: list[dict]) -> str:
    lines = []
    ratios = [r["ratio"] for r in rows if np.isfinite(r["ratio"])]
    for family in dict.fromkeys(r["family"] for r in rows):
        own = [r for r in rows if r["family"] == family]
        rat = [r["ratio"] for r in own if np.isfinite(r["ratio"])]
        fiji = [r["default"] / r["fiji"] for r in own]
        lines.append(
            f"  {family:9s} {len(own):2d} cases: losses vs Fiji {sum(r['loss'] for r in own)} "
            f"(worst {max(fiji):.2f}x), median ratio {np.median(rat) if rat else np.nan:.2f} "
            f"(worst {max(rat) if rat else np.nan:.2f}), bound fails "
            f"{sum(r['outside'] > BOUND_MAX for r in own)} (worst "
            f"{100 * max(r['outside'] for r in own):.2f} %), kept min "
            f"{100 * min(r['kept'] for r in own):.1f} %, step max "
            f"{100 * max(r['step'] for r in own):.0f} %")
    fails = sum(bool(r["fails"]) for r in rows)
    radius_losses = [r for r in rows if r["loss"] and r["robust3x"] <= r["fiji"]]
    lines.append(
        f"\n{len(rows)} cases: {sum(r['loss'] for r in rows)} losses vs Fiji (r = 50 or 3x); "
        f"median default / best peer {np.median(ratios) if ratios else np.nan:.2f} (target 0.5); "
        f"bound fails {sum(r['outside'] > BOUND_MAX for r in rows)}, kept < 95 % "
        f"{sum(r['kept'] < KEPT_MIN for r in rows)}, step > 25 % "
        f"{sum(r['step'] > STEP_MAX for r in rows)}; {fails} cases fail something; "
        f"{len(radius_losses)} of the losses are the radius's (robust at 3x the true object "
        f"radius beats Fiji there)")
    short = [r for r in rows if r["kept"] < KEPT_MIN]
    if short:  # (what the raise under the objects costs, against what else they lose)
        raised = sum(r["bias"]["cost"] > 1 - KEPT_MIN for r in short)
        lines.append(
            f"kept < 95 %: {len(short)} cases, in {raised} of them the background's raise "
            f"under the objects costs over {100 * (1 - KEPT_MIN):.0f} % of their light (the "
            "rest lose it otherwise: a uint8 camera's clipping, halos' light netting out)")
    # (Fiji's ball mostly lies under the background, so its foreground gains light: over
    # 100 %, which the target's "at least 95 %" alone would count as a pass)
    def near(share: float) -> bool:
        return abs(share - 1.0) <= 1.0 - KEPT_MIN

    lines.append(
        f"objects' light within 95-105 %: the default {sum(near(r['kept']) for r in rows)}, "
        f"Fiji's default (r = 50) {sum(near(r['fiji_kept']) for r in rows)} of {len(rows)}; "
        f"Fiji keeps under 95 % on {sum(r['fiji_kept'] < KEPT_MIN for r in rows)}; the default "
        f"is the closer to 100 % on "
        f"{sum(abs(r['kept'] - 1) < abs(r['fiji_kept'] - 1) for r in rows)}")
    failing = [r for r in rows if r["fails"]]
    lines.append(
        f"warned of (radius=\"auto\"'s BackgroundWarnings): "
        f"{sum(bool(r['warned']) for r in failing)} of the {len(failing)} cases that fail "
        "something, "
        f"{sum(bool(r['warned']) for r in rows if not r['fails'])} of the "
        f"{len(rows) - len(failing)} that fail nothing")
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    head = ["case", "parameters", "r obj / auto", "default", "robust 3x true", "Fiji r=50",
            "Fiji 3x",
            "best peer (r)", "default / peer", "kept", "outside", "step", "fails", "warned"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            f"{r['family']} s{r['seed']}", r["describe"],
            f"{r['object_radius']:.3g} / {r['radius']:.3g}", f"{r['default']:.3g}",
            f"{r['robust3x']:.3g}", f"{r['fiji50']:.3g}", f"{r['fiji3x']:.3g}",
            f"{r['peer']} {r['peer_error']:.3g} ({r['peer_radius']:.3g})",
            f"{r['ratio']:.2f}", f"{100 * r['kept']:.1f} %", f"{100 * r['outside']:.2f} %",
            f"{100 * r['step']:.0f} %", " ".join(f"**{f}**" for f in r["fails"]),
            ", ".join(r["warned"])]) + " |")
    return "\n".join(lines)


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    if "," in text:
        return [int(s) for s in text.split(",")]
    return list(range(int(text)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="3", help="N (seeds 0..N-1), A-B or a,b,c")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated")
    parser.add_argument("--markdown", action="store_true", help="also print a table")
    parser.add_argument("--no-peers", action="store_true", help="only Fiji r=50 and 3x")
    parser.add_argument("--bias", action="store_true",
                        help="also the default's bias under, near and away from the objects")
    parser.add_argument("--dead-lines", type=int, default=0, metavar="N",
                        help="N dead bands of columns or rows (1-8 wide, 15-100 %% long)")
    parser.add_argument("--dead-clusters", type=int, default=0, metavar="N",
                        help="N dead regions: clusters, short lines, bands 9-16 wide")
    parser.add_argument("--defects", type=float, default=0.0, metavar="SHARE",
                        help="this share of the pixels dead and as many hot (e.g. 2e-4)")
    args = parser.parse_args(argv)
    families = args.families.split(",")
    unknown = set(families) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; known: {', '.join(FAMILIES)}")
    start = time.perf_counter()
    rows = []
    for family in families:
        for seed in parse_seeds(args.seeds):
            truth = generate(family, seed)
            if args.defects > 0:
                truth = with_defects(truth, args.defects)
            if args.dead_lines > 0:
                truth = with_dead_lines(truth, args.dead_lines)
            if args.dead_clusters > 0:
                truth = with_dead_clusters(truth, args.dead_clusters)
            rows.append(score(truth, peers=not args.no_peers))
            print(_line(rows[-1]), flush=True)
            print(f"          {rows[-1]['describe']}", flush=True)
            if args.bias:
                print("          background's bias, noise sds: under the objects "
                      "{under:+.3f}, within {n} px of them {near:+.3f}, beyond {far:+.3f}; "
                      "light lost to the raise under them {cost:.1%}".format(
                          n=NEAR, **rows[-1]["bias"]), flush=True)
    print(summary(rows) + f" ({time.perf_counter() - start:.0f} s)")
    if args.markdown:
        print()
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
