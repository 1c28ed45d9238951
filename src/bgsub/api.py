"""The public entry points: estimate a background, subtract it safely.

Both plan once (:func:`bgsub.engine.plan`) and run the plan block by block
(:mod:`bgsub.engine`); Dask arrays go to :mod:`bgsub.chunked`, which runs the
same plan chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bgsub import engine
from bgsub._alpha import alpha_axis, with_alpha, without_alpha, zeros_like
from bgsub._axes import resolve_axes
from bgsub._dtypes import in_native_byte_order, output_dtype_for
from bgsub._inputs import check_cancel, check_flag, check_progress
from bgsub.engine import CancelFlag, Progress
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["DEFAULT_METHOD", "DEFAULT_RADIUS", "RECOMMENDED_METHOD", "estimate_background",
           "subtract_background"]

RadiusLike = float | Sequence[float]
#: The earlier name of :data:`bgsub.methods.DEFAULT_METHOD` (the same object).
RECOMMENDED_METHOD = DEFAULT_METHOD


def estimate_background(
    image: Any,
    method: str | None = None,
    radius: RadiusLike | str = DEFAULT_RADIUS,
    *,
    axes: str | None = None,
    channel_axis: int | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    missing: float | None = None,
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
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
        method, :data:`DEFAULT_METHOD` (``"robust"``: the noise-aware
        background through the middle of the noise); name ``"rolling_ball"``
        for a classic rolling ball.
    radius : float, sequence of float or "auto"
        Size of the neighbourhood in pixels (the ball's radius, the footprint's
        radius, the Gaussian's sigma). A sequence gives one radius per spatial
        axis in Z, Y, X order. ``"auto"`` (any case) measures the objects' size on the
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
        ``(512, 512, 2)``, is refused with a message naming the fix. The
        alpha sample of RGBA (the last of four ``S`` samples, or of two: grey
        + alpha) is no image data: it passes through unchanged, with a
        background of 0 (a guessed RGBA is warned of: give
        ``channel_axis=-1`` for four channels).
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
    missing : float, optional
        The value of pixels that are not data -- a stitched or registered
        image's padding, e.g. ``0``. Like NaN pixels they weigh on no
        background (the radius is measured without them too); the foreground
        keeps them as they are. Without it, padding reaching the edge is named
        in a :class:`bgsub.BackgroundWarning` (it pulls the background down).
    progress : callable, optional
        ``progress(done, total)``, called with ``(0, total)`` and then after
        each independent block (plane, volume) is done; in-memory arrays only.
        Anything not callable is a ``TypeError`` before any work.
    cancel : threading.Event, optional
        Anything with ``is_set()`` (else a ``TypeError`` before any work); once
        set, the computation stops before the next block and raises
        :class:`bgsub.engine.Cancelled`. With it,
        planes larger than :data:`bgsub.engine.SPLIT_PIXELS` are computed in
        tiles (each with the halo that makes it exact: the same pixels), so
        that the flag is seen within about a second; a method whose reach
        spans the whole plane (``robust``, ``imagej``) keeps it whole.
        ``progress`` then counts tiles.
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
    >>> bool(np.sqrt(np.mean((background - s.background) ** 2)) < 20)  # noise sd ~30
    True
    """
    progress, cancel = check_progress(progress), check_cancel(cancel)
    image = in_native_byte_order(image)
    settings = _settings(image, channel_axis, method=method, radius=radius, axes=axes,
                         true_3d=true_3d, spacing=spacing, light_background=light_background,
                         presmooth=presmooth, missing=missing, **options)
    alpha = alpha_axis(image, settings)
    if alpha is None:
        return _estimated(image, settings, progress, cancel)
    colour, opacity = without_alpha(image, alpha)
    background = _estimated(colour, settings, progress, cancel)
    nothing = zeros_like(opacity, background.dtype)
    return with_alpha(background, nothing, alpha)


def _estimated(image: Any, settings: dict[str, Any], progress: Progress | None,
               cancel: CancelFlag | None) -> np.ndarray | da.Array:
    """:func:`estimate_background` of ``image`` with the engine's ``settings``."""
    if engine.is_dask_array(image):
        _no_progress_for_dask(progress, cancel)
        from bgsub import chunked

        return chunked.estimate_background(image, **settings)
    plan, prepared = engine.plan_prepared(image, **settings)
    return engine.estimate(plan, np.asarray(image), progress, cancel, _split(cancel), prepared)


def subtract_background(
    image: Any,
    method: str | None = None,
    radius: RadiusLike | str = DEFAULT_RADIUS,
    *,
    axes: str | None = None,
    channel_axis: int | None = None,
    true_3d: bool = False,
    spacing: Sequence[float] | None = None,
    light_background: bool = False,
    presmooth: Any = None,
    missing: float | None = None,
    output_dtype: str | np.dtype = "same",
    offset: float = 0.0,
    return_background: bool = False,
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
    **options: Any,
) -> np.ndarray | da.Array | tuple[np.ndarray | da.Array, np.ndarray | da.Array]:
    """Subtract the estimated background and return the foreground.

    The foreground is ``image - background`` for a dark background and
    ``background - image`` for a light one, so objects are always positive
    on a zero background -- except for ``method="imagej"``, which returns what
    ImageJ leaves in the image: with ``light_background=True`` dark objects on a
    background at the dtype's top (255, 65535), where an ``offset`` clips
    (docs/imagej.md). Integer images come back in their own dtype,
    rounded and clipped to its range -- never the wrap-around of
    ``uint16_image - background``. NaN pixels stay NaN and bring no value of
    their own into the background: each is filled from the nearest valid
    pixel first.

    Parameters
    ----------
    image, method, radius, axes, channel_axis, true_3d, spacing, light_background, presmooth
        As for :func:`estimate_background`; ``missing`` and ``**options`` too.
    progress, cancel
        As for :func:`estimate_background`. A method that reproduces another
        program's whole command (``imagej``) counts a plane with its RGB
        samples as one block.
    output_dtype : {"same", "float", "float32", "float64"}
        ``"same"`` (default) keeps the input dtype (in this machine's byte
        order: big-endian pixels, a FITS file's or an N5 store's, are read as
        the same values in native order first); ``"float"`` returns the
        working float type (float32, or float64 for wide input). Anything
        else, ``None`` included, is a ``ValueError``.
    offset : float
        Added to the foreground before rounding and clipping, to keep
        slightly negative values of integer images (e.g. ``offset=100``).
    return_background : bool
        Also return the background (float). True or False: anything else
        (``"no"``, which is truthy) is a ``TypeError``.

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
    progress, cancel = check_progress(progress), check_cancel(cancel)
    return_background = check_flag(return_background, "return_background")
    image = in_native_byte_order(image)
    settings = _settings(image, channel_axis, method=method, radius=radius, axes=axes,
                         true_3d=true_3d, spacing=spacing, light_background=light_background,
                         presmooth=presmooth, missing=missing, **options)
    subtract = dict(output_dtype=output_dtype, offset=offset,
                    return_background=return_background, progress=progress, cancel=cancel)
    alpha = alpha_axis(image, settings)
    if alpha is None:
        return _subtracted(image, settings, **subtract)
    colour, opacity = without_alpha(image, alpha)
    result = _subtracted(colour, settings, **subtract)
    foreground, background = result if return_background else (result, None)
    # (the alpha sample as it was, in the foreground's dtype: no background under it)
    foreground = with_alpha(foreground, opacity.astype(foreground.dtype), alpha)
    if background is None:
        return foreground
    return foreground, with_alpha(background, zeros_like(opacity, background.dtype), alpha)


def _subtracted(image: Any, settings: dict[str, Any], *, output_dtype: str | np.dtype,
                offset: float, return_background: bool, progress: Progress | None,
                cancel: CancelFlag | None) -> Any:
    """:func:`subtract_background` of ``image`` with the engine's ``settings``."""
    if engine.is_dask_array(image):
        _no_progress_for_dask(progress, cancel)
        from bgsub import chunked

        return chunked.subtract_background(image, output_dtype=output_dtype, offset=offset,
                                           return_background=return_background, **settings)
    plan, prepared = engine.plan_prepared(image, **settings)
    out_dtype = output_dtype_for(plan.dtype, output_dtype)
    return engine.subtract(plan, np.asarray(image), out_dtype, engine.check_offset(offset),
                           return_background, progress, cancel, _split(cancel), prepared)


def _split(cancel: CancelFlag | None) -> int | None:
    """Tiles of this many pixels when the caller may cancel (see ``cancel``), else whole blocks."""
    return None if cancel is None else engine.SPLIT_PIXELS


def _settings(image: Any, channel_axis: int | None, **settings: Any) -> dict[str, Any]:
    """The engine's keywords, ``channel_axis`` folded into ``axes``."""
    if channel_axis is not None:
        settings["axes"] = resolve_axes(settings["axes"], tuple(np.shape(image)), channel_axis)
    return settings


def _no_progress_for_dask(progress: Progress | None, cancel: CancelFlag | None) -> None:
    if progress is not None or cancel is not None:
        raise TypeError("progress and cancel apply to in-memory arrays; a Dask array is "
                        "computed lazily: use dask.diagnostics.ProgressBar when computing it")
