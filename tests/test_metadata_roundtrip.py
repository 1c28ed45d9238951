"""What goes in comes out: each metadata field of an input compared with `bgsub run`'s output.

Inputs are written here as the field's tools write them (tifffile + ome-types
for OME-TIFF, tifffile's ImageJ writer, zarr with NGFF attributes, a PNG with
``pHYs``); the fields bgsub cannot keep are listed in docs/cli.md and are the
only ones excluded below.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from click.testing import CliRunner
from ome_types import from_xml, to_xml
from ome_types import model as ome

from bgsub import io
from bgsub.cli import main
from bgsub.io import ImageMetadata, read_image, write_image

RUN = ("--method", "tophat", "--radius", "2")
RNG = np.random.default_rng(7)


def run(*args: str) -> None:
    result = CliRunner().invoke(main, ["run", *args, *RUN], catch_exceptions=False)
    assert result.exit_code == 0, result.output


# --- OME-TIFF --------------------------------------------------------------------------------


def rich_ome(shape: tuple[int, ...]) -> ome.OME:
    """TCZYX with units on every axis (nm in Z, ms in T), colours, wavelengths, an
    instrument, per-plane timing and positions, and annotations of the user's own."""
    t, c, z, y, x = shape
    channels = [ome.Channel(id=f"Channel:0:{i}", name=name, color=ome.Color(color),
                            samples_per_pixel=1, emission_wavelength=wave,
                            excitation_wavelength=wave - 30, fluor=name,
                            illumination_type="Epifluorescence", contrast_method="Fluorescence")
                for i, (name, color, wave) in enumerate([("DAPI", (0, 0, 255), 461),
                                                         ("GFP", (0, 255, 0), 510)][:c])]
    planes = [ome.Plane(the_t=ti, the_c=ci, the_z=zi, delta_t=30.0 * ti + 0.1 * zi,
                        delta_t_unit="s", exposure_time=20.0 + ci, exposure_time_unit="ms",
                        position_x=100.5, position_x_unit="µm", position_z=zi * 250.0,
                        position_z_unit="nm")
              for ti in range(t) for ci in range(c) for zi in range(z)]
    pixels = ome.Pixels(
        id="Pixels:0", dimension_order="XYZCT", type="uint16", size_x=x, size_y=y, size_z=z,
        size_c=c, size_t=t, physical_size_x=0.325, physical_size_x_unit="µm",
        physical_size_y=0.325, physical_size_y_unit="µm", physical_size_z=250.0,
        physical_size_z_unit="nm", time_increment=30000.0, time_increment_unit="ms",
        significant_bits=12, channels=channels, planes=planes,
        tiff_data_blocks=[ome.TiffData(ifd=0, plane_count=t * c * z)])
    instrument = ome.Instrument(id="Instrument:0", objectives=[ome.Objective(
        id="Objective:0", nominal_magnification=40.0, lens_na=1.3, immersion="Oil")])
    notes = ome.StructuredAnnotations(map_annotations=[ome.MapAnnotation(
        id="Annotation:0", namespace="lab.example/acquisition",
        value=ome.Map(ms=[ome.Map.M(k="operator", value="ada")]))])
    image = ome.Image(id="Image:0", name="cells", description="two channels, two time points",
                      acquisition_date="2026-11-30T09:15:00", pixels=pixels,
                      instrument_ref=ome.InstrumentRef(id="Instrument:0"),
                      objective_settings=ome.ObjectiveSettings(id="Objective:0",
                                                               refractive_index=1.518),
                      annotation_refs=[ome.AnnotationRef(id="Annotation:0")])
    return ome.OME(images=[image], instruments=[instrument], structured_annotations=notes,
                   creator="a microscope")


def test_ome_tiff_tczyx_keeps_every_field(tmp_path):
    data = RNG.integers(0, 4000, (2, 2, 3, 24, 20), dtype=np.uint16)
    source = rich_ome(data.shape)
    tifffile.imwrite(tmp_path / "cells.ome.tif", data, description=to_xml(source).encode(),
                     metadata=None)
    run(str(tmp_path / "cells.ome.tif"), "-o", str(tmp_path / "out"))
    with tifffile.TiffFile(tmp_path / "out" / "cells.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "TCZYX"
        out = from_xml(tif.ome_metadata)
    before, after = source.images[0], out.images[0]
    # every field of the image, its pixels, channels and planes, one by one
    skip = {"pixels", "annotation_refs"}
    for name in type(before).model_fields:
        if name not in skip:
            assert getattr(after, name) == getattr(before, name), name
    for name in type(before.pixels).model_fields:
        if name != "tiff_data_blocks":  # rewritten for the output's pages
            assert getattr(after.pixels, name) == getattr(before.pixels, name), name
    assert after.pixels.time_increment == 30000.0 and after.pixels.time_increment_unit.value == "ms"
    assert [ch.color.as_rgb_tuple(alpha=False) for ch in after.pixels.channels] == [
        (0, 0, 255), (0, 255, 0)]
    assert out.instruments == source.instruments
    assert out.structured_annotations.map_annotations == \
        source.structured_annotations.map_annotations
    assert [r.id for r in after.annotation_refs][:1] == ["Annotation:0"]
    record = json.loads(next(note.value for note in out.structured_annotations.comment_annotations
                             if note.namespace == "bgsub.provenance"))
    assert record["parameters"]["method"] == "tophat"


# --- ImageJ ----------------------------------------------------------------------------------


def write_hyperstack(path: Path) -> np.ndarray:
    data = RNG.integers(0, 4000, (2, 3, 2, 20, 24), dtype=np.uint16)  # T, Z, C, Y, X
    luts = [np.rint(np.outer(rgb, np.arange(256) / 255)).astype(np.uint8)
            for rgb in ((255, 0, 255), (0, 255, 0))]
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.325, 1 / 0.325),
                     metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "micron",
                               "finterval": 30.0, "Labels": ["DAPI", "GFP"] * 6,
                               "Ranges": (10.0, 3000.0, 50.0, 2500.0), "LUTs": luts,
                               "Info": "Objective: 40x/1.3 oil", "mode": "composite",
                               "loop": False})
    return data


def test_imagej_hyperstack_keeps_every_key(tmp_path):
    write_hyperstack(tmp_path / "ij.tif")
    run(str(tmp_path / "ij.tif"), "-o", str(tmp_path / "out"))
    with tifffile.TiffFile(tmp_path / "ij.tif") as tif:
        before, resolution = tif.imagej_metadata, tif.pages[0].resolution
    with tifffile.TiffFile(tmp_path / "out" / "ij.tif") as tif:
        after = tif.imagej_metadata
        assert tif.pages[0].resolution == pytest.approx(resolution)
    for key, value in before.items():
        if key == "Info":  # the provenance line is added after the input's text
            assert after[key].splitlines()[0] == value
        elif key == "LUTs":
            np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(value))
        else:
            assert after[key] == value, key


def test_imagej_hyperstack_as_ome_tiff_keeps_calibration_and_frame_interval(tmp_path):
    write_hyperstack(tmp_path / "cells_ij.tif")
    run(str(tmp_path / "cells_ij.tif"), "-o", str(tmp_path / "out"), "--format", "ome-tiff")
    out = tmp_path / "out" / "cells_ij.ome.tif"  # named for what it holds
    image, meta = read_image(out)
    assert meta.format == "ome-tiff" and meta.axes == "TZCYX"
    assert meta.spacing == pytest.approx({"T": 30.0, "Z": 1.5, "Y": 0.325, "X": 0.325})
    assert meta.units == {"T": "s", "Z": "µm", "Y": "µm", "X": "µm"}
    assert meta.channel_names == ("DAPI", "GFP")
    assert meta.channel_colors == ("FF00FF", "00FF00")  # the LUTs' colours


def test_ome_tiff_of_mixed_units_as_imagej_has_every_size_in_one_unit(tmp_path):
    # ImageJ has one unit: Z 0.3 µm beside Y, X 108 nm was written "Z 0.3 nm", 1000x too small
    data = RNG.integers(0, 4000, (4, 32, 40), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "nm.ome.tif", data, metadata={
        "axes": "ZYX", "PhysicalSizeX": 108.0, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 108.0,
        "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": 0.3, "PhysicalSizeZUnit": "µm"})
    run(str(tmp_path / "nm.ome.tif"), "-o", str(tmp_path / "out"), "--format", "imagej")
    meta = read_image(tmp_path / "out" / "nm.tif")[1]
    assert meta.format == "imagej"
    assert meta.spacing == pytest.approx({"Z": 300.0, "Y": 108.0, "X": 108.0})
    assert meta.units == {"Z": "nm", "Y": "nm", "X": "nm"}
    # Y in another unit than X: the resolution tags too (of TIFF and PNG: in µm)
    mixed = ImageMetadata("YX", spacing={"Y": 0.108, "X": 108.0}, units={"Y": "µm", "X": "nm"})
    plane = data[0]
    write_image(tmp_path / "ij.tif", plane, mixed, format="imagej")
    assert read_image(tmp_path / "ij.tif")[1].spacing == pytest.approx({"Y": 108.0, "X": 108.0})
    write_image(tmp_path / "plain.tif", plane, mixed, format="tiff")
    with tifffile.TiffFile(tmp_path / "plain.tif") as tif:
        assert tif.pages[0].resolution == pytest.approx((1e4 / 0.108, 1e4 / 0.108))
    write_image(tmp_path / "p.png", plane, dataclasses.replace(mixed, format="png"))
    assert read_image(tmp_path / "p.png")[1].spacing == pytest.approx({"Y": 0.108, "X": 0.108},
                                                                      rel=1e-5)


def test_a_size_in_no_length_unit_is_left_out_of_imagej_with_a_warning(tmp_path):
    meta = ImageMetadata("ZYX", spacing={"Z": 2.0, "Y": 0.5, "X": 0.5},
                         units={"Z": "pixel", "Y": "µm", "X": "µm"})
    with pytest.warns(UserWarning, match="Z pixel size is in pixel.*--format ome-tiff"):
        write_image(tmp_path / "a.tif", np.zeros((2, 8, 8), np.uint16), meta, format="imagej")
    assert read_image(tmp_path / "a.tif")[1].spacing == pytest.approx({"Y": 0.5, "X": 0.5})


def test_length_factor_and_sizes_in_one_unit():
    assert io.length_factor("µm", "nm") == 1000.0 and io.length_factor("nm", "micron") == 0.001
    assert io.length_factor("Å", "nm") == 0.1 and io.length_factor("in", "mm") == 25.4
    assert io.length_factor("s", "µm") is None and io.length_factor(None, "µm") is None
    meta = ImageMetadata("ZYX", spacing={"Z": 0.3, "Y": 108.0, "X": 0.108},
                         units={"Z": "µm", "Y": "nm", "X": "µm"})
    assert meta.spacing_in_one_unit("ZYX") == ((0.3, 0.108, 0.108), "µm")
    assert meta.spacing_in_one_unit("ZYX", "nm") == ((300.0, 108.0, 108.0), "nm")
    assert ImageMetadata("YX", spacing={"Y": 1.0, "X": 1.0}, units={"Y": "pixel", "X": "µm"}
                         ).spacing_in_one_unit("YX") is None
    assert ImageMetadata("YX", spacing={"Y": 2.0, "X": 2.0}).spacing_in_one_unit("YX") == (
        (2.0, 2.0), None)


# --- OME-Zarr --------------------------------------------------------------------------------


def write_ome_zarr(path: Path, version: str) -> dict:
    """T, C, Y, X with a 3-level pyramid, time in seconds, and an omero block."""
    data = RNG.integers(0, 4000, (2, 2, 32, 40), dtype=np.uint16)
    root = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    datasets = []
    for k in range(3):
        level = data[..., :: 2**k, :: 2**k]
        root.create_array(str(k), shape=level.shape, dtype=level.dtype,
                          chunks=(1, 1, 16, 16))[...] = level
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [30.0, 1.0, 0.5 * 2**k, 0.5 * 2**k]}]})
    multiscale = {"name": "tissue", "type": "nearest", "datasets": datasets, "axes": [
        {"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}]}
    omero = {"name": "tissue", "rdefs": {"model": "color"}, "channels": [
        {"label": "DAPI", "color": "0000FF", "active": True, "coefficient": 1.0,
         "family": "linear", "inverted": False,
         "window": {"min": 0.0, "max": 65535.0, "start": 100.0, "end": 3000.0}},
        {"label": "GFP", "color": "00FF00", "active": False, "coefficient": 1.0,
         "family": "linear", "inverted": False,
         "window": {"min": 0.0, "max": 65535.0, "start": 50.0, "end": 2000.0}}]}
    if version == "0.5":
        root.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale], "omero": omero}
    else:
        root.attrs.update({"multiscales": [{"version": "0.4", **multiscale}], "omero": omero})
    root.attrs["lab"] = {"slide": "S12"}
    return {"multiscale": multiscale, "omero": omero}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_keeps_version_pyramid_time_scale_and_omero(tmp_path, version):
    source = write_ome_zarr(tmp_path / "t.ome.zarr", version)
    run(str(tmp_path / "t.ome.zarr"), "-o", str(tmp_path / "out"))
    group = zarr.open_group(str(tmp_path / "out" / "t.ome.zarr"), mode="r")
    assert group.metadata.zarr_format == (3 if version == "0.5" else 2)
    attrs = dict(group.attrs)
    ome_attrs = attrs["ome"] if version == "0.5" else attrs
    if version == "0.5":
        assert attrs["ome"]["version"] == "0.5"
    multiscale = ome_attrs["multiscales"][0]
    assert multiscale.get("version", "0.5") == version
    expected = source["multiscale"]
    assert multiscale["axes"] == expected["axes"]
    assert multiscale["name"] == expected["name"] and multiscale["type"] == expected["type"]
    for out, given in zip(multiscale["datasets"], expected["datasets"], strict=True):
        assert out["path"] == given["path"]
        assert out["coordinateTransformations"] == given["coordinateTransformations"]
        assert group[out["path"]].shape == zarr.open_group(
            str(tmp_path / "t.ome.zarr"), mode="r")[given["path"]].shape
    assert ome_attrs["omero"] == source["omero"]
    assert attrs["lab"] == {"slide": "S12"}


# --- PNG -------------------------------------------------------------------------------------


def test_png_keeps_its_pixel_size(tmp_path):
    from PIL import Image

    data = RNG.integers(0, 60000, (20, 24), dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "p.png", dpi=(25400 / 0.5, 25400 / 0.5))
    run(str(tmp_path / "p.png"), "-o", str(tmp_path / "out"))
    with Image.open(tmp_path / "out" / "p.png") as out, Image.open(tmp_path / "p.png") as given:
        assert out.info["dpi"] == pytest.approx(given.info["dpi"], rel=1e-6)
        assert json.loads(out.info["bgsub"])["parameters"]["method"] == "tophat"
    assert read_image(tmp_path / "out" / "p.png")[1].spacing == pytest.approx(
        {"Y": 0.5, "X": 0.5}, rel=1e-5)


@pytest.mark.parametrize("dpi", [72, 96, 300])
def test_a_pngs_screen_resolution_is_no_pixel_size(tmp_path, dpi):
    # (a screenshot's or an editor's 72 dpi read as pixels of 352.7 um, and figures drew a
    # 1 cm scale bar; a TIFF's resolution in inches was already no pixel size)
    from PIL import Image

    Image.fromarray(RNG.integers(0, 255, (20, 24), dtype=np.uint8)).save(
        tmp_path / "s.png", dpi=(dpi, dpi))
    assert read_image(tmp_path / "s.png")[1].spacing == {}


# --- pyramids --------------------------------------------------------------------------------


def test_pyramidal_ome_tiff_levels_are_tiled_2x2_means(tmp_path):
    data = RNG.integers(0, 4000, (2, 600, 520), dtype=np.uint16)
    meta = ImageMetadata("CYX", spacing={"Y": 0.5, "X": 0.5}, units={"Y": "µm", "X": "µm"},
                         channel_names=("a", "b"))
    write_image(tmp_path / "p.ome.tif", data, meta, {"k": 1}, format="ome-tiff", pyramid="on")
    with tifffile.TiffFile(tmp_path / "p.ome.tif") as tif:
        levels = tif.series[0].levels
        assert [level.shape for level in levels] == [(2, 600, 520), (2, 300, 260),
                                                     (2, 150, 130)]
        assert tif.pages[0].is_tiled and tif.is_ome
        expected = data
        for level in levels:  # each the 2 x 2 mean of the one above, rounded
            np.testing.assert_array_equal(level.asarray(), expected)
            two = expected.reshape(2, expected.shape[1] // 2, 2, expected.shape[2] // 2, 2)
            expected = np.rint(two.mean(axis=(2, 4))).astype(np.uint16)
        assert tif.series[0].levels[1].keyframe.resolution == pytest.approx((1e4, 1e4))
    assert read_image(tmp_path / "p.ome.tif")[1].channel_names == ("a", "b")


def test_streamed_run_writes_the_pyramid_page_by_page(tmp_path):
    data = RNG.integers(0, 4000, (2, 64, 80), dtype=np.uint16)
    write_image(tmp_path / "s.ome.tif", data, ImageMetadata("CYX"), format="ome-tiff",
                pyramid="off")
    run(str(tmp_path / "s.ome.tif"), "-o", str(tmp_path / "out"), "--pyramid", "on",
        "--chunks", "32,40")
    memory = read_image(tmp_path / "s.ome.tif")[0]
    import bgsub

    expected = bgsub.subtract_background(memory, "tophat", 2, axes="CYX")
    with tifffile.TiffFile(tmp_path / "out" / "s.ome.tif") as tif:
        assert len(tif.series[0].levels) == 2  # 64 x 80 -> 32 x 40
        np.testing.assert_array_equal(tif.series[0].levels[0].asarray(), expected)



def test_streamed_pyramid_from_bands_of_rows_across_tile_rows(tmp_path):
    # pages given in bands of 300 rows: rows of 512-row tiles are joined across bands
    data = RNG.integers(0, 4000, (2, 1200, 520), dtype=np.uint16)
    write_image(tmp_path / "b.ome.tif", data, ImageMetadata("CYX"), format="ome-tiff",
                pyramid="off")
    run(str(tmp_path / "b.ome.tif"), "-o", str(tmp_path / "out"), "--pyramid", "on",
        "--chunks", "300,520")
    import bgsub

    expected = bgsub.subtract_background(data, "tophat", 2, axes="CYX")
    with tifffile.TiffFile(tmp_path / "out" / "b.ome.tif") as tif:
        levels = tif.series[0].levels
        assert [level.shape for level in levels] == [(2, 1200, 520), (2, 600, 260),
                                                     (2, 300, 130), (2, 150, 65)]
        for level in levels:  # each the 2 x 2 mean of the one above, rounded
            np.testing.assert_array_equal(level.asarray(), expected)
            if level is not levels[-1]:
                two = expected.reshape(2, expected.shape[1] // 2, 2, expected.shape[2] // 2, 2)
                expected = np.rint(two.mean(axis=(2, 4))).astype(np.uint16)

def test_a_plain_tiff_stack_with_a_pyramid_reads_back_as_one_image(tmp_path):
    # its reduced pages read as a second series, QQYX, which a rerun failed on
    data = RNG.integers(0, 4000, (2, 600, 520), dtype=np.uint16)
    write_image(tmp_path / "c.tif", data, ImageMetadata("CYX"), format="tiff", pyramid="on")
    with tifffile.TiffFile(tmp_path / "c.tif") as tif:
        assert len(tif.series) == 1 and tif.series[0].axes == "CYX"
        assert [level.shape for level in tif.series[0].levels] == [
            (2, 600, 520), (2, 300, 260), (2, 150, 130)]
    run(str(tmp_path / "c.tif"), "-o", str(tmp_path / "out"))  # its pyramid kept (auto)
    with tifffile.TiffFile(tmp_path / "out" / "c.tif") as tif:
        assert len(tif.series) == 1 and len(tif.series[0].levels) == 3


def test_a_plain_tiff_with_a_z_axis_gets_no_pyramid(tmp_path):
    # tifffile reads a Z stack's reduced pages as a second series whatever they say
    data = RNG.integers(0, 4000, (2, 3, 64, 80), dtype=np.uint16)
    meta = ImageMetadata("CZYX")
    with pytest.raises(ValueError, match="Z axis.*--format ome-tiff") as error:
        write_image(tmp_path / "z.tif", data, meta, format="tiff", pyramid="on")
    assert "\n" not in str(error.value) and not (tmp_path / "z.tif").exists()
    with pytest.raises(ValueError, match="--format ome-tiff"):  # before any computing
        io.check_writable(data.shape, data.dtype, meta, "tiff", "on")
    pyramidal = ImageMetadata("CZYX", original={"level_shapes": [(2, 3, 64, 80), (2, 3, 32, 40)]})
    with pytest.warns(UserWarning, match="--format ome-tiff"):
        write_image(tmp_path / "z.tif", data, pyramidal, format="tiff")  # auto: as the input
    with tifffile.TiffFile(tmp_path / "z.tif") as tif:
        assert [(s.axes, len(s.levels)) for s in tif.series] == [("CZYX", 1)]
    write_image(tmp_path / "z.ome.tif", data, pyramidal, format="ome-tiff")
    with tifffile.TiffFile(tmp_path / "z.ome.tif") as tif:
        assert [(s.axes, len(s.levels)) for s in tif.series] == [("CZYX", 2)]


# --- across formats --------------------------------------------------------------------------


def test_ome_zarr_to_ome_tiff_and_back_carries_time_and_colours(tmp_path):
    write_ome_zarr(tmp_path / "t.ome.zarr", "0.5")
    run(str(tmp_path / "t.ome.zarr"), "-o", str(tmp_path / "tif"), "--format", "ome-tiff")
    _, meta = read_image(tmp_path / "tif" / "t.ome.tif")
    assert meta.spacing == pytest.approx({"T": 30.0, "Y": 0.5, "X": 0.5})
    assert meta.units == {"T": "s", "Y": "µm", "X": "µm"}
    assert meta.channel_names == ("DAPI", "GFP")
    assert meta.channel_colors == ("0000FF", "00FF00")
    run(str(tmp_path / "tif" / "t.ome.tif"), "-o", str(tmp_path / "zarr"), "--format",
        "ome-zarr")
    attrs = dict(zarr.open_group(str(tmp_path / "zarr" / "t.ome.zarr"), mode="r").attrs)
    axes = attrs["multiscales"][0]["axes"]
    assert axes[0] == {"name": "t", "type": "time", "unit": "second"}
    scale = attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [30.0, 1.0, 0.5, 0.5]
    assert [(c["label"], c["color"]) for c in attrs["omero"]["channels"]] == [
        ("DAPI", "0000FF"), ("GFP", "00FF00")]


def test_info_suggest_and_sweep_take_a_zarr_store(tmp_path):
    from bgsub.data import synthetic

    image = np.stack([synthetic((64, 64), object_radius=3, seed=s).image
                      for s in range(2)]).astype(np.uint16)
    write_image(tmp_path / "s.ome.zarr", image, ImageMetadata("CYX"), format="ome-zarr")
    runner = CliRunner()
    for command in (["info"], ["suggest"], ["sweep", "-m", "tophat", "--radius", "4,8"]):
        result = runner.invoke(main, [*command, str(tmp_path / "s.ome.zarr")],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "s_sweep.png").stat().st_size > 1000
    assert f"range      : {image.min()} - {image.max()}" in runner.invoke(
        main, ["info", str(tmp_path / "s.ome.zarr")]).output
