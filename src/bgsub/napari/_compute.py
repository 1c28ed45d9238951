"""The computations behind the widget: whole layer with progress, and one plane.

Plain NumPy and bgsub, no Qt: these run in napari's worker threads, and the
tests check them against :func:`bgsub.subtract_background` directly.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from bgsub._axes import default_axes, parse_axes
from bgsub.api import subtract_background
from bgsub.methods import get_method
from bgsub.napari._settings import Settings

__all__ = ["Plane", "preview", "subtract_in_blocks"]

Progress = tuple[int, int]


def subtract_in_blocks(
    image: Any, settings: Settings
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Subtract the background block by block, yielding ``(done, total)`` after each.

    bgsub processes each independent 2D plane (or 3D volume) of a stack on its
    own, so doing it one block at a time gives exactly
    ``bgsub.subtract_background(image, **settings.kwargs())`` while telling a
    progress bar how far it is, and letting a worker stop between blocks.

    Parameters
    ----------
    image : array_like
        The whole layer's data.
    settings : Settings
        What to compute.

    Yields
    ------
    (int, int)
        Blocks done and blocks in all.

    Returns
    -------
    foreground, background : ndarray
        As ``subtract_background(..., return_background=True)`` returns them.
    """
    data = np.asarray(image)
    axes = _axes_of(data.shape, settings)
    layout = parse_axes(axes, data.shape, settings.true_3d)
    selectors = list(layout.planes(data.shape))
    kwargs = _block_kwargs(settings)
    foreground = background = None
    yield 0, len(selectors)
    for done, selector in enumerate(selectors, start=1):
        block_axes = "".join(a for a, s in zip(axes, selector, strict=True) if s == slice(None))
        fg, bg = subtract_background(data[selector], axes=block_axes, return_background=True,
                                     **kwargs)
        if foreground is None:
            foreground = np.empty(data.shape, dtype=fg.dtype)
            background = np.empty(data.shape, dtype=bg.dtype)
        foreground[selector] = fg
        background[selector] = bg
        yield done, len(selectors)
    return foreground, background


class Plane:
    """The block of an image that the viewer shows at one position.

    Parameters
    ----------
    image : ndarray
        The whole layer's data.
    settings : Settings
        The settings; ``true_3d`` keeps a window of Z planes around the shown one.
    position : sequence of int
        An index for every array axis (those of the image plane are ignored).

    Attributes
    ----------
    data : ndarray
        The block: the shown Y, X plane (and RGB samples), or a window of Z
        planes around it in 3D mode.
    axes : str
        Its axes, e.g. ``"YX"``, ``"ZYX"``, ``"YXS"``.
    z : int or None
        Index of the shown plane inside ``data`` in 3D mode.
    """

    def __init__(self, image: np.ndarray, settings: Settings, position: Sequence[int]) -> None:
        image = np.asarray(image) if not hasattr(image, "shape") else image
        axes = _axes_of(image.shape, settings)
        keep = set("YXS") | ({"Z"} if settings.true_3d else set())
        selector: list[Any] = []
        self.z: int | None = None
        for letter, size, index in zip(axes, image.shape, position, strict=True):
            index = int(np.clip(index, 0, size - 1))
            if letter == "Z" and settings.true_3d:
                margin = _z_margin(settings)
                start, stop = max(index - margin, 0), min(index + margin + 1, size)
                selector.append(slice(start, stop))
                self.z = index - start
            elif letter in keep:
                selector.append(slice(None))
            else:
                selector.append(index)
        self.axes = "".join(a for a, s in zip(axes, selector, strict=True)
                            if isinstance(s, slice))
        self.data = np.asarray(image[tuple(selector)])

    def shown(self, block: np.ndarray) -> np.ndarray:
        """The shown plane of a result computed on ``data``."""
        return block if self.z is None else block[self.z]


def preview(
    image: Any, settings: Settings, position: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground of the plane shown at ``position``.

    Equal to that plane of the whole layer's result: in 3D mode the Z window
    around the plane is wider than the method's reach (its ``halo``) plus the
    pre-smoothing's.

    Returns
    -------
    background, foreground : ndarray
        The plane's background (float) and foreground (the image's dtype).
    """
    plane = Plane(image, settings, position)
    fg, bg = subtract_background(plane.data, axes=plane.axes, return_background=True,
                                 **_block_kwargs(settings))
    return plane.shown(bg), plane.shown(fg)


def _axes_of(shape: tuple[int, ...], settings: Settings) -> str:
    return (settings.axes or default_axes(shape)).upper()


def _block_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs = settings.kwargs()
    kwargs.pop("axes", None)
    return kwargs


def _z_margin(settings: Settings) -> int:
    """Z planes of context that make the shown plane of a window exact."""
    radius = float(settings.radius)
    spacing = settings.spacing
    scale_z = 1.0 if spacing is None else spacing[-1] / spacing[0]
    radii = (radius * scale_z, radius, radius)
    method = get_method(settings.method)
    halo = method.halo(radii, method.resolve_options(dict(settings.options)))[0]
    smooth = 0
    if settings.presmooth != "none":
        smooth = math.ceil(4 * settings.presmooth_size * scale_z) + 1
    return int(halo) + smooth + 1
