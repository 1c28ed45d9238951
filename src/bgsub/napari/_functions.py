"""One function per method, for magicgui and napari-assistant style tools.

Each takes a ``napari.types.ImageData`` and returns the foreground as
``ImageData``. Their signatures are built from the registry (the shared
settings plus the method's own options), so a new option shows up here by
itself; a new method needs one line below and one command in ``napari.yaml``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from napari.types import ImageData

from bgsub.api import subtract_background
from bgsub.methods import DEFAULT_RADIUS, Method, Parameter, get_method
from bgsub.napari._settings import PRESMOOTH_CHOICES, array_axes

__all__ = ["dog", "gaussian", "imagej", "mean", "median", "paraboloid", "robust", "rolling_ball",
           "tophat"]

Radius = Annotated[float, {"min": 0.5, "max": 10_000.0, "step": 0.5}]
Size = Annotated[float, {"min": 0.1, "max": 100.0, "step": 0.5}]
Number = Annotated[float, {"min": 0.0, "max": 100_000.0, "step": 0.5}]


def _shared_parameters() -> list[inspect.Parameter]:
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return [
        inspect.Parameter("image", keyword, annotation=ImageData),
        inspect.Parameter("radius", keyword, default=DEFAULT_RADIUS, annotation=Radius),
        inspect.Parameter("light_background", keyword, default=False, annotation=bool),
        inspect.Parameter("presmooth", keyword, default="none",
                          annotation=Literal[PRESMOOTH_CHOICES]),  # type: ignore[valid-type]
        inspect.Parameter("presmooth_size", keyword, default=1.0, annotation=Size),
        inspect.Parameter("true_3d", keyword, default=False, annotation=bool),
    ]


def _option_parameter(option: Parameter) -> inspect.Parameter:
    """A signature entry for a method option; 0 stands for None ("default")."""
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if option.choices is not None and set(option.choices) == {False, True}:
        return inspect.Parameter(option.name, keyword, default=option.default, annotation=bool)
    if option.choices is not None:
        return inspect.Parameter(option.name, keyword, default=option.default,
                                 annotation=Literal[option.choices])  # type: ignore[valid-type]
    if option.default is None or isinstance(option.default, (int, float)):
        default = 0.0 if option.default is None else float(option.default)
        return inspect.Parameter(option.name, keyword, default=default, annotation=Number)
    return inspect.Parameter(option.name, keyword, default=option.default, annotation=str)


def _function_for(name: str) -> Callable[..., ImageData]:
    """``<name>(image, radius, ..., **options) -> foreground`` for the method ``name``."""
    method = get_method(name)
    parameters = _shared_parameters() + [_option_parameter(p) for p in method.parameters]
    signature = inspect.Signature(parameters, return_annotation=ImageData)

    def subtract(*args: Any, **kwargs: Any) -> ImageData:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return _subtract(method, **bound.arguments)

    subtract.__signature__ = signature  # type: ignore[attr-defined]
    subtract.__name__ = subtract.__qualname__ = name
    subtract.__module__ = __name__
    subtract.__doc__ = _docstring(method.name, method.summary, method.parameters)
    return subtract


def _subtract(method: Method, image: ImageData, radius: float, light_background: bool,
              presmooth: str, presmooth_size: float, true_3d: bool,
              **options: Any) -> ImageData:
    for option in method.parameters:  # 0 stands for None where None is the default
        if option.default is None and options.get(option.name) == 0:
            options[option.name] = None
    return subtract_background(
        image, method.name, radius, axes=array_axes(np.ndim(image)), true_3d=true_3d,
        light_background=light_background,
        presmooth=None if presmooth == "none" else f"{presmooth}:{presmooth_size:g}",
        **options)


def _docstring(name: str, summary: str, options: tuple[Parameter, ...]) -> str:
    lines = [f"Subtract the background with {name!r}: {summary}.", "",
             "Returns the foreground (``bgsub.subtract_background``); options",
             "whose default is None take 0 for None."]
    if options:
        lines += ["", "Method options:"] + [f"    {p.name}: {p.doc}" for p in options]
    return "\n".join(lines)


dog = _function_for("dog")
gaussian = _function_for("gaussian")
imagej = _function_for("imagej")
mean = _function_for("mean")
median = _function_for("median")
paraboloid = _function_for("paraboloid")
robust = _function_for("robust")
rolling_ball = _function_for("rolling_ball")
tophat = _function_for("tophat")
