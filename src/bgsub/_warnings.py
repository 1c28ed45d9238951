"""The warning bgsub gives when an estimate's assumptions do not hold."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["BackgroundWarning", "collected", "warn"]


class BackgroundWarning(UserWarning):
    """A background estimate whose assumptions did not hold: the result may be wrong.

    The message is one line naming the reason and the fix, e.g. "only 12 % of
    the pixels look like background ...; use a larger radius or
    method='rolling_ball'". Turn it into an error with
    ``warnings.simplefilter("error", bgsub.BackgroundWarning)``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("only 12 % of the pixels look like background; use a larger radius")
    >>> caught[0].category.__name__
    'BackgroundWarning'
    """


#: bgsub's own files: a warning points at the first line outside them
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: ... unless that line is a thread's start (a warning issued on a worker thread)
_THREAD_STARTS = ("threading.py", os.path.join("concurrent", "futures", "thread.py"))


#: where :func:`collected` gathers the messages instead of issuing them (None: issue them)
_collecting: ContextVar[list[str] | None] = ContextVar("bgsub_collecting", default=None)


def warn(message: str, stacklevel: int = 3) -> None:
    """Issue a :class:`BackgroundWarning` with a one-line ``message``, pointing at the line
    that called bgsub (Python's ``skip_file_prefixes``, from 3.12): the user's own call to
    ``subtract_background`` rather than a line inside bgsub, so that the default "once per
    location" filter shows it once per call site. ``stacklevel`` is used where no such line
    is on this thread's stack (a worker thread's). Inside :func:`collected` the message is
    gathered instead."""
    messages = _collecting.get()
    if messages is not None:
        messages.append(message)
        return
    warnings.warn(message, BackgroundWarning, stacklevel=_outside_level(stacklevel))


@contextmanager
def collected() -> Iterator[list[str]]:
    """Gather the messages of the :class:`BackgroundWarning` s issued inside the block, in
    order, instead of issuing them: for a face that shows them its own way (napari's
    message line) or once each (``bgsub sweep``).

    Unlike :func:`warnings.catch_warnings`, whose filters are the whole process's, this is
    thread-safe: it sees only this thread's warnings and those of the worker threads bgsub
    starts from it (they run in a copy of its context), and leaves every other thread's
    warnings, and the warning filters, alone.

    Examples
    --------
    >>> with collected() as messages:
    ...     warn("only 12 % of the pixels look like background; use a larger radius")
    >>> messages
    ['only 12 % of the pixels look like background; use a larger radius']
    """
    messages: list[str] = []
    token = _collecting.set(messages)
    try:
        yield messages
    finally:
        _collecting.reset(token)


def _outside_level(default: int) -> int:
    frame, level = sys._getframe(2), 2  # (level 2: the caller of warn)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    if frame is None or frame.f_code.co_filename.endswith(_THREAD_STARTS):
        return default
    return level
