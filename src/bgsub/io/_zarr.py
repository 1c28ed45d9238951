"""Zarr arrays and OME-Zarr images (NGFF 0.4 and 0.5), through zarr-python.

OME-Zarr is read at its full resolution (multiscales level 0) with its axes,
scale and channel labels; a ``bioformats2raw`` layout holds one image per
series. Output is OME-Zarr 0.4 (Zarr format 2, the most widely read) when
the axes fit the NGFF model (``[T][C][Z]YX``), otherwise a plain Zarr array
with ``dimension_names``.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from bgsub._axes import default_axes
from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_size
from bgsub.io._metadata import ImageMetadata, normalise_unit

PROVENANCE_KEY = "bgsub"
_AXIS_NAMES = {"time": "T", "channel": "C", "t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}
_NGFF_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
_NGFF_UNITS = {"µm": "micrometer", "nm": "nanometer", "mm": "millimeter", "s": "second"}


def is_zarr(path: Path) -> bool:
    """Whether ``path`` is a Zarr store (a folder with Zarr metadata)."""
    return path.is_dir() and any((path / name).exists()
                                 for name in ("zarr.json", ".zgroup", ".zarray"))


def _open(path: Path) -> Any:
    return zarr.open(store=str(path), mode="r")


def _attrs(node: Any) -> dict[str, Any]:
    attrs = dict(node.attrs)
    return {**attrs, **attrs["ome"]} if isinstance(attrs.get("ome"), dict) else attrs


def _series_groups(root: Any) -> list[Any]:
    """The images of a store: one per bioformats2raw series, else the store itself."""
    if isinstance(root, zarr.Array):
        return [root]
    if "bioformats2raw.layout" in _attrs(root):
        keys = sorted((k for k in root.group_keys() if k.isdigit()), key=int)
        return [root[k] for k in keys]
    return [root]


def series_count(path: Path) -> int:
    """Number of images (series) in the Zarr store at ``path``."""
    return len(_series_groups(_open(path)))


def read(path: Path, series: int, max_bytes: int) -> tuple[np.ndarray, ImageMetadata]:
    """Pixels and metadata of image ``series`` of a Zarr store.

    The array's declared shape is checked against ``max_bytes`` before it is read.
    """
    groups = _series_groups(_open(path))
    if not 0 <= series < len(groups):
        raise UnsupportedFileError(f"series {series} does not exist (the store has {len(groups)}); "
                         f"use --series 0 to {len(groups) - 1}")
    node = groups[series]
    if isinstance(node, zarr.Array):
        data = _read_array(node, path, max_bytes)
        meta = ImageMetadata(axes=_array_axes(node, data.shape), format="zarr")
        attrs = dict(node.attrs)
        if isinstance(attrs.get("spacing"), dict):
            meta.spacing = {k: float(v) for k, v in attrs["spacing"].items()}
            meta.units = dict(attrs.get("units") or {})
        if attrs.get("channel_names"):
            meta.channel_names = tuple(attrs["channel_names"])
        record = attrs.get(PROVENANCE_KEY)
    else:
        attrs = _attrs(node)
        multiscales = attrs.get("multiscales")
        if not multiscales:
            arrays = list(node.array_keys())
            if len(arrays) != 1:
                raise UnsupportedFileError("the Zarr group is neither OME-Zarr nor a single "
                                           "array; point bgsub at the array's folder")
            return read(path / arrays[0], 0, max_bytes)
        data, meta = _read_multiscale(node, multiscales[0], path, max_bytes)
        meta.original["omero"] = attrs.get("omero")
        labels = [ch.get("label") for ch in (attrs.get("omero") or {}).get("channels", [])]
        if labels and all(labels) and "C" in meta.axes and len(labels) == data.shape[
                meta.axes.index("C")]:
            meta.channel_names = tuple(labels)
        record = dict(node.attrs).get(PROVENANCE_KEY)
    meta.series, meta.series_count = series, len(groups)
    meta.provenance = record if isinstance(record, dict) else None
    return data, meta


def _read_array(array: Any, root: Path, max_bytes: int) -> np.ndarray:
    """All of ``array``, once its declared size and its chunks' headers were checked."""
    if not isinstance(array, zarr.Array):
        raise UnsupportedFileError("the OME-Zarr image's level 0 is not an array; "
                                   "copy or export the store again")
    check_size(array.shape, array.dtype, max_bytes)
    _check_chunk_headers(array, root)
    return array[...]


_METADATA_FILES = ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def _codec_names(array: Any) -> set[str]:
    """``{"blosc", "zstd", "bytes", "sharding", ...}``: the codecs of a Zarr 2 or 3 array."""
    meta = array.metadata
    names = set()
    compressor = getattr(meta, "compressor", None)
    if compressor is not None:
        names.add(str(getattr(compressor, "codec_id", "")).lower())
    for codec in getattr(meta, "codecs", None) or ():
        names.add(type(codec).__name__.lower().removesuffix("codec"))
    return names


def _check_chunk_headers(array: Any, root: Path) -> None:
    """Refuse a chunk whose Blosc or Zstd header declares more bytes than a chunk holds.

    The codecs allocate what the header declares before they notice the
    damage: a flipped byte in a 200-byte chunk can make Blosc ask for 1 GiB.
    Only the first 32 bytes of each chunk are read.
    """
    names = _codec_names(array)
    codec = "blosc" if "blosc" in names else "zstd" if "zstd" in names else None
    if codec is None or "sharding" in names:
        return
    holds = int(np.prod(array.chunks, dtype=object)) * np.dtype(array.dtype).itemsize
    folder = root / array.path if array.path else root
    for chunk in sorted(folder.rglob("*")):
        if chunk.name in _METADATA_FILES or not chunk.is_file():
            continue
        with open(chunk, "rb") as handle:
            head = handle.read(32)
        declared = _blosc_size(head) if codec == "blosc" else _zstd_size(head)
        if declared is not None and declared > holds:
            raise UnsupportedFileError(
                f"damaged Zarr chunk {chunk.relative_to(root)}: its {codec} header declares "
                f"{declared} bytes but a chunk holds {holds}; copy or export the store again")


def _blosc_size(head: bytes) -> int | None:
    """Uncompressed size in a Blosc header (bytes 4-8, little-endian).

    Read even from a chunk shorter than the 16-byte header: Blosc does.
    """
    return struct.unpack("<I", head[4:8])[0] if len(head) >= 8 else None


def _zstd_size(head: bytes) -> int | None:
    """Frame content size of a Zstd frame header, or None when absent."""
    if len(head) < 6 or head[:4] != b"\x28\xb5\x2f\xfd":
        return None
    descriptor = head[4]
    size_flag, single = descriptor >> 6, (descriptor >> 5) & 1
    field = (1 if single else 0, 2, 4, 8)[size_flag]
    if field == 0:
        return None
    start = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
    raw = head[start:start + field]
    if len(raw) < field:
        return None
    value = int.from_bytes(raw, "little")
    return value + 256 if field == 2 else value


def _array_axes(array: Any, shape: tuple[int, ...]) -> str:
    """Axes from ``dimension_names`` (Zarr 3), ``_ARRAY_DIMENSIONS`` (xarray) or a guess."""
    names = getattr(array.metadata, "dimension_names", None) or array.attrs.get(
        "_ARRAY_DIMENSIONS") or array.attrs.get("axes")
    if names and len(names) == len(shape) and all(names):
        return "".join(_AXIS_NAMES.get(str(n).lower(), str(n)[:1].upper()) for n in names)
    return default_axes(shape)


def _read_multiscale(group: Any, multiscale: dict, root: Path, max_bytes: int
                     ) -> tuple[np.ndarray, ImageMetadata]:
    level0 = multiscale["datasets"][0]
    data = _read_array(group[level0["path"]], root, max_bytes)
    axes_info = multiscale.get("axes") or [{"name": n} for n in "tczyx"[-data.ndim:]]
    axes_info = [a if isinstance(a, dict) else {"name": a} for a in axes_info]
    axes = "".join(_AXIS_NAMES.get(str(a["name"]).lower(), "Q") for a in axes_info)
    meta = ImageMetadata(axes=axes, format="ome-zarr", name=multiscale.get("name"))
    scale = np.ones(data.ndim)
    for transforms in (level0.get("coordinateTransformations"),
                       multiscale.get("coordinateTransformations")):
        for t in transforms or []:
            if t.get("type") == "scale":
                scale = scale * np.asarray(t["scale"], dtype=float)
    for letter, info, size in zip(axes, axes_info, scale, strict=True):
        if letter in "ZYX":
            meta.spacing[letter] = float(size)
            unit = {v: k for k, v in _NGFF_UNITS.items()}.get(info.get("unit"), info.get("unit"))
            meta.units[letter] = normalise_unit(unit) if unit else "pixel"
    return data, meta


def ngff_order(axes: str) -> str | None:
    """``axes`` in OME-Zarr order (``[T][C][Z]YX``), or None if they do not fit it."""
    order = "TCZYX"
    if "Y" not in axes or "X" not in axes or any(a not in order for a in axes):
        return None
    return "".join(sorted(axes, key=order.index))


def write(path: Path, data: np.ndarray, meta: ImageMetadata, fmt: str,
          provenance: dict | None) -> None:
    """Write ``data`` as OME-Zarr 0.4 (``fmt="ome-zarr"``) or a plain Zarr array."""
    chunks = tuple(min(n, 1024) if a in "YX" else (n if a == "S" else 1)
                   for a, n in zip(meta.axes, data.shape, strict=True))
    if fmt == "ome-zarr":
        order = ngff_order(meta.axes)
        if order is None:
            raise ValueError(f"OME-Zarr holds T, C, Z, Y and X axes only, not {meta.axes!r}; "
                             "use --format zarr or tiff")
        data = np.transpose(data, [meta.axes.index(a) for a in order])
        meta = dataclasses.replace(meta, axes=order)
        chunks = tuple(min(n, 1024) if a in "YX" else 1 for a, n in zip(order, data.shape,
                                                                       strict=True))
        root = zarr.open_group(store=str(path), mode="w", zarr_format=2)
        array = root.create_array("0", shape=data.shape, dtype=data.dtype, chunks=chunks)
        array[...] = data
        attrs: dict[str, Any] = {"multiscales": [_multiscale(meta)]}
        if meta.channel_names:
            attrs["omero"] = {"version": "0.4", "channels": [
                {"label": name, "active": True} for name in meta.channel_names]}
    else:
        root = zarr.create_array(store=str(path), shape=data.shape, dtype=data.dtype,
                                 chunks=chunks, zarr_format=3,
                                 dimension_names=list(meta.axes))
        root[...] = data
        attrs = {"axes": meta.axes}
        if meta.spacing:
            attrs.update(spacing=meta.spacing, units=meta.units)
        if meta.channel_names:
            attrs["channel_names"] = list(meta.channel_names)
    if provenance is not None:
        attrs[PROVENANCE_KEY] = provenance
    root.attrs.update(attrs)


def _multiscale(meta: ImageMetadata) -> dict[str, Any]:
    axes = []
    for letter in meta.axes:
        entry = {"name": letter.lower(), "type": _NGFF_TYPES[letter]}
        unit = meta.units.get(letter)
        if letter in "ZYX" and unit and unit != "pixel":
            entry["unit"] = _NGFF_UNITS.get(unit, unit)
        axes.append(entry)
    scale = [float(meta.spacing.get(letter, 1.0)) for letter in meta.axes]
    multiscale: dict[str, Any] = {
        "version": "0.4", "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": scale}]}],
    }
    if meta.name:
        multiscale["name"] = meta.name
    return multiscale
