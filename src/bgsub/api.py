"""The public entry points: estimate a background, subtract it safely."""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage as ndi

from bgsub._axes import Layout, parse_axes, resolve_axes
from bgsub._dtypes import cast_result, check_dtype, output_dtype_for, work_dtype
from bgsub._presmooth import Presmooth, parse_presmooth
from bgsub.auto import suggest_radius
from bgsub.methods import Method, get_method

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["RECOMMENDED_METHOD", "estimate_background", "subtract_background"]

RadiusLike = float | Sequence[float]
#: The method used when ``method`` is not given: noise-aware, through the middle of the noise.
RECOMMENDED_METHOD = "robust"
AUTO = "auto"

#: A radius larger than the image is accepted while its neighbourhood (2r+1 pixels per
#: spatial axis) holds at most this many pixels; beyond, footprints would need gigabytes.
MAX_NEIGHBOURHOOD = 2**24
#: Largest reach (pixels along one axis) allowed beyond the image's own size.
MAX_REACH = 2**20


def estimate_background(
    image: Any,
    method: str | None = None,
    radius: RadiusLike | str = 50,
    *,
    axes: str | None = None,
    channel_axis: int | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    **options: Any,
) -> np.ndarray | da.Array:
    """Estimate the smooth background of an image.

    Parameters
    ----------
    image : array_like or dask.array.Array
        Integer or float image, 2D or with extra axes (see ``axes``). A Dask
        array is processed lazily, chunk by chunk with overlapping halos, and
        gives a Dask array equal to the in-memory result (see
        :mod:`bgsub.chunked` and ``docs/dask.md``).
    method : str, optional
        A registered method (see :func:`bgsub.list_methods`): ``"robust"``
        (alias ``"noise_aware"``), ``"rolling_ball"``, ``"paraboloid"``,
        ``"tophat"`` (alias ``"opening"``), ``"median"``, ``"mean"``,
        ``"gaussian"`` or ``"dog"``. ``None`` (default) is the recommended
        method, :data:`RECOMMENDED_METHOD` (``"robust"``: the noise-aware
        background through the middle of the noise); name ``"rolling_ball"``
        for a classic rolling ball.
    radius : float, sequence of float or "auto"
        Size of the neighbourhood in pixels (the ball's radius, the footprint's
        radius, the Gaussian's sigma). A sequence gives one radius per spatial
        axis in Z, Y, X order. ``"auto"`` measures the objects' size on the
        whole image and takes three times their typical radius
        (:func:`bgsub.auto.suggest_radius`); one radius, measured in the Y-X
        plane, serves every plane of a stack so the planes stay comparable
        (with ``true_3d``, scaled to Z by ``spacing`` when given).
    axes : str, optional
        One letter per array axis, e.g. ``"TCZYX"``; ``Y`` and ``X`` are the
        image plane, ``Z`` the optional depth, any other letter an axis
        processed independently (time, channel, RGB samples ``S``). Guessed
        when omitted: ``"YX"``, ``"ZYX"``, or ``"YXS"`` for a trailing axis of
        length 3 or 4; a shape whose guess is likely wrong, such as
        ``(512, 512, 2)``, is refused with a message naming the fix.
    channel_axis : int, optional
        The axis holding channels, as in scikit-image (e.g. ``-1`` for
        ``(Y, X, C)``): each channel is processed on its own. Shorthand for a
        ``C`` in ``axes``.
    true_3d : bool
        Use a true 3D neighbourhood over Z, Y, X instead of processing each Z
        plane on its own (the default, right for anisotropic stacks).
    spacing : sequence of float, optional
        Physical pixel size per spatial axis (Z, Y, X or Y, X). A scalar
        ``radius`` is then in X pixels and is scaled to the other axes.
    light_background : bool
        The background is bright and the objects dark (bright field). The
        background is then estimated from above.
    presmooth : str or tuple, optional
        Smooth the image before estimating: ``"mean:1"``, ``"median:1"``
        (box radius) or ``"gaussian:1"`` (sigma). The foreground is still
        computed from the unsmoothed image.
    **options
        The method's own options (see ``bgsub.get_method(name).parameters``).

    Returns
    -------
    ndarray or dask.array.Array
        The background, float32 (float64 for float64 and 32/64-bit integer
        input), the shape of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> import bgsub
    >>> image = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint16)
    >>> image[30:34, 30:34] += 500
    >>> background = bgsub.estimate_background(image, "tophat", radius=5)
    >>> background.dtype, float(background[31, 31])
    (dtype('float32'), 64.0)

    The recommended setting: the noise-aware method and an automatic radius.

    >>> from bgsub.data import synthetic
    >>> s = synthetic((128, 128), object_radius=5, seed=0)
    >>> background = bgsub.estimate_background(s.image, radius="auto")
    >>> bool(np.sqrt(np.mean((background - s.background) ** 2)) < 8)  # noise sd ~30
    True
    """
    if channel_axis is not None:
        axes = resolve_axes(axes, tuple(np.shape(image)), channel_axis)
    if _is_dask_array(image):
        from bgsub import chunked

        return chunked.estimate_background(
            image, method, radius, axes=axes, true_3d=true_3d, spacing=spacing,
            light_background=light_background, presmooth=presmooth, **options)
    plan = _plan(image, method, radius, axes, true_3d, spacing, light_background, presmooth,
                 options)
    background = np.empty(plan.image.shape, dtype=plan.work_dtype)
    for selector in plan.layout.planes(plan.image.shape):
        block = plan.layout.block(plan.image, selector)
        plan.layout.put(background, selector, plan.background_of(block))
    return background


def subtract_background(
    image: Any,
    method: str | None = None,
    radius: RadiusLike | str = 50,
    *,
    axes: str | None = None,
    channel_axis: int | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    output_dtype: str | np.dtype = "same",
    offset: float = 0.0,
    return_background: bool = False,
    **options: Any,
) -> np.ndarray | da.Array | tuple[np.ndarray | da.Array, np.ndarray | da.Array]:
    """Subtract the estimated background and return the foreground.

    The foreground is ``image - background`` for a dark background and
    ``background - image`` for a light one, so objects are always positive
    on a zero background. Integer images come back in their own dtype,
    rounded and clipped to its range -- never the wrap-around of
    ``uint16_image - background``. NaN pixels stay NaN and do not affect the
    background around them.

    Parameters
    ----------
    image, method, radius, axes, channel_axis, true_3d, spacing, light_background, presmooth
        As for :func:`estimate_background`; ``**options`` too.
    output_dtype : {"same", "float", "float32", "float64"}
        ``"same"`` (default) keeps the input dtype; ``"float"`` returns the
        working float type (float32, or float64 for wide input).
    offset : float
        Added to the foreground before rounding and clipping, to keep
        slightly negative values of integer images (e.g. ``offset=100``).
    return_background : bool
        Also return the background (float).

    Returns
    -------
    foreground : ndarray or dask.array.Array
        Same shape as ``image`` (a Dask array, with its chunks, for Dask input).
    background : ndarray or dask.array.Array
        Only with ``return_background=True``.

    Examples
    --------
    >>> import numpy as np
    >>> import bgsub
    >>> image = np.full((64, 64), 1000, dtype=np.uint16)
    >>> image[20:24, 20:24] = 1500
    >>> foreground = bgsub.subtract_background(image, "rolling_ball", radius=10)
    >>> foreground.dtype, int(foreground.max()), int(foreground.min())
    (dtype('uint16'), 500, 0)

    Recommended: ``bgsub.subtract_background(image, radius="auto")`` -- the
    noise-aware method, its radius measured from the objects.
    """
    if channel_axis is not None:
        axes = resolve_axes(axes, tuple(np.shape(image)), channel_axis)
    if _is_dask_array(image):
        from bgsub import chunked

        return chunked.subtract_background(
            image, method, radius, axes=axes, true_3d=true_3d, spacing=spacing,
            light_background=light_background, presmooth=presmooth, output_dtype=output_dtype,
            offset=offset, return_background=return_background, **options)
    plan = _plan(image, method, radius, axes, true_3d, spacing, light_background, presmooth,
                 options)
    out_dtype = output_dtype_for(plan.image.dtype, output_dtype)
    offset = _check_offset(offset)
    if plan.method.subtract is not None:
        return _subtract_whole(plan, out_dtype, offset, return_background)
    foreground = np.empty(plan.image.shape, dtype=out_dtype)
    background = np.empty(plan.image.shape, dtype=plan.work_dtype) if return_background else None
    for selector in plan.layout.planes(plan.image.shape):
        block = plan.layout.block(plan.image, selector)
        bg = plan.background_of(block)
        values = block.astype(plan.work_dtype)
        fg = np.subtract(bg, values, out=values) if light_background else np.subtract(
            values, bg, out=values)
        plan.layout.put(foreground, selector, cast_result(fg, out_dtype, offset))
        if background is not None:
            plan.layout.put(background, selector, bg)
    if background is not None:
        return foreground, background
    return foreground


def _subtract_whole(
    plan: _Plan, out_dtype: np.dtype, offset: float, return_background: bool
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A method that reproduces another program's whole command (see ``Method.subtract``)."""
    result = plan.method.subtract(plan.image, plan.layout, plan.radius, plan.light_background,
                                  **plan.options)
    foreground = cast_result(result.astype(np.float64), out_dtype, offset) if (
        offset or out_dtype != result.dtype) else result
    if not return_background:
        return foreground
    options = dict(plan.options, create_background=True)
    background = plan.method.subtract(plan.image, plan.layout, plan.radius,
                                      plan.light_background, **options)
    return foreground, background.astype(plan.work_dtype)


class _Plan:
    """Everything validated once, applied to each independent block."""

    def __init__(
        self,
        image: np.ndarray,
        method: Method,
        layout: Layout,
        radius: tuple[float, ...],
        light_background: bool,
        presmooth: Presmooth | None,
        options: dict[str, Any],
    ) -> None:
        self.image = image
        self.method = method
        self.layout = layout
        self.radius = radius
        self.light_background = light_background
        self.presmooth = presmooth
        self.options = options
        self.work_dtype = work_dtype(image.dtype)

    def detached(self) -> _Plan:
        """A copy without the image, small enough to send to every Dask task."""
        plan = copy.copy(self)
        plan.image = None
        return plan

    def background_of(self, block: np.ndarray) -> np.ndarray:
        """Background of one Z, Y, X-ordered block, in the working float dtype."""
        work = np.array(block, dtype=self.work_dtype, order="C")
        invalid = None
        if np.issubdtype(block.dtype, np.floating):
            invalid = ~np.isfinite(work)
            if invalid.all():
                return np.full(work.shape, np.nan, dtype=self.work_dtype)
            if invalid.any():
                work = _fill_from_nearest(work, invalid)
        if self.light_background:
            np.negative(work, out=work)
        if self.presmooth is not None:
            scale = tuple(r / self.radius[-1] for r in self.radius)
            work = self.presmooth.apply(work, scale)
        background = self.method.estimate(np.ascontiguousarray(work), self.radius,
                                          **self.options)
        background = np.asarray(background, dtype=self.work_dtype)
        if self.light_background:
            np.negative(background, out=background)
        return background


def _is_dask_array(image: Any) -> bool:
    """Whether ``image`` is a Dask array, without importing Dask when it is not loaded."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(image, dask_array.Array)


def _plan(
    image: Any,
    method: str | None,
    radius: RadiusLike | str,
    axes: str | None,
    true_3d: bool,
    spacing: Sequence[float] | None,
    light_background: bool,
    presmooth: Any,
    options: dict[str, Any],
) -> _Plan:
    array = _check_image(image)
    chosen = get_method(RECOMMENDED_METHOD if method is None else method)
    layout = parse_axes(axes, array.shape, bool(true_3d))
    if layout.ndim_spatial == 3 and not chosen.supports_3d:
        raise ValueError(f"method {chosen.name!r} has no true 3D mode; use true_3d=False")
    for name, flag in (("light_background", light_background), ("true_3d", true_3d)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if isinstance(radius, str) and radius == AUTO:
        radius = suggest_radius(array, layout.axes, light_background=bool(light_background)).radius
    radii = _resolve_radius(radius, layout.ndim_spatial, spacing)
    extent = tuple(array.shape[ax] for ax in layout.spatial)
    _check_radius_fits(radii, extent)
    resolved = chosen.resolve_options(options)
    _check_options_reach(chosen, radii, resolved, extent)
    return _Plan(array, chosen, layout, radii, bool(light_background),
                 parse_presmooth(presmooth), resolved)


def _check_image(image: Any) -> np.ndarray:
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(
            f"image must be an array, got {type(image).__name__}; "
            "read files with bgsub.io.read_image(path)"
        )
    array = image if _is_dask_array(image) else _as_array(image)
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


def _check_options_reach(
    method: Method, radius: tuple[float, ...], options: dict[str, Any], extent: tuple[int, ...]
) -> None:
    """Refuse options (e.g. ``sigma=1e9``) whose reach would be huge to allocate.

    The method's halo is how far a pixel's background looks; beyond the image
    and beyond :data:`MAX_REACH` pixels it only costs memory (a Gaussian's
    kernel of ``8 * sigma`` taps) without changing the result meaningfully.
    """
    reach = method.halo(radius, options)
    if any(h > max(n, MAX_REACH) for h, n in zip(reach, extent, strict=True)):
        given = ", ".join(f"{k}={v!r}" for k, v in options.items() if v is not None)
        raise ValueError(
            f"method {method.name!r} with {given or 'this radius'} reaches {max(reach)} pixels, "
            f"beyond the image ({'x'.join(map(str, extent))}) and too large to compute; "
            "use values no larger than the image"
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


def _check_offset(offset: Any) -> float:
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, float, np.number)):
        raise TypeError(f"offset must be a number, got {offset!r}")
    if not np.isfinite(offset):
        raise ValueError(f"offset={offset!r} must be finite")
    return float(offset)


def _fill_from_nearest(work: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """Replace missing pixels by their nearest valid neighbour's value."""
    nearest = ndi.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return np.ascontiguousarray(work[tuple(nearest)])
