"""How large an image a reader may allocate, checked against the file's declared size.

A file's header can declare any size: a 114 KB TIFF can claim a
1000 x 100000 x 100000 uint16 stack (18 TiB). The readers compare the
declared size with :func:`max_image_bytes` *before* asking NumPy or a codec
for the memory, and refuse with :class:`ImageTooLargeError`.
"""

from __future__ import annotations

import os

import numpy as np

from bgsub._bounds import available_memory
from bgsub.io._errors import ImageTooLargeError

__all__ = ["ENV_VAR", "ImageTooLargeError", "available_memory", "check_block", "check_size",
           "check_tiff_blocks", "format_bytes", "max_image_bytes", "max_stream_bytes",
           "parse_size"]

#: Environment variable that overrides the limit, e.g. ``BGSUB_MAX_IMAGE_BYTES=64G``.
ENV_VAR = "BGSUB_MAX_IMAGE_BYTES"


def parse_size(text: str) -> int:
    """``"64GiB"``, ``"512M"``, ``"1.5 GB"`` or a number of bytes -> bytes, by dask.

    ``K``, ``M``, ``G``, ``T`` (with or without ``B``) are powers of 1000;
    ``KiB``, ``MiB``, ``GiB``, ``TiB`` powers of 1024.

    Examples
    --------
    >>> parse_size("2K"), parse_size("1.5 GiB"), parse_size("100")
    (2000, 1610612736, 100)
    """
    from dask.utils import parse_bytes  # dask takes ~0.1 s to import: only when a size is given

    try:
        size = parse_bytes(str(text).strip())
    except (ValueError, TypeError):
        size = -1
    if size < 0:
        raise ValueError(f"{ENV_VAR}={text!r} is not a size; write e.g. 64GiB, 512M or 1000000")
    return int(size)


def max_image_bytes() -> int:
    """The largest image a reader may allocate: ``$BGSUB_MAX_IMAGE_BYTES``, else free memory.

    Without the variable and without a way to know the free memory, 1 TiB.
    """
    text = os.environ.get(ENV_VAR)
    if text:
        return parse_size(text)
    available = available_memory()
    return available if available else 2**40


def max_stream_bytes() -> int | None:
    """The largest image read lazily, in parts: ``$BGSUB_MAX_IMAGE_BYTES`` when set, else None.

    Reading in parts allocates a chunk at a time, so the free memory is no
    limit; the variable still refuses larger files if you set it.
    """
    text = os.environ.get(ENV_VAR)
    return parse_size(text) if text else None


def format_bytes(size: float) -> str:
    """``19999999999`` -> ``"18.6 GiB"``.

    Examples
    --------
    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_size(shape: tuple[int, ...], dtype: np.dtype | str, limit: int) -> None:
    """Raise :class:`ImageTooLargeError` when ``shape`` x ``dtype`` exceeds ``limit`` bytes."""
    itemsize = np.dtype(dtype).itemsize
    # Python integers: a declared shape can overflow int64
    nbytes = itemsize
    for n in shape:
        nbytes *= int(n)
    if nbytes > limit:
        dims = "x".join(str(int(n)) for n in shape)
        raise ImageTooLargeError(
            f"the file declares a {dims} {np.dtype(dtype)} image ({format_bytes(nbytes)}), "
            f"more than the {format_bytes(limit)} bgsub may allocate; check the file, "
            f"or raise the limit with {ENV_VAR}=SIZE (e.g. 64G) if it is real"
        )


def check_block(shape: tuple[int, ...], dtype: np.dtype | str, limit: int | None,
                what: str) -> None:
    """Refuse a chunk, tile or strip that a codec would allocate whole beyond the limit.

    A reader decodes one block (a Zarr chunk, a TIFF tile or strip) at a time,
    and allocates the block's *declared* shape, however small the image: a
    156 KB Zarr store with 46000 x 46000 chunks would take 4 GB for a 64 x 64
    image. Even when the image is streamed (no limit on its size), a block is
    held whole in memory, so it must fit in :func:`max_image_bytes`.

    Examples
    --------
    >>> check_block((46000, 46000), "uint16", 64 * 2**20, "Zarr chunk")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bgsub.io._errors.ImageTooLargeError: the file declares a Zarr chunk of 46000x46000 uint16 ...
    """
    bound = max_image_bytes() if limit is None else min(int(limit), max_image_bytes())
    nbytes = np.dtype(dtype).itemsize
    for n in shape:
        nbytes *= max(int(n), 1)
    if nbytes > bound:
        dims = "x".join(str(int(n)) for n in shape)
        raise ImageTooLargeError(
            f"the file declares a {what} of {dims} {np.dtype(dtype)} ({format_bytes(nbytes)}), "
            f"more than the {format_bytes(bound)} bgsub may allocate; check the file (export "
            f"it again with smaller chunks), or raise the limit with {ENV_VAR}=SIZE")


def check_tiff_blocks(page: object, limit: int | None) -> None:
    """:func:`check_block` for a TIFF page's tiles (tile tags) or strips (RowsPerStrip).

    tifffile decodes each tile into a buffer of the declared tile size; a
    4 MB file whose tile tags say 46000 x 46000 would take 4 GB per tile.
    """
    dtype = getattr(page, "dtype", None)
    if dtype is None:
        return
    samples = int(getattr(page, "samplesperpixel", 1) or 1)
    if getattr(page, "is_tiled", False):
        shape = (int(getattr(page, "tiledepth", 1) or 1), int(page.tilelength),
                 int(page.tilewidth), samples)
        check_block(shape, dtype, limit, "TIFF tile")
    else:
        rows = int(getattr(page, "rowsperstrip", 0) or 0)
        length = int(getattr(page, "imagelength", 0) or 0)
        rows = min(rows, length) if rows and length else rows or length
        width = int(getattr(page, "imagewidth", 0) or 0)
        check_block((rows, width, samples), dtype, limit, "TIFF strip")
