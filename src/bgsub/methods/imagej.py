"""ImageJ 1.x "Subtract Background..." reproduced pixel for pixel (1.54t or 1.53t).

The port itself lives in :mod:`bgsub.methods._imagej_port`; this module registers it
as the ``imagej`` method and is the public place to import it from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub._axes import Layout
from bgsub.methods._imagej_options import imagej_reading, parse_imagej_options
from bgsub.methods._imagej_port import DEFAULT_IMAGEJ_VERSION, IMAGEJ_VERSIONS, imagej_subtract
from bgsub.methods._registry import Extent, Method, Parameter, register

__all__ = ["DEFAULT_IMAGEJ_VERSION", "IMAGEJ_VERSIONS", "UNVERSIONED_IMAGEJ_VERSION",
           "from_imagej", "imagej_background", "imagej_reading", "imagej_subtract",
           "parse_imagej_options"]

#: The release reproduced by bgsub before ``imagej_version`` existed: what a provenance
#: record of the ``imagej`` method without that option was made with.
UNVERSIONED_IMAGEJ_VERSION = "1.53t"

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
    version = options.pop("imagej_version", DEFAULT_IMAGEJ_VERSION)
    _check_float32_range(image)
    data = np.ascontiguousarray(image, dtype=np.float32)
    return imagej_subtract(data, float(radius[-1]), version=version,
                           **options).astype(image.dtype)


def _check_float32_range(image: np.ndarray) -> None:
    """Refuse values that ImageJ's 32-bit float cannot hold (they would become infinite)."""
    if image.dtype.itemsize <= 4 or not image.size:
        return
    finite = np.abs(image[np.isfinite(image)])
    peak = float(finite.max()) if finite.size else 0.0
    if peak > float(np.finfo(np.float32).max):
        raise ValueError(f"method 'imagej' computes in 32-bit float as ImageJ does, and values "
                         f"up to {peak:.3g} exceed its range (3.4e+38); rescale the image, "
                         "or use method='rolling_ball'")


def _subtract(image: np.ndarray, layout: Layout, radius: tuple[float, ...],
              light_background: bool, imagej_version: str = DEFAULT_IMAGEJ_VERSION,
              **options: Any) -> np.ndarray:
    """What ImageJ leaves in the image, for every plane of ``image``."""
    if len(set(radius)) != 1 or layout.ndim_spatial != 2:
        raise ValueError("method 'imagej' works plane by plane with one radius; "
                         "drop true_3d and per-axis radii")
    # (ImageJ's RGB is 8-bit; three 16-bit or float samples are a composite of three
    # channels there, each processed as its own plane)
    rgb = ("S" in layout.axes and image.shape[layout.axes.index("S")] == 3
           and image.dtype == np.uint8)
    spatial = [layout.axes.index(a) for a in ("Y", "X")] + (
        [layout.axes.index("S")] if rgb else [])
    moved = np.moveaxis(image, spatial, range(-len(spatial), 0))
    if np.dtype(image.dtype) not in (np.dtype(np.uint8), np.dtype(np.uint16),
                                     np.dtype(np.float32)):
        raise TypeError(f"method 'imagej' reproduces 8-bit, 16-bit, 32-bit and RGB images; "
                        f"convert {image.dtype} with image.astype(np.float32)")
    result = imagej_subtract(np.ascontiguousarray(moved), float(radius[0]),
                             light_background=light_background, rgb=rgb,
                             version=imagej_version, **options)
    return np.moveaxis(result, range(-len(spatial), 0), spatial)


def from_imagej(options: str, version: str = DEFAULT_IMAGEJ_VERSION) -> dict[str, Any]:
    """Keyword arguments for :func:`bgsub.subtract_background` from an ImageJ macro string.

    ``bgsub.subtract_background(image, **from_imagej("rolling=50 light sliding disable"))``
    returns exactly what ``run("Subtract Background...", "rolling=50 light sliding
    disable")`` leaves in the image in ImageJ 1.54t, today's Fiji (the background with
    ``create``); ``version="1.53t"`` reproduces ImageJ 1.53t instead.

    Parameters
    ----------
    options : str
        The macro options, as ImageJ's recorder writes them.
    version : {"1.54t", "1.53t"}
        The ImageJ release to reproduce (the ``imagej_version`` option).

    Raises
    ------
    ValueError
        For a string ImageJ would read differently (or not at all), and an unknown
        version.

    Examples
    --------
    >>> kwargs = from_imagej("rolling=50 light sliding")
    >>> kwargs["method"], kwargs["radius"], kwargs["light_background"]
    ('imagej', 50.0, True)
    >>> kwargs["imagej_version"], from_imagej("rolling=5", "1.53t")["imagej_version"]
    ('1.54t', '1.53t')
    """
    if version not in IMAGEJ_VERSIONS:
        raise ValueError(f"unknown ImageJ version {version!r}; choose one of "
                         f"{', '.join(IMAGEJ_VERSIONS)}")
    parsed = parse_imagej_options(options)
    return {"method": "imagej", "radius": float(parsed.pop("radius")),
            "light_background": bool(parsed.pop("light_background", False)), **parsed,
            "imagej_version": version}


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    return extent.shape  # ImageJ shrinks and interpolates over the whole plane


register(
    Method(
        name="imagej",
        summary="ImageJ's Subtract Background (1.54t, or 1.53t), pixel for pixel "
                "(shrinks; approximate)",
        estimate=imagej_background,
        parameters=(
            *(Parameter(flag, flag == "correct_corners",
                        f"ImageJ option: {flag.replace('_', ' ')}",
                        choices=(False, True), allow_none=False) for flag in _FLAGS),
            Parameter("imagej_version", DEFAULT_IMAGEJ_VERSION,
                      "The ImageJ release reproduced: 1.54t (today's Fiji) or 1.53t",
                      choices=IMAGEJ_VERSIONS, allow_none=False),
        ),
        supports_3d=False,
        halo=_halo,
        reference="ImageJ 1.54t / 1.53t ij.plugin.filter.BackgroundSubtracter",
        subtract=_subtract,
    )
)
