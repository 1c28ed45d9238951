"""Pixel-exact re-implementation of ImageJ 1.x ``Process > Subtract Background...``.

This module reproduces what ImageJ **1.54t** (the release Fiji ships today) and
**1.53t** (``ij.plugin.filter.BackgroundSubtracter``) leave in an image, for every
option of the dialog (rolling ball radius, light background, separate colors, create
background, sliding paraboloid, disable smoothing) and for 8-bit, 16-bit, 32-bit and
RGB images.  One implementation serves both releases: the ``v154`` switch of the
kernels selects 1.54t's code where the two differ.  It is written from the published
description of the algorithm and from the observed behaviour of the two releases;
the code is our own.  This module plans the work plane by plane; the loops themselves are
the compiled kernels of :mod:`bgsub.kernels.imagej`.

Summary of the ImageJ algorithm (all arithmetic in IEEE single precision, as in Java):

* The image is converted to float.  With *light background* it is negated.
* Unless *disable smoothing* is set, a 3x3 mean (rows, then columns, edge pixels
  replicated) is applied to the copy used for the background.  In 1.54t a mean that
  would be NaN leaves the pixel unchanged (NaN no longer spreads).
* **Rolling ball**: for radius > 10 the image is shrunk by taking block minima
  (factor 2 up to r = 30, 4 up to r = 100, 8 above); a "ball" that is the top
  patch of a sphere of radius ``r / shrink`` (trimmed by 24/24/32/40 % per side,
  heights *not* scaled) is rolled under the surface (a grey-scale opening with
  windows clipped at the image border); the result is enlarged again by
  ImageJ's own bilinear interpolation/extrapolation.
* **Sliding paraboloid**: unless smoothing is disabled, a 3x3 maximum (whose mean
  increase ``shift`` is remembered) precedes the 3x3 mean; corner pixels that look
  like foreground are lowered (*correct corners*); then a parabola with
  curvature ``1/r`` is slid along rows, columns, rows again and both diagonals
  (9 passes).  Finally the maximum's increase is subtracted.  1.53t divides the
  summed increase by ``width * height`` and subtracts it once; 1.54t divides by the
  number of (non-NaN) row and column steps, ``2 * width * height``, and subtracts it
  twice: the same amount.  1.54t also estimates the corners differently (only from
  touching points inside the line, and not from lines too short for a slope) and
  handles NaN pixels, on which 1.53t never terminates.
* The result is ``image - background`` (+ 0.5 for rounding, + full scale with a light
  background, clipped) for 8/16-bit, ``image - background`` for 32-bit, and the
  background itself with *create background*.  RGB images are processed on the
  HSB brightness (hue and saturation kept) unless *separate colors* is set, in
  which case each channel is treated like an 8-bit image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from bgsub.kernels import imagej as kernels
from bgsub.kernels.threads import limit_threads

__all__ = ["DEFAULT_IMAGEJ_VERSION", "IMAGEJ_VERSIONS", "imagej_subtract"]

#: The ImageJ releases whose output this module reproduces, oldest first.
IMAGEJ_VERSIONS = ("1.53t", "1.54t")
#: The release reproduced unless another is asked for: the one Fiji runs today.
DEFAULT_IMAGEJ_VERSION = "1.54t"

_HALF = np.float32(0.5)

#: Planes with fewer pixels run on one thread: starting a thread team for each of the
#: ~20 parallel loops of a plane costs more than it saves (results are identical).
_SERIAL_BELOW_PIXELS = 1 << 16


# --------------------------------------------------------------------------------------
# ball geometry
# --------------------------------------------------------------------------------------
def _shrink_and_trim(radius: float) -> tuple[int, int]:
    """Shrink factor and arc-trim percentage that ImageJ chooses for a radius."""
    if radius <= 10:
        return 1, 24
    if radius <= 30:
        return 2, 24
    if radius <= 100:
        return 4, 32
    return 8, 40


def _java_round(x: float) -> int:
    """``Math.round(double)``: floor(x + 0.5)."""
    return int(math.floor(x + 0.5))


def _imagej_ball(radius: float) -> tuple[np.ndarray, int]:
    """ImageJ's discretised ball patch (float32 heights) and the shrink factor."""
    shrink, trim = _shrink_and_trim(radius)
    small_r = radius / shrink
    if small_r < 1:
        small_r = 1.0
    rsq = small_r * small_r
    xtrim = int(trim * small_r) // 100
    half = _java_round(small_r - xtrim)
    width = 2 * half + 1
    d = np.arange(width, dtype=np.int64) - half
    temp = rsq - (d[None, :] * d[None, :]).astype(np.float64) - (d[:, None] * d[:, None])
    ball = np.where(temp > 0.0, np.sqrt(np.maximum(temp, 0.0)), 0.0).astype(np.float32)
    return ball, shrink


# --------------------------------------------------------------------------------------
# rolling ball
# --------------------------------------------------------------------------------------
def _rolling_ball_background(
    fp: np.ndarray, radius: float, invert: bool, presmooth: bool, v154: bool
) -> np.ndarray:
    """Background of one float32 plane by ImageJ's rolling ball (in place on ``fp``)."""
    ball, shrink = _imagej_ball(radius)
    h, w = fp.shape
    if shrink > 1 and w <= shrink:
        raise ValueError(
            f"ImageJ fails (ArrayIndexOutOfBoundsException) on images with width <= "
            f"{shrink} for radius {radius:g}; use a radius <= 10 or a wider image"
        )
    if invert:
        np.negative(fp, out=fp)
    if presmooth:
        kernels.filter3x3(fp, maximum=False, v154=v154)
    if shrink > 1:
        small = kernels.roll_ball(kernels.shrink_image(fp, shrink), ball)
        bg = kernels.enlarge_image(small, h, w, shrink)
    else:
        bg = kernels.roll_ball(fp, ball)
    if invert:
        np.negative(bg, out=bg)
    return bg


# --------------------------------------------------------------------------------------
# per-plane driver
# --------------------------------------------------------------------------------------
def _is_154(version: str) -> bool:
    """True for 1.54t's code paths; a one-line error for a release we do not reproduce."""
    if version not in IMAGEJ_VERSIONS:
        raise ValueError(
            f"unknown ImageJ version {version!r}; choose one of {', '.join(IMAGEJ_VERSIONS)}"
        )
    return version != "1.53t"


@contextmanager
def _threads_for(n_pixels: int) -> Iterator[None]:
    """One kernel thread (for the calling thread only) while a small plane is processed."""
    if n_pixels >= _SERIAL_BELOW_PIXELS:
        yield
        return
    with limit_threads(1):
        yield


def _background(
    plane: np.ndarray,
    radius: float,
    invert: bool,
    presmooth: bool,
    paraboloid: bool,
    correct_corners: bool,
    v154: bool,
) -> np.ndarray:
    """float32 background of one 2-D plane, as ImageJ computes it."""
    fp = np.array(plane, dtype=np.float32, order="C", copy=True)
    h, w = fp.shape
    if paraboloid:
        if not v154 and not np.isfinite(fp).all():
            raise ValueError(
                "ImageJ 1.53t's sliding paraboloid never finishes on NaN or infinite pixels; "
                "use imagej_version='1.54t' or the rolling ball"
            )
        with _threads_for(fp.size):
            endless = kernels.sliding_paraboloid(
                fp, radius, invert=invert, presmooth=presmooth,
                correct_corners=correct_corners, v154=v154,
            )
        if endless:
            raise ValueError(
                "ImageJ 1.53t's sliding paraboloid never finishes on this image (values "
                "spanning more than the float range); use imagej_version='1.54t'"
            )
        return fp
    with _threads_for(fp.size):
        return _rolling_ball_background(fp, radius, invert, presmooth, v154)


def _finish(
    plane: np.ndarray, bg: np.ndarray, create: bool, invert: bool, full_scale: float
) -> np.ndarray:
    """Convert the background / difference to the output type like ImageJ does."""
    if plane.dtype == np.float32:
        return bg if create else plane - bg
    if create:
        value = bg + _HALF
    else:
        offset = np.float32(full_scale + 0.5) if invert else _HALF
        value = (plane.astype(np.float32) - bg) + offset
    value = np.clip(value, np.float32(0.0), np.float32(full_scale))
    return value.astype(plane.dtype)  # truncation == Java (int) cast for values >= 0


def _process_gray(plane, radius, invert, create, presmooth, paraboloid, corners, v154):
    bg = _background(plane, radius, invert, presmooth, paraboloid, corners, v154)
    full = 255.0 if plane.dtype == np.uint8 else 65535.0
    return _finish(plane, bg, create, invert, full)


def imagej_subtract(
    image: np.ndarray,
    radius: float,
    *,
    light_background: bool = False,
    separate_colors: bool = False,
    create_background: bool = False,
    sliding_paraboloid: bool = False,
    disable_smoothing: bool = False,
    correct_corners: bool = True,
    rgb: bool = False,
    version: str = DEFAULT_IMAGEJ_VERSION,
) -> np.ndarray:
    """Reproduce ImageJ's ``Process > Subtract Background...`` pixel for pixel.

    Parameters
    ----------
    image : ndarray
        ``uint8`` (8-bit), ``uint16`` (16-bit) or ``float32`` (32-bit) image of shape
        ``(..., H, W)``; with ``rgb=True`` a ``uint8`` array of shape ``(..., H, W, 3)``.
        Leading axes are processed slice by slice, like an ImageJ stack.
    radius : float
        "Rolling ball radius" in pixels (> 0).  For the rolling ball, radii above 10,
        30 and 100 make ImageJ work on an image shrunk by 2, 4 or 8.
    light_background : bool
        "Light background": the background is brighter than the objects.  (ImageJ
        also flips this for images with an inverting LUT; arrays have none.)
    separate_colors : bool
        "Separate colors" (RGB only): process R, G and B independently instead of the
        HSB brightness.
    create_background : bool
        "Create background (don't subtract)": return the background instead.
    sliding_paraboloid : bool
        "Sliding paraboloid" instead of the rolling ball.
    disable_smoothing : bool
        "Disable smoothing": no 3x3 mean (and, for the paraboloid, no 3x3 maximum)
        before computing the background.
    correct_corners : bool
        Corner-particle correction of the sliding paraboloid (always on in the
        dialog; only the API can switch it off).  Ignored for the rolling ball.
    rgb : bool
        Treat the last axis (length 3, ``uint8``) as RGB, i.e. an ImageJ RGB image.
    version : {"1.54t", "1.53t"}
        The ImageJ release to reproduce: ``"1.54t"`` (the default; what Fiji runs
        today, also the 1.54u daily builds) or ``"1.53t"`` (older analyses).  They
        differ for the sliding paraboloid (corner estimate, NaN pixels) and for the
        3x3 smoothing of 32-bit images with NaN.

    Returns
    -------
    ndarray
        What ImageJ leaves in the image, same shape and dtype as ``image``.  For 8/16
        bit: ``clip(image - background + 0.5)`` (light background:
        ``+ 255.5`` / ``+ 65535.5``), truncated; for 32 bit: ``image - background``;
        with ``create_background`` the (rounded) background.

    Raises
    ------
    TypeError
        For unsupported dtypes.
    ValueError
        For bad shapes, radius or version; where ImageJ itself fails (rolling ball
        with shrinking on an image whose width is <= the shrink factor); and for the
        sliding paraboloid on NaN or infinite pixels with ``version="1.53t"``, on
        which that release never finishes.

    Examples
    --------
    >>> import numpy as np
    >>> from bgsub.methods.imagej import imagej_subtract
    >>> img = np.full((64, 64), 100, np.uint8)
    >>> img[30:34, 30:34] = 200
    >>> out = imagej_subtract(img, 10, disable_smoothing=True)
    >>> int(out[0, 0]), int(out[31, 31])
    (0, 100)
    """
    arr = np.asarray(image)
    radius = float(radius)
    if not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive finite number, got {radius!r}")
    if rgb:
        if arr.dtype != np.uint8 or arr.ndim < 3 or arr.shape[-1] != 3:
            raise ValueError(
                f"rgb=True needs a uint8 array of shape (..., H, W, 3), got "
                f"{arr.dtype} {arr.shape}"
            )
    else:
        if arr.dtype not in (np.uint8, np.uint16, np.float32):
            raise TypeError(
                f"unsupported dtype {arr.dtype}; ImageJ types are uint8, uint16, float32 "
                "(and uint8 RGB with rgb=True)"
            )
        if arr.ndim < 2:
            raise ValueError(f"image must be at least 2-D, got shape {arr.shape}")
    v154 = _is_154(version)
    invert = bool(light_background)
    presmooth = not disable_smoothing
    create = bool(create_background)
    para = bool(sliding_paraboloid)
    corners = bool(correct_corners)

    plane_shape = arr.shape[-3:] if rgb else arr.shape[-2:]
    if 0 in plane_shape:
        raise ValueError(f"empty image plane: shape {arr.shape}")
    planes = arr.reshape((-1, *plane_shape))
    out = np.empty_like(planes)
    settings = (radius, invert, create, presmooth, para, corners, v154)
    for k in range(planes.shape[0]):
        plane = planes[k]
        if not rgb:
            out[k] = _process_gray(plane, *settings)
        elif separate_colors:
            for c in range(3):
                out[k, ..., c] = _process_gray(np.ascontiguousarray(plane[..., c]), *settings)
        else:
            hsb = kernels.rgb_to_hsb_bytes(np.ascontiguousarray(plane))
            bright = _process_gray(hsb[2], *settings)
            out[k] = kernels.hsb_bytes_to_rgb(hsb[0], hsb[1], np.ascontiguousarray(bright))
    return out.reshape(arr.shape)
