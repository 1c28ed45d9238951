"""TIFF, OME-TIFF and ImageJ hyperstacks, through tifffile."""

from __future__ import annotations

import dataclasses
import json
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_size, check_tiff_blocks
from bgsub.io._metadata import ImageMetadata, normalise_unit

PROVENANCE_KEY = "bgsub"
OME_NAMESPACE = "bgsub.provenance"
_IMAGEJ_INFO_PREFIX = "bgsub provenance: "
_IMAGEJ_KEEP = ("unit", "spacing", "finterval", "fps", "loop", "mode", "LUTs", "Labels")
_RESOLUTION_CM = 3


def open_tiff(path: Path) -> tifffile.TiffFile:
    """``tifffile.TiffFile(path)``, after checking that its chain of IFDs ends."""
    check_ifd_chain(path)
    return tifffile.TiffFile(path)


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
    if tif.is_ome:
        _read_ome(tif.ome_metadata or "", series, meta)
    elif tif.is_imagej:
        _read_imagej(tif.imagej_metadata or {}, shape, meta)
    else:
        _read_shaped(tif.shaped_metadata, series, meta)
    _check_axes(meta.axes, shape)
    return s, meta


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
                store = tifffile.imread(self.path, aszarr=True, series=self.series)
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


def _read_ome(xml: str, series: int, meta: ImageMetadata) -> None:
    meta.format = "ome-tiff"
    meta.original["ome_xml"] = xml
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return
    images = [el for el in root if _local(el.tag) == "Image"]
    if series >= len(images):
        return
    image = images[series]
    meta.name = image.get("Name")
    pixels = next((el for el in image if _local(el.tag) == "Pixels"), None)
    if pixels is None:
        return
    for letter in "ZYX":
        size = pixels.get(f"PhysicalSize{letter}")
        if size is not None:
            meta.spacing[letter] = float(size)
            meta.units[letter] = normalise_unit(pixels.get(f"PhysicalSize{letter}Unit", "µm"))
    names = [ch.get("Name") for ch in pixels if _local(ch.tag) == "Channel"]
    if names and all(names):
        meta.channel_names = tuple(names)
    meta.provenance = _ome_provenance(root, image)


def _ome_provenance(root: ET.Element, image: ET.Element) -> dict | None:
    refs = {el.get("ID") for el in image if _local(el.tag) == "AnnotationRef"}
    for element in root.iter():
        if _local(element.tag) != "CommentAnnotation":
            continue
        if element.get("Namespace") != OME_NAMESPACE or element.get("ID") not in refs:
            continue
        value = next((el for el in element if _local(el.tag) == "Value"), None)
        if value is not None and value.text:
            return _loads(value.text)
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_imagej(ij: dict, shape: tuple[int, ...], meta: ImageMetadata) -> None:
    meta.format = "imagej"
    meta.original["imagej"] = {k: ij[k] for k in _IMAGEJ_KEEP if k in ij}
    unit = normalise_unit(ij.get("unit", "pixel"))
    resolution = meta.original.get("resolution")
    if resolution is not None and unit != "pixel":
        for letter, rational in zip("XY", resolution[:2], strict=True):
            size = _pixel_size(rational)
            if size is not None:
                meta.spacing[letter], meta.units[letter] = size, unit
    if "spacing" in ij and "Z" in meta.axes:
        meta.spacing["Z"], meta.units["Z"] = float(ij["spacing"]), unit
    info = ij.get("Info", "")
    if isinstance(info, str) and info.startswith(_IMAGEJ_INFO_PREFIX):
        meta.provenance = _loads(info[len(_IMAGEJ_INFO_PREFIX):])
    meta.channel_names = _channels_from_labels(ij.get("Labels"), meta.axes, shape)


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
        meta.name = info.get("name")
        record = info.get(PROVENANCE_KEY)
        meta.provenance = record if isinstance(record, dict) else None


def _loads(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def write(path: Path, data: np.ndarray, meta: ImageMetadata, fmt: str,
          provenance: dict | None) -> None:
    """Write ``data`` as ``fmt`` (``tiff``, ``ome-tiff`` or ``imagej``) to ``path``."""
    order, meta = output_order(meta, data.dtype, fmt)
    data = np.transpose(data, order)
    tifffile.imwrite(path, data, **_write_kwargs(data.shape, data.dtype, meta, fmt,
                                                 provenance))


def write_pages(path: Path, pages: Iterable[np.ndarray], shape: tuple[int, ...],
                dtype: np.dtype, meta: ImageMetadata, fmt: str, provenance: dict | None
                ) -> None:
    """Write an image given page by page, so that it is never whole in memory.

    ``shape``, ``dtype`` and ``meta`` describe the whole image in the order
    ``fmt`` stores it (see :func:`output_order`); ``pages`` yields its pages in
    that order, each of the shape of its last :func:`page_ndim` axes. The
    file is the one :func:`write` makes of the whole image.
    """
    tifffile.imwrite(path, iter(pages), shape=shape, dtype=dtype,
                     **_write_kwargs(shape, np.dtype(dtype), meta, fmt, provenance))


def output_order(meta: ImageMetadata, dtype: np.dtype, fmt: str
                 ) -> tuple[tuple[int, ...], ImageMetadata]:
    """The axis permutation ``fmt`` stores an image in, and ``meta`` in that order.

    ImageJ hyperstacks are TZCYX(S); the other formats keep the image's order.

    Raises
    ------
    ValueError
        ImageJ cannot hold ``dtype`` or one of the axes.
    """
    if fmt != "imagej":
        return tuple(range(len(meta.axes))), meta
    if np.dtype(dtype) not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"ImageJ hyperstacks hold uint8, uint16 or float32, not "
                         f"{np.dtype(dtype)}; use --output-dtype float32 or --format tiff")
    order = "TZCYXS"
    if any(a not in order for a in meta.axes):
        raise ValueError(f"ImageJ hyperstacks hold T, Z, C, Y, X (and S) axes only, not "
                         f"{meta.axes!r}; use --format tiff or ome-tiff")
    axes = "".join(sorted(meta.axes, key=order.index))
    return tuple(meta.axes.index(a) for a in axes), dataclasses.replace(meta, axes=axes)


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
                  provenance: dict | None) -> dict[str, Any]:
    """``tifffile.imwrite`` keywords for an image of ``shape`` already in ``fmt``'s order."""
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    kwargs: dict[str, Any] = {
        "bigtiff": nbytes > 2**32 - 2**25 and fmt != "imagej",
        "photometric": _photometric(shape, dtype, meta.axes),
        "software": "bgsub",
    }
    if fmt == "ome-tiff":
        kwargs.update(ome=True, compression="zlib", metadata=_ome_metadata(meta, provenance))
    elif fmt == "imagej":
        kwargs.update(imagej=True, metadata=_imagej_metadata(meta, shape, provenance))
    else:
        kwargs.update(compression="zlib", metadata=_shaped_metadata(meta, provenance))
    kwargs.update(_resolution_kwargs(meta, fmt))
    return kwargs


def _photometric(shape: tuple[int, ...], dtype: np.dtype, axes: str) -> str:
    rgb = axes.endswith("S") and shape[-1] in (3, 4) and np.dtype(dtype) in (np.uint8,
                                                                             np.uint16)
    return "rgb" if rgb else "minisblack"


def _resolution_kwargs(meta: ImageMetadata, fmt: str) -> dict[str, Any]:
    """TIFF resolution tags from the pixel size, else as read from the input."""
    has_xy = "X" in meta.spacing and "Y" in meta.spacing
    if fmt == "imagej" and has_xy:
        return {"resolution": (1 / meta.spacing["X"], 1 / meta.spacing["Y"])}
    if has_xy and meta.units.get("X") == "µm":
        return {"resolution": (1e4 / meta.spacing["X"], 1e4 / meta.spacing["Y"]),
                "resolutionunit": _RESOLUTION_CM}
    original = meta.original.get("resolution")
    if original is not None:
        return {"resolution": (original[0], original[1]), "resolutionunit": original[2]}
    return {}


def _ome_metadata(meta: ImageMetadata, provenance: dict | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": meta.axes}
    if meta.name:
        metadata["Name"] = meta.name
    for letter, size in meta.spacing.items():
        if letter in "ZYX":
            metadata[f"PhysicalSize{letter}"] = size
            metadata[f"PhysicalSize{letter}Unit"] = meta.units.get(letter, "µm")
    if meta.channel_names:
        metadata["Channel"] = {"Name": list(meta.channel_names)}
    if provenance is not None:
        metadata["CommentAnnotation"] = {"Namespace": OME_NAMESPACE,
                                         "Value": _dumps(provenance)}
        # A UUID derived from the content, so that re-running writes identical bytes.
        metadata["UUID"] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_OID, _dumps(provenance))}"
        metadata["Creator"] = "bgsub"
    return metadata


def _imagej_metadata(meta: ImageMetadata, shape: tuple[int, ...], provenance: dict | None
                     ) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": meta.axes}
    metadata.update(meta.original.get("imagej", {}))
    if "Z" in meta.spacing:
        metadata["spacing"] = meta.spacing["Z"]
    unit = meta.units.get("X")
    if unit and "unit" not in metadata:
        metadata["unit"] = "micron" if unit == "µm" else unit
    if meta.channel_names and "C" in meta.axes:
        metadata["Labels"] = _labels_from_channels(meta.channel_names, meta.axes, shape)
    if provenance is not None:
        metadata["Info"] = _IMAGEJ_INFO_PREFIX + _dumps(provenance)
    return metadata


def _shaped_metadata(meta: ImageMetadata, provenance: dict | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": meta.axes}
    if meta.spacing:
        metadata["spacing"] = dict(meta.spacing)
        metadata["units"] = dict(meta.units)
    if meta.channel_names:
        metadata["channel_names"] = list(meta.channel_names)
    if meta.name:
        metadata["name"] = meta.name
    if provenance is not None:
        metadata[PROVENANCE_KEY] = provenance
    return metadata


def _dumps(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
