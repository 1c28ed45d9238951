"""The shading-method registry: every flat-field estimator declares itself here once."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bgsub.methods import Parameter, Registry, resolve_options

__all__ = ["FieldEstimate", "ShadingMethod", "get_shading_method", "list_shading_methods",
           "register_shading"]


@dataclass(frozen=True)
class FieldEstimate:
    """What a shading method returns, at the working size of the stack it was given.

    Attributes
    ----------
    flatfield : ndarray
        (y, x) multiplicative field, any positive scale (the API normalises it to mean 1).
    darkfield : ndarray, optional
        (y, x) additive field, in the stack's intensity units; None when not estimated.
    chosen : dict
        Settings the method chose from the data (e.g. a loss, a smoothness), for the
        profile's provenance; empty when it chose none.
    """

    flatfield: np.ndarray
    darkfield: np.ndarray | None = None
    chosen: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShadingMethod:
    """A flat-field (and optionally dark-field) estimator.

    Attributes
    ----------
    name : str
        Registry name (``method=`` of :func:`bgsub.estimate_shading`).
    summary : str
        One-line description.
    estimate : callable
        ``estimate(stack, darkfield, *, centres, bin_pixels, **options) ->
        FieldEstimate``. ``stack`` is a C-contiguous float64 array (n_images, y,
        x) of one channel at working size, finite; ``darkfield`` says whether an
        additive field is wanted; ``centres`` are the bins' centres per axis, as
        fractions of the tile's size (bins may differ by a pixel); ``bin_pixels``
        (passed only where ``estimate`` takes it) is the pixels a bin averages
        where the tiles hold whole counts (integer data, or floats whose values
        are all whole: ``TileSet.holds_whole_counts``), None otherwise.
    parameters : tuple of Parameter
        The method's own keyword options.
    darkfield : bool
        Whether the method can estimate a dark-field.
    reference : str
        The paper or program whose description the method follows.
    aliases : tuple of str
        Other names accepted for the method.
    """

    name: str
    summary: str
    estimate: Callable[..., FieldEstimate]
    parameters: tuple[Parameter, ...] = ()
    darkfield: bool = False
    reference: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def fit(self, stack: np.ndarray, darkfield: bool, centres: tuple[np.ndarray, ...],
            bin_pixels: float | None, options: Mapping[str, Any]) -> FieldEstimate:
        """``estimate`` of ``stack``; ``bin_pixels`` is passed only where ``estimate`` takes
        it (by name or through ``**options``): a method registered before it existed still
        runs."""
        extra = {"bin_pixels": bin_pixels} if _takes(self.estimate, "bin_pixels") else {}
        return self.estimate(stack, darkfield, centres=centres, **extra, **options)

    def resolve_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``options`` and fill in defaults; unknown keys are an error."""
        return resolve_options(self.parameters, options, f"shading method {self.name!r}",
                               self.name)


def _takes(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name``."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
               or p.kind is p.VAR_KEYWORD for p in parameters)


_SHADING_METHODS: Registry[ShadingMethod] = Registry("shading method")


def register_shading(method: ShadingMethod) -> ShadingMethod:
    """Add ``method`` to the shading registry and return it."""
    return _SHADING_METHODS.add(method)


def get_shading_method(name: str) -> ShadingMethod:
    """Return the registered shading method called ``name`` (or one of its aliases).

    Examples
    --------
    >>> get_shading_method("basic").name
    'lowrank'
    """
    return _SHADING_METHODS.get(name)


def list_shading_methods() -> tuple[ShadingMethod, ...]:
    """All registered shading methods, sorted by name.

    Examples
    --------
    >>> [m.name for m in list_shading_methods()][:2]
    ['block_minimum', 'gaussian']
    """
    return _SHADING_METHODS.all()
