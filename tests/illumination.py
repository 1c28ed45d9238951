"""Spots under a narrow illumination beam (a laser's spot in widefield or TIRF): one bright
patch that the automatic radius measures as an object among many small ones."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def spots_under_a_beam(seed: int, side: int = 512, beam: float = 5.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 Poisson image of 200 spots (Gaussian, sigma 1.5 px, 60 counts high) on 100
    counts plus a Gaussian beam ``beam`` x as high as a spot, of sigma 0.12 of the side, off
    centre; and its true background."""
    rng = np.random.default_rng(seed)
    spots = np.zeros((side, side))
    np.add.at(spots, tuple(rng.integers(0, side, (2, 200))), 60.0 * 2.0 * np.pi * 1.5**2)
    yy, xx = np.mgrid[0:side, 0:side]
    squared = (yy - 0.45 * side) ** 2 + (xx - 0.55 * side) ** 2
    background = 100.0 + beam * 60.0 * np.exp(-squared / (2.0 * (0.12 * side) ** 2))
    image = rng.poisson(background + ndi.gaussian_filter(spots, 1.5)).astype(np.uint16)
    return image, background
