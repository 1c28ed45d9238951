"""PNG (8/16-bit, grey or RGB(A)) and JPEG (8-bit), through imagecodecs.

PNG keeps the pixel size in its ``pHYs`` chunk and the bgsub provenance in a
``tEXt`` chunk with the keyword ``bgsub``. JPEG is read only: a lossy format
is never written (JPEG inputs are written as PNG).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np

from bgsub.io._errors import UnsupportedFileError
from bgsub.io._limits import check_size
from bgsub.io._metadata import ImageMetadata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_KEY = b"bgsub"
# PNG colour type -> samples once decoded (a palette is expanded to RGB(A))
_PNG_SAMPLES = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}
# JPEG start-of-frame markers (C4, C8 and CC are other segments)
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def read(path: Path, fmt: str, max_bytes: int) -> tuple[np.ndarray, ImageMetadata]:
    """Pixels and metadata of a PNG or JPEG file.

    The size its header declares is checked against ``max_bytes`` before decoding.
    """
    raw = path.read_bytes()
    shape, dtype = png_header(raw) if fmt == "png" else jpeg_header(raw)
    check_size(shape, dtype, max_bytes)
    if fmt == "png":
        data = imagecodecs.png_decode(raw)
    else:
        data = imagecodecs.jpeg8_decode(raw)
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    meta = ImageMetadata(axes="YX" if data.ndim == 2 else "YXS", format=fmt)
    if fmt == "png":
        chunks = dict(_chunks(raw, {b"pHYs", b"tEXt"}))
        _read_phys(chunks.get(b"pHYs"), meta)
        meta.provenance = _read_text(raw)
    return data, meta


def png_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """Shape (upper bound on samples) and dtype a PNG's IHDR chunk declares."""
    if len(raw) < 33 or raw[12:16] != b"IHDR":
        raise UnsupportedFileError("truncated PNG: no image header (IHDR); copy or export "
                                   "the file again")
    width, height, depth, colour = struct.unpack(">IIBB", raw[16:26])
    samples = _PNG_SAMPLES.get(colour, 4)
    return (height, width, samples), np.dtype(np.uint16 if depth == 16 else np.uint8)


def jpeg_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype a JPEG's start-of-frame segment declares (zeros if none is found)."""
    pos = 2
    while pos + 9 < len(raw):
        if raw[pos] != 0xFF:
            break
        marker = raw[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        length = struct.unpack(">H", raw[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF:
            precision, height, width, components = struct.unpack(">BHHB", raw[pos + 4:pos + 10])
            dtype = np.uint16 if precision > 8 else np.uint8
            return (height, width, max(components, 1)), np.dtype(dtype)
        if marker == 0xDA or length < 2:  # image data: no frame header before it
            break
        pos += 2 + length
    return (0,), np.dtype(np.uint8)


def _chunks(raw: bytes, wanted: set[bytes]):
    """Yield ``(type, data)`` of the chunks of a PNG file whose type is in ``wanted``."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        if kind in wanted:
            yield kind, raw[pos + 8:pos + 8 + length]
        if kind == b"IEND":
            return
        pos += 12 + length


def _read_phys(chunk: bytes | None, meta: ImageMetadata) -> None:
    if chunk is None or len(chunk) != 9:
        return
    x_per_unit, y_per_unit, unit = struct.unpack(">IIB", chunk)
    if unit == 1 and x_per_unit and y_per_unit:  # pixels per metre
        meta.spacing = {"Y": 1e6 / y_per_unit, "X": 1e6 / x_per_unit}
        meta.units = {"Y": "µm", "X": "µm"}


def _read_text(raw: bytes) -> dict | None:
    for _, chunk in _chunks(raw, {b"tEXt"}):
        key, _, value = chunk.partition(b"\0")
        if key == _TEXT_KEY:
            try:
                record = json.loads(value.decode("latin-1"))
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
    return None


def write(path: Path, data: np.ndarray, meta: ImageMetadata, provenance: dict | None) -> None:
    """Write ``data`` (uint8/uint16, ``YX`` or ``YXS``) as PNG with its provenance."""
    if data.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG holds uint8 or uint16 pixels, not {data.dtype}; "
                         "use --format tiff")
    if meta.axes not in ("YX", "YXS") or (meta.axes == "YXS" and data.shape[-1] not in (2, 3, 4)):
        raise ValueError(f"PNG holds a single grey, grey+alpha or RGB(A) plane, not axes "
                         f"{meta.axes!r}; "
                         "use --format tiff")
    encoded = imagecodecs.png_encode(np.ascontiguousarray(data))
    extra = b""
    if meta.units.get("X") == "µm" and "X" in meta.spacing and "Y" in meta.spacing:
        extra += _chunk(b"pHYs", struct.pack(">IIB", round(1e6 / meta.spacing["X"]),
                                             round(1e6 / meta.spacing["Y"]), 1))
    if provenance is not None:
        text = json.dumps(provenance, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        extra += _chunk(b"tEXt", _TEXT_KEY + b"\0" + text.encode("latin-1"))
    path.write_bytes(_insert_after_header(encoded, extra))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _insert_after_header(encoded: bytes, extra: bytes) -> bytes:
    """Insert chunks right after IHDR (the first chunk; 8 + 4 + 4 + 13 + 4 bytes in)."""
    end_of_ihdr = len(PNG_SIGNATURE) + 25
    without = _strip_chunks(encoded, {b"pHYs", b"tEXt"})
    return without[:end_of_ihdr] + extra + without[end_of_ihdr:]


def _strip_chunks(encoded: bytes, kinds: set[bytes]) -> bytes:
    out, pos = bytearray(encoded[:len(PNG_SIGNATURE)]), len(PNG_SIGNATURE)
    while pos + 8 <= len(encoded):
        length, kind = struct.unpack(">I4s", encoded[pos:pos + 8])
        if kind not in kinds:
            out += encoded[pos:pos + 12 + length]
        pos += 12 + length
    return bytes(out)
