"""OME-XML as a model, through ome-types: what an OME-TIFF says, and what bgsub writes back.

Reading turns the OME-XML of a file into an ``ome_types.OME`` model (kept
whole in ``ImageMetadata.original["ome"]``) and picks from it what bgsub
uses: axes sizes and units (time included), channel names and colours, the
image name, bgsub's provenance.

Writing starts from the OME-XML that tifffile wrote for the pixels (which
knows the pages, the dimension order and the pixel type) and carries into it
everything the input's model had: the image's acquisition fields, the
instrument, objectives, experimenters, every channel field, the planes
(positions, exposure times, DeltaT), the annotations and ROIs. Only what
groups several images (plates, screens, datasets, projects, folders) is
left out: the output holds one image.
"""

from __future__ import annotations

import json
import uuid
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from bgsub.io._metadata import ImageMetadata, hex_color, normalise_unit, rgb_of

NAMESPACE = "bgsub.provenance"
_TIME_UNITS = {"s", "ms", "µs", "ns", "min", "h"}
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

if TYPE_CHECKING:  # ome-types takes ~0.5 s to import: only OME-TIFFs need it (see _model)
    from ome_types import model as ome


def _model() -> ModuleType:
    """``ome_types.model``, imported on first use."""
    from ome_types import model

    return model


def parse(xml: str) -> ome.OME | None:
    """The OME model of ``xml``, or None (with a warning) when it is not valid OME-XML."""
    from ome_types import from_xml

    try:
        return from_xml(xml)
    except Exception as exc:  # xsdata / pydantic / xml: many types
        warnings.warn(f"the file's OME-XML could not be read ({type(exc).__name__}); its "
                      "pixel sizes and channel names are not used", stacklevel=4)
        return None


def read(xml: str, series: int, meta: ImageMetadata) -> None:
    """Fill ``meta`` from image ``series`` of the OME-XML ``xml``."""
    meta.format = "ome-tiff"
    meta.original["ome_xml"] = xml
    model = parse(xml)
    if model is None or series >= len(model.images):
        return
    meta.original["ome"] = model
    image = model.images[series]
    meta.name = image.name
    pixels = image.pixels
    for letter in "ZYX":
        size = getattr(pixels, f"physical_size_{letter.lower()}")
        if size is not None:
            meta.spacing[letter] = float(size)
            unit = getattr(pixels, f"physical_size_{letter.lower()}_unit")
            meta.units[letter] = normalise_unit(unit.value)
    if pixels.time_increment is not None and "T" in meta.axes:
        meta.spacing["T"] = float(pixels.time_increment)
        meta.units["T"] = normalise_unit(pixels.time_increment_unit.value)
    channels = pixels.channels
    names = [channel.name for channel in channels]
    if names and all(names):
        meta.channel_names = tuple(str(name) for name in names)
    colors = [hex_color(channel.color.as_rgb_tuple(alpha=False))
              if "color" in channel.model_fields_set else None for channel in channels]
    if any(colors):
        meta.channel_colors = tuple(colors)
    meta.provenance = provenance(model, image)


def provenance(model: ome.OME, image: ome.Image) -> dict | None:
    """bgsub's provenance record among the comment annotations ``image`` refers to."""
    refs = {ref.id for ref in image.annotation_refs}
    for note in model.structured_annotations.comment_annotations:
        if note.namespace == NAMESPACE and note.id in refs and note.value:
            try:
                record = json.loads(note.value)
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
    return None


def merged_xml(written: str, meta: ImageMetadata, record: dict | None) -> str:
    """The OME-XML for an output: tifffile's ``written`` XML with every field of the input's.

    Parameters
    ----------
    written : str
        The OME-XML tifffile wrote for the output's pixels (one image).
    meta : ImageMetadata
        The output's metadata; ``original["ome"]`` is the input's model, if
        the input was OME.
    record : dict, optional
        bgsub's provenance, added as a ``CommentAnnotation``.
    """
    from ome_types import from_xml, to_xml

    ome = _model()
    out = from_xml(written)
    new_image = out.images[0]
    source = meta.original.get("ome")
    if isinstance(source, ome.OME) and meta.series < len(source.images):
        image = _carried_image(source.images[meta.series], new_image)
        model = source.model_copy(deep=True, update={
            "images": [image], "plates": [], "screens": [], "datasets": [], "projects": [],
            "folders": []})
    else:
        image, model = new_image, out
    _apply(image.pixels, meta)
    if meta.name:
        image.name = meta.name
    _set_provenance(model, image, record)
    model.creator = "bgsub"
    model.uuid = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_OID, _dumps(record or {}))}"
    xml = to_xml(model, indent=0)
    # the declaration OME-TIFF readers (Bio-Formats, tifffile) look for
    return xml if xml.startswith("<?xml") else _DECLARATION + xml


def _carried_image(source: ome.Image, written: ome.Image) -> ome.Image:
    """The input's image with the written pixels' structure (type, order, sizes, pages)."""
    old, new = source.pixels, written.pixels
    same_planes = (old.size_z, old.size_c, old.size_t) == (new.size_z, new.size_c, new.size_t)
    channels = ([o.model_copy(update={"samples_per_pixel": n.samples_per_pixel})
                 for o, n in zip(old.channels, new.channels, strict=True)]
                if len(old.channels) == len(new.channels) else new.channels)
    pixels = old.model_copy(deep=True, update={
        "dimension_order": new.dimension_order, "type": new.type,
        "significant_bits": old.significant_bits if old.type == new.type else None,
        "size_x": new.size_x, "size_y": new.size_y, "size_z": new.size_z,
        "size_c": new.size_c, "size_t": new.size_t, "big_endian": new.big_endian,
        "interleaved": new.interleaved, "channels": channels,
        "tiff_data_blocks": new.tiff_data_blocks, "bin_data_blocks": [],
        "metadata_only": None, "planes": old.planes if same_planes else []})
    return source.model_copy(deep=True, update={"pixels": pixels})


def _apply(pixels: ome.Pixels, meta: ImageMetadata) -> None:
    """Physical sizes, time increment, channel names and colours of ``meta`` onto ``pixels``."""
    ome = _model()
    for letter in "ZYX":
        if letter in meta.spacing and meta.spacing[letter] > 0:
            setattr(pixels, f"physical_size_{letter.lower()}", meta.spacing[letter])
            unit = _length_unit(meta.units.get(letter, "µm"))
            if unit is not None:
                setattr(pixels, f"physical_size_{letter.lower()}_unit", unit)
    if "T" in meta.spacing and meta.units.get("T", "s") in _TIME_UNITS:
        pixels.time_increment = meta.spacing["T"]
        pixels.time_increment_unit = ome.UnitsTime(meta.units.get("T", "s"))
    count = len(pixels.channels)
    if meta.channel_names and len(meta.channel_names) == count:
        for channel, name in zip(pixels.channels, meta.channel_names, strict=True):
            channel.name = name
    if meta.channel_colors and len(meta.channel_colors) == count:
        for channel, color in zip(pixels.channels, meta.channel_colors, strict=True):
            if color is not None:
                channel.color = ome.Color(rgb_of(color))


def _length_unit(unit: str) -> ome.UnitsLength | None:
    try:
        return _model().UnitsLength(unit)
    except ValueError:
        return None


def _set_provenance(model: ome.OME, image: ome.Image, record: dict | None) -> None:
    """Replace any earlier bgsub record of ``image`` by ``record``."""
    ome = _model()
    notes = model.structured_annotations.comment_annotations
    stale = {note.id for note in notes if note.namespace == NAMESPACE}
    notes[:] = [note for note in notes if note.id not in stale]
    image.annotation_refs = [ref for ref in image.annotation_refs if ref.id not in stale]
    if record is None:
        return
    taken = {note.id for note in model.structured_annotations}
    index = next(i for i in range(len(taken) + 1) if f"Annotation:{i}" not in taken)
    note = ome.CommentAnnotation(id=f"Annotation:{index}", namespace=NAMESPACE,
                                 value=_dumps(record))
    notes.append(note)
    image.annotation_refs.append(ome.AnnotationRef(id=note.id))


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
