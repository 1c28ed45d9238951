"""ImageJ 1.x "Subtract Background..." reproduced pixel for pixel (see ``bgsub.imagej``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub._axes import Layout
from bgsub.imagej import imagej_subtract, parse_imagej_options
from bgsub.methods._registry import Extent, Method, Parameter, register

_FLAGS = ("separate_colors", "create_background", "sliding_paraboloid", "disable_smoothing",
          "correct_corners")


def imagej_background(image: np.ndarray, radius: tuple[float, ...], **options: Any) -> np.ndarray:
    """ImageJ's background of a float plane (its 32-bit behaviour), plane by plane.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((20, 20), 7.0, np.float32)
    >>> float(imagej_background(flat, (5.0, 5.0)).max())
    7.0
    """
    options = dict(options, create_background=True)
    options.pop("separate_colors", None)
    data = np.ascontiguousarray(image, dtype=np.float32)
    return imagej_subtract(data, float(radius[-1]), **options).astype(image.dtype)


def _subtract(image: np.ndarray, layout: Layout, radius: tuple[float, ...],
              light_background: bool, **options: Any) -> np.ndarray:
    """What ImageJ leaves in the image, for every plane of ``image``."""
    if len(set(radius)) != 1 or layout.ndim_spatial != 2:
        raise ValueError("method 'imagej' works plane by plane with one radius; "
                         "drop true_3d and per-axis radii")
    rgb = "S" in layout.axes and image.shape[layout.axes.index("S")] == 3
    spatial = [layout.axes.index(a) for a in ("Y", "X")] + (
        [layout.axes.index("S")] if rgb else [])
    moved = np.moveaxis(image, spatial, range(-len(spatial), 0))
    if np.dtype(image.dtype) not in (np.dtype(np.uint8), np.dtype(np.uint16),
                                     np.dtype(np.float32)):
        raise TypeError(f"method 'imagej' reproduces 8-bit, 16-bit, 32-bit and RGB images; "
                        f"convert {image.dtype} with image.astype(np.float32)")
    result = imagej_subtract(np.ascontiguousarray(moved), float(radius[0]),
                             light_background=light_background, rgb=rgb, **options)
    return np.moveaxis(result, range(-len(spatial), 0), spatial)


def from_imagej(options: str) -> dict[str, Any]:
    """Keyword arguments for :func:`bgsub.subtract_background` from an ImageJ macro string.

    ``bgsub.subtract_background(image, **from_imagej("rolling=50 light sliding disable"))``
    returns exactly what ``run("Subtract Background...", "rolling=50 light sliding
    disable")`` leaves in the image in ImageJ 1.53t (the background with ``create``).

    Examples
    --------
    >>> kwargs = from_imagej("rolling=50 light sliding")
    >>> kwargs["method"], kwargs["radius"], kwargs["light_background"]
    ('imagej', 50.0, True)
    """
    parsed = parse_imagej_options(options)
    return {"method": "imagej", "radius": float(parsed.pop("radius")),
            "light_background": bool(parsed.pop("light_background", False)), **parsed}


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    return extent.shape  # ImageJ shrinks and interpolates over the whole plane


register(
    Method(
        name="imagej",
        summary="ImageJ 1.53t Subtract Background, pixel for pixel (shrinks; approximate)",
        estimate=imagej_background,
        parameters=tuple(
            Parameter(flag, flag == "correct_corners", f"ImageJ option: {flag.replace('_', ' ')}",
                      choices=(False, True), allow_none=False) for flag in _FLAGS),
        supports_3d=False,
        halo=_halo,
        reference="ImageJ 1.53t ij.plugin.filter.BackgroundSubtracter",
        subtract=_subtract,
    )
)
