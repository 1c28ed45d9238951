"""Lazy, chunked background subtraction of Dask arrays, equal to the in-memory result.

:func:`bgsub.subtract_background` and :func:`bgsub.estimate_background` send
Dask arrays here. Each chunk is processed with enough context from its
neighbours (a *halo*) that every pixel sees exactly what it sees in the
whole array, so the result is the NumPy path's, value for value:

* the halo along each spatial axis is the method's reach
  (:attr:`bgsub.methods.Method.halo` for the resolved radius and options)
  plus the pre-smoothing's reach; non-spatial axes (time, channel, Z when
  planes are processed one by one) get none;
* chunks at the array's edge are not padded (``boundary="none"``), so the
  kernels see the true edge, which they either ignore (morphology, rolling
  ball) or reflect (median, mean, Gaussian), exactly as in memory;
* the paraboloid's reach is unbounded in principle, but a parabola
  ``c * d**2`` taller than the image's value range cannot win, so its reach
  is ``ceil(sqrt(range / c)) + 1`` per step, from a cheap min/max reduction
  computed when the graph is built;
* NaN/inf pixels of float images are filled from their nearest valid pixel,
  whose distance is unbounded: by default the fill is done on whole
  independent blocks (2D planes, or 3D volumes with ``true_3d``), as in
  memory (``fill_nan="exact"``); ``fill_nan="local"`` fills within each
  chunk and its halo instead.

Chunks smaller than the halo are merged along that axis until they are large
enough (one chunk along the axis when the halo spans it); results come back
with the input's chunks. Nothing here picks a scheduler: the local threads
by default, or any ``dask.distributed`` client the caller has started.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np

from bgsub._dtypes import cast_result, output_dtype_for
from bgsub.api import (
    RadiusLike,
    _check_offset,
    _fill_from_nearest,
    _Plan,
    _plan,
    _subtract_whole,
)

__all__ = ["FILL_NAN_MODES", "estimate_background", "overlap_depth", "subtract_background"]

FILL_NAN_MODES = ("exact", "local")
Chunks = tuple[tuple[int, ...], ...]


def estimate_background(
    image: da.Array,
    method: str = "rolling_ball",
    radius: RadiusLike = 50,
    *,
    axes: str | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    fill_nan: str = "exact",
    **options: Any,
) -> da.Array:
    """Lazily estimate the background of a Dask array, chunk by chunk.

    Parameters
    ----------
    image : dask.array.Array
        Integer or float image with known chunk sizes.
    method, radius, axes, true_3d, spacing, light_background, presmooth, **options
        As for :func:`bgsub.estimate_background`.
    fill_nan : {"exact", "local"}
        How NaN/inf pixels of float images are filled from their nearest
        valid pixel before estimating. ``"exact"`` (default) fills each whole
        independent block (a 2D plane, or a 3D volume with ``true_3d``), as
        the in-memory path does, which needs one such block in memory per
        task. ``"local"`` fills within each chunk and its halo, keeping memory
        bounded by the chunk size; it equals the in-memory result where every
        invalid pixel's nearest valid pixel lies well inside that window.

    Returns
    -------
    dask.array.Array
        The background, lazily, with the chunks of ``image``; float32
        (float64 for float64 and 32/64-bit integer input).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import bgsub
    >>> image = np.add.outer(np.arange(64), np.arange(70)).astype(np.uint16)
    >>> image[30:34, 30:34] += 500
    >>> lazy = bgsub.estimate_background(da.from_array(image, chunks=(17, 23)), "tophat",
    ...                                  radius=5)
    >>> np.array_equal(lazy.compute(), bgsub.estimate_background(image, "tophat", radius=5))
    True
    """
    plan = _lazy_plan(image, method, radius, axes, true_3d, spacing, light_background,
                      presmooth, options)
    return _background(image, plan, _check_fill_nan(fill_nan))


def subtract_background(
    image: da.Array,
    method: str = "rolling_ball",
    radius: RadiusLike = 50,
    *,
    axes: str | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    output_dtype: str | np.dtype = "same",
    offset: float = 0.0,
    return_background: bool = False,
    fill_nan: str = "exact",
    **options: Any,
) -> da.Array | tuple[da.Array, da.Array]:
    """Lazily subtract the background of a Dask array, chunk by chunk.

    Parameters
    ----------
    image : dask.array.Array
        Integer or float image with known chunk sizes.
    method, radius, axes, true_3d, spacing, light_background, presmooth, **options
        As for :func:`bgsub.estimate_background`.
    output_dtype, offset, return_background
        As for :func:`bgsub.subtract_background`.
    fill_nan : {"exact", "local"}
        As for :func:`estimate_background`.

    Returns
    -------
    foreground : dask.array.Array
        Lazily, with the chunks of ``image``.
    background : dask.array.Array
        Only with ``return_background=True``; compute both in one go
        (``dask.compute(foreground, background)``) to estimate it once.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import bgsub
    >>> rng = np.random.default_rng(0)
    >>> stack = rng.poisson(100, size=(4, 64, 70)).astype(np.uint16)
    >>> lazy = bgsub.subtract_background(da.from_array(stack, chunks=(1, 17, 23)), "median",
    ...                                  radius=3, axes="TYX")
    >>> lazy.chunks == ((1, 1, 1, 1), (17, 17, 17, 13), (23, 23, 23, 1))
    True
    >>> expected = bgsub.subtract_background(stack, "median", radius=3, axes="TYX")
    >>> np.array_equal(lazy.compute(), expected)
    True
    """
    plan = _lazy_plan(image, method, radius, axes, true_3d, spacing, light_background,
                      presmooth, options)
    out_dtype = output_dtype_for(image.dtype, output_dtype)
    offset = _check_offset(offset)
    fill_nan = _check_fill_nan(fill_nan)
    if plan.method.subtract is not None:
        return _whole_command(image, plan, out_dtype, offset, return_background)
    background = _background(image, plan, fill_nan)
    foreground = da.map_blocks(
        _foreground_chunk, image, background, dtype=out_dtype,
        meta=np.empty((0,) * image.ndim, dtype=out_dtype),
        light=plan.light_background, out_dtype=out_dtype, offset=offset,
    )
    if return_background:
        return foreground, background
    return foreground


def overlap_depth(
    image: da.Array,
    method: str = "rolling_ball",
    radius: RadiusLike = 50,
    *,
    axes: str | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    presmooth: Any = None,
    **options: Any,
) -> dict[int, int]:
    """The halo, in pixels per array axis, each chunk needs for an exact result.

    The method's reach for the resolved radius and options plus the
    pre-smoothing's reach along spatial axes, 0 along the others. For the
    paraboloid it is derived from the image's value range (computed now, a
    min/max reduction); for a method with an unbounded reach and no such rule
    it is the axis' whole length.

    Examples
    --------
    >>> import dask.array as da
    >>> image = da.zeros((2, 64, 70), dtype="uint16", chunks=(1, 32, 35))
    >>> overlap_depth(image, "tophat", radius=3, axes="TYX")
    {0: 0, 1: 6, 2: 6}
    >>> overlap_depth(image, "gaussian", radius=3, axes="ZYX", true_3d=True,
    ...               presmooth="median:1")
    {0: 13, 1: 13, 2: 13}
    """
    plan = _lazy_plan(image, method, radius, axes, true_3d, spacing, False, presmooth, options)
    return _depth(image, plan)


def _lazy_plan(
    image: da.Array,
    method: str,
    radius: RadiusLike,
    axes: str | None,
    true_3d: bool,
    spacing: Sequence[float] | None,
    light_background: bool,
    presmooth: Any,
    options: dict[str, Any],
) -> _Plan:
    if not isinstance(image, da.Array):
        raise TypeError(f"image must be a dask.array.Array, got {type(image).__name__}")
    if any(math.isnan(size) for sizes in image.chunks for size in sizes):
        raise ValueError(
            "image has unknown chunk sizes; call image.compute_chunk_sizes() first"
        )
    return _plan(image, method, radius, axes, true_3d, spacing, light_background, presmooth,
                 options)


def _check_fill_nan(fill_nan: Any) -> str:
    if fill_nan not in FILL_NAN_MODES:
        raise ValueError(
            f"fill_nan={fill_nan!r} is not accepted; use one of "
            f"{', '.join(repr(m) for m in FILL_NAN_MODES)}"
        )
    return str(fill_nan)


# --- the background graph -------------------------------------------------------------------


def _background(image: da.Array, plan: _Plan, fill_nan: str) -> da.Array:
    """The lazy background of ``image``, with its chunks."""
    depth = _depth(image, plan)
    task_plan = plan.detached()
    source = image
    if fill_nan == "exact" and np.issubdtype(image.dtype, np.floating):
        source = _filled(image, task_plan)
    chunks, depth = _overlap_chunks(source.chunks, depth)
    meta = np.empty((0,) * image.ndim, dtype=plan.work_dtype)
    background = source.rechunk(chunks).map_overlap(
        _background_chunk, depth=depth, boundary="none", trim=True, dtype=plan.work_dtype,
        meta=meta, plan=task_plan,
    )
    return background.rechunk(image.chunks)


def _filled(image: da.Array, plan: _Plan) -> da.Array:
    """``image`` with NaN/inf filled per whole independent block, in the working dtype."""
    whole = {axis: -1 for axis in plan.layout.spatial}
    meta = np.empty((0,) * image.ndim, dtype=plan.work_dtype)
    return image.rechunk(whole).map_blocks(_fill_chunk, dtype=plan.work_dtype, meta=meta,
                                           plan=plan)


def _background_chunk(chunk: np.ndarray, plan: _Plan) -> np.ndarray:
    """Background of every independent block of one chunk (halo included)."""
    background = np.empty(chunk.shape, dtype=plan.work_dtype)
    for selector in plan.layout.planes(chunk.shape):
        block = plan.layout.block(chunk, selector)
        plan.layout.put(background, selector, plan.background_of(block))
    return background


def _fill_chunk(chunk: np.ndarray, plan: _Plan) -> np.ndarray:
    """Fill NaN/inf of each whole block from the nearest valid pixel, as the API does."""
    filled = np.empty(chunk.shape, dtype=plan.work_dtype)
    for selector in plan.layout.planes(chunk.shape):
        work = np.array(plan.layout.block(chunk, selector), dtype=plan.work_dtype, order="C")
        invalid = ~np.isfinite(work)
        if invalid.any() and not invalid.all():
            work = _fill_from_nearest(work, invalid)
        plan.layout.put(filled, selector, work)
    return filled


def _foreground_chunk(
    image: np.ndarray, background: np.ndarray, *, light: bool, out_dtype: np.dtype,
    offset: float,
) -> np.ndarray:
    """``image - background`` (reversed for a light background), cast safely."""
    values = image.astype(background.dtype)
    if light:
        foreground = np.subtract(background, values, out=values)
    else:
        foreground = np.subtract(values, background, out=values)
    return cast_result(foreground, out_dtype, offset)


def _whole_command(
    image: da.Array, plan: _Plan, out_dtype: np.dtype, offset: float, return_background: bool
) -> da.Array | tuple[da.Array, da.Array]:
    """A method reproducing another program's whole command (``Method.subtract``: ImageJ).

    Its rounding and its light-background handling are the command's own, so
    it runs on whole independent blocks (whole planes, and the RGB samples
    together), exactly as :func:`bgsub.subtract_background` runs it in memory.
    """
    whole = {axis: -1 for axis in plan.layout.spatial}
    if "S" in plan.layout.axes:
        whole[plan.layout.axes.index("S")] = -1
    source = image.rechunk(whole)
    task_plan = plan.detached()
    parts = [(out_dtype, False), (plan.work_dtype, True)][: 2 if return_background else 1]
    results = tuple(
        source.map_blocks(_command_chunk, dtype=dtype, meta=np.empty((0,) * image.ndim, dtype),
                          plan=task_plan, out_dtype=out_dtype, offset=offset,
                          background=background).rechunk(image.chunks)
        for dtype, background in parts)
    return results if return_background else results[0]


def _command_chunk(chunk: np.ndarray, plan: _Plan, out_dtype: np.dtype, offset: float,
                   background: bool) -> np.ndarray:
    """The foreground (or background) of whole blocks, as :func:`bgsub.subtract_background`."""
    whole = plan.detached()
    whole.image = chunk
    foreground_and_background = _subtract_whole(whole, out_dtype, offset, background)
    return foreground_and_background[1] if background else foreground_and_background


# --- halos ----------------------------------------------------------------------------------


def _depth(image: da.Array, plan: _Plan) -> dict[int, int]:
    """Overlap per array axis: the spatial halo on spatial axes, 0 elsewhere."""
    depth = dict.fromkeys(range(image.ndim), 0)
    for axis, pixels in zip(plan.layout.spatial, _spatial_halo(image, plan), strict=True):
        depth[axis] = pixels
    return depth


def _spatial_halo(image: da.Array, plan: _Plan) -> tuple[int, ...]:
    """Halo per spatial axis (Z, Y, X order): the method's plus the pre-smoothing's."""
    sizes = tuple(image.shape[axis] for axis in plan.layout.spatial)
    halo = tuple(int(h) for h in plan.method.halo(plan.radius, plan.options))
    if any(h < 0 for h in halo):
        halo = _bounded_halo(image, plan, halo, sizes)
    if plan.presmooth is not None:
        # the same per-axis scale as _Plan.background_of gives the pre-smoothing
        scale = tuple(r / plan.radius[-1] for r in plan.radius)
        halo = tuple(h + p for h, p in zip(halo, plan.presmooth.halo(scale), strict=True))
    return halo


def _bounded_halo(
    image: da.Array, plan: _Plan, halo: tuple[int, ...], sizes: tuple[int, ...]
) -> tuple[int, ...]:
    """Replace unbounded (-1) halos by a finite exact reach, or the whole axis."""
    if plan.method.name == "paraboloid":
        bounded = _paraboloid_halo(plan.radius, _value_span(image))
    else:
        bounded = sizes
    return tuple(min(b, size) if h < 0 else h
                 for h, b, size in zip(halo, bounded, sizes, strict=True))


def _paraboloid_halo(radius: tuple[float, ...], span: float) -> tuple[int, ...]:
    """Exact reach of the opening by the paraboloid ``sum(d_i**2 / (2 r_i))``.

    At distance ``d`` along an axis the paraboloid has risen ``c * d**2``
    (``c = 1 / (2 r)``); once that exceeds the value range ``span`` of the
    image no pixel that far can beat the pixel itself, neither in the
    erosion nor in the dilation (whose input stays within the range). Each
    step therefore reaches ``ceil(sqrt(span / c))`` pixels (one more for
    rounding), the opening twice that.

    Examples
    --------
    >>> _paraboloid_halo((8.0, 8.0), 100.0)
    (82, 82)
    """
    return tuple(2 * (math.ceil(math.sqrt(span * 2.0 * r)) + 1) for r in radius)


def _value_span(image: da.Array) -> float:
    """``max - min`` of the finite values of ``image`` (0 if none), computed now."""
    if np.issubdtype(image.dtype, np.floating):
        finite = da.isfinite(image)
        low, high = dask.compute(da.where(finite, image, np.inf).min(),
                                 da.where(finite, image, -np.inf).max())
    else:
        low, high = dask.compute(image.min(), image.max())
    low, high = float(low), float(high)
    return high - low if high >= low else 0.0


def _overlap_chunks(chunks: Chunks, depth: dict[int, int]) -> tuple[Chunks, dict[int, int]]:
    """Chunks at least as large as the halo along each axis, and the depth to use.

    An axis that ends up in one chunk needs no overlap (its depth becomes 0).

    Examples
    --------
    >>> _overlap_chunks(((17, 17, 17, 13), (5, 5, 5)), {0: 4, 1: 8})
    (((17, 17, 17, 13), (15,)), {0: 4, 1: 0})
    """
    merged_chunks = []
    merged_depth = {}
    for axis, sizes in enumerate(chunks):
        merged = _merge_small(sizes, depth[axis])
        merged_chunks.append(merged)
        merged_depth[axis] = depth[axis] if len(merged) > 1 else 0
    return tuple(merged_chunks), merged_depth


def _merge_small(sizes: tuple[int, ...], minimum: int) -> tuple[int, ...]:
    """Merge consecutive chunk sizes until each is at least ``minimum``.

    Examples
    --------
    >>> _merge_small((5, 5, 5, 5, 2), 8)
    (10, 12)
    """
    if all(size >= minimum for size in sizes):
        return tuple(sizes)
    merged: list[int] = []
    pending = 0
    for size in sizes:
        pending += size
        if pending >= minimum:
            merged.append(pending)
            pending = 0
    if pending:
        if merged:
            merged[-1] += pending
        else:
            merged.append(pending)
    return tuple(merged)
