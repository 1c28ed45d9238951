"""Figures to choose settings: raw | background | foreground, and parameter sweeps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgsub._alpha import alpha_axis, colour_samples, without_alpha
from bgsub._warnings import collected, warn
from bgsub.methods import DEFAULT_METHOD

#: The rows of :func:`sweep` (and ``bgsub sweep``) when none are named: the default
#: method, then the classic ones.
SWEEP_METHODS = tuple(dict.fromkeys((DEFAULT_METHOD, "rolling_ball", "tophat", "median")))

__all__ = ["SweepResult", "compare", "sweep", "to_plane"]

# lengths matplotlib-scalebar's SI dimension knows
_LENGTH_UNITS = ("km", "m", "cm", "mm", "µm", "um", "nm", "pm")


def to_plane(data: np.ndarray, *, plane: int | None = None, project: bool = False,
             axes: str | None = None) -> np.ndarray:
    """Reduce an image to one 2D plane for display, or one per channel.

    Parameters
    ----------
    data : array-like
        A 2D image or a stack whose last two axes are Y, X (an RGB image is
        shown as its mean over R, G, B; the alpha sample of RGBA or, with
        ``axes``, of grey + alpha is left out). A Dask array stays lazy until
        only the plane shown (or the projection) is computed.
    plane : int, optional
        Index into the flattened leading axes (other than ``C``); the middle
        plane by default.
    project : bool
        Show the maximum projection (NaNs ignored) instead: over Z when
        ``axes`` has one (at the middle time point), else over every
        leading axis. Channels are never projected together.
    axes : str, optional
        One letter per axis of ``data`` (e.g. ``"TCZYX"``): Y and X are
        taken from it, and a ``C`` axis of more than one channel gives one
        plane per channel. Without it the last two axes are Y, X and the
        others are a stack of planes.

    Returns
    -------
    ndarray
        ``(Y, X)``, or ``(C, Y, X)`` when ``axes`` has more than one channel.

    Examples
    --------
    >>> to_plane(np.zeros((5, 8, 9)), project=True).shape
    (8, 9)
    >>> to_plane(np.zeros((8, 9, 5)), axes="YXZ", plane=4).shape
    (8, 9)
    >>> to_plane(np.zeros((3, 2, 5, 8, 9)), axes="TCZYX", project=True).shape
    (2, 8, 9)
    """
    lazy = _is_dask_array(data)  # a Dask array: only the plane shown is computed
    data = data if lazy else np.asarray(data)
    if axes is None:
        if data.ndim == 3 and data.shape[-1] in (3, 4) and min(data.shape[:2]) > 4:
            return data[..., :3].astype(np.float64).mean(axis=-1)
        return _one_plane(data, plane, project, lazy, samples=False)
    axes = axes.upper()
    if len(axes) != data.ndim or "Y" not in axes or "X" not in axes:
        raise ValueError(f"axes {axes!r} do not fit an image of shape {data.shape}; "
                         "give one letter per axis, with Y and X")
    last = [a for a in ("Z", "Y", "X", "S") if a in axes] if project else [
        a for a in ("Y", "X", "S") if a in axes]
    first = ["C"] if "C" in axes else []
    middle = [a for a in axes if a not in last and a not in first]
    data = np.transpose(data, [axes.index(a) for a in first + middle + last])
    if project and "Z" in axes and middle:  # other axes (T, ...): their middle entry
        data = data[(slice(None),) * len(first) + tuple(data.shape[len(first) + i] // 2
                                                       for i in range(len(middle)))]
    samples = "S" in axes
    channels = [data[c] for c in range(data.shape[0])] if first else [data]
    planes = [_one_plane(c, plane, project, lazy, samples) for c in channels]
    return planes[0] if len(planes) == 1 else np.stack(planes)


def _one_plane(data: Any, plane: int | None, project: bool, lazy: bool, samples: bool
               ) -> np.ndarray:
    """A stack's plane ``plane`` (middle by default) or its maximum projection."""
    spatial = 3 if samples else 2
    if data.ndim > spatial:
        flat = data.reshape(-1, *data.shape[-spatial:])
        if project:
            data = _max_ignoring_nan(flat) if lazy else np.fmax.reduce(flat, axis=0)
        else:
            data = flat[_plane_index(plane, flat.shape[0])]
    elif plane is not None and not project:  # (one plane: plane 7 of it was shown as 0)
        _plane_index(plane, 1)
    if samples:  # (the mean of the colour samples: an alpha sample is no image data)
        data = colour_samples(data).astype(np.float64).mean(axis=-1)
    return np.asarray(data)


def _plane_index(plane: int | None, count: int) -> int:
    """``plane`` (the middle one by default) of ``count`` planes, checked.

    Examples
    --------
    >>> _plane_index(None, 5), _plane_index(-1, 5)
    (2, -1)
    >>> _plane_index(7, 1)
    Traceback (most recent call last):
    ...
    ValueError: plane 7 does not exist (the image has 1 plane); use 0
    """
    index = count // 2 if plane is None else int(plane)
    if not -count <= index < count:
        planes, use = ("1 plane", "0") if count == 1 else (f"{count} planes",
                                                          f"0 to {count - 1}")
        raise ValueError(f"plane {index} does not exist (the image has {planes}); use {use}")
    return index


def _is_dask_array(data: Any) -> bool:
    from bgsub._arrays import is_dask_array

    return is_dask_array(data)


def _max_ignoring_nan(flat: Any) -> Any:
    """``np.fmax.reduce(flat, axis=0)`` of a Dask array, lazily."""
    import dask.array as da

    return da.reduction(flat, np.fmax.reduce, np.fmax.reduce, axis=0, dtype=flat.dtype)


def compare(
    image: np.ndarray,
    background: np.ndarray,
    foreground: np.ndarray,
    *,
    title: str = "",
    path: str | Path | None = None,
    profile_row: int | None = None,
    pixel_size: float | None = None,
    unit: str = "µm",
    plane: int | None = None,
    project: bool = False,
    axes: str | None = None,
    channel_names: Sequence[str] | None = None,
) -> Any:
    """Figure of raw, background and foreground with a line profile across them.

    Raw and background share one contrast range so the background can be
    read against the raw image; the foreground has its own. An orange line
    marks the row of the profile drawn below, where the three curves show
    whether the background runs under the objects and through the noise.

    Parameters
    ----------
    image, background, foreground : ndarray
        Same-shaped 2D images or stacks (see ``plane`` and ``project``); other
        shapes are a ``ValueError`` naming them.
    title : str
        Figure title (e.g. the method and radius).
    path : str or Path, optional
        Where to save a PNG (or a PDF or SVG; a name of another image format bgsub
        reads, ``.tif`` or ``.jpg``, is a ``ValueError``: see
        :func:`bgsub.io.write_figure`); the figure is returned either way.
    profile_row : int, optional
        Row of the line profile; the middle row by default.
    pixel_size : float, optional
        Size of a pixel in ``unit``; adds a scale bar when given.
    unit : str
        Unit of ``pixel_size`` (a length such as ``"µm"``; no bar otherwise).
    plane : int, optional
        For stacks: the plane shown (index into the flattened leading axes).
    project : bool
        For stacks: show maximum projections instead of one plane.
    axes : str, optional
        Axes of the arrays, e.g. ``"CZYX"`` (see :func:`to_plane`); by default
        the last two are Y, X. With more than one channel, each channel gets
        a row of panels and its own profile: channels are never mixed.
    channel_names : sequence of str, optional
        Names of the channels' rows (default ``channel 0``, ``channel 1``, ...).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((32, 32))
    >>> fig = compare(img, img * 0, img, pixel_size=0.65)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['raw', 'background', 'foreground']
    """
    from matplotlib.figure import Figure

    _check_figure_path(path)
    shapes = [np.shape(a) for a in (image, background, foreground)]
    if len(set(shapes)) > 1:
        raise ValueError(f"image {shapes[0]}, background {shapes[1]} and foreground "
                         f"{shapes[2]} differ in shape; pass the background and foreground "
                         "computed from this image")
    image, background, foreground = (to_plane(a, plane=plane, project=project, axes=axes)
                                     for a in (image, background, foreground))
    if image.ndim == 2:
        image, background, foreground = image[None], background[None], foreground[None]
        names: Sequence[str | None] = [None]
    else:
        names = list(channel_names or [f"channel {c}" for c in range(image.shape[0])])
    count = image.shape[0]
    row = image.shape[1] // 2 if profile_row is None else int(profile_row)
    fig = Figure(figsize=(13, 7.5 if count == 1 else 2 + 4.2 * count), layout="constrained")
    grid = fig.add_gridspec(2 * count, 3, height_ratios=(3, 1.4) * count)
    for c in range(count):
        _channel_rows(fig, grid, 2 * c, (image[c], background[c], foreground[c]), row,
                      names[c], pixel_size, unit)
    if title:
        fig.suptitle(title)
    if path is not None:
        from bgsub import io  # (tifffile and imagecodecs: not on `bgsub --help`)

        io.write_figure(fig, path, dpi=110)
    return fig


def _check_figure_path(path: str | Path | None) -> None:
    """Refuse, before drawing, a ``path`` the figure may not be written at
    (:func:`bgsub.io.check_figure_name`: a ``.tif`` or ``.jpg`` figure would carry no mark)."""
    if path is not None:
        from bgsub import io  # (tifffile and imagecodecs: not on `bgsub --help`)

        io.check_figure_name(path)


def _channel_rows(fig: Any, grid: Any, top: int, planes: tuple[np.ndarray, ...], row: int,
                  name: str | None, pixel_size: float | None, unit: str) -> None:
    """Raw, background and foreground of one channel, and their profile along ``row``."""
    image, background, foreground = planes
    shared = _contrast(image)
    panels = (("raw", image, shared), ("background", background, shared),
              ("foreground", foreground, _contrast(foreground)))
    for col, (label, data, (vmin, vmax)) in enumerate(panels):
        ax = fig.add_subplot(grid[top, col])
        ax.imshow(data, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.axhline(row, color="tab:orange", lw=0.8, alpha=0.7)
        ax.set_title(label if name is None else f"{name}: {label}")
        ax.set_axis_off()
        if pixel_size:
            _scale_bar(ax, pixel_size, unit)
    ax = fig.add_subplot(grid[top + 1, :])
    ax.plot(image[row], lw=0.8, color="0.4", label="raw")
    ax.plot(background[row], lw=1.6, color="tab:blue", label="background")
    ax.plot(foreground[row], lw=0.8, color="tab:green", label="foreground")
    ax.set_xlabel(f"x (pixels), row {row}")
    ax.set_ylabel("intensity" if name is None else f"{name} intensity")
    ax.legend(loc="upper right", ncols=3, fontsize="small")


@dataclass
class SweepResult:
    """What :func:`sweep` computed.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The montage: one row per method (or per minimum size), one column per radius.
    rows, columns : list of str
        Labels of the montage's rows and columns.
    scores : list of dict
        One record per tile: method, radius, options, and quality scores.
    """

    figure: Any
    rows: list[str]
    columns: list[str]
    scores: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> str:
        """The scores as a Markdown table."""
        keys = [k for k in self.scores[0] if k not in ("method", "radius", "options")]
        lines = ["| method | radius | options | " + " | ".join(keys) + " |",
                 "|---" * (3 + len(keys)) + "|"]
        for s in self.scores:
            opts = ", ".join(f"{k}={v}" for k, v in s["options"].items()) or "-"
            vals = " | ".join(_fmt(s[k]) for k in keys)
            lines.append(f"| {s['method']} | {s['radius']:g} | {opts} | {vals} |")
        return "\n".join(lines)


def sweep(
    image: np.ndarray,
    methods: Sequence[str] = SWEEP_METHODS,
    radii: Sequence[float] = (10, 20, 40, 80),
    *,
    show: str = "foreground",
    min_sizes: Sequence[float] | None = None,
    max_sizes: Sequence[float] | None = None,
    score: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
    path: str | Path | None = None,
    plane: int | None = None,
    project: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    **kwargs: Any,
) -> SweepResult:
    """Montage of foregrounds (or backgrounds) over methods x radii, with scores.

    Parameters
    ----------
    image : ndarray
        The image (a stack is shown by one plane or its projection, an image of
        several channels, named by a ``C`` in ``axes``, by its middle channel;
        the alpha sample of grey + alpha or RGBA is neither computed nor
        scored, as the API passes it through).
    methods : sequence of str
        Methods to compare, one montage row each.
    radii : sequence of float
        Radii to compare, one montage column each.
    show : {"foreground", "background"}
        What each tile shows.
    min_sizes, max_sizes : sequence of float, optional
        Sweep the two sizes of the min-then-max top-hat instead: rows are
        erosion radii, columns dilation radii (``methods``/``radii`` unused),
        like a grid of ``minimum_filter`` then ``maximum_filter`` sizes.
    score : callable, optional
        ``score(image, background) -> dict`` of quality numbers for each tile;
        by default :func:`bgsub.auto.quality` with the ``axes``,
        ``light_background`` and ``missing`` given in ``kwargs`` (the settings
        of the backgrounds it scores), each of its warnings shown once per sweep.
    path : str or Path, optional
        Where to save the PNG (as for :func:`compare`).
    plane, project
        Which plane of a stack is shown (see :func:`compare`).
    progress : callable, optional
        ``progress(done, total)``: called with ``(0, total)``, then after each
        tile (``total`` tiles in all), as :func:`bgsub.subtract_background` does.
    **kwargs
        Passed to :func:`bgsub.subtract_background` (e.g. ``light_background``).

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).poisson(50, (48, 48)).astype(np.uint16)
    >>> result = sweep(img, ["tophat", "median"], [3, 6])
    >>> result.rows, result.columns
    (['tophat', 'median'], ['r=3', 'r=6'])
    """
    from matplotlib.figure import Figure

    from bgsub.api import subtract_background

    if show not in ("foreground", "background"):
        raise ValueError(f"show={show!r} is not accepted; use 'foreground' or 'background'")
    _check_figure_path(path)
    image, kwargs = _colour_image(image, kwargs)
    if score is None:
        score = _default_score(axes=kwargs.get("axes"),
                               light_background=bool(kwargs.get("light_background", False)),
                               missing=kwargs.get("missing"))
    cases = _sweep_cases(methods, radii, min_sizes, max_sizes)
    rows = list(dict.fromkeys(c[0] for c in cases))
    columns = list(dict.fromkeys(c[1] for c in cases))
    fig = Figure(figsize=(2.6 * len(columns) + 0.6, 2.6 * len(rows) + 0.6),
                 layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), len(columns), squeeze=False))
    result = SweepResult(fig, rows, columns)
    where = {"plane": plane, "project": project, "axes": kwargs.get("axes")}
    raw_plane = _cell_plane(image, **where)
    if progress is not None:
        progress(0, len(cases))
    for done, (row_label, col_label, method, radius, options) in enumerate(cases, start=1):
        fg, bg = subtract_background(image, method, radius, return_background=True,
                                     output_dtype="float", **options, **kwargs)
        shown = _cell_plane(fg if show == "foreground" else bg, **where)
        ax = axes[rows.index(row_label), columns.index(col_label)]
        vmin, vmax = _contrast(shown if show == "foreground" else raw_plane)
        ax.imshow(shown, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{row_label}, {col_label}", fontsize="small")
        ax.set_axis_off()
        record = {"method": method, "radius": float(radius), "options": dict(options)}
        record.update(score(np.asarray(image), bg))
        result.scores.append(record)
        if progress is not None:
            progress(done, len(cases))
    fig.suptitle(f"{show} over {'min x max sizes' if min_sizes else 'methods x radii'}")
    if path is not None:
        from bgsub import io

        io.write_figure(fig, path, dpi=100)
    return result


def _colour_image(image: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``image`` without the alpha sample of grey + alpha or RGBA, and ``kwargs`` with the
    axes that tell it (the API passes an alpha through untouched: its background is 0, and a
    score of it would be averaged into the image's)."""
    settings = dict(kwargs)
    axis = alpha_axis(image, settings)
    if axis is None:
        return image, kwargs
    return without_alpha(image, axis)[0], settings


def _cell_plane(data: Any, *, plane: int | None, project: bool, axes: str | None
                ) -> np.ndarray:
    """The plane a montage cell shows (:func:`to_plane`): of several channels, the middle
    one, as ``bgsub sweep`` reads a file's middle entry of every axis but Y and X."""
    shown = to_plane(data, plane=plane, project=project, axes=axes)
    return shown[shown.shape[0] // 2] if shown.ndim == 3 else shown


def _sweep_cases(methods, radii, min_sizes, max_sizes) -> list[tuple]:
    if min_sizes is not None or max_sizes is not None:
        mins = list(min_sizes or max_sizes)
        maxs = list(max_sizes or min_sizes)
        return [(f"min={a:g}", f"max={b:g}", "tophat", a, {"dilation_radius": b})
                for a in mins for b in maxs]
    if not methods or not radii:
        raise ValueError("sweep needs at least one method and one radius")
    return [(m, f"r={r:g}", m, r, {}) for m in methods for r in radii]


def _default_score(*, axes: str | None = None, light_background: bool = False,
                   missing: float | None = None
                   ) -> Callable[[np.ndarray, np.ndarray], dict[str, float]]:
    """:func:`bgsub.auto.quality` for the tiles of one sweep (one image), with the sweep's
    own ``axes``, ``light_background`` and ``missing`` (the settings of the backgrounds it
    scores): the objects' size, which it would measure again for every tile, is measured
    once, and each of its warnings is shown once, not once per tile."""
    try:
        from bgsub.auto import quality, suggest_radius
    except ImportError:  # pragma: no cover - bgsub.auto is part of the package
        return _residual_spread
    measured: list[float] = []
    shown: set[str] = set()

    def score(image: np.ndarray, background: np.ndarray) -> dict[str, float]:
        # (gathered, not caught with warnings.catch_warnings, whose filters are the whole
        # process's: a sweep run beside other threads must not take or silence theirs)
        with collected() as messages:
            if not measured:
                measured.append(suggest_radius(image, axes, light_background=light_background,
                                               missing=missing).object_radius)
            result = quality(image, background, axes=axes, light_background=light_background,
                             object_radius=measured[0], missing=missing)
        for message in messages:
            if message not in shown:
                shown.add(message)
                warn(message)
        return result

    return score


def _residual_spread(image: np.ndarray, background: np.ndarray) -> dict[str, float]:
    residual = np.asarray(image, dtype=np.float64) - background
    return {"residual_median": float(np.nanmedian(residual))}


def _contrast(data: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(data, (0.5, 99.8))
    return float(low), float(high if high > low else low + 1)


def _scale_bar(ax: Any, pixel_size: float, unit: str) -> None:
    """A matplotlib-scalebar scale bar; none when ``unit`` is not a length it knows."""
    from matplotlib_scalebar.scalebar import ScaleBar

    if unit not in _LENGTH_UNITS:
        return
    ax.add_artist(ScaleBar(pixel_size, units=unit, location="lower right", color="white",
                           box_alpha=0, scale_loc="top"))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
