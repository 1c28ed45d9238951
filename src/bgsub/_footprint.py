"""Footprints (structuring elements) shared by the flat-neighbourhood methods."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FOOTPRINT_SHAPES = ("disk", "box")


def footprint(radius: Sequence[float], shape: str = "disk") -> np.ndarray:
    """Boolean footprint with one radius per axis.

    ``"disk"`` keeps the integer offsets with ``sum((o_i / r_i) ** 2) <= 1``
    (a disk in 2D, a ball in 3D, an ellipse/ellipsoid when anisotropic); it
    equals ``skimage.morphology.disk(r)`` and ``ball(r)`` for an isotropic
    integer radius. ``"box"`` keeps ``|o_i| <= floor(r_i)``.

    Examples
    --------
    >>> footprint((1, 1)).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    half = [int(np.floor(r)) for r in radius]
    if shape == "box":
        return np.ones([2 * h + 1 for h in half], dtype=bool)
    if shape != "disk":
        raise ValueError(f"footprint {shape!r} is not known; use one of {FOOTPRINT_SHAPES}")
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    total = sum((g.astype(np.float64) / r) ** 2 for g, r in zip(grids, radius, strict=True))
    return total <= 1.0
