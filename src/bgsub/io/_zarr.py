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
from bgsub.io._atomic import deferred_interrupts
from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_block, check_size
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


def attributes(node: Any) -> dict[str, Any]:
    attrs = dict(node.attrs)
    return {**attrs, **attrs["ome"]} if isinstance(attrs.get("ome"), dict) else attrs


def _series_groups(root: Any) -> list[Any]:
    """The images of a store: one per bioformats2raw series, else the store itself."""
    if isinstance(root, zarr.Array):
        return [root]
    if "bioformats2raw.layout" in attributes(root):
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
    array, meta = open_array(path, series, max_bytes)
    return array[...], meta


def open_array(path: Path, series: int, max_bytes: int) -> tuple[Any, ImageMetadata]:
    """The ``zarr.Array`` of image ``series`` (level 0 of OME-Zarr), unread, and its metadata.

    Its declared shape is checked against ``max_bytes`` and its chunks'
    headers are checked (see :func:`_check_chunk_headers`) before it is returned.
    """
    groups = _series_groups(_open(path))
    if not 0 <= series < len(groups):
        raise UnsupportedFileError(f"series {series} does not exist (the store has {len(groups)}); "
                         f"use --series 0 to {len(groups) - 1}")
    node = groups[series]
    if isinstance(node, zarr.Array):
        array = _checked(node, path, max_bytes)
        meta = ImageMetadata(axes=_array_axes(node, array.shape), format="zarr")
        attrs = dict(node.attrs)
        if isinstance(attrs.get("spacing"), dict):
            meta.spacing = {k: float(v) for k, v in attrs["spacing"].items()}
            meta.units = dict(attrs.get("units") or {})
        if attrs.get("channel_names"):
            meta.channel_names = tuple(attrs["channel_names"])
        record = attrs.get(PROVENANCE_KEY)
    else:
        attrs = attributes(node)
        multiscales = attrs.get("multiscales")
        if not multiscales:
            arrays = list(node.array_keys())
            if len(arrays) != 1:
                raise UnsupportedFileError("the Zarr group is neither OME-Zarr nor a single "
                                           "array; point bgsub at the array's folder")
            return open_array(path / arrays[0], 0, max_bytes)
        array, meta = _open_multiscale(node, multiscales[0], path, max_bytes)
        meta.original["omero"] = attrs.get("omero")
        labels = [ch.get("label") for ch in (attrs.get("omero") or {}).get("channels", [])]
        if labels and all(labels) and "C" in meta.axes and len(labels) == array.shape[
                meta.axes.index("C")]:
            meta.channel_names = tuple(labels)
        record = dict(node.attrs).get(PROVENANCE_KEY)
    meta.series, meta.series_count = series, len(groups)
    meta.provenance = record if isinstance(record, dict) else None
    return array, meta


def _checked(array: Any, root: Path, max_bytes: int) -> Any:
    """``array``, once its declared size and its chunks' headers were checked."""
    if not isinstance(array, zarr.Array):
        raise UnsupportedFileError("the OME-Zarr image's level 0 is not an array; "
                                   "copy or export the store again")
    check_size(array.shape, array.dtype, max_bytes)
    check_block(array.chunks, array.dtype, max_bytes, "Zarr chunk")
    _check_chunk_headers(array, root)
    return array


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


def _open_multiscale(group: Any, multiscale: dict, root: Path, max_bytes: int
                     ) -> tuple[Any, ImageMetadata]:
    """Level 0 of an OME-Zarr image, unread, with its metadata.

    ``meta.original`` keeps the ``multiscale`` entry and the shape of every
    level, from which :func:`pyramid_levels` rebuilds the pyramid on output.
    """
    level0 = multiscale["datasets"][0]
    array = _checked(group[level0["path"]], root, max_bytes)
    axes_info = multiscale.get("axes") or [{"name": n} for n in "tczyx"[-array.ndim:]]
    axes_info = [a if isinstance(a, dict) else {"name": a} for a in axes_info]
    axes = "".join(_AXIS_NAMES.get(str(a["name"]).lower(), "Q") for a in axes_info)
    meta = ImageMetadata(axes=axes, format="ome-zarr", name=multiscale.get("name"))
    scale = np.ones(array.ndim)
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
    meta.original["multiscale"] = multiscale
    meta.original["level_shapes"] = _level_shapes(group, multiscale["datasets"], array.ndim)
    return array, meta


def _level_shapes(group: Any, datasets: list[dict], ndim: int) -> list[tuple[int, ...]]:
    """The shape of each level, as long as the levels are arrays of ``ndim`` axes."""
    shapes = []
    for dataset in datasets:
        try:
            level = group[dataset["path"]]
        except (KeyError, TypeError):
            break
        if not isinstance(level, zarr.Array) or level.ndim != ndim:
            break
        shapes.append(tuple(int(n) for n in level.shape))
    return shapes


def ngff_order(axes: str) -> str | None:
    """``axes`` in OME-Zarr order (``[T][C][Z]YX``), or None if they do not fit it."""
    order = "TCZYX"
    if "Y" not in axes or "X" not in axes or any(a not in order for a in axes):
        return None
    return "".join(sorted(axes, key=order.index))


def write(path: Path, data: np.ndarray, meta: ImageMetadata, fmt: str,
          provenance: dict | None) -> None:
    """Write ``data`` as OME-Zarr 0.4 (``fmt="ome-zarr"``) or a plain Zarr array.

    An OME-Zarr image read with a pyramid gets its pyramid rebuilt from ``data``
    (see :func:`pyramid_levels`).
    """
    with deferred_interrupts():  # zarr writes in a thread of its own: let it finish
        store = create(path, data.shape, data.dtype, meta, fmt, provenance)
        level = np.transpose(data, store.order)
        store.arrays[0][...] = level
        for array, spec in zip(store.arrays[1:], store.levels, strict=True):
            level = downsample(level, spec.factors, spec.scheme)[spec.crop]
            array[...] = level


@dataclasses.dataclass(frozen=True)
class Level:
    """How one level of an OME-Zarr pyramid is made from the level above it.

    Attributes
    ----------
    factors : tuple of int
        Downsampling factor per stored axis (1 for T, C and axes not reduced).
    shape : tuple of int
        The level's shape: ``ceil(above / factor)``, or the input's level
        shape when that is one smaller (a pyramid that drops the partial
        block at the edge).
    scheme : {"mean", "nearest"}
        Mean of each block (default), or its first pixel when the input's
        pyramid says it was made by picking pixels (``type`` nearest).
    """

    factors: tuple[int, ...]
    shape: tuple[int, ...]
    scheme: str = "mean"

    @property
    def crop(self) -> tuple[slice, ...]:
        """Selects the level's shape from the :func:`downsample` of the level above."""
        return tuple(slice(0, n) for n in self.shape)


@dataclasses.dataclass
class ZarrStore:
    """A Zarr store created by :func:`create`, ready to be filled.

    Attributes
    ----------
    arrays : list of zarr.Array
        Level 0 (the image), then the pyramid's levels, in the stored axis order.
    order : tuple of int
        Stored axis ``i`` is the image's axis ``order[i]`` (OME-Zarr is ``[T][C][Z]YX``).
    levels : list of Level
        How ``arrays[k + 1]`` is made from ``arrays[k]``.
    """

    arrays: list[Any]
    order: tuple[int, ...]
    levels: list[Level]


_NEAREST_TYPES = ("nearest", "stride", "subsample", "pick", "nearest_neighbor")


def create(path: Path, shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata, fmt: str,
           provenance: dict | None, chunks: tuple[int, ...] | None = None) -> ZarrStore:
    """Create a Zarr store with the metadata of ``meta`` and empty arrays to fill.

    Parameters
    ----------
    path : Path
        The store to create (a folder; replaced if present).
    shape, dtype : tuple of int, dtype
        The image's, in the order of ``meta.axes``.
    meta : ImageMetadata
        Axes, pixel sizes, channel names; for OME-Zarr the input's pyramid
        (``original["level_shapes"]``) decides the levels created.
    fmt : {"zarr", "ome-zarr"}
        OME-Zarr 0.4 (Zarr format 2) or a plain Zarr 3 array.
    provenance : dict, optional
        Stored in the attributes.
    chunks : tuple of int, optional
        Chunk shape in the order of ``meta.axes``; default: Y-X tiles of up to
        1024 x 1024, one plane deep. Writers filling the arrays in parallel
        should write whole chunks.

    Returns
    -------
    ZarrStore
    """
    with deferred_interrupts():  # zarr writes in a thread of its own: let it finish
        return _create(path, shape, dtype, meta, fmt, provenance, chunks)


def _create(path: Path, shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata, fmt: str,
            provenance: dict | None, chunks: tuple[int, ...] | None) -> ZarrStore:
    order, stored = output_order(meta, fmt)
    shape = tuple(int(shape[i]) for i in order)
    if chunks is None:
        chunks = tuple(min(n, 1024) if a in "YX" else (n if a == "S" and fmt == "zarr" else 1)
                       for a, n in zip(stored.axes, shape, strict=True))
    else:
        chunks = tuple(max(1, min(int(chunks[i]), n)) for i, n in zip(order, shape, strict=True))
    if fmt != "ome-zarr":
        root = zarr.create_array(store=str(path), shape=shape, dtype=dtype, chunks=chunks,
                                 zarr_format=3, dimension_names=list(stored.axes))
        attrs: dict[str, Any] = {"axes": stored.axes}
        if stored.spacing:
            attrs.update(spacing=stored.spacing, units=stored.units)
        if stored.channel_names:
            attrs["channel_names"] = list(stored.channel_names)
        arrays, levels = [root], []
    else:
        levels = pyramid_levels(meta, order, shape)
        root = zarr.open_group(store=str(path), mode="w", zarr_format=2)
        arrays = [root.create_array("0", shape=shape, dtype=dtype, chunks=chunks)]
        for k, level in enumerate(levels, start=1):
            arrays.append(root.create_array(str(k), shape=level.shape, dtype=dtype, chunks=tuple(
                min(c, n) for c, n in zip(chunks, level.shape, strict=True))))
        attrs = {"multiscales": [_multiscale(stored, levels, _translations(meta, order))]}
        if stored.channel_names:
            attrs["omero"] = {"version": "0.4", "channels": [
                {"label": name, "active": True} for name in stored.channel_names]}
    if provenance is not None:
        attrs[PROVENANCE_KEY] = provenance
    root.attrs.update(attrs)
    return ZarrStore(arrays, order, levels)


def output_order(meta: ImageMetadata, fmt: str) -> tuple[tuple[int, ...], ImageMetadata]:
    """The axis permutation ``fmt`` stores an image in, and ``meta`` in that order.

    Raises
    ------
    ValueError
        OME-Zarr cannot hold one of the axes.
    """
    if fmt != "ome-zarr":
        return tuple(range(len(meta.axes))), meta
    axes = ngff_order(meta.axes)
    if axes is None:
        raise ValueError(f"OME-Zarr holds T, C, Z, Y and X axes only, not {meta.axes!r}; "
                         "use --format zarr or tiff")
    return tuple(meta.axes.index(a) for a in axes), dataclasses.replace(meta, axes=axes)


def pyramid_levels(meta: ImageMetadata, order: tuple[int, ...], shape: tuple[int, ...]
                   ) -> list[Level]:
    """The levels below level 0 to build for an image of stored ``shape``, as the input had.

    Each level is reduced from the one above by the ratio of the input's
    level shapes (rounded; typically 2 along Y and X, 1 along T and C), so
    the output has the input's number of levels and shapes. None for an
    input without a pyramid, or whose level 0 is not this image's shape.

    Examples
    --------
    >>> meta = ImageMetadata("ZYX", original={"level_shapes": [(3, 64, 70), (3, 32, 35),
    ...                                                        (3, 16, 17)]})
    >>> [(level.factors, level.shape) for level in pyramid_levels(meta, (0, 1, 2), (3, 64, 70))]
    [((1, 2, 2), (3, 32, 35)), ((1, 2, 2), (3, 16, 17))]
    """
    shapes = [tuple(int(s[i]) for i in order) for s in meta.original.get("level_shapes") or []]
    if len(shapes) < 2 or shapes[0] != tuple(shape):
        return []
    kind = str((meta.original.get("multiscale") or {}).get("type", "")).lower()
    scheme = "nearest" if kind in _NEAREST_TYPES else "mean"
    levels: list[Level] = []
    above = tuple(shape)
    for wanted in shapes[1:]:
        factors = tuple(max(1, round(a / b)) if b > 0 else 1
                        for a, b in zip(above, wanted, strict=True))
        size = tuple(min(max(b, 1), -(-a // f))
                     for a, b, f in zip(above, wanted, factors, strict=True))
        levels.append(Level(factors, size, scheme))
        above = size
    return levels


def downsample(data: np.ndarray, factors: tuple[int, ...], scheme: str = "mean"
               ) -> np.ndarray:
    """Reduce ``data`` by ``factors`` per axis: the mean of each block, or its first pixel.

    A partial block at the end of an axis gives one more pixel, the mean of
    what it holds (``ceil(n / factor)`` pixels). Means are computed in float64
    and rounded to the nearest integer for integer data, so the same block
    gives the same value wherever it is cut from.

    Examples
    --------
    >>> downsample(np.array([[1, 2, 3], [3, 4, 5]], dtype=np.uint8), (2, 2))
    array([[2, 4]], dtype=uint8)
    """
    if scheme == "nearest":
        return data[tuple(slice(None, None, f) for f in factors)]
    values = data.astype(np.float64)
    for axis, factor in enumerate(factors):
        if factor == 1:
            continue
        starts = np.arange(0, values.shape[axis], factor)
        counts = np.diff(np.append(starts, values.shape[axis]))
        shape = [1] * values.ndim
        shape[axis] = len(counts)
        values = np.add.reduceat(values, starts, axis=axis) / counts.reshape(shape)
    if np.issubdtype(data.dtype, np.integer):
        np.rint(values, out=values)
    return values.astype(data.dtype)


def _translations(meta: ImageMetadata, order: tuple[int, ...]) -> list[list[float] | None]:
    """The input's translation of each level, in the stored order (None where it had none)."""
    datasets = (meta.original.get("multiscale") or {}).get("datasets") or []
    found: list[list[float] | None] = []
    for dataset in datasets:
        shift = next((t.get("translation") for t in dataset.get("coordinateTransformations")
                      or [] if t.get("type") == "translation"), None)
        found.append([float(shift[i]) for i in order] if shift and len(shift) == len(order)
                     else None)
    return found


def _multiscale(meta: ImageMetadata, levels: list[Level] | None = None,
                translations: list[list[float] | None] | None = None) -> dict[str, Any]:
    axes = []
    for letter in meta.axes:
        entry = {"name": letter.lower(), "type": _NGFF_TYPES[letter]}
        unit = meta.units.get(letter)
        if letter in "ZYX" and unit and unit != "pixel":
            entry["unit"] = _NGFF_UNITS.get(unit, unit)
        axes.append(entry)
    scale = np.array([float(meta.spacing.get(letter, 1.0)) for letter in meta.axes])
    datasets = []
    for k, level in enumerate([None, *(levels or [])]):
        if level is not None:
            scale = scale * np.asarray(level.factors, dtype=float)
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale.tolist()}]
        shift = (translations or [])[k] if k < len(translations or []) else None
        if shift is not None:
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    multiscale: dict[str, Any] = {"version": "0.4", "axes": axes, "datasets": datasets}
    if meta.name:
        multiscale["name"] = meta.name
    if levels:
        scheme = levels[0].scheme
        multiscale["type"] = "local_mean" if scheme == "mean" else "nearest"
        multiscale["metadata"] = {
            "method": "bgsub", "version": _bgsub_version(),
            "description": ("each level is the mean of blocks of the level above, rounded "
                            "for integers" if scheme == "mean" else
                            "each level takes the first pixel of each block of the level "
                            "above")}
    return multiscale


def _bgsub_version() -> str:
    from bgsub._version import __version__

    return __version__
