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

A plan also knows how far each pixel's background looks (:meth:`Plan.halo`):
the method's reach for the resolved radius, options and data (computed once,
when planning), plus the pre-smoothing's, in finite pixels per spatial axis.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bgsub._arrays import is_dask_array, value_span
from bgsub._axes import Layout, parse_axes
from bgsub._bounds import check_presmooth_fits, refuse_masked
from bgsub._dtypes import cast_result, check_dtype, work_dtype
from bgsub._presmooth import Presmooth, parse_presmooth
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS, Extent, Method, get_method

__all__ = ["AUTO", "DEFAULT_METHOD", "DEFAULT_RADIUS", "Cancelled", "Plan", "Progress",
           "check_offset", "estimate", "estimate_steps", "fill_from_nearest",
           "fill_steps", "is_dask_array", "plan", "run", "subtract", "subtract_steps",
           "value_span"]

RadiusLike = float | Sequence[float]
#: ``progress(done, total)``: called with ``(0, total)`` first, then after each block.
Progress = Callable[[int, int], Any]
Steps = Generator[tuple[int, int], None, Any]
AUTO = "auto"

#: A radius larger than the image is accepted while its neighbourhood (2r+1 pixels per
#: spatial axis) holds at most this many pixels; beyond, footprints would need gigabytes.
MAX_NEIGHBOURHOOD = 2**24
#: Largest reach (pixels along one axis) allowed beyond the image's own size.
MAX_REACH = 2**20


class Cancelled(Exception):
    """The computation was cancelled between two blocks; nothing was returned."""


class CancelFlag(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


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

    def filled(self, block: np.ndarray) -> np.ndarray:
        """A C-contiguous working-dtype copy of a block, NaN/inf pixels replaced by their
        nearest valid neighbour's value (left as they are when no pixel is valid)."""
        work = np.array(block, dtype=self.work_dtype, order="C")
        if np.issubdtype(block.dtype, np.floating):
            invalid = ~np.isfinite(work)
            if invalid.any() and not invalid.all():
                work = fill_from_nearest(work, invalid)
        return work

    def background_of(self, block: np.ndarray) -> np.ndarray:
        """Background of one Z, Y, X-ordered block, in the working float dtype."""
        work = self.filled(block)
        if not np.isfinite(work.flat[0]):  # still invalid after filling: none is valid
            return np.full(work.shape, np.nan, dtype=self.work_dtype)
        if self.light_background:
            np.negative(work, out=work)
        if self.presmooth is not None:
            work = self.presmooth.apply(work, self._presmooth_scale())
        background = self.method.estimate(np.ascontiguousarray(work), self.radius,
                                          **self.options)
        background = np.asarray(background, dtype=self.work_dtype)
        if self.light_background:
            np.negative(background, out=background)
        return background

    def foreground_of(self, values: np.ndarray, background: np.ndarray, out_dtype: np.dtype,
                      offset: float) -> np.ndarray:
        """``values - background`` (reversed for a light background), cast safely."""
        work = values.astype(background.dtype)
        if self.light_background:
            work = np.subtract(background, work, out=work)
        else:
            work = np.subtract(work, background, out=work)
        return cast_result(work, out_dtype, offset)

    def command_of(self, block: np.ndarray, selector: tuple, background: bool) -> np.ndarray:
        """What a whole-command method leaves in one block (its background with
        ``background``), in the block's array order."""
        axes = "".join(a for a, s in zip(self.layout.axes, selector, strict=True)
                       if isinstance(s, slice))
        layout = parse_axes(axes, block.shape, False)
        options = dict(self.options, create_background=True) if background else self.options
        return self.method.subtract(block, layout, self.radius, self.light_background,
                                    **options)


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
    **options: Any,
) -> Plan:
    """Check an image and the settings once; the arguments of :func:`bgsub.estimate_background`.

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
    array = _check_image(image)
    chosen = get_method(DEFAULT_METHOD if method is None else method)
    layout = parse_axes(axes, array.shape, bool(true_3d))
    if layout.ndim_spatial == 3 and not chosen.supports_3d:
        raise ValueError(f"method {chosen.name!r} has no true 3D mode; use true_3d=False")
    for name, flag in (("light_background", light_background), ("true_3d", true_3d)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if isinstance(radius, str) and radius == AUTO:
        from bgsub.auto import suggest_radius

        radius = suggest_radius(array, layout.axes, light_background=bool(light_background)).radius
    radii = _resolve_radius(radius, layout.ndim_spatial, spacing)
    extent = tuple(array.shape[ax] for ax in layout.spatial)
    _check_radius_fits(radii, extent)
    resolved = chosen.resolve_options(options)
    reach = tuple(int(h) for h in chosen.halo(radii, resolved, Extent(
        extent, lambda: value_span(array))))  # the value range only if the method asks
    _check_reach(chosen, resolved, reach, extent)
    smoothing = parse_presmooth(presmooth)
    check_presmooth_fits(smoothing, radii, extent)
    return Plan(chosen, layout, radii, bool(light_background), smoothing, resolved,
                np.dtype(array.dtype), tuple(array.shape), reach)


def _check_image(image: Any) -> Any:
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(
            f"image must be an array, got {type(image).__name__}; "
            "read files with bgsub.io.read_image(path)"
        )
    refuse_masked(image)
    array = image if is_dask_array(image) else _as_array(image)
    check_dtype(array.dtype)
    if array.ndim < 2:
        raise ValueError(
            f"image must have at least 2 dimensions (Y, X), got shape {array.shape}; "
            "for a 1D profile pass image[np.newaxis, :]"
        )
    if array.size == 0:
        raise ValueError(f"image is empty (shape {array.shape}); there is nothing to process")
    return array


def _as_array(image: Any) -> np.ndarray:
    """``np.asarray(image)``, with a one-line error for what NumPy cannot make an array of."""
    try:
        return np.asarray(image)
    except (TypeError, ValueError) as exc:
        # NumPy's first sentence: "setting an array element with a sequence"
        reason = str(exc).split(". ")[0].strip() if str(exc) else type(exc).__name__
        raise TypeError(f"image cannot be made into an array ({reason}); pass a rectangular "
                        "NumPy array") from None


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
        sizes = [_positive_number(s, "spacing") for s in np.ravel(spacing)]
        if len(sizes) != ndim:
            raise ValueError(
                f"spacing has {len(sizes)} entries but {ndim} spatial axes are processed; "
                "give one pixel size per spatial axis (Z, Y, X or Y, X)"
            )
        return tuple(value * sizes[-1] / s for s in sizes)
    values = [_positive_number(r, "radius") for r in np.ravel(radius)]
    if len(values) != ndim:
        raise ValueError(
            f"radius has {len(values)} entries but {ndim} spatial axes are processed; "
            f"give one radius or {ndim} (Z, Y, X order)"
        )
    if spacing is not None:
        raise ValueError("give either a per-axis radius or spacing, not both")
    return tuple(values)


def _positive_number(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number of pixels, got {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name}={_plain(value)} is out of range; use a finite number > 0")
    return number


def _plain(value: Any) -> str:
    """``np.float64(0.0)`` shown as ``0.0``: messages name values, not NumPy types."""
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


def check_offset(offset: Any) -> float:
    """``offset`` as a finite float, or a one-line error.

    Examples
    --------
    >>> check_offset(100)
    100.0
    """
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, float, np.number)):
        raise TypeError(f"offset must be a number, got {offset!r}")
    if not np.isfinite(offset):
        raise ValueError(f"offset={offset!r} must be finite")
    return float(offset)


def fill_from_nearest(work: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """Replace missing pixels by their nearest valid neighbour's value.

    Examples
    --------
    >>> import numpy as np
    >>> fill_from_nearest(np.array([[1.0, np.nan, 5.0]]), np.array([[False, True, False]]))
    array([[1., 1., 5.]])
    """
    from scipy import ndimage as ndi  # ~0.15 s to import: only images with NaNs need it

    nearest = ndi.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return np.ascontiguousarray(work[tuple(nearest)])


# --- the block loop ---------------------------------------------------------------------------


def _each_block(plan: Plan, shape: tuple[int, ...], command: bool,
                work: Callable[[tuple], None]) -> Generator[tuple[int, int], None, None]:
    """The block loop: ``work(selector)`` for each block, yielding ``(done, total)``."""
    selectors = list(plan.blocks(shape, command))
    yield 0, len(selectors)
    for done, selector in enumerate(selectors, start=1):
        work(selector)
        yield done, len(selectors)


def estimate_steps(plan: Plan, image: np.ndarray) -> Steps:
    """Estimate the background block by block, yielding ``(done, total)``; returns it.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((3, 16, 16), np.float32)
    >>> steps = estimate_steps(plan(image, "mean", 2, axes="TYX"), image)
    >>> [next(steps) for _ in range(4)]
    [(0, 3), (1, 3), (2, 3), (3, 3)]
    """
    background = np.empty(image.shape, dtype=plan.work_dtype)

    def one(selector: tuple) -> None:
        block = plan.layout.block(image, selector)
        plan.layout.put(background, selector, plan.background_of(block))

    yield from _each_block(plan, image.shape, False, one)
    return background


def subtract_steps(plan: Plan, image: np.ndarray, out_dtype: np.dtype, offset: float = 0.0,
                   return_background: bool = False) -> Steps:
    """Subtract block by block, yielding ``(done, total)``; returns what :func:`subtract` does.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((2, 16, 16), 9, np.uint8)
    >>> steps = subtract_steps(plan(image, "median", 2, axes="TYX"), image, image.dtype)
    >>> next(steps), next(steps), next(steps)
    ((0, 2), (1, 2), (2, 2))
    """
    foreground = np.empty(image.shape, dtype=out_dtype)
    background = np.empty(image.shape, dtype=plan.work_dtype) if return_background else None

    def one(selector: tuple) -> None:
        block = plan.layout.block(image, selector)
        bg = plan.background_of(block)
        plan.layout.put(foreground, selector, plan.foreground_of(block, bg, out_dtype, offset))
        if background is not None:
            plan.layout.put(background, selector, bg)

    def one_command(selector: tuple) -> None:
        fg, bg = _command_block(plan, image[selector], selector, out_dtype, offset,
                                return_background)
        foreground[selector] = fg
        if background is not None:
            background[selector] = bg

    yield from _each_block(plan, image.shape, plan.whole_command,
                           one_command if plan.whole_command else one)
    return (foreground, background) if return_background else foreground


def fill_steps(plan: Plan, image: np.ndarray) -> Steps:
    """``image`` in the working dtype, NaN/inf of each block filled from the nearest valid
    pixel (as :meth:`Plan.background_of` does), block by block; returns it."""
    filled = np.empty(image.shape, dtype=plan.work_dtype)

    def one(selector: tuple) -> None:
        plan.layout.put(filled, selector, plan.filled(plan.layout.block(image, selector)))

    yield from _each_block(plan, image.shape, False, one)
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
        ``cancel.is_set()`` became true: checked before the first block and after each.
    """
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
             cancel: CancelFlag | None = None) -> np.ndarray:
    """The background of ``image`` (shaped as the plan's input), block by block."""
    return run(estimate_steps(plan, image), progress, cancel)


def subtract(plan: Plan, image: np.ndarray, out_dtype: np.dtype, offset: float = 0.0,
             return_background: bool = False, progress: Progress | None = None,
             cancel: CancelFlag | None = None) -> Any:
    """The foreground of ``image`` (and its background), block by block."""
    return run(subtract_steps(plan, image, out_dtype, offset, return_background), progress,
               cancel)

