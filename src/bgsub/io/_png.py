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

from bgsub.io._metadata import ImageMetadata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_KEY = b"bgsub"


def read(path: Path, fmt: str) -> tuple[np.ndarray, ImageMetadata]:
    """Pixels and metadata of a PNG or JPEG file."""
    raw = path.read_bytes()
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
    if meta.axes not in ("YX", "YXS") or (meta.axes == "YXS" and data.shape[-1] not in (3, 4)):
        raise ValueError(f"PNG holds a single grey or RGB(A) plane, not axes {meta.axes!r}; "
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
