"""Provenance records: what made an output, stored in it and in a JSON sidecar.

The record embedded in an output (TIFF description, OME annotation, ImageJ
Info, PNG text chunk, Zarr attributes) holds no time stamp or output path, so
that re-running the same settings on the same input writes identical bytes.
The sidecar ``<output>.bgsub.json`` adds the paths, file sizes, times and the
requested settings, which decide whether an output is up to date.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bgsub

__all__ = ["RECORD_VERSION", "embedded_record", "file_identity", "input_mismatch",
           "input_record", "read_sidecar", "recorded_outputs", "sha256_of", "sidecar_path",
           "sidecar_record", "up_to_date"]

RECORD_VERSION = 1
SIDECAR_SUFFIX = ".bgsub.json"
#: The longest file name (bytes) most file systems accept.
_NAME_MAX = 255


def sidecar_path(output: Path) -> Path:
    """``out/cells.tif`` -> ``out/cells.tif.bgsub.json``.

    A name too long for the suffix (over 255 bytes with it) is shortened, and
    tagged with a hash of the full name so that two long names stay apart.

    Examples
    --------
    >>> sidecar_path(Path("out/cells.tif")).name
    'cells.tif.bgsub.json'
    >>> len(sidecar_path(Path("out/" + "x" * 250 + ".tif")).name.encode())
    255
    """
    name = output.name + SIDECAR_SUFFIX
    if len(os.fsencode(name)) <= _NAME_MAX:
        return output.with_name(name)
    tag = "~" + hashlib.sha256(os.fsencode(output.name)).hexdigest()[:12] + SIDECAR_SUFFIX
    return output.with_name(_cut(output.name, _NAME_MAX - len(tag)) + tag)


def _cut(name: str, limit: int) -> str:
    """The longest start of ``name`` whose encoding fits in ``limit`` bytes."""
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, or of every file of a folder (Zarr) in sorted order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def file_identity(path: Path) -> dict[str, int]:
    """Size and modification time (ns) of a file, or summed/latest over a folder's files."""
    if not path.is_dir():
        stat = path.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return {"size": sum(s.st_size for s in stats),
            "mtime_ns": max((s.st_mtime_ns for s in stats), default=0)}


def input_record(path: Path, series: int | None, companions: Sequence[Path] = ()
                 ) -> dict[str, Any]:
    """Name, series, size, time, file identity and hash of an input, taken before it is read.

    ``device`` and ``inode`` tell a file from another one of the same name,
    size and time (copied with ``cp -p`` into its place, or in another folder).
    ``companions``: the other files the image is read from (a multi-file OME-TIFF's),
    recorded by path, size and time, so that a change to any of them is seen.
    """
    identity = file_identity(path)
    stat = path.stat()
    record = {"path": str(path.resolve()), "name": path.name, "series": series,
              **identity, "device": stat.st_dev, "inode": stat.st_ino,
              "sha256": sha256_of(path)}
    if companions:
        record["companions"] = [{"path": str(p.resolve()), **file_identity(p)}
                                for p in companions]
    return record


def embedded_record(parameters: dict[str, Any], source: dict[str, Any], kind: str,
                    measured_radius: Sequence[float] | None = None) -> dict[str, Any]:
    """The record stored inside an output file (no times, no output path).

    ``measured_radius``: what ``radius="auto"`` measured (pixels per spatial axis), recorded
    beside the parameters as ``"measured_radius"``; the parameters keep ``"auto"``, so that
    a rerun from the record measures again, as the first run did.
    """
    record = {
        "bgsub_provenance": RECORD_VERSION,
        "bgsub_version": bgsub.__version__,
        "kind": kind,
        "parameters": parameters,
        "input": {key: source[key] for key in ("name", "series", "size", "sha256")},
    }
    if measured_radius is not None:
        record["measured_radius"] = [round(float(r), 3) for r in measured_radius]
    return record


def radius_text(radii: Sequence[float], spec: str = ".3g") -> str:
    """A measured radius (one value per spatial axis) as the faces show it: each distinct
    value once, in order, formatted with ``spec``, joined by commas.

    Examples
    --------
    >>> radius_text((25.881, 25.881)), radius_text([3.0, 25.881, 25.881], "g")
    ('25.9', '3,25.881')
    """
    return ",".join(format(float(r), spec) for r in dict.fromkeys(radii))


def sidecar_record(
    parameters: dict[str, Any],
    source: dict[str, Any],
    request: dict[str, Any],
    settings: dict[str, Any],
    outputs: dict[str, tuple[Path, str]],
    measured_radius: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The full record written to ``<output>.bgsub.json``.

    ``outputs`` maps a role (``"image"``, ``"background"``) to its path and
    format; their sizes and times are taken now, after they were written.
    ``measured_radius`` as :func:`embedded_record`'s.
    """
    record = embedded_record(parameters, source, "foreground", measured_radius)
    record.pop("kind")
    record["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    record["input"] = dict(source)
    record["request"] = request
    record["settings"] = settings
    record["outputs"] = {
        role: {"path": str(path.resolve()), "format": fmt, **file_identity(path)}
        for role, (path, fmt) in outputs.items()
    }
    return record


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar record at ``path``, or None if it is missing or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and "bgsub_provenance" in record else None


def _table(record: Any, key: str) -> dict[str, Any]:
    """``record[key]`` when both are JSON objects, else ``{}`` (a damaged or foreign record)."""
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, dict) else {}


def recorded_outputs(sidecar: Path) -> list[Path]:
    """The outputs a sidecar says it wrote (not its input, for an in-place run).

    A damaged, foreign or malformed sidecar gives ``[]``: it never stops a batch.

    Examples
    --------
    >>> recorded_outputs(Path("no-such.bgsub.json"))
    []
    """
    record = read_sidecar(sidecar)
    source = _table(record, "input").get("path")
    found = []
    for entry in _table(record, "outputs").values():
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path and path != source:
            found.append(Path(path))
    return found


def input_mismatch(record: dict[str, Any], with_input: bool = True) -> str | None:
    """Why the input a provenance record names (unless not ``with_input``: other inputs are
    given), or a shading file it was corrected with (``--flatfield`` / ``--darkfield``), is
    not the one it was made from, or None.

    Used by ``--config RECORD``: reproducing from a changed input gives another result.
    """
    entry = _table(record, "input")
    why = _file_mismatch(entry.get("path"), entry.get("sha256"), "the input") \
        if with_input else None
    settings, request = _table(record, "settings"), _table(record, "request")
    for role in ("flatfield", "darkfield"):
        why = why or _file_mismatch(settings.get(role), request.get(f"{role}_sha256"),
                                    f"the --{role} file")
    return why


def _file_mismatch(path: Any, digest: Any, what: str) -> str | None:
    """Why the file at ``path`` (``what`` the record names) no longer has the SHA-256
    ``digest``, or None (also where the record holds no such entry)."""
    if not isinstance(path, str) or not isinstance(digest, str):
        return None
    source = Path(path)
    if not source.exists():
        return f"{path}, {what} the record names, does not exist"
    if sha256_of(source) != digest:
        return (f"{path} has changed since the record was made (its SHA-256 differs); "
                "the result will not reproduce the recorded output")
    return None


def up_to_date(
    record: dict[str, Any] | None,
    request: dict[str, Any],
    source: Path,
    outputs: dict[str, Path],
    in_place: bool = False,
) -> tuple[bool, str]:
    """Whether the outputs a sidecar describes are complete and match the request.

    Returns ``(True, "")`` or ``(False, reason)``. An output written over its
    own input (``in_place``) is up to date when the file is still the output.
    """
    if record is None:
        return False, "no provenance record"
    try:
        return _up_to_date(record, request, source, outputs, in_place)
    except (AttributeError, KeyError, TypeError, ValueError, OSError):
        return False, "provenance record damaged"


def _up_to_date(record: dict[str, Any], request: dict[str, Any], source: Path,
                outputs: dict[str, Path], in_place: bool) -> tuple[bool, str]:
    if record.get("bgsub_version") != bgsub.__version__:
        return False, f"made by bgsub {record.get('bgsub_version')}"
    if record.get("request") != request:
        return False, "settings changed"
    recorded = record.get("outputs", {})
    if set(recorded) != set(outputs):
        return False, "outputs changed"
    for role, path in outputs.items():
        entry = recorded[role]
        if not path.exists() or Path(entry.get("path", "")) != path.resolve():
            return False, f"{role} missing"
        identity = file_identity(path)
        if identity != {"size": entry.get("size"), "mtime_ns": entry.get("mtime_ns")}:
            return False, f"{role} modified or incomplete"
    if in_place:
        return True, ""
    same, why = _same_input(record.get("input", {}), source)
    return (same, why) if not same else _same_companions(record.get("input", {}))


def _same_companions(entry: dict[str, Any]) -> tuple[bool, str]:
    """The other files of a multi-file input are as recorded (size and time)."""
    for companion in entry.get("companions", []):
        path = Path(companion["path"])
        if not path.exists():
            return False, f"{path.name}, a file of the input's dataset, is missing"
        if file_identity(path) != {"size": companion.get("size"),
                                   "mtime_ns": companion.get("mtime_ns")}:
            return False, f"{path.name}, a file of the input's dataset, changed"
    return True, ""


def _same_input(entry: dict[str, Any], source: Path) -> tuple[bool, str]:
    """The recorded input is ``source``: the same file untouched, or the same content.

    Name, size and time alone are not an identity (two folders can hold files
    alike in all three): the resolved path and the device and inode must also
    match, else the content hash decides.
    """
    if not source.exists():
        return False, "input missing"
    identity = file_identity(source)
    if identity["size"] != entry.get("size"):
        return False, "input changed"
    stat = source.stat()
    same_file = (identity["mtime_ns"] == entry.get("mtime_ns")
                 and entry.get("path") == str(source.resolve())
                 and entry.get("inode", stat.st_ino) == stat.st_ino
                 and entry.get("device", stat.st_dev) == stat.st_dev)
    if same_file or sha256_of(source) == entry.get("sha256"):
        return True, ""
    if entry.get("path") != str(source.resolve()):
        return False, f"made from another input ({entry.get('path')})"
    return False, "input changed"
