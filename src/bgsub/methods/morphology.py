"""Grey opening with a flat footprint (the background of a white top-hat)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub._axes import per_axis
from bgsub.kernels.flat import FOOTPRINT_SHAPES, flat_dilation, flat_erosion
from bgsub.methods._registry import Extent, Method, Parameter, Spelling, register


def opening_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    footprint: str = "disk",
    dilation_radius: float | tuple[float, ...] | None = None,
) -> np.ndarray:
    """Background as a grey opening: a minimum filter, then a maximum filter.

    ``image - opening`` is the white top-hat; with ``light_background=True``
    the API turns it into the black top-hat. Giving ``dilation_radius``
    different from ``radius`` is the "min-then-max" top-hat with separate
    sizes for the two steps.

    Parameters
    ----------
    image : ndarray
        2D or 3D float image without NaN.
    radius : tuple of float
        Radius of the erosion (minimum) footprint along each axis, in pixels.
    footprint : {"disk", "box"}
        ``"disk"`` (a ball in 3D) or ``"box"`` (square / cube of side 2r+1).
    dilation_radius : float or tuple of float, optional
        Radius of the dilation (maximum) step; defaults to ``radius``.

    Returns
    -------
    ndarray
        The background, same shape and dtype as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((21, 21)); img[10, 10] = 5.0
    >>> float(opening_background(img, (3.0, 3.0)).max())
    0.0
    """
    grow = radius if dilation_radius is None else per_axis(dilation_radius, len(radius),
                                                           "dilation_radius")
    return flat_dilation(flat_erosion(image, radius, footprint), grow, footprint)


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    grow = options.get("dilation_radius")
    grow = radius if grow is None else per_axis(grow, len(radius), "dilation_radius")
    return tuple(int(np.ceil(a)) + int(np.ceil(b)) for a, b in zip(radius, grow, strict=True))


def _check_dilation_radius(value: Any) -> None:
    if value is None:
        return
    for v in np.atleast_1d(np.asarray(value, dtype=float)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"dilation_radius={value!r} is out of range; use a number > 0")


class _DilationRadius(Parameter):
    def validate(self, value: Any, method: str, spell: Spelling = repr) -> Any:
        try:
            _check_dilation_radius(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{method}: {err}") from None
        return value


register(
    Method(
        name="tophat",
        summary="Grey opening (min then max filter) with a disk/ball or box footprint",
        estimate=opening_background,
        parameters=(
            Parameter("footprint", "disk", "footprint shape", choices=FOOTPRINT_SHAPES,
                      allow_none=False),
            _DilationRadius("dilation_radius", None,
                            "radius of the max (dilation) step; default: radius"),
        ),
        halo=_halo,
        reference="skimage.morphology.opening",
        aliases=("opening",),
    )
)
