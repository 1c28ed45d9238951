"""Atomic writes: a temporary file in the target folder, renamed when complete.

A temporary file is named ``.<target name>.<pid>-<host>.bgsub-tmp``: hidden, next
to its target (so the final rename never crosses file systems), and tagged with
the writing process and its machine (:func:`host_token`: the host, its boot and
its PID namespace), so that a later run can tell a stale one from a live one. Only
a file tagged with this machine's token can be judged: a process id means nothing
on another node of a cluster sharing the folder, or in another container, and a
live run there must not lose its temporary store.
A target name too long for the tags is shortened and marked with a hash of
the full name (``.<start of name>~<hash>.<pid>.bgsub-tmp``), so that a legal
250-character name never fails for its temporary name.

A folder (Zarr store) replacing another is written in two renames: the old
one is moved aside as ``.<name>.<pid>.bgsub-old`` first. If the process dies
between the two, the old folder may be the user's only copy of an input
(``--overwrite``): :func:`remove_stale_temp_files` puts it back, never deletes it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

TEMP_TAG = ".bgsub-tmp"
OLD_TAG = ".bgsub-old"
_TEMP_RE = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:-(?P<host>[0-9a-f]{8}))?\.bgsub-(?P<kind>tmp|old)$")
_HASHED_RE = re.compile(r"~[0-9a-f]{12}$")
_NAME_MAX = 255

_live: set[Path] = set()
_lock = threading.Lock()


def temp_path_for(target: Path) -> Path:
    """The temporary path this process uses while writing ``target``.

    Examples
    --------
    >>> temp_path_for(Path("out/a.tif")).name == f".a.tif.{os.getpid()}-{host_token()}.bgsub-tmp"
    True
    >>> len(temp_path_for(Path("out/" + "x" * 250 + ".tif")).name.encode()) <= 255
    True
    """
    return _tagged(target, TEMP_TAG)


def _tagged(target: Path, tag: str) -> Path:
    """``.<name>.<pid>-<host><tag>`` next to ``target``; a name too long is cut and
    hashed."""
    end = f".{os.getpid()}-{host_token()}{tag}"
    name = f".{target.name}{end}"
    if len(os.fsencode(name)) <= _NAME_MAX:
        return target.with_name(name)
    mark = "~" + hashlib.sha256(os.fsencode(target.name)).hexdigest()[:12]
    head = target.name
    while len(os.fsencode(f".{head}{mark}{end}")) > _NAME_MAX:
        head = head[:-1]
    return target.with_name(f".{head}{mark}{end}")


@functools.cache
def host_token() -> str:
    """Eight hex digits naming where this process's id means something: the host name,
    its boot (Linux) and its PID namespace (a container's own), hashed."""
    parts = [socket.gethostname()]
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        with contextlib.suppress(OSError):
            parts.append(os.readlink(source) if source.endswith("/pid")
                         else Path(source).read_text().strip())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


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
    old = _tagged(target, OLD_TAG)
    moved = False
    try:
        if target.exists() or target.is_symlink():
            _remove(old)
            os.replace(target, old)
            moved = True
        os.replace(tmp, target)
    except BaseException:
        # interrupted or failed between the renames: the old folder goes back in place
        if moved and not (target.exists() or target.is_symlink()):
            os.replace(old, target)
        raise
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
    """Remove temporary files left in ``folder`` by bgsub processes that no longer run.

    A folder moved aside (``.bgsub-old``) by a process that died before the
    new one took its place is put back under its name, never removed: it may
    be the only copy of an input. One whose name cannot be told (a shortened
    long name) is left alone, and so is everything written on another machine or
    in another container (another :func:`host_token`), or by a bgsub that did not
    tag its files: whether that process still runs cannot be told from here.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in sorted(entries, key=lambda e: e.name.endswith(OLD_TAG), reverse=True):
        match = _TEMP_RE.match(entry.name)
        if (match is None or match.group("host") != host_token()
                or _pid_alive(int(match.group("pid")))):
            continue
        with contextlib.suppress(OSError):
            if match.group("kind") == "old" and not _replaced(entry, match.group("name")):
                continue
            _remove(entry)
            removed.append(entry)
    return removed


def _replaced(old: Path, name: str) -> bool:
    """Whether the target of the moved-aside ``old`` is back in place (so ``old`` may go).

    If it is not, ``old`` is renamed back to it and False is returned.
    """
    if _HASHED_RE.search(name):
        return False  # the full name is unknown: keep it
    target = old.with_name(name)
    if target.exists() or target.is_symlink():
        return True
    os.replace(old, target)
    return False


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
