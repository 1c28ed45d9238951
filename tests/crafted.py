"""Hand-made damaged and lying image files for the robustness tests.

Each helper writes a few hundred bytes (at most ~114 KB) whose header claims
what the test needs: a huge size, a loop of image directories, a bad chunk.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np


def tiny_tiff(width: int, height: int, pages: int = 1, *, loop: bool = False,
              strip_bytes: int = 16) -> bytes:
    """A little-endian TIFF of ``pages`` uint16 pages sharing one ``strip_bytes`` strip.

    Every page declares ``width`` x ``height`` pixels but the file holds only
    ``strip_bytes`` of pixel data. With ``loop`` the last page points back to
    the first instead of ending the chain.
    """
    tags = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
            (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, strip_bytes)]
    ifd_size = 2 + 12 * len(tags) + 4
    data_offset = 8 + pages * ifd_size
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for page in range(pages):
        last = page == pages - 1
        following = (8 if loop else 0) if last else 8 + (page + 1) * ifd_size
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            value = data_offset if tag == 273 else value
            if kind == 3:
                out += struct.pack("<HHIHH", tag, kind, 1, value, 0)
            else:
                out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", following)
    return bytes(out + b"\0" * strip_bytes)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking 16-bit RGBA PNG header declaring ``width`` x ``height``, and no data."""
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def huge_jpeg(width: int = 65_000, height: int = 65_000) -> bytes:
    """A JPEG start: SOI and a baseline frame header declaring ``width`` x ``height`` x 3."""
    frame = struct.pack(">BHHB", 8, height, width, 3) + bytes([1, 0x22, 0, 2, 0x11, 1,
                                                               3, 0x11, 1])
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(frame) + 2) + frame + b"\xff\xd9"


def huge_zarr(folder: Path, shape: tuple[int, ...] = (1000, 100_000, 100_000)) -> Path:
    """A Zarr 3 array whose metadata declares ``shape`` uint16, with no chunks."""
    folder.mkdir(parents=True)
    metadata = {
        "zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": "uint16",
        "chunk_grid": {"name": "regular",
                       "configuration": {"chunk_shape": [1, 1000, 1000]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    }
    (folder / "zarr.json").write_text(json.dumps(metadata))
    return folder


def blosc_bomb(folder: Path) -> Path:
    """An OME-Zarr 0.4 store (Blosc chunks) whose first chunk's header claims 1 GiB."""
    from bgsub.io import ImageMetadata, write_image

    write_image(folder, np.arange(24 * 20, dtype=np.uint16).reshape(24, 20),
                ImageMetadata("YX"), format="ome-zarr")
    chunk = next(p for p in sorted((folder / "0").iterdir()) if not p.name.startswith("."))
    raw = bytearray(chunk.read_bytes())
    raw[4:8] = struct.pack("<I", 2**30)
    chunk.write_bytes(bytes(raw))
    return folder
