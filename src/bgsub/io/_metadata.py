"""What bgsub knows about an image besides its pixels."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

FORMATS = ("tiff", "ome-tiff", "imagej", "png", "jpeg", "zarr", "ome-zarr")


@dataclass
class ImageMetadata:
    """Axes, physical pixel sizes and names of one image (one series of a file).

    Attributes
    ----------
    axes : str
        One letter per array axis, e.g. ``"TZCYX"``; ``S`` is RGB(A) samples.
    spacing : dict of str to float
        Physical size of a pixel per axis letter that has one, e.g.
        ``{"T": 30.0, "Z": 2.0, "Y": 0.325, "X": 0.325}`` (``T``: the time
        between frames).
    units : dict of str to str
        Unit of each entry of ``spacing`` (``"µm"`` when the file says micron,
        ``"s"`` for seconds).
    channel_names : tuple of str, optional
        One name per ``C`` entry, when the file names its channels.
    channel_colors : tuple of str or None, optional
        One ``"RRGGBB"`` display colour per ``C`` entry (None where the file
        gives none), when the file gives any.
    display_ranges : tuple of (float, float) or None, optional
        One displayed intensity range ``(start, end)`` per ``C`` entry (None
        where the file gives none), when the file gives any.
    format : str
        The file format read: one of ``tiff``, ``ome-tiff``, ``imagej``,
        ``png``, ``jpeg``, ``zarr``, ``ome-zarr``.
    series : int
        Index of the series (image) read from a multi-series file.
    series_count : int
        How many series the file holds.
    name : str, optional
        The image's name, when the file stores one.
    original : dict
        Format-specific metadata kept for writing it back: the input's
        whole OME model (``"ome"``, an ``ome_types.OME``), ImageJ metadata,
        TIFF resolution, NGFF attributes and version, Zarr format, pyramid.
    provenance : dict, optional
        The bgsub provenance record found in the file, if it was written by bgsub.
    channel_samples : bool
        Whether its ``S`` samples are channels, not colours (a grey TIFF of several samples
        per pixel, or RGB with an unspecified extra sample): processed and stored as ``C``,
        their last no alpha.
    """

    axes: str
    spacing: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    channel_names: tuple[str, ...] | None = None
    channel_colors: tuple[str | None, ...] | None = None
    display_ranges: tuple[tuple[float, float] | None, ...] | None = None
    format: str = "tiff"
    series: int = 0
    series_count: int = 1
    name: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    channel_samples: bool = False

    def samples_as_channels(self, always: bool = False) -> ImageMetadata:
        """This metadata with its ``S`` axis named ``C`` where its samples are channels (or
        ``always``), unless it has a ``C`` axis already.

        Examples
        --------
        >>> ImageMetadata("YXS", channel_samples=True).samples_as_channels().axes
        'YXC'
        >>> ImageMetadata("YXS").samples_as_channels().axes
        'YXS'
        """
        if not (self.channel_samples or always) or "S" not in self.axes or "C" in self.axes:
            return self
        return replace(self, axes=self.axes.replace("S", "C"))

    def with_axes(self, axes: str) -> ImageMetadata:
        """This metadata for the same pixels named by other ``axes`` (``--axes``): a
        letter's size and unit are kept where it names the same array axis as before, the
        channels' names, colours and ranges where ``C`` does; the format's own descriptions
        of the old layout (OME model, ImageJ's hyperstack, NGFF axes, Zarr dimension names)
        are dropped, so that the output is written with the axes it was processed with.

        Examples
        --------
        >>> meta = ImageMetadata("QYX", spacing={"Y": 0.5, "X": 0.5}, units={"Y": "µm",
        ...                      "X": "µm"})
        >>> relabelled = meta.with_axes("ZYX")
        >>> relabelled.axes, relabelled.spacing
        ('ZYX', {'Y': 0.5, 'X': 0.5})
        >>> ImageMetadata("CZYX", channel_names=("a", "b")).with_axes("ZCYX").channel_names
        """
        if axes == self.axes:
            return self
        same = {a for a, b in zip(axes, self.axes, strict=False) if a == b}
        keep_channels = "C" in same
        original = {k: v for k, v in self.original.items() if k not in _LAYOUT_KEYS}
        return replace(
            self, axes=axes, original=original,
            spacing={a: v for a, v in self.spacing.items() if a in same},
            units={a: u for a, u in self.units.items() if a in same},
            channel_names=self.channel_names if keep_channels else None,
            channel_colors=self.channel_colors if keep_channels else None,
            display_ranges=self.display_ranges if keep_channels else None)

    def spatial_spacing(self, letters: str) -> tuple[float, ...] | None:
        """Pixel sizes for ``letters`` (e.g. ``"ZYX"``), or None if any is unknown."""
        if not all(letter in self.spacing for letter in letters):
            return None
        return tuple(float(self.spacing[letter]) for letter in letters)

    def spacing_in_one_unit(self, letters: str, unit: str | None = None
                            ) -> tuple[tuple[float, ...], str | None] | None:
        """Pixel sizes for ``letters`` in one unit, and that unit: ``unit``, else the
        last letter's (X's of ``"ZYX"``); None if a size is unknown, or if the units differ
        and one is not a length :func:`length_factor` knows.

        Examples
        --------
        >>> meta = ImageMetadata("ZYX", spacing={"Z": 0.3, "Y": 108.0, "X": 108.0},
        ...                      units={"Z": "µm", "Y": "nm", "X": "nm"})
        >>> meta.spacing_in_one_unit("ZYX")
        ((300.0, 108.0, 108.0), 'nm')
        >>> meta.spacing_in_one_unit("YX", "µm")
        ((0.108, 0.108), 'µm')
        """
        sizes = self.spatial_spacing(letters)
        if sizes is None:
            return None
        target = self.units.get(letters[-1]) if unit is None else unit
        converted = []
        for letter, size in zip(letters, sizes, strict=True):
            factor = 1.0 if self.units.get(letter) == target else length_factor(
                self.units.get(letter), target)
            if factor is None:
                return None
            converted.append(size * factor)
        return tuple(converted), target


#: Keys of ``ImageMetadata.original`` that describe the axes' layout (dropped with new axes).
_LAYOUT_KEYS = ("ome", "ome_xml", "imagej", "multiscale", "omero", "dimension_names")

#: The power of ten of a metre in each metric length unit bgsub reads (OME's ``UnitsLength``
#: symbols, after :func:`normalise_unit`; NGFF's names are turned into them when read), and
#: the metres in the others: exact factors between metric units (1000.0, not 999.9999999999999).
_POWERS = {"Ym": 24, "Zm": 21, "Em": 18, "Pm": 15, "Tm": 12, "Gm": 9, "Mm": 6, "km": 3, "hm": 2,
           "dam": 1, "m": 0, "dm": -1, "cm": -2, "mm": -3, "µm": -6, "nm": -9, "Å": -10,
           "pm": -12, "fm": -15, "am": -18, "zm": -21, "ym": -24}
_METRES = {"in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344, "pt": 0.0254 / 72}


def length_factor(unit_from: str | None, unit_to: str | None) -> float | None:
    """How many ``unit_to`` one ``unit_from`` is, or None unless both are lengths.

    Units are as :class:`ImageMetadata` holds them (``"µm"``, ``"nm"``, ``"Å"``;
    ``"micron"`` and the like are normalised first).

    Examples
    --------
    >>> length_factor("µm", "nm"), length_factor("micron", "µm"), length_factor("s", "nm")
    (1000.0, 1.0, None)
    >>> length_factor("in", "mm")
    25.4
    """
    if unit_from is None or unit_to is None:
        return None
    source, target = normalise_unit(unit_from), normalise_unit(unit_to)
    if source in _POWERS and target in _POWERS:
        return 10.0 ** (_POWERS[source] - _POWERS[target])
    metres = [_METRES.get(u, 10.0 ** _POWERS[u] if u in _POWERS else None)
              for u in (source, target)]
    if metres[0] is None or metres[1] is None:
        return None
    return metres[0] / metres[1]


_PER_CHANNEL = ("channel_names", "channel_colors", "display_ranges")


def check_channels(shape: tuple[int, ...], meta: ImageMetadata) -> None:
    """Refuse names, colours or display ranges that are not one per channel of the image.

    Every writer would otherwise do something else with them: ImageJ failed
    with an ``IndexError``, TIFF stored the extra names, OME-TIFF dropped them.

    Examples
    --------
    >>> check_channels((1, 8, 8), ImageMetadata("CYX", channel_names=("DAPI", "GFP")))
    Traceback (most recent call last):
    ...
    ValueError: metadata.channel_names holds 2 entries but the image has 1 channel (axes CYX,
    shape (1, 8, 8)); give one per channel kept, e.g. dataclasses.replace(metadata,
    channel_names=...), or None
    """
    count = _channel_count(shape, meta)
    for name in _PER_CHANNEL:
        values = getattr(meta, name)
        if count is not None and values and len(values) != count:
            raise ValueError(
                f"metadata.{name} holds {len(values)} entries but the image has {count} "
                f"channel{'s' if count != 1 else ''} (axes {meta.axes}, shape {tuple(shape)}); "
                f"give one per channel kept, e.g. dataclasses.replace(metadata, {name}=...), "
                "or None")


def _channel_count(shape: tuple[int, ...], meta: ImageMetadata) -> int | None:
    """The image's channels: its ``C`` axis (samples that are channels included), 1 without
    one; None for colour samples (an RGB image names one channel or each sample)."""
    axes = meta.samples_as_channels().axes
    if "C" in axes:
        return int(shape[axes.index("C")])
    return None if "S" in axes else 1


def normalise_unit(unit: Any) -> str:
    """``"micron"``, ``"um"``, ``"\\u00b5m"`` and friends become ``"µm"``; others pass."""
    text = str(unit).strip()
    if text.lower() in ("micron", "microns", "um", "\\u00b5m", "µm", "μm", "micrometer",
                        "micrometre"):
        return "µm"
    return {"sec": "s", "second": "s", "seconds": "s", "msec": "ms", "millisecond": "ms",
            "milliseconds": "ms", "minute": "min", "minutes": "min", "hour": "h",
            "hours": "h"}.get(text.lower(), text)


def hex_color(rgb: tuple[int, int, int]) -> str:
    """``(255, 0, 128)`` -> ``"FF0080"``, the form OME-Zarr's ``omero`` block uses.

    Examples
    --------
    >>> hex_color((255, 0, 128))
    'FF0080'
    """
    return "".join(f"{int(v) & 255:02X}" for v in rgb)


def rgb_of(color: str) -> tuple[int, int, int]:
    """``"FF0080"`` -> ``(255, 0, 128)``.

    Examples
    --------
    >>> rgb_of("FF0080")
    (255, 0, 128)
    """
    value = int(color.lstrip("#")[:6], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255
