"""Generated image families with a known background, for the accuracy benchmark.

Each family varies one thing a real image varies -- how much of the field the
objects cover, their size, texture inside them (bright spots, as chromatin in
nuclei), dark halos (bright field, phase contrast), a light background with
dark objects, very few photons, steep gradients and vignetting, 3D, the dtype
-- and the seed varies everything else (positions, sizes within the range,
brightness of each object, the background's tilt and centre), so no method can
be tuned to one image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class Truth:
    """A generated image and what it is made of.

    ``image`` is what a camera records; ``background`` the smooth noise-free
    background; ``objects`` the noise-free signal the objects add (negative
    for dark halos, and for dark objects on a light background: then
    ``image = background - objects``); ``mask`` where the objects are.
    """

    image: np.ndarray
    background: np.ndarray
    objects: np.ndarray
    mask: np.ndarray
    object_radius: float
    light_background: bool = False


def generate(
    shape: tuple[int, ...] = (256, 256),
    *,
    object_radius: tuple[float, float] = (6.0, 10.0),
    coverage: float = 0.15,
    contrast: float = 1.0,
    texture: float = 0.0,
    halo: float = 0.0,
    light_background: bool = False,
    photons: float | None = None,
    level: float = 1000.0,
    gradient: float = 0.5,
    vignetting: float = 0.3,
    read_noise: float = 5.0,
    dtype: type = np.uint16,
    seed: int = 0,
) -> Truth:
    """One image of a family.

    Parameters
    ----------
    shape : tuple of int
        (Y, X) or (Z, Y, X).
    object_radius : (float, float)
        Range of the objects' radii (pixels).
    coverage : float
        Fraction of the field the objects cover (0-1; touching and overlapping
        objects merge, as in a confluent field).
    contrast : float
        Objects' mean brightness above the background, as a fraction of the
        background's mean level.
    texture : float
        Bright spots inside the objects (radius a fifth of the object's, about
        one per 30 pixels of area), as a multiple of the object's brightness.
    halo : float
        Dark ring around each object (width a third of its radius), as a
        fraction of the object's brightness.
    light_background : bool
        Dark objects on a bright background.
    photons : float, optional
        The background's mean level in photons (shot noise only, then scaled
        to ``level``): 5-50 is a dim fluorescence image.
    level : float
        The background's mean grey level.
    gradient, vignetting : float
        Tilt (fraction of ``level`` from one side to the other) and radial
        fall-off (fraction of ``level``).
    read_noise : float
        Gaussian noise sd in grey levels (added to the shot noise).
    dtype : type
        uint8 (scaled to use most of its range), uint16 or float32.
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    background = _background(shape, level, gradient, vignetting, rng)
    brightness = contrast * level
    objects, mask = _objects(shape, object_radius, coverage, brightness, texture, halo, rng)
    clean = background - objects if light_background else background + objects
    clean = np.clip(clean, 0.0, None)
    if photons is not None:
        per_photon = level / photons
        noisy = rng.poisson(clean / per_photon) * per_photon
    else:
        noisy = rng.poisson(clean).astype(np.float64)
    noisy = noisy + rng.normal(0.0, read_noise, shape)
    if np.dtype(dtype) == np.uint8:
        scale = 230.0 / max(float(np.percentile(noisy, 99.9)), 1e-9)
        noisy, background, objects = noisy * scale, background * scale, objects * scale
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        image = np.clip(np.rint(noisy), info.min, info.max).astype(dtype)
    else:
        image = noisy.astype(dtype)
    return Truth(image, background, objects, mask, float(np.mean(object_radius)),
                 light_background)


def _background(shape, level, gradient, vignetting, rng) -> np.ndarray:
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, n) * (0.3 if len(shape) == 3 and i == 0 else 1)
                          for i, n in enumerate(shape)], indexing="ij")  # less along Z
    direction = rng.normal(size=len(shape))
    direction /= np.linalg.norm(direction)
    tilt = sum(d * g for d, g in zip(direction, grids, strict=True)) / 2
    centre = rng.uniform(-0.4, 0.4, size=len(shape))
    r2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    fall_off = np.exp(-r2) - 0.5
    return level * (1.0 + gradient * tilt + vignetting * fall_off)


def _objects(shape, radius_range, coverage, brightness, texture, halo, rng):
    """Soft-edged disks/balls (each its own brightness) until ``coverage`` is reached."""
    objects = np.zeros(shape, dtype=np.float64)
    mask = np.zeros(shape, dtype=bool)
    target = coverage * mask.size
    covered = 0
    for _ in range(100000):
        if covered >= target:
            break
        r = rng.uniform(*radius_range)
        centre = [rng.uniform(0, n) for n in shape]
        aspect = rng.uniform(0.75, 1.33)
        scale = [1.0] * (len(shape) - 2) + [aspect, 1.0 / aspect]
        reach = r * 1.4 / min(scale) + 2
        box = tuple(slice(max(0, int(c - reach)), min(n, int(c + reach) + 1))
                    for c, n in zip(centre, shape, strict=True))
        grids = np.ogrid[box]
        d = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, scale,
                                                              strict=True)))
        inside = d <= r
        profile = np.clip(r + 0.5 - d, 0.0, 1.0)  # one pixel of anti-aliased edge
        profile = profile * (1.0 - 0.3 * np.minimum(d / r, 1.0) ** 2)  # domed, as a nucleus
        value = brightness * rng.uniform(0.6, 1.4) * profile
        local, local_mask = objects[box], mask[box]
        if halo:
            ring = (d > r) & (d <= r * 1.33 + 1)
            dark = -halo * brightness * ring * (1.0 - (d - r) / (r * 0.33 + 1))
            local[:] = np.where(local_mask, local, np.minimum(local, dark))
        local[:] = np.where(inside, np.maximum(local * local_mask, value), local)
        covered += int((inside & ~local_mask).sum())
        local_mask |= inside
    if texture:
        spots = np.zeros(shape)
        count = int(mask.sum() / 30)
        where = np.flatnonzero(mask)
        if where.size:
            picks = rng.choice(where, size=min(count, where.size), replace=False)
            spots.flat[picks] = rng.uniform(0.5, 1.5, picks.size)
        sigma = max(1.0, radius_range[0] / 5)
        spots = ndi.gaussian_filter(spots, sigma) * (2 * np.pi * sigma**2) ** (len(shape) / 2)
        objects = objects + texture * brightness * spots * mask
    return objects, mask
