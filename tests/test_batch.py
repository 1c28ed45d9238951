"""bgsub.batch and bgsub.config: inputs, planning, skipping, settings files."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

import bgsub
from bgsub import batch, cli, io
from bgsub.config import ConfigError, Settings, load_config, parse_option
from bgsub.data import synthetic


@pytest.fixture()
def tree(tmp_path) -> Path:
    """in/a.tif, in/b.tif, in/sub/c.tif, in/sub/deep/d.png, in/notes.txt, in/.hidden.tif"""
    root = tmp_path / "in"
    (root / "sub" / "deep").mkdir(parents=True)
    image = synthetic((40, 44), seed=5).image
    for name in ("a.tif", "b.tif", "sub/c.tif", ".hidden.tif"):
        tifffile.imwrite(root / name, image)
    io.write_image(root / "sub/deep/d.png", (image // 16).astype(np.uint8),
                   io.ImageMetadata("YX"), format="png")
    (root / "notes.txt").write_text("not an image")
    return root


def names(sources):
    return sorted(s.relative.as_posix() for s in sources)


def test_folders_globs_and_recursion_expand_to_images(tree):
    assert names(batch.expand_inputs([str(tree)])[0]) == ["a.tif", "b.tif"]
    assert names(batch.expand_inputs([str(tree)], recursive=True)[0]) == [
        "a.tif", "b.tif", "sub/c.tif", "sub/deep/d.png"]
    assert names(batch.expand_inputs([f"{tree}/*.tif"])[0]) == ["a.tif", "b.tif"]
    assert names(batch.expand_inputs([f"{tree}/**/*.tif"], recursive=True)[0]) == [
        "a.tif", "b.tif", "sub/c.tif"]
    sources, problems = batch.expand_inputs([str(tree / "a.tif"), f"{tree}/a*",
                                             str(tree / "nope.tif")])
    assert names(sources) == ["a.tif"]  # deduplicated
    assert [p.status for p in problems] == ["failed"]


def test_an_input_that_finds_nothing_says_why(tree, tmp_path):
    """A missing path, a folder without images (or with them only below), a pattern that
    matches nothing and a folder of earlier outputs each get their own reason and fix."""
    (tmp_path / "empty").mkdir()
    only_below = tmp_path / "below"
    (only_below / "deep").mkdir(parents=True)
    tifffile.imwrite(only_below / "deep" / "a.tif", np.zeros((8, 8), np.uint16))
    outputs = tmp_path / "out"
    with pytest.raises(SystemExit) as ended:
        cli.main(["run", str(tree / "a.tif"), "-o", str(outputs), "--radius", "5"],
                 standalone_mode=False)
    assert ended.value.code == 0

    def why(pattern: str) -> str:
        sources, problems = batch.expand_inputs([pattern])
        assert not sources and [p.status for p in problems] == ["failed"]
        return problems[0].message

    assert why(str(tmp_path / "nope.tif")).startswith("no such file or folder")
    assert "no image files in this folder (" in why(str(tmp_path / "empty"))
    assert "add -r" in why(str(only_below))
    assert why(f"{tree}/*.jpg").startswith("no image file matches this pattern")
    assert why(str(outputs)).startswith("the image found is an output of an earlier bgsub run")
    assert batch.expand_inputs([str(outputs / "a.tif")])[0]  # named itself: taken


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "png", "--output-dtype", "float"], "PNG holds uint8 or uint16 pixels"),
    (["--format", "imagej", "--output-dtype", "float64"], "ImageJ hyperstacks hold uint8"),
])
def test_an_output_the_format_cannot_hold_fails_before_the_image_is_computed(
        tree, tmp_path, monkeypatch, capsys, args, message):
    # (the writer refused it after the background was computed: minutes on a large image)
    def never(*_args, **_kwargs):
        raise AssertionError("computed before the output was checked")

    monkeypatch.setattr(batch, "process", never)
    with pytest.raises(SystemExit) as ended:
        cli.main(["run", str(tree / "a.tif"), "-o", str(tmp_path / "out"), "--radius", "5",
                  *args], standalone_mode=False)
    said = capsys.readouterr().err
    assert ended.value.code == 1 and message in said and "computed before" not in said
    monkeypatch.undo()  # (and a writable one is computed and written)
    with pytest.raises(SystemExit) as ended:
        cli.main(["run", str(tree / "a.tif"), "-o", str(tmp_path / "ok"), "--radius", "5",
                  "--format", args[1]], standalone_mode=False)
    assert ended.value.code == 0


def plan(tree, outdir, settings=None, **kwargs):
    sources, _ = batch.expand_inputs([str(tree)], recursive=True)
    return batch.plan_jobs(sources, outdir, (settings or Settings(radius=5)).validated(),
                           **kwargs)


def test_outputs_mirror_the_input_tree_and_collisions_are_refused(tree, tmp_path):
    jobs, problems = plan(tree, tmp_path / "out")
    assert not problems
    assert sorted(j.output.relative_to(tmp_path / "out").as_posix() for j in jobs) == [
        "a.tif", "b.tif", "sub/c.tif", "sub/deep/d.png"]
    flat = [batch.Source(tree / "a.tif", Path("a.tif")),
            batch.Source(tree / "sub/c.tif", Path("a.tif"))]
    with pytest.raises(batch.PlanError, match="would both write"):
        batch.plan_jobs(flat, tmp_path / "out", Settings().validated())
    assert not (tmp_path / "out").exists()


def test_inputs_are_overwritten_only_in_place_with_overwrite(tree):
    sources = [batch.Source(tree / "a.tif", Path("a.tif"))]
    with pytest.raises(batch.PlanError, match="pass --overwrite"):
        batch.plan_jobs(sources, tree, Settings().validated())
    jobs, _ = batch.plan_jobs(sources, tree, Settings().validated(), overwrite=True)
    assert jobs[0].in_place
    # the background of a.tif would land on another input: never allowed, even in place
    tifffile.imwrite(tree / "a_background.tif", np.zeros((4, 4), np.uint8))
    other = [batch.Source(tree / "a.tif", Path("a.tif"))]
    with pytest.raises(batch.PlanError, match="choose another output folder"):
        batch.check_collisions(
            batch.plan_jobs(other, tree, Settings(save_background=True).validated(),
                            overwrite=True)[0], [tree / "a.tif", tree / "a_background.tif"],
            overwrite=True)


def run_all(jobs, settings):
    return batch.run_batch([j for j in jobs if j.action == "run"], settings.validated())


def test_up_to_date_outputs_are_skipped_until_settings_or_input_change(tree, tmp_path):
    out = tmp_path / "out"
    settings = Settings(radius=5)
    jobs, _ = plan(tree, out, settings)
    batch.prepare_folders(jobs)
    assert {r.status for r in run_all(jobs, settings)} == {"done"}
    assert {j.action for j in plan(tree, out, settings)[0]} == {"skip"}
    assert {j.action for j in plan(tree, out, settings, force=True)[0]} == {"run"}
    changed = plan(tree, out, Settings(radius=6))[0]
    assert {(j.action, j.reason) for j in changed} == {("run", "settings changed")}
    image = tifffile.imread(tree / "a.tif")
    recorded = (tree / "a.tif").stat().st_mtime_ns
    tifffile.imwrite(tree / "a.tif", image + 1)
    # edited later (a coarse file clock could give the rewrite the recorded time)
    os.utime(tree / "a.tif", ns=(recorded + 10**9, recorded + 10**9))
    actions = {j.source.path.name: (j.action, j.reason) for j in plan(tree, out, settings)[0]}
    assert actions["a.tif"] == ("run", "input changed")
    assert actions["b.tif"] == ("skip", "up to date")
    os.utime(tree / "b.tif", ns=(1, 1))  # touched, same bytes: still up to date (hash)
    assert {j.source.path.name: j.action for j in plan(tree, out, settings)[0]}["b.tif"] == "skip"


def test_a_foreign_file_in_the_output_folder_is_not_replaced_without_force(tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tifffile.imwrite(out / "a.tif", np.zeros((3, 3), np.uint8))
    jobs = {j.source.path.name: j for j in plan(tree, out)[0]}
    assert jobs["a.tif"].action == "refuse" and "--force" in jobs["a.tif"].reason
    assert {j.source.path.name: j for j in plan(tree, out, force=True)[0]}["a.tif"].action == \
        "run"


def test_one_bad_file_fails_alone_with_a_one_line_reason(tree, tmp_path):
    (tree / "bad.tif").write_bytes(b"II*\0" + b"\0" * 4)
    (tree / "bool.tif").write_bytes(b"")
    tifffile.imwrite(tree / "bool.tif", np.zeros((8, 8), bool))
    jobs, problems = plan(tree, tmp_path / "out")
    results = run_all(jobs, Settings(radius=5)) + problems
    status = {r.path.name: (r.status, r.message) for r in results}
    assert status["bad.tif"][0] == "failed" and "\n" not in status["bad.tif"][1]
    assert status["bool.tif"][0] == "failed" and "boolean" in status["bool.tif"][1]
    assert status["a.tif"][0] == "done" and status["sub/c.tif".split("/")[-1]][0] == "done"


def test_an_unwritable_output_folder_is_one_clean_error(tree, tmp_path, monkeypatch):
    """Simulated in-process (root ignores chmod); tests/test_cli.py uses a real ro mount."""
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    jobs, _ = plan(tree, tmp_path / "out")
    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(batch.PlanError, match="Read-only file system; choose a writable"):
        batch.prepare_folders(jobs)


def test_a_write_failure_mid_batch_fails_that_file_only(tree, tmp_path, monkeypatch):
    jobs, _ = plan(tree, tmp_path / "out")
    batch.prepare_folders(jobs)
    real = io.write_image

    def flaky(path, *args, **kwargs):
        if Path(path).name == "b.tif":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(io, "write_image", flaky)
    results = {r.path.name: r for r in run_all(jobs, Settings(radius=5))}
    assert results["b.tif"].status == "failed"
    assert results["b.tif"].message.startswith("No space left on device")
    assert results["a.tif"].status == "done"


def test_block_by_block_processing_equals_one_call():
    image = synthetic((3, 2, 30, 34), seed=2).image
    params = {"method": "tophat", "radius": 4.0, "axes": "TCYX", "true_3d": False,
              "spacing": None, "light_background": False, "presmooth": "gaussian:1",
              "output_dtype": "same", "offset": 0.0, "options": {"footprint": "box"}}
    ticks = []
    fg, bg = batch.process(image, params, True, progress=lambda *step: ticks.append(step))
    ref_fg, ref_bg = bgsub.subtract_background(image, "tophat", 4.0, axes="TCYX",
                                               presmooth="gaussian:1", footprint="box",
                                               return_background=True)
    np.testing.assert_array_equal(fg, ref_fg)
    np.testing.assert_array_equal(bg, ref_bg)
    assert ticks == [(done, 6) for done in range(7)]


def test_spacing_auto_uses_the_file_pixel_size_in_3d_only_when_it_matters():
    meta = io.ImageMetadata("ZYX", spacing={"Z": 2.0, "Y": 0.5, "X": 0.5},
                            units={a: "µm" for a in "ZYX"})
    shape = (4, 10, 10)
    assert batch.resolve_parameters(Settings(true_3d=True).validated(), meta,
                                    shape)["spacing"] == [2.0, 0.5, 0.5]
    assert batch.resolve_parameters(Settings().validated(), meta, shape)["spacing"] is None
    assert batch.resolve_parameters(Settings(true_3d=True, spacing="none").validated(), meta,
                                    shape)["spacing"] is None
    with pytest.raises(ValueError, match="--axes"):
        batch.resolve_parameters(Settings(axes="YX").validated(), meta, shape)
    with pytest.raises(ValueError, match="--3d needs a Z axis"):
        batch.resolve_parameters(Settings(true_3d=True).validated(),
                                 io.ImageMetadata("IYX"), shape)


LAB = """
default = "nuclei"

[pipelines.nuclei]
description = "DAPI, 60x"
method = "tophat"
radius = 8
light = false
presmooth = "gaussian:1"
[pipelines.nuclei.options]
footprint = "box"

[pipelines.brightfield]
method = "paraboloid"
radius = 40
light = true
"""


def test_config_files_hold_named_or_single_pipelines(tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text(LAB)
    values, inputs = load_config(lab)
    settings = Settings().updated(values).validated()
    assert (settings.method, settings.radius, settings.presmooth) == ("tophat", 8.0,
                                                                      "gaussian:1")
    assert settings.options == {"footprint": "box", "dilation_radius": None} and not inputs
    bright = Settings().updated(load_config(lab, "brightfield")[0]).validated()
    assert bright.light_background and bright.method == "paraboloid"
    with pytest.raises(ConfigError, match="no pipeline 'nope'; choose one of nuclei"):
        load_config(lab, "nope")
    single = tmp_path / "one.toml"
    single.write_text('method = "median"\nradius = 3\n"3d" = true\n')
    assert Settings().updated(load_config(single)[0]).validated().true_3d
    single.write_text('method = "median"\nradus = 3\n')
    with pytest.raises(ConfigError, match="unknown setting 'radus'"):
        load_config(single)
    yaml = pytest.importorskip("yaml")
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump({"pipelines": {"x": {"radius": 7}}}))
    assert load_config(tmp_path / "lab.yaml")[0]["radius"] == 7


def test_settings_are_validated_with_one_line_errors():
    with pytest.raises(ConfigError, match="unknown method"):
        Settings(method="rolling").validated()
    with pytest.raises(ConfigError, match="unknown option"):
        Settings(options={"footprint": "box"}).validated()
    with pytest.raises(ConfigError, match="output_dtype"):
        Settings(output_dtype="int8").validated()
    assert Settings(radius="2,8,8").validated().radius == (2.0, 8.0, 8.0)
    assert parse_option("footprint=box") == ("footprint", "box")
    assert parse_option("height=2.5") == ("height", 2.5)


@pytest.mark.parametrize(("options", "config", "api"), [
    ({"envelope": "true"}, 'rolling_ball: envelope="true" must be true or false',
     "rolling_ball: envelope='true' must be True or False"),
    ({"footprint": "star"}, 'footprint="star" is not accepted; use one of "disk", "box"',
     "footprint='star' is not accepted; use one of 'disk', 'box'"),
])
def test_a_bad_option_value_is_written_as_the_settings_write_it(options, config, api):
    # (a TOML config's envelope = "true" was told to "use one of False, True": Python's words)
    method = "rolling_ball" if "envelope" in options else "tophat"
    with pytest.raises(ConfigError) as info:
        Settings(method=method, radius=5, options=options).validated()
    assert config in str(info.value)
    with pytest.raises(ValueError) as info:  # (the API keeps Python's spelling)
        bgsub.subtract_background(np.zeros((8, 8)), method, 3, **options)
    assert api in str(info.value)


def test_a_method_named_later_leaves_the_options_of_the_one_it_replaces(tmp_path):
    record = Settings().updated({"method": "tophat", "options": {"footprint": "box",
                                                                 "dilation_radius": None}})
    other = record.updated({"method": "rolling_ball", "options": {"height": 5.0}}, "tophat")
    assert other.validated().options == {"envelope": False, "height": 5.0}
    alias = record.updated({"method": "Opening"}, "tophat")  # (the same method: kept)
    assert alias.validated().options == {"footprint": "box", "dilation_radius": None}
    # a config that names no method gives its options to the one named later
    loose = Settings().updated({"options": {"footprint": "box"}})
    assert loose.updated({"method": "median"}, None).validated().options["footprint"] == "box"
    both = tmp_path / "both.toml"
    both.write_text('imagej = "rolling=50"\nmethod = "tophat"\n')
    with pytest.raises(ConfigError, match="imagej = 'rolling=50' runs the imagej method, but "
                       "method = 'tophat' asks for another; keep one of them"):
        load_config(both)


def test_a_provenance_record_is_a_config_that_reproduces_its_output(tree, tmp_path):
    settings = Settings(method="tophat", radius=5, presmooth="median:1")
    jobs, _ = plan(tree, tmp_path / "out", settings)
    batch.prepare_folders(jobs)
    run_all(jobs, settings)
    sidecar = tmp_path / "out" / "a.tif.bgsub.json"
    record = json.loads(sidecar.read_text())
    assert record["parameters"]["method"] == "tophat" and record["bgsub_version"] == \
        bgsub.__version__
    values, inputs = load_config(sidecar)
    assert inputs == [str((tree / "a.tif").resolve())]
    again = Settings().updated(values).validated()
    sources, _ = batch.expand_inputs(inputs)
    jobs, _ = batch.plan_jobs(sources, tmp_path / "again", again)
    batch.prepare_folders(jobs)
    batch.run_batch(jobs, again)
    assert (tmp_path / "again/a.tif").read_bytes() == (tmp_path / "out/a.tif").read_bytes()


def test_outputs_written_into_an_input_folder_are_not_taken_as_inputs_again(tree):
    settings = Settings(radius=5, suffix="_bg", save_background=True)
    sources = [batch.Source(tree / "a.tif", Path("a.tif"))]
    jobs, _ = batch.plan_jobs(sources, tree, settings.validated())
    batch.run_batch(jobs, settings.validated())
    assert (tree / "a_bg.tif").exists() and (tree / "a_bg_background.tif").exists()
    assert names(batch.expand_inputs([str(tree)])[0]) == ["a.tif", "b.tif"]
    assert names(batch.expand_inputs([str(tree / "a_bg.tif")])[0]) == ["a_bg.tif"]  # named


@pytest.mark.parametrize(("cores", "workers", "each"), [(4, 1, 4), (4, 2, 2), (5, 2, 2),
                                                         (4, 8, 1)])
def test_files_run_at_once_share_the_cores_between_their_kernels(tree, tmp_path, monkeypatch,
                                                                 cores, workers, each):
    from bgsub.kernels.threads import num_threads

    monkeypatch.setenv("BGSUB_NUM_THREADS", str(cores))
    seen = []
    run_job = batch.run_job

    def recording(*args, **kwargs):
        seen.append(num_threads())
        return run_job(*args, **kwargs)

    monkeypatch.setattr(batch, "run_job", recording)
    jobs, _ = plan(tree, tmp_path / "out")
    results = batch.run_batch(jobs, Settings(radius=5), workers=workers)
    assert {r.status for r in results} == {"done"} and len(seen) == len(jobs)
    assert set(seen) == {each}


def test_small_files_run_one_per_core_by_default(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("BGSUB_NUM_THREADS", "2")
    jobs, _ = plan(tree, tmp_path / "out")
    assert len(jobs) == 4 and batch.default_workers(jobs) == 2
    assert batch.default_workers(jobs[:1]) == 1  # (one file: its own planes share the cores)
    monkeypatch.setattr(batch, "SMALL_FILE_BYTES", 100)  # every file now a large one
    assert batch.default_workers(jobs) == 1
    store = tmp_path / "stack.zarr"  # a folder (a Zarr store) is never small
    store.mkdir()
    folder = dataclasses.replace(jobs[0], source=batch.Source(store, Path("stack.zarr")))
    monkeypatch.setattr(batch, "SMALL_FILE_BYTES", 10**9)
    assert batch.default_workers([folder, *jobs[1:]]) == 1


def _multifile_ome(folder: Path) -> list[Path]:
    """A multi-file OME-TIFF (one file per time point, as Micro-Manager or bfconvert split
    them): each file's OME-XML describes both, with the file that holds each plane."""
    import uuid

    folder.mkdir()
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(2)]
    planes = "".join(
        f'<TiffData FirstT="{t}" IFD="0" PlaneCount="1">'
        f'<UUID FileName="mf_t{t}.ome.tif">{uuids[t]}</UUID></TiffData>' for t in range(2))
    files = []
    for t in range(2):
        xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/'
               f'Schemas/OME/2016-06" UUID="{uuids[t]}"><Image ID="Image:0" Name="mf">'
               '<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="40" '
               'SizeY="32" SizeZ="1" SizeC="1" SizeT="2" PhysicalSizeX="0.5" '
               'PhysicalSizeY="0.5"><Channel ID="Channel:0:0" SamplesPerPixel="1"/>'
               f'{planes}</Pixels></Image></OME>')
        files.append(folder / f"mf_t{t}.ome.tif")
        tifffile.imwrite(files[-1], synthetic((32, 40), seed=t).image, description=xml,
                         metadata=None)
    return files


def test_a_multifile_ome_tiff_is_processed_once_and_redone_when_any_file_changes(tmp_path):
    files = _multifile_ome(tmp_path / "mf")
    assert io.dataset_files(files[1]) == [files[0].resolve(), files[1].resolve()]
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "mf"), "-o", str(out), "-m", "mean", "--radius", "5", "-v"]
    first = CliRunner().invoke(cli.main, args)
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.glob("*.tif")) == ["mf_t0.ome.tif"]  # (not once a file)
    assert io.read_image(out / "mf_t0.ome.tif")[0].shape == (2, 32, 40)
    assert "processed once from it" in first.output
    assert "up to date" in CliRunner().invoke(cli.main, args).output
    with tifffile.TiffFile(files[1]) as tif:
        xml = tif.pages[0].description
    tifffile.imwrite(files[1], synthetic((32, 40), seed=9).image, description=xml,
                     metadata=None)  # (new pixels in the second file)
    again = CliRunner().invoke(cli.main, args)
    assert "1 done" in again.output, again.output  # (redone: its second file changed)
    record = json.loads((out / "mf_t0.ome.tif.bgsub.json").read_text())
    assert [Path(c["path"]).name for c in record["input"]["companions"]] == ["mf_t1.ome.tif"]


def test_the_3d_spacing_is_taken_in_one_unit_and_a_unitless_one_is_warned_of():
    from bgsub.jobs import resolve_parameters

    settings = Settings(method="tophat", radius=4, true_3d=True).validated()
    mixed = io.ImageMetadata("ZYX", spacing={"Z": 2000.0, "Y": 0.5, "X": 0.5},
                             units={"Z": "nm", "Y": "µm", "X": "µm"})
    # (Z in nm beside Y and X in µm: it was left out, and the stack treated as isotropic)
    assert resolve_parameters(settings, mixed, (4, 16, 16))["spacing"] == [2.0, 0.5, 0.5]
    unitless = dataclasses.replace(mixed, units={"Y": "µm", "X": "µm"})
    with pytest.warns(UserWarning, match=r"Z 2000 \(no unit\).*--spacing Z,Y,X"):
        assert resolve_parameters(settings, unitless, (4, 16, 16))["spacing"] is None
    flat = dataclasses.replace(settings, true_3d=False)
    assert resolve_parameters(flat, dataclasses.replace(mixed, axes="ZYX"),
                              (4, 16, 16))["spacing"] is None  # (2D: Y and X alike)


def test_a_record_reproduces_a_pyramid_byte_for_byte(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", synthetic((600, 640), seed=3).image)
    first = CliRunner().invoke(cli.main, ["run", str(tmp_path / "a.tif"), "-o",
                                          str(tmp_path / "out"), "-m", "tophat", "--radius",
                                          "6", "--pyramid", "on"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli.main, ["run", "--config",
                                          str(tmp_path / "out" / "a.tif.bgsub.json"), "-o",
                                          str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    # (the record's --pyramid was not read back: the copy had no sub-resolutions)
    assert (tmp_path / "again" / "a.tif").read_bytes() == (tmp_path / "out" / "a.tif").read_bytes()


@pytest.mark.parametrize("value", [1.7, True, "1.0", 2.0])
def test_a_series_that_is_not_a_whole_number_is_refused(value):
    with pytest.raises(ConfigError, match="whole number"):
        Settings(series=value).validated()


def test_axes_given_are_the_outputs_axes_and_the_figures_channels(tmp_path):
    stack = synthetic((5, 48, 52), seed=4).image
    tifffile.imwrite(tmp_path / "plain.tif", stack)  # (read as QYX: no axes in the file)
    code = CliRunner().invoke(cli.main, ["run", str(tmp_path / "plain.tif"), "-o",
                                         str(tmp_path / "z"), "--axes", "ZYX", "--3d",
                                         "--format", "ome-tiff", "-m", "tophat", "--radius",
                                         "5"])
    assert code.exit_code == 0, code.output
    assert io.read_image(tmp_path / "z" / "plain.ome.tif")[1].axes == "ZYX"  # (was TYX)
    two = np.stack([stack[:2], stack[2:4]], axis=1)  # C, Z, Y, X as the file names it
    tifffile.imwrite(tmp_path / "czyx.ome.tif", two, metadata={
        "axes": "ZCYX", "Channel": {"Name": ["a", "b"]}})
    # the file's channels (2) named Z, its Z planes as channels: the figure's two names
    # no longer fit (an IndexError, after the image was written without its record)
    result = CliRunner().invoke(cli.main, ["run", str(tmp_path / "czyx.ome.tif"), "-o",
                                           str(tmp_path / "c"), "--axes", "CZYX", "--figure",
                                           "-m", "tophat", "--radius", "5"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c" / "czyx_comparison.png").exists()
    assert (tmp_path / "c" / "czyx.ome.tif.bgsub.json").exists()
    written = io.read_image(tmp_path / "c" / "czyx.ome.tif")[1]
    assert written.axes == "CZYX" and written.channel_names is None
