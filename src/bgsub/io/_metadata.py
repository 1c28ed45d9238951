"""What bgsub knows about an image besides its pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
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
        ``{"Z": 2.0, "Y": 0.325, "X": 0.325}``.
    units : dict of str to str
        Unit of each entry of ``spacing`` (``"µm"`` when the file says micron).
    channel_names : tuple of str, optional
        One name per ``C`` entry, when the file names its channels.
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
        Format-specific metadata kept for writing the same format back
        (ImageJ metadata, TIFF resolution, OME-XML text, Zarr attributes).
    provenance : dict, optional
        The bgsub provenance record found in the file, if it was written by bgsub.
    """

    axes: str
    spacing: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    channel_names: tuple[str, ...] | None = None
    format: str = "tiff"
    series: int = 0
    series_count: int = 1
    name: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None

    def spatial_spacing(self, letters: str) -> tuple[float, ...] | None:
        """Pixel sizes for ``letters`` (e.g. ``"ZYX"``), or None if any is unknown."""
        if not all(letter in self.spacing for letter in letters):
            return None
        return tuple(float(self.spacing[letter]) for letter in letters)


def normalise_unit(unit: Any) -> str:
    """``"micron"``, ``"um"``, ``"\\u00b5m"`` and friends become ``"µm"``; others pass."""
    text = str(unit).strip()
    if text.lower() in ("micron", "microns", "um", "\\u00b5m", "µm", "μm", "micrometer",
                        "micrometre"):
        return "µm"
    return text
