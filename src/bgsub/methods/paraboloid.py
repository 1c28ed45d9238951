"""Sliding paraboloid: grey opening by a paraboloid whose curvature matches the ball's."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub.kernels.parabola import paraboloid_opening
from bgsub.methods._registry import Extent, Method, register

#: Value ranges beyond this reach past any image anyway (and would overflow ``math.ceil``).
_LARGEST_SPAN = 1e300


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


def paraboloid_reach(radius: tuple[float, ...], span: float) -> tuple[int, ...]:
    """Exact reach of the opening by the paraboloid ``sum(d_i**2 / (2 r_i))``.

    At distance ``d`` along an axis the paraboloid has risen ``c * d**2``
    (``c = 1 / (2 r)``); once that exceeds the value range ``span`` of the
    image no pixel that far can beat the pixel itself, neither in the
    erosion nor in the dilation (whose input stays within the range). Each
    step therefore reaches ``ceil(sqrt(span / c))`` pixels (one more for
    rounding), the opening twice that.

    Examples
    --------
    >>> paraboloid_reach((8.0, 8.0), 100.0)
    (82, 82)
    """
    return tuple(2 * (math.ceil(math.sqrt(span * 2.0 * r)) + 1) for r in radius)


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    # the reach grows with the data's range; no farther than the whole block
    return tuple(min(reach, n) for reach, n in zip(
        paraboloid_reach(radius, min(extent.span(), _LARGEST_SPAN)), extent.shape, strict=True))


register(
    Method(
        name="paraboloid",
        summary="Opening by a paraboloid of the ball's curvature (exact, radius-independent time)",
        estimate=paraboloid_background,
        halo=_halo,
    )
)
