"""Placeholder reference kernels (replaced by the fast numba kernels)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from bgsub._footprint import footprint


def _extreme(dtype, high):
    if np.issubdtype(dtype, np.integer):
        return np.iinfo(dtype).max if high else np.iinfo(dtype).min
    return np.inf if high else -np.inf


def flat_erosion(image, radius, shape="disk"):
    return ndi.grey_erosion(image, footprint=footprint(radius, shape), mode="constant",
                            cval=_extreme(image.dtype, True))


def flat_dilation(image, radius, shape="disk"):
    return ndi.grey_dilation(image, footprint=footprint(radius, shape), mode="constant",
                             cval=_extreme(image.dtype, False))
