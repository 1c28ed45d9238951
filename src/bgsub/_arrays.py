"""NumPy or Dask: what every face may hand over, told apart without importing Dask;
NumPy's pairwise float sum, replayed slice by slice; and the power of two that brings an
image's values into an ordinary range."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ORDINARY_SPAN", "finite_number", "in_ordinary_unit", "is_dask_array", "is_number",
           "ordinary_unit", "pairwise_sum", "plain", "value_span", "without_overflow"]


def finite_number(value: Any, name: str, kind: str = "a number", hint: str = "") -> float:
    """``value`` as a finite float, or a one-line error naming ``name`` (``kind``: what it
    must be; ``hint``: what to do instead of a non-finite one, after "must be finite").

    Examples
    --------
    >>> finite_number(100, "offset")
    100.0
    >>> finite_number(np.float64("nan"), "offset")
    Traceback (most recent call last):
    ...
    ValueError: offset=nan must be finite
    """
    if not is_number(value):
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name}={plain(value)} must be finite{hint}")
    return float(value)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python's or NumPy's), not a bool.

    Examples
    --------
    >>> is_number(np.float32(2)), is_number(True), is_number("2")
    (True, False, False)
    """
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.number))


def plain(value: Any) -> str:
    """``np.float64(0.0)`` shown as ``0.0``: messages name values, not NumPy types.

    Examples
    --------
    >>> plain(np.float64(0.5)), plain("x")
    ('0.5', "'x'")
    """
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


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


#: The span of values (max - min) that noise-tied estimates take as they are: outside it a
#: float's absolute guards (a tiny positive noise level, a zero-division floor) or its squares'
#: overflow would decide the result.
ORDINARY_SPAN = (2.0**-16, 2.0**64)

#: Values :func:`ordinary_unit` looks at (about; evenly spaced along each axis).
UNIT_SAMPLES = 1 << 16


def ordinary_unit(values: np.ndarray) -> float:
    """The power of two that brings the span of ``values`` (a float NumPy array) into
    ``[1, 2)`` where it lies outside :data:`ORDINARY_SPAN` (a constant array: its magnitude);
    1.0 where inside, zero or not finite.

    The span is that of the bulk (1st to 99th percentile, of at most about
    :data:`UNIT_SAMPLES` values spread evenly over the array), so that a few absurd pixels (a
    division by a flat-field's zeros) do not set the unit of the rest; where the bulk is
    constant, the whole range's. Multiplying by a power of two is exact (short of overflow or
    subnormals), so an estimate made on ``values * unit`` and divided by ``unit`` is the
    estimate the same arithmetic would make on ``values``, free of the absolute guards and
    squares that do not scale.

    Examples
    --------
    >>> import numpy as np
    >>> ordinary_unit(np.linspace(0.0, 1e-14, 100)) == 2.0**47
    True
    >>> ordinary_unit(np.array([0.0, 500.0]))
    1.0
    """
    if values.size == 0:
        return 1.0
    side = UNIT_SAMPLES ** (1.0 / values.ndim)  # (a strided view: no copy of the array)
    sample = values[tuple(slice(None, None, max(1, int(n / side))) for n in values.shape)]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 1.0
    low, high = np.percentile(sample, [1, 99])
    if not high > low:
        low, high = _numpy_bounds(values)
    # (a constant image: its magnitude, so that 1e300 is not squared into an overflow)
    span = float(high - low) if high > low else max(abs(float(low)), abs(float(high)))
    if not np.isfinite(span) or span <= 0 or ORDINARY_SPAN[0] <= span <= ORDINARY_SPAN[1]:
        return 1.0
    return float(np.ldexp(1.0, -int(np.clip(np.floor(np.log2(span)), -1000, 1000))))


def in_ordinary_unit(values: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` times :func:`ordinary_unit` (a copy; ``values`` itself where the unit is 1),
    and that unit.

    Examples
    --------
    >>> import numpy as np
    >>> scaled, unit = in_ordinary_unit(np.array([0.0, 1e-14]))
    >>> unit == 2.0**47, float(scaled[1]) == 1e-14 * 2.0**47
    (True, True)
    """
    unit = ordinary_unit(values)
    if unit == 1.0:
        return values, unit
    if values.dtype.kind == "f" and unit > float(np.finfo(values.dtype).max):
        # (float32 values below its normal range, 1e-40: their unit, 2**133, is infinite in
        # float32, and the scaled image would be too)
        values = values.astype(np.float64)
    return values * unit, unit


def without_overflow(estimate: Callable[[np.ndarray], np.ndarray], image: np.ndarray
                     ) -> np.ndarray:
    """``estimate(image)`` for an estimate that scales with the intensity (a linear filter:
    ``estimate(c * image) == c * estimate(image)``); where its sums overflow (values near
    the dtype's largest, 1e305 in float64: a non-finite result from a finite image), made
    again on ``image`` divided by the power of two that brings its largest magnitude into
    ``[1, 2)`` and multiplied back -- scaling by a power of two is exact, so the result is
    what the same arithmetic would give without overflow. One pass over the result where
    nothing overflows.

    Examples
    --------
    >>> import numpy as np
    >>> huge = np.full((4, 4), 1e308)
    >>> float(without_overflow(lambda a: a + a - a, huge)[0, 0])
    1e+308
    """
    with np.errstate(over="ignore", invalid="ignore"):  # (an overflow here is made again)
        result = estimate(image)
        done = np.isfinite(np.sum(result, dtype=np.float64))
    if done or not np.isfinite(image).all():
        return result
    largest = float(np.max(np.abs(image)))
    unit = float(np.ldexp(1.0, -int(np.floor(np.log2(largest)))))
    result = estimate(image * np.asarray(unit, dtype=image.dtype))
    result /= np.asarray(unit, dtype=result.dtype)
    return result


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


def pairwise_sum(values: np.ndarray, axis: int, start: int, count: int) -> np.ndarray:
    """The sum of ``count`` slices of ``values`` along ``axis`` from ``start``, added as
    NumPy's float add reduction adds a run along one axis: pairwise (below 8 terms in
    order, up to 128 in 8 partial sums, beyond that split in two), a whole slice at a time.

    The same bits as ``np.add.reduce`` over a contiguous run, without NumPy walking an
    outer axis line by line: block sums and means replay it to stay exact and fast.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.random.default_rng(0).random((3, 200))
    >>> bool((pairwise_sum(values, 1, 0, 200) == values.sum(axis=1)).all())
    True
    """
    lines = np.moveaxis(values, axis, 0)
    if count < 8:
        total = lines[start].copy()
        for i in range(start + 1, start + count):
            total += lines[i]
        return total
    if count <= 128:
        partial = [lines[start + j].copy() for j in range(8)]
        whole = count - count % 8
        for i in range(8, whole, 8):
            for j in range(8):
                partial[j] += lines[start + i + j]
        total = (partial[0] + partial[1]) + (partial[2] + partial[3])
        total += (partial[4] + partial[5]) + (partial[6] + partial[7])
        for i in range(whole, count):
            total += lines[start + i]
        return total
    half = count // 2
    half -= half % 8
    total = pairwise_sum(values, axis, start, half)
    total += pairwise_sum(values, axis, start + half, count - half)
    return total
