"""One function per method, for magicgui, napari's *Layers > Filter* menu and napari-assistant.

Each takes an image layer (or a plain array) and returns the foreground as
``ImageData``; napari places the result like the source layer (scale,
translate, units). Their signatures and numpydoc docstrings, which magicgui
turns into widgets and tooltips, are built from the registry (the shared
settings plus the method's own options), so a new option shows up here by
itself; a new method needs one line below and a command, a widget and a menu
entry in ``napari.yaml``.

Examples
--------
>>> import numpy as np
>>> from bgsub.napari._functions import mean
>>> image = np.full((24, 24), 100, dtype=np.uint16)
>>> image[10:13, 10:13] = 160
>>> int(mean(image, radius=6).max()), int(mean(image, radius=6)[0, 0])
(55, 0)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from magicgui.widgets import FloatSpinBox, FunctionGui
from napari.layers import Image
from napari.types import ImageData

from bgsub.api import subtract_background
from bgsub.methods import Method, Parameter, get_method
from bgsub.napari._settings import (
    DEFAULT_RADIUS,
    PRESMOOTH_CHOICES,
    Settings,
    guess_channel_axis,
    layer_axes,
    spacing_refusal,
)

__all__ = ["WIDGET_OPTIONS", "OptionalFloatSpinBox", "dog", "dog_widget", "gaussian",
           "gaussian_widget", "imagej", "imagej_widget", "mean", "mean_widget", "median",
           "median_widget", "paraboloid", "paraboloid_widget", "robust", "robust_widget",
           "result_name", "rolling_ball", "rolling_ball_widget", "tophat", "tophat_widget",
           "widget_for"]

OPTION_MAX = 100_000.0
DEFAULT_TEXT = "default"
#: magicgui options per function and parameter (ranges, choices, the "default" spin box).
WIDGET_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {}

SHARED_DOCS = {
    "image": ("napari.layers.Image or array_like",
              "The image. For a layer, its scale is the voxel size of the 3D neighbourhood and "
              "an axis labelled c/ch/channel is processed channel by channel."),
    "radius": ("float", "Size of the neighbourhood in pixels (ball radius, footprint radius, "
                        "Gaussian sigma)."),
    "light_background": ("bool", "Bright background with dark objects."),
    "presmooth": ('{"none", "mean", "median", "gaussian"}',
                  "Smooth the image before estimating the background."),
    "presmooth_size": ("float", "Box radius (mean, median) or sigma (gaussian) of the "
                                "pre-smoothing, in pixels."),
    "true_3d": ("bool", "A 3D neighbourhood over Z, Y and X instead of each Y, X plane alone "
                        "(ignored for images without a Z axis)."),
    "missing": ("str", "Pixels of this value are not data (a mosaic's padding, e.g. 0): they "
                       "weigh on no background and keep their value. Empty: every pixel is "
                       "data (NaN pixels never are)."),
}
#: the shared settings a method that reproduces another program's command lacks (imagej)
NOT_FOR_COMMANDS = ("missing",)


class OptionalFloatSpinBox(FloatSpinBox):
    """A magicgui spin box whose lowest entry, shown as ``default``, stands for None.

    For the options whose default is None (e.g. the rolling ball's ``height``:
    "equal to the radius"): the box shows ``default`` rather than a number and
    its value is None there.

    Parameters
    ----------
    value : float or None
        The starting value; None shows ``default``.
    **kwargs
        As for :class:`magicgui.widgets.FloatSpinBox` (``min`` is the entry
        that means None).
    """

    def __init__(self, value: float | None = None, **kwargs: Any) -> None:
        kwargs.pop("nullable", None)
        super().__init__(**kwargs)
        self.native.setSpecialValueText(DEFAULT_TEXT)
        self.value = value

    @property
    def value(self) -> float | None:
        """The number, or None where the box shows ``default``."""
        number = FloatSpinBox.value.fget(self)
        return None if number == self.min else number

    @value.setter
    def value(self, value: float | None) -> None:
        FloatSpinBox.value.fset(self, self.min if value is None else value)


Options = dict[str, Any]  # magicgui options of one parameter


def _shared_parameters(method: Method) -> list[tuple[inspect.Parameter, Options]]:
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    # missing: a text box, empty for none (napari-assistant passes a spin box's 0 for None,
    # and 0 is the usual padding: a number box would mark every dark pixel as no data)
    missing = [] if method.subtract is not None else [
        (inspect.Parameter("missing", keyword, default="", annotation=str), {})]
    return [
        (inspect.Parameter("image", keyword, annotation=Image), {}),
        (inspect.Parameter("radius", keyword, default=DEFAULT_RADIUS, annotation=float),
         {"min": 0.5, "max": 10_000.0, "step": 0.5}),
        (inspect.Parameter("light_background", keyword, default=False, annotation=bool), {}),
        (inspect.Parameter("presmooth", keyword, default="none", annotation=str),
         {"choices": PRESMOOTH_CHOICES}),
        (inspect.Parameter("presmooth_size", keyword, default=1.0, annotation=float),
         {"min": 0.1, "max": 100.0, "step": 0.5}),
        (inspect.Parameter("true_3d", keyword, default=False, annotation=bool), {}),
        *missing,
    ]


def _option_parameter(option: Parameter) -> tuple[inspect.Parameter, Options]:
    """A signature entry for a method option (plain type) and its magicgui options."""
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if option.choices is not None and set(option.choices) == {False, True}:
        return inspect.Parameter(option.name, keyword, default=option.default,
                                 annotation=bool), {}
    if option.choices is not None:
        kind = type(option.choices[0])
        return (inspect.Parameter(option.name, keyword, default=option.default, annotation=kind),
                {"choices": list(option.choices)})
    low = option.minimum if option.minimum is not None else 0.0
    if option.default is None:  # the lowest entry reads "default" and means None
        return (inspect.Parameter(option.name, keyword, default=None, annotation=float),
                {"widget_type": OptionalFloatSpinBox, "min": low, "max": OPTION_MAX,
                 "step": 0.1})
    if isinstance(option.default, (int, float)):
        low += 0.01 if option.exclusive else 0.0
        return (inspect.Parameter(option.name, keyword, default=float(option.default),
                                  annotation=float),
                {"min": low, "max": OPTION_MAX, "step": 0.5})
    return inspect.Parameter(option.name, keyword, default=option.default, annotation=str), {}


def _function_for(name: str) -> Callable[..., ImageData]:
    """``<name>(image, radius, ..., **options) -> foreground`` for the method ``name``.

    The parameters after ``image`` have plain ``float``/``int``/``bool``/``str``
    annotations, the kinds napari-assistant passes on; their ranges, choices
    and ``default`` entries are in :data:`WIDGET_OPTIONS`, for :func:`widget_for`.
    """
    method = get_method(name)
    entries = _shared_parameters(method) + [_option_parameter(p) for p in method.parameters]
    signature = inspect.Signature([p for p, _ in entries], return_annotation=ImageData)
    WIDGET_OPTIONS[name] = {p.name: options for p, options in entries if options}

    def subtract(*args: Any, **kwargs: Any) -> ImageData:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return _subtract(method, **bound.arguments)

    subtract.__signature__ = signature  # type: ignore[attr-defined]
    subtract.__name__ = subtract.__qualname__ = name
    subtract.__module__ = __name__
    subtract.__doc__ = _docstring(method)
    return subtract


def widget_for(name: str) -> FunctionGui:
    """The magicgui widget of the function for method ``name`` (what napari docks).

    Parameters
    ----------
    name : str
        A method name, e.g. ``"rolling_ball"``.

    Returns
    -------
    magicgui.widgets.FunctionGui
        Spin boxes with the option ranges, drop-downs for choices, ``default``
        for options whose default is None, and tooltips from the docstring.
    """
    function = globals()[name]
    return _ForegroundGui(function, param_options=WIDGET_OPTIONS[name])


class _ForegroundGui(FunctionGui):
    """A method's widget whose result layer is named for its image layer
    (:func:`result_name`): napari updates a result of the same name in place, so a
    fixed name put the result of a second layer over the first's, placed like the first."""

    def __init__(self, function: Callable[..., ImageData], **kwargs: Any) -> None:
        super().__init__(function, **kwargs)
        self._method = function.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        image = args[0] if args else kwargs.get("image", self.image.value)
        self.result_name = result_name(image, self._method)
        return super().__call__(*args, **kwargs)


def result_name(image: Any, method: str) -> str:
    """The name of a function widget's result: ``"<image> <method> foreground"``.

    The dock widget's ``"<image> foreground"`` with the method, which tells the results of
    several methods (and the dock widget's own) apart.

    Examples
    --------
    >>> from napari.layers import Image
    >>> result_name(Image(np.zeros((4, 4)), name="cells"), "rolling_ball")
    'cells rolling_ball foreground'
    """
    source = f"{image.name} " if isinstance(image, Image) else ""
    return f"{source}{method} foreground"


def _widget_factory(name: str) -> Callable[[], FunctionGui]:
    """``<name>_widget()``: the npe2 widget contribution of the function ``name``."""

    def factory() -> FunctionGui:
        return widget_for(name)

    factory.__name__ = factory.__qualname__ = f"{name}_widget"
    factory.__module__ = __name__
    factory.__doc__ = f"The magicgui widget of :func:`{name}` (see :func:`widget_for`)."
    return factory


def _subtract(method: Method, image: Any, radius: float, light_background: bool,
              presmooth: str, presmooth_size: float, true_3d: bool, missing: Any = "",
              **options: Any) -> ImageData:
    if isinstance(image, Image):
        # (a multiscale layer's array reads as its smallest level: the full resolution is the
        # first, as the shading widgets take it)
        data, rgb = image.data[0] if image.multiscale else image.data, bool(image.rgb)
        scale, labels = tuple(image.scale), tuple(image.axis_labels)
    else:
        data, rgb, scale, labels = image, False, None, None
    ndim = np.ndim(data)
    channel_axis = guess_channel_axis(labels) if labels is not None else None
    axes, spacing, true_3d = layer_axes(ndim, rgb, scale, true_3d, channel_axis)
    refusal = spacing_refusal(Settings(method.name, radius, spacing=spacing))
    if refusal is not None:
        raise ValueError(refusal)
    for option in method.parameters:
        value = options.get(option.name)
        if option.default is None and value is not None and value <= (option.minimum or 0.0):
            options[option.name] = None  # the spin box's bottom entry, "default"
        elif value == "" and isinstance(option.default, str):
            options[option.name] = option.default  # an empty text box, as napari-assistant's
    return subtract_background(
        np.asarray(data), method.name, radius, axes=axes, true_3d=true_3d, spacing=spacing,
        light_background=light_background,
        presmooth=None if presmooth in ("", "none") else f"{presmooth}:{presmooth_size:g}",
        **_missing(missing), **options)


def _missing(value: Any) -> dict[str, float]:
    """``missing=`` for :func:`bgsub.subtract_background` from the text box (or a number
    given in Python): none where it is empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            return {"missing": float(value)}
        except ValueError:
            raise ValueError(f"missing={value!r} is not a number; give the padding's value "
                             "(e.g. 0), or leave it empty") from None
    return {"missing": value}


def _docstring(method: Method) -> str:
    """A numpydoc docstring: magicgui shows each parameter's description as its tooltip."""
    lines = [f"Subtract the background with bgsub's {method.name!r} method.", "",
             f"{method.summary}.", "", "Parameters", "----------"]
    for name, (kind, doc) in SHARED_DOCS.items():
        if not (method.subtract is not None and name in NOT_FOR_COMMANDS):
            lines += [f"{name} : {kind}", f"    {doc}"]
    for option in method.parameters:
        doc = _sentence(option.doc)
        if option.default is None:
            doc += f" The spin box's lowest entry, {DEFAULT_TEXT!r}, means None."
        lines += [f"{option.name} : {_kind(option)}", f"    {doc}"]
    lines += ["", "Returns", "-------", "ndarray",
              "    The foreground, as ``bgsub.subtract_background`` returns it (the image's "
              "dtype)."]
    return "\n".join(lines)


def _kind(option: Parameter) -> str:
    if option.choices is not None and set(option.choices) == {False, True}:
        return "bool"
    if option.choices is not None:
        return "{" + ", ".join(repr(c) for c in option.choices) + "}"
    if option.default is None:
        return "float, optional"
    return type(option.default).__name__


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


dog = _function_for("dog")
gaussian = _function_for("gaussian")
imagej = _function_for("imagej")
mean = _function_for("mean")
median = _function_for("median")
paraboloid = _function_for("paraboloid")
robust = _function_for("robust")
rolling_ball = _function_for("rolling_ball")
tophat = _function_for("tophat")
dog_widget = _widget_factory("dog")
gaussian_widget = _widget_factory("gaussian")
imagej_widget = _widget_factory("imagej")
mean_widget = _widget_factory("mean")
median_widget = _widget_factory("median")
paraboloid_widget = _widget_factory("paraboloid")
robust_widget = _widget_factory("robust")
rolling_ball_widget = _widget_factory("rolling_ball")
tophat_widget = _widget_factory("tophat")
