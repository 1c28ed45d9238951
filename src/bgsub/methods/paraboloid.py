"""Sliding paraboloid: grey opening by a paraboloid whose curvature matches the ball's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub.kernels.parabola import paraboloid_opening
from bgsub.methods._registry import Method, register


def paraboloid_background(image: np.ndarray, radius: tuple[float, ...]) -> np.ndarray:
    """Background as the opening of ``image`` by a paraboloid.

    The paraboloid ``z = sum(x_i ** 2 / (2 r_i))`` has, at its apex, the
    curvature of a ball of radius ``r`` -- the convention of ImageJ's
    "sliding paraboloid". The opening is exact and separable, so its cost does
    not depend on the radius.

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    radius : tuple of float
        Radius of curvature in pixels (grey levels per pixel) along each axis.

    Returns
    -------
    ndarray
        The background, same shape and dtype as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((9, 9)); img[4, 4] = 100.0
    >>> float(paraboloid_background(img, (5.0, 5.0)).max())
    0.0
    """
    coeff = tuple(0.5 / r for r in radius)
    return paraboloid_opening(image, coeff)


def _halo(radius: tuple[float, ...], options: Mapping[str, Any]) -> tuple[int, ...]:
    # The paraboloid has unbounded support; chunked runs use the whole extent
    # along each axis unless the caller caps it (see bgsub.chunked).
    return tuple(-1 for _ in radius)


register(
    Method(
        name="paraboloid",
        summary="Opening by a paraboloid of the ball's curvature (exact, radius-independent time)",
        estimate=paraboloid_background,
        halo=_halo,
    )
)
