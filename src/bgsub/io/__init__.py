"""Reading and writing image files, with their axes, pixel sizes and names.

``bgsub.io`` knows file formats, not background methods:

* :func:`read_image` -- pixels and :class:`ImageMetadata` of one series of a
  TIFF, OME-TIFF, ImageJ hyperstack, PNG, JPEG, Zarr or OME-Zarr file.
* :func:`open_image` -- the same, lazily: an array that reads only the pages,
  tiles or chunks it is indexed with (for images larger than memory).
* :func:`write_image` -- write pixels, metadata and a provenance record,
  atomically (a temporary file in the target folder, renamed when complete).
* :func:`probe` -- a file's format and number of series, without its pixels.
* :func:`write_figure` -- save a matplotlib figure as PNG, atomically, marked as
  bgsub's (:func:`check_figure_name` refuses a name of another image format bgsub
  reads); :func:`is_bgsub_figure` and :func:`written_by_bgsub` (a figure, or an
  image carrying bgsub's provenance) tell such a file from a user's file of the
  same name, which no face replaces.
* :func:`write_chunked` -- write lazily computed (Dask) images chunk by chunk:
  Zarr stores, TIFFs page by page (:func:`pages_fit` says whether they can be).

Examples
--------
>>> from bgsub.io import read_image
>>> from bgsub.data import sample_path
>>> image, meta = read_image(sample_path())
>>> image.shape, meta.axes
((512, 512), 'YX')
"""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bgsub.io import _png, _tiff, _zarr
from bgsub.io._atomic import (
    atomic_target,
    cleanup_live_temp_files,
    is_temp_name,
    remove_stale_temp_files,
    temp_path_for,
)
from bgsub.io._chunked import (
    TIFF_FORMATS,
    ZARR_FORMATS,
    ChunkedOutput,
    Runner,
    pages_fit,
    write_chunked,
)
from bgsub.io._errors import ImageTooLargeError, UnsupportedFileError
from bgsub.io._limits import ENV_VAR as MAX_BYTES_ENV
from bgsub.io._limits import max_image_bytes, max_stream_bytes
from bgsub.io._metadata import FORMATS, ImageMetadata, check_channels, length_factor
from bgsub.io._zarr import is_zarr

__all__ = [
    "FORMATS", "MAX_BYTES_ENV", "TIFF_FORMATS", "ZARR_FORMATS", "ChunkedOutput", "ImageMetadata",
    "ImageTooLargeError", "Runner", "UnsupportedFileError", "atomic_target", "check_writable",
    "cleanup_live_temp_files", "detect_format", "extension_for", "is_temp_name", "is_zarr",
    "max_image_bytes", "open_image", "hcs_field_stem", "pages_fit", "probe", "read_image",
    "read_provenance", "remove_stale_temp_files", "split_name", "temp_path_for", "write_chunked",
    "write_image", "check_figure_name", "is_bgsub_figure", "length_factor", "write_figure",
    "write_json", "written_by_bgsub", "dataset_files",
]

WRITABLE_FORMATS = ("tiff", "ome-tiff", "imagej", "png", "zarr", "ome-zarr")
IMAGE_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".png", ".jpg", ".jpeg", ".zarr")
_COMPOUND = (".ome.tiff", ".ome.tif", ".ome.btf", ".ome.zarr")
_EXTENSIONS = {"tiff": ".tif", "ome-tiff": ".ome.tif", "imagej": ".tif", "png": ".png",
               "jpeg": ".jpg", "zarr": ".zarr", "ome-zarr": ".ome.zarr"}
_FAMILY = {"tiff": "tiff", "ome-tiff": "tiff", "imagej": "tiff", "png": "png", "jpeg": "jpeg",
           "zarr": "zarr", "ome-zarr": "zarr"}


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


def hcs_field_stem(path: Path | str) -> str | None:
    """For a field of an HCS plate, the name its output is given before its extension: the
    plate's and the field's path (``plate.ome.zarr/A/1/0`` -> ``plate_A_1_0``, each field's
    own, where its own name, ``0``, is every well's first field's); None for other paths.

    Examples
    --------
    >>> hcs_field_stem("raw/cells.ome.tif") is None
    True
    """
    path = Path(path)
    field = _zarr.hcs_field(path) if path.is_dir() else None
    if field is None:
        return None
    plate, *names = field
    return "_".join([split_name(plate.name)[0], *names])


def extension_for(fmt: str, input_name: str | None = None) -> str:
    """File extension for ``fmt``; the input's own when it already fits.

    OME formats always get an ``.ome.`` extension, and others never do, so
    that tools going by the name see what the file holds.

    Examples
    --------
    >>> extension_for("ome-tiff", "cells_ij.tif"), extension_for("tiff", "a.ome.tiff")
    ('.ome.tif', '.tif')
    >>> extension_for("ome-tiff", "a.ome.tiff"), extension_for("imagej", "a.TIFF")
    ('.ome.tiff', '.TIFF')
    """
    if input_name is not None:
        ext = split_name(input_name)[1]
        kind = _format_of_extension(ext) if ext else None
        if kind is not None and (kind == fmt or (kind == _FAMILY.get(fmt)
                                                 and not fmt.startswith("ome-"))):
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
        When it is not a TIFF, PNG, JPEG or Zarr store, or is damaged.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> from bgsub.io import detect_format
    >>> detect_format(sample_path())
    'tiff'
    """
    return probe(path)[0]


def probe(path: Path | str) -> tuple[str, int]:
    """``(format, number of series)`` of the file at ``path``, without reading pixels.

    Raises
    ------
    UnsupportedFileError
        Not a regular file or Zarr folder, an unknown signature, or a file
        too damaged to list its images.
    FileNotFoundError
        ``path`` does not exist.
    OSError
        The operating system refused to read it (``PermissionError``, I/O error).

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> from bgsub.io import probe
    >>> probe(sample_path())
    ('tiff', 1)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path")
    if path.is_dir():
        if not _zarr.is_zarr(path):
            raise UnsupportedFileError("a folder that is not a Zarr store; give its image "
                                       "files, or the folder as an input to process them all")
        with _converted_errors("Zarr store"):
            return _zarr_format(path), _zarr.series_count(path)
    _check_regular(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        with _converted_errors("TIFF"):
            return _tiff.format_and_count(path)
    if magic == _png.PNG_SIGNATURE:
        return "png", 1
    if magic[:3] == b"\xff\xd8\xff":
        return "jpeg", 1
    raise UnsupportedFileError("not a TIFF, PNG, JPEG or Zarr image (unknown file signature); "
                               "convert it to TIFF first")


def _check_regular(path: Path) -> None:
    """Refuse FIFOs, sockets and devices, which would block or never end when read."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket"
                if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or
                stat.S_ISBLK(mode) else "not a regular file")
        raise UnsupportedFileError(f"{kind}, not an image file; copy the image to a "
                                   "regular file first")


@contextlib.contextmanager
def _converted_errors(kind: str) -> Iterator[None]:
    """Turn whatever a format library raises on a damaged file into one UnsupportedFileError.

    bgsub's own errors, real operating-system errors (permission, I/O, with an
    ``errno``) and interrupts pass unchanged.
    """
    try:
        yield
    except UnsupportedFileError:
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise UnsupportedFileError(_damaged(kind, exc)) from exc
    except MemoryError as exc:
        raise ImageTooLargeError(
            f"reading this {kind} needs more memory than is available ({_first_line(exc)}); "
            f"free memory, or check the file if it should be small") from exc
    except Exception as exc:  # tifffile, imagecodecs, zarr, json, struct: many types
        raise UnsupportedFileError(_damaged(kind, exc)) from exc


def _damaged(kind: str, exc: BaseException) -> str:
    return (f"damaged or truncated {kind} ({type(exc).__name__}: {_first_line(exc)}); "
            "copy or export the file again")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _zarr_format(path: Path) -> str:
    import zarr

    node = zarr.open(store=str(path), mode="r")
    if isinstance(node, zarr.Array):
        return "zarr"
    attrs = _zarr.attributes(node)
    return "ome-zarr" if "multiscales" in attrs or "bioformats2raw.layout" in attrs else "zarr"


def read_image(path: Path | str, series: int | None = None, *, max_bytes: int | None = None
               ) -> tuple[np.ndarray, ImageMetadata]:
    """Read one image (series) of a file with its metadata.

    Parameters
    ----------
    path : path-like
        A TIFF, OME-TIFF, ImageJ hyperstack, PNG, JPEG, Zarr or OME-Zarr file.
    series : int, optional
        Which series of a multi-series file (default: the first).
    max_bytes : int, optional
        Refuse an image whose declared size is larger, before allocating it.
        Default: :func:`max_image_bytes` (``$BGSUB_MAX_IMAGE_BYTES``, else
        the memory available).

    Returns
    -------
    image : ndarray
        The pixels, one array axis per letter of ``metadata.axes``.
    metadata : ImageMetadata
        Axes, physical pixel sizes, channel names, the format and its raw metadata.

    Raises
    ------
    UnsupportedFileError
        For a file bgsub cannot read (unknown, damaged or truncated, no such
        series); the message names the reason and the fix.
    ImageTooLargeError
        (an ``UnsupportedFileError``) The file declares an image larger than
        ``max_bytes``; nothing was allocated.
    FileNotFoundError, OSError
        The file does not exist, or the operating system refused to read it.

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> from bgsub.io import read_image
    >>> image, metadata = read_image(sample_path())
    >>> image.shape, image.dtype.name, metadata.axes, metadata.format
    ((512, 512), 'uint16', 'YX', 'tiff')
    """
    path = Path(path)
    fmt, _ = probe(path)
    index = _series_index(series)
    limit = max_image_bytes() if max_bytes is None else int(max_bytes)
    with _converted_errors(_kind_name(fmt)):
        if _FAMILY[fmt] == "tiff":
            return _tiff.read(path, index, limit)
        if _FAMILY[fmt] == "zarr":
            return _zarr.read(path, index, limit)
        if index != 0:
            raise UnsupportedFileError(f"series {index} does not exist (a {fmt.upper()} file "
                                       "has one); use --series 0")
        return _png.read(path, fmt, limit)


def _kind_name(fmt: str) -> str:
    """How error messages name a file of format ``fmt``."""
    return {"tiff": "TIFF", "zarr": "Zarr store"}.get(_FAMILY[fmt], fmt.upper())


def open_image(path: Path | str, series: int | None = None, *, max_bytes: int | None = None
               ) -> tuple[Any, ImageMetadata]:
    """One image (series) of a TIFF or Zarr file, lazily: its pixels stay on disk.

    Parameters
    ----------
    path : path-like
        A TIFF, OME-TIFF, ImageJ hyperstack, Zarr or OME-Zarr file (for
        OME-Zarr, level 0). PNG and JPEG cannot be read in parts: they are
        read whole.
    series : int, optional
        Which series of a multi-series file (default: the first).
    max_bytes : int, optional
        Refuse an image whose declared size is larger. Default:
        ``$BGSUB_MAX_IMAGE_BYTES`` when set, else no limit (see
        :func:`bgsub.io._limits.max_stream_bytes`).

    Returns
    -------
    array : array-like
        ``shape``, ``dtype``, ``ndim``, ``chunks`` (the file's own: strips,
        tiles, pages or Zarr chunks) and NumPy indexing that reads only what it
        selects: a ``zarr.Array``, or a :class:`bgsub.io._tiff.TiffArray`.
        Wrap it with ``dask.array.from_array(array, chunks=...)``.
    metadata : ImageMetadata
        As :func:`read_image` gives it; for OME-Zarr with the input's pyramid
        in ``original``, from which :func:`write_image` and ``bgsub run``
        rebuild it.

    Raises
    ------
    UnsupportedFileError, ImageTooLargeError, FileNotFoundError, OSError
        As :func:`read_image`.

    Examples
    --------
    >>> from bgsub.io import open_image
    >>> from bgsub.data import sample_path
    >>> array, meta = open_image(sample_path())
    >>> array.shape, array[100:102, 200:203].shape  # reads the strip holding rows 100-101
    ((512, 512), (2, 3))
    """
    path = Path(path)
    fmt, _ = probe(path)
    index = _series_index(series)
    limit = max_stream_bytes() if max_bytes is None else int(max_bytes)
    with _converted_errors(_kind_name(fmt)):
        if _FAMILY[fmt] == "tiff":
            return _tiff.open_array(path, index, 2**63 if limit is None else limit)
        if _FAMILY[fmt] == "zarr":
            return _zarr.open_array(path, index, 2**63 if limit is None else limit)
    return read_image(path, index, max_bytes=limit)


def _series_index(series: Any) -> int:
    if series is None:
        return 0
    if isinstance(series, bool) or not isinstance(series, (int, np.integer)) or series < 0:
        raise TypeError(f"series must be an image index 0, 1, ..., got {series!r}")
    return int(series)


def read_provenance(path: Path | str, series: int | None = None) -> dict[str, Any] | None:
    """The bgsub provenance record stored inside an image file, or None.

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> from bgsub.io import read_provenance
    >>> read_provenance(sample_path()) is None  # (not written by bgsub)
    True
    """
    return read_image(path, series)[1].provenance


def dataset_files(path: Path | str, series: int | None = None) -> list[Path]:
    """Every file that ``path``'s image (``series``) is read from, the file of its first
    plane first: several for a multi-file OME-TIFF dataset (one file per time point or
    position, which is read whole from any of its files), else ``[path]`` (also for a
    file that cannot be read: its reader names the problem).

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> [p.name for p in dataset_files(sample_path())]
    ['sample_nuclei.tif']
    """
    path = Path(path)
    try:
        return [Path(p) for p in _tiff.dataset_files(path, series)]
    except Exception:  # (not a TIFF, damaged, no such series: read_image says which)
        return [path]


def written_by_bgsub(path: Path | str) -> bool:
    """Whether the file at ``path`` is one bgsub wrote: a figure of :func:`write_figure`,
    or an image that carries a bgsub provenance record (False for anything unreadable).

    Examples
    --------
    >>> from bgsub.data import sample_path
    >>> written_by_bgsub(sample_path())
    False
    """
    path = Path(path)
    if is_bgsub_figure(path):
        return True
    try:
        return read_provenance(path) is not None
    except Exception:  # (unreadable, damaged, not an image: not bgsub's)
        return False


def is_bgsub_figure(path: Path | str) -> bool:
    """Whether ``path`` is a PNG figure that :func:`write_figure` wrote (its text chunks
    read, not its pixels; False for anything else, unreadable files included)."""
    return _png.is_figure(Path(path))


def write_figure(figure: Any, path: Path | str, *, dpi: float = 100.0) -> Path:
    """Save a matplotlib ``figure`` as PNG at ``path``, atomically (a temporary file renamed
    when complete), with ``Software: bgsub <version>`` in a text chunk
    (:func:`written_by_bgsub` reads it). A path ending in another of matplotlib's formats
    that bgsub reads no image from (``.pdf``, ``.svg``) is written in that format, unmarked.

    Raises
    ------
    ValueError
        ``path`` ends in another image format bgsub reads (``.tif``, ``.jpg``): such a
        figure could carry no mark, so a rerun could not replace it and a folder's ``bgsub
        run`` would correct it as an image.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from matplotlib.figure import Figure
    >>> path = write_figure(Figure((1, 1)), pathlib.Path(tempfile.mkdtemp()) / "figure.png")
    >>> written_by_bgsub(path)
    True
    >>> write_figure(Figure((1, 1)), "figure.jpg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: figure.jpg: a figure is written as PNG, marked as bgsub's ...
    """
    path = check_figure_name(path)
    suffix = path.suffix.lower().lstrip(".")
    fmt = suffix if suffix in figure.canvas.get_supported_filetypes() else "png"
    with atomic_target(path) as tmp:
        _png.write_figure(figure, tmp, dpi, fmt)
    return path


def check_figure_name(path: Path | str) -> Path:
    """Refuse a figure's ``path`` that ends in an image format bgsub reads other than PNG
    (``.tif``, ``.jpg``, ...): only a PNG carries bgsub's figure mark
    (:func:`is_bgsub_figure`), by which a rerun replaces the figure and a folder's run
    leaves it out.

    Examples
    --------
    >>> check_figure_name("montage.png").name
    'montage.png'
    >>> check_figure_name("montage.TIF")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: montage.TIF: a figure is written as PNG, marked as bgsub's (a .tif one ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".png" and suffix in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: a figure is written as PNG, marked as bgsub's (a {suffix} "
                         "one would carry no mark and be read as an image to process); "
                         f"name it {path.stem}.png")
    return path


def write_image(
    path: Path | str,
    image: np.ndarray,
    metadata: ImageMetadata,
    provenance: dict[str, Any] | None = None,
    *,
    format: str | None = None,
    pyramid: str = "auto",
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
    pyramid : {"auto", "on", "off"}
        Tiled sub-resolutions in a TIFF or OME-TIFF (see
        :func:`bgsub.io._tiff.pyramid_shapes`); ``auto``: when the input had
        a pyramid or a plane is larger than 8192 pixels a side. OME-Zarr
        outputs get the input's pyramid back whatever this says.

    Returns
    -------
    Path
        ``path``. Nothing is left at ``path`` if writing fails or is interrupted.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from bgsub.data import sample_path
    >>> from bgsub.io import probe, read_image, read_provenance, write_image
    >>> image, metadata = read_image(sample_path())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = write_image(Path(folder) / "copy.ome.tif", image, metadata,
    ...                       {"note": "a copy"}, format="ome-tiff")
    ...     probe(out), read_provenance(out), bool((read_image(out)[0] == image).all())
    (('ome-tiff', 1), {'note': 'a copy'}, True)
    """
    path = Path(path)
    fmt = _format_to_write(metadata, format)
    if image.ndim != len(metadata.axes):
        raise ValueError(f"axes {metadata.axes!r} do not match the image's shape {image.shape}")
    check_channels(image.shape, metadata)
    with atomic_target(path) as tmp:
        if _FAMILY[fmt] == "tiff":
            _tiff.write(tmp, image, metadata, fmt, provenance, pyramid)
        elif _FAMILY[fmt] == "zarr":
            _zarr.write(tmp, image, metadata, fmt, provenance)
        else:
            _png.write(tmp, image, metadata, provenance)
    return path


def check_writable(shape: tuple[int, ...], dtype: Any, metadata: ImageMetadata,
                   format: str | None = None, pyramid: str = "auto") -> None:
    """Raise the one-line error :func:`write_image` would raise for an image of ``shape`` and
    ``dtype`` in ``format`` with ``pyramid`` (a PNG of floats, an ImageJ hyperstack of
    float64, an OME-TIFF of float16, OME-Zarr axes it cannot hold, sub-resolutions a plain
    TIFF cannot hold), before anything is computed; nothing where it can be written.

    Examples
    --------
    >>> check_writable((64, 64), "float32", ImageMetadata("YX"), "png")
    Traceback (most recent call last):
    ...
    ValueError: PNG holds uint8 or uint16 pixels, not float32; use --format tiff
    >>> check_writable((64, 64), "uint16", ImageMetadata("YX"), "png")
    """
    fmt = _format_to_write(metadata, format)
    check_channels(tuple(shape), metadata)
    if _FAMILY[fmt] == "tiff":
        _tiff.check(tuple(shape), np.dtype(dtype), metadata, fmt, pyramid)
    elif _FAMILY[fmt] == "zarr":
        _zarr.output_order(metadata, fmt)
    else:
        _png.check(tuple(shape), np.dtype(dtype), metadata)


def _format_to_write(metadata: ImageMetadata, format: str | None) -> str:
    """``format``, or the image's own (JPEG's as PNG); a one-line error where it is none bgsub
    writes."""
    fmt = format or ("png" if metadata.format == "jpeg" else metadata.format)
    if fmt not in WRITABLE_FORMATS:
        raise ValueError(f"cannot write format {fmt!r}; use one of {', '.join(WRITABLE_FORMATS)}")
    return fmt


def write_json(path: Path | str, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON, atomically."""
    path = Path(path)
    text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if not text.isascii() and any("\udc80" <= ch <= "\udcff" for ch in text):
        # a file name with bytes that are not UTF-8 (\udcff): escaped, read back the same
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
