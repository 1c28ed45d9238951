"""The widget's settings as plain data: keyword arguments, Python and CLI text.

Nothing here imports Qt or napari, so it is tested with the core suite.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bgsub
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS

__all__ = ["DEFAULT_METHOD", "DEFAULT_RADIUS", "PRESMOOTH_CHOICES", "Settings", "array_axes",
           "array_layout", "guess_channel_axis", "layer_axes", "spacing_refusal",
           "spatial_spacing"]


PRESMOOTH_CHOICES = ("none", "mean", "median", "gaussian")

# Letters for the leading, independently processed axes of an nD layer ("C" marks channels).
_OTHER_AXES = "TQABDEFGHIJKLMNOPRUVW"
# Axis labels (lower case) that name a channel axis.
_CHANNEL_LABELS = frozenset({"c", "ch", "channel", "channels"})


@dataclass(frozen=True)
class Settings:
    """Everything that decides a background subtraction, as the widget shows it.

    Attributes
    ----------
    method : str
        A registered method name (see :func:`bgsub.list_methods`).
    radius : float
        Radius in pixels.
    light_background : bool
        Bright background, dark objects.
    presmooth : str
        ``"none"``, ``"mean"``, ``"median"`` or ``"gaussian"``.
    presmooth_size : float
        Box radius (mean, median) or sigma (gaussian) of the pre-smoothing.
    true_3d : bool
        A 3D neighbourhood over Z, Y, X instead of one Z plane at a time.
    options : dict
        The method's own options that differ from their defaults.
    axes : str, optional
        One letter per array axis; None lets bgsub guess.
    spacing : tuple of float, optional
        Pixel size per spatial axis (Z, Y, X or Y, X); None for square pixels.
    missing : float, optional
        Pixels of this value are not data (a mosaic's padding).
    layout : str, optional
        All the array's axes as the widget reads them (``"ZYX"``, ``"YXS"``; see
        :func:`array_layout`), also where ``axes`` is None because bgsub guesses the
        same: the command line gets them, since ``bgsub run`` reads a file's own axes
        (a Z stack napari saves reads as ``QYX`` there). None for a plane.
    """

    method: str = DEFAULT_METHOD
    radius: float = DEFAULT_RADIUS
    light_background: bool = False
    presmooth: str = "none"
    presmooth_size: float = 1.0
    true_3d: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    axes: str | None = None
    spacing: tuple[float, ...] | None = None
    missing: float | None = None
    layout: str | None = None

    def presmooth_text(self) -> str | None:
        """The ``presmooth=`` argument: ``"gaussian:1"`` or None."""
        if self.presmooth == "none":
            return None
        return f"{self.presmooth}:{_number(self.presmooth_size)}"

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`bgsub.subtract_background`, defaults left out.

        Examples
        --------
        >>> Settings("tophat", 25, light_background=True).kwargs()
        {'method': 'tophat', 'radius': 25.0, 'light_background': True}
        """
        kwargs: dict[str, Any] = {"method": self.method, "radius": float(self.radius)}
        optional = {
            "axes": self.axes,
            "true_3d": self.true_3d or None,
            "spacing": self.spacing,
            "light_background": self.light_background or None,
            "presmooth": self.presmooth_text(),
            "missing": self.missing,
        }
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        kwargs.update(self.options)
        return kwargs

    def as_python(self, image: str = "image") -> str:
        """The :func:`bgsub.subtract_background` call for these settings.

        Examples
        --------
        >>> Settings("tophat", 25, light_background=True).as_python()
        'bgsub.subtract_background(image, method="tophat", radius=25, light_background=True)'
        """
        arguments = [image] + [f"{key}={_literal(value)}" for key, value in self.kwargs().items()]
        return f"bgsub.subtract_background({', '.join(arguments)})"

    def as_cli(self, inputs: str = "INPUT", outdir: str = "OUTDIR") -> str:
        """The ``bgsub run`` command line for these settings.

        Examples
        --------
        >>> Settings("tophat", 25, light_background=True).as_cli()
        'bgsub run INPUT -o OUTDIR --method tophat --radius 25 --light'
        """
        words = ["bgsub", "run", inputs, "-o", outdir, "--method", self.method,
                 "--radius", _number(self.radius)]
        if self.light_background:
            words.append("--light")
        if self.presmooth_text() is not None:
            words += ["--presmooth", self.presmooth_text()]
        if self.true_3d:
            words.append("--3d")
        if (self.axes or self.layout) is not None:
            words += ["--axes", self.axes or self.layout]
        if self.spacing is not None:
            words += ["--spacing", ",".join(_number(s) for s in self.spacing)]
        if self.missing is not None:
            words += ["--missing", _number(self.missing)]
        for key, value in self.options.items():
            words += ["-O", f"{key}={_cli_value(value)}"]
        return shlex.join(words)

    def metadata(self) -> dict[str, Any]:
        """A JSON-friendly record of the settings, for ``layer.metadata["bgsub"]``."""
        return {
            "bgsub_version": bgsub.__version__,
            "function": "bgsub.subtract_background",
            "kwargs": {key: list(value) if isinstance(value, tuple) else value
                       for key, value in self.kwargs().items()},
            "python": self.as_python(),
            "cli": self.as_cli(),
        }


def spacing_refusal(settings: Settings) -> str | None:
    """Why the method cannot take the layer's pixel sizes, or None where it can.

    A method that reproduces another program's command (``imagej``) takes one radius in
    pixels, as that program does: the API refuses ``spacing=``, and ``bgsub run`` fails on a
    file whose pixels are not square, so the faces refuse such a layer, saying how to go on.

    Examples
    --------
    >>> spacing_refusal(Settings("imagej", 10)) is None
    True
    >>> print(spacing_refusal(Settings("imagej", 10, spacing=(0.5, 0.1))))  # doctest: +ELLIPSIS
    method 'imagej' takes one radius in pixels, ... not square (Y, X scale 0.5, 0.1); ...
    """
    if settings.spacing is None or bgsub.get_method(settings.method).subtract is None:
        return None
    letters = ", ".join("ZYX"[-len(settings.spacing):])
    sizes = ", ".join(_number(s) for s in settings.spacing)
    return (f"method {settings.method!r} takes one radius in pixels, as the command it "
            f"reproduces does, and this layer's pixels are not square ({letters} scale "
            f"{sizes}); give the layer a square scale, or use rolling_ball, whose ball is "
            "scaled per axis")


def array_axes(ndim: int, rgb: bool = False, channel_axis: int | None = None) -> str | None:
    """Axes letters for an array shown by napari, or None where bgsub's guess is right.

    :func:`array_layout`, left out for ``YX``, ``ZYX`` and ``YXS``.

    Examples
    --------
    >>> array_axes(2), array_axes(3), array_axes(5), array_axes(4, rgb=True)
    (None, None, 'TQZYX', 'ZYXS')
    >>> array_axes(3, channel_axis=0), array_axes(4, channel_axis=1)
    ('CYX', 'ZCYX')
    """
    axes = array_layout(ndim, rgb, channel_axis)
    return None if axes in ("YX", "ZYX", "YXS") else axes


def array_layout(ndim: int, rgb: bool = False, channel_axis: int | None = None) -> str:
    """Axes letters for every axis of an array shown by napari.

    napari shows the last two axes (before an RGB(A) axis) as the image plane.
    The channel axis, if any, is ``C`` (processed channel by channel); of the
    other leading axes the one nearest the plane is Z and the rest are
    independent (``T``, ``Q``, ...).

    Parameters
    ----------
    ndim : int
        Number of array dimensions, including an RGB(A) axis.
    rgb : bool
        Whether the last axis holds colour samples.
    channel_axis : int, optional
        The array axis that holds channels (negative counts from the end);
        it must be one of the axes before the image plane.

    Returns
    -------
    str
        E.g. ``"TZYX"``, ``"ZYX"``, ``"YXS"``.

    Examples
    --------
    >>> array_layout(2), array_layout(3), array_layout(3, rgb=True), array_layout(4)
    ('YX', 'ZYX', 'YXS', 'TZYX')
    """
    plane = "YXS" if rgb else "YX"
    count = ndim - len(plane)
    if count < 0:
        raise ValueError(f"an image needs at least {len(plane)} axes, got {ndim}")
    leading = [""] * count
    if channel_axis is not None:
        index = channel_axis + ndim if channel_axis < 0 else channel_axis
        if not 0 <= index < count:
            raise ValueError(f"channel_axis={channel_axis} is not an axis before the image "
                             f"plane of a {ndim}D layer; pick one of 0..{count - 1}")
        leading[index] = "C"
    free = [i for i, letter in enumerate(leading) if not letter]
    if free:
        leading[free[-1]] = "Z"
    for i, letter in zip(free[:-1], _OTHER_AXES, strict=False):
        leading[i] = letter
    return "".join(leading) + plane


def layer_axes(
    ndim: int, rgb: bool, scale: tuple[float, ...] | None, true_3d: bool,
    channel_axis: int | None = None,
) -> tuple[str | None, tuple[float, ...] | None, bool]:
    """``axes``, ``spacing`` and ``true_3d`` for a napari layer, as the widget passes them.

    Parameters
    ----------
    ndim : int
        Number of array dimensions, including an RGB(A) axis.
    rgb : bool
        Whether the last axis holds colour samples.
    scale : tuple of float or None
        The layer's scale (one per non-RGB axis); None for square pixels.
    true_3d : bool
        Whether a 3D neighbourhood is wanted; dropped where the layer has no Z.
    channel_axis : int, optional
        The axis holding channels (see :func:`array_axes`).

    Returns
    -------
    axes : str or None
    spacing : tuple of float or None
    true_3d : bool

    Examples
    --------
    >>> layer_axes(4, False, (1.0, 3.0, 0.5, 0.5), True, channel_axis=0)
    ('CZYX', (3.0, 0.5, 0.5), True)
    >>> layer_axes(3, False, (1.0, 0.5, 0.5), True, channel_axis=0)
    ('CYX', None, False)
    """
    axes = array_axes(ndim, rgb, channel_axis)
    true_3d = true_3d and "Z" in (axes or ("ZYX" if ndim - int(rgb) >= 3 else "YX"))
    spacing = None if scale is None else spatial_spacing(scale, true_3d, axes)
    return axes, spacing, true_3d


def guess_channel_axis(axis_labels: tuple[str, ...]) -> int | None:
    """The axis whose label names channels (``c``, ``ch``, ``channel``), if any.

    ``axis_labels`` are a napari layer's, one per non-RGB axis; only the axes
    before the image plane (the last two) are looked at.

    Examples
    --------
    >>> guess_channel_axis(("t", "c", "y", "x")), guess_channel_axis(("z", "y", "x"))
    (1, None)
    """
    count = len(axis_labels) - 2
    for index, label in enumerate(axis_labels[:max(count, 0)]):
        if str(label).strip().lower() in _CHANNEL_LABELS:
            return index
    return None


def spatial_spacing(scale: tuple[float, ...], true_3d: bool,
                    axes: str | None = None) -> tuple[float, ...] | None:
    """The ``spacing=`` for a layer's ``scale``, or None when it changes nothing.

    Parameters
    ----------
    scale : tuple of float
        The layer's scale, one per displayed (non-RGB) axis.
    true_3d : bool
        Whether Z, Y and X (rather than Y and X) are filtered together.
    axes : str, optional
        The layer's axes letters (as :func:`array_axes` gives them); None for
        Z (if any), Y, X as the last axes.

    Returns
    -------
    tuple of float or None
        Z, Y, X (or Y, X) pixel sizes when they differ, else None: with equal
        sizes, a scalar radius means the same number of pixels on every axis.

    Examples
    --------
    >>> spatial_spacing((2.0, 0.5, 0.5), true_3d=True), spatial_spacing((2.0, 0.5, 0.5), False)
    ((2.0, 0.5, 0.5), None)
    >>> spatial_spacing((2.0, 1.0, 0.5, 0.5), true_3d=True, axes="ZCYX")
    (2.0, 0.5, 0.5)
    """
    letters = "ZYX" if true_3d else "YX"
    if axes is None:
        picked = scale[-len(letters):]
    else:
        shown = axes.upper().replace("S", "")
        picked = tuple(scale[shown.index(letter)] for letter in letters)
    sizes = tuple(abs(float(s)) for s in picked)
    if len(set(sizes)) <= 1:
        return None
    return sizes


def _number(value: float) -> str:
    """``25.0`` -> ``"25"``, ``2.5`` -> ``"2.5"``."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _literal(value: Any) -> str:
    """Python source text for a keyword value."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _cli_value(value: Any) -> str:
    """Text of a ``-O KEY=VALUE`` option value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float)):
        return _number(value)
    return str(value)
