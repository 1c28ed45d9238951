"""Dtype policy: which float the work is done in and how results go back."""

from __future__ import annotations

import numpy as np

OUTPUT_DTYPES = ("same", "float", "float32", "float64")

_WIDE = {np.dtype(t) for t in (np.float64, np.int32, np.uint32, np.int64, np.uint64)}


def check_dtype(dtype: np.dtype) -> np.dtype:
    """Return ``dtype`` if bgsub can process it, else raise a one-line TypeError."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        raise TypeError(
            "boolean images have no background to subtract; "
            "convert with image.astype(np.uint8) if that is what you mean"
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError("complex images are not supported; pass np.abs(image) or image.real")
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(
            f"images of dtype {dtype} are not supported; convert to an integer or float "
            "array, e.g. np.asarray(image, dtype=np.float32)"
        )
    return dtype


def work_dtype(dtype: np.dtype) -> np.dtype:
    """The float dtype the background is computed in.

    float64 for float64 and 32/64-bit integer input (float32 cannot hold
    their values exactly), float32 for everything else.
    """
    return np.dtype(np.float64) if np.dtype(dtype) in _WIDE else np.dtype(np.float32)


def output_dtype_for(input_dtype: np.dtype, output_dtype: str | np.dtype) -> np.dtype:
    """Resolve the ``output_dtype`` argument to a concrete dtype."""
    if isinstance(output_dtype, str) and output_dtype in ("same", "float"):
        return np.dtype(input_dtype) if output_dtype == "same" else work_dtype(input_dtype)
    try:
        resolved = np.dtype(output_dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(
            f"output_dtype={output_dtype!r} is not accepted; use one of "
            f"{', '.join(repr(o) for o in OUTPUT_DTYPES)}"
        )
    return resolved


def cast_result(values: np.ndarray, dtype: np.dtype, offset: float = 0.0) -> np.ndarray:
    """Cast float ``values`` (+ ``offset``) to ``dtype`` without wrap-around.

    Integers are rounded to the nearest value and clipped to the dtype's
    range, so ``uint16`` results never wrap below zero.
    """
    if offset:
        values = values + offset
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        rounded = np.rint(values)
        np.clip(rounded, info.min, info.max, out=rounded)
        return rounded.astype(dtype)
    if dtype == np.float16:
        finite = np.finfo(np.float16).max
        values = np.clip(values, -finite, finite)
    return values.astype(dtype, copy=False)
