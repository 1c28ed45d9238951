"""Cancelling a computation from another thread, also in the middle of one long block.

The engine checks its caller's flag between blocks; a method that takes long on one
block (``robust`` on a large plane) also calls :func:`checkpoint` between its stages.
The flag reaches the method through a context variable, set by :func:`cancellable`
around the block loop, so no method signature carries it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

__all__ = ["CancelFlag", "Cancelled", "cancellable", "checkpoint"]


class CancelFlag(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The computation was cancelled; nothing was returned."""


_flag: ContextVar[CancelFlag | None] = ContextVar("bgsub_cancel", default=None)


@contextmanager
def cancellable(cancel: CancelFlag | None) -> Iterator[None]:
    """Let :func:`checkpoint` see ``cancel`` in this thread inside the block.

    Examples
    --------
    >>> import threading
    >>> flag = threading.Event()
    >>> with cancellable(flag):
    ...     checkpoint()  # not set: nothing happens
    ...     flag.set()
    ...     try:
    ...         checkpoint()
    ...     except Cancelled:
    ...         print("cancelled")
    cancelled
    """
    token = _flag.set(cancel)
    try:
        yield
    finally:
        _flag.reset(token)


def checkpoint() -> None:
    """Raise :class:`Cancelled` if the flag set by :func:`cancellable` is set."""
    cancel = _flag.get()
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
