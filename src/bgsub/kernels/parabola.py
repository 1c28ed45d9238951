"""Placeholder reference kernels (replaced by the fast numba kernels)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _along(image, coeff, sign):
    out = image.astype(np.float64)
    span = float(np.ptp(out)) if out.size else 0.0
    for axis, c in enumerate(coeff):
        reach = min(int(np.ceil(np.sqrt(span / c))) + 1, out.shape[axis])
        d = np.arange(-reach, reach + 1, dtype=np.float64)
        shape = [1] * out.ndim
        shape[axis] = d.size
        s = (-c * d**2).reshape(shape)
        fp = np.ones(s.shape, bool)
        if sign < 0:
            out = ndi.grey_erosion(out, footprint=fp, structure=s, mode="constant", cval=np.inf)
        else:
            out = ndi.grey_dilation(out, footprint=fp, structure=s, mode="constant",
                                    cval=-np.inf)
    return out.astype(image.dtype)


def paraboloid_erosion(image, coeff):
    return _along(image, coeff, -1)


def paraboloid_dilation(image, coeff):
    return _along(image, coeff, +1)
