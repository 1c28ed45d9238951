"""Atomic writes: a temporary file in the target folder, renamed when complete.

A temporary file is named ``.<target name>.<pid>.bgsub-tmp``: hidden, next to
its target (so the final rename never crosses file systems), and tagged with
the writing process so that a later run can tell a stale one from a live one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

TEMP_TAG = ".bgsub-tmp"
_TEMP_RE = re.compile(r"^\..+\.(\d+)\.bgsub-(?:tmp|old)$")

_live: set[Path] = set()
_lock = threading.Lock()


def temp_path_for(target: Path) -> Path:
    """The temporary path this process uses while writing ``target``."""
    return target.with_name(f".{target.name}.{os.getpid()}{TEMP_TAG}")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a bgsub temporary file or folder."""
    return _TEMP_RE.match(name) is not None


@contextlib.contextmanager
def atomic_target(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``target`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file or
    folder is removed and ``target`` is left as it was.

    Examples
    --------
    >>> with atomic_target(path) as tmp:  # doctest: +SKIP
    ...     tmp.write_bytes(data)
    """
    target = Path(target)
    tmp = temp_path_for(target)
    _remove(tmp)
    with _lock:
        _live.add(tmp)
    try:
        yield tmp
        _replace(tmp, target)
    finally:
        with _lock:
            _live.discard(tmp)
        _remove(tmp)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on them as usual.

    For writes that cannot be abandoned half-way: zarr-python performs its I/O
    in a thread of its own, which goes on writing into a temporary store after
    an interrupt stops the calling thread from waiting for it, so the store
    could not be removed cleanly. Only in the main thread (the only one that
    receives signals); elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum, handler in previous.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(signum, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            else:  # the default action (terminate): as if the signal came now
                os.kill(os.getpid(), caught[0])


def _replace(tmp: Path, target: Path) -> None:
    if not tmp.is_dir():
        os.replace(tmp, target)
        return
    # A folder (Zarr) cannot replace a non-empty folder: move the old one aside first.
    old = target.with_name(f".{target.name}.{os.getpid()}.bgsub-old")
    if target.exists() or target.is_symlink():
        _remove(old)
        os.replace(target, old)
    os.replace(tmp, target)
    _remove(old)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def cleanup_live_temp_files() -> int:
    """Remove every temporary file this process is writing; return how many."""
    with _lock:
        paths = list(_live)
        _live.clear()
    for path in paths:
        with contextlib.suppress(OSError):
            _remove(path)
    return len(paths)


def remove_stale_temp_files(folder: Path | str) -> list[Path]:
    """Remove temporary files left in ``folder`` by bgsub processes that no longer run."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            _remove(entry)
            removed.append(entry)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
