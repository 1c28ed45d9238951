"""Dtype policy: which float the work is done in and how results go back."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgsub._arrays import is_dask_array

OUTPUT_DTYPES = ("same", "float", "float32", "float64")

_WIDE = {np.dtype(t) for t in (np.float64, np.longdouble, np.int32, np.uint32, np.int64,
                               np.uint64)}


def check_dtype(dtype: np.dtype) -> np.dtype:
    """Return ``dtype`` if bgsub can process it, else raise a one-line TypeError."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        raise TypeError(
            "boolean images (masks) have no background to subtract; give the image of "
            "intensities (a mask as numbers: image.astype(np.uint8))"
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError("complex images are not supported; give their magnitude or real part "
                        "as an image of its own (np.abs(image), image.real)")
    # kinds, not issubdtype: NumPy counts timedelta64 as an integer type
    if dtype.kind not in "iuf":
        raise TypeError(
            f"images of dtype {dtype} are not supported; convert to an integer or float "
            "array, e.g. np.asarray(image, dtype=np.float32)"
        )
    return dtype


def work_dtype(dtype: np.dtype) -> np.dtype:
    """The float dtype the background is computed in.

    float64 for float64, long double and 32/64-bit integer input (float32
    cannot hold their values exactly), float32 for everything else, in either
    byte order.

    Examples
    --------
    >>> work_dtype(np.dtype(">f8")), work_dtype(np.dtype(">u2"))
    (dtype('float64'), dtype('float32'))
    """
    native = np.dtype(dtype).newbyteorder("=")
    return np.dtype(np.float64) if native in _WIDE else np.dtype(np.float32)


def in_native_byte_order(image: Any) -> Any:
    """``image`` with its pixels in this machine's byte order: the same values, copied only
    where their bytes are swapped (a FITS file's, an N5 store's, a raw camera dump read as
    ``>u2``), so that every dtype rule downstream sees NumPy's own dtypes (a big-endian
    float64 image was otherwise computed in float32). Anything else as it is.

    Examples
    --------
    >>> swapped = np.arange(3, dtype=">f8")
    >>> in_native_byte_order(swapped).dtype, in_native_byte_order(swapped).tolist()
    (dtype('float64'), [0.0, 1.0, 2.0])
    """
    dtype = getattr(image, "dtype", None)
    if not isinstance(dtype, np.dtype) or dtype.isnative:
        return image
    if not (isinstance(image, np.ndarray) or is_dask_array(image)):
        image = np.asarray(image)  # (an h5py dataset's astype is a lazy wrapper of its own)
    return image.astype(dtype.newbyteorder("="))


def output_dtype_for(input_dtype: np.dtype, output_dtype: str | np.dtype) -> np.dtype:
    """Resolve the ``output_dtype`` argument to a concrete dtype.

    ``None`` is refused like any other value outside :data:`OUTPUT_DTYPES` (and the float32
    and float64 dtypes): NumPy reads ``np.dtype(None)`` as float64, which no caller means.

    Examples
    --------
    >>> output_dtype_for(np.dtype(np.uint16), "float")
    dtype('float32')
    >>> output_dtype_for(np.dtype(np.uint16), None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: output_dtype=None is not accepted; use one of 'same', 'float', ...
    """
    if isinstance(output_dtype, str) and output_dtype in ("same", "float"):
        return np.dtype(input_dtype) if output_dtype == "same" else work_dtype(input_dtype)
    try:
        resolved = None if output_dtype is None else np.dtype(output_dtype)
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
        low, high = integer_bounds(dtype, values.dtype)
        rounded = np.rint(values)
        np.clip(rounded, low, high, out=rounded)
        return rounded.astype(dtype)
    if dtype == np.float16:
        finite = np.finfo(np.float16).max
        values = np.clip(values, -finite, finite)
    return values.astype(dtype, copy=False)


def integer_bounds(dtype: np.dtype, float_dtype: np.dtype) -> tuple[float, float]:
    """The widest ``float_dtype`` interval whose values all fit in the integer ``dtype``.

    ``float(np.iinfo(np.int64).max)`` rounds up to 2**63, which is out of range
    and casts to the most negative int64 (a wrap-around); the upper bound is
    therefore the largest float not above the true maximum.

    Examples
    --------
    >>> integer_bounds(np.dtype(np.uint64), np.dtype(np.float64))[1] < 2.0**64
    True
    """
    info = np.iinfo(dtype)
    ftype = np.dtype(float_dtype).type
    low, high = ftype(info.min), ftype(info.max)
    if int(high) > info.max:
        high = np.nextafter(high, ftype(0))
    return float(low), float(high)
