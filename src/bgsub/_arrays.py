"""NumPy or Dask: what every face may hand over, told apart without importing Dask."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["is_dask_array", "value_span"]


def is_dask_array(image: Any) -> bool:
    """Whether ``image`` is a Dask array, without importing Dask when it is not loaded.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros(3))
    False
    """
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(image, dask_array.Array)


#: Pixels of a float NumPy array examined at a time by :func:`value_span` (bounds its
#: temporary buffers; the image may be far larger).
SPAN_STEP = 2**20


def value_span(image: Any) -> float:
    """``max - min`` of the finite values of a NumPy or Dask array (0 if none).

    A Dask array is reduced lazily and computed now; a float NumPy array a
    piece at a time, so no image-sized temporary is made.

    Examples
    --------
    >>> import numpy as np
    >>> value_span(np.array([[1.0, np.nan], [7.0, -np.inf]]))
    6.0
    """
    if is_dask_array(image):
        low, high = _dask_bounds(image)
    else:
        low, high = _numpy_bounds(np.asarray(image))
    return high - low if high >= low else 0.0


def _numpy_bounds(image: np.ndarray) -> tuple[float, float]:
    if image.size == 0:
        return 0.0, 0.0
    if not np.issubdtype(image.dtype, np.floating):
        return float(image.min()), float(image.max())
    flat = image.reshape(-1)
    low, high = np.inf, -np.inf
    for start in range(0, flat.size, SPAN_STEP):
        part = flat[start:start + SPAN_STEP]
        finite = part[np.isfinite(part)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return low, high


def _dask_bounds(image: Any) -> tuple[float, float]:
    import dask
    import dask.array as da

    if image.size == 0:
        return 0.0, 0.0
    if np.issubdtype(image.dtype, np.floating):
        finite = da.isfinite(image)
        low, high = da.where(finite, image, np.inf).min(), da.where(finite, image, -np.inf).max()
    else:
        low, high = image.min(), image.max()
    low, high = dask.compute(low, high)
    return float(low), float(high)
