"""The hot loops of ImageJ's *Subtract Background*, computed as ImageJ computes them.

These are the compiled kernels of the pixel-exact port :mod:`bgsub.methods.imagej` (which
describes the algorithm and drives them plane by plane). Each reproduces Java's arithmetic
operation by operation -- ``float`` where ImageJ uses float, ``double`` where it uses double,
``(int)`` casts that truncate toward zero -- so that the results are bit-identical to ImageJ's.
``v154`` selects ImageJ 1.54t's code where it differs from 1.53t's.

The kernels do not validate their input: planes are 2-D C-contiguous ``float32`` arrays
(RGB planes ``uint8``), changed in place where documented. Parallel kernels use
:func:`bgsub.kernels.threads.num_threads` threads; their results do not depend on it.
"""

from __future__ import annotations

import numpy as np

from bgsub.kernels._imagej import enlarge_image as _enlarge_image
from bgsub.kernels._imagej import filter3x3 as _filter3x3
from bgsub.kernels._imagej import hsb_bytes_to_rgb as _hsb_bytes_to_rgb
from bgsub.kernels._imagej import rgb_to_hsb_bytes as _rgb_to_hsb_bytes
from bgsub.kernels._imagej import roll_ball as _roll_ball
from bgsub.kernels._imagej import shrink_image as _shrink_image
from bgsub.kernels._imagej import sliding_paraboloid as _sliding_paraboloid
from bgsub.kernels.threads import num_threads

__all__ = [
    "filter3x3",
    "shrink_image",
    "roll_ball",
    "enlarge_image",
    "sliding_paraboloid",
    "rgb_to_hsb_bytes",
    "hsb_bytes_to_rgb",
]


def filter3x3(plane: np.ndarray, *, maximum: bool, v154: bool) -> float:
    """ImageJ's 3x3 mean or maximum (rows, then columns; edges replicated), in place.

    Parameters
    ----------
    plane : ndarray of float32, shape (H, W), C-contiguous
        Filtered in place.
    maximum : bool
        The 3x3 maximum instead of the mean.
    v154 : bool
        1.54t's filter (NaN neighbours skipped, a NaN mean leaves the pixel) instead of
        1.53t's.

    Returns
    -------
    float
        For the maximum, its mean increase: 1.53t divides the summed increase of the row
        and column steps by ``H * W``, 1.54t by the number of non-NaN steps. Meaningless
        for the mean.

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.zeros((3, 3), np.float32)
    >>> plane[1, 1] = 9
    >>> filter3x3(plane, maximum=True, v154=True)  # 72 summed over 18 steps
    4.0
    >>> filter3x3(plane, maximum=False, v154=True)  # a 3x3 mean of 9s
    nan
    >>> plane
    array([[9., 9., 9.],
           [9., 9., 9.],
           [9., 9., 9.]], dtype=float32)
    """
    return _filter3x3(plane, maximum, v154, num_threads())


def shrink_image(plane: np.ndarray, factor: int) -> np.ndarray:
    """Minimum of each ``factor x factor`` block (partial blocks at the end), as ImageJ shrinks.

    Examples
    --------
    >>> import numpy as np
    >>> shrink_image(np.arange(15, dtype=np.float32).reshape(3, 5), 2)
    array([[ 0.,  2.,  4.],
           [10., 12., 14.]], dtype=float32)
    """
    return _shrink_image(plane, factor)


def roll_ball(plane: np.ndarray, ball: np.ndarray) -> np.ndarray:
    """Grey-scale opening of a float32 plane by ImageJ's ball, windows clipped to the image.

    Ball centres range over the image extended by the ball radius on every side, as in
    ImageJ's ``rollBall``: the erosion ``z = min(pixel - ball)`` is taken over the part of
    the patch inside the image (NaN pixels ignored), the background is ``max(z + ball)``.
    The result is bit-identical to ImageJ's because min and max do not depend on the order
    and float rounding is monotonic, ``min(fl(a - b), fl(c - b)) == fl(min(a, c) - b)``,
    which lets the four mirror-symmetric offsets that share a ball height be combined
    before the subtraction.

    Parameters
    ----------
    plane : ndarray of float32, shape (H, W), C-contiguous
    ball : ndarray of float32, shape (B, B), C-contiguous, B odd
        Ball heights (ImageJ's, see ``bgsub.methods.imagej``).

    Returns
    -------
    ndarray of float32, shape (H, W)

    Examples
    --------
    >>> import numpy as np
    >>> ball = np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]], np.float32)
    >>> roll_ball(np.array([[5, 5, 9, 5, 5]], np.float32), ball)
    array([[5., 5., 5., 5., 5.]], dtype=float32)
    """
    return _roll_ball(plane, ball, num_threads())


def enlarge_image(small: np.ndarray, height: int, width: int, factor: int) -> np.ndarray:
    """ImageJ's bilinear inter- and extrapolation of a plane shrunk by ``factor``.

    Examples
    --------
    >>> import numpy as np
    >>> enlarge_image(np.array([[0, 4], [0, 4]], np.float32), 2, 4, 2)
    array([[-1.,  1.,  3.,  5.],
           [-1.,  1.,  3.,  5.]], dtype=float32)
    """
    return _enlarge_image(small, height, width, factor)


def sliding_paraboloid(
    plane: np.ndarray,
    radius: float,
    *,
    invert: bool,
    presmooth: bool,
    correct_corners: bool,
    v154: bool,
) -> bool:
    """ImageJ's ``slidingParaboloidFloatBackground``, in place on a float32 plane.

    Parameters
    ----------
    plane : ndarray of float32, shape (H, W), C-contiguous
        Replaced by its background.
    radius : float
        The paraboloid's radius (curvature ``1 / radius`` along rows and columns); rounded
        to float32 like ImageJ's.
    invert, presmooth, correct_corners, v154 : bool
        Light background; 3x3 maximum and mean first; corner correction; 1.54t's rules.

    Returns
    -------
    bool
        True where ImageJ 1.53t never finishes (the plane is then left half done).

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.zeros((5, 5), np.float32)
    >>> plane[2, 2] = 100
    >>> sliding_paraboloid(plane, 2.0, invert=False, presmooth=False, correct_corners=True,
    ...                    v154=True)
    False
    >>> float(plane[2, 2])  # the peak is gone: what is left is the sag of the parabola
    0.25
    """
    return bool(
        _sliding_paraboloid(
            plane, np.float32(radius), invert, presmooth, correct_corners, v154, num_threads()
        )
    )


def rgb_to_hsb_bytes(rgb: np.ndarray) -> np.ndarray:
    """Hue, saturation and brightness bytes of a C-contiguous (H, W, 3) uint8 RGB plane.

    As ``java.awt.Color.RGBtoHSB`` followed by ImageJ's ``(int)(v * 255.0)``; returns
    shape (3, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> rgb_to_hsb_bytes(np.array([[[255, 0, 0]]], np.uint8)).ravel()
    array([  0, 255, 255], dtype=uint8)
    """
    return _rgb_to_hsb_bytes(rgb)


def hsb_bytes_to_rgb(hue: np.ndarray, saturation: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 RGB plane of hue, saturation and brightness bytes, as ImageJ.

    Each input is a C-contiguous (H, W) uint8 array (``java.awt.Color.HSBtoRGB`` of the
    bytes divided by 255).

    Examples
    --------
    >>> import numpy as np
    >>> one = np.full((1, 1), 255, np.uint8)
    >>> hsb_bytes_to_rgb(np.zeros((1, 1), np.uint8), one, one).ravel()
    array([255,   0,   0], dtype=uint8)
    """
    return _hsb_bytes_to_rgb(hue, saturation, brightness)
