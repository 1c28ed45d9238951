"""Textured nuclei on a sloped background, shared by the automatic radius's tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def textured_nuclei(rng: np.random.Generator, side: int, nuclei: Sequence[tuple[int, int, int]],
                    *, slope: float, body: float, texture: float,
                    pattern: Callable[[np.random.Generator, tuple[int, int]], np.ndarray],
                    ) -> np.ndarray:
    """Poisson counts of disks ``(cy, cx, r)`` of level ``body`` on ``300 + slope * x``, each
    carrying ``texture`` x ``pattern(rng, shape)`` inside it (a fresh pattern per nucleus)."""
    yy, xx = np.mgrid[0:side, 0:side]
    image = 300.0 + slope * xx
    for cy, cx, r in nuclei:
        nucleus = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        image = image + body * nucleus + texture * pattern(rng, image.shape) * nucleus
    return rng.poisson(image).astype(np.uint16)
