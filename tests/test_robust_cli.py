"""The command line under bad input, full disks, collisions and random interrupts.

Every failure is one line naming the problem and the fix, with the exit codes
of docs/cli.md: 2 for usage errors (nothing written), 1 for files that
failed, 130/143 for SIGINT/SIGTERM. tests/test_cli.py has the basic cases
(a corrupt file, collisions, a read-only folder, one interrupt); these add
the rest of docs/robustness.md.
"""

from __future__ import annotations

import json
import os
import random
import re
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
from crafted import tiny_tiff
from paced import start_paced_cli

# the fix, after the problem: "...; use ...", "...; see bgsub run -h", "..., e.g. TZCYX"
HINT = re.compile(r"; (see .* -h|use|give|choose|check|write|pass|drop|add|name|rename|copy|"
                  r"free|convert|available|accepted)|, e\.g\. ")


def run_cli(*args: str, env: dict | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bgsub", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def temporary_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if is_temp_name(p.name)] if folder.exists() else []


def unshare_available() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.fixture()
def inputs(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        tifffile.imwrite(folder / f"f{i}.tif", synthetic((40, 44), seed=i).image)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "cfgdir").mkdir()
    return folder


# --- usage errors: exit 2, one line, nothing written ------------------------------------------

NO_OUTPUT = "(no -o)"
USAGE = {
    "unknown option": (["--frobnicate"], "No such option"),
    "missing -o": ([NO_OUTPUT], "Missing option '-o'"),
    "-o is a file": (["-o", "@a-file"], "is a file"),
    "zero jobs": (["-j", "0"], "not in the range"),
    "radius 0": (["--radius", "0"], "radius='0' is out of range"),
    "radius nan": (["--radius", "nan"], "radius='nan' is out of range"),
    "negative radius per axis": (["--radius", "2,-5,5"], "radius='-5' is out of range"),
    "empty radius": (["--radius", ","], "radius is empty"),
    "radius text": (["--radius", "big"], "radius='big' must be a number"),
    "offset inf": (["--offset", "inf"], "offset=inf is out of range"),
    "spacing 0": (["--spacing", "0,1"], "spacing='0' is out of range"),
    "bad output dtype": (["--output-dtype", "int"], "'int' is not one of"),
    "bad format": (["--format", "gif"], "'gif' is not one of"),
    "bad axes": (["--axes", "Y-X"], "axes='Y-X' must be letters"),
    "unknown method": (["-m", "rolling_pin"], "unknown method 'rolling_pin'"),
    "unknown method option": (["-O", "radiuss=3"], "unknown option(s) radiuss"),
    "option without =": (["-O", "footprint"], "is not KEY=VALUE"),
    "config is a folder": (["--config", "@cfgdir"], "is a directory"),
    "missing config": (["--config", "@nope.toml"], "cannot read config"),
    "pipeline without config": (["--pipeline", "x"], "--pipeline needs --config"),
    "negative series": (["--series", "-1"], "series='-1' is out of range"),
}


def invoke(args: list[str], monkeypatch) -> tuple[int, str, str]:
    """Run the CLI in this process (fast); ``run`` may not install its signal handlers here."""
    from click.testing import CliRunner

    from bgsub import cli

    monkeypatch.setattr(cli, "_install_signal_handlers", lambda: None)
    result = CliRunner().invoke(cli.main, args, prog_name="bgsub")
    return result.exit_code, result.stdout, result.stderr


def check_usage_error(code: int, stdout: str, stderr: str, expected: str) -> None:
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("bgsub: error: ")
    assert expected in stderr and HINT.search(stderr), stderr
    assert "Traceback" not in stderr and stdout == ""


@pytest.mark.parametrize("case", USAGE)
def test_usage_errors_are_one_line_with_exit_2_and_write_nothing(inputs, case, monkeypatch):
    extra, expected = USAGE[case]
    root = inputs.parent
    args = [a.replace("@", f"{root}/") for a in extra if a != NO_OUTPUT]
    output = [] if NO_OUTPUT in extra else ["-o", str(root / "out")]
    check_usage_error(*invoke(["run", str(inputs), *output, *args], monkeypatch), expected)
    assert not (root / "out").exists()


@pytest.mark.parametrize("case", ["unknown option", "radius nan", "missing -o"])
def test_usage_errors_in_a_real_process(inputs, case):
    extra, expected = USAGE[case]
    output = [] if NO_OUTPUT in extra else ["-o", str(inputs.parent / "out")]
    result = run_cli("run", str(inputs), *output, *[a for a in extra if a != NO_OUTPUT])
    check_usage_error(result.returncode, result.stdout, result.stderr, expected)
    assert not (inputs.parent / "out").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["frobnicate"], "No such command 'frobnicate'"), (["info"], "Missing argument"),
    (["demo", "--radius", "x"], "is not a number")])
def test_other_commands_usage_errors(args, expected, monkeypatch):
    check_usage_error(*invoke(args, monkeypatch), expected)


# --- bad files in a batch: each one line, the rest processed ----------------------------------


def test_every_kind_of_bad_file_fails_alone_with_one_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = synthetic((40, 44), seed=1).image
    tifffile.imwrite(folder / "good.tif", good)
    (folder / "huge.tif").write_bytes(tiny_tiff(100_000, 100_000, pages=1000))
    (folder / "short.tif").write_bytes(tiny_tiff(100_000, 100_000))
    (folder / "loop.tif").write_bytes(tiny_tiff(4, 4, pages=2, loop=True))
    (folder / "garbage.tif").write_bytes(b"II*\0" + b"\x13" * 50)
    (folder / "cut.png").write_bytes(imagecodecs.png_encode(good)[:70])
    (folder / "empty.jpg").write_bytes(b"")
    tifffile.imwrite(folder / "mask.tif", good > 500)
    tifffile.imwrite(folder / "complex.tif", good.astype(np.complex64))
    os.mkfifo(folder / "pipe.tif")
    (folder / "notzarr.zarr").mkdir()  # a folder without Zarr metadata: not an input
    expected = {"huge.tif": "18.2 TiB", "short.tif": "truncated TIFF", "loop.tif": "loops back",
                "garbage.tif": "holds no image", "cut.png": "damaged or truncated PNG",
                "empty.jpg": "unknown file signature", "mask.tif": "boolean images",
                "complex.tif": "complex images", "pipe.tif": "named pipe (FIFO)"}
    # a fixed limit: short.tif (18.6 GiB declared) is under it whatever memory is free
    result = run_cli("run", str(folder), "-o", str(tmp_path / "out"), "--radius", "5",
                     timeout=120, env={**os.environ, "BGSUB_MAX_IMAGE_BYTES": "64G"})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(expected), result.stderr
    for name, reason in expected.items():
        line = next(e for e in errors if f"/{name}:" in e)
        assert reason in line and HINT.search(line), line
    assert "Traceback" not in result.stderr
    assert "1 done, 0 skipped (up to date), 9 failed" in result.stderr
    assert [p.name for p in (tmp_path / "out").glob("*.tif")] == ["good.tif"]
    assert not temporary_files(tmp_path / "out")
    verbose = run_cli("run", str(folder / "loop.tif"), "-o", str(tmp_path / "out"), "-v")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_rgba_and_grey_alpha_pngs_are_processed_and_written_back(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for samples in (2, 3, 4):
        data = rng.integers(0, 255, (30, 32, samples), dtype=np.uint8)
        (folder / f"c{samples}.png").write_bytes(imagecodecs.png_encode(data))
    result = run_cli("run", str(folder), "-o", str(tmp_path / "out"), "--radius", "4")
    assert result.returncode == 0, result.stderr
    for samples in (2, 3, 4):
        image, meta = read_image(tmp_path / "out" / f"c{samples}.png")
        assert image.shape == (30, 32, samples) and meta.axes == "YXS"
        if samples != 3:  # alpha as it was (it was background-subtracted like a colour)
            original = imagecodecs.png_decode((folder / f"c{samples}.png").read_bytes())
            assert np.array_equal(image[..., -1], original[..., -1])


# --- the same output twice: refused before anything is written --------------------------------


def _pair(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    image = synthetic((24, 24), seed=3).image
    tifffile.imwrite(root / "a" / "x.tif", image)
    tifffile.imwrite(root / "b" / "x.tif", image)
    (root / "a" / "x.png").write_bytes(imagecodecs.png_encode((image // 16).astype(np.uint8)))
    tifffile.imwrite(root / "a" / "x_background.tif", image)
    (root / "link").symlink_to(root / "a", target_is_directory=True)


@pytest.mark.parametrize(("args", "expected"), [
    (["@a/x.tif", "@b/x.tif", "-o", "@out"], "would both write"),
    (["@a/x.tif", "@a/x.png", "-o", "@out", "--format", "tiff"], "would both write"),
    (["@a/x.tif", "@a/x_background.tif", "-o", "@out", "--save-background"],
     "would both write"),
    (["@a/x.tif", "-o", "@link", "--force"], "is an input and would be overwritten"),
    (["@link/x.tif", "-o", "@a"], "is an input and would be overwritten"),
])
def test_one_output_path_twice_is_refused_before_anything_is_written(tmp_path, args, expected):
    _pair(tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    result = run_cli("run", *[a.replace("@", f"{tmp_path}/") for a in args])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr and HINT.search(result.stderr)
    assert not (tmp_path / "out").exists()
    assert {p: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before


def test_the_same_input_named_twice_is_processed_once(tmp_path):
    _pair(tmp_path)
    x = tmp_path / "a" / "x.tif"
    result = run_cli("run", str(x), f"{tmp_path}/a/../a/x.tif", str(x), "-o",
                     str(tmp_path / "out"), "-v")
    assert result.returncode == 0 and result.stdout.count("done:") == 1, result.stderr


# --- a full disk -----------------------------------------------------------------------------


CHECK_OUTPUTS = """
import json, sys
from pathlib import Path
from bgsub.io import is_temp_name, read_image
out = Path(sys.argv[1])
files = sorted(p.name for p in out.iterdir()) if out.exists() else []
report = {"files": files, "temporary": [f for f in files if is_temp_name(f)], "images": {}}
for path in sorted(out.glob("*.tif")):
    image, meta = read_image(path)          # every output there reads completely
    report["images"][path.name] = [int(image.sum()), meta.provenance is not None]
print(json.dumps(report))
"""


def test_a_full_output_disk_fails_file_by_file_and_leaves_no_partial_output(tmp_path):
    """A real 48 KiB tmpfs in a private mount namespace (`unshare -rm`)."""
    if not unshare_available():
        pytest.skip("unshare -rm (user and mount namespaces) is not available")
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # noise does not compress: ~8 KiB per output
        tifffile.imwrite(folder / f"n{i}.tif", rng.integers(0, 2**16, (64, 64),
                                                            dtype=np.uint16))
    (tmp_path / "check.py").write_text(CHECK_OUTPUTS)
    mount = tmp_path / "disk"
    mount.mkdir()
    bgsub_run = f"'{sys.executable}' -m bgsub run '{folder}' -o '{mount}/out' --radius 3 " \
        "--method rolling_ball"
    script = (f"mount -t tmpfs -o size=48k tmpfs '{mount}' || exit 99\n"
              f"{bgsub_run} 2> '{tmp_path}/first.err'; echo $? > '{tmp_path}/first.rc'\n"
              f"{bgsub_run} > '{tmp_path}/second.out' 2>&1; echo $? > '{tmp_path}/second.rc'\n"
              f"'{sys.executable}' '{tmp_path}/check.py' '{mount}/out' > '{tmp_path}/check.json'\n")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                          text=True, timeout=240)
    if done.returncode == 99:
        pytest.skip("cannot mount a tmpfs here")
    first_err = (tmp_path / "first.err").read_text()
    report = json.loads((tmp_path / "check.json").read_text())
    assert (tmp_path / "first.rc").read_text().strip() == "1", first_err
    errors = [line for line in first_err.splitlines() if line.startswith("error: ")]
    assert errors and "Traceback" not in first_err
    assert all("No space left on device" in e and "free some space" in e for e in errors)
    assert report["temporary"] == []
    written = report["images"]
    assert 1 <= len(written) < 6
    for name, (total, has_provenance) in written.items():  # complete and exactly right
        image = tifffile.imread(folder / name)
        expected = bgsub.subtract_background(image, "rolling_ball", 3)
        assert total == int(expected.sum()) and has_provenance
    # the second run skips what is complete and fails again, cleanly, on the rest
    second = (tmp_path / "second.out").read_text()
    assert (tmp_path / "second.rc").read_text().strip() == "1"
    assert "Traceback" not in second and re.search(r"0 done, [1-5] skipped", second), second


# --- random interrupts -----------------------------------------------------------------------


def _interrupt_inputs(folder: Path) -> None:
    folder.mkdir()
    for i in range(12):
        tifffile.imwrite(folder / f"f{i}.tif", synthetic((150, 150), seed=10 + i).image,
                         compression="zlib")
    stack = synthetic((2, 64, 64), seed=30).image
    write_image(folder / "stack.ome.zarr", stack, ImageMetadata("ZYX"), format="ome-zarr")


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes (images and Zarr stores), sidecars left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".bgsub.json")}


def _wait_for_outputs(process: subprocess.Popen, out: Path, count: int,
                      timeout: float = 120.0) -> None:
    """Until ``bgsub run`` has finished ``count`` outputs (or ended): a moment inside the batch
    that does not depend on how loaded the machine is."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if out.exists() and len(_finished_images(out)) >= count:
            return
        time.sleep(0.005)


def _finished_images(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tif") and not is_temp_name(p.name)]


def test_random_interrupts_never_leave_a_partial_output_and_a_rerun_completes(tmp_path):
    """SIGINT/SIGTERM after a seeded random number of finished outputs; each time every output
    present is complete, and the re-run ends with outputs byte-identical to an uninterrupted
    run."""
    folder = tmp_path / "in"
    _interrupt_inputs(folder)
    options = ["--method", "median", "--radius", "6", "--save-background", "--jobs", "1"]
    reference = run_cli("run", str(folder), "-o", str(tmp_path / "ref"), *options)
    assert reference.returncode == 0, reference.stderr
    expected = _outputs(tmp_path / "ref")
    rng = random.Random(20240515)
    for attempt, signum in enumerate([signal.SIGINT, signal.SIGTERM] * 2):
        out = tmp_path / f"out{attempt}"
        finished = rng.randint(1, 8)  # of 24 TIFF outputs: well inside the batch
        # each TIFF write paced by 0.1 s, and the batch held from the second write after
        # those outputs (a file's foreground and background are two) until the signal has
        # been sent: it is still running however busy the machine
        release = tmp_path / f"release{attempt}"
        process = start_paced_cli("run", str(folder), "-o", str(out), *options, pause=0.1,
                                  hold_from=finished + 2, release=release)
        _wait_for_outputs(process, out, finished)
        process.send_signal(signum)
        release.touch()
        _, stderr = process.communicate(timeout=120)
        print(f"signal after {finished} outputs: exit {process.returncode}, "
              f"{len(_outputs(out))} of {len(expected)} outputs")
        assert "Traceback" not in stderr
        assert process.returncode == 128 + signum, stderr  # (held: it cannot finish first)
        said = [line for line in stderr.splitlines()  # progress lines aside (not a terminal)
                if not re.match(r"bgsub: \d+/\d+ files", line)]
        assert len(said) == 1 and "interrupted by" in said[0], stderr
        assert not temporary_files(out)
        partial = _outputs(out)
        for name, content in partial.items():  # whatever is there is complete
            assert expected[name] == content, name
        resumed = run_cli("run", str(folder), "-o", str(out), *options)
        assert resumed.returncode == 0, resumed.stderr
        assert _outputs(out) == expected
        for sidecar in (tmp_path / "ref").glob("*.bgsub.json"):
            ours = json.loads((out / sidecar.name).read_text())
            assert ours["parameters"] == json.loads(sidecar.read_text())["parameters"]


def test_an_unreadable_input_fails_alone_with_one_line(tmp_path):
    """Root reads any file; in `unshare -r`, a mode-000 file owned by an unmapped user is not."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-r", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -r (user namespaces) is not available")
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"bgsub-perm-cli-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    try:
        for name in ("locked.tif", "open.tif"):
            tifffile.imwrite(folder / name, synthetic((30, 30), seed=2).image)
        os.chown(folder / "locked.tif", 54321, 54321)
        os.chmod(folder / "locked.tif", 0)
        result = subprocess.run(["unshare", "-r", sys.executable, "-m", "bgsub", "run",
                                 str(folder / "locked.tif"), str(folder / "open.tif"), "-o",
                                 str(folder / "out"), "--radius", "4"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert errors == [f"error: {folder}/locked.tif: Permission denied ({folder}/locked.tif); "
                          "check the permissions of the file and its folder"]
        assert (folder / "out" / "open.tif").exists() and "Traceback" not in result.stderr
    finally:
        shutil.rmtree(folder)


def test_four_samples_of_a_tiff_are_channels_unless_the_fourth_is_alpha(tmp_path):
    # a grey TIFF of four samples per pixel, or RGB with an unspecified extra sample, holds four
    # channels: all are processed; only RGB with an alpha extra sample keeps its alpha
    folder = tmp_path / "in"
    folder.mkdir()
    yy, xx = np.mgrid[:40, :48]
    plane = 100 + xx + 400 * (((yy - 20) ** 2 + (xx - 24) ** 2) < 25)
    data = np.stack([plane] * 4, axis=-1).astype(np.uint16)
    tifffile.imwrite(folder / "grey.tif", data, photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(folder / "extra.tif", data, photometric="rgb", extrasamples=["unspecified"])
    tifffile.imwrite(folder / "alpha.tif", data, photometric="rgb", extrasamples=["unassalpha"])
    tifffile.imwrite(folder / "grey-alpha.tif", data[..., 2:], photometric="minisblack",
                     extrasamples=["unassalpha"], planarconfig="contig")
    tifffile.imwrite(folder / "two.tif", data[..., 2:], photometric="minisblack",
                     planarconfig="contig")
    result = run_cli("run", str(folder), "-o", str(tmp_path / "out"), "-m", "rolling_ball",
                     "--radius", "8")
    assert result.returncode == 0, result.stderr
    for name, kept in (("grey", False), ("extra", False), ("alpha", True),
                       ("grey-alpha", True), ("two", False)):
        out = tifffile.imread(tmp_path / "out" / f"{name}.tif")
        assert np.array_equal(out[..., -1], data[..., -1]) == kept, name
        assert out[..., 0].max() > 300 and out[..., 0].min() < 20, name  # (the ramp removed)
        # ... and written back as they were: channels stay grey samples (they were written as
        # RGB with an alpha), an alpha stays one
        with tifffile.TiffFile(tmp_path / "out" / f"{name}.tif") as tif:
            page = tif.pages[0]
            assert len(tif.pages) == 1 and page.samplesperpixel == out.shape[-1], name
            assert (page.photometric == tifffile.PHOTOMETRIC.RGB) == (name == "alpha"), name
            assert (tifffile.EXTRASAMPLE.UNASSALPHA in page.extrasamples) == kept, name


def test_float_samples_are_written_as_one_page_of_samples(tmp_path):
    # (four float32 samples were written as one page per row: 40 pages of 50 x 4)
    data = np.random.default_rng(1).random((40, 50, 4)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", data, photometric="minisblack", planarconfig="contig")
    result = run_cli("run", str(tmp_path / "f.tif"), "-o", str(tmp_path / "out"), "-m",
                     "rolling_ball", "--radius", "5")
    assert result.returncode == 0, result.stderr
    with tifffile.TiffFile(tmp_path / "out" / "f.tif") as tif:
        assert len(tif.pages) == 1 and tif.pages[0].shape == (40, 50, 4)


@pytest.mark.parametrize("fmt", ["tiff", "ome-tiff"])
def test_a_planar_rgb_tiff_is_written_back_as_planar_rgb(tmp_path, fmt):
    # (it was written as three grey pages, and as OME-TIFF not at all: "shape does not match")
    image = synthetic((48, 56), object_radius=(3, 5), seed=6).image
    grey = np.clip(image // 16, 0, 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "p.tif", np.stack([grey, grey // 2, grey // 3]),
                     photometric="rgb", planarconfig="separate")
    result = run_cli("run", str(tmp_path / "p.tif"), "-o", str(tmp_path / "out"), "--format",
                     fmt, "-m", "rolling_ball", "--radius", "8")
    assert result.returncode == 0, result.stderr
    name = "p.ome.tif" if fmt == "ome-tiff" else "p.tif"
    with tifffile.TiffFile(tmp_path / "out" / name) as tif:
        assert tif.series[0].axes == "SYX" and tif.series[0].shape == (3, 48, 56)
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB


@pytest.mark.parametrize("how", [["--chunks", "32,48"], ["--pyramid", "on"]])
def test_a_streamed_or_pyramid_planar_rgb_stack_stays_planar_rgb(tmp_path, how):
    # (written page by page, its samples became grey pages: a stack of six grey planes)
    image = synthetic((72, 80), object_radius=(3, 5), seed=7).image
    grey = np.clip(image // 16, 0, 255).astype(np.uint8)
    stack = np.stack([np.stack([grey, grey // 2, grey // 3]), np.stack([grey // 3, grey, grey])])
    tifffile.imwrite(tmp_path / "p.tif", stack, photometric="rgb", planarconfig="separate",
                     metadata={"axes": "TSYX"})
    args = ["-m", "rolling_ball", "--radius", "8"]
    whole = run_cli("run", str(tmp_path / "p.tif"), "-o", str(tmp_path / "whole"), *args)
    paged = run_cli("run", str(tmp_path / "p.tif"), "-o", str(tmp_path / "out"), *args, *how)
    assert whole.returncode == 0 and paged.returncode == 0, paged.stderr
    with tifffile.TiffFile(tmp_path / "out" / "p.tif") as tif:
        assert tif.series[0].axes == "TSYX" and len(tif.pages) == 2
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        assert tif.pages[0].planarconfig == tifffile.PLANARCONFIG.SEPARATE
        assert np.array_equal(tif.asarray(), tifffile.imread(tmp_path / "whole" / "p.tif"))


def test_sixteen_bit_samples_are_a_composite_in_the_imagej_format(tmp_path):
    # ImageJ's RGB is 8-bit: three 16-bit samples are written as its channels (they failed:
    # "the ImageJ format does not support data type uint16 for RGB")
    image = synthetic((48, 56), object_radius=(3, 5), seed=6).image
    tifffile.imwrite(tmp_path / "p.tif", np.stack([image, image // 2, image // 3]),
                     photometric="rgb", planarconfig="separate")
    result = run_cli("run", str(tmp_path / "p.tif"), "-o", str(tmp_path / "out"), "--format",
                     "imagej", "-m", "rolling_ball", "--radius", "8")
    assert result.returncode == 0, result.stderr
    out, meta = read_image(tmp_path / "out" / "p.tif")
    assert meta.axes == "CYX" and out.shape == (3, 48, 56) and out.dtype == np.uint16


def test_grey_plus_alpha_is_two_channels_in_the_imagej_format(tmp_path):
    # (it failed with tifffile's "ImageJ hyperstack must contain 1, 3, or 4 samples")
    rng = np.random.default_rng(4)
    data = np.dstack([rng.integers(0, 200, (30, 32)), np.full((30, 32), 255)]).astype(np.uint8)
    data[:4, :, 1] = 0
    (tmp_path / "ga.png").write_bytes(imagecodecs.png_encode(data))
    result = run_cli("run", str(tmp_path / "ga.png"), "-o", str(tmp_path / "out"), "--format",
                     "imagej", "--radius", "4")
    assert result.returncode == 0, result.stderr
    out, meta = read_image(tmp_path / "out" / "ga.tif")
    assert meta.axes == "CYX" and out.shape == (2, 30, 32)
    assert np.array_equal(out[1], data[..., 1])  # the alpha, as it was


@pytest.mark.parametrize(("fmt", "axes", "shape"), [("zarr", "YXC", (40, 48, 4)),
                                                     ("ome-zarr", "CYX", (4, 40, 48))])
def test_samples_that_are_channels_are_stored_as_channels_in_zarr(tmp_path, fmt, axes, shape):
    # (stored as YXS, a later run kept the fourth channel as an alpha; OME-Zarr refused them)
    data = np.random.default_rng(2).integers(0, 4000, (40, 48, 4)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", data, photometric="minisblack", planarconfig="contig")
    result = run_cli("run", str(tmp_path / "c.tif"), "-o", str(tmp_path / "out"), "--format",
                     fmt, "-m", "rolling_ball", "--radius", "5")
    assert result.returncode == 0, result.stderr
    name = "c.ome.zarr" if fmt == "ome-zarr" else "c.zarr"
    image, meta = read_image(tmp_path / "out" / name)
    assert meta.axes == axes and image.shape == shape


def test_info_says_when_samples_are_processed_as_channels(tmp_path):
    data = np.random.default_rng(2).integers(0, 4000, (40, 48, 4)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", data, photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(tmp_path / "rgb.tif", data[..., :3].astype(np.uint8), photometric="rgb")
    shown = run_cli("info", str(tmp_path / "c.tif"), str(tmp_path / "rgb.tif"))
    assert shown.returncode == 0, shown.stderr
    assert "axes       : YXS (samples are channels: processed as YXC)\n" in shown.stdout
    assert "axes       : YXS\n" in shown.stdout  # (the RGB file's samples are colours)


def test_channels_last_are_written_to_tiff_as_one_page_of_samples(tmp_path):
    # (a YXC image, as a Zarr store of a TIFF's channel samples reads, was written one page
    # per row: 40 pages of 48 x 4)
    data = np.random.default_rng(3).integers(0, 4000, (40, 48, 4)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", data, photometric="minisblack", planarconfig="contig")
    first = run_cli("run", str(tmp_path / "c.tif"), "-o", str(tmp_path / "z"), "--format",
                    "zarr", "-m", "rolling_ball", "--radius", "5")
    assert first.returncode == 0, first.stderr
    again = run_cli("run", str(tmp_path / "z" / "c.zarr"), "-o", str(tmp_path / "t"),
                    "--format", "tiff", "-m", "rolling_ball", "--radius", "5")
    assert again.returncode == 0, again.stderr
    with tifffile.TiffFile(tmp_path / "t" / "c.tif") as tif:
        assert len(tif.pages) == 1 and tif.pages[0].shape == (40, 48, 4)
    image, meta = read_image(tmp_path / "t" / "c.tif")
    assert meta.axes == "YXC" and image.shape == (40, 48, 4)
