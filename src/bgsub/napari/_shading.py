"""Shading correction in napari: estimate the fields from a stack of tiles, and apply them.

Two magicgui functions, registered in ``napari.yaml`` like the background
functions: :func:`estimate_shading` (a layer holding a (N, Y, X) or
(N, C, Y, X) stack of tiles, and optionally a measured dark frame layer or a
camera offset -> ``flatfield`` and, when asked or given, ``darkfield``
layers) and :func:`correct_shading` (a tile or stack plus those layers -> the
corrected layer). Both call the API (:func:`bgsub.estimate_shading`,
:func:`bgsub.correct_shading`) and return napari layer-data tuples placed like
the source's Y, X plane (scale, translate, units). Bad input is the API's
one-line ``ValueError``, which napari shows as a notification.

Examples
--------
>>> import numpy as np
>>> from bgsub.napari._shading import correct_shading, estimate_shading
>>> tiles = np.random.default_rng(0).poisson(100, (8, 32, 32)).astype(np.uint16)
>>> [(meta["name"], data.shape) for data, meta, _ in estimate_shading(tiles, "gaussian")]
[('flatfield', (32, 32))]
"""

# No "from __future__ import annotations": magicgui reads these annotations at run time.
from typing import Any

import numpy as np
from magicgui import magicgui
from magicgui.widgets import FunctionGui
from napari.layers import Image
from napari.types import LayerDataTuple
from napari.viewer import Viewer

from bgsub._dtypes import OUTPUT_DTYPES
from bgsub.shading import (
    DEFAULT_SHADING_METHOD,
    ShadingProfile,
    list_shading_methods,
)
from bgsub.shading import correct_shading as _correct_with_profile
from bgsub.shading import estimate_shading as _estimate_profile

__all__ = ["correct_shading", "correct_shading_widget", "estimate_shading",
           "estimate_shading_widget"]

#: The metadata key that marks the fields' layers (its value: ``flatfield``, ``darkfield``).
FIELD_TAG = "bgsub_shading"
#: The shading methods offered in the drop-down (the registry's names).
SHADING_METHOD_CHOICES = [m.name for m in list_shading_methods()]


def estimate_shading(image: Image, method: str = DEFAULT_SHADING_METHOD,
                     darkfield: bool = False, dark_frame: Image | None = None,
                     dark_offset: float = 0.0, viewer: Viewer | None = None
                     ) -> list[LayerDataTuple]:
    """Estimate the flat-field (and dark-field) shared by a stack of tiles.

    Parameters
    ----------
    image : napari.layers.Image or array_like
        A stack of tiles: (N, Y, X), or (N, C, Y, X) with a channel axis
        (one field per channel); an RGB layer's colours are channels (a field
        per colour, (3, Y, X)).
    method : str
        The shading method (``bgsub.shading.list_shading_methods()``); ``lowrank``
        is BaSiC-style, the others CellProfiler-style.
    darkfield : bool
        Also estimate the additive dark-field (``lowrank`` only; needs tiles of
        different brightness).
    dark_frame : napari.layers.Image or array_like, optional
        A measured dark frame (e.g. the mean of frames taken with the shutter
        closed), (Y, X) or (C, Y, X): subtracted from every tile before the
        flat-field is fitted, with any method, and returned as the
        ``darkfield`` layer. Instead of ``darkfield``.
    dark_offset : float
        A flat camera offset in the tiles' units, used like ``dark_frame``
        when no frame is given; 0: none.
    viewer : napari.Viewer, optional
        The viewer (napari passes the widget's own): where no dark-field is
        estimated or given, the ``darkfield`` layer of an earlier estimate is
        removed from it, as it belongs to the earlier flat-field.

    Returns
    -------
    list of napari layer-data tuples
        ``flatfield`` (mean 1 per channel) and, when estimated or given,
        ``darkfield``: ``bgsub.estimate_shading(stack, method, darkfield)``'s
        fields, placed like the source's Y, X plane (a channel axis like the
        source's; an RGB layer's colours at scale 1, translate 0).
    """
    data, place = _data_and_placement(image)
    rgb = isinstance(image, Image) and image.rgb
    if data.ndim != 4 if rgb else data.ndim not in (3, 4):
        shape = image.data.shape if rgb else data.shape
        raise ValueError(f"the layer has shape {shape}; shading is estimated from a stack of "
                         f"tiles ({'N, Y, X, RGB' if rgb else 'N, Y, X) or (N, C, Y, X'}): "
                         "stack the tiles into one layer")
    dark = _dark_argument(darkfield, dark_frame, float(dark_offset))
    profile = _estimate_profile(data, method=method, darkfield=dark)
    if rgb:
        place = _colours_unplaced(place)
    layers = [_layer(profile.flatfield, "flatfield", place)]
    if dark is not False:
        layers.append(_layer(profile.darkfield, "darkfield", place))
    elif viewer is not None:
        _remove_earlier_darkfield(viewer)
    return layers


def _remove_earlier_darkfield(viewer: Viewer) -> None:
    """Remove the ``darkfield`` layer an earlier estimate added (never a layer of that name
    that it did not add): *Correct shading* would offer it beside a flat-field it does not
    belong to."""
    for layer in list(viewer.layers):
        if layer.name == "darkfield" and layer.metadata.get(FIELD_TAG) == "darkfield":
            viewer.layers.remove(layer)


def _dark_argument(darkfield: bool, frame: Any, offset: float) -> Any:
    """The API's ``darkfield``: True / False, the frame's pixels, or the offset."""
    given = [name for name, on in (("darkfield", darkfield), ("dark_frame", frame is not None),
                                   ("dark_offset", offset != 0.0)) if on]
    if len(given) > 1:
        raise ValueError(f"give one of {' and '.join(given)}: estimate the dark-field "
                         "(darkfield), or give a measured one (dark_frame, or dark_offset for "
                         "a flat offset)")
    if frame is not None:
        pixels = np.asarray(_data_and_placement(frame)[0], dtype=np.float64)
        if pixels.ndim not in (2, 3):
            raise ValueError(f"the dark frame layer has shape {pixels.shape}; give one frame "
                             "(Y, X) or one per channel (C, Y, X), e.g. the mean of a stack of "
                             "dark frames")
        return pixels
    if offset != 0.0:
        return offset
    return bool(darkfield)


def correct_shading(image: Image, flatfield: Image, darkfield: Image | None = None,
                    output_dtype: str = "same") -> LayerDataTuple:
    """Correct the shading of a tile or a stack: ``(image - darkfield) / flatfield``.

    Parameters
    ----------
    image : napari.layers.Image or array_like
        A tile (Y, X) or a stack whose last axes are the fields' ((..., Y, X),
        or (..., C, Y, X) for fields with channels; an RGB layer, with fields
        (3, Y, X) or RGB fields, stays RGB).
    flatfield : napari.layers.Image or array_like
        The flat-field, e.g. from *Estimate shading*; positive everywhere.
    darkfield : napari.layers.Image or array_like, optional
        The dark-field, same shape as the flat-field, or one (Y, X) frame for every
        channel of a (C, Y, X) flat-field; none: zeros.
    output_dtype : {"same", "float", "float32", "float64"}
        ``"same"``: the image's dtype, rounded and clipped (values the flat-field
        lifts past its top are clipped there, with a warning); ``"float32"`` keeps them.

    Returns
    -------
    napari layer-data tuple
        ``<image> corrected``: ``bgsub.correct_shading`` with these fields, placed like
        the source.
    """
    data, place = _data_and_placement(image)
    flat = np.asarray(_data_and_placement(flatfield)[0], dtype=np.float32)
    dark = (np.zeros_like(flat) if darkfield is None
            else np.asarray(_data_and_placement(darkfield)[0], dtype=np.float32))
    profile = ShadingProfile(flat, dark)
    corrected = _correct_with_profile(data, profile, output_dtype=output_dtype)
    name = f"{image.name} corrected" if isinstance(image, Image) else "corrected"
    if isinstance(image, Image) and image.rgb:  # (the colours back last: an RGB layer again)
        corrected = np.moveaxis(corrected, -3, -1)
        return corrected, {**place(corrected.ndim - 1), "name": name, "rgb": True}, "image"
    return corrected, {**place(corrected.ndim), "name": name}, "image"


def estimate_shading_widget() -> FunctionGui:
    """The magicgui widget of :func:`estimate_shading` (method drop-down from the registry)."""
    return magicgui(estimate_shading, method={"choices": SHADING_METHOD_CHOICES},
                    dark_offset={"min": 0.0, "max": 1e9, "step": 1.0})


def correct_shading_widget() -> FunctionGui:
    """The magicgui widget of :func:`correct_shading` (output dtype drop-down)."""
    return magicgui(correct_shading, output_dtype={"choices": list(OUTPUT_DTYPES)})


Placement = Any  # ndim -> {"scale", "translate", "units"} of the source's last ndim axes


def _data_and_placement(image: Any) -> tuple[np.ndarray, Placement]:
    """The layer's pixels, an RGB layer's samples moved before Y and X as channels (a field
    per colour: ``(..., Y, X, S)`` read as ``(..., S, Y, X)``), and its placement."""
    if not isinstance(image, Image):
        return np.asarray(image), lambda ndim: {}
    scale = tuple(float(s) for s in image.scale)
    translate = tuple(float(t) for t in image.translate)
    units = tuple(str(u) for u in image.units)

    def place(ndim: int) -> dict[str, Any]:
        ndim = min(ndim, len(scale))
        return {"scale": scale[-ndim:], "translate": translate[-ndim:], "units": units[-ndim:]}

    # the layer's own array: a Dask or Zarr layer stays lazy (the API reads it tile by tile)
    data = image.data[0] if image.multiscale else image.data
    return (np.moveaxis(data, -1, -3) if image.rgb else data), place


def _colours_unplaced(place: Placement) -> Placement:
    """An RGB layer's placement for its fields, (3, Y, X): its scale and translate have no
    entry for the colours, whose axis takes the place of its last other one (the tiles')."""

    def colours_first(ndim: int) -> dict[str, Any]:
        placed, colour_axes = place(ndim), ndim - 2
        return {**placed,
                "scale": (1.0,) * colour_axes + placed["scale"][-2:],
                "translate": (0.0,) * colour_axes + placed["translate"][-2:]}

    return colours_first


def _layer(field: np.ndarray, name: str, place: Placement) -> LayerDataTuple:
    return field, {**place(field.ndim), "name": name, "metadata": {FIELD_TAG: name}}, "image"
