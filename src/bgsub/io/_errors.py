"""The errors of :mod:`bgsub.io`: every file bgsub cannot read gets one of these."""

from __future__ import annotations

__all__ = ["ImageTooLargeError", "UnsupportedFileError"]


class UnsupportedFileError(ValueError):
    """The file is not an image bgsub can read; the message names the reason and the fix."""


class ImageTooLargeError(UnsupportedFileError):
    """The file declares an image larger than bgsub may allocate (see ``max_image_bytes``)."""
