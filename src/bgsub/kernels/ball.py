"""Placeholder reference kernels (replaced by the fast numba kernels)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _structure(radius, height):
    half = [int(np.floor(r)) for r in radius]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    total = sum((g / r) ** 2 for g, r in zip(grids, radius, strict=True))
    inside = total <= 1
    k = height * np.sqrt(np.clip(1 - total, 0, None))
    return inside, np.where(inside, k - height, 0.0)


def ball_erosion(image, radius, height=None):
    height = float(max(radius)) if height is None else height
    fp, s = _structure(radius, height)
    out = ndi.grey_erosion(image.astype(np.float64), footprint=fp, structure=s,
                           mode="constant", cval=np.inf)
    return out.astype(image.dtype)


def ball_dilation(image, radius, height=None):
    height = float(max(radius)) if height is None else height
    fp, s = _structure(radius, height)
    out = ndi.grey_dilation(image.astype(np.float64), footprint=fp, structure=s,
                            mode="constant", cval=-np.inf)
    return out.astype(image.dtype)
