"""Rolling ball: the ball (or ellipsoid) rolled under the intensity landscape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub.methods._registry import Extent, Method, Parameter, register


def rolling_ball_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    height: float | None = None,
    envelope: bool = False,
) -> np.ndarray:
    """Background under a rolling ball (exact; no shrinking, no approximation).

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    radius : tuple of float
        The ball's radius in pixels along each axis (an ellipsoid if they differ).
    height : float, optional
        The ball's half-height in intensity units. ``None`` makes a true ball
        whose height equals its radius in grey levels, as in ImageJ and
        ``skimage.restoration.rolling_ball``.
    envelope : bool
        ``False`` (default) returns the height of the ball's apex as it rolls,
        which is exactly what ``skimage.restoration.rolling_ball`` returns.
        ``True`` returns the upper envelope of every position of the ball (the
        grey opening by the ball, Sternberg's original definition and what
        ImageJ computes): never below the apex result and closer to the image.

    Returns
    -------
    ndarray
        The background, same shape and dtype as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.add.outer(np.arange(32.0), np.arange(32.0))
    >>> bg = rolling_ball_background(ramp, (8.0, 8.0))
    >>> bool((bg <= ramp).all())
    True
    """
    from bgsub.kernels.ball import ball_erosion, ball_opening  # imported when first used

    if height is None:
        height = float(max(radius))
    if envelope:
        return ball_opening(image, radius, height)
    return ball_erosion(image, radius, height)


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    factor = 2 if options.get("envelope") else 1
    return tuple(factor * int(np.ceil(r)) for r in radius)


register(
    Method(
        name="rolling_ball",
        summary="Ball rolled under the image (exact; equals skimage.restoration.rolling_ball)",
        estimate=rolling_ball_background,
        parameters=(
            Parameter("height", None, "ball half-height in grey levels (None: equal to radius)",
                      minimum=0.0),
            Parameter("envelope", False, "upper envelope of all ball positions (an opening) "
                      "instead of the apex height", choices=(False, True), allow_none=False),
        ),
        halo=_halo,
        reference="skimage.restoration.rolling_ball",
    )
)
