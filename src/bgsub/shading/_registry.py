"""The shading-method registry: every flat-field estimator declares itself here once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bgsub.methods import Parameter

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
    """

    flatfield: np.ndarray
    darkfield: np.ndarray | None = None


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
        ``estimate(stack, darkfield, *, centres, **options) -> FieldEstimate``.
        ``stack`` is a C-contiguous float64 array (n_images, y, x) of one
        channel at working size, finite; ``darkfield`` says whether an additive
        field is wanted; ``centres`` are the bins' centres per axis, as
        fractions of the tile's size (bins may differ by a pixel).
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

    def resolve_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``options`` and fill in defaults; unknown keys are an error."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(options) - set(known))
        if unknown:
            accepted = ", ".join(sorted(known)) or "none"
            raise TypeError(f"shading method {self.name!r} got unknown option(s) "
                            f"{', '.join(unknown)}; accepted options: {accepted}")
        resolved = {p.name: p.default for p in self.parameters}
        for key, value in options.items():
            resolved[key] = known[key].validate(value, self.name)
        return resolved


_REGISTRY: dict[str, ShadingMethod] = {}
_ALIASES: dict[str, str] = {}


def register_shading(method: ShadingMethod) -> ShadingMethod:
    """Add ``method`` to the shading registry and return it."""
    for name in (method.name, *method.aliases):
        if name in _REGISTRY or name in _ALIASES:
            raise ValueError(f"a shading method named {name!r} is already registered")
    _REGISTRY[method.name] = method
    for alias in method.aliases:
        _ALIASES[alias] = method.name
    return method


def get_shading_method(name: str) -> ShadingMethod:
    """Return the registered shading method called ``name`` (or one of its aliases).

    Examples
    --------
    >>> get_shading_method("basic").name
    'lowrank'
    """
    if not isinstance(name, str):
        raise TypeError(f"method must be a shading method name (str), got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown shading method {name!r}; available: "
                         f"{', '.join(sorted(_REGISTRY))}") from None


def list_shading_methods() -> tuple[ShadingMethod, ...]:
    """All registered shading methods, sorted by name.

    Examples
    --------
    >>> [m.name for m in list_shading_methods()][:2]
    ['block_minimum', 'gaussian']
    """
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))
