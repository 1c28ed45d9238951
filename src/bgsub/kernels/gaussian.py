"""Placeholder reference kernels (replaced by the fast kernels)."""

from __future__ import annotations

from scipy import ndimage as ndi


def gaussian_filter(image, sigma, truncate=4.0):
    return ndi.gaussian_filter(image, sigma, mode="reflect", truncate=truncate)
