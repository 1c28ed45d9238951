"""How many threads the compiled kernels may use.

Every parallel kernel takes its thread count as an argument; this module is the one place
that decides it: ``BGSUB_NUM_THREADS`` if set, else the CPUs this process may run on, lowered
for the calling thread inside :func:`limit_threads` (for instance while a small plane runs
where starting a thread team would cost more than it saves, or inside a pool of workers).
:func:`map_in_order` runs independent jobs (a stack's planes) a few at a time, each with its
share of those threads.
"""

from __future__ import annotations

import collections
import contextvars
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["max_threads", "num_threads", "limit_threads", "map_in_order", "threads_for_work"]

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_local = threading.local()


def max_threads() -> int:
    """The threads available to this process: ``BGSUB_NUM_THREADS``, else its usable CPUs.

    Examples
    --------
    >>> max_threads() >= 1
    True
    """
    value = os.environ.get("BGSUB_NUM_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(
                f"BGSUB_NUM_THREADS must be a positive integer, got {value!r}; unset it or give "
                "a number such as 4"
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def num_threads() -> int:
    """The threads a kernel called from this thread should use now.

    Examples
    --------
    >>> with limit_threads(1):
    ...     num_threads()
    1
    """
    limit = getattr(_local, "limit", None)
    available = max_threads()
    return available if limit is None else max(1, min(limit, available))


def threads_for_work(work: float, per_thread: float) -> int:
    """Threads for a job of ``work`` units, each thread getting at least ``per_thread``.

    At most :func:`num_threads`; small jobs run on one thread, where waking others
    would cost more than it saves.

    Examples
    --------
    >>> threads_for_work(10, per_thread=100)
    1
    """
    return int(max(1, min(num_threads(), work // per_thread)))


@contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Run the kernels called from this thread with at most ``n`` threads inside the block."""
    before = getattr(_local, "limit", None)
    _local.limit = max(1, int(n))
    try:
        yield
    finally:
        _local.limit = before


def map_in_order(fn: Callable[[_Item], _Result], items: Iterable[_Item], workers: int
                 ) -> Iterator[_Result]:
    """``fn(item)`` for each of ``items``, in their order, ``workers`` at a time on threads.

    Each call runs with its share of this thread's :func:`num_threads` (at least one) and in
    a copy of the caller's context (a cancel flag, NumPy's error state); ``items`` are read
    only as calls start, at most ``workers`` ahead of the results taken. An error is raised
    where its result is taken, after the calls running then have ended. With ``workers``
    under 2, each call runs on this thread, in turn.

    Examples
    --------
    >>> list(map_in_order(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
    """
    if workers < 2:
        yield from map(fn, items)
        return
    share = max(1, num_threads() // workers)

    def one(item: _Item) -> _Result:
        with limit_threads(share):
            return fn(item)

    with ThreadPoolExecutor(workers, thread_name_prefix="bgsub") as pool:
        running: collections.deque = collections.deque()
        for item in items:
            running.append(pool.submit(contextvars.copy_context().run, one, item))
            if len(running) == workers:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
