"""Heavy dependencies imported on first use, to keep ``import bgsub`` and the CLI quick.

Most modules import what they need inside the function that needs it. A module
that calls a dependency from many functions binds it once with
:func:`lazy_module` instead.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_before_threads", "lazy_module"]


class _LazyModule:
    """Stands for a module; the first attribute looked up imports it (thread-safely)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        # import_module returns the cached module after the first call and takes the
        # import lock only then, so concurrent first uses from threads are safe
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazily imported module {self._name!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when one of its attributes is used.

    Examples
    --------
    >>> ndi = lazy_module("scipy.ndimage")
    >>> import numpy as np
    >>> float(ndi.uniform_filter(np.ones((4, 4)), 3)[0, 0])
    1.0
    """
    return _LazyModule(name)


def import_before_threads(*names: str) -> None:
    """Import modules ``names`` now, on the calling thread, before threads that use them start.

    Two threads that import modules of one package for the first time at once can deadlock
    in Python's per-module import locks; Python then breaks the cycle by handing one of them
    a half-initialised module, and that thread fails with an ``ImportError`` ("partially
    initialized module"). Importing first, on one thread, leaves the threads nothing to
    import. A module already imported costs a dictionary lookup.

    Examples
    --------
    >>> import_before_threads("scipy.ndimage")
    >>> import sys
    >>> "scipy.ndimage" in sys.modules
    True
    """
    for name in names:
        importlib.import_module(name)
