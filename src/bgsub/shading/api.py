"""``estimate_shading`` and ``correct_shading``: the shading face of the API."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgsub._dtypes import (
    cast_result,
    check_dtype,
    integer_bounds,
    output_dtype_for,
    work_dtype,
)
from bgsub._warnings import warn
from bgsub.kernels.bins import MAD_TO_SD
from bgsub.shading._fields import Grid, upsample
from bgsub.shading._registry import get_shading_method
from bgsub.shading._sources import is_dask_array, tile_set
from bgsub.shading.profile import ShadingProfile

__all__ = ["DEFAULT_SHADING_METHOD", "DEFAULT_WORKING_SIZE", "correct_shading",
           "estimate_shading"]

DEFAULT_SHADING_METHOD = "lowrank"
# 32 bins a side: on every real tile set of the benchmark (fluorescence and bright field,
# 55-127 px tiles) the fields come out closer than with 64 (the specimen's fine structure
# averages out in bins before the robust fit), as close on the generated ones; and faster
DEFAULT_WORKING_SIZE = 32
_CAUCHY = 2.385
_SMALLEST_FLAT = 0.05  # a fitted flat-field is kept at least this (relative to its mean of 1)


def estimate_shading(images: Any, method: str = DEFAULT_SHADING_METHOD,
                     darkfield: bool | float | Any = False, *, baseline: bool = False,
                     working_size: int = DEFAULT_WORKING_SIZE, sample: int | None = 1000,
                     **options: Any) -> ShadingProfile:
    """Estimate the flat-field (and dark-field) shared by a set of tiles.

    Parameters
    ----------
    images : array-like, list, path or Dask array
        The tiles: a (N, Y, X) or (N, C, Y, X) stack (NumPy, Zarr or Dask), a
        list of (Y, X) or (C, Y, X) arrays, a list of image files, a folder
        of image files, or one file or Zarr store holding a stack. Tiles are
        read one at a time; only their binned copies stay in memory.
    method : str
        A shading method (see :func:`bgsub.shading.list_shading_methods`):
        ``"lowrank"`` (BaSiC-style, the default), or the CellProfiler-style
        ``"gaussian"``, ``"median"``, ``"block_minimum"``, ``"polynomial"``,
        ``"spline"``.
    darkfield : bool, float or array-like
        ``True``: also estimate an additive dark-field (``lowrank`` only). It is
        only identifiable when tiles differ in brightness, not under dense
        content. A number or an array of the tiles' shape ((Y, X), or
        (C, Y, X)): a measured dark frame (camera offset), subtracted from
        every tile before the flat-field is fitted (any method) and returned
        as the profile's dark-field. A flat-field fitted without subtracting
        an offset that is there is off by ``offset / level`` of its contrast.
        The integers ``0`` and ``1`` are offsets of 0 and 1 count, not
        ``False`` / ``True``; as that is rarely meant, they give a
        :class:`~bgsub.BackgroundWarning` (``0.0`` / ``1.0`` do not).
    baseline : bool
        Also estimate every tile's baseline (its background level), for
        temporal drift; reads every tile, not only the sample.
    working_size : int
        Tiles are binned (mean of pixel blocks) to at most this many pixels
        per axis before fitting.
    sample : int, optional
        Fit on at most this many tiles, evenly spaced through the set; None: all.
    **options
        The method's own options.

    Returns
    -------
    ShadingProfile
        ``flatfield`` (mean 1 per channel), ``darkfield`` and ``baseline``.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:64, :64]
    >>> flat = 1.2 - ((yy - 32) ** 2 + (xx - 32) ** 2) / 64**2
    >>> rng = np.random.default_rng(0)
    >>> tiles = rng.poisson(100 * flat, size=(40, 64, 64)).astype(np.uint16)
    >>> profile = estimate_shading(tiles)
    >>> bool(np.abs(profile.flatfield - flat / flat.mean()).max() < 0.02)
    True
    """
    shading = get_shading_method(method)
    resolved = shading.resolve_options(options)
    given = not isinstance(darkfield, (bool, np.bool_))  # bools first: True is an int too
    if given and _is_int_like_bool(darkfield):
        number = int(darkfield)
        warn(f"darkfield={number} is read as a measured dark offset of {number} count"
             f"{'s' if number != 1 else ''}, not as {bool(number)}; pass darkfield="
             f"{bool(number)} to {'estimate a dark-field' if number else 'leave it out'}, "
             f"or darkfield={number}.0 for the offset")
    estimated = not given and bool(darkfield)
    if estimated and not shading.darkfield:
        raise ValueError(f"shading method {shading.name!r} does not estimate a dark-field; use "
                         "method='lowrank', a measured dark frame (darkfield=FRAME), or "
                         "darkfield=False")
    working_size = _positive_int(working_size, "working_size")
    tiles = tile_set(images)
    frame = _dark_frame(darkfield, tiles.channels, tiles.shape) if given else None
    grid = Grid(tiles.shape, working_size)
    fit_rows = _sample_rows(tiles.count, sample)
    rows = np.arange(tiles.count) if baseline else fit_rows
    binned = tiles.binned(rows, grid)
    fit_stack = binned[np.searchsorted(rows, fit_rows)] if baseline else binned
    flats, darks, baselines, chosen = [], [], [], []
    # (tiles of whole counts: their bins' values are whole counts over the pixels they average)
    bin_pixels = grid.pixels_per_bin if tiles.holds_whole_counts(int(fit_rows[0])) else None
    for channel in range(tiles.channels):
        stack = np.ascontiguousarray(fit_stack[:, channel])
        if frame is not None:  # the measured offset comes off before any fit
            stack = stack - grid.bin(frame[channel])
            _check_below_tiles(stack, channel, tiles.channel_axis)
        fields = shading.fit(stack, estimated, grid.centres, bin_pixels, resolved)
        flat = _normalised_flat(fields.flatfield, shading.name,
                                f" of channel {channel}" if tiles.channel_axis else "")
        chosen.append(fields.chosen)
        if frame is not None:
            dark = grid.bin(frame[channel])
        else:
            dark = np.zeros_like(flat) if fields.darkfield is None else fields.darkfield
        if baseline:
            baselines.append(_baselines(binned[:, channel], flat, dark))
        flats.append(_full(flat, grid, flat=True))
        darks.append(frame[channel] if frame is not None else _full(dark, grid, flat=False))
    flatfield, darkfield_ = np.stack(flats), np.stack(darks)
    if not tiles.channel_axis:
        flatfield, darkfield_ = flatfield[0], darkfield_[0]
    base = None
    if baseline:
        base = np.stack(baselines, axis=1) if tiles.channel_axis else baselines[0]
    settings = {**resolved, "working_size": working_size, "tiles": tiles.count,
                "tiles_fitted": len(fit_rows)}
    if frame is not None:
        settings["dark_frame"] = "measured, subtracted from the tiles before the fit"
    if any(chosen):  # what the method chose from the data, per channel
        settings["chosen"] = chosen
    return ShadingProfile(flatfield.astype(np.float32), darkfield_.astype(np.float32), base,
                          shading.name, settings, given or estimated)


def _is_int_like_bool(value: Any) -> bool:
    """True for an integer 0 or 1 (Python or NumPy, or a 0-d integer array): a bool meant?"""
    if isinstance(value, (int, np.integer)) or (
            isinstance(value, np.ndarray) and value.ndim == 0
            and np.issubdtype(value.dtype, np.integer)):
        return int(value) in (0, 1)
    return False


def _check_below_tiles(stack: np.ndarray, channel: int, channel_axis: bool) -> None:
    """A dark frame at or above the tiles' mean over most of the tile is not their offset."""
    above = float(np.mean(stack.mean(axis=0) <= 0))
    if above > 0.5:
        where = f" of channel {channel}" if channel_axis else ""
        raise ValueError(f"the dark frame lies at or above the tiles' mean at {100 * above:.0f} % "
                         f"of the pixels{where}; give a frame in the tiles' units, taken with "
                         "the same exposure and gain (the mean of frames with the shutter "
                         "closed)")


def _dark_frame(frame: Any, channels: int, shape: tuple[int, int]) -> np.ndarray:
    """A measured dark frame (a number, or (Y, X) / (C, Y, X)) as float64 (C, Y, X)."""
    if isinstance(frame, (str, bytes)) or hasattr(frame, "__fspath__"):
        raise TypeError("darkfield takes True/False or the dark frame's pixels, not a path; "
                        "read it with bgsub.io.read_image (the CLI: --dark-frame FILE)")
    values = np.asarray(frame, dtype=np.float64)
    if values.ndim == 2:
        values = values[None]
    if values.ndim not in (0, 3) or (values.ndim == 3 and (
            values.shape[1:] != tuple(shape) or values.shape[0] not in (1, channels))):
        want = f"({channels}, {shape[0]}, {shape[1]})" if channels > 1 else f"{tuple(shape)}"
        raise ValueError(f"the dark frame has shape {np.shape(frame)}, the tiles {want}; give "
                         "a number (a flat camera offset) or a frame of the tiles' shape")
    if values.ndim == 0:
        _check_offset(float(values))
    if not np.isfinite(values).all():
        raise ValueError("the dark frame contains NaN or infinite values")
    return np.broadcast_to(values, (channels, *shape)).astype(np.float64)


def _check_offset(offset: float) -> None:
    """A flat camera offset: finite (a one-line error), and a warning where it is negative
    (added to every tile, not taken off: a closed shutter reads 0 counts or more)."""
    if not np.isfinite(offset):
        raise ValueError(f"the dark offset {offset} is not a finite number; give the counts a "
                         "closed shutter reads (the camera's offset), e.g. 100")
    if offset < 0:
        warn(f"the dark offset {offset:g} is negative: {-offset:g} counts are added to every "
             "tile, not taken off; a closed shutter reads 0 counts or more (check the sign)",
             stacklevel=4)


def correct_shading(images: Any, profile: ShadingProfile, *, baseline: bool = False,
                    output_dtype: str | np.dtype = "same") -> Any:
    """Apply a shading profile: ``(image - darkfield) / flatfield``, dtype-safe, per channel.

    Parameters
    ----------
    images : ndarray, list of ndarray, Dask or Zarr array
        One tile (Y, X) or (C, Y, X), or a stack whose last axes are the
        profile's ((..., Y, X), or (..., C, Y, X) for a profile with channels).
    profile : ShadingProfile
        From :func:`estimate_shading` or :meth:`ShadingProfile.load`.
    baseline : bool
        Also remove the drift of the per-tile baseline (``baseline_i - mean``),
        which needs the stack the profile was estimated from.
    output_dtype : {"same", "float", "float32", "float64"}
        ``"same"``: the input's dtype (integers rounded and clipped, never
        wrapped); ``"float"``: the float type the work is done in. Where an
        integer result is clipped at the top of its dtype (a bright pixel
        divided by a flat-field under 1: a corrected value past 65535 or
        255), a :class:`bgsub.BackgroundWarning` says how many pixels were
        (not for a Dask or Zarr input, computed later): a float output keeps
        them.

    Returns
    -------
    Same kind as ``images``
        An ndarray (a list for a list); a lazy Dask array for Dask or Zarr
        input, computed chunk by chunk with the same result as in memory.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((4, 4), 2.0, np.float32); flat[0] = 0.5
    >>> profile = ShadingProfile(flat / flat.mean(), np.zeros((4, 4), np.float32))
    >>> correct_shading(np.full((4, 4), 100, np.uint16), profile)[:2, 0].tolist()
    [325, 81]
    """
    if not isinstance(profile, ShadingProfile):
        raise TypeError("profile must be a ShadingProfile (from bgsub.estimate_shading or "
                        "ShadingProfile.load)")
    if isinstance(images, (list, tuple)):
        if baseline:  # the drift is indexed by tile: correct the list as the stack it is
            return list(correct_shading(np.stack(images), profile, baseline=True,
                                        output_dtype=output_dtype))
        return [correct_shading(i, profile, output_dtype=output_dtype) for i in images]
    if isinstance(images, (str, bytes)) or hasattr(images, "__fspath__"):
        raise TypeError("correct_shading takes pixels, not paths; read them with "
                        "bgsub.io.read_image, or run `bgsub run ... --flatfield PROFILE`")
    lazy = is_dask_array(images) or (hasattr(images, "chunks") and not
                                     isinstance(images, np.ndarray))
    if not lazy:
        images = np.asarray(images)
    dtype = check_dtype(images.dtype)
    _check_fits(images.shape, profile, baseline)
    work = work_dtype(dtype)
    out = output_dtype_for(dtype, output_dtype)
    flat, dark = profile.flatfield.astype(work), profile.darkfield.astype(work)
    drift = _drift(profile, images.shape, work) if baseline else None
    if lazy:
        return _correct_dask(images, flat, dark, drift, work, out)
    clipped = [0]
    if images.ndim == flat.ndim:
        result = _correct_block(images, flat, dark, drift, work, out, clipped)
    else:
        result = np.empty(images.shape, out)
        lead = images.shape[: images.ndim - flat.ndim]
        for index in np.ndindex(*lead):
            here = None if drift is None else drift[index[:1]]
            result[index] = _correct_block(images[index], flat, dark, here, work, out, clipped)
    if clipped[0]:
        _warn_of_clipping(clipped[0], images.size, out)
    return result


def _correct_block(block: np.ndarray, flat: np.ndarray, dark: np.ndarray,
                   drift: np.ndarray | None, work: np.dtype, out: np.dtype,
                   clipped: list[int] | None = None) -> np.ndarray:
    """``(block - dark) / flat`` (less the ``drift``) in ``work``, cast to ``out``; the pixels
    an integer ``out`` clips at its top are added to ``clipped[0]``, where given."""
    values = block.astype(work)
    values -= dark
    values /= flat
    if drift is not None:
        values -= drift
    if clipped is not None and np.issubdtype(out, np.integer):
        # (rounded as cast_result rounds: a value that rounds to the top is not clipped)
        top = integer_bounds(out, work)[1]
        clipped[0] += int(np.count_nonzero(np.rint(values[values > top]) > top))
    return cast_result(values, out)


def _warn_of_clipping(count: int, size: int, dtype: np.dtype) -> None:
    """Warn that ``count`` of ``size`` corrected pixels were clipped at ``dtype``'s top."""
    top = np.iinfo(dtype).max
    warn(f"{count} pixel(s) ({100 * count / size:.2g} %) of the corrected image exceed "
         f"{dtype}'s {top} and were clipped there (bright pixels divided by a flat-field under "
         "1); keep them with output_dtype='float32' (on the command line: --output-dtype "
         "float32)", stacklevel=3)


def _correct_dask(images: Any, flat: np.ndarray, dark: np.ndarray, drift: np.ndarray | None,
                  work: np.dtype, out: np.dtype) -> Any:
    import dask.array as da

    images = images if is_dask_array(images) else da.from_array(images, chunks=images.chunks)
    field_chunks = images.chunks[-flat.ndim:]
    flat_d = da.from_array(flat, chunks=field_chunks)
    dark_d = da.from_array(dark, chunks=field_chunks)
    if drift is None:
        return da.map_blocks(_correct_block, images, flat_d, dark_d, None, work, out, dtype=out)
    # (the drift is (N, 1, 1) or, per channel, (N, C, 1, 1): chunked as the images along N
    # and C, whole along the axes it is broadcast over)
    drift_d = da.from_array(drift, chunks=tuple(
        chunks if size > 1 else (1,) for chunks, size in zip(images.chunks, drift.shape,
                                                             strict=True)))
    return da.map_blocks(_correct_block, images, flat_d, dark_d, drift_d, work, out, dtype=out)


def _check_fits(shape: tuple[int, ...], profile: ShadingProfile, baseline: bool) -> None:
    fields = profile.flatfield.shape
    if (profile.channel_axis and len(shape) >= 3 and tuple(shape[-2:]) == fields[-2:]
            and shape[-3] != fields[0]):
        raise ValueError(f"the profile has {fields[0]} channels, the images {shape[-3]} (shape "
                         f"{tuple(shape)}); give one field per channel of the images, or one "
                         "single-channel field for every plane")
    if len(shape) < len(fields) or tuple(shape[-len(fields):]) != fields:
        what = "(C, Y, X)" if profile.channel_axis else "(Y, X)"
        raise ValueError(f"the profile is for tiles of shape {what} = {fields}, the images have "
                         f"shape {tuple(shape)}; estimate a profile from tiles of this size")
    if baseline:
        if profile.baseline is None:
            raise ValueError("the profile has no baseline; estimate it with baseline=True, or "
                             "correct without baseline=True")
        if len(shape) != len(fields) + 1 or shape[0] != len(profile.baseline):
            raise ValueError(f"the profile's baseline is for a stack of {len(profile.baseline)} "
                             f"tiles, the images have shape {tuple(shape)}; pass that stack")


def _drift(profile: ShadingProfile, shape: tuple[int, ...], work: np.dtype) -> np.ndarray:
    values = np.asarray(profile.baseline, dtype=np.float64)
    drift = (values - values.mean(axis=0)).astype(work)
    return drift.reshape(drift.shape + (1,) * (len(shape) - drift.ndim))


def _normalised_flat(flat: np.ndarray, method: str, where: str = "") -> np.ndarray:
    """``flat`` at mean 1, kept at least ``_SMALLEST_FLAT`` (with a warning), or a one-line
    error where it is unusable; ``where`` names the channel (" of channel 1")."""
    flat = np.asarray(flat, dtype=np.float64)
    mean = float(flat.mean())
    if not np.isfinite(flat).all() or mean <= 0:
        raise ValueError(f"shading method {method!r} found no usable flat-field{where} (mean "
                         f"{mean:g}); check that the tiles{where} are not empty or constant")
    flat = flat / mean
    if flat.min() < _SMALLEST_FLAT:
        warn(f"the {method} flat-field{where} falls to {flat.min():.3g} of its mean; kept at "
             f"{_SMALLEST_FLAT} there (are the tiles mostly empty?)", stacklevel=3)
        flat = np.maximum(flat, _SMALLEST_FLAT)
    return flat


def _full(field: np.ndarray, grid: Grid, flat: bool) -> np.ndarray:
    full = upsample(field, grid)
    if flat:
        full = np.maximum(full / full.mean(), _SMALLEST_FLAT)
    return full


def _baselines(stack: np.ndarray, flat: np.ndarray, dark: np.ndarray,
               iterations: int = 10) -> np.ndarray:
    """Each tile's baseline: a Cauchy-weighted fit of ``tile ~ b * flat + dark``."""
    data = stack.reshape(len(stack), -1) - dark.ravel()
    f = flat.ravel()
    b = np.median(data / f, axis=1)
    for _ in range(iterations):
        residual = data - b[:, None] * f
        spread = MAD_TO_SD * np.median(np.abs(residual), axis=1, keepdims=True)
        weights = 1.0 / (1.0 + (residual / (_CAUCHY * np.maximum(spread, 1e-12))) ** 2)
        b = (weights * data) @ f / np.maximum(weights @ f**2, np.finfo(float).tiny)
    return b


def _sample_rows(count: int, sample: int | None) -> np.ndarray:
    if sample is None or sample >= count:
        return np.arange(count)
    sample = _positive_int(sample, "sample")
    return np.unique(np.linspace(0, count - 1, max(sample, 2)).round().astype(np.intp))


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} is not accepted; use a whole number >= 1")
    return int(value)
