"""TIFF, OME-TIFF and ImageJ hyperstacks, through tifffile."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from bgsub.io import _ome
from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_size, check_tiff_blocks
from bgsub.io._metadata import ImageMetadata, hex_color, length_factor, normalise_unit, rgb_of

PROVENANCE_KEY = "bgsub"
OME_NAMESPACE = _ome.NAMESPACE
_IMAGEJ_INFO_PREFIX = "bgsub provenance: "
# tifffile writes these from the shape itself; every other ImageJ key is carried
_IMAGEJ_DERIVED = ("ImageJ", "images", "channels", "slices", "frames", "hyperstack", "axes",
                   "Info")
_RESOLUTION_CM = 3
# zlib level 1 writes a 2048 x 2048 uint16 plane 4x faster than the default level 6 (0.07
# against 0.29 s) for files ~6 % larger; any TIFF reader decodes either
_ZLIB = {"compression": "zlib", "compressionargs": {"level": 1}}


def open_tiff(path: Path) -> tifffile.TiffFile:
    """``tifffile.TiffFile(path)``, after checking that its chain of IFDs ends."""
    check_ifd_chain(path)
    return tifffile.TiffFile(path)


def dataset_files(path: Path, series: int | None = None) -> list[Path]:
    """The files holding the pages of ``path``'s series (0 by default), the file of its
    first page first: more than one for a multi-file OME-TIFF (one file per time point or
    position, each file's OME-XML describing the whole dataset, which tifffile reads from
    any of them); ``[path]`` for any other file. Only an ``.ome.tif(f)`` is opened."""
    if not path.name.lower().endswith((".ome.tif", ".ome.tiff")):
        return [path]
    files: dict[str, Path] = {}
    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            return [path]
        for page in tif.series[series or 0].pages:
            if page is not None:
                name = page.parent.filehandle.path
                files.setdefault(name, Path(name))
    return list(files.values()) or [path]


def check_ifd_chain(path: Path) -> int:
    """Walk the file's chain of image directories (IFDs); return how many there are.

    tifffile notices a chain that loops back only at its 100th page, and not
    at all when pages are read one at a time (as ``TiffFile.series`` does), so
    a damaged next-IFD offset could make it read the same pages for ever.
    Each offset is visited once here; a repeat is an error.

    Raises
    ------
    UnsupportedFileError
        The chain loops back to an IFD already seen, or leads past the end of
        the file (a truncated multi-page file).
    """
    with open(path, "rb") as handle:
        header = handle.read(16)
        order = {b"II": "<", b"MM": ">"}.get(header[:2])
        if order is None or len(header) < 8:
            return 0
        version = struct.unpack(order + "H", header[2:4])[0]
        if version == 43 and len(header) >= 16:  # BigTIFF
            count_fmt, offset_fmt, tag_size = "Q", "Q", 20
            offset = struct.unpack(order + "Q", header[8:16])[0]
        else:
            count_fmt, offset_fmt, tag_size = "H", "I", 12
            offset = struct.unpack(order + "I", header[4:8])[0]
        count_size, offset_size = struct.calcsize(count_fmt), struct.calcsize(offset_fmt)
        size = path.stat().st_size
        seen: set[int] = set()
        cut = False
        while 0 < offset < size:
            if offset in seen:
                raise UnsupportedFileError(
                    f"damaged TIFF: its chain of images loops back to the one at byte {offset}; "
                    "copy or export the file again")
            seen.add(offset)
            handle.seek(offset)
            raw = handle.read(count_size)
            if len(raw) < count_size:
                cut = True
                break
            tags = struct.unpack(order + count_fmt, raw)[0]
            if tags > 4096:  # tifffile refuses this itself
                break
            handle.seek(offset + count_size + tags * tag_size)
            raw = handle.read(offset_size)
            if len(raw) < offset_size:
                cut = True
                break
            offset = struct.unpack(order + offset_fmt, raw)[0]
    if seen and (cut or offset >= size):
        # a page's directory, or the pointer to the next one, lies past the end: the
        # file was cut, and tifffile would read the pages before the cut as the whole file
        raise UnsupportedFileError(
            f"truncated TIFF: the directory of image {len(seen) + (0 if cut else 1)} lies "
            f"beyond the end of the file ({size} bytes); copy or export it again")
    return len(seen)


def format_and_count(path: Path) -> tuple[str, int]:
    """``("tiff" | "ome-tiff" | "imagej", number of series)`` of a TIFF file."""
    with open_tiff(path) as tif:
        count = len(tif.series)
        fmt = "ome-tiff" if tif.is_ome else "imagej" if tif.is_imagej else "tiff"
    if count == 0:
        raise UnsupportedFileError("the TIFF file holds no image; check that it is complete")
    return fmt, count


def read(path: Path, series: int, max_bytes: int) -> tuple[np.ndarray, ImageMetadata]:
    """Pixels and metadata of series ``series`` of a TIFF file.

    The series' declared shape is checked against ``max_bytes`` before its
    pixels are read.
    """
    with open_tiff(path) as tif:
        s, meta = _open_series(tif, path, series, max_bytes)
        data = s.asarray()
    _check_axes(meta.axes, data.shape)  # a damaged file can read as another shape
    return data, meta


def open_array(path: Path, series: int, max_bytes: int) -> tuple[TiffArray, ImageMetadata]:
    """Series ``series`` of a TIFF file, lazily (see :class:`TiffArray`), and its metadata."""
    with open_tiff(path) as tif:
        s, meta = _open_series(tif, path, series, max_bytes)
        shape, dtype = tuple(s.shape), np.dtype(s.dtype)
    return TiffArray(path, series, shape, dtype), meta


def _open_series(tif: tifffile.TiffFile, path: Path, series: int, max_bytes: int
                 ) -> tuple[Any, ImageMetadata]:
    """Series ``series`` after its size and first page were checked, and its metadata."""
    count = len(tif.series)
    if not 0 <= series < count:
        raise UnsupportedFileError(f"series {series} does not exist (the file has {count}); "
                                   f"use --series 0 to {count - 1}")
    s = tif.series[series]
    if s.dtype is None:
        raise UnsupportedFileError("the TIFF's pixel type is not supported; "
                                   "save it as 8/16/32-bit integer or float")
    check_size(s.shape, s.dtype, max_bytes)
    check_tiff_blocks(s.keyframe, max_bytes)
    _check_complete(s.keyframe, path.stat().st_size)
    shape = tuple(s.shape)
    meta = ImageMetadata(axes=s.axes, series=series, series_count=count)
    meta.original["resolution"] = _resolution(s.keyframe)
    meta.channel_samples = "S" in s.axes and not _colour_samples(s.keyframe)
    if len(s.levels) > 1:
        meta.original["level_shapes"] = [tuple(int(n) for n in level.shape)
                                         for level in s.levels]
    if tif.is_ome:
        _ome.read(tif.ome_metadata or "", series, meta)
    elif tif.is_imagej:
        _read_imagej(tif.imagej_metadata or {}, shape, meta)
    else:
        _read_shaped(tif.shaped_metadata, series, meta)
    _check_axes(meta.axes, shape)
    return s, meta


def _colour_samples(page: Any) -> bool:
    """Whether a page's samples are colours, not channels: RGB, or grey with an alpha extra
    sample (each with at most that alpha). A grey page of several samples, or an RGB one whose
    extra sample is unspecified data, holds channels, whose last is no alpha."""
    extra = tuple(int(e) for e in (getattr(page, "extrasamples", None) or ()))
    alpha = (int(tifffile.EXTRASAMPLE.ASSOCALPHA), int(tifffile.EXTRASAMPLE.UNASSALPHA))
    if not all(e in alpha for e in extra) or len(extra) > 1:
        return False
    if int(page.photometric) == int(tifffile.PHOTOMETRIC.RGB):
        return True
    grey = (int(tifffile.PHOTOMETRIC.MINISBLACK), int(tifffile.PHOTOMETRIC.MINISWHITE))
    return int(page.photometric) in grey and len(extra) == 1


def _check_axes(axes: str, shape: tuple[int, ...]) -> None:
    if len(shape) != len(axes):
        raise UnsupportedFileError(f"the file's axes {axes!r} do not match its shape "
                                   f"{shape}; give the right ones with --axes")


class TiffArray:
    """One series of a TIFF file, read lazily: indexing reads only the strips it covers.

    Backed by tifffile's Zarr store of the series (``tifffile.imread(path,
    aszarr=True)``), whose chunks are the file's strips or tiles. Safe to read
    from several threads; picklable (each process opens the file on first
    use), so Dask workers of a ``distributed`` cluster can read it.
    """

    def __init__(self, path: Path, series: int, shape: tuple[int, ...], dtype: np.dtype
                 ) -> None:
        self.path, self.series = Path(path), int(series)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._array: Any = None
        self._lock = threading.Lock()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The file's own chunks: its strips or tiles (pages in Zarr terms)."""
        return tuple(self._zarr().chunks)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._zarr()[key])

    def close(self) -> None:
        """Close the file (it is opened again if read afterwards)."""
        with self._lock:
            if self._array is not None:
                self._array.store.close()
                self._array = None

    def _zarr(self) -> Any:
        import zarr

        with self._lock:
            if self._array is None:
                # level 0: a pyramidal series would otherwise open as a group of levels
                store = tifffile.imread(self.path, aszarr=True, series=self.series, level=0)
                self._array = zarr.open(store, mode="r")
            return self._array

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "series": self.series, "shape": self.shape,
                "dtype": self.dtype}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def _check_complete(page: Any, file_size: int) -> None:
    """Refuse a page whose pixel data lies beyond the end of the file or is missing.

    Checked on the first page of a series only (the others are read lazily).
    Uncompressed data must fill the page; a page that declares 20 GB but
    holds 16 bytes would otherwise get its 20 GB allocated before the read fails.
    """
    offsets, counts = page.dataoffsets, page.databytecounts
    ends = [o + c for o, c in zip(offsets, counts, strict=False) if c]
    if ends and max(ends) > file_size:
        raise UnsupportedFileError(f"truncated TIFF: its pixel data ends at byte {max(ends)} "
                                   f"but the file has {file_size}; copy or export it again")
    # bits, not bytes: 1-bit (bool) and 12-bit samples are packed
    expected = int(np.prod(page.shape, dtype=object)) * int(page.bitspersample) // 8
    if page.compression == 1 and sum(counts) < expected:
        raise UnsupportedFileError(f"truncated TIFF: {sum(counts)} bytes of pixel data for a "
                                   f"{'x'.join(map(str, page.shape))} {page.dtype} image; "
                                   "copy or export it again")


def _resolution(page: Any) -> tuple[tuple[int, int], tuple[int, int], int] | None:
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None
    unit = tags["ResolutionUnit"].value if "ResolutionUnit" in tags else 2
    return tuple(tags["XResolution"].value), tuple(tags["YResolution"].value), int(unit)


def _pixel_size(rational: tuple[int, int]) -> float | None:
    numerator, denominator = rational
    return denominator / numerator if numerator else None


def _read_imagej(ij: dict, shape: tuple[int, ...], meta: ImageMetadata) -> None:
    meta.format = "imagej"
    meta.original["imagej"] = {k: v for k, v in ij.items() if k not in _IMAGEJ_DERIVED}
    unit = normalise_unit(ij.get("unit", "pixel"))
    resolution = meta.original.get("resolution")
    if resolution is not None and unit != "pixel":
        for letter, rational in zip("XY", resolution[:2], strict=True):
            size = _pixel_size(rational)
            if size is not None:
                meta.spacing[letter], meta.units[letter] = size, unit
    if "spacing" in ij and "Z" in meta.axes:
        meta.spacing["Z"], meta.units["Z"] = float(ij["spacing"]), unit
    if ij.get("finterval") and "T" in meta.axes:
        meta.spacing["T"] = float(ij["finterval"])
        meta.units["T"] = normalise_unit(ij.get("tunit", "sec"))
    info = ij.get("Info", "")
    if isinstance(info, str):
        meta.original["imagej_info"] = _without_provenance(info)
        line = next((x for x in info.splitlines() if x.startswith(_IMAGEJ_INFO_PREFIX)), None)
        if line is not None:
            meta.provenance = _loads(line[len(_IMAGEJ_INFO_PREFIX):])
    meta.channel_names = _channels_from_labels(ij.get("Labels"), meta.axes, shape)
    channels = shape[meta.axes.index("C")] if "C" in meta.axes else 1
    meta.channel_colors = _colors_from_luts(ij.get("LUTs"), channels)
    meta.display_ranges = _ranges(ij, channels)


def _without_provenance(info: str) -> str:
    return "\n".join(x for x in info.splitlines() if not x.startswith(_IMAGEJ_INFO_PREFIX))


def _colors_from_luts(luts: Any, channels: int) -> tuple[str | None, ...] | None:
    """Each channel's colour: the brightest entry of its ImageJ lookup table."""
    if not isinstance(luts, (list, tuple)) or len(luts) != channels:
        return None
    colors = []
    for lut in luts:
        lut = np.asarray(lut)
        colors.append(hex_color(tuple(lut[:3, -1])) if lut.ndim == 2 and lut.shape[0] >= 3
                      else None)
    return tuple(colors) if any(colors) else None


def _ranges(ij: dict, channels: int) -> tuple[tuple[float, float], ...] | None:
    """Each channel's display range: ImageJ's ``Ranges`` (min, max per channel) or min/max."""
    flat = ij.get("Ranges") or ij.get("ranges")
    if flat is not None and len(flat) == 2 * channels:
        return tuple((float(a), float(b)) for a, b in zip(flat[::2], flat[1::2], strict=True))
    if channels == 1 and "min" in ij and "max" in ij:
        return ((float(ij["min"]), float(ij["max"])),)
    return None


def _luts_from_colors(colors: tuple[str | None, ...]) -> list[np.ndarray]:
    """Linear ImageJ lookup tables from black to each colour (grey where there is none)."""
    ramp = np.arange(256, dtype=np.float64) / 255
    return [np.rint(np.outer(rgb_of(c or "FFFFFF"), ramp)).astype(np.uint8) for c in colors]


def _plane_shape(axes: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for a, n in zip(axes, shape, strict=True) if a not in "YXS")


def _channels_from_labels(labels: Any, axes: str, shape: tuple[int, ...]
                          ) -> tuple[str, ...] | None:
    """Channel names from ImageJ slice labels that repeat the channel's name on each plane."""
    planes = _plane_shape(axes, shape)
    if not labels or "C" not in axes or len(labels) != int(np.prod(planes)):
        return None
    grid = np.array(labels, dtype=object).reshape(planes)
    grid = np.moveaxis(grid, [a for a in axes if a not in "YXS"].index("C"), -1)
    rows = grid.reshape(-1, grid.shape[-1])
    if not all(all(row == rows[0]) for row in rows) or not all(rows[0]):
        return None
    return tuple(str(name) for name in rows[0])


def _labels_from_channels(names: tuple[str, ...], axes: str, shape: tuple[int, ...]
                          ) -> list[str]:
    planes = _plane_shape(axes, shape)
    others = [a for a in axes if a not in "YXS"]
    grid = np.empty(planes, dtype=object)
    index = others.index("C")
    for c, name in enumerate(names):
        grid[(slice(None),) * index + (c,)] = name
    return [str(v) for v in grid.ravel()]


def _read_shaped(shaped: Any, series: int, meta: ImageMetadata) -> None:
    meta.format = "tiff"
    info = shaped[series] if shaped and series < len(shaped) else {}
    stored = info.get("spacing") if isinstance(info, dict) else None
    if isinstance(stored, dict):
        meta.spacing = {k: float(v) for k, v in stored.items()}
        meta.units = {k: str(v) for k, v in (info.get("units") or {}).items()}
    else:
        resolution = meta.original.get("resolution")
        if resolution is not None and resolution[2] == _RESOLUTION_CM:
            for letter, rational in zip("XY", resolution[:2], strict=True):
                size = _pixel_size(rational)
                if size is not None:
                    meta.spacing[letter], meta.units[letter] = size * 1e4, "µm"
    if isinstance(info, dict):
        names = info.get("channel_names")
        meta.channel_names = tuple(names) if names else None
        colors = info.get("channel_colors")
        meta.channel_colors = tuple(colors) if colors else None
        ranges = info.get("display_ranges")
        meta.display_ranges = tuple(tuple(r) if r else None for r in ranges) if ranges else None
        meta.name = info.get("name")
        record = info.get(PROVENANCE_KEY)
        meta.provenance = record if isinstance(record, dict) else None


def _loads(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


PYRAMID_CHOICES = ("auto", "on", "off")
#: ``--pyramid auto`` makes a pyramid for planes larger than this on a side.
PYRAMID_MIN_SIDE = 8192
#: Tiles of a pyramidal TIFF (each level), and the smallest side a level is made for.
PYRAMID_TILE = (512, 512)
_SMALLEST_LEVEL = 256
# tiles tifffile compresses at once (its default, 512 MiB, would hold pages beyond the bound)
_TILE_BUFFER = 32 * 2**20
_BAND_ROWS = 256  # rows of a level reduced at a time (bounded memory); even


def write(path: Path, data: np.ndarray, meta: ImageMetadata, fmt: str,
          provenance: dict | None, pyramid: str = "auto") -> None:
    """Write ``data`` as ``fmt`` (``tiff``, ``ome-tiff`` or ``imagej``) to ``path``.

    ``pyramid`` (``auto``, ``on``, ``off``): see :func:`pyramid_shapes`.
    """
    order, meta = output_order(meta, data.dtype, fmt, data.shape)
    data = np.transpose(data, order)
    ndim = page_ndim(data.shape, data.dtype, meta.axes)
    if ndim is not None and pyramid_shapes(data.shape, meta, fmt, pyramid, ndim, warn=True):
        pages = data.reshape(-1, *data.shape[data.ndim - ndim:])
        write_pages(path, iter(pages), data.shape, data.dtype, meta, fmt, provenance, pyramid)
        return
    writer, kwargs = _write_kwargs(data.shape, data.dtype, meta, fmt, provenance)
    tifffile.imwrite(path, data, **writer, **kwargs)
    _finish(path, meta, fmt, provenance)


def write_pages(path: Path, pages: Iterable[np.ndarray], shape: tuple[int, ...],
                dtype: np.dtype, meta: ImageMetadata, fmt: str, provenance: dict | None,
                pyramid: str = "auto") -> None:
    """Write an image given page by page, so that it is never whole in memory.

    ``shape``, ``dtype`` and ``meta`` describe the whole image in the order
    ``fmt`` stores it (see :func:`output_order`); ``pages`` yields its pages in
    that order, each of the shape of its last :func:`page_ndim` axes, or
    each page as consecutive bands of its rows (of any heights). The file is
    the one :func:`write` makes of the whole image. With a pyramid (see
    :func:`pyramid_shapes`) the pages are written in tiles a row of tiles at
    a time, and each page's reduced levels are kept in a temporary file
    beside ``path`` until they are written after level 0: memory holds the
    band given and a row of tiles, never a whole page that was given in
    bands. Without a pyramid the bands of a page are joined into the page, except planar
    RGB's (``...SYX``), which is written in tiles as with one.
    """
    dtype = np.dtype(dtype)
    writer, kwargs = _write_kwargs(shape, dtype, meta, fmt, provenance)
    ndim = page_ndim(shape, dtype, meta.axes)
    levels = pyramid_shapes(shape, meta, fmt, pyramid, ndim, warn=True) if ndim else []
    # (a planar RGB page is its samples' planes, which tifffile takes whole or in tiles: tiles,
    # so that a page given in bands is never whole in memory)
    if not levels and kwargs.get("planarconfig") != "separate":
        page_shape = shape[len(shape) - (ndim or 2):]
        tifffile.imwrite(path, _whole_pages(pages, page_shape), shape=shape, dtype=dtype,
                         **writer, **kwargs)
    else:
        with tifffile.TiffWriter(path, **writer) as tif:
            _write_pyramid(tif, path, pages, shape, dtype, kwargs, levels, ndim or 2,
                           named=fmt == "tiff")
    _finish(path, meta, fmt, provenance)


def pyramid_shapes(shape: tuple[int, ...], meta: ImageMetadata, fmt: str, pyramid: str,
                   ndim: int | None = 2, *, warn: bool = False) -> list[tuple[int, int]]:
    """The (Y, X) shapes of the sub-resolutions a TIFF output gets, halved one after another.

    ``pyramid="off"``: none. ``"on"``: halvings until the longer side is at
    most 256 (at least one). ``"auto"``: as many as the input's pyramid had
    (``meta.original["level_shapes"]``), else as ``"on"`` when a side of the
    plane is larger than :data:`PYRAMID_MIN_SIDE`, else none. ImageJ
    hyperstacks, and images whose Y and X are not the last axes, get none;
    so does a plain TIFF with a Z axis (see :func:`_plain_tiff_holds_pyramid`): a
    one-line error with ``"on"``, a warning (where ``warn``) with ``"auto"``.

    Examples
    --------
    >>> meta = ImageMetadata("CYX")
    >>> pyramid_shapes((2, 1000, 600), meta, "ome-tiff", "on")
    [(500, 300), (250, 150)]
    >>> pyramid_shapes((2, 1000, 600), meta, "ome-tiff", "auto")
    []
    >>> pyramid_shapes((3, 1000, 600), ImageMetadata("ZYX"), "tiff", "on")
    Traceback (most recent call last):
    ...
    ValueError: a plain TIFF cannot hold the sub-resolutions of an image with a Z axis
    (tifffile reads them as a second image); use --format ome-tiff, or --pyramid off
    """
    shapes = _pyramid_shapes(shape, meta, fmt, pyramid, ndim)
    if shapes and not _plain_tiff_holds_pyramid(meta, fmt):
        if pyramid == "on":
            raise ValueError(_NO_Z_PYRAMID + "; use --format ome-tiff, or --pyramid off")
        if warn:
            warnings.warn(_NO_Z_PYRAMID + "; written without them: use --format ome-tiff to "
                          "keep them", stacklevel=2)
        return []
    return shapes


_NO_Z_PYRAMID = ("a plain TIFF cannot hold the sub-resolutions of an image with a Z axis "
                 "(tifffile reads them as a second image)")


def _plain_tiff_holds_pyramid(meta: ImageMetadata, fmt: str) -> bool:
    """Whether the sub-resolutions of ``meta``'s image read back as its levels.

    A plain TIFF's reduced pages read as levels of the image only where only
    Y and X are reduced: tifffile takes a Z axis as spatial too, and one that
    keeps its size makes them a second image (series) of other axes, which a
    rerun fails on. OME-TIFF says which pages are levels.
    """
    return fmt != "tiff" or "Z" not in meta.axes


def _pyramid_shapes(shape: tuple[int, ...], meta: ImageMetadata, fmt: str, pyramid: str,
                    ndim: int | None) -> list[tuple[int, int]]:
    """:func:`pyramid_shapes` before a plain TIFF's Z axis is considered."""
    if pyramid not in PYRAMID_CHOICES:
        raise ValueError(f"pyramid={pyramid!r}; use one of {', '.join(PYRAMID_CHOICES)}")
    if pyramid == "off" or fmt == "imagej" or ndim is None:
        return []
    y, x = shape[len(shape) - ndim:][:2]
    count = None
    if pyramid == "auto":
        had = len(meta.original.get("level_shapes") or ())
        if had > 1:
            count = had - 1
        elif max(y, x) <= PYRAMID_MIN_SIDE:
            return []
    shapes: list[tuple[int, int]] = []
    while (count is None and (not shapes or max(y, x) > _SMALLEST_LEVEL)) or (
            count is not None and len(shapes) < count):
        if max(y, x) <= 1:
            break
        y, x = -(-y // 2), -(-x // 2)
        shapes.append((y, x))
        if count is None and max(y, x) <= _SMALLEST_LEVEL:
            break
    return shapes


def _write_pyramid(tif: tifffile.TiffWriter, path: Path, pages: Iterable[np.ndarray],
                   shape: tuple[int, ...], dtype: np.dtype, kwargs: dict[str, Any],
                   levels: list[tuple[int, int]], ndim: int, named: bool = False) -> None:
    """Level 0 in tiles with ``len(levels)`` SubIFDs per page (none: tiles alone), then each
    reduced level (``named``: with the axes in their description, as a plain TIFF needs).

    The reduced levels wait in raw files beside ``path`` (plain reads and
    writes, not memory maps, so that they stay out of the process's memory).
    """
    from bgsub.io._atomic import temp_path_for

    leading, samples = shape[:len(shape) - ndim], shape[len(shape) - ndim + 2:]
    path = Path(path)
    folder = temp_path_for(path.with_name(path.name + ".levels"))
    folder.mkdir()
    try:
        stores = [_LevelFile(folder / f"{k}.raw", (*level, *samples), dtype)
                  for k, level in enumerate(levels, start=1)]
        height = shape[len(shape) - ndim]

        def level0() -> Iterator[np.ndarray]:
            for index, start, rows in _tile_rows(pages, height):
                # before its tiles: tifffile stops drawing once it has the last tile
                if stores:
                    _reduce_rows(rows, stores, index, start, start + len(rows) == height)
                yield from _tiles(rows)
                del rows  # let the next band be computed without this one still held

        tif.write(level0(), shape=shape, dtype=dtype, tile=PYRAMID_TILE,
                  subifds=len(levels), buffersize=_TILE_BUFFER, **kwargs)
        count = int(np.prod(leading, dtype=np.int64))
        sub = {k: v for k, v in kwargs.items() if k in ("photometric", "planarconfig",
                                                        "compression", "compressionargs",
                                                        "resolutionunit")}
        if named:  # else a plain TIFF's reduced pages of several planes read as a second image
            sub["metadata"] = {"axes": kwargs["metadata"]["axes"]}
        for k, store in enumerate(stores, start=1):
            if "resolution" in kwargs:
                sub["resolution"] = tuple(_number(r) / 2**k for r in kwargs["resolution"])
            tif.write((tile for index in range(count) for tile in store.tiles(index)),
                      shape=(*leading, *store.page_shape), dtype=dtype, tile=PYRAMID_TILE,
                      subfiletype=1, buffersize=_TILE_BUFFER, **sub)
        for store in stores:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _LevelFile:
    """The pages of one reduced level, in a raw file, written and read a band of rows at a time."""

    def __init__(self, path: Path, page_shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.page_shape, self.dtype = tuple(page_shape), np.dtype(dtype)
        self.row_shape = self.page_shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.page_bytes = self.row_bytes * self.page_shape[0]
        self._handle = open(path, "w+b")  # noqa: SIM115 -- closed by close()

    def write_rows(self, index: int, start: int, rows: np.ndarray) -> None:
        self._handle.seek(index * self.page_bytes + start * self.row_bytes)
        self._handle.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())

    def read_rows(self, index: int, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.page_shape[0])
        self._handle.seek(index * self.page_bytes + start * self.row_bytes)
        raw = self._handle.read((stop - start) * self.row_bytes)
        return np.frombuffer(raw, dtype=self.dtype).reshape(stop - start, *self.row_shape)

    def tiles(self, index: int) -> Iterator[np.ndarray]:
        """The tiles of page ``index``, read a row of tiles at a time."""
        for start in range(0, self.page_shape[0], PYRAMID_TILE[0]):
            yield from _tiles(self.read_rows(index, start, start + PYRAMID_TILE[0]))

    def close(self) -> None:
        self._handle.close()


def _tiles(page: np.ndarray) -> Iterator[np.ndarray]:
    """The tiles of a page, row by row; those at the edges padded with zeros."""
    ty, tx = PYRAMID_TILE
    for y in range(0, page.shape[0], ty):
        for x in range(0, page.shape[1], tx):
            tile = page[y:y + ty, x:x + tx]
            if tile.shape[:2] != (ty, tx):
                full = np.zeros((ty, tx, *page.shape[2:]), dtype=page.dtype)
                full[:tile.shape[0], :tile.shape[1]] = tile
                tile = full
            yield tile


def _number(value: Any) -> float:
    """A TIFF resolution value: a number or a rational ``(numerator, denominator)``."""
    if isinstance(value, (tuple, list)):
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def _whole_pages(bands: Iterable[np.ndarray], page_shape: tuple[int, ...]
                 ) -> Iterator[np.ndarray]:
    """Whole pages from pages given whole or in bands of rows (joined)."""
    for _, _, page in _row_blocks(bands, page_shape[0], page_shape[0]):
        yield page


def _tile_rows(bands: Iterable[np.ndarray], height: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(page, first row, rows)`` of each row of tiles of pages given in bands of rows."""
    return _row_blocks(bands, height, PYRAMID_TILE[0])


def _row_blocks(bands: Iterable[np.ndarray], height: int, size: int
                ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Blocks of ``size`` rows (fewer at a page's end) of pages of ``height`` rows given in
    bands of rows of any heights, as ``(page index, first row, rows)``, in order.

    Examples
    --------
    >>> bands = [np.zeros((3, 2)), np.zeros((5, 2))]  # two pages of 4 rows
    >>> [(i, start, rows.shape[0]) for i, start, rows in _row_blocks(bands, 4, 3)]
    [(0, 0, 3), (0, 3, 1), (1, 0, 3), (1, 3, 1)]
    """
    pending: list[np.ndarray] = []
    have = index = start = 0
    for band in bands:
        band = np.asarray(band)
        while band.shape[0]:
            take = min(band.shape[0], size - have, height - start - have)
            pending.append(band[:take])
            band, have = band[take:], have + take
            if have == size or start + have == height:
                block = pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, have = [], 0
                yield index, start, block
                start += block.shape[0]
                if start == height:
                    index, start = index + 1, 0
                del block
    if pending or start:
        raise ValueError("the bands given do not fill whole pages")


def _reduce_rows(rows: np.ndarray, stores: list[_LevelFile], index: int, start: int,
                 last: bool) -> None:
    """Rows ``start`` on of page ``index`` (``start`` even), reduced into the first level;
    with the page's ``last`` rows, the page of every further level, from the one above.

    Each level is the 2 x 2 means of the level above, computed a band of rows at a time.
    """
    from bgsub.io._zarr import downsample

    factors = (2, 2) + (1,) * (rows.ndim - 2)
    for first in range(0, rows.shape[0], _BAND_ROWS):
        band = np.asarray(rows[first:first + _BAND_ROWS])
        stores[0].write_rows(index, (start + first) // 2, downsample(band, factors))
    if not last:
        return
    for above, store in zip(stores, stores[1:], strict=False):
        for first in range(0, above.page_shape[0], _BAND_ROWS):
            band = above.read_rows(index, first, first + _BAND_ROWS)
            store.write_rows(index, first // 2, downsample(np.asarray(band), factors))


def _finish(path: Path, meta: ImageMetadata, fmt: str, provenance: dict | None) -> None:
    """OME-TIFF: replace tifffile's OME-XML by the one carrying every field of the input's."""
    if fmt != "ome-tiff":
        return
    with tifffile.TiffFile(path) as tif:
        written = tif.pages[0].description
    xml = _ome.merged_xml(written, meta, provenance)
    tifffile.tiffcomment(path, xml.encode("utf-8"))


def check(shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata, fmt: str,
          pyramid: str) -> None:
    """Raise the one-line error :func:`write` would raise for an image of ``shape`` and
    ``dtype`` (in ``meta``'s order) in ``fmt`` with ``pyramid``, without writing."""
    order, stored = output_order(meta, dtype, fmt, shape)
    stored_shape = tuple(shape[i] for i in order)
    ndim = page_ndim(stored_shape, dtype, stored.axes)
    if ndim is not None:
        pyramid_shapes(stored_shape, stored, fmt, pyramid, ndim)


def output_order(meta: ImageMetadata, dtype: np.dtype, fmt: str, shape: tuple[int, ...]
                 ) -> tuple[tuple[int, ...], ImageMetadata]:
    """The axis permutation ``fmt`` stores an image of ``shape`` in, and ``meta`` in that
    order.

    ImageJ hyperstacks are TZCYX(S); the other formats keep the image's order.

    Raises
    ------
    ValueError
        ImageJ cannot hold ``dtype`` or one of the axes; OME-TIFF cannot hold ``dtype``.
    """
    if fmt == "ome-tiff":
        _check_ome_dtype(np.dtype(dtype))
    if fmt != "imagej":
        return tuple(range(len(meta.axes))), meta
    if np.dtype(dtype) not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"ImageJ hyperstacks hold uint8, uint16 or float32, not "
                         f"{np.dtype(dtype)}; use --output-dtype float32 or --format tiff")
    order = "TZCYXS"
    # (ImageJ's RGB is 8-bit, of 3 samples (or 4): others are a composite's channels there,
    # grey + alpha two of them)
    samples = shape[meta.axes.index("S")] if "S" in meta.axes else 3
    meta = meta.samples_as_channels(
        always=np.dtype(dtype) != np.uint8 or samples not in (3, 4))
    if any(a not in order for a in meta.axes):
        raise ValueError(f"ImageJ hyperstacks hold T, Z, C, Y, X (and S) axes only, not "
                         f"{meta.axes!r}; use --format tiff or ome-tiff")
    axes = "".join(sorted(meta.axes, key=order.index))
    return tuple(meta.axes.index(a) for a in axes), dataclasses.replace(meta, axes=axes)


#: The pixel types of OME-XML (``Pixels/@Type``) among those bgsub processes.
_OME_DTYPES = ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float32", "float64")


def _check_ome_dtype(dtype: np.dtype) -> None:
    """Refuse a pixel type OME-XML has no name for (float16, 64-bit integers, long double).

    Examples
    --------
    >>> _check_ome_dtype(np.dtype("float16"))
    Traceback (most recent call last):
    ...
    ValueError: OME-TIFF holds no float16 pixels; use --output-dtype float32, or --format tiff
    """
    if dtype.name in _OME_DTYPES:
        return
    wider = "float32" if dtype.itemsize <= 2 else "float64"
    raise ValueError(f"OME-TIFF holds no {dtype.name} pixels; use --output-dtype {wider}, or "
                     "--format tiff")


def page_ndim(shape: tuple[int, ...], dtype: np.dtype, axes: str) -> int | None:
    """How many trailing axes one page holds: 2 (Y, X) or 3 (RGB: Y, X, S).

    None when the pages are not made of the trailing axes that way (Y and X
    not last, or samples that are not RGB), so the image cannot be written
    page by page.

    Examples
    --------
    >>> page_ndim((5, 64, 70), np.dtype("uint16"), "ZYX")
    2
    >>> page_ndim((64, 70, 3), np.dtype("uint8"), "YXS"), page_ndim((64, 70, 2), np.dtype(
    ...     "uint8"), "YXS")
    (3, None)
    """
    if _photometric(shape, dtype, axes) == "rgb" and axes.endswith("YXS"):
        return 3
    return 2 if axes.endswith("YX") else None


def _write_kwargs(shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata, fmt: str,
                  provenance: dict | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``TiffWriter`` and ``TiffWriter.write`` keywords for ``shape`` in ``fmt``'s order."""
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    # a pyramid adds a third; BigTIFF also past 4 GiB of compressed data
    writer = {"bigtiff": nbytes * 4 // 3 > 2**32 - 2**25 and fmt != "imagej",
              "ome": fmt == "ome-tiff", "imagej": fmt == "imagej"}
    kwargs: dict[str, Any] = {"photometric": _photometric(shape, dtype, meta.axes),
                              "software": "bgsub"}
    if fmt != "imagej" and (meta.axes.endswith("YXC") or meta.axes.endswith("S") and (
            kwargs["photometric"] != "rgb" or meta.channel_samples)):
        kwargs.update(_grey_samples(shape, meta))
    elif fmt != "imagej" and _planar_rgb(shape, dtype, meta):
        kwargs.update(photometric="rgb", planarconfig="separate")
    if fmt == "ome-tiff":
        kwargs.update(**_ZLIB, metadata=_ome_metadata(meta))
    elif fmt == "imagej":
        kwargs.update(metadata=_imagej_metadata(meta, shape, provenance))
    else:
        kwargs.update(**_ZLIB, metadata=_shaped_metadata(meta, provenance))
    kwargs.update(_resolution_kwargs(meta, fmt))
    return writer, kwargs


def _grey_samples(shape: tuple[int, ...], meta: ImageMetadata) -> dict[str, Any]:
    """Keywords for samples that are not RGB (channels read as samples or stored last, grey +
    alpha, float colours): grey pages of contiguous samples, as the reader found them (without
    ``planarconfig`` tifffile writes each row as a page; channels were written as RGB with an
    alpha, which the next read takes as one); a grey + alpha keeps its alpha."""
    alpha = shape[-1] == 2 and meta.axes.endswith("S") and not meta.channel_samples
    return {"photometric": "minisblack", "planarconfig": "contig",
            **({"extrasamples": ["unassalpha"]} if alpha else {})}


def _planar_rgb(shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata) -> bool:
    """Whether an image is RGB(A) with its samples before Y and X (``...SYX``, as a planar
    RGB TIFF reads): written as one, not as grey pages of its samples."""
    return (meta.axes.endswith("SYX") and shape[-3] in (3, 4)
            and np.dtype(dtype) in (np.uint8, np.uint16) and not meta.channel_samples)


def _photometric(shape: tuple[int, ...], dtype: np.dtype, axes: str) -> str:
    rgb = axes.endswith("S") and shape[-1] in (3, 4) and np.dtype(dtype) in (np.uint8,
                                                                             np.uint16)
    return "rgb" if rgb else "minisblack"


def _resolution_kwargs(meta: ImageMetadata, fmt: str) -> dict[str, Any]:
    """TIFF resolution tags from the pixel size, else as read from the input."""
    if fmt == "imagej":
        sizes = _imagej_spacing(meta)[0]
        return {"resolution": (1 / sizes["X"], 1 / sizes["Y"])} if (
            "X" in sizes and "Y" in sizes) else {}
    microns = meta.spacing_in_one_unit("YX", "µm")
    if microns is not None:
        (y, x), _ = microns
        return {"resolution": (1e4 / x, 1e4 / y), "resolutionunit": _RESOLUTION_CM}
    original = meta.original.get("resolution")
    if original is not None:
        return {"resolution": (original[0], original[1]), "resolutionunit": original[2]}
    return {}


def _ome_metadata(meta: ImageMetadata) -> dict[str, Any]:
    """What tifffile needs to lay out the OME-XML; :func:`_finish` completes it."""
    metadata: dict[str, Any] = {"axes": meta.axes}
    if meta.name:
        metadata["Name"] = meta.name
    return metadata


def _imagej_spacing(meta: ImageMetadata) -> tuple[dict[str, float], str | None]:
    """The Z, Y and X pixel sizes in one unit, and that unit: ImageJ has one for all three.

    X's unit (else Y's, else Z's); a size in a unit that is not a length
    cannot be converted, and is left out with a warning.

    Examples
    --------
    >>> _imagej_spacing(ImageMetadata("ZYX", spacing={"Z": 0.3, "Y": 108.0, "X": 108.0},
    ...                               units={"Z": "µm", "Y": "nm", "X": "nm"}))
    ({'Z': 300.0, 'Y': 108.0, 'X': 108.0}, 'nm')
    """
    unit = next((meta.units[a] for a in "XYZ" if a in meta.spacing and a in meta.units), None)
    sizes = {}
    for letter in "ZYX":
        if letter not in meta.spacing:
            continue
        own = meta.units.get(letter)
        factor = 1.0 if own == unit else length_factor(own, unit)
        if factor is None:
            warnings.warn(f"the {letter} pixel size is in {own or 'no unit'}, which cannot be "
                          f"converted to {unit or 'no unit'}, the one unit of an ImageJ "
                          "hyperstack: it is left out; use --format ome-tiff to keep it",
                          stacklevel=2)
            continue
        sizes[letter] = meta.spacing[letter] * factor
    return sizes, unit


def _imagej_metadata(meta: ImageMetadata, shape: tuple[int, ...], provenance: dict | None
                     ) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": meta.axes}
    metadata.update(meta.original.get("imagej", {}))
    sizes, unit = _imagej_spacing(meta)
    if "Z" in sizes:
        metadata["spacing"] = sizes["Z"]
    if unit and "unit" not in metadata:
        metadata["unit"] = "micron" if unit == "µm" else unit
    if "T" in meta.spacing and "finterval" not in metadata:
        metadata["finterval"] = meta.spacing["T"]
        if meta.units.get("T", "s") != "s":
            metadata["tunit"] = meta.units["T"]
    channels = shape[meta.axes.index("C")] if "C" in meta.axes else 1
    if meta.channel_names and "C" in meta.axes:
        metadata["Labels"] = _labels_from_channels(meta.channel_names, meta.axes, shape)
    if meta.channel_colors and len(meta.channel_colors) == channels and "LUTs" not in metadata:
        metadata["LUTs"] = _luts_from_colors(meta.channel_colors)
    ranges = meta.display_ranges
    if ranges and len(ranges) == channels and all(ranges) and "Ranges" not in metadata:
        metadata["Ranges"] = tuple(v for pair in ranges if pair for v in pair)
    info = [meta.original.get("imagej_info") or ""]
    if provenance is not None:
        info.append(_IMAGEJ_INFO_PREFIX + _dumps(provenance))
    if any(info):
        metadata["Info"] = "\n".join(line for line in info if line)
    return metadata


def _shaped_metadata(meta: ImageMetadata, provenance: dict | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": meta.axes}
    if meta.spacing:
        metadata["spacing"] = dict(meta.spacing)
        metadata["units"] = dict(meta.units)
    if meta.channel_names:
        metadata["channel_names"] = list(meta.channel_names)
    if meta.channel_colors:
        metadata["channel_colors"] = list(meta.channel_colors)
    if meta.display_ranges:
        metadata["display_ranges"] = [list(r) if r else None for r in meta.display_ranges]
    if meta.name:
        metadata["name"] = meta.name
    if provenance is not None:
        metadata[PROVENANCE_KEY] = provenance
    return metadata


def _dumps(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
