"""ImageJ macro option strings for ``Subtract Background...``, read as ImageJ reads them.

ImageJ reads a macro option string loosely: ``Macro.getValue`` finds ``key=`` and
takes a ``[bracketed]`` value (brackets nest), a ``'quoted'`` value or the text up
to the next space; an unclosed bracket silently gives the dialog's default, so
``rolling=[50`` runs with radius 50 whatever was meant.  A checkbox is on when
``key`` stands as a word of its own outside brackets (``GenericDialog.isMatch``);
keys are lower case and unknown words are ignored.

bgsub accepts a string only when it has one reading: every word a known key, every
bracket and quote closed, no key twice, and the result equal to what ImageJ's own
rules (mirrored in :func:`imagej_reading`) take from it.  Anything else is refused
with a one-line ``ValueError`` naming the problem.
"""

from __future__ import annotations

import math
import re

__all__ = ["imagej_reading", "parse_imagej_options"]

_FLAG_KEYS = {
    "light": "light_background",
    "separate": "separate_colors",
    "create": "create_background",
    "sliding": "sliding_paraboloid",
    "disable": "disable_smoothing",
}
_LEGACY = {"white": "light"}  # ImageJ rewrites "white" to "light" before reading
_IGNORED_KEYS = ("stack",)  # "process all slices": bgsub always processes all slices
_ACCEPTED = ("rolling", *_FLAG_KEYS, *_LEGACY, *_IGNORED_KEYS)
#: what java.lang.Double.valueOf accepts (decimal; hexadecimal is not taken)
_JAVA_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?)"
)
_MIN_RADIUS = 0.0001  # ImageJ's dialog refuses a radius <= this


def _closing_bracket(text: str, start: int) -> int:
    """Index of the ``]`` that closes the ``[`` at ``start`` (brackets nest), or -1."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _macro_value(options: str, key: str) -> str | None:
    """ImageJ's ``Macro.getValue``: the value of ``key=``, or None (the default)."""
    if not options.endswith(" "):
        options += " "
    key += "="
    index = -1
    while True:  # the key must not follow a letter
        index = options.find(key, index + 1)
        if index < 0:
            return None
        if index == 0 or not options[index - 1].isalpha():
            break
    rest = options[index + len(key):]
    if rest.startswith("'"):
        end = rest.find("'", 1)
        return None if end < 0 else rest[1:end]
    if rest.startswith("["):
        end = _closing_bracket(rest, 0)
        return None if end < 0 else rest[1:end]
    end = rest.find(" ")
    return None if end < 0 else rest[:end]


def _is_match(options: str, word: str) -> bool:
    """ImageJ's ``GenericDialog.isMatch``: ``word`` stands alone, outside ``[...]``."""
    if options.startswith(word):
        return True
    word = " " + word
    in_literal = False
    for i in range(len(options) - len(word) + 1):
        c = options[i]
        if in_literal and c == "]":
            in_literal = False
        elif c == "[":
            in_literal = True
        if c != " " or in_literal or (i > 1 and options[i - 1] == "="):
            continue
        if options.startswith(word, i):
            return True
    return False


def imagej_reading(options: str) -> dict:
    """What ImageJ's ``Subtract Background...`` dialog reads from a macro option string.

    A mirror of ``Macro.getValue`` and ``GenericDialog.isMatch`` as the dialog uses
    them: ``rolling`` is the raw text of the radius (None: ImageJ's default, 50), and
    each checkbox is on or off.

    Examples
    --------
    >>> imagej_reading("rolling=[50 light")["rolling"] is None  # ImageJ: radius 50
    True
    >>> imagej_reading("rolling=[5] white")
    {'rolling': '5', 'light_background': True, 'separate_colors': False, \
'create_background': False, 'sliding_paraboloid': False, 'disable_smoothing': False}
    """
    text = options.replace("white", "light") + " "  # as showDialog and Macro.getOptions do
    reading: dict = {"rolling": _macro_value(text, "rolling")}
    for key, name in _FLAG_KEYS.items():
        reading[name] = _is_match(text, key + " ")
    return reading


def _tokens(options: str) -> list[tuple[str, str | None]]:
    """``(key, value)`` pairs of a strictly formed option string (value None for a flag)."""
    for ch in options:
        if ch.isspace() and ch != " ":
            raise ValueError(f"ImageJ options are separated by spaces only; found {ch!r} "
                             f"in {options!r}")
    tokens = []
    pos = 0
    while pos < len(options):
        if options[pos] == " ":
            pos += 1
            continue
        end = pos
        while end < len(options) and options[end] not in " =":
            end += 1
        key = options[pos:end]
        if end == len(options) or options[end] == " ":
            tokens.append((key, None))
            pos = end
            continue
        start = end + 1  # after "="
        if options.startswith("[", start):
            close = _closing_bracket(options, start)
            if close < 0:
                raise ValueError(f"unclosed '[' in ImageJ options {options!r}: ImageJ would "
                                 f"ignore {key}=; close it, e.g. {key}=[50]")
            value, pos = options[start + 1:close], close + 1
        elif options.startswith("'", start):
            close = options.find("'", start + 1)
            if close < 0:
                raise ValueError(f"unclosed quote in ImageJ options {options!r}: ImageJ would "
                                 f"ignore {key}=; close it, e.g. {key}='50'")
            value, pos = options[start + 1:close], close + 1
        else:
            close = options.find(" ", start)
            close = len(options) if close < 0 else close
            value, pos = options[start:close], close
        if pos < len(options) and options[pos] != " ":
            raise ValueError(f"ImageJ options {options!r}: put a space after the value of "
                             f"{key}= (found {options[pos:]!r} right after it)")
        tokens.append((key, value))
    return tokens


def _radius(value: str | None) -> float:
    if value is None:
        raise ValueError("'rolling=' needs a value, e.g. rolling=50")
    text = value.strip()
    if not _JAVA_DOUBLE.fullmatch(text):
        raise ValueError(f"invalid rolling ball radius {value!r}; give a number, e.g. "
                         "rolling=50")
    radius = float(text.rstrip("fFdD"))
    if not math.isfinite(radius) or radius <= _MIN_RADIUS:
        raise ValueError(f"rolling ball radius must be > {_MIN_RADIUS} and finite, got "
                         f"{value!r}")
    return radius


def parse_imagej_options(options: str) -> dict:
    """Parse an ImageJ macro option string for ``Subtract Background...``.

    The syntax is ImageJ's: ``key=value`` pairs (a value with spaces in square
    brackets or single quotes) and bare flags, separated by spaces, e.g. the string
    recorded by ``run("Subtract Background...", "rolling=50 light sliding")``.  A
    string that ImageJ would read differently from its plain meaning, or not at all,
    is refused (see the module's description).

    Parameters
    ----------
    options : str
        Macro options.  Accepted keys (lower case, as ImageJ reads them): ``rolling``
        (required, the radius), the flags ``light`` (alias ``white``),
        ``separate``, ``create``, ``sliding``, ``disable``, and ``stack`` (accepted
        and ignored: all slices are processed).

    Returns
    -------
    dict
        Keyword arguments for :func:`bgsub.methods.imagej.imagej_subtract`:
        ``radius``, ``light_background``, ``separate_colors``,
        ``create_background``, ``sliding_paraboloid`` and ``disable_smoothing``.

    Raises
    ------
    ValueError
        On unknown or repeated keys, an unclosed bracket or quote, a missing or
        invalid ``rolling=`` value, a flag given a value, characters other than
        spaces between options, or any string ImageJ reads differently.

    Examples
    --------
    >>> parse_imagej_options("rolling=[25.5] light sliding")["radius"]
    25.5
    >>> parse_imagej_options("rolling=50 light")["light_background"]
    True
    >>> parse_imagej_options("rolling=[50 light")
    Traceback (most recent call last):
    ...
    ValueError: unclosed '[' in ImageJ options 'rolling=[50 light': ImageJ would ignore \
rolling=; close it, e.g. rolling=[50]
    """
    if not isinstance(options, str):
        raise TypeError(f"ImageJ options must be a string, got {type(options).__name__}")
    kwargs = {name: False for name in _FLAG_KEYS.values()}
    radius_text = None
    seen: set[str] = set()
    for key, value in _tokens(options):
        name = _LEGACY.get(key, key)
        if key not in _ACCEPTED:
            hint = " (ImageJ's keys are lower case)" if key.lower() in _ACCEPTED else ""
            raise ValueError(f"unknown ImageJ option {key!r}{hint}; accepted keys: "
                             f"{', '.join(_ACCEPTED)}")
        if name in seen:
            raise ValueError(f"ImageJ option {key!r} given twice in {options!r}; give it once")
        seen.add(name)
        if key == "rolling":
            radius_text = value if value is not None else None
            if value is None:
                raise ValueError("'rolling' needs a value, e.g. rolling=50")
        elif value is not None:
            raise ValueError(f"'{key}' is a flag and takes no value (got {key}={value})")
        elif name in _FLAG_KEYS:
            kwargs[_FLAG_KEYS[name]] = True
    if "rolling" not in seen:
        raise ValueError("missing 'rolling=<radius>' in ImageJ options (ImageJ would use "
                         "its default, 50); add it, e.g. rolling=50")
    radius = _radius(radius_text)
    reading = imagej_reading(options)
    if reading.pop("rolling") != radius_text or reading != kwargs:
        raise ValueError(f"ImageJ would read {options!r} differently from its plain "
                         "meaning; write each option once as key=value or a bare flag, "
                         "separated by spaces")
    return {"radius": radius, **kwargs}
