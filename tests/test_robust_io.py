"""Damaged, lying and unusual files: read_image and probe answer with one documented error.

The documented answers (docs/robustness.md): ``UnsupportedFileError`` (a
``ValueError``) for anything bgsub cannot read, ``ImageTooLargeError`` (an
``UnsupportedFileError``) for a declared size over the limit, raised before
allocating, ``FileNotFoundError`` for a missing path and ``OSError``
(``PermissionError``, ...) when the operating system refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tracemalloc
from io import BytesIO
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from bgsub import io
from bgsub.io import (
    ImageMetadata,
    ImageTooLargeError,
    UnsupportedFileError,
    probe,
    read_image,
    write_image,
)
from crafted import blosc_bomb, huge_jpeg, huge_png, huge_zarr, tiny_tiff

PLANE = np.arange(40 * 36, dtype=np.uint16).reshape(40, 36)


def refused(path, error=UnsupportedFileError, **kwargs) -> str:
    """``read_image(path)`` must raise ``error`` with a one-line message; return it."""
    with pytest.raises(error) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


# --- declared sizes -------------------------------------------------------------------------


@pytest.fixture()
def huge_files(tmp_path) -> dict[str, Path]:
    files = {"tiff": tmp_path / "huge.tif", "png": tmp_path / "huge.png",
             "jpeg": tmp_path / "huge.jpg"}
    files["tiff"].write_bytes(tiny_tiff(100_000, 100_000, pages=1000))
    files["png"].write_bytes(huge_png())
    files["jpeg"].write_bytes(huge_jpeg())
    files["zarr"] = huge_zarr(tmp_path / "huge.zarr")
    return files


def test_a_tiny_tiff_declaring_18_tib_is_refused_before_allocating(huge_files):
    path = huge_files["tiff"]
    assert path.stat().st_size < 120_000
    with tifffile.TiffFile(path) as tif:  # what the header declares
        assert tif.series[0].shape == (1000, 100_000, 100_000)
    tracemalloc.start()
    try:
        message = refused(path, ImageTooLargeError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # the 18 TiB were never asked for
    assert "1000x100000x100000 uint16 image (18.2 TiB)" in message
    assert io.MAX_BYTES_ENV in message


@pytest.mark.parametrize("kind", ["png", "jpeg", "zarr"])
def test_other_formats_declaring_huge_sizes_are_refused_before_allocating(huge_files, kind):
    tracemalloc.start()
    try:
        message = refused(huge_files[kind], ImageTooLargeError, max_bytes=2**30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20 and "bgsub may allocate" in message


def test_the_refusal_holds_under_a_hard_memory_cap(huge_files, tmp_path):
    """A subprocess with 3 GiB of address space: reading must not even try the allocation."""
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))\n"
              "from bgsub.io import read_image\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n"
              "        read_image(path)\n"
              "    except Exception as exc:\n"
              "        print(type(exc).__name__)\n")
    paths = [str(huge_files[k]) for k in ("tiff", "png", "zarr")]
    result = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, io.MAX_BYTES_ENV: "1G"})
    assert result.stdout.split() == ["ImageTooLargeError"] * 3, result.stderr


def test_the_limit_comes_from_the_environment_or_the_call(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "a.tif", PLANE)
    assert read_image(tmp_path / "a.tif")[0].shape == PLANE.shape
    assert "2.8 KiB" in refused(tmp_path / "a.tif", ImageTooLargeError, max_bytes=1000)
    monkeypatch.setenv(io.MAX_BYTES_ENV, "1K")
    refused(tmp_path / "a.tif", ImageTooLargeError)
    monkeypatch.setenv(io.MAX_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match="is not a size; write e.g. 64G"):
        read_image(tmp_path / "a.tif")


def test_uncompressed_tiff_declaring_more_pixels_than_it_holds(tmp_path):
    """18.6 GiB declared, 16 bytes present: refused as truncated before allocating."""
    (tmp_path / "short.tif").write_bytes(tiny_tiff(100_000, 100_000))
    tracemalloc.start()
    try:
        message = refused(tmp_path / "short.tif", max_bytes=2**40)  # under the limit
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("truncated TIFF: 16 bytes of pixel data") and peak < 16 * 2**20


# --- damaged files --------------------------------------------------------------------------


def _tiff_bytes(**kwargs) -> bytes:
    buffer = BytesIO()
    tifffile.imwrite(buffer, PLANE, **kwargs)
    return buffer.getvalue()


DAMAGED = {
    "empty.tif": b"",
    "header-only.tif": b"II*\0",
    "no-ifd.tif": b"II*\0\0\0\0\0",
    "garbage-ifd.tif": b"II*\0" + b"\xff" * 60,
    "truncated.tif": _tiff_bytes()[:1500],
    "truncated-zlib.tif": _tiff_bytes(compression="zlib")[:-40],
    "big-endian-garbage.tif": b"MM\0*" + b"\0\0\0\x08" + b"\x7f" * 40,
    "bigtiff-garbage.tif": b"II+\0\x08\0\0\0" + b"\xee" * 40,
    "truncated.png": imagecodecs.png_encode(PLANE)[:60],
    "png-signature-only.png": b"\x89PNG\r\n\x1a\n",
    "png-bad-crc.png": imagecodecs.png_encode(PLANE)[:40] + b"\0" + imagecodecs.png_encode(
        PLANE)[41:],
    "truncated.jpg": imagecodecs.jpeg8_encode((PLANE // 16).astype(np.uint8))[:200],
    "jpeg-soi-only.jpg": b"\xff\xd8\xff",
    "text.tif": b"hello, I am not an image",
}


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_files_get_one_line(tmp_path, name):
    (tmp_path / name).write_bytes(DAMAGED[name])
    message = refused(tmp_path / name)
    assert any(word in message for word in ("damaged", "truncated", "signature", "no image"))


def test_a_tiff_whose_image_chain_loops_is_refused_not_read_for_ever(tmp_path):
    (tmp_path / "loop.tif").write_bytes(tiny_tiff(4, 4, pages=3, loop=True))
    assert "loops back to the one at byte 8" in refused(tmp_path / "loop.tif")
    with pytest.raises(UnsupportedFileError, match="loops back"):
        probe(tmp_path / "loop.tif")


@pytest.fixture()
def stores(tmp_path) -> dict[str, Path]:
    meta = ImageMetadata("YX")
    write_image(tmp_path / "v3.zarr", PLANE, meta, format="zarr")
    write_image(tmp_path / "ome.zarr", PLANE, meta, format="ome-zarr")
    return {"v3": tmp_path / "v3.zarr", "ome": tmp_path / "ome.zarr"}


def _damage(store: Path, relative: str, content: bytes | None) -> Path:
    target = store / relative
    if content is None:
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    else:
        target.write_bytes(content)
    return store


@pytest.mark.parametrize(("store", "relative", "content", "words"), [
    ("v3", "zarr.json", b"{not json", "damaged"),
    ("v3", "zarr.json", b"[]", "damaged"),
    ("v3", "c/0/0", b"\x28\xb5\x2f\xfd garbage", "damaged"),
    ("ome", ".zattrs", b'{"multiscales": [{"datasets": []}]}', "damaged"),
    ("ome", ".zattrs", b'{"multiscales": "yes"}', "damaged"),
    ("ome", ".zattrs", b'{"multiscales": [{"datasets": [{"path": "nope"}]}]}', "damaged"),
    ("ome", "0", None, "damaged"),
    ("ome", "0/0.0", b"\x02\x01\x21\x02" + b"\0" * 30, "damaged"),
    ("ome", "0/0.0", b"\x02\x01\x23\x00\x00\x00\x00\x7f\xff\xff", "declares 2130706432 bytes"),
])
def test_damaged_zarr_stores_get_one_line(stores, store, relative, content, words):
    assert words in refused(_damage(stores[store], relative, content))


def test_a_missing_zarr_chunk_reads_as_the_fill_value(stores):
    """Zarr's own rule (chunks may be absent); documented, not an error."""
    image, _ = read_image(_damage(stores["v3"], "c/0/0", None))
    assert image.shape == PLANE.shape and not image.any()


def test_a_blosc_chunk_header_claiming_a_gib_is_refused_before_decoding(tmp_path):
    store = blosc_bomb(tmp_path / "bomb.ome.zarr")
    tracemalloc.start()
    try:
        message = refused(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "blosc header declares 1073741824 bytes" in message and peak < 16 * 2**20


def test_a_folder_a_fifo_and_a_missing_path(tmp_path):
    (tmp_path / "folder").mkdir()
    assert "not a Zarr store" in refused(tmp_path / "folder")
    os.mkfifo(tmp_path / "pipe.tif")

    def stuck(*_):
        raise TimeoutError("read_image blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(120)  # a hang guard: generous, for a busy machine
    try:
        assert "named pipe (FIFO)" in refused(tmp_path / "pipe.tif")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(FileNotFoundError, match="does not exist; check the path"):
        read_image(tmp_path / "missing.tif")


def test_a_device_is_refused(tmp_path):
    assert "a device" in refused("/dev/zero")


def test_an_unreadable_file_is_a_permission_error(tmp_path):
    """Root reads any file; in a user namespace that maps only root, a mode-000 file
    owned by an unmapped user is really unreadable (`unshare -r`)."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-r", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -r (user namespaces) is not available")
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"bgsub-perm-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    try:
        tifffile.imwrite(folder / "locked.tif", PLANE)
        os.chown(folder / "locked.tif", 54321, 54321)
        os.chmod(folder / "locked.tif", 0)
        script = ("from bgsub.io import read_image\nimport sys\n"
                  "try:\n    read_image(sys.argv[1])\n"
                  "except OSError as exc:\n    print(type(exc).__name__, exc.errno)\n")
        result = subprocess.run(["unshare", "-r", sys.executable, "-c", script,
                                 str(folder / "locked.tif")], capture_output=True, text=True,
                                timeout=120)
        assert result.stdout.split() == ["PermissionError", "13"], result.stderr
    finally:
        shutil.rmtree(folder)


# --- channels -------------------------------------------------------------------------------


@pytest.mark.parametrize(("samples", "axes"), [(1, "YX"), (2, "YXS"), (3, "YXS"), (4, "YXS")])
def test_png_grey_grey_alpha_rgb_rgba_round_trip(tmp_path, samples, axes):
    data = np.random.default_rng(samples).integers(0, 255, (10, 12, samples), dtype=np.uint8)
    (tmp_path / "in.png").write_bytes(imagecodecs.png_encode(data))
    image, meta = read_image(tmp_path / "in.png")
    assert meta.axes == axes
    write_image(tmp_path / "out.png", image, meta)
    again, meta_again = read_image(tmp_path / "out.png")
    np.testing.assert_array_equal(again, image)
    assert meta_again.axes == axes


@pytest.mark.parametrize(("dtype", "readable"), [
    ("uint8", True), ("int8", True), ("uint16", True), ("int16", True), ("uint32", True),
    ("int32", True), ("uint64", True), ("int64", True), ("float16", True), ("float32", True),
    ("float64", True), ("bool", True), ("complex64", True)])
def test_tiff_of_every_dtype_reads_back(tmp_path, dtype, readable):
    """Reading keeps the dtype; what the API refuses (bool, complex) is refused there."""
    data = (np.arange(64).reshape(8, 8) % 2).astype(dtype)
    tifffile.imwrite(tmp_path / "a.tif", data)
    image, _ = read_image(tmp_path / "a.tif")
    assert image.dtype == np.dtype(dtype)


@pytest.mark.parametrize(("dtype", "wider"), [("float16", "float32"), ("int64", "float64"),
                                              ("uint64", "float64")])
def test_an_ome_tiff_of_a_type_ome_has_no_name_for_is_refused_up_front(tmp_path, dtype, wider):
    # float16 failed after processing with tifffile's "OmeXmlError: data type 'float16' not
    # supported"
    data, meta = PLANE.astype(dtype), ImageMetadata("YX")
    fix = f"--output-dtype {wider}, or --format tiff"
    with pytest.raises(ValueError, match=f"OME-TIFF holds no {dtype} pixels; use {fix}"):
        io.check_writable(data.shape, data.dtype, meta, "ome-tiff")
    with pytest.raises(ValueError, match=f"OME-TIFF holds no {dtype} pixels; use {fix}"):
        write_image(tmp_path / "a.ome.tif", data, meta, format="ome-tiff")
    assert list(tmp_path.iterdir()) == []
    write_image(tmp_path / "a.tif", data, meta, format="tiff")  # the fix named works
    assert read_image(tmp_path / "a.tif")[0].dtype == np.dtype(dtype)


def test_series_out_of_range_and_bad_series_values(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", PLANE)
    (tmp_path / "a.png").write_bytes(imagecodecs.png_encode(PLANE))
    assert "use --series 0" in refused(tmp_path / "a.tif", series=3)
    assert "use --series 0" in refused(tmp_path / "a.png", series=1)
    for bad in (-1, "0", 1.5, True):
        with pytest.raises(TypeError, match="series must be an image index"):
            read_image(tmp_path / "a.tif", series=bad)


def test_errors_keep_the_cause_for_verbose_output(tmp_path):
    (tmp_path / "bad.png").write_bytes(DAMAGED["truncated.png"])
    with pytest.raises(UnsupportedFileError) as info:
        read_image(tmp_path / "bad.png")
    assert info.value.__cause__ is not None
    json.dumps(str(info.value))  # plain text
