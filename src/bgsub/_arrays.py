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


def value_span(image: Any) -> float:
    """``max - min`` of the finite values of a NumPy or Dask array (0 if none).

    Examples
    --------
    >>> import numpy as np
    >>> value_span(np.array([[1.0, np.nan], [7.0, -np.inf]]))
    6.0
    """
    lazy = is_dask_array(image)
    if lazy:
        import dask
        import dask.array as xp
    else:
        xp = np
        image = np.asarray(image)
    if image.size == 0:
        return 0.0
    if np.issubdtype(image.dtype, np.floating):
        finite = xp.isfinite(image)
        low, high = xp.where(finite, image, np.inf).min(), xp.where(finite, image, -np.inf).max()
    else:
        low, high = image.min(), image.max()
    if lazy:
        low, high = dask.compute(low, high)
    low, high = float(low), float(high)
    return high - low if high >= low else 0.0
