"""Shading fields from files, applied to images with their axes: what ``bgsub run`` uses."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from bgsub.shading._sources import samples_as_channels
from bgsub.shading.api import correct_shading
from bgsub.shading.profile import PROFILE_KIND, ShadingProfile, dark_per_channel

__all__ = ["apply_to_image", "fields_identity", "load_fields"]


def fields_identity(flatfield: str | None, darkfield: str | None = None) -> dict[str, str]:
    """The SHA-256 of the ``--flatfield`` / ``--darkfield`` files that exist, by role.

    ``bgsub run`` records it with its settings, so that a profile changed in place
    makes the outputs corrected with the old one stale.

    Examples
    --------
    >>> fields_identity(None)
    {}
    """
    identity = {}
    for role, name in (("flatfield_sha256", flatfield), ("darkfield_sha256", darkfield)):
        if name is not None and Path(name).is_file():
            identity[role] = _sha256(*_stamp(name))
    return identity


def _stamp(name: str) -> tuple[str, int, int]:
    """Path, size and time of a file: what the caches below are keyed on."""
    path = Path(name).resolve()
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    from bgsub.provenance import sha256_of

    return sha256_of(Path(path))


def load_fields(flatfield: str | None, darkfield: str | None = None) -> ShadingProfile:
    """A profile from a ``--flatfield`` file and/or a ``--darkfield`` file.

    ``flatfield`` is a profile written by ``bgsub shading estimate`` (flat- and
    dark-field), or any image of the flat-field (e.g. a fluorescent slide), which
    is scaled to mean 1 per channel after the dark-field is subtracted.
    ``darkfield`` is an image of the camera offset (e.g. the mean of frames taken
    with the shutter closed); it replaces a profile's dark-field.
    Files are read once per process, and again when they change.
    """
    stamps = tuple(_stamp(name) if name is not None and Path(name).is_file() else None
                   for name in (flatfield, darkfield))
    return _load_fields(flatfield, darkfield, stamps)


@lru_cache(maxsize=4)
def _load_fields(flatfield: str | None, darkfield: str | None, stamps: tuple) -> ShadingProfile:
    from bgsub import io

    profile = None
    if flatfield is not None:
        image, meta = io.read_image(flatfield)
        if (meta.provenance or {}).get("kind") == PROFILE_KIND:
            profile = ShadingProfile.load(flatfield)
    dark = None if darkfield is None else _finite(_fields_image(Path(darkfield)), darkfield,
                                                   "dark-field", "dark frame")
    if profile is not None:
        if dark is None:
            return profile
        return ShadingProfile(profile.flatfield, _shaped(dark, profile.flatfield, darkfield),
                              profile.baseline, profile.method, profile.options, True)
    if flatfield is None:
        if dark is None:
            raise ValueError("give --flatfield, --darkfield or both")
        return ShadingProfile(np.ones_like(dark), dark, method="dark frame")
    # (a NaN would spread through the mean that scales the image: every pixel reported)
    flat = _finite(_fields_image(Path(flatfield)), flatfield, "flat-field", "flat-field image")
    dark = np.zeros_like(flat) if dark is None else _shaped(dark, flat, darkfield)
    flat = flat - dark
    means = flat.mean(axis=(-2, -1), keepdims=True)
    if np.any(means <= 0):
        raise ValueError(f"{Path(flatfield).name} has no positive mean after the dark-field is "
                         "subtracted; give a flat-field image (bright, even specimen)")
    return ShadingProfile((flat / means).astype(np.float32), dark.astype(np.float32),
                          method="measured", options={"flatfield": str(flatfield)},
                          darkfield_estimated=darkfield is not None)


def _fields_image(path: Path) -> np.ndarray:
    from bgsub import io

    image, meta = io.read_image(path)
    image, axes = samples_as_channels(image, meta.axes)
    if axes not in ("YX", "CYX"):
        # (a stack saved without axes reads as Q, tifffile's unknown axis: per-channel fields
        # or repeated frames, which only the user can tell apart)
        planes = f"{image.shape[0]} planes" if len(axes) == 3 else f"shape {image.shape}"
        raise ValueError(f"{path.name} holds {planes} (axes {axes}); a flat- or dark-field "
                         "image is one 2D plane, or one per channel: save fields per channel "
                         "with axes CYX, and average repeated frames first "
                         "(np.mean(frames, axis=0))")
    return np.asarray(image, dtype=np.float32)


def _finite(field: np.ndarray, name: str, what: str, taken: str) -> np.ndarray:
    """``field``, or a one-line error naming the file (``what``: the field it holds,
    ``taken``: what to take again): a NaN would spread through whatever it enters (the
    flat-field's scale, the flat-field a dark-field is subtracted from) and be reported as
    every pixel of another field."""
    bad = int(np.count_nonzero(~np.isfinite(field)))
    if bad:
        raise ValueError(f"the {what} {Path(name).name} has {bad} NaN or infinite "
                         f"pixel(s); replace them (e.g. np.nan_to_num) or take the {taken} "
                         "again")
    return field


def _shaped(dark: np.ndarray, flat: np.ndarray, name: str) -> np.ndarray:
    """``dark`` of ``flat``'s shape (one (Y, X) frame is every channel's), or a one-line
    error naming the file ``name``."""
    dark = dark_per_channel(dark, flat)
    if dark.shape != flat.shape:
        raise ValueError(f"the dark-field {Path(name).name} has shape {dark.shape}, the "
                         f"flat-field {flat.shape}; give fields of one shape")
    return dark


def apply_to_image(image: np.ndarray, axes: str, profile: ShadingProfile,
                   output_dtype: str = "same") -> np.ndarray:
    """Correct every Y-X plane of ``image`` (axes as the file names them), in ``output_dtype``
    (:func:`~bgsub.shading.api.correct_shading`'s: the input's dtype by default).

    A profile with channels is matched to the image's ``C`` (or RGB ``S``) axis;
    a single-channel profile applies to every plane.
    """
    channel = next((axes.index(a) for a in "CS" if a in axes), None)
    y, x = axes.index("Y"), axes.index("X")
    if profile.channel_axis:
        if channel is None:
            raise ValueError(f"the profile has {profile.flatfield.shape[0]} channels, the image "
                             f"(axes {axes}) has none; use a single-channel profile")
        order = [i for i in range(image.ndim) if i not in (channel, y, x)] + [channel, y, x]
    else:
        order = [i for i in range(image.ndim) if i not in (y, x)] + [y, x]
    moved = np.transpose(image, order)
    corrected = correct_shading(moved, profile, output_dtype=output_dtype)
    return np.transpose(corrected, np.argsort(order))
