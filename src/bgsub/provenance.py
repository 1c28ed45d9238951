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
from pathlib import Path
from typing import Any

import bgsub

__all__ = ["RECORD_VERSION", "embedded_record", "file_identity", "input_record",
           "read_sidecar", "sha256_of", "sidecar_path", "sidecar_record", "up_to_date"]

RECORD_VERSION = 1
SIDECAR_SUFFIX = ".bgsub.json"


def sidecar_path(output: Path) -> Path:
    """``out/cells.tif`` -> ``out/cells.tif.bgsub.json``."""
    return output.with_name(output.name + SIDECAR_SUFFIX)


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


def input_record(path: Path, series: int | None) -> dict[str, Any]:
    """Name, series, size, time and hash of an input, taken before it is read."""
    identity = file_identity(path)
    return {"path": str(path.resolve()), "name": path.name, "series": series,
            **identity, "sha256": sha256_of(path)}


def embedded_record(parameters: dict[str, Any], source: dict[str, Any], kind: str
                    ) -> dict[str, Any]:
    """The record stored inside an output file (no times, no output path)."""
    return {
        "bgsub_provenance": RECORD_VERSION,
        "bgsub_version": bgsub.__version__,
        "kind": kind,
        "parameters": parameters,
        "input": {key: source[key] for key in ("name", "series", "size", "sha256")},
    }


def sidecar_record(
    parameters: dict[str, Any],
    source: dict[str, Any],
    request: dict[str, Any],
    settings: dict[str, Any],
    outputs: dict[str, tuple[Path, str]],
) -> dict[str, Any]:
    """The full record written to ``<output>.bgsub.json``.

    ``outputs`` maps a role (``"image"``, ``"background"``) to its path and
    format; their sizes and times are taken now, after they were written.
    """
    record = embedded_record(parameters, source, "foreground")
    record.pop("kind")
    record["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
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
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "bgsub_provenance" in record else None


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
    return _same_input(record.get("input", {}), source)


def _same_input(entry: dict[str, Any], source: Path) -> tuple[bool, str]:
    if not source.exists():
        return False, "input missing"
    identity = file_identity(source)
    if identity["size"] != entry.get("size"):
        return False, "input changed"
    if identity["mtime_ns"] == entry.get("mtime_ns"):
        return True, ""
    if sha256_of(source) == entry.get("sha256"):
        return True, ""
    return False, "input changed"
