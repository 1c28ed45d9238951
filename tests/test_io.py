"""bgsub.io: every format keeps its axes, pixel sizes, channel names and provenance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
import zarr

from bgsub import io
from bgsub.io import ImageMetadata, read_image, write_image

RECORD = {"bgsub_provenance": 1, "parameters": {"method": "tophat", "radius": 5.0}}


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """C, Z, Y, X uint16 stack."""
    return np.random.default_rng(1).integers(0, 4000, (2, 3, 20, 24), dtype=np.uint16)


def czyx_meta(fmt: str) -> ImageMetadata:
    return ImageMetadata(axes="CZYX", spacing={"Z": 2.0, "Y": 0.25, "X": 0.25},
                         units={"Z": "µm", "Y": "µm", "X": "µm"},
                         channel_names=("DAPI", "GFP"), format=fmt)


@pytest.mark.parametrize("fmt, name", [("tiff", "a.tif"), ("ome-tiff", "a.ome.tif"),
                                       ("imagej", "a.tif"), ("ome-zarr", "a.ome.zarr"),
                                       ("zarr", "a.zarr")])
def test_stack_metadata_round_trips(tmp_path, stack, fmt, name):
    path = write_image(tmp_path / name, stack, czyx_meta(fmt), RECORD, format=fmt)
    assert io.detect_format(path) == fmt
    data, meta = read_image(path)
    order = {"imagej": "ZCYX", "ome-zarr": "CZYX"}.get(fmt, "CZYX")  # ImageJ order is TZCYX
    assert meta.axes == order
    np.testing.assert_array_equal(data, np.transpose(stack, ["CZYX".index(a) for a in order]))
    assert meta.spacing == pytest.approx({"Z": 2.0, "Y": 0.25, "X": 0.25})
    assert {meta.units[a] for a in "ZYX"} == {"µm"}
    assert meta.channel_names == ("DAPI", "GFP")
    assert meta.provenance == RECORD
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["tiff", "ome-tiff", "imagej", "zarr", "ome-zarr", "png"])
@pytest.mark.parametrize("field, values", [
    ("channel_names", ("DAPI", "GFP")), ("channel_colors", ("0000FF", "00FF00")),
    ("display_ranges", ((0.0, 1.0), (0.0, 2.0)))])
def test_metadata_of_other_channels_than_the_image_is_one_clear_error(tmp_path, stack, fmt,
                                                                        field, values):
    # the first channel with both channels' names: ImageJ raised a bare IndexError, TIFF
    # wrote both names, OME-TIFF dropped them
    one = stack[:1, 0]
    meta = ImageMetadata("CYX", format=fmt, **{field: values})
    message = f"metadata.{field} holds 2 entries but the image has 1 channel"
    with pytest.raises(ValueError, match=message) as error:
        write_image(tmp_path / "a", one, meta, format=fmt)
    assert "\n" not in str(error.value) and "dataclasses.replace" in str(error.value)
    with pytest.raises(ValueError, match=message):
        io.check_writable(one.shape, one.dtype, meta, fmt)
    assert list(tmp_path.iterdir()) == []


def test_names_of_the_channels_kept_are_written(tmp_path, stack):
    meta = czyx_meta("imagej")
    kept = dataclasses.replace(meta, channel_names=meta.channel_names[1:])
    write_image(tmp_path / "a.tif", stack[1:], kept, format="imagej")  # (C of 1: no labels)
    for fmt, name in [("tiff", "b.tif"), ("ome-tiff", "c.ome.tif"), ("ome-zarr", "d.ome.zarr")]:
        write_image(tmp_path / name, stack[1:], kept, format=fmt)
        assert read_image(tmp_path / name)[1].channel_names == ("GFP",)


def test_imagej_hyperstack_from_tifffile_keeps_resolution_and_frame_interval(tmp_path, stack):
    data = np.stack([stack.transpose(1, 0, 2, 3)] * 2)  # T, Z, C, Y, X
    tifffile.imwrite(tmp_path / "hyper.tif", data, imagej=True, resolution=(4.0, 4.0),
                     metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "micron",
                               "finterval": 30.0})
    image, meta = read_image(tmp_path / "hyper.tif")
    assert (meta.format, meta.axes, image.shape) == ("imagej", "TZCYX", data.shape)
    assert meta.spacing == pytest.approx({"X": 0.25, "Y": 0.25, "Z": 1.5, "T": 30.0})
    assert meta.units["T"] == "s"
    write_image(tmp_path / "out.tif", image, meta, RECORD)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["finterval"] == 30.0
        assert tif.imagej_metadata["unit"] == "micron"
        assert tif.pages[0].resolution == pytest.approx((4.0, 4.0))
        assert json.loads(tif.imagej_metadata["Info"].split(": ", 1)[1]) == RECORD


def test_plain_tiff_keeps_resolution_tags_and_description_holds_provenance(tmp_path):
    image = np.arange(30 * 40, dtype=np.uint16).reshape(30, 40)
    tifffile.imwrite(tmp_path / "in.tif", image, resolution=(5000.0, 5000.0),
                     resolutionunit="CENTIMETER")
    data, meta = read_image(tmp_path / "in.tif")
    assert meta.spacing == pytest.approx({"X": 2.0, "Y": 2.0})  # 5000 px/cm = 2 µm
    write_image(tmp_path / "out.tif", data, meta, RECORD)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert json.loads(tif.pages[0].description)["bgsub"] == RECORD
        assert tif.pages[0].resolution == pytest.approx((5000.0, 5000.0))


def test_ome_tiff_provenance_is_an_ome_comment_annotation(tmp_path, stack):
    write_image(tmp_path / "a.ome.tif", stack, czyx_meta("ome-tiff"), RECORD)
    with tifffile.TiffFile(tmp_path / "a.ome.tif") as tif:
        xml = tif.ome_metadata
    assert 'CommentAnnotation ID="Annotation:0" Namespace="bgsub.provenance"' in xml


def test_multi_series_tiff_reads_the_chosen_series(tmp_path):
    with tifffile.TiffWriter(tmp_path / "two.ome.tif", ome=True) as tif:
        tif.write(np.zeros((8, 9), np.uint8), metadata={"axes": "YX"})
        tif.write(np.full((2, 10, 11), 7, np.uint16), metadata={"axes": "ZYX"})
    assert io.probe(tmp_path / "two.ome.tif") == ("ome-tiff", 2)
    image, meta = read_image(tmp_path / "two.ome.tif", series=1)
    assert image.shape == (2, 10, 11) and meta.axes == "ZYX" and meta.series_count == 2
    with pytest.raises(ValueError, match="series 2 does not exist"):
        read_image(tmp_path / "two.ome.tif", series=2)


def test_ome_zarr_05_and_bioformats2raw_are_read(tmp_path):
    data = np.arange(2 * 16 * 18, dtype=np.uint16).reshape(2, 16, 18)
    root = zarr.open_group(str(tmp_path / "v05.ome.zarr"), mode="w", zarr_format=3)
    root.create_array("s0", shape=data.shape, dtype=data.dtype)[...] = data
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space",
                                                     "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 0.5, 0.5]}]}]}]}
    image, meta = read_image(tmp_path / "v05.ome.zarr")
    np.testing.assert_array_equal(image, data)
    assert meta.axes == "CYX" and meta.spacing == {"Y": 0.5, "X": 0.5}
    assert meta.units["X"] == "µm"

    b2r = tmp_path / "plate.zarr"
    top = zarr.open_group(str(b2r), mode="w", zarr_format=2)
    top.attrs["bioformats2raw.layout"] = 3
    for i in range(2):
        write_image(tmp_path / f"img{i}.ome.zarr", data + i, ImageMetadata(axes="CYX"),
                    format="ome-zarr")
        (tmp_path / f"img{i}.ome.zarr").rename(b2r / str(i))
    assert io.probe(b2r) == ("ome-zarr", 2)
    np.testing.assert_array_equal(read_image(b2r, series=1)[0], data + 1)


def test_zarr_dimension_names_are_written_back_as_the_input_named_them(tmp_path):
    # they became axis letters: xarray's ["time", "y", "x"] was written ["T", "Y", "X"]
    data = np.full((2, 16, 16), 100, np.uint16)
    xr = zarr.create_array(tmp_path / "xr.zarr", shape=data.shape, dtype="uint16",
                           zarr_format=2)
    xr.attrs["_ARRAY_DIMENSIONS"] = ["time", "y", "x"]
    zarr.create_array(tmp_path / "v3.zarr", shape=data.shape, dtype="uint16", zarr_format=3,
                      dimension_names=["z", "y", "x"])
    (tmp_path / "out").mkdir()
    for name, axes in (("xr.zarr", "TYX"), ("v3.zarr", "ZYX")):
        image, meta = read_image(tmp_path / name)
        assert meta.axes == axes
        write_image(tmp_path / "out" / name, image, meta, RECORD)
    out = zarr.open_array(tmp_path / "out" / "xr.zarr", mode="r")
    assert out.attrs["_ARRAY_DIMENSIONS"] == ["time", "y", "x"]
    assert zarr.open_array(tmp_path / "out" / "v3.zarr", mode="r").metadata.dimension_names == (
        "z", "y", "x")
    assert read_image(tmp_path / "out" / "xr.zarr")[1].axes == "TYX"
    # other axes than the input's (here from --axes): letters
    image, meta = read_image(tmp_path / "v3.zarr")
    write_image(tmp_path / "c.zarr", image, dataclasses.replace(meta, axes="CYX"))
    assert zarr.open_array(tmp_path / "c.zarr", mode="r").metadata.dimension_names == (
        "C", "Y", "X")


def test_ome_zarr_05_dimension_names_are_its_axes_names(tmp_path):
    # NGFF 0.5 requires them equal; an input's "time" axis was written with dimension "t"
    from ome_zarr_models.v05.image import Image

    group = zarr.open_group(tmp_path / "in.ome.zarr", mode="w", zarr_format=3)
    group.create_array("0", data=np.full((2, 16, 16), 100, "u2"),
                       dimension_names=["time", "y", "x"])
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "time", "type": "time"}, {"name": "y", "type": "space"},
                 {"name": "x", "type": "space"}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]}]}
    image, meta = read_image(tmp_path / "in.ome.zarr")
    write_image(tmp_path / "out.ome.zarr", image, meta, RECORD)
    out = zarr.open_group(tmp_path / "out.ome.zarr", mode="r")
    assert out["0"].metadata.dimension_names == ("time", "y", "x")
    Image.from_zarr(out)  # valid NGFF 0.5


def hcs_plate(path: Path, wells=("A/1", "A/2"), fields=("0", "1")) -> Path:
    """An NGFF 0.4 HCS plate: wells of fields, each a one-level OME-Zarr image."""
    plate = zarr.open_group(path, mode="w", zarr_format=2)
    plate.attrs["plate"] = {
        "version": "0.4", "rows": [{"name": "A"}], "columns": [{"name": "1"}, {"name": "2"}],
        "wells": [{"path": w, "rowIndex": 0, "columnIndex": i} for i, w in enumerate(wells)]}
    for well_path in wells:
        well = plate.create_group(well_path)
        well.attrs["well"] = {"version": "0.4", "images": [{"path": f} for f in fields]}
        for field in fields:
            write_image(path / well_path / f"{field}.ome.zarr", np.full((16, 16), 100, "u2"),
                        ImageMetadata("YX"), format="ome-zarr")
            (path / well_path / f"{field}.ome.zarr").rename(path / well_path / field)
    return path


def test_an_hcs_plate_or_well_is_refused_naming_a_field_to_give(tmp_path):
    # a plate was "zarr, 1 series", then "the Zarr group is neither OME-Zarr nor a single array"
    plate = hcs_plate(tmp_path / "hcs.ome.zarr")
    for path, kind in ((plate, "plate"), (plate / "A" / "2", "well")):
        for call in (io.probe, read_image, io.open_image):
            with pytest.raises(io.UnsupportedFileError, match=f"OME-Zarr HCS {kind}") as error:
                call(path)
            message = str(error.value)
            assert "\n" not in message
        field = "A/1/0" if kind == "plate" else "0"
        assert message.endswith(f"give each field's own path, e.g. {path}/{field}")
    assert io.probe(plate / "A" / "2" / "1") == ("ome-zarr", 1)  # a field is one image


def test_an_hcs_fields_output_is_named_for_the_plate_well_and_field(tmp_path):
    # every field was named 0.ome.zarr (or 1.ome.zarr): two wells' fields wrote one path
    plate = hcs_plate(tmp_path / "hcs.ome.zarr")
    assert io.hcs_field_stem(plate / "A" / "1" / "0") == "hcs_A_1_0"
    assert io.hcs_field_stem(plate / "A" / "2" / "1") == "hcs_A_2_1"
    write_image(tmp_path / "0.ome.zarr", np.full((16, 16), 1, "u2"), ImageMetadata("YX"),
                format="ome-zarr")
    assert io.hcs_field_stem(tmp_path / "0.ome.zarr") is None  # not in a plate's well
    assert io.hcs_field_stem(plate / "A" / "1") is None  # a well
    from click.testing import CliRunner

    from bgsub.cli import main

    result = CliRunner().invoke(main, [
        "run", str(plate / "A" / "1" / "0"), str(plate / "A" / "2" / "0"), "-o",
        str(tmp_path / "out"), "-q", "-m", "tophat", "--radius", "3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ome.zarr")) == [
        "hcs_A_1_0.ome.zarr", "hcs_A_2_0.ome.zarr"]


def test_png_8_and_16_bit_rgb_and_jpeg(tmp_path):
    grey = np.arange(12 * 14, dtype=np.uint16).reshape(12, 14) * 300
    rgb = np.random.default_rng(0).integers(0, 255, (12, 14, 3), dtype=np.uint8)
    (tmp_path / "g.png").write_bytes(imagecodecs.png_encode(grey))
    (tmp_path / "c.jpg").write_bytes(imagecodecs.jpeg8_encode(rgb, level=95))
    image, meta = read_image(tmp_path / "g.png")
    assert image.dtype == np.uint16 and meta.axes == "YX"
    np.testing.assert_array_equal(image, grey)
    image, meta = read_image(tmp_path / "c.jpg")
    assert (image.shape, meta.axes, meta.format) == ((12, 14, 3), "YXS", "jpeg")
    meta = ImageMetadata(axes="YXS", spacing={"Y": 0.5, "X": 0.5}, units={"Y": "µm", "X": "µm"})
    write_image(tmp_path / "out.png", rgb, meta, RECORD, format="png")
    back, back_meta = read_image(tmp_path / "out.png")
    np.testing.assert_array_equal(back, rgb)
    assert back_meta.spacing == pytest.approx({"Y": 0.5, "X": 0.5}, rel=1e-5)
    assert back_meta.provenance == RECORD
    with pytest.raises(ValueError, match="PNG holds uint8 or uint16"):
        write_image(tmp_path / "f.png", grey.astype(np.float32), ImageMetadata("YX"),
                    format="png")


def test_bigtiff_is_chosen_for_outputs_over_4_gib(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(tifffile, "imwrite", lambda path, data, **kw: seen.update(kw))
    big = np.broadcast_to(np.zeros(1, np.uint16), (2**31 + 1,))  # 4 GiB, no memory used
    io._tiff.write(tmp_path / "big.tif", big, ImageMetadata(axes="X"), "tiff", None)
    assert seen["bigtiff"] is True


def test_corrupt_and_unsupported_files_give_one_line_errors(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\0" + b"\xff" * 20)
    (tmp_path / "notes.tif").write_text("hello")
    with pytest.raises(ValueError, match="holds no image|TIFF"):
        read_image(tmp_path / "bad.tif")
    with pytest.raises(io.UnsupportedFileError, match="unknown file signature"):
        read_image(tmp_path / "notes.tif")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_image(tmp_path / "missing.tif")


def test_a_failed_write_leaves_neither_output_nor_temporary_file(tmp_path, monkeypatch):
    def half_then_fail(path, data, **kwargs):
        Path(path).write_bytes(b"II*\0 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(tifffile, "imwrite", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "out.tif", np.zeros((4, 4), np.uint8), ImageMetadata("YX"))
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    stale = tmp_path / f".a.tif.999999999-{io._atomic.host_token()}.bgsub-tmp"
    stale.write_bytes(b"partial")
    live = io._atomic.temp_path_for(tmp_path / "b.tif")
    live.write_bytes(b"being written by this process")
    assert io.remove_stale_temp_files(tmp_path) == [stale]
    assert live.exists() and not stale.exists()


def test_zarr_output_replaces_an_existing_store_atomically(tmp_path):
    meta = ImageMetadata(axes="YX")
    write_image(tmp_path / "a.zarr", np.zeros((5, 6), np.uint8), meta, format="zarr")
    write_image(tmp_path / "a.zarr", np.ones((5, 6), np.uint8), meta, format="zarr")
    np.testing.assert_array_equal(read_image(tmp_path / "a.zarr")[0], 1)
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]


def test_split_name_and_extensions():
    assert io.split_name("x.ome.tiff") == ("x", ".ome.tiff")
    assert io.split_name("x.tif") == ("x", ".tif")
    assert io.extension_for("tiff", "x.TIFF") == ".TIFF"
    assert io.extension_for("png", "x.jpg") == ".png"
    assert io.extension_for("ome-zarr", "x.tif") == ".ome.zarr"


def test_a_figure_bgsub_wrote_is_told_from_other_files(tmp_path):
    from matplotlib.figure import Figure

    ours = io.write_figure(Figure((1, 1)), tmp_path / "ours.png", dpi=50)
    theirs = tmp_path / "theirs.png"
    Figure((1, 1)).savefig(theirs, format="png")  # matplotlib's own mark, not bgsub's
    text = tmp_path / "notes.png"
    text.write_text("bgsub")
    assert io.is_bgsub_figure(ours) and io.written_by_bgsub(ours)
    assert not any(io.is_bgsub_figure(p) or io.written_by_bgsub(p)
                   for p in (theirs, text, tmp_path / "missing.png", tmp_path))
    assert not list(tmp_path.glob(".*"))  # (written atomically: no temporary left)
    pdf = io.write_figure(Figure((1, 1)), tmp_path / "f.pdf")  # (another format: as named)
    assert pdf.read_bytes()[:5] == b"%PDF-" and not io.written_by_bgsub(pdf)


@pytest.mark.parametrize("name", ["f.tif", "f.TIFF", "f.jpg", "f.jpeg"])
def test_a_figure_is_never_written_as_an_image_bgsub_would_read_unmarked(tmp_path, name):
    """A .tif or .jpg figure (matplotlib writes both) carried no mark: bgsub could not tell
    it from data, so a rerun refused to replace it and a folder's run corrected it."""
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match=r"a figure is written as PNG, marked as bgsub's .*"
                       r"name it f\.png$"):
        io.write_figure(Figure((1, 1)), tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_the_plots_saved_figures_are_marked_as_bgsubs(tmp_path):
    import bgsub
    from bgsub.plot import compare

    image = bgsub.data.sample()[:64, :64]
    background = bgsub.estimate_background(image, "rolling_ball", 10)
    compare(image, background, image - background, path=tmp_path / "c.png")
    assert io.is_bgsub_figure(tmp_path / "c.png")


def _transforms(path: Path, k: int) -> list[dict]:
    import zarr

    attrs = zarr.open_group(str(path), mode="r").attrs.asdict()
    return (attrs.get("ome") or attrs)["multiscales"][0]["datasets"][k]["coordinateTransformations"]


def test_ome_zarr_levels_keep_their_place_in_space(tmp_path):
    """Each level's own scale and translation, the multiscale's folded in as NGFF composes
    them: ``(x * s + t) * S + T``. Its translation was dropped (the image moved by 100 um),
    and a level whose shape is not half the one above (97 -> 48: 2.0208) got 2.0."""
    data = np.random.default_rng(0).poisson(200, (97, 81)).astype(np.uint16)
    group = zarr.open_group(str(tmp_path / "in.ome.zarr"), mode="w", zarr_format=2)
    group.create_array("0", data=data, chunks=(64, 64))
    group.create_array("1", data=data[:96:2, :80:2], chunks=(64, 64))
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "yx"]
    level1 = [{"type": "scale", "scale": [97 / 48, 81 / 40]},
              {"type": "translation", "translation": [0.5, 0.5]}]
    group.attrs["multiscales"] = [{
        "version": "0.4", "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [
                         {"type": "scale", "scale": [1.0, 1.0]},
                         {"type": "translation", "translation": [10.0, 20.0]}]},
                     {"path": "1", "coordinateTransformations": level1}],
        "coordinateTransformations": [{"type": "scale", "scale": [0.5, 0.5]},
                                      {"type": "translation", "translation": [100.0, 200.0]}]}]
    image, meta = read_image(tmp_path / "in.ome.zarr")
    write_image(tmp_path / "out.ome.zarr", image, meta)
    assert _transforms(tmp_path / "out.ome.zarr", 0) == [
        {"type": "scale", "scale": [0.5, 0.5]},
        {"type": "translation", "translation": [105.0, 210.0]}]
    assert _transforms(tmp_path / "out.ome.zarr", 1) == [
        {"type": "scale", "scale": [97 / 96, 81 / 80]},
        {"type": "translation", "translation": [100.25, 200.25]}]
