"""Placeholder reference kernels (replaced by the fast numba kernels)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from bgsub._footprint import footprint


def median_filter(image, radius, shape="disk"):
    return ndi.median_filter(image, footprint=footprint(radius, shape), mode="reflect")


def mean_filter(image, radius, shape="disk"):
    fp = footprint(radius, shape).astype(np.float64)
    out_dtype = np.float64 if image.dtype == np.float64 else np.float32
    return ndi.correlate(image.astype(np.float64), fp / fp.sum(), mode="reflect").astype(out_dtype)
