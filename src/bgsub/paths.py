"""Where bgsub may write: every path it writes lies inside the output folder.

Every planned output, sidecar, figure and temporary file of ``bgsub run`` and
every file of ``bgsub sweep``/``demo`` goes through :func:`check_inside`
before anything is written. The path is resolved the way the operating system
will resolve it (``..`` and symbolic links, also in folders that do not exist
yet), so that no ``--suffix``, configuration file, provenance record, input
name or link can send a write elsewhere. The folder walk of ``-r`` visits each
real folder once (:func:`walk_once`), whatever links point back into it.

The guard does not depend on how the path was made: it is the last check
before writing, and cheap enough to call for every file.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = ["OutsideOutputError", "check_inside", "check_name", "check_not_input",
           "check_not_replacing", "glob_once", "is_inside", "real", "replaces_foreign_file",
           "walk_once"]

#: The longest file name (bytes) most file systems accept.
NAME_MAX = 255


class OutsideOutputError(ValueError):
    """A path bgsub was about to write lies outside its output folder; nothing was written."""


def real(path: Path | str) -> Path:
    """``path`` with ``..`` and every symbolic link resolved, even where it does not exist yet.

    Examples
    --------
    >>> real("/tmp/a/../b").name
    'b'
    """
    return Path(os.path.normcase(os.path.realpath(path)))


def is_inside(path: Path | str, folder: Path | str) -> bool:
    """Whether ``path``, resolved, is ``folder`` (resolved) or lies below it.

    Examples
    --------
    >>> is_inside("/data/out/a.tif", "/data/out"), is_inside("/data/out/../a.tif", "/data/out")
    (True, False)
    """
    target, root = real(path), real(folder)
    return target == root or root in target.parents


def check_inside(path: Path | str, folder: Path | str, what: str = "output") -> Path:
    """Return ``path`` if it resolves inside ``folder``; else raise :class:`OutsideOutputError`.

    A path that resolves to ``folder`` itself is refused too: bgsub writes
    files into the folder, never over it.

    Examples
    --------
    >>> check_inside("out/a.tif", "out")
    PosixPath('out/a.tif')
    >>> check_inside("out/../escaped.tif", "out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bgsub.paths.OutsideOutputError: the output out/../escaped.tif would be written outside ...
    """
    target, root = real(path), real(folder)
    if root not in target.parents:
        raise OutsideOutputError(
            f"the {what} {path} would be written outside the output folder {folder}; "
            "check --suffix, the config file and the input names")
    return Path(path)


def check_name(path: Path | str, what: str = "output") -> Path:
    """Refuse a file name longer than :data:`NAME_MAX` bytes (the file system would refuse it).

    Examples
    --------
    >>> check_name("out/" + "x" * 300)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the output name xxxxxxxxxxxxxxxxxxxxxxxx... is 300 bytes, longer than the 255 ...
    """
    name = Path(path).name
    size = len(os.fsencode(name))
    if size > NAME_MAX:
        raise ValueError(f"the {what} name {name[:24]}... is {size} bytes, longer than the "
                         f"{NAME_MAX} a file name may have; use a shorter input name or --suffix")
    return Path(path)


def check_not_input(path: Path | str, inputs: Iterable[Path | str], hint: str) -> Path:
    """Refuse to write ``path`` when it is (after links) one of ``inputs``.

    Examples
    --------
    >>> check_not_input("a.tif", ["./a.tif"], "choose another -o")
    Traceback (most recent call last):
    ...
    bgsub.paths.OutsideOutputError: a.tif is an input and would be overwritten; choose another -o
    """
    target = real(path)
    if any(real(p) == target for p in inputs):
        raise OutsideOutputError(f"{path} is an input and would be overwritten; {hint}")
    return Path(path)


def check_not_replacing(path: Path | str, hint: str, *, figure: bool = False) -> Path:
    """Refuse to write ``path`` over a file bgsub did not write (a user's image or figure
    named by chance: it would be lost); a file bgsub wrote (:func:`bgsub.io.written_by_bgsub`)
    is replaced, as a rerun does. For a ``figure``, only a figure bgsub wrote is
    (:func:`bgsub.io.is_bgsub_figure`: a montage never replaces a corrected image).

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> check_not_replacing(sample_path(), "choose another -o")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...sample_nuclei.tif exists and was not written by bgsub; choose another -o,
    or move that file away first
    """
    path = Path(path)
    if replaces_foreign_file(path, figure=figure):
        made = "is not a figure bgsub wrote" if figure else "was not written by bgsub"
        raise ValueError(f"{path} exists and {made}; {hint}, or move that file away first")
    return path


def replaces_foreign_file(path: Path, *, figure: bool = False) -> bool:
    """Whether writing ``path`` would replace something bgsub did not write: an existing
    entry (a dangling link included) that is not a regular file bgsub wrote
    (:func:`bgsub.io.written_by_bgsub`; for a ``figure``, :func:`bgsub.io.is_bgsub_figure`)."""
    from bgsub.io import is_bgsub_figure, written_by_bgsub

    if not (path.exists() or path.is_symlink()):
        return False
    ours = is_bgsub_figure if figure else written_by_bgsub
    return not (path.is_file() and ours(path))


def walk_once(folder: Path, recursive: bool, is_leaf: Callable[[Path], bool]
              ) -> Iterator[Path]:
    """Entries of ``folder`` (and, if ``recursive``, of its sub-folders) in sorted order.

    Each real folder is entered once, however many links lead to it, so links
    to ``.`` or to a parent do not make the walk grow without end. Folders
    for which ``is_leaf`` is true (Zarr stores) are yielded, not entered.
    Hidden entries are skipped.
    """
    seen: set[tuple[int, int]] = set()

    def walk(current: Path) -> Iterator[Path]:
        try:
            stat = current.stat()
            entries = sorted(current.iterdir())
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) in seen:
            return
        seen.add((stat.st_dev, stat.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and not is_leaf(entry):
                if recursive:
                    yield from walk(entry)
            else:
                yield entry

    yield from walk(folder)


def glob_once(pattern: str, root: Path, recursive: bool, is_leaf: Callable[[Path], bool]
              ) -> list[Path]:
    """The paths below ``root`` matching ``pattern`` (glob syntax), each real folder walked once.

    :func:`glob.glob` follows links to folders without end: two links to
    ``.`` make ``"in/**/*.tif"`` run for ever. Here ``**`` (with
    ``recursive``) matches any number of folders, ``*``, ``?`` and ``[...]``
    match within one name, as for :func:`glob.glob`; hidden names are skipped.
    """
    wanted = Path(pattern).parts[len(root.parts) if str(root) != "." else 0:]
    if not recursive:
        wanted = tuple("*" if part == "**" else part for part in wanted)
    deep = len(wanted) > 1 or "**" in wanted
    found = []
    for path in walk_once(root, deep, is_leaf):
        parts = path.relative_to(root).parts
        if _matches(parts, wanted):
            found.append(path)
    return sorted(found)


def _matches(parts: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return not parts
    if wanted[0] == "**":
        return _matches(parts, wanted[1:]) or (bool(parts) and _matches(parts[1:], wanted))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], wanted[0]) and _matches(
        parts[1:], wanted[1:])
