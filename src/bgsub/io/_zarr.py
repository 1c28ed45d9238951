"""Zarr arrays and OME-Zarr images (NGFF 0.4 and 0.5), through zarr-python.

OME-Zarr is read at its full resolution (multiscales level 0) with its axes,
scale (time included), channel labels, colours and display windows (the
``omero`` block); its attributes are validated with ``ome-zarr-models`` (a
warning names what does not follow NGFF). A ``bioformats2raw`` layout holds
one image per series. Output keeps the input's container: NGFF 0.4 (Zarr
format 2) or 0.5 (Zarr format 3), a plain Zarr 2 or 3 array; OME-Zarr from
another format is 0.4 (the most widely read), a plain Zarr array is Zarr 3
with ``dimension_names``. The attributes written are built and validated
with ``ome-zarr-models``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bgsub._axes import default_axes
from bgsub.io._atomic import deferred_interrupts
from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_block, check_size
from bgsub.io._metadata import ImageMetadata, normalise_unit

PROVENANCE_KEY = "bgsub"
_AXIS_NAMES = {"time": "T", "channel": "C", "t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}
_NGFF_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
_NGFF_UNITS = {"µm": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter",
               "m": "meter", "pm": "picometer", "Å": "angstrom", "s": "second",
               "ms": "millisecond", "µs": "microsecond", "ns": "nanosecond", "min": "minute",
               "h": "hour"}
#: NGFF version of OME-Zarr written from another format (0.4: the most widely read).
DEFAULT_NGFF = "0.4"
_OWN_KEYS = ("multiscales", "omero", "ome", "bgsub", "_ARRAY_DIMENSIONS")


def is_zarr(path: Path) -> bool:
    """Whether ``path`` is a Zarr store (a folder with Zarr metadata)."""
    return path.is_dir() and any((path / name).exists()
                                 for name in ("zarr.json", ".zgroup", ".zarray"))


# zarr, ome-zarr-models (pydantic), numcodecs and zstandard are imported by the functions that
# use them: together they take ~0.3 s, which a TIFF or PNG never needs.


def _open(path: Path) -> Any:
    import zarr

    return zarr.open(store=str(path), mode="r")


def attributes(node: Any) -> dict[str, Any]:
    attrs = dict(node.attrs)
    return {**attrs, **attrs["ome"]} if isinstance(attrs.get("ome"), dict) else attrs


def _validated_version(group: Any) -> str:
    """The NGFF version of an image group ("0.4" or "0.5"), after checking it with ome-zarr-models.

    Metadata that does not follow the specification is still read as far as
    it goes, with a warning naming the first problem.
    """
    from ome_zarr_models.v04.image import ImageAttrs as ImageAttrs04
    from ome_zarr_models.v05.image import ImageAttrs as ImageAttrs05
    from pydantic import ValidationError

    raw = dict(group.attrs)
    if isinstance(raw.get("ome"), dict):
        version, model, payload = str(raw["ome"].get("version", "0.5")), ImageAttrs05, raw["ome"]
    else:
        multiscales = raw.get("multiscales")
        first = multiscales[0] if isinstance(multiscales, list) and multiscales else {}
        version = str(first.get("version", "0.4")) if isinstance(first, dict) else "0.4"
        model, payload = ImageAttrs04, raw
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ()))
        warnings.warn(f"the OME-Zarr metadata does not follow NGFF {version} ({where}: "
                      f"{problem.get('msg')}); it is read as far as it goes", stacklevel=5)
    return "0.5" if version.startswith("0.5") else "0.4"


def _read_omero(omero: Any, shape: tuple[int, ...], meta: ImageMetadata) -> None:
    """Channel labels, colours and display windows of an ``omero`` block."""
    if not isinstance(omero, dict):
        return
    meta.original["omero"] = omero
    channels = [ch for ch in omero.get("channels") or [] if isinstance(ch, dict)]
    if "C" not in meta.axes or len(channels) != shape[meta.axes.index("C")]:
        return
    labels = [ch.get("label") for ch in channels]
    if all(labels):
        meta.channel_names = tuple(str(label) for label in labels)
    colors = [str(ch["color"]).lstrip("#").upper() if ch.get("color") else None
              for ch in channels]
    if any(colors):
        meta.channel_colors = tuple(colors)
    windows = [ch.get("window") if isinstance(ch.get("window"), dict) else {}
               for ch in channels]
    ranges = [(float(w["start"]), float(w["end"])) if "start" in w and "end" in w else None
              for w in windows]
    if any(ranges):
        meta.display_ranges = tuple(ranges)


def _series_groups(root: Any, path: Path) -> list[Any]:
    """The images of a store: one per bioformats2raw series, else the store itself.

    Raises
    ------
    UnsupportedFileError
        For an HCS plate or well, naming the path of a field to give instead.
    """
    import zarr

    if isinstance(root, zarr.Array):
        return [root]
    _refuse_hcs(root, path)
    if "bioformats2raw.layout" in attributes(root):
        keys = sorted((k for k in root.group_keys() if k.isdigit()), key=int)
        return [root[k] for k in keys]
    return [root]


def hcs_field(path: Path) -> tuple[Path, str, str, str] | None:
    """``(plate, row, column, field)`` where ``path`` is a field of an NGFF HCS plate's
    well (``plate.ome.zarr/A/1/0``), else None.

    The well's metadata must list the field, and the plate's the well.
    """
    import zarr

    field, column, row, plate = path, path.parent, path.parent.parent, path.parent.parent.parent
    try:
        well = attributes(zarr.open_group(store=str(column), mode="r")).get("well") or {}
        listed = {str(image.get("path")) for image in well.get("images") or []}
        wells = (attributes(zarr.open_group(store=str(plate), mode="r")).get("plate") or {}
                 ).get("wells") or []
    except Exception:  # (not Zarr groups, unreadable: not a field of a plate)
        return None
    if field.name not in listed or f"{row.name}/{column.name}" not in {
            str(w.get("path")) for w in wells if isinstance(w, dict)}:
        return None
    return plate, row.name, column.name, field.name


def _refuse_hcs(group: Any, path: Path) -> None:
    """A one-line error for an NGFF HCS plate or well: many images, each a field of a well,
    which bgsub processes one at a time, given by its path (``plate.ome.zarr/A/1/0``)."""
    attrs = attributes(group)
    kind = ("plate (wells of fields of view)" if isinstance(attrs.get("plate"), dict) else
            "well (fields of view)" if isinstance(attrs.get("well"), dict) else None)
    if kind is None:
        return
    field = _first_field(group, attrs)
    example = f"{path}/{field}" if field else f"{path}/A/1/0" if "plate" in kind else f"{path}/0"
    raise UnsupportedFileError(f"an OME-Zarr HCS {kind}, not one image; give each field's "
                               f"own path, e.g. {example}")


def _first_field(group: Any, attrs: dict[str, Any]) -> str | None:
    """The path of the first field of a plate's first well (or of a well), if it has one."""
    try:
        if "plate" in attrs:
            well = attrs["plate"]["wells"][0]["path"]
            return f"{well}/{attributes(group[well])['well']['images'][0]['path']}"
        return str(attrs["well"]["images"][0]["path"])
    except (KeyError, IndexError, TypeError):
        return None


def series_count(path: Path) -> int:
    """Number of images (series) in the Zarr store at ``path``."""
    return len(_series_groups(_open(path), path))


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
    import zarr

    groups = _series_groups(_open(path), path)
    if not 0 <= series < len(groups):
        raise UnsupportedFileError(f"series {series} does not exist (the store has {len(groups)}); "
                         f"use --series 0 to {len(groups) - 1}")
    node = groups[series]
    if isinstance(node, zarr.Array):
        array = _checked(node, path, max_bytes)
        meta = ImageMetadata(axes=_array_axes(node, array.shape), format="zarr")
        names = _dimension_names(node)
        if names is not None and len(names) == len(meta.axes):
            # written back where the output has these axes (xarray's "time", not "T")
            meta.original["dimension_names"] = (meta.axes, names)
        attrs = dict(node.attrs)
        if isinstance(attrs.get("spacing"), dict):
            meta.spacing = {k: float(v) for k, v in attrs["spacing"].items()}
            meta.units = dict(attrs.get("units") or {})
        if attrs.get("channel_names"):
            meta.channel_names = tuple(attrs["channel_names"])
        meta.original["zarr_format"] = node.metadata.zarr_format
        meta.original["attributes"] = {k: v for k, v in attrs.items() if k not in (
            "spacing", "units", "channel_names", "axes", *_OWN_KEYS)}
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
        version = _validated_version(node)
        array, meta = _open_multiscale(node, multiscales[0], path, max_bytes)
        meta.original["ngff_version"] = version
        meta.original["attributes"] = {k: v for k, v in dict(node.attrs).items()
                                       if k not in _OWN_KEYS}
        _read_omero(attrs.get("omero"), array.shape, meta)
        record = dict(node.attrs).get(PROVENANCE_KEY)
    meta.series, meta.series_count = series, len(groups)
    meta.provenance = record if isinstance(record, dict) else None
    return array, meta


def _checked(array: Any, root: Path, max_bytes: int) -> Any:
    """``array``, once its declared size and its chunks' headers were checked."""
    import zarr

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
        declared = _declared_size(codec, head)
        if declared is not None and declared > holds:
            raise UnsupportedFileError(
                f"damaged Zarr chunk {chunk.relative_to(root)}: its {codec} header declares "
                f"{declared} bytes but a chunk holds {holds}; copy or export the store again")


def _declared_size(codec: str, head: bytes) -> int | None:
    """The uncompressed size a Blosc or Zstd chunk's header declares, if it declares one.

    A Blosc header is read even from a chunk shorter than its 16 bytes
    (padded with zeros): Blosc does.
    """
    import numcodecs.blosc
    import zstandard

    if codec == "blosc":
        if len(head) < 8:
            return None
        # public as cbuffer_sizes up to numcodecs 0.15, private since
        sizes = getattr(numcodecs.blosc, "cbuffer_sizes", None) or numcodecs.blosc._cbuffer_sizes
        return int(sizes(head[:16].ljust(16, b"\0"))[0])
    try:
        size = zstandard.frame_content_size(head)
    except zstandard.ZstdError:
        return None
    return int(size) if size >= 0 else None


def _array_axes(array: Any, shape: tuple[int, ...]) -> str:
    """Axes from ``dimension_names`` (Zarr 3), ``_ARRAY_DIMENSIONS`` (xarray) or a guess."""
    names = _dimension_names(array) or array.attrs.get("axes")
    if names and len(names) == len(shape) and all(names):
        return "".join(_AXIS_NAMES.get(str(n).lower(), str(n)[:1].upper()) for n in names)
    return default_axes(shape)


def _dimension_names(array: Any) -> list[str] | None:
    """The array's own names of its dimensions: ``dimension_names`` (Zarr 3) or
    ``_ARRAY_DIMENSIONS`` (xarray's, Zarr 2), when each is a non-empty string."""
    names = getattr(array.metadata, "dimension_names", None) or array.attrs.get(
        "_ARRAY_DIMENSIONS")
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        return None
    return list(names)


def _own_dimension_names(meta: ImageMetadata, axes: str) -> list[str]:
    """The input's dimension names where the output's ``axes`` are the input's, else the
    axis letters.

    Examples
    --------
    >>> meta = ImageMetadata("TYX", format="zarr",
    ...                      original={"dimension_names": ("TYX", ["time", "y", "x"])})
    >>> _own_dimension_names(meta, "TYX"), _own_dimension_names(meta, "CYX")
    (['time', 'y', 'x'], ['C', 'Y', 'X'])
    """
    read_as, names = meta.original.get("dimension_names") or ("", [])
    return list(names) if meta.format == "zarr" and read_as == axes else list(axes)


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
        own = _transform(transforms)[0]
        if own is not None:
            scale = scale * np.asarray(own)
    for letter, info, size in zip(axes, axes_info, scale, strict=True):
        unit = {v: k for k, v in _NGFF_UNITS.items()}.get(info.get("unit"), info.get("unit"))
        if letter in "ZYX" or (letter == "T" and (unit or size != 1.0)):
            meta.spacing[letter] = float(size)
            meta.units[letter] = normalise_unit(unit) if unit else (
                "pixel" if letter != "T" else "frame")
    meta.original["multiscale"] = multiscale
    meta.original["level_shapes"] = _level_shapes(group, multiscale["datasets"], array.ndim)
    return array, meta


def _level_shapes(group: Any, datasets: list[dict], ndim: int) -> list[tuple[int, ...]]:
    """The shape of each level, as long as the levels are arrays of ``ndim`` axes."""
    import zarr

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
    import zarr

    order, stored = output_order(meta, fmt)
    shape = tuple(int(shape[i]) for i in order)
    if chunks is None:
        chunks = tuple(min(n, 1024) if a in "YX" else (n if a == "S" and fmt == "zarr" else 1)
                       for a, n in zip(stored.axes, shape, strict=True))
    else:
        chunks = tuple(max(1, min(int(chunks[i]), n)) for i, n in zip(order, shape, strict=True))
    if fmt != "ome-zarr":
        zarr_format = int(meta.original.get("zarr_format", 3)) if meta.format == "zarr" else 3
        dimensions = _own_dimension_names(meta, stored.axes)
        names = {"dimension_names": dimensions} if zarr_format == 3 else {}
        root = zarr.create_array(store=str(path), shape=shape, dtype=dtype, chunks=chunks,
                                 zarr_format=zarr_format, **names)
        attrs: dict[str, Any] = dict(meta.original.get("attributes") or {}) if (
            meta.format == "zarr") else {}
        attrs["axes"] = stored.axes
        if zarr_format == 2:
            attrs["_ARRAY_DIMENSIONS"] = dimensions
        if stored.spacing:
            attrs.update(spacing=stored.spacing, units=stored.units)
        if stored.channel_names:
            attrs["channel_names"] = list(stored.channel_names)
        arrays, levels = [root], []
    else:
        version = ngff_version(meta)
        zarr_format = 3 if version == "0.5" else 2
        levels = pyramid_levels(meta, order, shape)
        root = zarr.open_group(store=str(path), mode="w", zarr_format=zarr_format)
        attrs = dict(meta.original.get("attributes") or {}) if meta.format == "ome-zarr" else {}
        attrs.update(ngff_attributes(stored, levels, _translations(meta, order), version,
                                     np.dtype(dtype)))
        # NGFF 0.5: the names of the multiscale's axes, which keep the input's ("time")
        axes = (attrs.get("ome") or attrs)["multiscales"][0]["axes"]
        names = {"dimension_names": [a["name"] for a in axes]} if zarr_format == 3 else {}
        arrays = [root.create_array("0", shape=shape, dtype=dtype, chunks=chunks, **names)]
        for k, level in enumerate(levels, start=1):
            arrays.append(root.create_array(str(k), shape=level.shape, dtype=dtype, chunks=tuple(
                min(c, n) for c, n in zip(chunks, level.shape, strict=True)), **names))
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
    # (a TIFF's samples that are channels: stored as such, not as colours whose last a later
    # read would take as an alpha)
    meta = meta.samples_as_channels()
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


def _translations(meta: ImageMetadata, order: tuple[int, ...]
                  ) -> list[tuple[list[float] | None, list[float] | None]]:
    """The input's scale and translation of each level, in the stored order (None where it
    had none), with the multiscale's own transformations folded in: NGFF applies them after
    each level's, so a level's point ``x`` lies at ``(x * s + t) * S + T`` -- scale
    ``s * S``, translation ``t * S + T`` (its scale alone was folded, and the image moved)."""
    multiscale = meta.original.get("multiscale") or {}
    outer_scale, outer_shift = _transform(multiscale.get("coordinateTransformations"))
    found: list[tuple[list[float] | None, list[float] | None]] = []
    for dataset in multiscale.get("datasets") or []:
        scale, shift = _transform(dataset.get("coordinateTransformations"))
        if outer_scale is not None and scale is not None and len(outer_scale) == len(scale):
            scale = [a * b for a, b in zip(scale, outer_scale, strict=True)]
        if outer_shift is not None and len(outer_shift) == len(order):
            base = shift if shift is not None and len(shift) == len(order) else [0.0] * len(order)
            factor = outer_scale if outer_scale is not None and len(outer_scale) == len(order) \
                else [1.0] * len(order)
            shift = [t * f + u for t, f, u in zip(base, factor, outer_shift, strict=True)]
        found.append(tuple(  # type: ignore[arg-type]
            [float(v[i]) for i in order] if v is not None and len(v) == len(order) else None
            for v in (scale, shift)))
    return found


def _transform(transforms: Any) -> tuple[list[float] | None, list[float] | None]:
    """The scale (several multiplied) and the first translation in a list of NGFF
    coordinate transformations."""
    scale = shift = None
    for t in transforms or []:
        if isinstance(t, dict) and t.get("type") == "scale" and t.get("scale") is not None:
            own = [float(v) for v in t["scale"]]
            scale = own if scale is None else [a * b for a, b in zip(scale, own, strict=True)]
        elif isinstance(t, dict) and t.get("type") == "translation" and t.get("translation") \
                and shift is None:
            shift = [float(v) for v in t["translation"]]
    return scale, shift


def ngff_version(meta: ImageMetadata) -> str:
    """The NGFF version an OME-Zarr output gets: the input's, else :data:`DEFAULT_NGFF`."""
    if meta.format == "ome-zarr":
        return str(meta.original.get("ngff_version", DEFAULT_NGFF))
    return DEFAULT_NGFF


def ngff_attributes(meta: ImageMetadata, levels: list[Level], translations: list,
                    version: str, dtype: np.dtype) -> dict[str, Any]:
    """The group attributes of an OME-Zarr image, validated with ``ome-zarr-models``.

    ``meta`` is in the stored (``[T][C][Z]YX``) order. NGFF 0.5 nests them
    under ``"ome"``.
    """
    from ome_zarr_models.v04.image import ImageAttrs as ImageAttrs04
    from ome_zarr_models.v05.image import ImageAttrs as ImageAttrs05

    multiscale = _multiscale(meta, levels, translations)
    omero = _omero(meta, dtype)
    if version == "0.5":
        ome: dict[str, Any] = {"version": "0.5", "multiscales": [multiscale]}
        if omero is not None:
            ome["omero"] = omero
        validated = ImageAttrs05.model_validate(ome)
        return {"ome": validated.model_dump(mode="json", by_alias=True, exclude_none=True)}
    multiscale["version"] = "0.4"
    attrs: dict[str, Any] = {"multiscales": [multiscale]}
    if omero is not None:
        attrs["omero"] = omero
    return ImageAttrs04.model_validate(attrs).model_dump(mode="json", by_alias=True,
                                                         exclude_none=True)


def _omero(meta: ImageMetadata, dtype: np.dtype) -> dict[str, Any] | None:
    """The input's ``omero`` block with this image's channel names, or one made from ``meta``."""
    names, colors, ranges = meta.channel_names, meta.channel_colors, meta.display_ranges
    if not (names or colors or ranges):
        return None
    size = len(names or colors or ranges or ())
    source = meta.original.get("omero") if meta.format == "ome-zarr" else None
    channels_in = [dict(ch) for ch in (source or {}).get("channels") or []]
    if len(channels_in) != size:
        channels_in = [{} for _ in range(size)]
    low, high = _dtype_range(dtype)
    channels = []
    for c, channel in enumerate(channels_in):
        if names:
            channel["label"] = names[c]
        if colors and colors[c]:
            channel["color"] = colors[c]
        channel.setdefault("color", "FFFFFF")
        window = dict(channel.get("window") or {})
        if ranges and ranges[c]:
            window["start"], window["end"] = ranges[c]
        window.setdefault("min", min(low, window.get("start", low)))
        window.setdefault("max", max(high, window.get("end", high)))
        window.setdefault("start", window["min"])
        window.setdefault("end", window["max"])
        channel["window"] = window
        channel.setdefault("active", True)
        channels.append(channel)
    block = {k: v for k, v in (source or {}).items() if k != "channels"}
    block["channels"] = channels
    return block


def _dtype_range(dtype: np.dtype) -> tuple[float, float]:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0


def _multiscale(meta: ImageMetadata, levels: list[Level] | None = None,
                translations: list[tuple[list[float] | None, list[float] | None]] | None = None
                ) -> dict[str, Any]:
    source = meta.original.get("multiscale") if meta.format == "ome-zarr" else None
    source_axes = {_AXIS_NAMES.get(str(a.get("name")).lower()): a
                   for a in (source or {}).get("axes") or [] if isinstance(a, dict)}
    axes = []
    for letter in meta.axes:
        entry = dict(source_axes.get(letter) or {})
        entry.update(name=entry.get("name", letter.lower()), type=_NGFF_TYPES[letter])
        unit = meta.units.get(letter)
        if letter in "TZYX" and unit and unit not in ("pixel", "frame"):
            entry["unit"] = _NGFF_UNITS.get(unit, unit)
        axes.append(entry)
    scale = np.array([float(meta.spacing.get(letter, 1.0)) if letter != "C" else 1.0
                      for letter in meta.axes])
    datasets = []
    given = translations or []
    for k, level in enumerate([None, *(levels or [])]):
        if level is not None:
            scale = scale * np.asarray(level.factors, dtype=float)
        own, shift = given[k] if k < len(given) else (None, None)
        # (a level of the input's shape keeps its own scale: ome-zarr-py's halving of 97
        # px, 48, is 2.0208 of it, not 2)
        shown = own if k > 0 and own is not None and len(given) == len(levels or []) + 1 \
            else scale.tolist()
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": shown}]
        if shift is not None:
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    multiscale: dict[str, Any] = {k: v for k, v in (source or {}).items() if k not in (
        "axes", "datasets", "version", "coordinateTransformations", "type", "metadata")}
    multiscale.update(axes=axes, datasets=datasets)
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
