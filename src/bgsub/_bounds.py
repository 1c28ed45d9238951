"""Bounds on what a caller can make the API allocate, checked before any allocation.

The API checks the radius and the methods' reach itself; these are the other
sizes a user controls: the pre-smoothing size, masked arrays, whose mask
``np.asarray`` would silently drop, and the memory a method's estimate of one
block needs against the memory free (a warning: the estimate may still fit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_PADDED_PIXELS", "MEMORY_CHECK_FROM", "available_memory", "check_presmooth_fits",
           "refuse_masked", "warn_if_short_of_memory"]

#: Pixels a pre-smoothing step may pad a block to when its reach is beyond the image.
MAX_PADDED_PIXELS = 2**24
#: Bytes an estimate may need before the free memory is looked at (psutil is imported then).
MEMORY_CHECK_FROM = 2**30


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (psutil's ``available``), if known."""
    import psutil

    try:
        return int(psutil.virtual_memory().available)
    except (OSError, RuntimeError, AttributeError):
        return None


def warn_if_short_of_memory(need: float, what: str, fix: str) -> None:
    """A :class:`bgsub.BackgroundWarning` where ``need`` bytes (``what`` needs them) exceed
    the memory free; nothing below :data:`MEMORY_CHECK_FROM` or where it is not known."""
    if need < MEMORY_CHECK_FROM:
        return
    free = available_memory()
    if free is not None and need > free:
        from bgsub._warnings import warn

        warn(f"{what} needs about {need / 2**30:.1f} GiB, more than the {free / 2**30:.1f} "
             f"GiB of memory free: it may swap or be stopped; {fix}", stacklevel=4)


def check_presmooth_fits(presmooth: Any, radius: tuple[float, ...],
                         extent: tuple[int, ...]) -> None:
    """Refuse a pre-smoothing size beyond the image whose padded block would be huge.

    ``presmooth="median:10000"`` on a 64x64 image pads it to 20064x20064
    pixels (and asked for 23 GB); a size within the image, or whose padded
    block stays under :data:`MAX_PADDED_PIXELS`, is computed as asked.

    Examples
    --------
    >>> from bgsub._presmooth import parse_presmooth
    >>> check_presmooth_fits(parse_presmooth("median:2"), (10.0, 10.0), (64, 64))
    >>> check_presmooth_fits(parse_presmooth("median:10000"), (10.0, 10.0), (64, 64))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: presmooth median:10000 reaches 10000 pixels, beyond the image (64x64) and ...
    """
    if presmooth is None:
        return
    scale = tuple(r / radius[-1] for r in radius)
    halo = presmooth.halo(scale)
    padded = float(np.prod([n + 2 * h for n, h in zip(extent, halo, strict=True)],
                           dtype=np.float64))
    if any(h > n for h, n in zip(halo, extent, strict=True)) and padded > MAX_PADDED_PIXELS:
        raise ValueError(
            f"presmooth {presmooth} reaches {max(halo)} pixels, beyond the image "
            f"({'x'.join(map(str, extent))}) and too large to compute; use a size no larger "
            f"than the image, e.g. {presmooth.kind}:{min(extent)}")


def refuse_masked(image: Any) -> None:
    """Refuse a NumPy masked array with masked pixels: the mask would be ignored.

    Examples
    --------
    >>> refuse_masked(np.ma.masked_array([[1, 2]], mask=[[False, False]]))
    >>> refuse_masked(np.ma.masked_array([[1, 2]], mask=[[True, False]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: masked arrays are not supported (1 pixel(s) masked, the mask would be ignored); ...
    """
    if isinstance(image, np.ma.MaskedArray) and np.ma.getmask(image) is not np.ma.nomask:
        count = int(np.count_nonzero(np.ma.getmaskarray(image)))
        if count:
            raise TypeError(
                f"masked arrays are not supported ({count} pixel(s) masked, the mask would be "
                "ignored); pass image.astype(float).filled(np.nan) to leave the masked pixels "
                "out of the background, or image.data to use them")
