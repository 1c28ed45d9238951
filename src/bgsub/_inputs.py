"""What a caller hands bgsub, checked once where it enters (the API, ``bgsub.auto``): the
image, flags that must be True or False, and the ``progress`` and ``cancel`` callbacks.

One definition of each check, so that every public entry point refuses the same input with
the same one-line message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bgsub._arrays import is_dask_array
from bgsub._bounds import refuse_masked
from bgsub._dtypes import check_dtype

__all__ = ["check_cancel", "check_flag", "check_image", "check_progress"]


def check_image(image: Any, name: str = "image") -> Any:
    """``image`` as an array bgsub can process (a Dask array as it is), or a one-line error.

    Refused: a file name or None, a masked array with masked pixels, what NumPy cannot make
    a rectangular array of, a dtype bgsub does not process (bool, complex, text, ...: see
    :func:`bgsub._dtypes.check_dtype`), fewer than 2 dimensions and no pixels. ``name``:
    what the messages call it (``"background"``).

    Examples
    --------
    >>> check_image([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> check_image(np.zeros((0, 5)))
    Traceback (most recent call last):
    ...
    ValueError: image is empty (shape (0, 5)); there is nothing to process
    """
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(
            f"{name} must be an array, got {type(image).__name__}; "
            "read files with bgsub.io.read_image(path)"
        )
    refuse_masked(image)
    array = image if is_dask_array(image) else _as_array(image, name)
    check_dtype(array.dtype)
    if array.ndim < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions (Y, X), got shape {array.shape}; "
            f"for a 1D profile pass {name}[np.newaxis, :]"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); there is nothing to process")
    return array


def _as_array(image: Any, name: str) -> np.ndarray:
    """``np.asarray(image)``, with a one-line error for what NumPy cannot make an array of."""
    try:
        return np.asarray(image)
    except (TypeError, ValueError) as exc:
        # NumPy's first sentence: "setting an array element with a sequence"
        reason = str(exc).split(". ")[0].strip() if str(exc) else type(exc).__name__
        raise TypeError(f"{name} cannot be made into an array ({reason}); pass a rectangular "
                        "NumPy array") from None


def check_flag(value: Any, name: str) -> bool:
    """``value`` (Python's or NumPy's bool) as a bool, or a one-line TypeError: a text such as
    ``"no"`` is truthy, so it would mean the opposite of what it says.

    Examples
    --------
    >>> check_flag(np.True_, "light_background")
    True
    >>> check_flag("no", "light_background")
    Traceback (most recent call last):
    ...
    TypeError: light_background must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_progress(progress: Any) -> Callable[[int, int], Any] | None:
    """``progress``: None or a function ``progress(done, total)``; else a one-line TypeError
    (before any work, not at the first block).

    Examples
    --------
    >>> check_progress(5)
    Traceback (most recent call last):
    ...
    TypeError: progress must be a function progress(done, total) or None, got 5
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function progress(done, total) or None, got "
                        f"{progress!r}")
    return progress


def check_cancel(cancel: Any) -> Any:
    """``cancel``: None or anything with ``is_set()`` (a ``threading.Event``); else a one-line
    TypeError.

    Examples
    --------
    >>> check_cancel(True)
    Traceback (most recent call last):
    ...
    TypeError: cancel must have is_set(), as a threading.Event has, or be None; got True
    """
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise TypeError(f"cancel must have is_set(), as a threading.Event has, or be None; got "
                        f"{cancel!r}")
    return cancel
