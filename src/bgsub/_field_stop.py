"""A field stop told from data: a disc of light in a dark surround of noise.

A closed field diaphragm, a fundus camera's circular aperture, an objective that does not
fill the sensor: the image is a disc of light (background and objects) cut sharply from a
surround that received none, the camera's offset and its noise. Unlike a mosaic's padding
(:mod:`bgsub._padding`) the surround is not one value, so ``missing=`` cannot name it. Every
minimum-based background rests on it beside the disc's rim as on dark background (a 512 px
field whose disc of radius 240 px holds nuclei: the default 335 grey levels off inside the
disc, 615 within 30 px of its rim, the rolling ball at 50 px 591; 3.6 with the surround NaN).
The fix is the user's: mark the surround NaN, or crop inside the disc.
"""

from __future__ import annotations

import numpy as np

from bgsub._arrays import in_ordinary_unit
from bgsub._warnings import warn
from bgsub.kernels.bins import MAD_TO_SD, mad
from bgsub.kernels.blocks import coarse_cells

__all__ = ["field_stop_finding", "field_stop_share", "warn_if_field_stop"]

#: The plane is looked at on block means of at least this many cells on its smaller side.
CELLS = 128
#: Planes smaller than this many pixels a side are not looked at.
SMALLEST = 64
#: A corner is the square of this share of each side at each of the plane's corners.
CORNER = 1.0 / 16.0
#: The disc's background lies at least this many of the corners' noise sds above them ...
STEP_NOISE = 20.0
#: ... and the surround (dark cells joined to the corners) covers this share of the plane.
SHARE = (0.05, 0.6)
#: Its rim is sharp: the cells this many cells inside it (the first past the blocks that
#: straddle it, and further in) ...
RIM_DEPTHS = (2, 5)
#: ... rise above the surround by at least this share of the further ones' rise (a
#: vignetting's slow fall rises steadily).
SHARP = 0.8
#: A disc: the rim lies on a circle within this share of its radius (the rim of discs of
#: 200-280 px on 512 px planes: 0.4-0.5 %; the straight edges of a square canvas rotated by
#: 10-45 degrees: 2-8 %).
ROUND = 0.015


def field_stop_share(plane: np.ndarray) -> float:
    """The share of ``plane`` (2D) in a field stop's dark surround, or 0 where it shows none.

    A field stop: each of the four corners is dark (its cells within a few noise sds of
    the darkest corner's median), the disc's background (the centre's lower quartile) lies
    :data:`STEP_NOISE` of the corners' noise sds above them, the dark cells joined to the
    corners cover :data:`SHARE` of the plane and end in a sharp rim (:data:`SHARP`)
    that is round (:data:`ROUND`; where it meets the plane's edge it is not counted).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[0:256, 0:256]
    >>> disc = np.hypot(yy - 128, xx - 128) < 120
    >>> image = np.where(disc, rng.normal(1000, 30, disc.shape), rng.normal(100, 3, disc.shape))
    >>> round(field_stop_share(image), 2)
    0.3
    >>> field_stop_share(rng.normal(1000, 30, (256, 256)))
    0.0
    """
    plane = np.asarray(plane)
    if plane.ndim != 2 or min(plane.shape) < SMALLEST or plane.dtype.kind not in "iuf":
        return 0.0
    cells = coarse_cells(plane, CELLS)[0]
    if not np.isfinite(cells).all():  # (NaN pixels: the surround is marked already)
        return 0.0
    cells = in_ordinary_unit(cells)[0]  # (a median of two values near 1e308 overflows)
    rows, cols = cells.shape
    k = max(2, int(round(CORNER * min(rows, cols))))
    corners = [cells[:k, :k], cells[:k, -k:], cells[-k:, :k], cells[-k:, -k:]]
    levels = np.array([np.median(c) for c in corners])
    darkest = corners[int(np.argmin(levels))]
    low = float(levels.min())
    noise = MAD_TO_SD * mad(darkest)
    centre = cells[rows // 4:rows - rows // 4, cols // 4:cols - cols // 4]
    high = float(np.percentile(centre, 25))
    step = high - low
    if not (step > STEP_NOISE * max(noise, 1e-12 * max(abs(low), abs(high), 1.0))):
        return 0.0
    if np.any(levels - low > 0.25 * step):  # (a corner in the light: not a closed stop)
        return 0.0
    from scipy import ndimage as ndi  # (~0.15 s to import: only where the corners are dark)

    dark = cells < low + 0.25 * step
    labels, _ = ndi.label(dark)
    at_corners = np.unique([labels[0, 0], labels[0, -1], labels[-1, 0], labels[-1, -1]])
    surround = np.isin(labels, at_corners[at_corners > 0])
    share = float(np.count_nonzero(surround)) / surround.size
    if not SHARE[0] <= share <= SHARE[1]:
        return 0.0
    # a sharp rim: the disc's light just inside it nearly as high as further in
    inward = ndi.distance_transform_cdt(~surround, metric="chessboard")
    near, far = (float(np.median(cells[inward == d])) if np.any(inward == d) else low
                 for d in RIM_DEPTHS)
    if not (far > low and near - low >= SHARP * (far - low)):
        return 0.0
    rim = surround & ~ndi.binary_erosion(surround, border_value=1)
    y, x = np.nonzero(rim)
    inside = (y > 0) & (y < rows - 1) & (x > 0) & (x < cols - 1)
    if np.count_nonzero(inside) < 16 or not _round(y[inside], x[inside]):
        return 0.0
    return share


def _round(y: np.ndarray, x: np.ndarray) -> bool:
    """Whether the points ``(y, x)`` lie on a circle: the least-squares circle's (Kasa's
    algebraic fit) residual at most :data:`ROUND` of its radius."""
    y, x = y.astype(np.float64), x.astype(np.float64)
    design = np.column_stack([y, x, np.ones_like(y)])
    (a, b, c), *_ = np.linalg.lstsq(design, y**2 + x**2, rcond=None)
    cy, cx = a / 2.0, b / 2.0
    radius2 = c + cy**2 + cx**2
    if not radius2 > 0:
        return False
    distance = np.hypot(y - cy, x - cx)
    return float(np.sqrt(np.mean((distance - np.sqrt(radius2)) ** 2))) <= ROUND * np.sqrt(radius2)


def warn_if_field_stop(plane: np.ndarray, stacklevel: int = 5) -> None:
    """A :class:`bgsub.BackgroundWarning` naming the fix where :func:`field_stop_share` finds
    a field stop's dark surround in ``plane``."""
    share = field_stop_share(plane)
    if share > 0:
        warn(f"{field_stop_finding(share)}: if it is a field stop's (a closed field "
             "diaphragm, a circular aperture), the background beside the disc's rim rests on "
             "the surround's level; mark the surround NaN (a float image), or crop inside the "
             "disc", stacklevel=stacklevel)


def field_stop_finding(share: float) -> str:
    """What :func:`field_stop_share` found, in words.

    Examples
    --------
    >>> field_stop_finding(0.31)
    '31 % of the image is a dark, flat surround of one round disc of light'
    """
    return f"{100 * share:.0f} % of the image is a dark, flat surround of one round disc of light"

