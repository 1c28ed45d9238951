"""Padding told from data: solid regions of one extreme value that reach the image's edge.

A stitched mosaic, a registered or rotated image, a crop pasted onto a canvas: the pixels
outside the data hold one value (0, mostly), in solid regions that reach the edge and end in
a jump to the data. Every minimum-based background rests on them as on dark background, and
pulls the background beside them down by the data's level (a 512 px field with 30 % of it
zero-padded: the default's background 229 grey levels off over the data, 3 when the padding
is marked missing). Missing pixels weigh on nothing, so the fix is the user's: mark them
(``missing=`` in the API, ``--missing`` on the command line, or NaN in a float image).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bgsub._arrays import finite_number
from bgsub._warnings import warn
from bgsub.kernels.binary import binary_dilation_cross, binary_erosion_cross

__all__ = ["PADDING_SHARE", "check_missing", "fill_from_nearest", "padding_finding",
           "padding_share", "valid_pixels", "warn_if_padded"]

#: Planes smaller than this many pixels a side are not looked at.
SMALLEST = 16
#: Planes of a stack looked at, at most (evenly spaced).
MAX_PLANES = 8
#: Padding is worth a warning from this share of the image.
PADDING_SHARE = 0.02
#: ... and up to this share (beyond, it is more likely a noise-free image's background)
PADDING_MOST = 0.8
#: ... when at least this share of its pixels have all four neighbours in it (solid,
#: not the scattered zeros of a dim, clipped background) ...
SOLID = 0.9
#: ... and the pixels beside it lie above it by at least this share of the data's median
#: above it (a jump to the data, not a clipped background's slow rise out of the floor).
JUMP = 0.5


def padding_share(plane_stack: np.ndarray, light_background: bool = False
                  ) -> tuple[float, float]:
    """The share of ``plane_stack`` (``(..., Y, X)``) that is padding, and its value.

    Padding: the pixels of the extreme value on the background's side (the minimum; the
    maximum with ``light_background``), where they cover :data:`PADDING_SHARE` to
    :data:`PADDING_MOST` of it,
    lie in solid regions (:data:`SOLID`) that reach an edge of the plane and end in a jump
    to the data (:data:`JUMP`). ``(0.0, nan)`` where there is none.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).poisson(500, (64, 64)).astype(np.uint16)
    >>> image[:, :16] = 0
    >>> padding_share(image)
    (0.25, 0.0)
    >>> padding_share(np.random.default_rng(1).poisson(0.5, (64, 64)))
    (0.0, nan)
    """
    none = (0.0, float("nan"))
    values = np.asarray(plane_stack)
    if values.ndim < 2 or values.size == 0 or values.dtype.kind not in "iuf":
        return none
    if min(values.shape[-2:]) < SMALLEST:
        return none
    values = values.reshape(-1, *values.shape[-2:])
    if values.shape[0] > MAX_PLANES:  # (evenly spaced planes: memory bounded by a few)
        values = values[np.linspace(0, values.shape[0] - 1, MAX_PLANES).round().astype(int)]
    # (fmax / fmin pass over NaN without NumPy's all-NaN warning; NaN when all are)
    value = (np.fmax if light_background else np.fmin).reduce(values, axis=None)
    if not np.isfinite(value):
        return none
    mask = values == value
    count = int(np.count_nonzero(mask))
    if not PADDING_SHARE * values.size <= count <= PADDING_MOST * values.size:
        return none
    inner = np.count_nonzero(binary_erosion_cross(mask))
    if inner == 0 or inner < SOLID * count * _inner_share(values.shape):
        return none
    if not (mask[..., 0, :].any() or mask[..., -1, :].any() or mask[..., :, 0].any()
            or mask[..., :, -1].any()):
        return none
    beside = binary_dilation_cross(mask) & ~mask
    if not beside.any():
        return none
    sign = -1.0 if light_background else 1.0
    # (each median sorts its own gathered copy in place: no second copy of the data)
    step = sign * (float(np.median(values[beside], overwrite_input=True)) - float(value))
    del beside
    level = sign * (float(np.median(values[~mask], overwrite_input=True)) - float(value))
    if not (level > 0 and step >= JUMP * level):
        return none
    return count / values.size, float(value)


def warn_if_padded(plane_stack: np.ndarray, light_background: bool = False,
                   stacklevel: int = 5) -> None:
    """A :class:`bgsub.BackgroundWarning` naming the fix where :func:`padding_share` finds
    padding in ``plane_stack``."""
    warn_of_padding(*padding_share(plane_stack, light_background), stacklevel=stacklevel)


def warn_of_padding(share: float, value: float, stacklevel: int = 4) -> None:
    """The warning of :func:`warn_if_padded` for a finding of :func:`padding_share` (none
    where ``share`` is 0); ``stacklevel`` as :func:`warnings.warn` counts it from inside this
    function (the default names its caller's caller)."""
    if share > 0:
        warn(f"{padding_finding(share, value)}: the background beside it is pulled towards "
             f"it; mark those pixels missing (missing={value:g}; on the command line "
             f"--missing {value:g}): they then weigh on no background and keep their value",
             stacklevel=stacklevel)


def padding_finding(share: float, value: float) -> str:
    """What :func:`padding_share` found, in words (for a warning or a reason).

    Examples
    --------
    >>> padding_finding(0.25, 0.0).split(" in solid")[0]
    '25 % of the image is one value (0)'
    """
    return (f"{100 * share:.0f} % of the image is one value ({value:g}) in solid regions "
            "reaching its edge, as a stitched or registered image's padding is")


def _inner_share(shape: tuple[int, ...]) -> float:
    """The share of a plane's pixels that have four neighbours in it."""
    rows, cols = shape[-2:]
    return max(rows - 2, 0) * max(cols - 2, 0) / (rows * cols)


def check_missing(missing: Any) -> float | None:
    """``missing`` as a finite float (None stays None), or a one-line error.

    Examples
    --------
    >>> check_missing(0), check_missing(None)
    (0.0, None)
    """
    if missing is None:
        return None
    return finite_number(missing, "missing", "a number (the value of pixels that are not "
                         "data, e.g. 0) or None", "; NaN pixels are always left out")


def valid_pixels(values: np.ndarray, missing: float | None, finite: bool = True
                 ) -> np.ndarray | None:
    """Where ``values`` hold data: finite (a float array, where ``finite``) and not equal to
    ``missing``; None where every pixel does.

    Examples
    --------
    >>> valid_pixels(np.array([0.0, np.nan, 3.0]), 0).tolist()
    [False, False, True]
    >>> valid_pixels(np.array([1, 2]), None) is None
    True
    """
    valid = np.isfinite(values) if finite and values.dtype.kind in "fc" else None
    if missing is not None:
        valid = values != missing if valid is None else valid & (values != missing)
    return None if valid is None or valid.all() else valid


def fill_from_nearest(values: np.ndarray, invalid: np.ndarray, *, in_place: bool = False
                      ) -> np.ndarray:
    """``values`` with each ``invalid`` pixel replaced by the value of the nearest valid one
    (a missing pixel in the engine, a dead camera pixel in ``robust``): in ``values`` itself
    where ``in_place`` (no second copy of the data), else in a C-contiguous copy.

    Examples
    --------
    >>> fill_from_nearest(np.array([[1.0, np.nan, 5.0]]), np.array([[False, True, False]]))
    array([[1., 1., 5.]])
    """
    from scipy import ndimage as ndi  # ~0.15 s to import: only images with NaNs need it

    nearest = ndi.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    if not in_place:
        return np.ascontiguousarray(values[tuple(nearest)])
    values[invalid] = values[tuple(axis[invalid] for axis in nearest)]
    return values
