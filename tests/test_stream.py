"""bgsub.stream and the lazy readers and writers under it: chunks, pyramids, bounded memory."""

from __future__ import annotations

import pickle
import shutil
import tracemalloc
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

from bgsub import batch, io, stream
from bgsub.config import ConfigError, Settings, parse_chunks
from bgsub.data import synthetic
from bgsub.io import ImageMetadata, open_image, read_image, write_image
from bgsub.io._zarr import downsample, pyramid_levels
from bgsub.stream import Streaming, plan_chunks

SETTINGS = Settings(method="tophat", radius=4, options={"footprint": "box"}).validated()


# --- --chunks --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "chunks"), [("auto", None), ("AUTO", None), ("64,32", (64, 32)),
                                               ("1, 256, -1", (1, 256, -1)), ("2 3 4", (2, 3, 4))])
def test_parse_chunks(text, chunks):
    assert parse_chunks(text) == chunks


@pytest.mark.parametrize("text", ["", "x", "5", "1,2,3,4", "0,5", "-2,5", "1.5,2", "auto,5"])
def test_parse_chunks_refuses_with_the_fix(text):
    with pytest.raises(ConfigError, match=r"give auto, or chunk sizes .* e\.g\. 1,1024,1024"):
        parse_chunks(text)


@pytest.mark.parametrize(("shape", "axes", "true_3d", "chunks", "expected"), [
    ((8, 64, 70), "ZYX", False, (1, 16, 20), (1, 16, 20)),
    ((8, 64, 70), "ZYX", False, (16, 20), (1, 16, 20)),         # Y, X only: one plane deep
    ((8, 64, 70), "ZYX", True, (16, 20), (8, 16, 20)),          # Z whole while it fits
    ((8, 64, 70), "ZYX", False, (4, -1, 100), (4, 64, 70)),     # -1 whole, capped at the axis
    ((3, 2, 64, 70), "TCYX", False, (3, 16, 20), (1, 1, 16, 20)),  # Z given, no Z: ignored
    ((64, 70, 3), "YXS", False, (16, 20), (16, 20, 3)),          # RGB samples stay together
])
def test_plan_chunks_given(shape, axes, true_3d, chunks, expected):
    assert plan_chunks(shape, np.dtype("uint16"), axes, true_3d, chunks) == expected


def test_plan_chunks_auto_keeps_planes_whole_and_tiles_huge_ones(monkeypatch):
    monkeypatch.setattr(stream, "AUTO_CHUNK_BYTES", 4 * 100 * 100)  # 100 x 100 float32 pixels
    uint16 = np.dtype("uint16")
    assert plan_chunks((5, 90, 100), uint16, "ZYX") == (1, 90, 100)
    assert plan_chunks((5, 300, 100), uint16, "ZYX") == (1, 100, 100)
    assert plan_chunks((5, 250, 250), uint16, "ZYX") == (1, 84, 84)
    # rounded to the file's own tiles (strips of 32 rows here)
    assert plan_chunks((5, 250, 250), uint16, "ZYX", native=(1, 32, 250)) == (1, 96, 84)
    # 3D: cubic tiles; a short Z is taken whole and Y, X share the rest
    assert plan_chunks((400, 400, 400), uint16, "ZYX", True) == (20, 20, 20)
    assert plan_chunks((4, 400, 400), uint16, "ZYX", True) == (4, 50, 50)
    # float64 work for float64 images: half the pixels
    assert plan_chunks((1, 100, 100), np.dtype("float64"), "ZYX") == (1, 50, 50)


# --- lazy reading ----------------------------------------------------------------------------


def test_open_image_reads_tiff_pages_lazily_and_pickles(tmp_path):
    stack = synthetic((5, 40, 44), seed=1).image
    tifffile.imwrite(tmp_path / "a.tif", stack, compression="zlib")
    array, meta = open_image(tmp_path / "a.tif")
    assert (array.shape, array.dtype, meta.axes) == (stack.shape, stack.dtype, "QYX")
    np.testing.assert_array_equal(array[2, 5:9], stack[2, 5:9])
    again = pickle.loads(pickle.dumps(array))  # what a distributed worker receives
    np.testing.assert_array_equal(again[1:3], stack[1:3])
    lazy = da.from_array(array, chunks=(1, 17, 23))
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), stack)
    array.close()
    again.close()


def test_open_image_of_zarr_is_the_array_with_read_image_metadata(tmp_path):
    stack = synthetic((2, 3, 20, 24), seed=2).image
    meta = ImageMetadata("CZYX", spacing={"Z": 2.0, "Y": 0.25, "X": 0.25},
                         units={"Z": "µm", "Y": "µm", "X": "µm"}, channel_names=("a", "b"))
    for fmt in ("zarr", "ome-zarr"):
        path = write_image(tmp_path / f"s.{fmt}", stack, meta, {"x": 1}, format=fmt)
        array, lazy_meta = open_image(path)
        whole, read_meta = read_image(path)
        assert isinstance(array, zarr.Array)
        np.testing.assert_array_equal(array[...], whole)
        assert lazy_meta == read_meta


def test_a_lazy_read_is_refused_only_above_the_variable(tmp_path, monkeypatch):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, synthetic((4, 40, 44), seed=1).image)
    monkeypatch.setenv(io.MAX_BYTES_ENV, "1000")
    with pytest.raises(io.ImageTooLargeError, match="BGSUB_MAX_IMAGE_BYTES"):
        open_image(path)
    monkeypatch.delenv(io.MAX_BYTES_ENV)
    assert open_image(path, max_bytes=None)[0].shape == (4, 40, 44)


# --- pyramids --------------------------------------------------------------------------------


def test_downsample_means_partial_blocks_and_rounds():
    data = np.array([[1, 2, 3], [3, 4, 6]], dtype=np.uint8)
    np.testing.assert_array_equal(downsample(data, (2, 2)), [[2, 4]])  # 2.5, 4.5: to even
    np.testing.assert_array_equal(downsample(data.astype(np.float32), (1, 2)),
                                  [[1.5, 3], [3.5, 6]])
    np.testing.assert_array_equal(downsample(data, (2, 2), "nearest"), [[1, 3]])


def test_downsample_is_the_same_chunk_by_chunk():
    data = synthetic((3, 61, 75), seed=3).image
    lazy = da.from_array(data, chunks=(1, 16, 24)).map_blocks(
        downsample, factors=(1, 2, 2), chunks=((1, 1, 1), (8, 8, 8, 7), (12, 12, 12, 2)))
    np.testing.assert_array_equal(lazy.compute(), downsample(data, (1, 2, 2)))


def test_pyramid_levels_follow_the_input_shapes():
    meta = ImageMetadata("CZYX", original={"level_shapes": [(2, 9, 64, 70), (2, 9, 32, 35),
                                                            (2, 5, 16, 17)],
                                           "multiscale": {"type": "nearest"}})
    levels = pyramid_levels(meta, (0, 1, 2, 3), (2, 9, 64, 70))
    assert [(lv.factors, lv.shape, lv.scheme) for lv in levels] == [
        ((1, 1, 2, 2), (2, 9, 32, 35), "nearest"), ((1, 2, 2, 2), (2, 5, 16, 17), "nearest")]
    assert pyramid_levels(meta, (0, 1, 2, 3), (2, 9, 64, 71)) == []  # not the same image


def test_write_image_rebuilds_an_ome_zarr_pyramid(tmp_path):
    image = synthetic((3, 64, 70), seed=4).image
    meta = ImageMetadata("ZYX", spacing={"Z": 1.0, "Y": 0.5, "X": 0.5}, format="ome-zarr",
                         original={"level_shapes": [(3, 64, 70), (3, 32, 35), (3, 16, 18)]})
    write_image(tmp_path / "p.ome.zarr", image, meta)
    group = zarr.open_group(str(tmp_path / "p.ome.zarr"), mode="r")
    np.testing.assert_array_equal(group["1"][...], downsample(image, (1, 2, 2)))
    np.testing.assert_array_equal(group["2"][...], downsample(group["1"][...], (1, 2, 2)))
    scales = [d["coordinateTransformations"][0]["scale"]
              for d in group.attrs["multiscales"][0]["datasets"]]
    assert scales == [[1.0, 0.5, 0.5], [1.0, 1.0, 1.0], [1.0, 2.0, 2.0]]
    assert read_image(tmp_path / "p.ome.zarr")[1].original["level_shapes"] == [
        (3, 64, 70), (3, 32, 35), (3, 16, 18)]


# --- which jobs stream; memory ---------------------------------------------------------------


def _jobs(paths, out: Path, settings: Settings = SETTINGS) -> list[batch.Job]:
    sources, problems = batch.expand_inputs([str(p) for p in paths])
    assert not problems
    jobs, problems = batch.plan_jobs(sources, out, settings)
    assert not problems
    batch.prepare_folders(jobs)
    return jobs


def test_what_is_streamed(tmp_path):
    plane = synthetic((40, 44), seed=1).image
    tifffile.imwrite(tmp_path / "small.tif", plane)
    write_image(tmp_path / "z.ome.zarr", plane, ImageMetadata("YX"), format="ome-zarr")
    (tmp_path / "p.png").write_bytes(b"")  # not opened: PNG is never streamed
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((40, 44, 3), np.uint8), photometric="rgb")
    small, zarr_job, rgb = _jobs([tmp_path / "small.tif", tmp_path / "z.ome.zarr",
                                  tmp_path / "rgb.tif"], tmp_path / "out")
    assert not Streaming().wants(small, SETTINGS)
    assert Streaming(threshold=plane.nbytes - 1).wants(small, SETTINGS)
    assert Streaming(always=True).wants(small, SETTINGS)
    assert Streaming().wants(zarr_job, SETTINGS)
    assert Streaming(always=True).wants(rgb, SETTINGS)
    # float RGB is not a TIFF of RGB pages: written whole, as before
    floats = Settings(method="tophat", radius=4, output_dtype="float32").validated()
    assert not Streaming(always=True).wants(rgb, floats)
    # PNG output, and files that do not open, go the usual way
    to_png = Settings(method="tophat", radius=4, format="png").validated()
    assert not Streaming(always=True).wants(_jobs([tmp_path / "small.tif"], tmp_path / "o2",
                                                  to_png)[0], to_png)
    (tmp_path / "bad.tif").write_bytes(b"II*\0" + b"\x07" * 64)
    bad = batch.Job(batch.Source(tmp_path / "bad.tif", Path("bad.tif")), None, "tiff",
                    tmp_path / "out" / "bad.tif", "tiff")
    assert not Streaming(always=True).wants(bad, SETTINGS)


def test_streaming_memory_is_bounded_by_the_chunk_not_the_image(tmp_path):
    """tracemalloc counts NumPy's buffers: the streamed job never holds much of the stack."""
    rng = np.random.default_rng(0)
    for name, planes in (("warm.zarr", 2), ("stack.zarr", 64)):
        array = zarr.create_array(str(tmp_path / name), shape=(planes, 256, 256),
                                  chunks=(1, 256, 256), dtype=np.uint16)
        for i in range(planes):
            array[i] = rng.integers(0, 4000, (256, 256), dtype=np.uint16)
    nbytes = 64 * 256 * 256 * 2  # 8 MiB

    def peak(name: str, streaming: Streaming | None) -> int:
        out = tmp_path / f"out-{name}-{streaming is not None}"
        job = _jobs([tmp_path / name], out)[0]
        tracemalloc.start()
        try:
            result = batch.run_job(job, SETTINGS, streaming=streaming)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert result.status == "done", result.message
            shutil.rmtree(out)

    peak("warm.zarr", Streaming(threads=1))  # imports and caches are not the image's
    peak("warm.zarr", None)
    assert peak("stack.zarr", Streaming(threads=1)) < nbytes / 2
    assert peak("stack.zarr", None) > nbytes


def test_the_local_scheduler_takes_bgsubs_thread_count(monkeypatch):
    # one per core this process may use (BGSUB_NUM_THREADS; a batch job's share), not
    # os.cpu_count(), which counts the machine's cores whatever the process's affinity
    from bgsub.kernels.threads import limit_threads

    monkeypatch.setenv("BGSUB_NUM_THREADS", "3")
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    with stream._Runner(Streaming()) as runner:
        assert runner.workers == 3
    with limit_threads(1), stream._Runner(Streaming()) as runner:
        assert runner.workers == 1
    with stream._Runner(Streaming(threads=5)) as runner:
        assert runner.workers == 5
