"""The computations behind the widget: whole layer with progress, and one plane.

Plain NumPy and bgsub, no Qt: these run in napari's worker threads, and the
tests check them against :func:`bgsub.subtract_background` directly.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from bgsub import engine
from bgsub._alpha import alpha_axis, with_alpha, without_alpha, zeros_like
from bgsub._axes import default_axes
from bgsub._dtypes import in_native_byte_order
from bgsub._padding import valid_pixels
from bgsub._warnings import collected
from bgsub.api import subtract_background
from bgsub.napari._settings import Settings

__all__ = ["Plane", "apply_with_warnings", "preview", "preview_with_warnings",
           "subtract_in_blocks"]

Progress = tuple[int, int]


def subtract_in_blocks(
    image: Any, settings: Settings, split: int | None = None, cancel: Any = None
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Subtract the background block by block, yielding ``(done, total)`` after each.

    The engine's own block loop (:func:`bgsub.engine.subtract_steps`): exactly
    ``bgsub.subtract_background(image, **settings.kwargs())``, while telling a
    progress bar how far it is and letting a worker stop between blocks. Planes
    larger than ``split`` pixels are computed in tiles with the method's halo
    (the same pixels), so that *Cancel* is seen within about a second even in
    one large plane; a method whose reach spans the whole plane (``robust``,
    ``imagej``) keeps it whole.

    Parameters
    ----------
    image : array_like
        The whole layer's data.
    settings : Settings
        What to compute.
    split : int, optional
        Pixels of a tile (default :data:`bgsub.engine.SPLIT_PIXELS`).
    cancel : threading.Event, optional
        Set to stop inside a block too: a method that takes long on one plane
        (``robust``) raises :class:`bgsub.engine.Cancelled` between its stages.

    Yields
    ------
    (int, int)
        Blocks (tiles) done and blocks in all.

    Returns
    -------
    foreground, background : ndarray
        As ``subtract_background(..., return_background=True)`` returns them.
    """
    data = in_native_byte_order(np.asarray(image))
    kwargs = settings.kwargs()
    # (an RGBA layer's alpha passes through, as subtract_background passes it)
    alpha = alpha_axis(data, kwargs)
    colour, opacity = (data, None) if alpha is None else without_alpha(data, alpha)
    plan = engine.plan(colour, **kwargs)
    split = engine.SPLIT_PIXELS if split is None else split
    with engine.cancellable(cancel):
        fg, bg = yield from engine.subtract_steps(plan, colour, plan.dtype,
                                                  return_background=True, split=split)
    if opacity is None:
        return fg, bg
    return (with_alpha(fg, opacity.astype(fg.dtype), alpha),
            with_alpha(bg, zeros_like(opacity, bg.dtype), alpha))


def apply_with_warnings(
    image: Any, settings: Settings, split: int | None = None, cancel: Any = None
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, list[str]]]:
    """:func:`subtract_in_blocks`, and the messages of the :class:`bgsub.BackgroundWarning`
    it raised, each once, for the widget to show beside the new layers (gathered as
    :func:`preview_with_warnings` gathers them: issued as Python warnings from napari's
    worker thread, a message repeated on a later *Apply* would be shown once only)."""
    with collected() as messages:
        foreground, background = yield from subtract_in_blocks(image, settings, split, cancel)
    return foreground, background, list(dict.fromkeys(messages))


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
                margin = _z_margin(image, settings)
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
        if self.z is not None and valid_pixels(self.data, settings.missing) is not None:
            # pixels to fill (NaN, missing) in the window: their fill is the nearest valid
            # pixel across the whole block, which may lie beyond it -- so the whole Z extent
            z_axis = axes.index("Z")
            self.z = int(np.clip(position[z_axis], 0, image.shape[z_axis] - 1))
            selector[z_axis] = slice(None)
            self.data = np.asarray(image[tuple(selector)])

    def shown(self, block: np.ndarray) -> np.ndarray:
        """The shown plane of a result computed on ``data``."""
        return block if self.z is None else block[self.z]


def preview(
    image: Any, settings: Settings, position: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground of the plane shown at ``position``.

    Equal to that plane of the whole layer's result: in 3D mode the Z window
    around the plane reaches as far as the method (its ``halo`` for this image)
    plus the pre-smoothing -- the whole stack for a method that looks at the
    whole block.

    Returns
    -------
    background, foreground : ndarray
        The plane's background (float) and foreground (the image's dtype).
    """
    plane = Plane(image, settings, position)
    fg, bg = subtract_background(plane.data, axes=plane.axes, return_background=True,
                                 **_block_kwargs(settings))
    return plane.shown(bg), plane.shown(fg)


def preview_with_warnings(
    image: Any, settings: Settings, position: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`preview`, and the messages of the :class:`bgsub.BackgroundWarning` it raised
    (the method's assumptions failed on this plane), each once, for the widget to show.

    They are gathered with :func:`bgsub._warnings.collected`, not
    :func:`warnings.catch_warnings`: the preview runs on a worker thread beside napari's
    and, maybe, an *Apply*, whose warnings it must neither take nor switch off."""
    with collected() as messages:
        background, foreground = preview(image, settings, position)
    return background, foreground, list(dict.fromkeys(messages))


def _axes_of(shape: tuple[int, ...], settings: Settings) -> str:
    return (settings.axes or default_axes(shape)).upper()


def _block_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs = settings.kwargs()
    kwargs.pop("axes", None)
    return kwargs


def _z_margin(image: Any, settings: Settings) -> int:
    """Z planes of context that make the shown plane of a window exact: the plan's halo
    along Z for the whole image (its size and value range), as the Dask path uses."""
    return engine.plan(image, **settings.kwargs()).halo()[0]
