"""PNG and JPEG: headers through Pillow, pixels through imagecodecs (8/16-bit, grey or RGB(A)).

Pillow reads a file's header (size, bands), its pixel size (``pHYs``, as
``dpi``) and its text chunks without decoding the pixels, so the declared
size is checked before anything is allocated. imagecodecs decodes and
encodes the pixels (it keeps 16-bit colour, which Pillow reduces to 8 bits).
PNG keeps the pixel size in ``pHYs`` and bgsub's provenance in a ``tEXt``
chunk with the keyword ``bgsub``, both written with Pillow's chunk writer.
JPEG is read only: a lossy format is never written (JPEG inputs are written
as PNG). bgsub's figures (matplotlib's PNGs) carry ``Software: bgsub <version>``
in a text chunk, so that a figure bgsub wrote can be told from a user's image of
the same name (:func:`is_figure`).
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_size
from bgsub.io._metadata import ImageMetadata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_KEY = "bgsub"
_FIGURE_KEY = "Software"  # (matplotlib's own key for the program that made a PNG)
_FIGURE_MARK = "bgsub"
_INCH_UM = 25400.0
#: Screen and print resolutions (dots per inch) that a PNG's pHYs holds when it is no
#: pixel size: screenshots and editors' exports (72, 96, 144, 192), figures (100-300),
#: scans and prints (300-1200). A microscope's pixel of these sizes (21-353 µm) is not met.
SCREEN_DPI = (72, 96, 100, 110, 120, 144, 150, 192, 200, 240, 300, 400, 600, 720, 1200)
# Pillow modes that may hold 16-bit samples (Pillow shows 16-bit RGB as "RGB")
_MAYBE_16_BIT = ("I;16", "I;16B", "I;16L", "I", "RGB", "RGBA", "LA")

if TYPE_CHECKING:  # Pillow and imagecodecs are imported when a PNG or JPEG is read or written
    from PIL import Image


def read(path: Path, fmt: str, max_bytes: int) -> tuple[np.ndarray, ImageMetadata]:
    """Pixels and metadata of a PNG or JPEG file.

    The size its header declares is checked against ``max_bytes`` before decoding.
    """
    import imagecodecs

    raw = path.read_bytes()
    header = _open_header(raw, fmt)
    shape, dtype = _declared(header, fmt)
    check_size(shape, dtype, max_bytes)
    data = imagecodecs.png_decode(raw) if fmt == "png" else imagecodecs.jpeg8_decode(raw)
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    meta = ImageMetadata(axes="YX" if data.ndim == 2 else "YXS", format=fmt)
    if fmt == "png":
        _read_dpi(header.info.get("dpi"), meta)
        # text chunks before the pixels (where bgsub writes them) are in ``info``
        meta.provenance = _read_text(header.info.get(_TEXT_KEY))
    return data, meta


def _open_header(raw: bytes, fmt: str) -> Image.Image:
    """The file opened by Pillow: header and text chunks read, pixels not decoded.

    Opened through the format's plugin class rather than ``Image.open``, whose
    decompression-bomb limit (a pixel count) would refuse what
    :func:`check_size` measures against the memory bgsub may use.
    """
    from PIL import JpegImagePlugin, PngImagePlugin

    plugin = PngImagePlugin.PngImageFile if fmt == "png" else JpegImagePlugin.JpegImageFile
    try:
        return plugin(io.BytesIO(raw))
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UnsupportedFileError(f"damaged or truncated {fmt.upper()} ({exc}); copy or "
                                   "export the file again") from exc


def _declared(image: Image.Image, fmt: str) -> tuple[tuple[int, ...], np.dtype]:
    """Upper bound on the shape and dtype the header declares (16 bits where it may be)."""
    width, height = image.size
    bands = len(image.getbands())
    if fmt == "jpeg":
        wide = getattr(image, "bits", 8) > 8
    else:
        wide = image.mode in _MAYBE_16_BIT
    return (height, width, bands), np.dtype(np.uint16 if wide else np.uint8)


def png_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """Shape (upper bound on samples) and dtype a PNG's header declares."""
    return _declared(_open_header(raw, "png"), "png")


def jpeg_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype a JPEG's start-of-frame segment declares."""
    return _declared(_open_header(raw, "jpeg"), "jpeg")


def _read_dpi(dpi: tuple[float, float] | None, meta: ImageMetadata) -> None:
    """Pillow gives ``pHYs`` in dots per inch (only when its unit is the metre). A screen's
    or a printer's resolution (:data:`SCREEN_DPI`: a screenshot, an editor's export, a
    figure) is not a pixel size, as a TIFF's resolution in inches is not: 72 dpi would read
    as pixels of 352.8 µm."""
    if dpi and dpi[0] > 0 and dpi[1] > 0 and not _screen_dpi(dpi):
        meta.spacing = {"Y": _INCH_UM / dpi[1], "X": _INCH_UM / dpi[0]}
        meta.units = {"Y": "µm", "X": "µm"}


def _screen_dpi(dpi: tuple[float, float]) -> bool:
    """Whether both ``dpi`` are one of :data:`SCREEN_DPI`, as a PNG stores them (whole dots
    a metre: 72 dpi is 2835, read back as 72.009)."""
    return all(any(abs(d - screen) <= 0.0254 for screen in SCREEN_DPI) for d in dpi)


def _read_text(value: str | None) -> dict | None:
    if not value:
        return None
    try:
        record = json.loads(value)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def check(shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata) -> None:
    """Refuse what PNG cannot hold: other dtypes than uint8/uint16, other axes than ``YX`` or
    ``YXS`` of 2-4 samples."""
    if np.dtype(dtype) not in (np.uint8, np.uint16):
        raise ValueError(f"PNG holds uint8 or uint16 pixels, not {np.dtype(dtype)}; "
                         "use --format tiff")
    if meta.axes not in ("YX", "YXS") or (meta.axes == "YXS" and shape[-1] not in (2, 3, 4)):
        raise ValueError(f"PNG holds a single grey, grey+alpha or RGB(A) plane, not axes "
                         f"{meta.axes!r}; "
                         "use --format tiff")


def write(path: Path, data: np.ndarray, meta: ImageMetadata, provenance: dict | None) -> None:
    """Write ``data`` (uint8/uint16, ``YX`` or ``YXS``) as PNG with its provenance."""
    check(data.shape, data.dtype, meta)
    import imagecodecs

    encoded = imagecodecs.png_encode(np.ascontiguousarray(data))
    extra: list[tuple[bytes, bytes]] = []
    microns = meta.spacing_in_one_unit("YX", "µm")
    if microns is not None:
        (y, x), _ = microns
        extra.append((b"pHYs", struct.pack(">IIB", round(1e6 / x), round(1e6 / y), 1)))
    if provenance is not None:
        text = json.dumps(provenance, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        extra.append((b"tEXt", _TEXT_KEY.encode("latin-1") + b"\0" + text.encode("latin-1")))
    path.write_bytes(_with_chunks(encoded, extra))


def write_figure(figure: Any, path: Path, dpi: float, fmt: str = "png") -> None:
    """Save a matplotlib ``figure`` at ``path`` in ``fmt``; a PNG marked as bgsub's figure."""
    from bgsub._version import __version__

    mark = {_FIGURE_KEY: f"{_FIGURE_MARK} {__version__}"} if fmt == "png" else None
    figure.savefig(path, format=fmt, dpi=dpi, metadata=mark)


def is_figure(path: Path) -> bool:
    """Whether ``path`` is a PNG that :func:`write_figure` wrote (its text chunk read,
    not its pixels)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():  # (a folder, a device, a named pipe, which would block a read)
        return False
    try:
        with open(path, "rb") as handle:  # (any other file: its first bytes say no)
            if handle.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                return False
        with Image.open(path, formats=["PNG"]) as image:
            software = image.info.get(_FIGURE_KEY, "")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False
    return isinstance(software, str) and software.split(" ")[0] == _FIGURE_MARK


def _with_chunks(encoded: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    """``encoded`` with the ``extra`` chunks after its header (replacing chunks of those types)."""
    from PIL import PngImagePlugin

    kinds = {kind for kind, _ in extra}
    stream = PngImagePlugin.ChunkStream(io.BytesIO(encoded[len(PNG_SIGNATURE):]))
    out = io.BytesIO()
    out.write(PNG_SIGNATURE)
    while True:
        kind, _, length = stream.read()
        payload = stream.fp.read(length)
        stream.crc_skip(kind, payload)
        if kind not in kinds:
            PngImagePlugin.putchunk(out, kind, payload)
        if kind == b"IHDR":
            for extra_kind, extra_payload in extra:
                PngImagePlugin.putchunk(out, extra_kind, extra_payload)
        if kind == b"IEND":
            return out.getvalue()
