"""Reading and writing image files, with their axes, pixel sizes and names.

``bgsub.io`` knows file formats, not background methods:

* :func:`read_image` -- pixels and :class:`ImageMetadata` of one series of a
  TIFF, OME-TIFF, ImageJ hyperstack, PNG, JPEG, Zarr or OME-Zarr file.
* :func:`write_image` -- write pixels, metadata and a provenance record,
  atomically (a temporary file in the target folder, renamed when complete).
* :func:`probe` -- a file's format and number of series, without its pixels.

Examples
--------
>>> from bgsub.io import read_image
>>> from bgsub.data import sample_path
>>> image, meta = read_image(sample_path())
>>> image.shape, meta.axes
((512, 512), 'YX')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bgsub.io import _png, _tiff, _zarr
from bgsub.io._atomic import (
    atomic_target,
    cleanup_live_temp_files,
    is_temp_name,
    remove_stale_temp_files,
)
from bgsub.io._metadata import FORMATS, ImageMetadata

__all__ = [
    "FORMATS", "ImageMetadata", "UnsupportedFileError", "atomic_target",
    "cleanup_live_temp_files", "detect_format", "extension_for", "is_temp_name",
    "probe", "read_image", "read_provenance", "remove_stale_temp_files", "split_name",
    "write_image", "write_json",
]

WRITABLE_FORMATS = ("tiff", "ome-tiff", "imagej", "png", "zarr", "ome-zarr")
IMAGE_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".png", ".jpg", ".jpeg", ".zarr")
_COMPOUND = (".ome.tiff", ".ome.tif", ".ome.btf", ".ome.zarr")
_EXTENSIONS = {"tiff": ".tif", "ome-tiff": ".ome.tif", "imagej": ".tif", "png": ".png",
               "jpeg": ".jpg", "zarr": ".zarr", "ome-zarr": ".ome.zarr"}
_FAMILY = {"tiff": "tiff", "ome-tiff": "tiff", "imagej": "tiff", "png": "png", "jpeg": "jpeg",
           "zarr": "zarr", "ome-zarr": "zarr"}


class UnsupportedFileError(ValueError):
    """The file is not an image bgsub can read."""


def split_name(name: str) -> tuple[str, str]:
    """Split a file name into stem and extension, keeping ``.ome.tif``-style pairs.

    Examples
    --------
    >>> split_name("cells.ome.tif")
    ('cells', '.ome.tif')
    """
    lower = name.lower()
    for suffix in _COMPOUND:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if dot and stem else (name, "")


def extension_for(fmt: str, input_name: str | None = None) -> str:
    """File extension for ``fmt``; the input's own when it already fits."""
    if input_name is not None:
        ext = split_name(input_name)[1]
        if ext and _format_of_extension(ext) in (fmt, _FAMILY.get(fmt)):
            return ext
    return _EXTENSIONS[fmt]


def _format_of_extension(ext: str) -> str | None:
    ext = ext.lower()
    if ext.startswith(".ome."):
        return "ome-zarr" if ext == ".ome.zarr" else "ome-tiff"
    return {".tif": "tiff", ".tiff": "tiff", ".btf": "tiff", ".tf8": "tiff", ".png": "png",
            ".jpg": "jpeg", ".jpeg": "jpeg", ".zarr": "zarr"}.get(ext)


def detect_format(path: Path | str) -> str:
    """The format of the file at ``path``, from its content; see :data:`FORMATS`.

    Raises
    ------
    UnsupportedFileError
        When it is not a TIFF, PNG, JPEG or Zarr store.
    FileNotFoundError
        When ``path`` does not exist.
    """
    return probe(path)[0]


def probe(path: Path | str) -> tuple[str, int]:
    """``(format, number of series)`` of the file at ``path``, without reading pixels."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path")
    if path.is_dir():
        if not _zarr.is_zarr(path):
            raise UnsupportedFileError("a folder that is not a Zarr store; give its image "
                                       "files, or the folder as an input to process them all")
        return _zarr_format(path), _zarr.series_count(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return _tiff_format(path)
    if magic == _png.PNG_SIGNATURE:
        return "png", 1
    if magic[:3] == b"\xff\xd8\xff":
        return "jpeg", 1
    raise UnsupportedFileError("not a TIFF, PNG, JPEG or Zarr image (unknown file signature); "
                               "convert it to TIFF first")


def _tiff_format(path: Path) -> tuple[str, int]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        count = len(tif.series)
        fmt = "ome-tiff" if tif.is_ome else "imagej" if tif.is_imagej else "tiff"
    if count == 0:
        raise UnsupportedFileError("the TIFF file holds no image; check that it is complete")
    return fmt, count


def _zarr_format(path: Path) -> str:
    import zarr

    node = zarr.open(store=str(path), mode="r")
    if isinstance(node, zarr.Array):
        return "zarr"
    attrs = _zarr._attrs(node)
    return "ome-zarr" if "multiscales" in attrs or "bioformats2raw.layout" in attrs else "zarr"


def read_image(path: Path | str, series: int | None = None) -> tuple[np.ndarray, ImageMetadata]:
    """Read one image (series) of a file with its metadata.

    Parameters
    ----------
    path : path-like
        A TIFF, OME-TIFF, ImageJ hyperstack, PNG, JPEG, Zarr or OME-Zarr file.
    series : int, optional
        Which series of a multi-series file (default: the first).

    Returns
    -------
    image : ndarray
        The pixels, one array axis per letter of ``metadata.axes``.
    metadata : ImageMetadata
        Axes, physical pixel sizes, channel names, the format and its raw metadata.

    Raises
    ------
    UnsupportedFileError
        For a file bgsub cannot read; the message names the reason.
    """
    path = Path(path)
    fmt, _ = probe(path)
    index = 0 if series is None else int(series)
    if _FAMILY[fmt] == "tiff":
        return _tiff.read(path, index)
    if _FAMILY[fmt] == "zarr":
        return _zarr.read(path, index)
    if index != 0:
        raise ValueError(f"series {index} does not exist (a {fmt.upper()} file has one); "
                         "use --series 0")
    return _png.read(path, fmt)


def read_provenance(path: Path | str, series: int | None = None) -> dict[str, Any] | None:
    """The bgsub provenance record stored inside an image file, or None."""
    return read_image(path, series)[1].provenance


def write_image(
    path: Path | str,
    image: np.ndarray,
    metadata: ImageMetadata,
    provenance: dict[str, Any] | None = None,
    *,
    format: str | None = None,
) -> Path:
    """Write ``image`` with its metadata and provenance, atomically.

    Parameters
    ----------
    path : path-like
        The file (or Zarr folder) to write; its folder must exist.
    image : ndarray
        Pixels, one axis per letter of ``metadata.axes``.
    metadata : ImageMetadata
        Axes, pixel sizes, channel names (and, for the same format, its raw extras).
    provenance : dict, optional
        JSON-serialisable record stored in the file (TIFF description, OME
        annotation, ImageJ Info, PNG text chunk or Zarr attributes).
    format : str, optional
        One of ``tiff``, ``ome-tiff``, ``imagej``, ``png``, ``zarr``,
        ``ome-zarr``; default ``metadata.format`` (JPEG is written as PNG).

    Returns
    -------
    Path
        ``path``. Nothing is left at ``path`` if writing fails or is interrupted.
    """
    path = Path(path)
    fmt = format or ("png" if metadata.format == "jpeg" else metadata.format)
    if fmt not in WRITABLE_FORMATS:
        raise ValueError(f"cannot write format {fmt!r}; use one of {', '.join(WRITABLE_FORMATS)}")
    if image.ndim != len(metadata.axes):
        raise ValueError(f"axes {metadata.axes!r} do not match the image's shape {image.shape}")
    with atomic_target(path) as tmp:
        if _FAMILY[fmt] == "tiff":
            _tiff.write(tmp, image, metadata, fmt, provenance)
        elif _FAMILY[fmt] == "zarr":
            _zarr.write(tmp, image, metadata, fmt, provenance)
        else:
            _png.write(tmp, image, metadata, provenance)
    return path


def write_json(path: Path | str, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON, atomically."""
    path = Path(path)
    text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
