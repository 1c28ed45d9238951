"""The shading profile: flat-field, dark-field and per-tile baseline, and its OME-TIFF file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CORRECTION_KIND", "PROFILE_KIND", "ShadingProfile", "check_fields",
           "check_profile_name", "dark_per_channel"]

PROFILE_KIND = "bgsub shading profile"  # the provenance "kind" of a profile's file ...
CORRECTION_KIND = "bgsub shading correction"  # ... and of a `bgsub shading apply` output


@dataclass(frozen=True)
class ShadingProfile:
    """Flat- and dark-field shared by a set of tiles, as :func:`bgsub.estimate_shading` gives it.

    Attributes
    ----------
    flatfield : ndarray
        float32 (Y, X), or (C, Y, X) for tiles with channels; mean 1 per channel.
    darkfield : ndarray
        float32, same shape, in the tiles' intensity units (zeros when not estimated); one
        (Y, X) frame given with a (C, Y, X) flat-field is every channel's.
    baseline : ndarray, optional
        Per-tile baseline (N,) or (N, C): each tile's background level in the
        flat-field's units, when estimated (``baseline=True``).
    method : str
        The shading method that made the profile.
    options : dict
        Its options, and the estimation settings (working size, tiles used).
    darkfield_estimated : bool
        False when ``darkfield`` is zeros because none was asked for.

    Examples
    --------
    >>> import numpy as np
    >>> profile = ShadingProfile(np.ones((4, 4), np.float32), np.zeros((4, 4), np.float32))
    >>> profile.shape, profile.channel_axis
    ((4, 4), False)
    """

    flatfield: np.ndarray
    darkfield: np.ndarray
    baseline: np.ndarray | None = None
    method: str = "given"
    options: dict[str, Any] = field(default_factory=dict)
    darkfield_estimated: bool = False

    def __post_init__(self) -> None:
        # (frozen: the one dark frame of a camera, (Y, X), set as every channel's)
        object.__setattr__(self, "darkfield", dark_per_channel(self.darkfield, self.flatfield))
        check_fields(self.flatfield, self.darkfield)

    @property
    def shape(self) -> tuple[int, int]:
        """The (Y, X) shape of the tiles the profile is for."""
        return tuple(self.flatfield.shape[-2:])

    @property
    def channel_axis(self) -> bool:
        """Whether the profile has one field per channel (a leading C axis)."""
        return self.flatfield.ndim == 3

    def record(self) -> dict[str, Any]:
        """The provenance record saved with the profile (JSON-serialisable)."""
        from bgsub._version import __version__

        return {"kind": PROFILE_KIND, "bgsub": __version__, "method": self.method,
                "options": self.options, "darkfield_estimated": self.darkfield_estimated,
                "channel_axis": self.channel_axis,
                "baseline": None if self.baseline is None else self.baseline.tolist()}

    def save(self, path: Path | str) -> Path:
        """Write the profile as an OME-TIFF: planes flat-field(s) then dark-field(s), to a
        path ending in ``.tif`` or ``.tiff`` (e.g. ``profile.ome.tif``).

        The provenance record (method, options, baseline) is stored in the file
        and read back by :meth:`load`.
        """
        from bgsub import io

        check_profile_name(path)
        channels = self.flatfield.shape[0] if self.channel_axis else 1
        planes = np.concatenate([self.flatfield.reshape(channels, *self.shape),
                                 self.darkfield.reshape(channels, *self.shape)])
        names = tuple(f"{kind}{'' if channels == 1 else f' {c}'}"
                      for kind in ("flatfield", "darkfield") for c in range(channels))
        meta = io.ImageMetadata(axes="CYX", channel_names=names, format="ome-tiff")
        return io.write_image(path, planes.astype(np.float32), meta, self.record(),
                              format="ome-tiff")

    @classmethod
    def load(cls, path: Path | str) -> ShadingProfile:
        """Read a profile written by :meth:`save` (or ``bgsub shading estimate``)."""
        from bgsub import io

        planes, meta = io.read_image(path)
        record = meta.provenance or {}
        if record.get("kind") != PROFILE_KIND:
            raise ValueError(f"{Path(path).name} is not a bgsub shading profile; make one with "
                             "`bgsub shading estimate`, or pass a measured flat-field image "
                             "with --flatfield")
        planes = planes.reshape(-1, *planes.shape[-2:]).astype(np.float32)
        channels = planes.shape[0] // 2
        flat, dark = planes[:channels], planes[channels:]
        if not record.get("channel_axis"):
            flat, dark = flat[0], dark[0]
        baseline = record.get("baseline")
        return cls(flat, dark, None if baseline is None else np.asarray(baseline),
                   record.get("method", "given"), record.get("options", {}),
                   bool(record.get("darkfield_estimated")))


def dark_per_channel(darkfield: np.ndarray, flatfield: np.ndarray) -> np.ndarray:
    """``darkfield`` as every channel's where it is one (Y, X) frame and ``flatfield`` has
    channels (C, Y, X) (one camera's offset under every channel, as ``estimate_shading``
    takes it); otherwise as it is.

    Examples
    --------
    >>> dark_per_channel(np.zeros((4, 5)), np.ones((3, 4, 5))).shape
    (3, 4, 5)
    """
    darkfield, flatfield = np.asarray(darkfield), np.asarray(flatfield)
    if flatfield.ndim == 3 and darkfield.shape == flatfield.shape[1:]:
        return np.repeat(darkfield[None], flatfield.shape[0], axis=0)
    return darkfield


def check_fields(flatfield: np.ndarray, darkfield: np.ndarray) -> None:
    """Raise a one-line ValueError unless the fields make a usable profile."""
    flatfield, darkfield = np.asarray(flatfield), np.asarray(darkfield)
    if flatfield.ndim not in (2, 3) or darkfield.shape != flatfield.shape:
        raise ValueError(f"a flat-field of shape {flatfield.shape} and a dark-field of shape "
                         f"{darkfield.shape}: both must be (Y, X) or (C, Y, X), of one shape")
    bad = int(np.count_nonzero(~(np.isfinite(flatfield) & (flatfield > 0))))
    if bad:
        raise ValueError(f"the flat-field has {bad} pixel(s) that are zero, negative or not "
                         "finite; a flat-field must be positive everywhere: re-estimate it, or "
                         "clip it, e.g. np.clip(flatfield, 0.05, None)")
    if not np.isfinite(darkfield).all():
        raise ValueError("the dark-field has NaN or infinite pixels; replace them "
                         "(e.g. np.nan_to_num) or re-estimate it")


def check_profile_name(path: Path | str) -> Path:
    """Refuse a profile path that does not end in ``.tif`` or ``.tiff``: a profile is an
    OME-TIFF, and a ``profile.png`` holding one would be taken for a PNG (and its
    ``--figure`` would be written over it).

    Examples
    --------
    >>> check_profile_name("profile.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a shading profile is an OME-TIFF, so profile.png must end in .tif or .tiff; ...
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"a shading profile is an OME-TIFF, so {path.name} must end in .tif "
                         "or .tiff; name it e.g. profile.ome.tif")
    return path
