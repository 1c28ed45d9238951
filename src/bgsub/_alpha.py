"""The alpha sample of RGBA (or grey + alpha) images: no image data, so every face passes it
through unchanged (a background of 0) and computes on the colour samples alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgsub._arrays import is_dask_array
from bgsub._axes import parse_axes
from bgsub._warnings import warn

__all__ = ["ALPHA_SAMPLES", "alpha_axis", "colour_samples", "with_alpha", "without_alpha",
           "zeros_like"]

#: The lengths of an ``S`` axis whose last sample is an alpha: grey + alpha, RGBA.
ALPHA_SAMPLES = (2, 4)


def alpha_axis(image: Any, settings: dict[str, Any]) -> int | None:
    """The axis of RGBA or grey + alpha samples (``S``, four or two long) whose last, alpha,
    is no image data: None where there is none (or the axes are invalid: planning says what
    is wrong). A guessed ``S`` axis is warned of: four channels last are read as RGBA.
    ``settings`` (the API's keywords) get the resolved axes, so that the colour samples
    alone are not guessed again.

    Examples
    --------
    >>> settings = {"axes": "YXS"}
    >>> alpha_axis(np.zeros((8, 8, 4), np.uint8), settings), alpha_axis(np.zeros((8, 8, 3)),
    ...                                                                 settings)
    (2, None)
    """
    try:
        shape = tuple(np.shape(image))
        layout = parse_axes(settings.get("axes"), shape, bool(settings.get("true_3d")))
    except (TypeError, ValueError):
        return None
    if "S" not in layout.axes or shape[layout.axes.index("S")] not in ALPHA_SAMPLES:
        return None
    if settings.get("axes") is None:
        warn(f"an image of shape {shape} is read as RGBA: its alpha sample passes through "
             "unchanged; give channel_axis=-1 if the last axis holds four channels")
    settings["axes"] = layout.axes
    return layout.axes.index("S")


def without_alpha(image: Any, axis: int) -> tuple[Any, Any]:
    """The colour (or grey) samples of ``image`` and its alpha sample, the last along
    ``axis`` (NumPy or Dask)."""
    colour = tuple(slice(0, -1) if i == axis else slice(None) for i in range(np.ndim(image)))
    alpha = tuple(slice(-1, None) if i == axis else slice(None) for i in range(np.ndim(image)))
    if not is_dask_array(image):
        image = np.asarray(image)
    return image[colour], image[alpha]


def colour_samples(image: Any) -> Any:
    """The samples along ``image``'s last axis, ``S``, that hold image data: the grey of grey +
    alpha, R, G, B of RGBA or RGB (the first three of more).

    Examples
    --------
    >>> colour_samples(np.zeros((8, 8, 2))).shape, colour_samples(np.zeros((8, 8, 4))).shape
    ((8, 8, 1), (8, 8, 3))
    """
    return image[..., :-1] if np.shape(image)[-1] in ALPHA_SAMPLES else image[..., :3]


def zeros_like(values: Any, dtype: np.dtype) -> Any:
    """Zeros of ``values``' shape (and Dask chunks) in ``dtype``: the alpha's background."""
    if is_dask_array(values):
        import dask.array as dask_array

        return dask_array.zeros(values.shape, dtype=dtype, chunks=values.chunks)
    return np.zeros(np.shape(values), dtype=dtype)


def with_alpha(colour: Any, alpha: Any, axis: int) -> Any:
    """The colour samples and the alpha sample as one array again."""
    if is_dask_array(colour):
        import dask.array as dask_array

        return dask_array.concatenate([colour, alpha], axis=axis)
    return np.concatenate([colour, alpha], axis=axis)
