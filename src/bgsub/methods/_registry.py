"""The method registry: every background method declares itself here once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

__all__ = ["AUTO_RADIUS", "DEFAULT_METHOD", "DEFAULT_RADIUS", "Extent", "Method", "Parameter",
           "Registry", "get_method", "is_auto_radius", "list_methods", "register",
           "resolve_options"]

#: The method every face uses when none is named: noise-aware, through the middle of the noise.
DEFAULT_METHOD = "robust"
#: The radius (pixels) every face uses when none is given.
DEFAULT_RADIUS = 50.0
#: The radius that is measured from the objects (``bgsub.auto.suggest_radius``), any case.
AUTO_RADIUS = "auto"


def is_auto_radius(radius: object) -> bool:
    """Whether ``radius`` asks for the automatic radius: ``"auto"`` in any case, as method
    names are read (the API's ``radius="Auto"`` and the command line's ``--radius Auto`` alike).

    Examples
    --------
    >>> is_auto_radius("Auto"), is_auto_radius(" auto"), is_auto_radius(5.0)
    (True, True, False)
    """
    return isinstance(radius, str) and radius.strip().lower() == AUTO_RADIUS

Radius = tuple[float, ...]
EstimateFunc = Callable[..., np.ndarray]


class Extent:
    """What a method's reach may depend on besides its parameters.

    Parameters
    ----------
    shape : tuple of int
        The spatial size (Z, Y, X or Y, X) of the blocks the method will see.
    span : callable or float
        ``max - min`` of the image's finite values, or a function computing it;
        called at most once, and only by a method whose reach depends on it.

    Examples
    --------
    >>> extent = Extent((64, 64), lambda: 100.0)
    >>> extent.shape, extent.span()
    ((64, 64), 100.0)
    """

    def __init__(self, shape: tuple[int, ...], span: Callable[[], float] | float) -> None:
        self.shape = tuple(int(n) for n in shape)
        self._span = span
        self._value: float | None = None

    def span(self) -> float:
        """The value range of the image's finite values (0 for a constant image)."""
        if self._value is None:
            self._value = float(self._span() if callable(self._span) else self._span)
        return self._value


HaloFunc = Callable[[Radius, Mapping[str, Any], Extent], tuple[int, ...]]
#: How a message writes a value: Python's ``repr`` for the API; a config file's spelling
#: (``true``, ``"box"``) for the settings of the command line and its config files.
Spelling = Callable[[Any], str]
CheckFunc = Callable[[Radius, Mapping[str, Any]], None]


@dataclass(frozen=True)
class Parameter:
    """One keyword option of a method.

    Attributes
    ----------
    name : str
        Keyword name, as passed to :func:`bgsub.estimate_background`.
    default : object
        Value used when the caller does not pass the option.
    doc : str
        One-line description.
    choices : tuple, optional
        The accepted values, when the option is a choice.
    minimum : float, optional
        Smallest accepted value for a number (exclusive when ``exclusive``).
    """

    name: str
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    exclusive: bool = True
    allow_none: bool = True

    def validate(self, value: Any, method: str, spell: Spelling = repr) -> Any:
        """Return ``value`` if acceptable, else raise a one-line error; ``spell`` writes the
        values it names (``repr``: as Python writes them).

        Examples
        --------
        >>> flag = Parameter("envelope", False, "a flag", choices=(False, True))
        >>> flag.validate("true", "rolling_ball")
        Traceback (most recent call last):
        ...
        ValueError: rolling_ball: envelope='true' must be True or False
        """
        if value is None and self.allow_none:
            return value
        if self.choices is not None and value not in self.choices:
            if set(self.choices) == {False, True}:
                raise ValueError(f"{method}: {self.name}={spell(value)} must be {spell(True)} "
                                 f"or {spell(False)}")
            raise ValueError(
                f"{method}: {self.name}={spell(value)} is not accepted; use one of "
                f"{', '.join(spell(c) for c in self.choices)}"
            )
        if self.minimum is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{method}: {self.name} must be a number, got {spell(value)}")
            bad = value <= self.minimum if self.exclusive else value < self.minimum
            if bad or not np.isfinite(value):
                op = ">" if self.exclusive else ">="
                raise ValueError(
                    f"{method}: {self.name}={spell(value)} is out of range; use a finite "
                    f"number {op} {self.minimum}"
                )
        return value


def _radius_halo(radius: Radius, options: Mapping[str, Any], extent: Extent
                 ) -> tuple[int, ...]:
    return tuple(int(np.ceil(r)) for r in radius)


@dataclass(frozen=True)
class Method:
    """A background-estimation method.

    Attributes
    ----------
    name : str
        Registry name (``method=`` in the API and ``--method`` on the CLI).
    summary : str
        One-line description.
    estimate : callable
        ``estimate(image, radius, **options) -> background``. ``image`` is a
        C-contiguous float32/float64 array of 2 or 3 spatial dimensions with
        no NaN; ``radius`` has one entry per axis, in pixels. Axes, dtypes,
        NaNs, light background and pre-smoothing are handled by the API.
    parameters : tuple of Parameter
        The method's own keyword options.
    supports_3d : bool
        Whether the method works on a true 3D neighbourhood.
    halo : callable
        ``halo(radius, options, extent) -> per-axis pixels`` of context a chunk
        needs so that chunked results equal in-memory ones: finite numbers
        computed from the parameters and, where the reach depends on them, the
        block's size and the data's value range (:class:`Extent`). A reach
        that covers the whole block is the block's size (``extent.shape``).
    background_model : bool
        False for feature enhancers (difference of Gaussians) whose
        "background" is not a model of the illumination.
    reference : str
        The library call the method reproduces, if any.
    aliases : tuple of str
        Other names accepted for the method.
    subtract : callable, optional
        For a method that reproduces another program's whole command, output
        rounding included (ImageJ): ``subtract(image, layout, radius,
        light_background, **options) -> result`` in the image's dtype, used
        by :func:`bgsub.subtract_background` instead of the generic
        subtraction.
    moving_sum : bool
        The estimate adds pixel values up in an order that depends on where
        the block starts (a running sum): on non-integer values a window with
        its halo may then differ from the whole block in the last bit, so the
        engine does not split such blocks into tiles (integer data sums exactly).
    prepare : callable, optional
        ``prepare(image) -> prepared``: what the estimate measures on a block
        whatever the radius (``robust``: its noise model and trend), on the
        array ``estimate`` gets. The engine may call it while it measures an
        automatic radius (on a second thread) and pass its result to
        ``estimate(image, radius, prepared=prepared, **options)``, which must
        then give exactly the pixels it gives without it.
    peak_buffers : callable, optional
        ``peak_buffers(radius) -> float``: an upper bound on the memory the estimate of one
        block needs, in float32 copies of the block (``robust``: 26 on single pixels, below
        15 px). The engine warns where that exceeds the memory free.
    overwrites_input : bool
        ``estimate`` takes ``overwrite_input=True``, and may then change the array it is
        given instead of a copy of it: the engine passes its own copy of each block so.
    check : callable, optional
        ``check(radius, options)``: raise a one-line ValueError where the resolved options
        do not fit each other or the radius (per axis, in pixels) -- ``dog``'s ``low_sigma``
        at or above its ``high_sigma``. Called by the engine's plan, and by the settings of
        a batch whose radius is given.
    """

    name: str
    summary: str
    estimate: EstimateFunc
    parameters: tuple[Parameter, ...] = ()
    supports_3d: bool = True
    halo: HaloFunc = _radius_halo
    background_model: bool = True
    reference: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    subtract: Callable[..., np.ndarray] | None = None
    moving_sum: bool = False
    prepare: Callable[[np.ndarray], Any] | None = None
    peak_buffers: Callable[[tuple[float, ...]], float] | None = None
    overwrites_input: bool = False
    check: CheckFunc | None = None

    def defaults(self) -> dict[str, Any]:
        """The default value of every option."""
        return {p.name: p.default for p in self.parameters}

    def resolve_options(self, options: Mapping[str, Any], spell: Spelling = repr
                        ) -> dict[str, Any]:
        """Validate ``options`` and fill in defaults; unknown keys are an error (``spell``:
        see :func:`resolve_options`)."""
        return resolve_options(self.parameters, options, f"method {self.name!r}", self.name,
                               spell)


def resolve_options(parameters: tuple[Parameter, ...], options: Mapping[str, Any], what: str,
                    name: str, spell: Spelling = repr) -> dict[str, Any]:
    """``options`` validated against ``parameters``, defaults filled in; an unknown key is a
    one-line TypeError naming ``what`` (e.g. ``"method 'median'"``) and the accepted keys.
    ``spell`` writes the values a message names: as Python does (the API), or as a config
    file does (``true``, ``"box"``: the command line's settings).

    Examples
    --------
    >>> resolve_options((Parameter("size", 3.0, "box size", minimum=1.0),), {}, "filter", "box")
    {'size': 3.0}
    """
    known = {p.name: p for p in parameters}
    unknown = sorted(set(options) - set(known))
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise TypeError(f"{what} got unknown option(s) {', '.join(unknown)}; "
                        f"accepted options: {accepted}")
    resolved = {p.name: p.default for p in parameters}
    for key, value in options.items():
        resolved[key] = known[key].validate(value, name, spell)
    return resolved


class Named(Protocol):
    """Anything a :class:`Registry` holds: a name and its aliases."""

    name: str
    aliases: tuple[str, ...]


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Named entries with aliases, looked up case-insensitively.

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"method"``, ``"shading method"``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> filters = Registry("filter")
    >>> _ = filters.add(SimpleNamespace(name="box", aliases=("uniform",)))
    >>> filters.get("Uniform").name, [f.name for f in filters.all()]
    ('box', ['box'])
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, entry: T) -> T:
        """Add ``entry`` (its name and aliases must be new) and return it."""
        for name in (entry.name, *entry.aliases):
            if name in self._entries or name in self._aliases:
                raise ValueError(f"a {self.kind} named {name!r} is already registered")
        self._entries[entry.name] = entry
        for alias in entry.aliases:
            self._aliases[alias] = entry.name
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name`` (or one of its aliases), any case."""
        if not isinstance(name, str):
            raise TypeError(f"method must be a {self.kind} name (str), got "
                            f"{type(name).__name__}")
        key = self._aliases.get(name.lower(), name.lower())
        try:
            return self._entries[key]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; available {self.kind}s: "
                             f"{', '.join(sorted(self._entries))}") from None

    def all(self) -> tuple[T, ...]:
        """Every entry, sorted by name."""
        return tuple(self._entries[name] for name in sorted(self._entries))


_METHODS: Registry[Method] = Registry("method")


def register(method: Method) -> Method:
    """Add ``method`` to the registry and return it."""
    return _METHODS.add(method)


def get_method(name: str) -> Method:
    """Return the registered method called ``name`` (or one of its aliases)."""
    return _METHODS.get(name)


def list_methods() -> tuple[Method, ...]:
    """All registered methods, sorted by name."""
    return _METHODS.all()
