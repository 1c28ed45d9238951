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
* a reach that depends on the data is the method's to compute from the
  image's value range (the paraboloid's: a parabola ``c * d**2`` taller
  than the range cannot win), from a cheap min/max reduction computed when
  the graph is built, and only for such a method;
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

import dask.array as da
import numpy as np

from bgsub import engine
from bgsub._dtypes import output_dtype_for
from bgsub.engine import Plan, RadiusLike
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS

__all__ = ["FILL_NAN_MODES", "estimate_background", "overlap_depth", "subtract_background"]

FILL_NAN_MODES = ("exact", "local")
Chunks = tuple[tuple[int, ...], ...]


def estimate_background(
    image: da.Array,
    method: str = DEFAULT_METHOD,
    radius: RadiusLike = DEFAULT_RADIUS,
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
    method: str = DEFAULT_METHOD,
    radius: RadiusLike = DEFAULT_RADIUS,
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
    offset = engine.check_offset(offset)
    fill_nan = _check_fill_nan(fill_nan)
    if plan.whole_command:
        return _whole_command(image, plan, out_dtype, offset, return_background)
    background = _background(image, plan, fill_nan)
    foreground = da.map_blocks(
        _foreground_chunk, image, background, dtype=out_dtype,
        meta=np.empty((0,) * image.ndim, dtype=out_dtype),
        plan=plan, out_dtype=out_dtype, offset=offset,
    )
    if return_background:
        return foreground, background
    return foreground


def overlap_depth(
    image: da.Array,
    method: str = DEFAULT_METHOD,
    radius: RadiusLike = DEFAULT_RADIUS,
    *,
    axes: str | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    **options: Any,
) -> dict[int, int]:
    """The halo, in pixels per array axis, each chunk needs for an exact result.

    The method's reach for the resolved radius and options plus the
    pre-smoothing's reach along spatial axes, 0 along the others. A reach
    that depends on the data (the paraboloid's) is derived from the image's
    value range (computed now, a min/max reduction); a method that looks at
    the whole block (``robust``, ``imagej``) reaches the axis' whole length.
    It takes :func:`subtract_background`'s keywords (``light_background``
    adds nothing to the halo, but was refused with an internal error).

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
    plan = _lazy_plan(image, method, radius, axes, true_3d, spacing, light_background,
                      presmooth, options)
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
) -> Plan:
    if not isinstance(image, da.Array):
        raise TypeError(f"image must be a dask.array.Array, got {type(image).__name__}")
    if any(math.isnan(size) for sizes in image.chunks for size in sizes):
        raise ValueError(
            "image has unknown chunk sizes; call image.compute_chunk_sizes() first"
        )
    return engine.plan(image, method, radius, axes=axes, true_3d=true_3d, spacing=spacing,
                       light_background=light_background, presmooth=presmooth, **options)


def _check_fill_nan(fill_nan: Any) -> str:
    if fill_nan not in FILL_NAN_MODES:
        raise ValueError(
            f"fill_nan={fill_nan!r} is not accepted; use one of "
            f"{', '.join(repr(m) for m in FILL_NAN_MODES)}"
        )
    return str(fill_nan)


# --- the background graph -------------------------------------------------------------------


def _background(image: da.Array, plan: Plan, fill_nan: str) -> da.Array:
    """The lazy background of ``image``, with its chunks."""
    depth = _depth(image, plan)
    source = image
    if fill_nan == "exact" and plan.fills(image.dtype):
        source = _filled(image, plan)
    if not plan.splits_exactly:  # (a running sum of non-integers: exact on whole blocks only)
        source = source.rechunk(dict.fromkeys(plan.layout.spatial, -1))
        depth = dict.fromkeys(depth, 0)
    chunks, depth = _overlap_chunks(source.chunks, depth)
    meta = np.empty((0,) * image.ndim, dtype=plan.work_dtype)
    background = source.rechunk(chunks).map_overlap(
        _background_chunk, depth=depth, boundary="none", trim=True, dtype=plan.work_dtype,
        meta=meta, plan=plan,
    )
    return background.rechunk(image.chunks)


def _filled(image: da.Array, plan: Plan) -> da.Array:
    """``image`` with NaN/inf (and ``missing``) filled per whole independent block, in the
    working dtype."""
    whole = {axis: -1 for axis in plan.layout.spatial}
    meta = np.empty((0,) * image.ndim, dtype=plan.work_dtype)
    return image.rechunk(whole).map_blocks(_fill_chunk, dtype=plan.work_dtype, meta=meta,
                                           plan=plan)


def _background_chunk(chunk: np.ndarray, plan: Plan) -> np.ndarray:
    """Background of every independent block of one chunk (halo included)."""
    return engine.estimate(plan, chunk, in_turn=True)  # (Dask runs the chunks side by side)


def _fill_chunk(chunk: np.ndarray, plan: Plan) -> np.ndarray:
    """Fill NaN/inf of each whole block from the nearest valid pixel, as the API does."""
    return engine.run(engine.fill_steps(plan, chunk, in_turn=True))


def _foreground_chunk(image: np.ndarray, background: np.ndarray, *, plan: Plan,
                      out_dtype: np.dtype, offset: float) -> np.ndarray:
    """``image - background`` (reversed for a light background), cast safely."""
    return plan.foreground_of(image, background, out_dtype, offset)


def _whole_command(
    image: da.Array, plan: Plan, out_dtype: np.dtype, offset: float, return_background: bool
) -> da.Array | tuple[da.Array, da.Array]:
    """A method reproducing another program's whole command (``Method.subtract``: ImageJ).

    Its rounding and its light-background handling are the command's own, so
    it runs on whole independent blocks (whole planes, and the RGB samples
    together), exactly as :func:`bgsub.subtract_background` runs it in memory.
    """
    source = image.rechunk(dict.fromkeys(plan.joint_axes, -1))
    parts = [(out_dtype, False), (plan.work_dtype, True)][: 2 if return_background else 1]
    results = tuple(
        source.map_blocks(_command_chunk, dtype=dtype, meta=np.empty((0,) * image.ndim, dtype),
                          plan=plan, out_dtype=out_dtype, offset=offset,
                          background=background).rechunk(image.chunks)
        for dtype, background in parts)
    return results if return_background else results[0]


def _command_chunk(chunk: np.ndarray, plan: Plan, out_dtype: np.dtype, offset: float,
                   background: bool) -> np.ndarray:
    """The foreground (or background) of whole blocks, as :func:`bgsub.subtract_background`."""
    result = engine.subtract(plan, chunk, out_dtype, offset, return_background=background,
                             in_turn=True)
    return result[1] if background else result


# --- halos ----------------------------------------------------------------------------------


def _depth(image: da.Array, plan: Plan) -> dict[int, int]:
    """Overlap per array axis: the spatial halo on spatial axes, 0 elsewhere."""
    depth = dict.fromkeys(range(image.ndim), 0)
    for axis, pixels in zip(plan.layout.spatial, plan.halo(), strict=True):
        depth[axis] = pixels
    return depth


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
