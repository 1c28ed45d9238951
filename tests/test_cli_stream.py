"""`bgsub run` streaming Zarr, OME-Zarr and TIFF inputs: equal to the in-memory result.

The CLI runs in a subprocess, as a user would run it; the expected pixels come
from the in-memory API on the same image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

import bgsub
from bgsub.data import synthetic
from bgsub.io import ImageMetadata, is_temp_name, read_image, write_image
from bgsub.io._zarr import downsample

ARGS = ("--method", "tophat", "--radius", "6", "-O", "footprint=box")
STACK = synthetic((5, 90, 122), object_radius=(3, 6), seed=11).image  # Z, Y, X uint16
LEVELS = [(5, 90, 122), (5, 45, 61), (5, 22, 30)]  # the last one drops the partial block


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bgsub", *args], capture_output=True,
                          text=True, timeout=timeout)


def expected(image: np.ndarray = STACK, axes: str = "ZYX", **kwargs) -> tuple:
    return bgsub.subtract_background(image, "tophat", 6, axes=axes, footprint="box",
                                     return_background=True, **kwargs)


def temporary_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if is_temp_name(p.name)]


def write_pyramid(path: Path, image: np.ndarray) -> None:
    """A 3-level OME-Zarr 0.4 (Z, Y, X), levels halved in Y and X by 2x2 means, as a
    viewer's converter writes it, with a translation on each level."""
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    datasets = []
    level = image
    for k, shape in enumerate(LEVELS):
        if k:
            level = downsample(level, (1, 2, 2))[tuple(slice(0, n) for n in shape)]
        root.create_array(str(k), shape=shape, dtype=image.dtype, chunks=(1, 32, 32))[...] = \
            level
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [2.0, 0.25 * 2**k, 0.25 * 2**k]},
            {"type": "translation", "translation": [0.0, 0.125 * (2**k - 1),
                                                    0.125 * (2**k - 1)]}]})
    root.attrs["multiscales"] = [{
        "version": "0.4", "name": "pyramid", "type": "local_mean", "datasets": datasets,
        "axes": [{"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}]}]


# --- Zarr and OME-Zarr ---------------------------------------------------------------------


def test_a_zarr_array_is_streamed_and_equals_the_api(tmp_path):
    source = zarr.create_array(str(tmp_path / "in.zarr"), shape=STACK.shape, chunks=(1, 40, 50),
                               dtype=STACK.dtype, dimension_names=["z", "y", "x"])
    source[...] = STACK
    result = run_cli("run", str(tmp_path / "in.zarr"), "-o", str(tmp_path / "out"), *ARGS,
                     "--chunks", "1,37,41", "--save-background", "-j", "2")
    assert result.returncode == 0, result.stderr
    fg, bg = expected()
    out, meta = read_image(tmp_path / "out" / "in.zarr")
    np.testing.assert_array_equal(out, fg)
    assert out.dtype == np.uint16 and meta.axes == "ZYX"
    background, _ = read_image(tmp_path / "out" / "in_background.zarr")
    assert background.dtype == np.float32
    np.testing.assert_array_equal(background, bg)
    # one Zarr chunk per Dask chunk: no two tasks wrote the same chunk
    assert zarr.open_array(str(tmp_path / "out" / "in.zarr"), mode="r").chunks == (1, 37, 41)
    assert meta.provenance["parameters"]["method"] == "tophat"
    assert not temporary_files(tmp_path / "out")


@pytest.fixture(scope="module")
def pyramid_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pyramid")
    write_pyramid(root / "cells.ome.zarr", STACK)
    result = run_cli("run", str(root / "cells.ome.zarr"), "-o", str(root / "out"), *ARGS)
    return root, result


def test_ome_zarr_level_0_equals_the_api_bit_for_bit(pyramid_run):
    root, result = pyramid_run
    assert result.returncode == 0, result.stderr
    out, meta = read_image(root / "out" / "cells.ome.zarr")
    np.testing.assert_array_equal(out, expected()[0])
    assert (meta.axes, meta.name) == ("ZYX", "pyramid")
    assert meta.spacing == pytest.approx({"Z": 2.0, "Y": 0.25, "X": 0.25})
    assert meta.provenance["kind"] == "foreground"


def test_ome_zarr_pyramid_is_rebuilt_with_the_input_levels(pyramid_run):
    root, _ = pyramid_run
    group = zarr.open_group(str(root / "out" / "cells.ome.zarr"), mode="r")
    multiscale = group.attrs["multiscales"][0]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
    assert [group[str(k)].shape for k in range(3)] == LEVELS
    level = group["0"][...]
    for k in (1, 2):
        level = downsample(level, (1, 2, 2))[tuple(slice(0, n) for n in LEVELS[k])]
        np.testing.assert_array_equal(group[str(k)][...], level)
        assert group[str(k)].dtype == np.uint16
    source = zarr.open_group(str(root / "cells.ome.zarr"), mode="r").attrs["multiscales"][0]
    for ours, theirs in zip(multiscale["datasets"], source["datasets"], strict=True):
        assert ours["coordinateTransformations"] == theirs["coordinateTransformations"]
    assert multiscale["axes"] == source["axes"]
    assert multiscale["type"] == "local_mean" and multiscale["metadata"]["method"] == "bgsub"


def test_ome_zarr_rerun_is_up_to_date_and_reproducible(pyramid_run, tmp_path):
    root, _ = pyramid_run
    again = run_cli("run", str(root / "cells.ome.zarr"), "-o", str(root / "out"), *ARGS, "-v")
    assert again.returncode == 0 and "skip:" in again.stdout, again.stderr
    sidecar = root / "out" / "cells.ome.zarr.bgsub.json"
    record = json.loads(sidecar.read_text())
    assert set(record["outputs"]) == {"image"}
    copy = run_cli("run", "--config", str(sidecar), "-o", str(tmp_path / "again"))
    assert copy.returncode == 0, copy.stderr
    for k in range(3):
        np.testing.assert_array_equal(
            zarr.open_array(str(tmp_path / "again" / "cells.ome.zarr" / str(k)), mode="r")[...],
            zarr.open_array(str(root / "out" / "cells.ome.zarr" / str(k)), mode="r")[...])


# --- TIFF ----------------------------------------------------------------------------------


def test_a_multi_page_tiff_streamed_in_small_chunks_equals_the_api(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", STACK, compression="zlib", rowsperstrip=16)
    result = run_cli("run", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out"), *ARGS,
                     "--chunks", "23,29", "--save-background")
    assert result.returncode == 0, result.stderr
    fg, bg = expected()
    with tifffile.TiffFile(tmp_path / "out" / "stack.tif") as tif:
        assert len(tif.pages) == STACK.shape[0]  # one page per plane, as in memory
        np.testing.assert_array_equal(tif.asarray(), fg)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "stack_background.tif"), bg)
    assert not temporary_files(tmp_path / "out")


def test_ome_tiff_channels_and_imagej_output_stream_with_their_metadata(tmp_path):
    czyx = synthetic((2, 3, 64, 70), object_radius=(3, 5), seed=12).image
    meta = ImageMetadata("CZYX", spacing={"Z": 1.0, "Y": 0.2, "X": 0.2},
                         units={"Z": "µm", "Y": "µm", "X": "µm"}, channel_names=("DAPI", "GFP"))
    write_image(tmp_path / "cells.ome.tif", czyx, meta, format="ome-tiff")
    fg = expected(czyx, "CZYX")[0]
    for fmt, name, axes in [("same", "cells.ome.tif", "CZYX"), ("imagej", "cells.tif", "ZCYX")]:
        out = tmp_path / f"out-{fmt}"
        result = run_cli("run", str(tmp_path / "cells.ome.tif"), "-o", str(out), *ARGS,
                         "--format", fmt, "--chunks", "auto")
        assert result.returncode == 0, result.stderr
        image, got = read_image(out / name)
        assert (got.axes, got.channel_names) == (axes, ("DAPI", "GFP"))
        assert got.spacing == pytest.approx({"Z": 1.0, "Y": 0.2, "X": 0.2})
        np.testing.assert_array_equal(image, np.transpose(fg, ["CZYX".index(a) for a in axes]))


@pytest.mark.parametrize("plane", ["middle", "max"])
def test_a_streamed_figure_is_the_in_memory_one(tmp_path, plane):
    """--figure on a streamed input: the same PNG as reading the image whole."""
    tifffile.imwrite(tmp_path / "stack.tif", STACK)
    args = (*ARGS, "--figure", "--figure-plane", plane)
    whole = run_cli("run", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "whole"), *args)
    streamed = run_cli("run", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "streamed"),
                       *args, "--chunks", "1,40,50")
    assert whole.returncode == 0 and streamed.returncode == 0, whole.stderr + streamed.stderr
    figure = (tmp_path / "streamed" / "stack_comparison.png").read_bytes()
    assert figure == (tmp_path / "whole" / "stack_comparison.png").read_bytes()
    record = json.loads((tmp_path / "streamed" / "stack.tif.bgsub.json").read_text())
    assert set(record["outputs"]) == {"image", "figure"}


# --- a distributed cluster -----------------------------------------------------------------


def test_a_distributed_scheduler_gives_the_same_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    tifffile.imwrite(tmp_path / "stack.tif", STACK)
    write_pyramid(tmp_path / "cells.ome.zarr", STACK)
    # in this process (threads), over TCP so that the bgsub subprocess can connect
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = run_cli("run", str(tmp_path / "stack.tif"), str(tmp_path / "cells.ome.zarr"),
                         "-o", str(tmp_path / "out"), *ARGS, "--scheduler",
                         cluster.scheduler_address, "--chunks", "1,48,64")
        assert "store-map" in cluster.scheduler.task_prefixes  # the cluster did the work
    assert result.returncode == 0, result.stderr
    fg = expected()[0]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "stack.tif"), fg)
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "cells.ome.zarr")[0], fg)
    levels = zarr.open_group(str(tmp_path / "out" / "cells.ome.zarr"), mode="r")
    assert [levels[str(k)].shape for k in range(3)] == LEVELS


def test_relative_paths_reach_workers_that_run_in_another_folder(tmp_path):
    """A worker reads and writes from its own working folder (on a cluster: its home, a job
    folder): relative paths found no chunk there, Zarr gave its fill value, and the output was
    all zeros, reported done."""
    distributed = pytest.importorskip("distributed")
    write_pyramid(tmp_path / "cells.ome.zarr", STACK)
    # the workers are threads of this process, whose folder is not the command's
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = subprocess.run(
            [sys.executable, "-m", "bgsub", "run", "cells.ome.zarr", "-o", "out", *ARGS,
             "--scheduler", cluster.scheduler_address, "--chunks", "1,48,64"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "cells.ome.zarr")[0],
                                  expected()[0])
    assert not list(Path.cwd().glob("out*"))  # (no chunk written where the workers run)


# --- usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", ["1,x", "0,64", "64", "1,2,3,4", "-2,5"])
def test_bad_chunks_is_a_one_line_usage_error(tmp_path, chunks):
    tifffile.imwrite(tmp_path / "a.tif", STACK[0])
    result = run_cli("run", str(tmp_path / "a.tif"), "-o", str(tmp_path / "out"), "--chunks",
                     chunks)
    assert result.returncode == 2
    assert result.stderr.startswith("bgsub: error: Invalid value for '--chunks': ")
    assert "e.g. 1,1024,1024" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path):
    pytest.importorskip("distributed")
    tifffile.imwrite(tmp_path / "a.tif", STACK[0])
    # no clock: the run's timeout (not a hang) is the check; bgsub waits stream.CONNECT_TIMEOUT
    result = run_cli("run", str(tmp_path / "a.tif"), "-o", str(tmp_path / "out"),
                     "--scheduler", "tcp://127.0.0.1:9", timeout=240)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("bgsub: error: cannot reach a Dask scheduler at "
                                    "tcp://127.0.0.1:9 (")
    assert "check the address" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def _padded_and_light(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """A stitched mosaic's plane (an L of zeros reaching two edges) and a negative (dark
    objects on a light background), each written as a TIFF and a Zarr store."""
    plane = synthetic((256, 256), object_radius=6, seed=4).image
    padded = plane.copy()
    padded[:, :80] = 0
    padded[:60, :] = 0
    light = (plane.max() - plane).astype(plane.dtype)
    for name, data in (("padded", padded), ("light", light)):
        tifffile.imwrite(folder / f"{name}.tif", data)
        zarr.open_array(folder / f"{name}.zarr", mode="w", shape=data.shape, dtype=data.dtype,
                        chunks=(128, 128))[:] = data
    return padded, light


def _warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [line.split(": ", 3)[-1] for line in result.stderr.splitlines()
            if line.startswith("bgsub: warning")]


def test_a_streamed_file_is_warned_of_as_the_same_file_in_memory(tmp_path):
    """Padding and a light background are named whether the file is read whole or streamed
    (a Zarr store always is; a TIFF with --chunks): planning reads nothing of a Dask array,
    so the streamed job looks at its middle plane first."""
    _padded_and_light(tmp_path)
    for name, extra in (("padded", ()), ("light", ("--method", "robust"))):
        whole = run_cli("run", str(tmp_path / f"{name}.tif"), "-o", str(tmp_path / "whole"),
                        "--radius", "20", *extra)
        assert whole.returncode == 0, whole.stderr
        expected_lines = _warnings(whole)
        assert len(expected_lines) == 1, whole.stderr
        for source, chunks in ((f"{name}.zarr", ()), (f"{name}.tif", ("--chunks", "-1,128"))):
            streamed = run_cli("run", str(tmp_path / source), "-o", str(tmp_path / source[-4:]),
                               "--radius", "20", *extra, *chunks)
            assert streamed.returncode == 0, streamed.stderr
            assert _warnings(streamed) == expected_lines, (source, streamed.stderr)
    quiet = run_cli("run", str(tmp_path / "padded.zarr"), "-o", str(tmp_path / "missing"),
                    "--radius", "20", "--missing", "0")
    assert quiet.returncode == 0 and _warnings(quiet) == [], quiet.stderr
