"""Hostile inputs (issue #15): no write outside -o, no lost input, no blow-up, no silent result.

Each test is a case of docs/robustness.md ("Hostile inputs"). The command line
runs in this process through click's CliRunner (fast); cases that could hang
on a regression (link loops, a FIFO or /dev/zero as config) run under a
SIGALRM guard so that they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import bgsub
from bgsub import io, paths, provenance
from bgsub.data import synthetic
from bgsub.io import _atomic

HIDDEN_TEMP = (".bgsub-tmp", ".bgsub-old")


def invoke(args: list[str], monkeypatch, env: dict | None = None) -> tuple[int, str, str]:
    """``bgsub ARGS`` in this process; ``run`` may not install its signal handlers here."""
    from click.testing import CliRunner

    from bgsub import cli

    monkeypatch.setattr(cli, "_install_signal_handlers", lambda: None)
    result = CliRunner().invoke(cli.main, [str(a) for a in args], prog_name="bgsub", env=env)
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, stderr: str, expected: str, exit_code: int = 2) -> None:
    assert code == exit_code, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("bgsub: error")]
    assert len(lines) == 1 and expected in lines[0], stderr


def image(seed: int = 0, shape: tuple[int, ...] = (24, 28)) -> np.ndarray:
    return synthetic(shape, seed=seed).image


def files_outside(root: Path, allowed: Path) -> list[Path]:
    """Every file under ``root`` that is not under ``allowed`` (and not an input)."""
    return [p for p in root.rglob("*") if p.is_file() and allowed not in p.parents]


@contextlib.contextmanager
def alarm(seconds: int):
    """Fail, instead of hanging, when the block takes longer than ``seconds`` (a hang guard,
    not a speed check: generous, since a busy CI machine can be many times slower)."""
    def expire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def dead_tag() -> str:
    """The tag of a temporary file that a process of this machine left when it died."""
    return f"{dead_pid()}-{_atomic.host_token()}"


@pytest.fixture()
def one(tmp_path) -> Path:
    """tmp/in/a.tif (a small uint16 image)."""
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", image())
    return folder / "a.tif"


RUN = ["run", "--radius", "3", "-m", "gaussian", "-q"]


# --- 1. writes outside -o --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/../../escaped", "/../escaped", "\\..\\x", "a\x00b",
                                    "line\nbreak", "x" * 120])
def test_a_suffix_that_is_a_path_is_refused_before_anything_is_written(one, suffix,
                                                                       monkeypatch):
    root = one.parent.parent
    code, _, err = invoke([*RUN, one, "-o", root / "out", "--suffix", suffix], monkeypatch)
    one_line_error(code, err, "must be part of a file name")
    assert files_outside(root, one.parent) == []


def test_a_suffix_from_a_shared_toml_config_is_refused(one, monkeypatch):
    root = one.parent.parent
    config = root / "lab.toml"
    config.write_text('method = "gaussian"\nradius = 3\nsuffix = "/../../escaped"\n')
    code, _, err = invoke(["run", one, "-o", root / "out", "--config", config], monkeypatch)
    one_line_error(code, err, f"config {config}: suffix=")
    assert files_outside(root, one.parent) == [config]


def test_a_suffix_from_a_provenance_record_someone_sent_is_refused(one, monkeypatch):
    root = one.parent.parent
    code, _, _ = invoke([*RUN, one, "-o", root / "out"], monkeypatch)
    assert code == 0
    record_path = root / "out" / "a.tif.bgsub.json"
    record = json.loads(record_path.read_text())
    record["settings"]["suffix"] = "/../../../escaped"
    sent = root / "sent.bgsub.json"
    sent.write_text(json.dumps(record))
    code, _, err = invoke(["run", "--config", sent, "-o", root / "again"], monkeypatch)
    one_line_error(code, err, "suffix=")
    assert not (root / "again").exists() and not list(root.parent.glob("escaped*"))


def test_an_output_sub_folder_that_links_outside_is_refused(tmp_path, monkeypatch):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "in" / "sub" / "a.tif", image())
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path / "elsewhere")
    code, _, err = invoke([*RUN, tmp_path / "in", "-r", "-o", tmp_path / "out"], monkeypatch)
    one_line_error(code, err, "outside the output folder")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_an_output_that_is_a_link_to_a_file_outside_is_refused_even_with_force(
        one, monkeypatch):
    root = one.parent.parent
    precious = root / "precious.tif"
    tifffile.imwrite(precious, image(5))
    before = precious.read_bytes()
    (root / "out").mkdir()
    (root / "out" / "a.tif").symlink_to(precious)
    code, _, err = invoke([*RUN, one, "-o", root / "out", "--force"], monkeypatch)
    one_line_error(code, err, "outside the output folder")
    assert precious.read_bytes() == before


def test_an_output_folder_inside_an_input_zarr_store_is_refused(tmp_path, monkeypatch):
    store = tmp_path / "a.zarr"
    io.write_image(store, image(), io.ImageMetadata(axes="YX"), format="zarr")
    listing = sorted(p.relative_to(store) for p in store.rglob("*"))
    code, _, err = invoke([*RUN, store, "-o", store / "out"], monkeypatch)
    one_line_error(code, err, "lies inside the input store")
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == listing


def test_check_inside_resolves_dot_dot_and_links(tmp_path):
    out = tmp_path / "out"
    (out / "deep").mkdir(parents=True)
    (out / "link").symlink_to(tmp_path)
    assert paths.check_inside(out / "deep" / "a.tif", out)
    for bad in (out / ".." / "a.tif", out / "deep" / ".." / ".." / "a.tif", out / "link" / "a",
                out, tmp_path / "outside" / "a.tif"):
        with pytest.raises(paths.OutsideOutputError, match="outside the output folder"):
            paths.check_inside(bad, out)


def test_demo_refuses_an_output_that_links_outside(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    target = tmp_path / "keep.txt"
    target.write_text("mine")
    (tmp_path / "out" / "sample_nuclei_foreground.tif").symlink_to(target)
    code, _, err = invoke(["demo", "-o", tmp_path / "out", "--radius", "10", "--method",
                           "gaussian"], monkeypatch)
    one_line_error(code, err, "outside the output folder")
    assert target.read_text() == "mine"


@pytest.mark.parametrize("name", ["sample_nuclei_foreground.tif", "sample_nuclei_comparison.png"])
def test_demo_never_replaces_a_users_file_but_replaces_its_own(tmp_path, name, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"the user's")
    code, _, err = invoke(["demo", "-o", out, "--radius", "10", "--method", "gaussian"],
                          monkeypatch)
    one_line_error(code, err, "exists and")
    assert (out / name).read_bytes() == b"the user's"
    assert sorted(p.name for p in out.iterdir()) == [name]  # (nothing written beside it)
    (out / name).unlink()
    for _ in range(2):  # (a rerun replaces what the demo wrote)
        code, _, err = invoke(["demo", "-o", out, "--radius", "10", "--method", "gaussian"],
                              monkeypatch)
        assert code == 0, err
    assert io.written_by_bgsub(out / "sample_nuclei_foreground.tif")
    assert io.is_bgsub_figure(out / "sample_nuclei_comparison.png")


# --- 2. lost inputs ----------------------------------------------------------------------------


def test_sweep_never_replaces_its_input(one, monkeypatch):
    before = one.read_bytes()
    code, _, err = invoke(["sweep", one, "-o", one, "-m", "gaussian", "--radius", "2,4"],
                          monkeypatch)
    one_line_error(code, err, "is an input and would be overwritten")
    assert one.read_bytes() == before


def test_sweep_through_a_link_to_its_input_is_refused(one, monkeypatch):
    link = one.parent / "link.png"
    link.symlink_to(one)
    before = one.read_bytes()
    code, _, err = invoke(["sweep", one, "-o", link, "-m", "gaussian", "--radius", "2"],
                          monkeypatch)
    one_line_error(code, err, "is an input")
    assert one.read_bytes() == before


def test_sweep_never_replaces_a_file_that_is_not_a_png(one, monkeypatch):
    other = one.parent / "other.tif"
    tifffile.imwrite(other, image(3))
    before = other.read_bytes()
    code, _, err = invoke(["sweep", one, "-o", other, "-m", "gaussian", "--radius", "2"],
                          monkeypatch)
    one_line_error(code, err, "a montage is a PNG")
    assert other.read_bytes() == before


@pytest.mark.parametrize("name", ["montage.tif", "montage.JPG", "montage.pdf", "montage"])
def test_a_montage_other_than_a_png_is_refused_before_reading(one, name, monkeypatch):
    """`sweep -o montage.tif` wrote a TIFF without bgsub's figure mark: a second sweep
    refused to replace it and `bgsub run` on the folder corrected it as an image."""
    from bgsub import cli

    monkeypatch.setattr(cli, "_lazy_image", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("read")))
    code, _, err = invoke(["sweep", one, "-o", one.parent / name, "-m", "gaussian",
                           "--radius", "2"], monkeypatch)
    stem = name.split(".")[0]
    one_line_error(code, err, f"a montage is a PNG, the format bgsub marks as its figure (a "
                   f"rerun replaces it, a run on its folder leaves it out); give -o "
                   f"{one.parent / stem}.png")
    assert sorted(p.name for p in one.parent.iterdir()) == ["a.tif"]


def _plain_png(path: Path) -> bytes:
    """A PNG figure saved by matplotlib itself (a user's plot), its bytes."""
    from matplotlib.figure import Figure

    Figure((1, 1)).savefig(path, format="png")
    return path.read_bytes()


def test_sweep_replaces_its_own_montage_but_never_a_png_it_did_not_write(one, monkeypatch):
    """A user's plot named like the montage (a.png, or the default a_sweep.png) is refused,
    so is a corrected image bgsub wrote as PNG (data, not a figure); a rerun replaces the
    montage it wrote before."""
    args = ["-m", "gaussian", "--radius", "2"]
    for name in ("a_sweep.png", "plot.png"):
        theirs = one.parent / name
        before = _plain_png(theirs)
        out = [] if name == "a_sweep.png" else ["-o", theirs]
        code, _, err = invoke(["sweep", one, *out, *args], monkeypatch)
        one_line_error(code, err, f"{name} exists and is not a figure bgsub wrote; choose "
                       "another -o, e.g. montage.png, or move that file away first")
        assert theirs.read_bytes() == before
        theirs.unlink()
    corrected = one.parent / "corrected.png"
    io.write_image(corrected, image(2) // 256, io.ImageMetadata(axes="YX"), format="png",
                   provenance={"bgsub_provenance": 1})
    assert io.written_by_bgsub(corrected) and not io.is_bgsub_figure(corrected)
    code, _, err = invoke(["sweep", one, "-o", corrected, *args], monkeypatch)
    one_line_error(code, err, "is not a figure bgsub wrote")
    montage = one.parent / "montage.png"
    for _ in range(2):  # (the second run replaces the first's montage)
        code, _, err = invoke(["sweep", one, "-o", montage, *args], monkeypatch)
        assert code == 0, err
        assert io.is_bgsub_figure(montage)


def test_a_sweeps_montage_beside_its_input_is_not_an_image_to_process(one, monkeypatch):
    """`bgsub sweep in/a.tif` writes in/a_sweep.png; `bgsub run in/` then corrected the montage
    as an image (out/a_sweep.png, a picture of pictures)."""
    code, _, err = invoke(["sweep", one, "-m", "gaussian", "--radius", "2"], monkeypatch)
    assert code == 0 and (one.parent / "a_sweep.png").exists(), err
    out = one.parent.parent / "out"
    for given in (one.parent, one.parent / "*.png"):
        code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", given, "-o", out],
                                   monkeypatch)
        if given == one.parent:
            assert code == 0 and sorted(p.name for p in out.glob("*.*")) == [
                "a.tif", "a.tif.bgsub.json"], (stdout, err)
        else:  # (only the montage matches: nothing to do, and why)
            assert code != 0 and "or a figure it drew" in err, err
    # named explicitly, a file is always taken (a PNG figure to process on purpose)
    code, _, err = invoke(["run", "--radius", "3", "-m", "gaussian", one.parent / "a_sweep.png",
                           "-o", out], monkeypatch)
    assert code == 0 and (out / "a_sweep.png").exists(), err


def test_run_never_replaces_a_users_file_where_its_figure_or_background_would_go(
        one, monkeypatch):
    """Only the main output was checked: a user's a_comparison.png or a_background.tif in
    the output folder was replaced without a word."""
    out = one.parent.parent / "out"
    out.mkdir()
    extra = ["--figure", "--save-background"]
    for name in ("a_comparison.png", "a_background.tif"):
        theirs = out / name
        if name.endswith(".png"):
            before = _plain_png(theirs)
        else:
            tifffile.imwrite(theirs, image(5))
            before = theirs.read_bytes()
        code, _, err = invoke([*RUN, one, "-o", out, *extra], monkeypatch)
        assert code == 1 and f"{theirs} exists and was not written by bgsub; pass --force " \
            "to replace it" in err, err
        assert theirs.read_bytes() == before and not (out / "a.tif").exists()
        theirs.unlink()
    code, _, err = invoke([*RUN, one, "-o", out, *extra], monkeypatch)
    assert code == 0, err
    assert io.is_bgsub_figure(out / "a_comparison.png")
    # a rerun with other settings replaces what the first run wrote, figure included, also a
    # figure of an earlier bgsub that carried no mark (its sidecar records it)
    _plain_png(out / "a_comparison.png")
    code, _, err = invoke([*RUN[:2], "4", *RUN[3:], one, "-o", out, *extra], monkeypatch)
    assert code == 0, err
    assert provenance.read_sidecar(out / "a.tif.bgsub.json")["parameters"]["radius"] == 4.0
    # --force replaces a user's file, as it does the main output
    (out / "a.tif.bgsub.json").unlink()
    (out / "a.tif").unlink()
    _plain_png(out / "a_comparison.png")
    code, _, err = invoke([*RUN, one, "-o", out, *extra], monkeypatch)
    assert code == 1
    code, _, err = invoke([*RUN, one, "-o", out, *extra, "--force"], monkeypatch)
    assert code == 0, err
    assert io.is_bgsub_figure(out / "a_comparison.png")


@pytest.mark.parametrize(("methods", "expected"), [
    ("bogus", "-m: unknown method 'bogus'; available methods: "),
    (",", "-m ',' names no method; give e.g. -m tophat,median"),
])
def test_sweep_of_an_unknown_method_is_a_usage_error_before_reading(one, methods, expected,
                                                                      monkeypatch):
    """`sweep -m bogus` read the image, then failed with exit 1."""
    from bgsub import cli

    monkeypatch.setattr(cli, "_lazy_image", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("read")))
    code, _, err = invoke(["sweep", one, "-m", methods, "-o", one.parent / "m.png"],
                          monkeypatch)
    one_line_error(code, err, expected)


def test_sweep_makes_its_montages_folder_as_run_makes_its_output_folder(one, monkeypatch):
    """`sweep -o nodir/x.png` computed every cell, then failed blaming the input."""
    from bgsub import cli

    out = one.parent.parent / "new" / "sub" / "m.png"
    code, _, err = invoke(["sweep", one, "-o", out, "-m", "gaussian", "--radius", "2"],
                          monkeypatch)
    assert code == 0 and io.is_bgsub_figure(out), err
    blocker = one.parent.parent / "file"
    blocker.write_text("mine")
    monkeypatch.setattr(cli, "_lazy_image", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("read")))
    code, _, err = invoke(["sweep", one, "-o", blocker / "m.png", "-m", "gaussian",
                           "--radius", "2"], monkeypatch)
    one_line_error(code, err, f"cannot write to output folder {blocker}: ", exit_code=1)
    assert blocker.read_text() == "mine"


def test_sweep_into_a_folder_is_a_usage_error(one, monkeypatch):
    code, _, err = invoke(["sweep", one, "-o", one.parent, "-m", "gaussian", "--radius", "2"],
                          monkeypatch)
    assert code == 2 and "Traceback" not in err


def _zarr_input(folder: Path) -> tuple[Path, bytes]:
    store = folder / "x.zarr"
    io.write_image(store, image(7), io.ImageMetadata(axes="YX"), format="zarr")
    return store, io.read_image(store)[0].tobytes()


def test_a_zarr_input_moved_aside_by_a_killed_overwrite_is_restored_not_deleted(tmp_path):
    store, pixels = _zarr_input(tmp_path)
    old = tmp_path / f".x.zarr.{dead_tag()}.bgsub-old"
    os.replace(store, old)  # killed between the two renames: the input is only here
    tmp = tmp_path / f".x.zarr.{dead_tag()}.bgsub-tmp"
    tmp.mkdir()
    removed = io.remove_stale_temp_files(tmp_path)
    assert removed == [tmp] and not old.exists()
    assert io.read_image(store)[0].tobytes() == pixels


def test_a_killed_overwrite_then_a_rerun_keeps_the_input(tmp_path, monkeypatch):
    store, pixels = _zarr_input(tmp_path)
    tifffile.imwrite(tmp_path / "b.tif", image(1))
    os.replace(store, tmp_path / f".x.zarr.{dead_tag()}.bgsub-old")
    code, _, err = invoke([*RUN, tmp_path / "b.tif", "-o", tmp_path, "--suffix", "_bg"],
                          monkeypatch)
    assert code == 0, err
    assert io.read_image(store)[0].tobytes() == pixels


def test_a_moved_aside_folder_whose_target_is_back_is_removed(tmp_path):
    store, _ = _zarr_input(tmp_path)
    old = tmp_path / f".x.zarr.{dead_tag()}.bgsub-old"
    old.mkdir()
    assert io.remove_stale_temp_files(tmp_path) == [old] and store.exists()


def test_a_moved_aside_folder_with_a_shortened_name_is_kept(tmp_path):
    old = tmp_path / f".{'x' * 40}~0123456789ab.{dead_tag()}.bgsub-old"
    old.mkdir()
    assert io.remove_stale_temp_files(tmp_path) == [] and old.exists()


@pytest.mark.parametrize("tag", ["-0123abcd", ""])  # another machine's, none (an older bgsub)
def test_temporary_files_of_another_machine_are_never_touched(tmp_path, tag):
    # a run on another node of a cluster sharing the folder, or in another container: its
    # process id says nothing here, and its live store must not be deleted under it
    store, pixels = _zarr_input(tmp_path)
    pid = dead_pid()
    live = tmp_path / f".y.zarr.{pid}{tag}.bgsub-tmp"
    live.mkdir()
    (live / "zarr.json").write_text("{}")
    old = tmp_path / f".x.zarr.{pid}{tag}.bgsub-old"
    os.replace(store, old)  # (between its two renames, over there)
    assert io.remove_stale_temp_files(tmp_path) == []
    assert (live / "zarr.json").exists() and old.exists() and not store.exists()


def test_an_interrupt_between_the_two_renames_puts_the_input_back(tmp_path, monkeypatch):
    store, pixels = _zarr_input(tmp_path)
    real_replace = os.replace

    def interrupted(src, dst):  # the second rename: the new store onto the input's name
        if Path(src).name.endswith(".bgsub-tmp") and Path(dst) == store:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(_atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.write_image(store, image(9), io.ImageMetadata(axes="YX"), format="zarr")
    monkeypatch.setattr(_atomic.os, "replace", real_replace)
    assert io.read_image(store)[0].tobytes() == pixels
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(HIDDEN_TEMP)]


# --- 3. memory blow-ups and hangs ----------------------------------------------------------------


def test_robust_grow_beyond_the_image_allocates_no_footprint(monkeypatch):
    from bgsub.methods import robust

    def no_footprint(*args, **kwargs):
        raise AssertionError("a footprint of grow**2 pixels was allocated")

    data = image(2, (64, 64)).astype(np.float32)
    reference = bgsub.estimate_background(data, "robust", 10, grow=200)
    monkeypatch.setattr(robust, "_ellipse", no_footprint)
    huge = bgsub.estimate_background(data, "robust", 10, grow=1e9)
    np.testing.assert_array_equal(huge, reference)  # beyond the diagonal: the same mask


def test_a_presmooth_size_far_beyond_the_image_is_refused_before_smoothing(monkeypatch):
    from bgsub import _presmooth

    def no_apply(*args, **kwargs):
        raise AssertionError("smoothed with a 20001x20001 box")

    monkeypatch.setattr(_presmooth.Presmooth, "apply", no_apply)
    for spec in ("median:10000", "mean:10000", "gaussian:5000"):
        with pytest.raises(ValueError, match=r"presmooth .* beyond the image \(64x64\)"):
            bgsub.subtract_background(image(0, (64, 64)), "gaussian", 5, presmooth=spec)


@pytest.mark.parametrize("spelling", ["NONE", "None", " none "])
def test_presmooth_none_is_read_in_any_case(one, spelling, monkeypatch):
    """`--presmooth NONE` failed (`presmooth kind 'none' is not known`) where `none` worked;
    methods, kinds and 'auto' are read in any case."""
    data = image(0, (32, 32))
    np.testing.assert_array_equal(
        bgsub.subtract_background(data, "gaussian", 5, presmooth=spelling),
        bgsub.subtract_background(data, "gaussian", 5, presmooth=None))
    code, _, err = invoke([*RUN, one, "-o", one.parent.parent / "out", "--presmooth", spelling],
                          monkeypatch)
    assert code == 0, err
    record = provenance.read_sidecar(one.parent.parent / "out" / "a.tif.bgsub.json")
    assert record["parameters"]["presmooth"] is None


def test_a_presmooth_size_a_little_beyond_the_image_still_runs():
    out = bgsub.subtract_background(image(0, (16, 16)), "gaussian", 5, presmooth="median:20")
    assert out.shape == (16, 16)


@pytest.mark.parametrize("radii", ["1:100000:1", "1:51:1", ",".join(["2"] * 51)])
def test_a_sweep_over_too_many_radii_is_refused_before_computing(one, radii, monkeypatch):
    from bgsub import plot

    monkeypatch.setattr(plot, "sweep", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("computed")))
    with alarm(120):
        code, _, err = invoke(["sweep", one, "--radius", radii], monkeypatch)
    one_line_error(code, err, "at most 50")


@pytest.mark.parametrize("radii", ["0,5", "nan:5:1", "1:inf:1", "-3", "5:1:1"])
def test_bad_sweep_radii_are_usage_errors(one, radii, monkeypatch):
    code, _, err = invoke(["sweep", one, "--radius", radii, "-m", "gaussian"], monkeypatch)
    assert code == 2 and "Traceback" not in err, err


def test_a_sweep_with_too_many_cells_is_refused(one, monkeypatch):
    methods = ",".join(["gaussian"] * 5)
    code, _, err = invoke(["sweep", one, "-m", methods, "--radius", "1:50:1"], monkeypatch)
    one_line_error(code, err, "cells")


@pytest.mark.parametrize(("sizes", "expected"), [
    (["--min-size", "1:15:1", "--max-size", "1:15:1"], "225 cells (15 minimum x 15 maximum "
     "sizes); it shows at most 200: use a larger step, e.g. --min-size 1:15:2, --max-size "
     "1:15:2"),
    (["--min-size", "1:50:1"], "2500 cells (50 minimum x 50 maximum sizes); it shows at most "
     "200: use a larger step, e.g. --min-size 1:50:4"),
    (["--max-size", "1:14:1"], None),  # (196 cells: computed)
])
def test_a_min_by_max_sweep_counts_its_real_cells(one, sizes, expected, monkeypatch):
    """The cap multiplied the unused -m methods by the longest list: a 15 x 15 grid (225
    cells) was drawn, --min-size 1:50:1 alone 2500."""
    from bgsub import cli

    monkeypatch.setattr(cli, "_lazy_image", lambda *a, **k: (_ for _ in ()).throw(
        OSError("read")))
    with alarm(60):
        code, _, err = invoke(["sweep", one, "-o", one.parent / "m.png", *sizes], monkeypatch)
    if expected is None:
        one_line_error(code, err, "a.tif: OSError: read", exit_code=1)
    else:
        one_line_error(code, err, f"the montage would have {expected}")


def test_a_tiny_zarr_store_with_huge_chunks_is_refused_under_the_limit(tmp_path, monkeypatch):
    import zarr

    store = tmp_path / "chunks.zarr"
    zarr.create_array(store, shape=(64, 64), chunks=(16384, 16384), dtype="uint16")
    assert sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) < 200_000
    monkeypatch.setenv("BGSUB_MAX_IMAGE_BYTES", "64M")
    for read in (io.read_image, io.open_image):
        with pytest.raises(io.ImageTooLargeError, match="Zarr chunk of 16384x16384 uint16"):
            read(store)


def _tiff_with_tile_tags(path: Path, side: int) -> Path:
    """A 64x64 tiled TIFF whose TileWidth and TileLength tags were changed to ``side``."""
    import struct

    tifffile.imwrite(path, np.ones((64, 64), np.uint16), tile=(64, 64), compression="zlib")
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        for code in (322, 323):
            tag = tif.pages[0].tags[code]
            fmt = "<H" if tag.dtype == 3 else "<I"
            data[tag.valueoffset:tag.valueoffset + struct.calcsize(fmt)] = struct.pack(fmt, side)
    path.write_bytes(bytes(data))
    return path


def test_a_tiff_whose_tile_tags_are_huge_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _tiff_with_tile_tags(tmp_path / "tiles.tif", 46000)
    monkeypatch.setenv("BGSUB_MAX_IMAGE_BYTES", "64M")
    for read in (io.read_image, io.open_image):
        with pytest.raises(io.ImageTooLargeError, match="TIFF tile of 1x46000x46000x1 uint16"):
            read(path)


def test_a_streamed_zarr_chunk_is_bounded_by_free_memory_without_the_variable(tmp_path,
                                                                            monkeypatch):
    import zarr

    from bgsub.io import _limits

    store = tmp_path / "chunks.zarr"
    zarr.create_array(store, shape=(8, 8), chunks=(4096, 4096), dtype="uint16")
    monkeypatch.delenv("BGSUB_MAX_IMAGE_BYTES", raising=False)
    monkeypatch.setattr(_limits, "available_memory", lambda: 16 * 2**20)
    with pytest.raises(io.ImageTooLargeError, match="Zarr chunk"):
        io.open_image(store)


def test_a_recursive_walk_enters_each_real_folder_once(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    tifffile.imwrite(folder / "a.tif", image())
    tifffile.imwrite(folder / "sub" / "b.tif", image(1))
    (folder / "l1").symlink_to(".")
    (folder / "l2").symlink_to(".")
    (folder / "sub" / "up").symlink_to("..")
    from bgsub import batch

    with alarm(120):
        sources, _ = batch.expand_inputs([str(folder)], recursive=True)
        globbed, _ = batch.expand_inputs([f"{folder}/**/*.tif"], recursive=True)
    assert sorted(s.relative.as_posix() for s in sources) == ["a.tif", "sub/b.tif"]
    assert sorted(s.relative.as_posix() for s in globbed) == ["a.tif", "sub/b.tif"]


# --- 4. silent wrong results ------------------------------------------------------------------


def test_a_truncated_compressed_stack_is_an_error_not_one_plane(tmp_path, monkeypatch):
    stack = np.stack([image(i) for i in range(10)])
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, stack, compression="zlib")
    data = full.read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.tif").write_bytes(data[:len(data) // 4])
    with pytest.raises(io.UnsupportedFileError, match="truncated TIFF"):
        io.read_image(tmp_path / "in" / "cut.tif")
    code, _, err = invoke([*RUN, tmp_path / "in", "-o", tmp_path / "out"], monkeypatch)
    assert code == 1 and "truncated TIFF" in err and "0 done" in err


def test_same_name_size_and_time_from_another_folder_is_not_up_to_date(tmp_path, monkeypatch):
    for name, seed in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        tifffile.imwrite(tmp_path / name / "x.tif", image(seed))
        os.utime(tmp_path / name / "x.tif", ns=(10**18, 10**18))
    assert (tmp_path / "a" / "x.tif").stat().st_size == (tmp_path / "b" / "x.tif").stat().st_size
    out = tmp_path / "out"
    assert invoke([*RUN, tmp_path / "a" / "x.tif", "-o", out], monkeypatch)[0] == 0
    code, _, err = invoke([*RUN, "-v", tmp_path / "b" / "x.tif", "-o", out], monkeypatch)
    assert code == 0, err
    result = io.read_image(out / "x.tif")[0]
    expected = bgsub.subtract_background(image(2), "gaussian", 3)
    np.testing.assert_array_equal(result, expected)


def test_the_same_content_in_another_folder_is_up_to_date(tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        tifffile.imwrite(tmp_path / name / "x.tif", image(1))
    out = tmp_path / "out"
    assert invoke([*RUN, tmp_path / "a" / "x.tif", "-o", out], monkeypatch)[0] == 0
    code, stdout, _ = invoke(["run", "--radius", "3", "-m", "gaussian", tmp_path / "b" / "x.tif",
                              "-o", out], monkeypatch)
    assert code == 0 and "0 done, 1 skipped" in stdout


def test_a_file_replaced_in_place_with_the_same_size_and_time_is_redone(one, monkeypatch):
    out = one.parent.parent / "out"
    assert invoke([*RUN, one, "-o", out], monkeypatch)[0] == 0
    stat = one.stat()
    replacement = one.parent / "new.tif"
    tifffile.imwrite(replacement, image(8))
    assert replacement.stat().st_size == stat.st_size
    os.replace(replacement, one)  # a new inode, as cp or a sync tool leaves it
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, stdout, _ = invoke(["run", "--radius", "3", "-m", "gaussian", one, "-o", out],
                             monkeypatch)
    assert code == 0 and "1 done" in stdout


def test_a_provenance_record_whose_input_changed_says_so(one, monkeypatch):
    out = one.parent.parent / "out"
    assert invoke([*RUN, one, "-o", out], monkeypatch)[0] == 0
    tifffile.imwrite(one, image(4))
    code, _, err = invoke(["run", "-q", "--config", out / "a.tif.bgsub.json", "-o",
                           one.parent.parent / "again"], monkeypatch)
    assert code == 0
    assert "bgsub: warning:" in err and "has changed since the record was made" in err
    # the record's settings on other images: its own input is not read, so not told of
    other = one.parent / "b.tif"
    tifffile.imwrite(other, image(5))
    one.unlink()
    code, _, err = invoke(["run", "-q", "--config", out / "a.tif.bgsub.json", other, "-o",
                           one.parent.parent / "others"], monkeypatch)
    assert code == 0 and "warning" not in err, err


def test_a_record_reproduces_a_shading_corrected_output_and_says_when_its_field_changed(
        one, monkeypatch):
    """The record kept the flat-field's name and hash but --config RECORD left the correction
    out: the reproduced output differed by up to 323 grey levels."""
    root = one.parent.parent
    flat = root / "flat.tif"
    tifffile.imwrite(flat, np.linspace(0.5, 1.5, 24 * 28, dtype=np.float32).reshape(24, 28))
    assert invoke([*RUN, one, "-o", root / "out", "--flatfield", flat], monkeypatch)[0] == 0
    monkeypatch.chdir(one.parent)  # (from another folder: the record holds resolved paths)
    code, _, err = invoke(["run", "-q", "--config", root / "out" / "a.tif.bgsub.json", "-o",
                           root / "again"], monkeypatch)
    assert code == 0 and "warning" not in err, err
    np.testing.assert_array_equal(tifffile.imread(root / "again" / "a.tif"),
                                  tifffile.imread(root / "out" / "a.tif"))
    tifffile.imwrite(flat, np.full((24, 28), 1.0, np.float32))
    code, _, err = invoke(["run", "-q", "--config", root / "out" / "a.tif.bgsub.json", "-o",
                           root / "third"], monkeypatch)
    assert code == 0
    assert f"bgsub: warning: {root / 'out' / 'a.tif.bgsub.json'}: {flat} has changed since " \
        "the record was made" in err, err


def test_a_masked_array_is_refused_not_silently_unmasked():
    data = np.ma.masked_array(image().astype(np.float32), mask=np.zeros((24, 28), bool))
    data.mask[3:6, 3:6] = True
    with pytest.raises(TypeError, match="9 pixel\\(s\\) masked"):
        bgsub.subtract_background(data, "gaussian", 3)
    unmasked = np.ma.masked_array(image().astype(np.float32))
    np.testing.assert_array_equal(bgsub.subtract_background(unmasked, "gaussian", 3),
                                  bgsub.subtract_background(unmasked.data, "gaussian", 3))


def test_a_constant_image_has_no_objects():
    from bgsub.auto import suggest_radius

    found = suggest_radius(np.full((256, 256), 7, np.uint16))
    assert np.isnan(found.object_radius) and "no object" in found.reason


# --- 5. tracebacks -------------------------------------------------------------------------------

CONFIGS = {
    "options = \"x\"": ('method = "gaussian"\noptions = "x"\n', "options = 'x' must be a table"),
    "options = [1, 2]": ("options = [1, 2]\n", "options = [1, 2] must be a table"),
    "pipeline not a table": ('[pipelines]\nx = 5\n', "pipeline 'x' = 5 must be a table"),
    "imagej a number": ("imagej = 5\n", "imagej = 5 must be text"),
    "suffix a number": ("suffix = 5\n", "suffix=5 must be part of a file name"),
    "radius a table": ("[radius]\nx = 1\n", "radius="),
    "method a list": ('method = ["a"]\n', "config"),
    "series a table": ("[series]\n", "series="),
    "format a number": ("format = 3\n", "format=3 is not known"),
    "figure_plane negative": ("figure_plane = -1\n", "figure_plane=-1"),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_malformed_toml_values_are_one_line_errors_naming_file_and_key(one, case, monkeypatch):
    text, expected = CONFIGS[case]
    config = one.parent.parent / "bad.toml"
    config.write_text(text)
    code, _, err = invoke(["run", one, "-o", one.parent.parent / "out", "--config", config],
                          monkeypatch)
    one_line_error(code, err, expected)
    assert str(config) in err and not (one.parent.parent / "out").exists()


YAMLS = {
    "integer key": ("1: 2\n", "unknown setting '1'"),
    "options a list": ("options: [1, 2]\n", "options = [1, 2] must be a table"),
    "aliases": ("a: &a [1, 2]\nradius: *a\nmethod: gaussian\nb: *a\n", "unknown setting 'a'"),
}


@pytest.mark.parametrize("case", YAMLS)
def test_malformed_yaml_values_are_one_line_errors(one, case, monkeypatch):
    pytest.importorskip("yaml")
    text, expected = YAMLS[case]
    config = one.parent.parent / "bad.yaml"
    config.write_text(text)
    code, _, err = invoke(["run", one, "-o", one.parent.parent / "out", "--config", config],
                          monkeypatch)
    one_line_error(code, err, expected)


def test_a_non_utf8_toml_is_a_one_line_error(one, monkeypatch):
    config = one.parent.parent / "latin1.toml"
    config.write_bytes('description = "Zellkern \u00e4"\nradius = 3\n'.encode("latin-1"))
    code, _, err = invoke(["run", one, "-o", one.parent.parent / "out", "--config", config],
                          monkeypatch)
    one_line_error(code, err, "is not UTF-8 text (byte 0xe4")


def test_a_config_that_is_not_a_regular_file_or_too_large_is_refused(one, monkeypatch):
    root = one.parent.parent
    fifo = root / "fifo.toml"
    os.mkfifo(fifo)
    big = root / "big.toml"
    big.write_text("#" * (2**20 + 10))
    for config, expected in ((fifo, "is not a regular file"), ("/dev/zero", "not a regular"),
                             (big, "larger than 1 MiB")):
        with alarm(120):
            code, _, err = invoke(["run", one, "-o", root / "out", "--config", config],
                                  monkeypatch)
        one_line_error(code, err, expected)


RECORDS = {
    "parameters a string": ({"parameters": "x"}, "parameters = 'x' must be a table"),
    "input a list": ({"input": []}, "input = [] must be a table"),
    "settings a number": ({"settings": 7}, "settings = 7 must be a table"),
    "options a string": ({"parameters": {"method": "gaussian", "options": "x"}},
                         "parameters.options = 'x' must be a table"),
    "options a list": ({"parameters": {"options": [1, 2]}}, "must be a table"),
    "radius text": ({"parameters": {"radius": "big"}}, "radius='big' must be a number"),
    "suffix a path": ({"settings": {"suffix": "/../x"}}, "suffix='/../x'"),
    "flatfield a number": ({"settings": {"flatfield": 5}}, "flatfield=5 must be a file name"),
}


@pytest.mark.parametrize("case", RECORDS)
def test_malformed_provenance_values_are_one_line_errors(one, case, monkeypatch):
    changes, expected = RECORDS[case]
    record = {"bgsub_provenance": 1, "parameters": {"method": "gaussian", "radius": 3},
              "input": {"path": str(one)}, "settings": {}}
    record.update(changes)
    sent = one.parent.parent / "sent.bgsub.json"
    sent.write_text(json.dumps(record))
    code, _, err = invoke(["run", "--config", sent, "-o", one.parent.parent / "out"],
                          monkeypatch)
    one_line_error(code, err, expected)
    assert str(sent) in err


STRAY = {
    "input a list": {"bgsub_provenance": 1, "input": [], "outputs": {}},
    "outputs a list": {"bgsub_provenance": 1, "outputs": []},
    "output entry a string": {"bgsub_provenance": 1, "outputs": {"image": "x"}},
    "output path a number": {"bgsub_provenance": 1, "outputs": {"image": {"path": 5}}},
    "input path a table": {"bgsub_provenance": 1, "input": {"path": {}}, "outputs": {}},
}


@pytest.mark.parametrize("case", STRAY)
def test_a_stray_sidecar_in_an_input_folder_never_aborts_the_batch(one, case, monkeypatch):
    (one.parent / "stray.tif.bgsub.json").write_text(json.dumps(STRAY[case]))
    code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", one.parent, "-o",
                                one.parent.parent / "out"], monkeypatch)
    assert code == 0 and "1 done" in stdout, err


@pytest.mark.parametrize("case", STRAY)
def test_a_damaged_sidecar_next_to_an_output_means_redo(one, case, monkeypatch):
    out = one.parent.parent / "out"
    assert invoke([*RUN, one, "-o", out], monkeypatch)[0] == 0
    (out / "a.tif.bgsub.json").write_text(json.dumps(STRAY[case]))
    code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", one, "-o", out],
                               monkeypatch)
    assert code == 0 and "1 done" in stdout, err


@pytest.mark.parametrize("radius, expected", [("-5", "out of range"), ("0", "out of range"),
                                              ("nan", "out of range"), ("inf", "out of range"),
                                              ("big", "not a number")])
def test_demo_with_a_bad_radius_is_one_line(tmp_path, radius, expected, monkeypatch):
    code, _, err = invoke(["demo", "-o", tmp_path / "demo", "--radius", radius], monkeypatch)
    one_line_error(code, err, expected)
    assert not (tmp_path / "demo").exists()


def test_demo_with_an_unknown_method_is_one_line(tmp_path, monkeypatch):
    code, _, err = invoke(["demo", "-o", tmp_path / "demo", "--method", "rolling_pin", "--radius",
                           "5"], monkeypatch)
    one_line_error(code, err, "unknown method 'rolling_pin'")


def test_dog_with_low_sigma_above_the_radius_is_one_line_before_any_file(one, monkeypatch):
    out = one.parent.parent / "out"
    code, _, err = invoke(["run", one, "-o", out, "-m", "dog", "--radius", "5", "-O",
                           "low_sigma=8"], monkeypatch)
    one_line_error(code, err, "dog: low_sigma=8 must be below high_sigma (default: the radius, 5)")
    assert not out.exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["-m", "gaussian", "-O", "sigma=nan"], "gaussian: sigma=nan is out of range; use a finite "
                                            "number > 0"),
    (["-m", "gaussian", "-O", "sigma=-inf"], "gaussian: sigma=-inf is out of range"),
    (["--imagej", "rolling=50 light", "-m", "tophat"],
     "--imagej 'rolling=50 light' runs the imagej method, but --method tophat asks for another; "
     "drop --method to reproduce ImageJ, or drop --imagej and set tophat with --radius"),
])
def test_a_misleading_usage_error_names_the_problem_and_the_fix(one, args, expected,
                                                               monkeypatch):
    # (sigma=nan "must be a number, got 'nan'"; --imagej with -m tophat listed the imagej
    # options the user never typed, create_background, ..., as unknown to tophat)
    out = one.parent.parent / "out"
    code, _, err = invoke(["run", one, "-o", out, *args], monkeypatch)
    one_line_error(code, err, expected)
    assert not out.exists()


def test_radius_auto_in_any_case_is_the_automatic_radius_on_every_face(one, monkeypatch):
    image = tifffile.imread(one)
    expected = bgsub.subtract_background(image, "tophat", "auto")
    np.testing.assert_array_equal(bgsub.subtract_background(image, "tophat", "Auto"), expected)
    out = one.parent.parent / "out"
    code, _, err = invoke(["run", one, "-o", out, "-m", "tophat", "--radius", "AUTO", "-q"],
                          monkeypatch)
    assert code == 0, err
    np.testing.assert_array_equal(tifffile.imread(out / "a.tif"), expected)


def test_a_records_method_replaced_on_the_command_line_leaves_its_options(one, monkeypatch):
    # (the record holds every option of its method: "got unknown option(s) dilation_radius,
    # footprint" for rolling_ball)
    root = one.parent.parent
    assert invoke(["run", one, "-o", root / "rec", "-m", "tophat", "--radius", "5", "-q"],
                  monkeypatch)[0] == 0
    record = root / "rec" / "a.tif.bgsub.json"
    code, _, err = invoke(["run", "--config", record, "-o", root / "out", "-m", "rolling_ball",
                           "-O", "height=4", "-q"], monkeypatch)
    assert code == 0, err
    parameters = json.loads((root / "out" / "a.tif.bgsub.json").read_text())["parameters"]
    assert (parameters["method"], parameters["radius"]) == ("rolling_ball", 5.0)
    assert parameters["options"] == {"envelope": False, "height": 4}
    expected = bgsub.subtract_background(tifffile.imread(one), "rolling_ball", 5, height=4)
    np.testing.assert_array_equal(tifffile.imread(root / "out" / "a.tif"), expected)


def test_a_bad_option_in_a_toml_config_is_told_in_tomls_words(one, monkeypatch):
    config = one.parent.parent / "lab.toml"
    config.write_text('method = "rolling_ball"\nradius = 5\noptions = {envelope = "true"}\n')
    code, _, err = invoke(["run", one, "-o", one.parent.parent / "out", "--config", config],
                          monkeypatch)
    one_line_error(code, err, 'rolling_ball: envelope="true" must be true or false')


# --- 6. misleading and permanent failures -----------------------------------------------------


def test_a_250_character_name_is_written_and_then_up_to_date(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    name = "n" * 246 + ".tif"
    tifffile.imwrite(tmp_path / "in" / name, image())
    out = tmp_path / "out"
    code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", tmp_path / "in",
                                "-o", out], monkeypatch)
    assert code == 0 and "1 done" in stdout, err
    assert (out / name).exists() and provenance.sidecar_path(out / name).exists()
    code, stdout, _ = invoke(["run", "--radius", "3", "-m", "gaussian", tmp_path / "in", "-o",
                              out], monkeypatch)
    assert code == 0 and "0 done, 1 skipped" in stdout
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_a_name_too_long_for_its_suffix_fails_alone_with_the_fix(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / ("n" * 250 + ".tif"), image())
    tifffile.imwrite(tmp_path / "in" / "short.tif", image(1))
    code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", tmp_path / "in",
                                "-o", tmp_path / "out", "--suffix", "_background_corrected"],
                               monkeypatch)
    assert code == 1 and "1 done" in err and "use a shorter input name or --suffix" in err


def test_temporary_names_of_long_targets_fit_and_stay_apart(tmp_path):
    a = _atomic.temp_path_for(tmp_path / ("x" * 250 + "a.tif"))
    b = _atomic.temp_path_for(tmp_path / ("x" * 250 + "b.tif"))
    assert a != b and len(os.fsencode(a.name)) <= 255 and _atomic.is_temp_name(a.name)


def test_a_name_with_a_byte_that_is_not_utf8_is_done_and_then_up_to_date(tmp_path,
                                                                        monkeypatch):
    (tmp_path / "in").mkdir()
    name = os.fsdecode(b"a\xffb.tif")
    tifffile.imwrite(tmp_path / "in" / name, image())
    out = tmp_path / "out"
    args = ["run", "--radius", "3", "-m", "gaussian", tmp_path / "in", "-o", out]
    code, stdout, err = invoke(args, monkeypatch)
    assert code == 0 and "1 done" in stdout, err
    assert provenance.read_sidecar(provenance.sidecar_path(out / name)) is not None
    code, stdout, _ = invoke(args, monkeypatch)
    assert code == 0 and "0 done, 1 skipped" in stdout


@pytest.mark.parametrize("flag", ["-n", "-v"])
def test_a_name_that_is_not_utf8_is_printed_escaped_not_a_traceback(tmp_path, flag,
                                                                    monkeypatch):
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / os.fsdecode(b"a\xffb.tif"), image())
    code, stdout, err = invoke(["run", "--radius", "3", "-m", "gaussian", flag,
                                tmp_path / "in", "-o", tmp_path / "out"], monkeypatch)
    assert code == 0 and "Traceback" not in err, err
    assert "a\\udcffb.tif" in stdout


def test_chunks_that_cut_an_image_into_too_many_pieces_are_refused(tmp_path, monkeypatch):
    """``--chunks 1,1`` on a 600x600 image would be 360,000 Dask tasks: refused for that file,
    before any task is built; the same size with automatic chunks runs."""
    from bgsub import stream

    src = tmp_path / "big.tif"
    tifffile.imwrite(src, image(1, (600, 600)))
    monkeypatch.setattr(stream, "MAX_CHUNKS", 10_000)
    code, _, stderr = invoke(["run", src, "-o", tmp_path / "out", "--method", "tophat",
                              "--radius", "3", "--chunks", "1,1"], monkeypatch)
    assert code == 1 and "Traceback" not in stderr, stderr
    assert "pieces, more than 10000 tasks to plan; use larger --chunks" in stderr
    assert not (tmp_path / "out" / "big.tif").exists()
    code, _, stderr = invoke(["run", src, "-o", tmp_path / "auto", "--method", "tophat",
                              "--radius", "3", "--chunks", "auto"], monkeypatch)
    assert code == 0, stderr


def test_jobs_beyond_256_threads_are_a_usage_error(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "a.tif", image())
    code, _, stderr = invoke(["run", tmp_path / "a.tif", "-o", tmp_path / "out", "-j",
                              "100000"], monkeypatch)
    assert code == 2 and "100000 is not in the range" in stderr and "Traceback" not in stderr
