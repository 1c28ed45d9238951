"""Axes: which array axes are spatial and which are processed independently."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

SPATIAL = "ZYX"


def per_axis(value: float | Sequence[float], ndim: int, name: str = "radius",
             positive: bool = True) -> tuple[float, ...]:
    """``value`` as one finite float per axis: a scalar is repeated, a sequence checked.

    The one place per-axis values (radius, sigma, coefficients) are spread
    and checked, for the kernels' and the methods' public functions.

    Examples
    --------
    >>> per_axis(3, 2)
    (3.0, 3.0)
    >>> per_axis((1, 2.5, 2.5), 3, "sigma", positive=False)
    (1.0, 2.5, 2.5)
    """
    if np.ndim(value) == 0:
        values = (float(value),) * ndim  # type: ignore[arg-type]
    else:
        values = tuple(float(v) for v in value)  # type: ignore[union-attr]
    if len(values) != ndim:
        raise ValueError(f"{name} has {len(values)} entries, the image has {ndim} axes")
    if not all(math.isfinite(v) and (v > 0 if positive else v >= 0) for v in values):
        raise ValueError(f"{name} entries must be finite and {'>' if positive else '>='} 0, "
                         f"got {values}")
    return values


@dataclass(frozen=True)
class Layout:
    """How an array's axes are processed.

    Attributes
    ----------
    axes : str
        One letter per array axis (``"TZCYX"``-style).
    spatial : tuple of int
        The array axes filtered together, in Z, Y, X order (2 or 3 of them).
    """

    axes: str
    spatial: tuple[int, ...]

    @property
    def ndim_spatial(self) -> int:
        return len(self.spatial)

    def planes(self, shape: tuple[int, ...], together: tuple[int, ...] = ()) -> Iterator[tuple]:
        """Index tuples selecting each independent 2D/3D block of the array.

        ``together``: further axes kept whole in each block (RGB samples).
        """
        others = [ax for ax in range(len(shape)) if ax not in self.spatial + tuple(together)]
        for index in np.ndindex(*(shape[ax] for ax in others)):
            selector: list = [slice(None)] * len(shape)
            for ax, i in zip(others, index, strict=True):
                selector[ax] = i
            yield tuple(selector)

    def block(self, array: np.ndarray, selector: tuple) -> np.ndarray:
        """The block at ``selector`` with its axes in Z, Y, X order."""
        block = array[selector]
        kept = sorted(self.spatial)
        order = [kept.index(ax) for ax in self.spatial]
        return np.transpose(block, order)

    def put(self, array: np.ndarray, selector: tuple, values: np.ndarray) -> None:
        """Write a Z, Y, X-ordered block back at ``selector``."""
        kept = sorted(self.spatial)
        order = [self.spatial.index(ax) for ax in kept]
        array[selector] = np.transpose(values, order)


def default_axes(shape: tuple[int, ...]) -> str:
    """Guess axes for an array whose caller gave none.

    The last two axes are Y and X, except that a trailing axis of length 3 or
    4 after two larger ones is taken as RGB(A) samples (``"YXS"``), as napari
    guesses. A 3D array is ``"ZYX"``; further leading axes are independent
    (``"Q"``, ``"P"``, ``"O"``, ...: distinct letters, so the string is valid).
    """
    ndim = len(shape)
    if ndim >= 3 and shape[-1] in (3, 4) and shape[-2] > 4 and shape[-3] > 4:
        return _independent(ndim - 3) + "YXS"
    if ndim == 3:
        return "ZYX"
    return _independent(ndim - 2) + "YX"


def _independent(count: int) -> str:
    """``count`` distinct letters for leading axes processed independently."""
    letters = "QPONMLKJIHGFEDBA"
    if count > len(letters):
        raise ValueError(f"an image with {count + 2} axes needs an explicit axes string")
    return letters[:count][::-1]


def resolve_axes(axes: str | None, shape: tuple[int, ...], channel_axis: int | None
                 ) -> str | None:
    """``axes`` with ``channel_axis`` (as in scikit-image) folded in as the letter ``C``.

    Parameters
    ----------
    axes : str, optional
        One letter per axis, or None to guess.
    shape : tuple of int
        The image's shape.
    channel_axis : int, optional
        The axis holding channels (negative counts from the end), processed
        independently. With ``axes`` given, its letter there must be ``C``.

    Returns
    -------
    str or None
        The axes string, or None when neither was given (guessed later).

    Examples
    --------
    >>> resolve_axes(None, (64, 64, 2), channel_axis=-1)
    'YXC'
    >>> resolve_axes(None, (2, 5, 64, 64), channel_axis=0)
    'CZYX'
    """
    if channel_axis is None:
        return axes
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        raise TypeError(f"channel_axis must be an axis index such as -1, got {channel_axis!r}")
    ndim = len(shape)
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis={channel_axis} does not exist in an image of shape "
                         f"{shape}; use 0 to {ndim - 1} or -1 to {-ndim}")
    index = int(channel_axis) % ndim
    if axes is not None:
        if not isinstance(axes, str) or len(axes) != ndim or axes[index].upper() != "C":
            raise ValueError(f"channel_axis={channel_axis} and axes={axes!r} disagree: the "
                             f"channel axis must be 'C' in axes; give one of them")
        return axes
    rest = tuple(n for i, n in enumerate(shape) if i != index)
    if len(rest) < 2:
        raise ValueError(f"an image of shape {shape} has no Y, X plane besides its channel "
                         "axis")
    guess = default_axes(rest)
    return guess[:index] + "C" + guess[index:]


def _check_unambiguous(shape: tuple[int, ...]) -> None:
    """Refuse a guess that is likely wrong: a trailing axis of 1 or 2 after a large plane.

    ``(512, 512, 2)`` is two channels far more often than 512 planes of
    512 x 2 pixels, which is what the guess ``"ZYX"`` would process.
    """
    if len(shape) >= 3 and shape[-1] in (1, 2) and min(shape[-3:-1]) > 4:
        raise ValueError(
            f"an image of shape {shape} is ambiguous: its last axis of {shape[-1]} looks like "
            "channels, but would be taken as X; give channel_axis=-1 (channels last) or "
            f"axes={default_axes(shape)!r} if the last axis really is X")


def parse_axes(axes: str | None, shape: tuple[int, ...], true_3d: bool) -> Layout:
    """Validate ``axes`` for an array of ``shape`` and return its layout.

    Without ``axes``, the guess of :func:`default_axes`; a shape whose guess is
    likely wrong, e.g. ``(512, 512, 2)``, is refused with the fix.
    """
    if axes is None:
        _check_unambiguous(tuple(shape))
        axes = default_axes(shape)
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'TZYX', got {type(axes).__name__}")
    axes = axes.upper() if axes.isascii() else axes  # "ß".upper() is "SS": two letters
    if len(axes) != len(shape):
        raise ValueError(
            f"axes={axes!r} names {len(axes)} axes but the image has {len(shape)} "
            f"(shape {shape}); give one letter per axis, e.g. "
            f"{default_axes(shape)!r}"
        )
    if not (axes.isascii() and axes.isalpha()) or len(set(axes)) != len(axes):
        raise ValueError(f"axes={axes!r} must be distinct letters, one per axis, e.g. 'TZCYX'")
    if "Y" not in axes or "X" not in axes:
        raise ValueError(f"axes={axes!r} must contain 'Y' and 'X' (the image plane)")
    letters = SPATIAL if true_3d else SPATIAL[1:]
    if true_3d and "Z" not in axes:
        raise ValueError(f"true_3d=True needs a 'Z' axis, but axes={axes!r} has none")
    spatial = tuple(axes.index(letter) for letter in letters)
    return Layout(axes=axes, spatial=spatial)
