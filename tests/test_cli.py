"""The command line, driven in a subprocess as a user would."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

import bgsub
from bgsub.data import synthetic
from bgsub.io import ImageMetadata, is_temp_name, read_image, write_image
from paced import start_paced_cli


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bgsub", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def hidden(folder: Path) -> list[Path]:
    """Temporary (partial) files: ``.<name>.<pid>-<host>.bgsub-tmp``."""
    return [p for p in folder.rglob(".*") if is_temp_name(p.name) or "bgsub" in p.name]


def test_demo_writes_the_corrected_image_and_a_figure(tmp_path):
    result = run_cli("demo", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    corrected = tifffile.imread(tmp_path / "out" / "sample_nuclei_foreground.tif")
    assert corrected.dtype == np.uint16 and corrected.shape == (512, 512)
    png = (tmp_path / "out" / "sample_nuclei_comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert not list((tmp_path / "out").glob(".*partial"))


def test_methods_lists_every_method():
    result = run_cli("methods")
    assert result.returncode == 0
    for name in ("rolling_ball", "paraboloid", "tophat", "median", "mean", "gaussian", "dog"):
        assert name in result.stdout


# -- one mixed batch, run once for several tests --------------------------------------------

CZYX = synthetic((2, 3, 36, 40), object_radius=(2, 4), seed=7).image


def make_inputs(folder: Path) -> dict[str, tuple]:
    """Every readable format (name -> axes, spacing, channel names) and a corrupt TIFF."""
    folder.mkdir()
    plane = synthetic((48, 52), seed=8).image
    tifffile.imwrite(folder / "plain.tif", plane, resolution=(40000.0, 40000.0),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(folder / "cells.ome.tif", CZYX, ome=True, metadata={
        "axes": "CZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.0,
        "Channel": {"Name": ["DAPI", "GFP"]}})
    hyper = np.ascontiguousarray(CZYX.transpose(1, 0, 2, 3))  # ZCYX
    tifffile.imwrite(folder / "hyper.tif", hyper, imagej=True, resolution=(5.0, 5.0),
                     metadata={"axes": "ZCYX", "spacing": 1.0, "unit": "micron",
                               "Labels": ["DAPI", "GFP"] * 3})
    meta = ImageMetadata("CZYX", spacing={"Z": 1.0, "Y": 0.2, "X": 0.2},
                         units={"Z": "µm", "Y": "µm", "X": "µm"}, channel_names=("DAPI", "GFP"))
    write_image(folder / "cells.ome.zarr", CZYX, meta, format="ome-zarr")
    (folder / "grey.png").write_bytes(imagecodecs.png_encode((plane // 16).astype(np.uint8)))
    (folder / "bad.tif").write_bytes(b"II*\0" + b"\x07" * 64)
    xy = {"Y": 0.25, "X": 0.25}
    zyx = {"Z": 1.0, "Y": 0.2, "X": 0.2}
    return {"plain.tif": ("YX", xy, None), "cells.ome.tif": ("CZYX", zyx, ("DAPI", "GFP")),
            "hyper.tif": ("ZCYX", zyx, ("DAPI", "GFP")),
            "cells.ome.zarr": ("CZYX", zyx, ("DAPI", "GFP")), "grey.png": ("YX", {}, None)}


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    expected = make_inputs(root / "in")
    result = run_cli("run", str(root / "in"), "-o", str(root / "out"), "--method", "tophat",
                     "--radius", "6", "-O", "footprint=box", "--jobs", "2")
    return root, expected, result


def test_every_format_keeps_axes_pixel_size_and_channel_names(batch_run):
    root, expected, result = batch_run
    for name, (axes, spacing, channels) in expected.items():
        image, _ = read_image(root / "in" / name)
        out, meta = read_image(root / "out" / name)
        assert (meta.axes, meta.channel_names) == (axes, channels), name
        assert meta.spacing == pytest.approx(spacing), name
        reference = bgsub.subtract_background(image, "tophat", 6, axes=axes, footprint="box")
        np.testing.assert_array_equal(out, reference, err_msg=name)
        assert meta.provenance["parameters"]["options"]["footprint"] == "box"
    assert not hidden(root / "out")


def test_a_corrupt_file_fails_alone_with_one_line_and_exit_code_1(batch_run):
    root, expected, result = batch_run
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "bad.tif" in line]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "Traceback" not in \
        result.stderr
    assert "5 done, 0 skipped (up to date), 1 failed" in result.stderr
    assert not (root / "out" / "bad.tif").exists()


def test_rerun_skips_up_to_date_outputs_and_force_redoes_them(batch_run, tmp_path):
    root, expected, _ = batch_run
    inputs = [str(root / "in" / name) for name in ("plain.tif", "cells.ome.zarr")]
    args = ["run", *inputs, "-o", str(root / "out"), "--method", "tophat", "--radius", "6",
            "-O", "footprint=box"]
    def written(path: Path) -> tuple[int, int]:  # a new file (written aside, renamed) or time
        stat = path.stat()
        return stat.st_ino, stat.st_mtime_ns

    before = written(root / "out" / "plain.tif")
    again = run_cli(*args, "-v")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skip:") == 2 and "0 done, 2 skipped" in again.stdout
    forced = run_cli(*args, "--force", "-q")
    assert forced.returncode == 0 and forced.stdout == "" and forced.stderr == ""
    assert written(root / "out" / "plain.tif") != before


def test_the_provenance_record_reproduces_the_output_bit_for_bit(batch_run, tmp_path):
    root, _, _ = batch_run
    sidecar = root / "out" / "cells.ome.tif.bgsub.json"
    record = json.loads(sidecar.read_text())
    assert record["parameters"]["method"] == "tophat" and record["bgsub_version"] == \
        bgsub.__version__
    with tifffile.TiffFile(root / "out" / "cells.ome.tif") as tif:
        assert 'Namespace="bgsub.provenance"' in tif.ome_metadata
    result = run_cli("run", "--config", str(sidecar), "-o", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again" / "cells.ome.tif").read_bytes() == (
        root / "out" / "cells.ome.tif").read_bytes()


def test_info_prints_shape_axes_dtype_pixel_size_and_range(batch_run):
    root, _, _ = batch_run
    result = run_cli("info", str(root / "in" / "cells.ome.tif"), str(root / "in" / "bad.tif"))
    assert result.returncode == 1
    for text in ("shape      : (2, 3, 36, 40)", "axes       : CZYX", "dtype      : uint16",
                 "pixel size : Z 1 µm, Y 0.2 µm, X 0.2 µm", "channels   : DAPI, GFP",
                 f"range      : {CZYX.min()} - {CZYX.max()}"):
        assert text in result.stdout
    assert result.stderr.count("\n") == 1 and "bad.tif" in result.stderr


# -- single behaviours ------------------------------------------------------------------------


@pytest.fixture()
def three(tmp_path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(("a.tif", "b.tif", "sub/c.tif")):
        tifffile.imwrite(folder / name, synthetic((40, 44), seed=i).image)
    return folder


def test_dry_run_writes_nothing(three, tmp_path):
    result = run_cli("run", str(three), "-r", "-o", str(tmp_path / "out"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would write") == 3 and "nothing written" in result.stdout
    assert not (tmp_path / "out").exists()


def test_globs_folders_and_recursion(three, tmp_path):
    result = run_cli("run", f"{three}/**/*.tif", "-r", "-o", str(tmp_path / "out"), "-q",
                     "--suffix", "_bg", "--radius", "5")
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix()
                     for p in (tmp_path / "out").rglob("*.tif"))
    assert written == ["a_bg.tif", "b_bg.tif", "sub/c_bg.tif"]


def test_collisions_and_inputs_are_refused_before_anything_is_written(three, tmp_path):
    shutil.copy(three / "a.tif", three / "sub" / "a.tif")
    clash = run_cli("run", str(three / "a.tif"), str(three / "sub" / "a.tif"), "-o",
                    str(tmp_path / "clash"))
    assert clash.returncode == 2 and "would both write" in clash.stderr
    assert not (tmp_path / "clash").exists()
    in_place = run_cli("run", str(three / "b.tif"), "-o", str(three))
    assert in_place.returncode == 2 and "pass --overwrite" in in_place.stderr
    assert in_place.stderr.count("\n") == 1


def test_config_pipeline_with_command_line_override(three, tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text('default = "nuclei"\n[pipelines.nuclei]\nmethod = "median"\nradius = 9\n'
                   'presmooth = "gaussian:1"\n[pipelines.nuclei.options]\nfootprint = "box"\n'
                   '[pipelines.other]\nmethod = "mean"\n')
    result = run_cli("run", str(three / "a.tif"), "-o", str(tmp_path / "out"), "--config",
                     str(lab), "--pipeline", "nuclei", "--radius", "4", "--save-background")
    assert result.returncode == 0, result.stderr
    params = json.loads((tmp_path / "out" / "a.tif.bgsub.json").read_text())["parameters"]
    assert (params["method"], params["radius"], params["presmooth"]) == ("median", 4.0,
                                                                         "gaussian:1")
    assert params["options"] == {"footprint": "box"}
    background = tifffile.imread(tmp_path / "out" / "a_background.tif")
    assert background.dtype == np.float32


def test_bad_settings_are_one_line_usage_errors(three, tmp_path):
    result = run_cli("run", str(three), "-o", str(tmp_path / "out"), "-O", "footprnt=box")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"bgsub: error: method {bgsub.methods.DEFAULT_METHOD!r} got unknown option")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_verbose_shows_the_traceback_of_a_bad_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    result = run_cli("run", str(tmp_path / "bad.png"), "-o", str(tmp_path / "out"), "-v")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_imagej_options(three, tmp_path):
    if not hasattr(bgsub, "from_imagej"):
        pytest.skip("bgsub.from_imagej is not available yet")
    result = run_cli("run", str(three / "a.tif"), "-o", str(tmp_path / "out"), "--imagej",
                     "rolling=12 light")
    assert result.returncode == 0, result.stderr
    params = json.loads((tmp_path / "out" / "a.tif.bgsub.json").read_text())["parameters"]
    assert params["radius"] == 12 and params["light_background"] is True


# -- interruption and read-only folders ----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_partial_output_and_resumes(tmp_path, signum):
    folder = tmp_path / "in"
    folder.mkdir()
    count = 16
    for i in range(count):
        tifffile.imwrite(folder / f"f{i:02d}.tif", synthetic((256, 256), seed=i).image)
    # signalled once the first of 16 files is written; the batch is held after the second
    # TIFF is written (to its temporary name) until the signal has been sent, so it is still
    # running however fast the kernels or busy the machine
    args = ["run", str(folder), "-o", str(tmp_path / "out"), "--method", "median",
            "--radius", "20", "--jobs", "1"]
    release = tmp_path / "release"
    process = start_paced_cli(*args, hold_from=2, release=release)
    first = tmp_path / "out" / "f00.tif.bgsub.json"
    deadline = time.monotonic() + 120
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signum)
    release.touch()
    _, stderr = process.communicate(timeout=120)
    outputs = sorted((tmp_path / "out").glob("*.tif"))
    assert not hidden(tmp_path / "out"), stderr
    for output in outputs:  # every file there is complete, with its record
        assert tifffile.imread(output).shape == (256, 256)
        assert output.with_name(output.name + ".bgsub.json").exists()
    assert len(outputs) < count, stderr
    assert process.returncode == 128 + signum, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert len(outputs) >= 1
    resumed = run_cli(*args, "-v")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("skip:") == len(outputs)
    assert len(list((tmp_path / "out").glob("*.tif"))) == count


_SIGNAL_AFTER_THE_BATCH = """
import os, signal
from bgsub import batch, progress
from bgsub.cli import main

finished = []
run_batch, make_task = batch.run_batch, progress.Reporter.task

def recorded(*args, **kwargs):
    results = run_batch(*args, **kwargs)
    finished.append(True)
    return results

def task_signalling_on_close(self, *args, **kwargs):
    task = make_task(self, *args, **kwargs)
    close = task.close

    def close_then_signal():
        close()
        if finished == [True]:  # the files' bar, closed once every output is written
            finished.append(True)
            os.kill(os.getpid(), signal.SIGTERM)

    task.close = close_then_signal
    return task

batch.run_batch, progress.Reporter.task = recorded, task_signalling_on_close
main(prog_name="bgsub")
"""


def test_a_signal_after_the_last_output_keeps_the_batch_result(three, tmp_path):
    """Not "interrupted before anything was written": the outputs are all there."""
    result = subprocess.run([sys.executable, "-c", _SIGNAL_AFTER_THE_BATCH, "run", str(three),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "interrupted" not in result.stderr
    assert len(list((tmp_path / "out").glob("*.tif"))) == 2  # a.tif, b.tif (no -r)


def test_a_read_only_output_folder_is_one_clean_error(three, tmp_path):
    """A real read-only bind mount, in a private user + mount namespace (root ignores chmod)."""
    target = tmp_path / "ro"
    target.mkdir()
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "-rm", "true"], capture_output=True) \
        if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("unshare -rm (user namespaces) is not available here")
    command = (f"mount --bind -o ro '{target}' '{target}' && exec '{sys.executable}' -m bgsub "
               f"run '{three}' -o '{target}/out'")
    result = subprocess.run([unshare, "-rm", "sh", "-c", command], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == (f"bgsub: error: cannot write to output folder {target}/out: "
                             "Read-only file system; choose a writable folder with -o\n")


def test_suggest_prints_the_radius_and_why():
    from bgsub.data import sample_path

    result = run_cli("suggest", sample_path())
    assert result.returncode == 0, result.stderr
    radius = float(result.stdout.split("radius        :")[1].split("px")[0])
    assert 18 <= radius <= 45  # sample nuclei have radius 6-14 px
    assert "why" in result.stdout
    contrast = float(result.stdout.split("contrast      :")[1].split("noise sds")[0])
    assert contrast > 3.0 and "faint" not in result.stdout  # bright nuclei
    assert "warning" not in result.stderr


def test_suggest_warns_of_a_radius_set_by_a_bright_patch_as_run_does(tmp_path):
    from illumination import spots_under_a_beam

    path = tmp_path / "beam.tif"
    tifffile.imwrite(path, spots_under_a_beam(seed=0)[0])
    result = run_cli("suggest", path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "bright patch" in line]
    assert len(warned) == 1 and warned[0].startswith(f"bgsub: warning: {path}: one object")
    suggested = float(warned[0].rsplit("give radius=", 1)[1])
    assert 16.0 <= suggested <= 40.0
    ran = run_cli("run", path, "-o", str(tmp_path / "out"), "--radius", "auto")
    assert ran.returncode == 0, ran.stderr
    assert [line.split(": ", 3)[-1] for line in ran.stderr.splitlines() if "bright patch" in line
            ] == [warned[0].split(": ", 3)[-1]]


def test_suggest_and_run_say_once_that_a_crop_is_a_few_objects_wide(tmp_path):
    import tifffile

    from bgsub.data import synthetic

    path = tmp_path / "crop.tif"
    tifffile.imwrite(path, synthetic((512, 512), object_radius=(15, 20),
                                     seed=16).image[200:264, 300:364])
    said = run_cli("suggest", path)
    assert said.returncode == 0, said.stderr
    warned = [line for line in said.stderr.splitlines() if "cut by the image's edge" in line]
    assert len(warned) == 1 and warned[0].endswith("correct the whole field and crop "
                                                   "afterwards, or give radius= 3x their radius")
    ran = run_cli("run", path, "-o", str(tmp_path / "out"), "--radius", "auto")
    assert ran.returncode == 0, ran.stderr
    assert [line.split(": ", 3)[-1] for line in ran.stderr.splitlines()
            if "cut by the image's edge" in line] == [warned[0].split(": ", 3)[-1]]


def test_suggest_and_run_say_once_that_no_object_stood_out(tmp_path):
    """An empty well: the radius falls back to an eighth of the side, a guess that both
    commands name in one stderr line."""
    import tifffile

    path = tmp_path / "well.tif"
    tifffile.imwrite(path, np.random.default_rng(0).poisson(100.0, (256, 256)).astype(np.uint16))
    said = run_cli("suggest", path)
    assert said.returncode == 0, said.stderr
    warned = [line for line in said.stderr.splitlines() if "found no object" in line]
    assert len(warned) == 1 and warned[0].startswith(f"bgsub: warning: {path}: radius=\"auto\"")
    ran = run_cli("run", path, "-o", str(tmp_path / "out"), "--radius", "auto")
    assert ran.returncode == 0, ran.stderr
    assert [line.split(": ", 3)[-1] for line in ran.stderr.splitlines()
            if "found no object" in line] == [warned[0].split(": ", 3)[-1]]


def test_suggest_says_when_faint_objects_widen_the_radius(tmp_path):
    import tifffile

    from bgsub.data import synthetic

    path = tmp_path / "faint.tif"
    tifffile.imwrite(path, synthetic((256, 256), object_radius=8, seed=1,
                                     object_brightness=40.0).image.astype(np.uint16))
    result = run_cli("suggest", path)
    assert result.returncode == 0, result.stderr
    assert "noise sds (faint: the radius 2x wider)" in result.stdout


def test_sweep_writes_a_montage_and_a_score_table(tmp_path):
    from bgsub.data import sample_path

    out = tmp_path / "sweep.png"
    result = run_cli("sweep", sample_path(), "-m", "tophat,median", "--radius", "10:20:10",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    rows = [line for line in result.stdout.splitlines() if line.startswith("| tophat")
            or line.startswith("| median")]
    assert len(rows) == 4


def test_sweep_reads_samples_as_run_does(tmp_path):
    """A grey + alpha PNG and a TIFF of two samples per pixel (processed by `run` as YXC)
    were swept with the trailing axis of 2 as X: 256x2 slivers and nonsense scores. The grey
    + alpha sweeps as its grey, the two samples as their middle channel, as a C axis does."""
    grey = synthetic((72, 80), object_radius=4, seed=3).image
    small = (grey // 64).astype(np.uint8)
    pngs = {"grey.png": small, "la.png": np.stack([small, np.full_like(small, 255)], -1)}
    for name, data in pngs.items():
        (tmp_path / name).write_bytes(imagecodecs.png_encode(data))
    tifffile.imwrite(tmp_path / "yxc2.tif", np.stack([grey // 2, grey], -1),
                     photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(tmp_path / "second.tif", grey)
    assert "processed as YXC" in run_cli("info", str(tmp_path / "yxc2.tif")).stdout

    def table(name: str) -> list[str]:
        result = run_cli("sweep", str(tmp_path / name), "-m", "tophat", "--radius", "8,16",
                         "-q", "-o", str(tmp_path / f"{name}_sweep.png"))
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[:-1]  # (less "wrote ...")

    assert table("la.png") == table("grey.png")
    assert table("yxc2.tif") == table("second.tif")


@pytest.mark.parametrize("command", ["suggest", "sweep"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_missing_value_that_is_no_number_is_a_one_line_usage_error(tmp_path, command, value):
    from bgsub.data import sample_path

    result = run_cli(command, sample_path(), "--missing", value, "-o", str(tmp_path / "m.png")
                     ) if command == "sweep" else run_cli(command, sample_path(), "--missing",
                                                          value)
    assert result.returncode == 2
    assert "Invalid value for '--missing'" in result.stderr and "must be finite" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "m.png").exists()


def test_sweep_rejects_a_bad_range(tmp_path):
    from bgsub.data import sample_path

    result = run_cli("sweep", sample_path(), "--radius", "50:10:5")
    assert result.returncode == 2 and "START:STOP:STEP" in result.stderr


# -- bgsub run --figure ----------------------------------------------------------------------


@pytest.fixture()
def plane_and_stack(tmp_path) -> Path:
    """A 2D TIFF with a pixel size, and a 5-plane ZYX OME-TIFF."""
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "plain.tif", synthetic((48, 60), seed=3).image,
                     resolution=(40000.0, 40000.0), resolutionunit="CENTIMETER")
    tifffile.imwrite(folder / "stack.ome.tif", synthetic((5, 40, 44), seed=4).image, ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2,
                               "PhysicalSizeZ": 1.0})
    return folder


def panel_widths(png: Path) -> list[int]:
    """Widths of the image panels side by side in the upper part of a comparison figure:
    runs of columns that are mostly not white there."""
    rgba = imagecodecs.png_decode(png.read_bytes())
    band = rgba[int(rgba.shape[0] * 0.25):int(rgba.shape[0] * 0.45), :, :3]
    inked = (band < 245).any(axis=-1).mean(axis=0) > 0.5
    edges = np.flatnonzero(np.diff(np.r_[0, inked.astype(np.int8), 0]))
    return [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 20]


def test_run_figure_writes_a_comparison_png_per_input_and_skips_it_when_up_to_date(
        plane_and_stack, tmp_path):
    out = tmp_path / "out"
    args = ["run", str(plane_and_stack), "-o", str(out), "--method", "tophat", "--radius", "6",
            "--figure", "-j", "2"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    figures = sorted(p.name for p in out.glob("*.png"))
    assert figures == ["plain_comparison.png", "stack_comparison.png"]
    for name in figures:
        png = out / name
        assert imagecodecs.png_decode(png.read_bytes()).shape == (825, 1430, 4)  # 13x7.5 in
        widths = panel_widths(png)  # raw | background | foreground, equally wide
        assert len(widths) == 3 and max(widths) - min(widths) <= 3, (name, widths)
        assert sum(widths) > 0.7 * 1430
    record = json.loads((out / "stack.ome.tif.bgsub.json").read_text())
    assert record["outputs"]["figure"]["path"] == str((out / "stack_comparison.png").resolve())
    assert record["settings"]["figure"] is True
    # (bgsub info says it is bgsub's figure, as it says what made a corrected image)
    info = run_cli("info", str(out / "plain_comparison.png"))
    assert "  bgsub      : a figure bgsub wrote (a picture, not data to process)" in info.stdout
    assert "a figure bgsub wrote" not in run_cli("info", str(plane_and_stack / "plain.tif")).stdout
    assert not hidden(out)
    # up to date: nothing redone; a deleted figure is redone (with its image)
    before = (out / "plain_comparison.png").stat().st_mtime_ns
    (out / "stack_comparison.png").unlink()
    again = run_cli(*args, "-v")
    assert again.returncode == 0, again.stderr
    assert "skip: " in again.stdout and "1 done, 1 skipped" in again.stdout
    assert (out / "plain_comparison.png").stat().st_mtime_ns == before
    assert (out / "stack_comparison.png").exists()
    # the provenance record carries --figure: reproducing an output redraws its figure
    copy = run_cli("run", "--config", str(out / "plain.tif.bgsub.json"), "-o",
                   str(tmp_path / "again"))
    assert copy.returncode == 0, copy.stderr
    assert (tmp_path / "again" / "plain_comparison.png").stat().st_size > 10_000


def test_run_figure_is_listed_by_a_dry_run_and_not_written(plane_and_stack, tmp_path):
    config = tmp_path / "figures.toml"
    config.write_text('method = "tophat"\nradius = 6\nfigure = true\nfigure_plane = "max"\n')
    result = run_cli("run", str(plane_and_stack), "-o", str(tmp_path / "out"), "--config",
                     str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    for name in ("plain_comparison.png", "stack_comparison.png"):
        assert f"would write {tmp_path / 'out' / name}\n" in result.stdout
    assert not (tmp_path / "out").exists()
    bad = run_cli("run", str(plane_and_stack), "-o", str(tmp_path / "out"), "--figure",
                  "--figure-plane", "top")
    assert bad.returncode == 2 and "figure_plane='top' is not understood" in bad.stderr


def test_warnings_from_a_stacks_planes_side_by_side_name_the_file_once(tmp_path, monkeypatch):
    # the planes (256x256 and up) run on worker threads: the warning still names its file,
    # once for the file; the other planes' (the same words, other figures) are counted
    monkeypatch.setenv("BGSUB_NUM_THREADS", "2")
    stacks = []
    for name, first in (("dense_stack.tif", 0), ("another.tif", 4)):
        stacks.append(tmp_path / name)
        tifffile.imwrite(stacks[-1], np.stack([
            synthetic((300, 300), object_radius=(5, 8), density=0.9, seed=s).image
            for s in range(first, first + 4)]), metadata={"axes": "ZYX"})
    result = run_cli("run", *map(str, stacks), "-o", str(tmp_path / "out"), "--radius", "60")
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "look like background" in line]
    assert [line.split(": only ")[0] for line in sorted(warned)] == sorted(
        f"bgsub: warning: {path}" for path in stacks), result.stderr
    assert result.stderr.splitlines()[-1] == (
        "bgsub: 6 more warnings like those above (the same file's other planes, channels or "
        "settings) not shown"), result.stderr


def test_info_into_a_reader_that_stops_ends_without_an_error_line(tmp_path):
    # `bgsub info *.tif | head` printed "bgsub: error: a.tif: Broken pipe" for every file
    names = []
    for i in range(3):
        tifffile.imwrite(tmp_path / f"a{i}.tif", np.zeros((8, 8), np.uint16))
        names.append(str(tmp_path / f"a{i}.tif"))
    process = subprocess.Popen([sys.executable, "-m", "bgsub", "info", *names],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # (the reader gone before the first line is written)
    _, err = process.communicate(timeout=300)
    assert process.returncode != 0
    assert b"error" not in err and b"Traceback" not in err, err


def test_run_in_3d_with_an_automatic_radius_and_no_z_spacing_says_so_once(tmp_path):
    """A two-plane stack without pixel sizes run with --3d --radius auto: no depth to measure,
    so one stderr line names the Z radius as a guess and the fix (--spacing)."""
    stack = np.stack([synthetic((96, 96), object_radius=(4, 6), seed=seed).image
                      for seed in range(2)])
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack)
    ran = run_cli("run", path, "-o", str(tmp_path / "out"), "--radius", "auto", "--3d",
                  "--axes", "ZYX")
    assert ran.returncode == 0, ran.stderr
    warned = [line for line in ran.stderr.splitlines() if "along Z" in line]
    assert len(warned) == 1 and "--spacing Z,Y,X" in warned[0]
    spaced = run_cli("run", path, "-o", str(tmp_path / "spaced"), "--radius", "auto", "--3d",
                     "--axes", "ZYX", "--spacing", "4,1,1")
    assert spaced.returncode == 0, spaced.stderr
    assert "along Z" not in spaced.stderr


@pytest.mark.parametrize("streamed", [False, True], ids=["in memory", "streamed"])
def test_an_automatic_radius_is_recorded_as_measured_beside_auto(tmp_path, streamed):
    """``--radius auto``: the sidecar, the output's embedded record and ``bgsub info`` give
    the radius measured (``suggest_radius``'s on the same image), the parameters keep
    "auto", and a rerun from the record gives the same pixels; a radius given records none."""
    from bgsub.auto import suggest_radius

    image = synthetic((160, 176), object_radius=(5, 8), seed=3).image
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, image)
    chunks = ["--chunks", "auto"] if streamed else []
    ran = run_cli("run", path, "-o", str(tmp_path / "out"), "--radius", "auto", "-v", *chunks)
    assert ran.returncode == 0, ran.stderr
    expected = suggest_radius(image).radius
    assert f"(radius auto: {expected:.3g} px, " in ran.stdout
    record = json.loads((tmp_path / "out" / "cells.tif.bgsub.json").read_text())
    assert record["parameters"]["radius"] == "auto"
    assert record["measured_radius"] == pytest.approx([expected, expected], abs=1e-3)
    _, meta = read_image(tmp_path / "out" / "cells.tif")
    assert meta.provenance["measured_radius"] == record["measured_radius"]
    info = run_cli("info", str(tmp_path / "out" / "cells.tif"))
    assert f"radius auto (measured: {record['measured_radius'][0]:g} px)" in info.stdout
    again = run_cli("run", "--config", str(tmp_path / "out" / "cells.tif.bgsub.json"),
                    "-o", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert np.array_equal(read_image(tmp_path / "again" / "cells.tif")[0],
                          read_image(tmp_path / "out" / "cells.tif")[0])
    fixed = run_cli("run", path, "-o", str(tmp_path / "fixed"), "--radius", "20", "-v", *chunks)
    assert fixed.returncode == 0, fixed.stderr
    assert "done: " in fixed.stdout and "radius auto" not in fixed.stdout
    assert "measured_radius" not in json.loads(
        (tmp_path / "fixed" / "cells.tif.bgsub.json").read_text())
