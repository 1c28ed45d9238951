"""The one processing engine under every face: a plan, checked once, and one block loop.

:func:`plan` checks an image and the settings (method, radius, axes, options,
light background, pre-smoothing) once and returns a :class:`Plan`, small and
free of pixels. :func:`estimate` and :func:`subtract` run a plan over an array
one independent block at a time (a 2D plane, a 3D volume with ``true_3d``,
and -- for a method that reproduces another program's whole command, such as
``imagej`` -- a plane with its RGB samples together), reporting progress and
stopping between blocks when asked. The same blocks serve the API, the Dask
chunks (:mod:`bgsub.chunked`), the CLI's batches and streams and the napari
plugin, so that every face gives the same pixels.

Where a caller can cancel (the napari *Apply*, the API with ``cancel=``), a
large block is further split into tiles of about :data:`SPLIT_PIXELS` pixels
(:func:`tiles`), each computed on a window enlarged by the plan's halo and
cropped, as the Dask path does with its chunks: the same pixels, and a cancel
checked after each tile rather than once per plane. A method whose halo spans
the whole block (``robust``, ``imagej``) cannot be split and stays whole, as
does a running sum of non-integer values (:attr:`Plan.splits_exactly`).

With ``radius="auto"``, :func:`plan_prepared` also runs what the method measures
whatever the radius (``Method.prepare``: ``robust``'s noise model and trend) on a
single-block image -- on a second thread while the radius is measured, from
``PREPARE_ALONGSIDE_FROM`` pixels -- and :func:`estimate` and :func:`subtract` pass it
back to the method: the same pixels, sooner.

A plan also knows how far each pixel's background looks (:meth:`Plan.halo`):
the method's reach for the resolved radius, options and data (computed once,
when planning), plus the pre-smoothing's, in finite pixels per spatial axis.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import math
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from bgsub._arrays import finite_number, is_dask_array, is_number, plain, value_span
from bgsub._axes import Layout, parse_axes
from bgsub._bounds import (
    available_memory,
    check_presmooth_fits,
    warn_if_short_of_memory,
)
from bgsub._cancel import CancelFlag, Cancelled, cancellable
from bgsub._dtypes import cast_result, work_dtype
from bgsub._field_stop import warn_if_field_stop
from bgsub._inputs import check_flag, check_image
from bgsub._lazy import import_before_threads
from bgsub._padding import (
    check_missing,
    fill_from_nearest,
    valid_pixels,
    warn_if_padded,
    warn_of_padding,
)
from bgsub._polarity import warn_if_light
from bgsub._presmooth import Presmooth, parse_presmooth
from bgsub.kernels.threads import map_in_order, num_threads
from bgsub.methods import (
    AUTO_RADIUS,
    DEFAULT_METHOD,
    DEFAULT_RADIUS,
    Extent,
    Method,
    get_method,
    is_auto_radius,
)

__all__ = ["AUTO", "DEFAULT_METHOD", "DEFAULT_RADIUS", "SPLIT_HALO_FACTOR", "SPLIT_PIXELS",
           "Cancelled", "Plan", "Progress", "Tile", "cancellable", "check_missing",
           "check_offset", "estimate", "estimate_steps", "fill_steps",
           "is_dask_array", "plan", "plan_prepared", "run", "subtract", "subtract_steps",
           "tiles", "value_span"]

RadiusLike = float | Sequence[float]
#: ``progress(done, total)``: called with ``(0, total)`` first, then after each block (or tile).
Progress = Callable[[int, int], Any]
Steps = Generator[tuple[int, int], None, Any]
AUTO = AUTO_RADIUS

#: A radius larger than the image is accepted while its neighbourhood (2r+1 pixels per
#: spatial axis) holds at most this many pixels; beyond, footprints would need gigabytes.
MAX_NEIGHBOURHOOD = 2**24
#: Largest reach (pixels along one axis) allowed beyond the image's own size.
MAX_REACH = 2**20
#: Pixels of a tile (its inside, without the halo) when a block is split so that a cancel
#: is seen often: a 1024x1024 tile takes 0.25 s with the slowest method (``median``, r=50).
SPLIT_PIXELS = 2**20
#: A streamed file's checks (padding, polarity) read its middle plane sampled to at most
#: this many pixels a side.
SAMPLE_SIDE = 2048
#: ``radius="auto"``: from this many pixels, a block's preparation runs on a second thread
#: while its radius is measured; below, one after the other. Both work on grids of a fixed
#: size (a 512-pixel crop, at most 512 cells a side), which weigh more than a smaller image:
#: side by side at 1024x1024 they peaked at 8.0-9.9 float32 copies of it instead of 5.9-8.0,
#: to save 3-6 ms of 0.19-0.34 s; at 2048x2048 they save 15-30 ms, the peak unchanged.
PREPARE_ALONGSIDE_FROM = 2048 * 2048
#: Independent blocks (the planes of a stack) run this many at a time at most, each on its
#: share of the cores: one plane of the default keeps 1.1-1.4 cores busy.
BLOCKS_AT_ONCE = 4
#: ... where a block has at least this many pixels: on smaller ones Python's share of the work,
#: one thread at a time, makes them slower side by side (robust on 128x128 planes: 0.83x;
#: 256x256: 1.08x, 1024x1024: 1.5x)
BLOCKS_SIDE_BY_SIDE_FROM = 256 * 256
#: The peak memory of one block, in float32 copies of it, assumed for a method that declares
#: none (``Method.peak_buffers``) when deciding how many blocks run at once.
UNDECLARED_PEAK_BUFFERS = 8.0
#: A tile is at least this many halos wide, so that computing its halo too costs at most
#: (1 + 2 / 4)**2 = 2.25 times the tile's own work (1.2 times for median r=50 at 1024).
SPLIT_HALO_FACTOR = 4


@dataclass(frozen=True)
class Plan:
    """Everything checked once, applied to each independent block; holds no pixels.

    Attributes
    ----------
    method : Method
        The registered method.
    layout : Layout
        Which array axes are spatial (Z, Y, X order) and which independent.
    radius : tuple of float
        Per spatial axis, in pixels.
    light_background : bool
        Estimate from above (the image negated).
    presmooth : Presmooth or None
        Smoothing before estimating.
    options : dict
        The method's options, validated, defaults filled in.
    dtype : numpy.dtype
        The input's dtype.
    shape : tuple of int
        The input's shape.
    reach : tuple of int
        The method's halo for the input (:attr:`Method.halo`), per spatial axis.
    missing : float or None
        Pixels of this value are not data (a mosaic's padding): they weigh on no background,
        as NaN pixels do, and keep their value in the foreground.
    """

    method: Method
    layout: Layout
    radius: tuple[float, ...]
    light_background: bool
    presmooth: Presmooth | None
    options: dict[str, Any]
    dtype: np.dtype
    shape: tuple[int, ...]
    reach: tuple[int, ...]
    missing: float | None = None

    @property
    def work_dtype(self) -> np.dtype:
        """The float type the background is computed in."""
        return work_dtype(self.dtype)

    @property
    def whole_command(self) -> bool:
        """The method reproduces another program's whole command (``Method.subtract``)."""
        return self.method.subtract is not None

    @property
    def joint_axes(self) -> tuple[int, ...]:
        """Array axes processed together in one block: the spatial ones, and for a
        whole-command method the RGB samples ``S`` too."""
        joint = set(self.layout.spatial)
        if self.whole_command and "S" in self.layout.axes:
            joint.add(self.layout.axes.index("S"))
        return tuple(sorted(joint))

    def blocks(self, shape: tuple[int, ...], command: bool = False) -> Iterator[tuple]:
        """Index tuples selecting each independent block of an array of ``shape``.

        ``command``: the blocks of a whole-command method's subtraction (RGB
        samples kept together) rather than those of the background estimate.
        """
        return self.layout.planes(shape, self.joint_axes if command else ())

    def block_count(self, shape: tuple[int, ...] | None = None, command: bool = False) -> int:
        """How many blocks :meth:`blocks` gives for ``shape`` (default: the input's)."""
        shape = self.shape if shape is None else shape
        joint = self.joint_axes if command else self.layout.spatial
        return int(np.prod([n for ax, n in enumerate(shape) if ax not in joint]))

    def units(self, shape: tuple[int, ...], command: bool = False,
              split: int | None = None) -> list[tuple[tuple, Tile | None]]:
        """The steps of a block loop over an array of ``shape``: ``(selector, tile)`` pairs.

        ``split`` (pixels of a tile, :func:`tiles`) cuts each block into tiles
        where that keeps every pixel (:attr:`splits_exactly`); ``tile`` is None
        for a whole block: without ``split``, for a whole-command method, and
        where the halo spans the block.
        """
        selectors = list(self.blocks(shape, command))
        if split is None or (command and self.whole_command) or not self.splits_exactly:
            return [(selector, None) for selector in selectors]
        extent = tuple(shape[ax] for ax in self.layout.spatial)
        parts = tiles(extent, self.halo(), split)
        if len(parts) == 1:
            return [(selector, None) for selector in selectors]
        return [(selector, tile) for selector in selectors for tile in parts]

    @property
    def splits_exactly(self) -> bool:
        """Whether a tile computed on its window gives the whole block's pixels bit for bit.

        Not when a running sum (the ``mean`` method or pre-smoothing) adds
        non-integer values: its rounding depends on where the window starts. Integers of
        32 bits or more count as such: their float64 sums of means differ by a few ulps
        (8- and 16-bit ones are computed into float32, which rounds those away).
        """
        integers = self.dtype.kind in "iu" and self.dtype.itemsize <= 2
        if self.presmooth is not None:
            if self.presmooth.moving_sum and not integers:
                return False
            integers = integers and self.presmooth.keeps_integers
        return integers or not self.method.moving_sum

    def halo(self) -> tuple[int, ...]:
        """Pixels of context per spatial axis (Z, Y, X order) that make a window exact.

        The method's reach for the radius, the options and the input (its size
        and, where the reach depends on it, its value range) plus the
        pre-smoothing's.

        Examples
        --------
        >>> import numpy as np
        >>> plan(np.zeros((64, 64), np.uint8), "gaussian", 3, presmooth="median:1").halo()
        (13, 13)
        """
        if self.presmooth is None:
            return self.reach
        smooth = self.presmooth.halo(self._presmooth_scale())
        return tuple(h + p for h, p in zip(self.reach, smooth, strict=True))

    def _presmooth_scale(self) -> tuple[float, ...]:
        return tuple(r / self.radius[-1] for r in self.radius)

    def fills(self, dtype: np.dtype) -> bool:
        """Whether blocks of ``dtype`` may hold pixels to fill (NaN/inf, or ``missing``)."""
        return np.issubdtype(dtype, np.floating) or self.missing is not None

    def to_fill(self, block: np.ndarray) -> bool:
        """Whether ``block`` holds pixels that :meth:`filled` replaces."""
        return self.fills(block.dtype) and valid_pixels(block, self.missing) is not None

    def filled(self, block: np.ndarray) -> np.ndarray:
        """A C-contiguous working-dtype copy of a block, NaN/inf pixels (and those equal to
        ``missing``) replaced by their nearest valid neighbour's value (all NaN when no pixel
        is valid)."""
        work = np.array(block, dtype=self.work_dtype, order="C")
        valid = valid_pixels(work, self.missing) if self.fills(block.dtype) else None
        if valid is not None:
            if valid.any():
                work = fill_from_nearest(work, ~valid, in_place=True)
            else:
                work[...] = np.nan
        return work

    def background_of(self, block: np.ndarray, prepared: Any = None) -> np.ndarray:
        """Background of one Z, Y, X-ordered block, in the working float dtype.

        ``prepared``: :meth:`prepare_block` of this same block (None: the method measures
        it itself).
        """
        work = self.filled(block)
        if not np.isfinite(work.flat[0]):  # still invalid after filling: none is valid
            return np.full(work.shape, np.nan, dtype=self.work_dtype)
        extra = {} if prepared is None else {"prepared": prepared}
        if self.method.overwrites_input:  # (``work`` is this call's own copy of the block)
            extra["overwrite_input"] = True
        background = self.method.estimate(self._method_input(work), self.radius,
                                          **self.options, **extra)
        background = np.asarray(background, dtype=self.work_dtype)
        if self.light_background:
            np.negative(background, out=background)
        return background

    def prepare_block(self, block: np.ndarray) -> Any:
        """The method's ``prepare`` (what it measures whatever the radius) on the array its
        estimate of this Z, Y, X-ordered block gets; None when it has none or no pixel is
        valid."""
        work = self.filled(block)
        if self.method.prepare is None or not np.isfinite(work.flat[0]):
            return None
        return self.method.prepare(self._method_input(work))

    def _method_input(self, work: np.ndarray) -> np.ndarray:
        """A filled block as the method gets it: negated for a light background,
        pre-smoothed, C-contiguous."""
        if self.light_background:
            np.negative(work, out=work)
        if self.presmooth is not None:
            work = self.presmooth.apply(work, self._presmooth_scale())
        return np.ascontiguousarray(work)

    def foreground_of(self, values: np.ndarray, background: np.ndarray, out_dtype: np.dtype,
                      offset: float) -> np.ndarray:
        """``values - background`` (reversed for a light background), cast safely."""
        work = values.astype(background.dtype)
        if self.light_background:
            work = np.subtract(background, work, out=work)
        else:
            work = np.subtract(work, background, out=work)
        result = cast_result(work, out_dtype, offset)
        if self.missing is not None:  # (not data: kept as it was)
            result[values == self.missing] = cast_result(
                np.array([self.missing], dtype=background.dtype), out_dtype)[0]
        return result

    def command_of(self, block: np.ndarray, selector: tuple, background: bool) -> np.ndarray:
        """What a whole-command method leaves in one block (its background with
        ``background``), in the block's array order."""
        axes = "".join(a for a, s in zip(self.layout.axes, selector, strict=True)
                       if isinstance(s, slice))
        layout = parse_axes(axes, block.shape, False)
        options = dict(self.options, create_background=True) if background else self.options
        return self.method.subtract(block, layout, self.radius, self.light_background,
                                    **options)


@dataclass(frozen=True)
class Tile:
    """A part of a block computed on its own, with the context that makes it exact.

    Attributes
    ----------
    inner : tuple of slice
        The pixels it gives, in the block (Z, Y, X order).
    window : tuple of slice
        What it is computed on: ``inner`` enlarged by the halo, within the block.
    crop : tuple of slice
        ``inner`` inside ``window``.
    """

    inner: tuple[slice, ...]
    window: tuple[slice, ...]
    crop: tuple[slice, ...]


def tiles(extent: tuple[int, ...], halo: tuple[int, ...], pixels: int = SPLIT_PIXELS
          ) -> list[Tile]:
    """Near-square tiles of about ``pixels`` pixels (or more, for a wide halo) covering a
    block of ``extent``, each with the window of ``halo`` more pixels that makes it exact.

    Tiles along an axis differ in size by one pixel at most, and each is at least
    :data:`SPLIT_HALO_FACTOR` halos wide; an axis the halo spans stays whole,
    and a block that needs no split is one tile.

    Examples
    --------
    >>> [t.inner for t in tiles((100, 60), (5, 5), pixels=1600)]  # doctest: +NORMALIZE_WHITESPACE
    [(slice(0, 33, None), slice(0, 30, None)), (slice(0, 33, None), slice(30, 60, None)),
     (slice(33, 66, None), slice(0, 30, None)), (slice(33, 66, None), slice(30, 60, None)),
     (slice(66, 100, None), slice(0, 30, None)), (slice(66, 100, None), slice(30, 60, None))]
    >>> tiles((100, 60), (5, 5), pixels=1600)[3].window
    (slice(28, 71, None), slice(25, 60, None))
    >>> len(tiles((4096, 4096), (4096, 4096)))  # a halo over the whole block: not split
    1
    """
    side = max(1, int(pixels)) ** (1 / len(extent))
    bounds = []
    for n, h in zip(extent, halo, strict=True):
        pieces = max(1, min(math.ceil(n / side), n // max(SPLIT_HALO_FACTOR * h, 1)))
        cuts = [n * i // pieces for i in range(pieces + 1)]
        bounds.append(list(itertools.pairwise(cuts)))
    out = []
    for corners in itertools.product(*bounds):
        inner, window, crop = [], [], []
        for (start, stop), h, n in zip(corners, halo, extent, strict=True):
            low, high = max(start - h, 0), min(stop + h, n)
            inner.append(slice(start, stop))
            window.append(slice(low, high))
            crop.append(slice(start - low, stop - low))
        out.append(Tile(tuple(inner), tuple(window), tuple(crop)))
    return out


# --- planning ---------------------------------------------------------------------------------


def plan(
    image: Any,
    method: str | None = None,
    radius: RadiusLike | str = DEFAULT_RADIUS,
    *,
    axes: str | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    missing: Any = None,
    warn_input: bool = True,
    **options: Any,
) -> Plan:
    """Check an image and the settings once; the arguments of :func:`bgsub.estimate_background`.

    ``warn_input``: a :class:`bgsub.BackgroundWarning` where an in-memory image holds
    padding (:func:`bgsub._padding.padding_share`) and ``missing`` is not given, or where the
    method's estimate of one block needs more memory than is free (``Method.peak_buffers``).

    Raises
    ------
    TypeError, ValueError
        One line naming what is wrong and how to fix it.

    Examples
    --------
    >>> import numpy as np
    >>> p = plan(np.zeros((2, 32, 32), np.uint16), "median", 3, axes="TYX")
    >>> p.method.name, p.radius, p.block_count()
    ('median', (3.0, 3.0), 2)
    """
    array = check_image(image)
    chosen = get_method(DEFAULT_METHOD if method is None else method)
    for name, flag in (("light_background", light_background), ("true_3d", true_3d)):
        check_flag(flag, name)
    layout = parse_axes(axes, array.shape, bool(true_3d))
    if layout.ndim_spatial == 3 and not chosen.supports_3d:
        raise ValueError(f"method {chosen.name!r} has no true 3D mode; use true_3d=False")
    missing = check_missing(missing)
    if missing is not None and chosen.subtract is not None:
        raise ValueError(f"method {chosen.name!r} reproduces ImageJ, which has no missing "
                         "pixels; drop missing=, or use method='rolling_ball'")
    padding = (0.0, float("nan"))  # (what the automatic radius found on the planes it read)
    measured = is_auto_radius(radius)
    if measured:
        from bgsub.auto import suggest_radius, warn_of_findings

        suggestion = suggest_radius(array, layout.axes,
                                    light_background=bool(light_background), missing=missing)
        radius, padding = suggestion.radius, suggestion.padding
        if warn_input:
            warn_of_findings(suggestion)
    radii = _resolve_radius(radius, layout.ndim_spatial, spacing)
    extent = tuple(array.shape[ax] for ax in layout.spatial)
    if measured and layout.ndim_spatial == 3 and spacing is None:
        radii = _volume_radius(array, layout, radii, bool(light_background), missing,
                               warn_input)
    _check_radius_fits(radii, extent)
    if measured:
        _report_measured(radii)
    resolved = chosen.resolve_options(options)
    if chosen.check is not None:
        chosen.check(radii, resolved)
    reach = tuple(int(h) for h in chosen.halo(radii, resolved, Extent(
        extent, lambda: value_span(array))))  # the value range only if the method asks
    _check_reach(chosen, resolved, reach, extent)
    smoothing = parse_presmooth(presmooth)
    check_presmooth_fits(smoothing, radii, extent)
    if warn_input and chosen.peak_buffers is not None:
        warn_if_short_of_memory(
            4.0 * chosen.peak_buffers(radii) * math.prod(extent),
            f"method {chosen.name!r} at radius {max(radii):.3g} px on blocks of "
            f"{'x'.join(map(str, extent))} pixels",
            "a larger radius (from 16 px it works on blocks of 2 pixels or more) or "
            "method='rolling_ball' needs less")
    if warn_input and not is_dask_array(array):
        warn_of_input(np.moveaxis(np.asarray(array), layout.spatial[-2:], (-2, -1)),
                      chosen.name, bool(light_background), measured, missing, stacklevel=6)
    elif warn_input and missing is None:
        # (a lazy image is not read here: what the automatic radius found on the planes it read)
        warn_of_padding(*padding)
    return Plan(chosen, layout, radii, bool(light_background), smoothing, resolved,
                np.dtype(array.dtype), tuple(array.shape), reach, missing)


def warn_of_input(plane_stack: np.ndarray, method: str, light_background: bool,
                  measured: bool = False, missing: float | None = None,
                  stacklevel: int = 5) -> None:
    """The warnings planning gives on an image's pixels (``plane_stack``: ``(..., Y, X)``):
    a mosaic's padding where ``missing`` is not given
    (:func:`bgsub._padding.warn_if_padded`), a field stop's dark surround of a disc of light
    (:func:`bgsub._field_stop.warn_if_field_stop`, on the middle plane), and, for the default
    ``method`` at a radius
    not ``measured`` on the image, a light background read as a dark one
    (:func:`bgsub._polarity.warn_if_light`; the automatic radius's findings say it
    otherwise). A streamed file gives :func:`sampled_plane` here, as an in-memory image
    gives its planes."""
    if missing is None:
        warn_if_padded(plane_stack, light_background, stacklevel=stacklevel)
    warn_if_field_stop(_middle_plane(plane_stack), stacklevel=stacklevel)
    # (the exact methods, 10x faster than the default, are not slowed by the look: 5 ms of
    # the rolling ball's 40 at 2048x2048)
    if not light_background and not measured and method == DEFAULT_METHOD:
        warn_if_light(_middle_plane(plane_stack), stacklevel=stacklevel - 1)


def sampled_plane(image: Any, axes: str | None, true_3d: bool = False,
                  side: int = SAMPLE_SIDE) -> np.ndarray:
    """The middle Y-X plane of a lazy ``image`` (a Dask array), every k-th pixel along Y and
    X so that at most ``side`` remain a side, computed: what :func:`warn_of_input` reads of
    a file that is streamed (one plane's chunks are read; a fraction of it is held)."""
    layout = parse_axes(axes, image.shape, true_3d)
    plane_stack = image.transpose(*[a for a in range(image.ndim)
                                    if a not in layout.spatial[-2:]], *layout.spatial[-2:])
    plane = _middle_plane(plane_stack)
    steps = tuple(max(1, -(-n // side)) for n in plane.shape)
    return np.asarray(plane[::steps[0], ::steps[1]])


def _middle_plane(plane_stack: np.ndarray) -> np.ndarray:
    """The middle Y-X plane of ``plane_stack`` (``(..., Y, X)``), a view."""
    leading = plane_stack.shape[:-2]
    return plane_stack[np.unravel_index(math.prod(leading) // 2, leading)] if leading \
        else plane_stack


def plan_prepared(image: Any, method: str | None = None,
                  radius: RadiusLike | str = DEFAULT_RADIUS, **settings: Any
                  ) -> tuple[Plan, Any]:
    """:func:`plan`, and what the method measures whatever the radius on the image's one
    block (``Method.prepare``), for :func:`estimate` and :func:`subtract` to pass back.

    With ``radius="auto"`` on an in-memory image of a single block and a method that
    prepares (``robust``), the preparation runs on a second thread while the radius is
    measured (NumPy and SciPy release the GIL in their loops) from
    ``PREPARE_ALONGSIDE_FROM`` pixels, before it on a smaller block or one with pixels to
    fill (NaN, ``missing``: both the fill and the radius's planes hold copies): the same
    pixels as without it, sooner where a core is free. Otherwise the second item is None and
    nothing runs twice.

    Examples
    --------
    >>> from bgsub.data import synthetic
    >>> image = synthetic((64, 64), object_radius=4, seed=0).image
    >>> p, prepared = plan_prepared(image, radius="auto")
    >>> p.method.name, prepared is not None
    ('robust', True)
    >>> plan_prepared(image, radius=10)[1] is None
    True
    """
    if not is_auto_radius(radius) or is_dask_array(image):
        return plan(image, method, radius, **settings), None
    # every check but the radius's, and the block the estimate will see (the same for any
    # radius: no pre-smoothing, whose scale follows the radius's per-axis ratios)
    try:
        first = plan(image, method, 1.0, warn_input=False, **settings)
    except (TypeError, ValueError):  # let the real plan say what is wrong
        first = None
    if first is None or first.method.prepare is None or first.presmooth is not None \
            or first.block_count() != 1:
        return plan(image, method, radius, **settings), None
    array = np.asarray(image)
    block = first.layout.block(array, next(iter(first.blocks(first.shape))))
    # (a block with pixels to fill, in turn too: the fill's distance transform alongside the
    # radius's own float64 plane peaked at 7.8 float32 copies of a 2048x2048 image, 10 % NaN)
    if block.size < PREPARE_ALONGSIDE_FROM or first.to_fill(block):
        prepared = first.prepare_block(block)
        return plan(image, method, radius, **settings), prepared
    # plan() below imports the radius's planner (bgsub.auto, SciPy with it) while the
    # method's preparation may import SciPy too: imported here first, on one thread
    import_before_threads("bgsub.auto")
    with ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(first.prepare_block, block)
        final = plan(image, method, radius, **settings)
        return final, prepared.result()


_measured_radii: contextvars.ContextVar[list[tuple[float, ...]] | None] = \
    contextvars.ContextVar("bgsub_measured_radii", default=None)


@contextlib.contextmanager
def measured_radii() -> Iterator[list[tuple[float, ...]]]:
    """Within: each radius that ``radius="auto"`` measures in :func:`plan` (pixels per
    spatial axis, Z, Y, X order, after any spacing) is appended to the list yielded, in the
    order planned: what a face records of the radius it did not choose.

    Examples
    --------
    >>> from bgsub.data import synthetic
    >>> image = synthetic((96, 96), object_radius=4, seed=0).image
    >>> with measured_radii() as radii:
    ...     _ = plan(image, radius="auto")
    >>> len(radii), len(radii[0])
    (1, 2)
    """
    radii: list[tuple[float, ...]] = []
    token = _measured_radii.set(radii)
    try:
        yield radii
    finally:
        _measured_radii.reset(token)


def _report_measured(radii: tuple[float, ...]) -> None:
    """Append ``radii`` to the list of :func:`measured_radii`, where one is open."""
    listening = _measured_radii.get()
    if listening is not None:
        listening.append(tuple(float(r) for r in radii))


def _volume_radius(array: Any, layout: Layout, radii: tuple[float, ...],
                   light_background: bool, missing: float | None, warn: bool
                   ) -> tuple[float, ...]:
    """``radius="auto"``'s radii of a true 3D volume without a ``spacing``: along Z, from the
    objects' depth in the middle volume (:func:`bgsub.auto.depth_radius`); where that cannot
    be measured (too few planes, pixels to fill or marked ``missing``), the Y, X radius,
    warned of as a guess (right for cubic voxels only) where ``warn``."""
    from bgsub.auto import depth_radius, warn_of_volume_radius

    selectors = list(layout.planes(array.shape))
    volume = layout.block(array, selectors[len(selectors) // 2])
    depth = float("nan") if missing is not None else depth_radius(volume, radii[-1],
                                                                  light_background)
    if np.isfinite(depth):
        return (depth, *radii[1:])
    if warn:
        warn_of_volume_radius(radii[0], volume.shape[0])
    return radii


def _check_radius_fits(radius: tuple[float, ...], extent: tuple[int, ...]) -> None:
    """Refuse a radius beyond the image whose neighbourhood would be huge to allocate.

    A radius larger than the image is fine while its neighbourhood stays small
    (say 50 on a 20x20 thumbnail); ``radius=1e6`` on the same image would need a
    footprint of 10**12 pixels.
    """
    sides = [2 * int(np.ceil(r)) + 1 for r in radius]
    beyond = any(r > n for r, n in zip(radius, extent, strict=True))
    if beyond and float(np.prod(sides, dtype=np.float64)) > MAX_NEIGHBOURHOOD:
        shown = tuple(round(r, 6) for r in radius)
        fits = tuple(float(min(r, n)) for r, n in zip(radius, extent, strict=True))
        raise ValueError(
            f"radius {shown if len(set(shown)) > 1 else shown[0]} spans a neighbourhood of "
            f"{'x'.join(map(str, sides))} pixels, beyond the image "
            f"({'x'.join(map(str, extent))}) and too large to compute; use a radius no "
            f"larger than the image, e.g. radius={fits if len(set(fits)) > 1 else fits[0]}"
        )


def _check_reach(method: Method, options: dict[str, Any], reach: tuple[int, ...],
                 extent: tuple[int, ...]) -> None:
    """Refuse options (e.g. ``sigma=1e9``) whose reach would be huge to allocate.

    The method's halo is how far a pixel's background looks; beyond the image
    and beyond :data:`MAX_REACH` pixels it only costs memory (a Gaussian's
    kernel of ``8 * sigma`` taps) without changing the result meaningfully.
    """
    if any(h > max(n, MAX_REACH) for h, n in zip(reach, extent, strict=True)):
        given = ", ".join(f"{k}={v!r}" for k, v in options.items() if v is not None)
        raise ValueError(
            f"method {method.name!r} with {given or 'this radius'} reaches {max(reach)} "
            f"pixels, beyond the image ({'x'.join(map(str, extent))}) and too large to "
            "compute; use values no larger than the image"
        )


def _resolve_radius(
    radius: RadiusLike, ndim: int, spacing: Sequence[float] | None
) -> tuple[float, ...]:
    """Per-axis radius in pixels, Z, Y, X order."""
    if isinstance(radius, str):
        raise TypeError(f"radius must be a number of pixels or {AUTO!r}, got {radius!r}")
    if np.ndim(radius) == 0:
        value = _positive_number(radius, "radius")
        if spacing is None:
            return (value,) * ndim
        sizes = [_positive_number(s, "spacing") for s in _entries(spacing)]
        if len(sizes) != ndim:
            raise ValueError(
                f"spacing has {len(sizes)} entries but {ndim} spatial axes are processed; "
                "give one pixel size per spatial axis (Z, Y, X or Y, X)"
            )
        return tuple(value * sizes[-1] / s for s in sizes)
    values = [_positive_number(r, "radius") for r in _entries(radius)]
    if len(values) != ndim:
        raise ValueError(
            f"radius has {len(values)} entries but {ndim} spatial axes are processed; "
            f"give one radius or {ndim} (Z, Y, X order)"
        )
    if spacing is not None:
        raise ValueError("give either a per-axis radius or spacing, not both")
    return tuple(values)


def _entries(values: Any) -> np.ndarray:
    """The entries of a per-axis value, each as given: ``np.ravel((5, "a"))`` would make
    both text (``'5'``), and a message would name the wrong one.

    Examples
    --------
    >>> _entries((5, "a")).tolist(), _entries([[2.0, 3.0]]).tolist()
    ([5, 'a'], [2.0, 3.0])
    """
    return np.asarray(values, dtype=object).ravel()


def _positive_number(value: Any, name: str) -> float:
    if not is_number(value):
        raise TypeError(f"{name} must be a number of pixels, got {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name}={plain(value)} is out of range; use a finite number > 0")
    return number


def check_offset(offset: Any) -> float:
    """``offset`` as a finite float, or a one-line error.

    Examples
    --------
    >>> check_offset(100)
    100.0
    """
    return finite_number(offset, "offset")


# --- the block loop ---------------------------------------------------------------------------


def _each_block(plan: Plan, shape: tuple[int, ...], command: bool,
                work: Callable[[tuple, Tile | None], None], split: int | None = None,
                in_turn: bool = False) -> Generator[tuple[int, int], None, None]:
    """The block loop: ``work(selector, tile)`` for each block (or each tile of it, with
    ``split``: :meth:`Plan.units`), yielding ``(done, total)``.

    Where no block is cut into tiles, :func:`_blocks_at_once` blocks run at a time, each on
    its share of the cores (:func:`bgsub.kernels.threads.map_in_order`): every block is the
    same as when run alone (the kernels give the same values on any number of threads), and
    a cancel (its flag reaches each block's thread) or an error waits for the blocks
    running. ``in_turn``: one block at a time (a caller that runs several such loops side by
    side: Dask)."""
    units = plan.units(shape, command, split)
    yield 0, len(units)
    whole = not command and not in_turn and all(tile is None for _, tile in units)
    workers = _blocks_at_once(plan, len(units)) if whole else 1
    if workers > 1:
        import_before_threads("scipy.ndimage")  # (not on two threads at once)
    ran = map_in_order(lambda unit: work(*unit), units, workers)
    for done, _ in enumerate(ran, start=1):
        yield done, len(units)


def _blocks_at_once(plan: Plan, count: int) -> int:
    """How many of ``count`` independent blocks run at once: as many as this thread may use
    cores (:func:`bgsub.kernels.threads.num_threads`), at most ``BLOCKS_AT_ONCE``, and
    no more than the free memory holds (by the method's declared peak per block); one at a
    time under ``BLOCKS_SIDE_BY_SIDE_FROM`` pixels a block."""
    pixels = math.prod(plan.shape[axis] for axis in plan.layout.spatial)
    workers = min(count, num_threads(), BLOCKS_AT_ONCE)
    if workers < 2 or pixels < BLOCKS_SIDE_BY_SIDE_FROM:
        return 1
    buffers = plan.method.peak_buffers(plan.radius) if plan.method.peak_buffers else \
        UNDECLARED_PEAK_BUFFERS
    need = 4.0 * buffers * pixels
    free = available_memory()
    if free is not None:
        workers = min(workers, int(free // max(need, 1.0)))
    return max(1, workers)


class _Blocks:
    """The blocks of an image (Z, Y, X order), and the one being tiled, NaN/inf filled once.

    A tile's window must see the pixels the whole block's filling gives (the
    nearest valid pixel may lie outside the window), so a float block is
    filled whole before its tiles are cut from it.
    """

    def __init__(self, plan: Plan, image: np.ndarray, prepared: Any = None) -> None:
        self.plan, self.image = plan, image
        self._filled: tuple[tuple, np.ndarray] | None = None
        # the method's radius-free measurements of the image's only block (plan_prepared)
        self.prepared = prepared if plan.block_count(image.shape) == 1 else None

    def block(self, selector: tuple) -> np.ndarray:
        return self.plan.layout.block(self.image, selector)

    def background(self, selector: tuple, tile: Tile | None) -> np.ndarray:
        """The background of a block, or of one tile of it (computed on its window)."""
        if tile is None:
            return self.plan.background_of(self.block(selector), self.prepared)
        return self.plan.background_of(self._source(selector)[tile.window])[tile.crop]

    def values(self, selector: tuple, tile: Tile | None) -> np.ndarray:
        """The input's pixels of a block or tile."""
        block = self.block(selector)
        return block if tile is None else block[tile.inner]

    def _source(self, selector: tuple) -> np.ndarray:
        block = self.block(selector)
        if not self.plan.fills(block.dtype):
            return block
        if self._filled is None or self._filled[0] != selector:
            self._filled = (selector, self.plan.filled(block))
        return self._filled[1]


def _put(plan: Plan, array: np.ndarray, selector: tuple, tile: Tile | None,
         values: np.ndarray) -> None:
    """Write a block's (or a tile's) Z, Y, X-ordered values into ``array``."""
    if tile is None:
        plan.layout.put(array, selector, values)
    else:
        plan.layout.block(array, selector)[tile.inner] = values


def estimate_steps(plan: Plan, image: np.ndarray, split: int | None = None,
                   prepared: Any = None, in_turn: bool = False) -> Steps:
    """Estimate the background block by block, yielding ``(done, total)``; returns it.

    ``split``: cut blocks into tiles of about this many pixels where the
    method's halo allows (:func:`tiles`), for the same pixels in smaller steps.
    ``prepared``: from :func:`plan_prepared` for this ``image``. Independent blocks run a
    few at a time (see :func:`_each_block`), or one at a time with ``in_turn``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((3, 16, 16), np.float32)
    >>> steps = estimate_steps(plan(image, "mean", 2, axes="TYX"), image)
    >>> [next(steps) for _ in range(4)]
    [(0, 3), (1, 3), (2, 3), (3, 3)]
    >>> steps = estimate_steps(plan(image, "median", 2, axes="TYX"), image, split=64)
    >>> next(steps)  # each 16x16 plane in 2x2 tiles of 8x8
    (0, 12)
    """
    background = _made_when_read(image.shape, plan.work_dtype)
    blocks = _Blocks(plan, image, prepared)

    def one(selector: tuple, tile: Tile | None) -> None:
        values = blocks.background(selector, tile)
        _put(plan, background(), selector, tile, values)

    yield from _each_block(plan, image.shape, False, one, split, in_turn)
    return background()


def subtract_steps(plan: Plan, image: np.ndarray, out_dtype: np.dtype, offset: float = 0.0,
                   return_background: bool = False, split: int | None = None,
                   prepared: Any = None, in_turn: bool = False) -> Steps:
    """Subtract block by block, yielding ``(done, total)``; returns what :func:`subtract` does.

    ``split``, ``prepared``, ``in_turn``: as for :func:`estimate_steps` (a whole-command
    method's blocks are never split, and run in turn).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((2, 16, 16), 9, np.uint8)
    >>> steps = subtract_steps(plan(image, "median", 2, axes="TYX"), image, image.dtype)
    >>> next(steps), next(steps), next(steps)
    ((0, 2), (1, 2), (2, 2))
    """
    foreground = _made_when_read(image.shape, out_dtype)
    background = _made_when_read(image.shape, plan.work_dtype) if return_background else None
    blocks = _Blocks(plan, image, prepared)

    def one(selector: tuple, tile: Tile | None) -> None:
        bg = blocks.background(selector, tile)
        values = blocks.values(selector, tile)
        _put(plan, foreground(), selector, tile,
             plan.foreground_of(values, bg, out_dtype, offset))
        if background is not None:
            _put(plan, background(), selector, tile, bg)

    def one_command(selector: tuple, tile: Tile | None) -> None:
        fg, bg = _command_block(plan, image[selector], selector, out_dtype, offset,
                                return_background)
        foreground()[selector] = fg
        if background is not None:
            background()[selector] = bg

    yield from _each_block(plan, image.shape, plan.whole_command,
                           one_command if plan.whole_command else one, split, in_turn)
    return (foreground(), background()) if background is not None else foreground()


def _made_when_read(shape: tuple[int, ...], dtype: np.dtype) -> Callable[[], np.ndarray]:
    """The same new array at each call, made at the first: a result array is not held
    while the first block's background is estimated (one image-sized buffer less at the
    peak of a one-block image). Blocks that run at once all get the one array."""
    lock = threading.Lock()

    @functools.cache
    def made() -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def read() -> np.ndarray:
        with lock:
            return made()

    return read


def fill_steps(plan: Plan, image: np.ndarray, in_turn: bool = False) -> Steps:
    """``image`` in the working dtype, NaN/inf of each block filled from the nearest valid
    pixel (as :meth:`Plan.background_of` does), block by block; returns it (``in_turn``: as
    for :func:`estimate_steps`)."""
    filled = np.empty(image.shape, dtype=plan.work_dtype)

    def one(selector: tuple, tile: Tile | None) -> None:
        plan.layout.put(filled, selector, plan.filled(plan.layout.block(image, selector)))

    yield from _each_block(plan, image.shape, False, one, in_turn=in_turn)
    return filled


def _command_block(plan: Plan, block: np.ndarray, selector: tuple, out_dtype: np.dtype,
                   offset: float, return_background: bool
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Foreground (and background) of one block of a whole-command method (ImageJ):
    its own rounding, cast to ``out_dtype`` with ``offset`` only when asked."""
    result = plan.command_of(block, selector, False)
    if offset or out_dtype != result.dtype:
        result = cast_result(result.astype(np.float64), out_dtype, offset)
    background = plan.command_of(block, selector, True) if return_background else None
    return result, background


def run(steps: Steps, progress: Progress | None = None, cancel: CancelFlag | None = None) -> Any:
    """Drive ``steps`` to the end, calling ``progress(done, total)`` and checking ``cancel``.

    Raises
    ------
    Cancelled
        ``cancel.is_set()`` became true: checked before the first block and after each,
        and by methods that take long on one block between their stages
        (:func:`bgsub._cancel.checkpoint`).
    """
    with cancellable(cancel):  # methods with long blocks check it between their stages too
        while True:
            if cancel is not None and cancel.is_set():
                steps.close()
                raise Cancelled("cancelled")
            try:
                done, total = next(steps)
            except StopIteration as finished:
                return finished.value
            if progress is not None:
                progress(done, total)


def estimate(plan: Plan, image: np.ndarray, progress: Progress | None = None,
             cancel: CancelFlag | None = None, split: int | None = None,
             prepared: Any = None, in_turn: bool = False) -> np.ndarray:
    """The background of ``image`` (shaped as the plan's input), block by block
    (tile by tile with ``split``, see :func:`estimate_steps`)."""
    return run(estimate_steps(plan, image, split, prepared, in_turn), progress, cancel)


def subtract(plan: Plan, image: np.ndarray, out_dtype: np.dtype, offset: float = 0.0,
             return_background: bool = False, progress: Progress | None = None,
             cancel: CancelFlag | None = None, split: int | None = None,
             prepared: Any = None, in_turn: bool = False) -> Any:
    """The foreground of ``image`` (and its background), block by block (tile by tile
    with ``split``, see :func:`subtract_steps`)."""
    return run(subtract_steps(plan, image, out_dtype, offset, return_background, split,
                              prepared, in_turn), progress, cancel)

