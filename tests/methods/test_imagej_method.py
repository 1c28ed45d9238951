"""The registered 'imagej' method and bgsub.from_imagej route to the ImageJ port unchanged."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tifffile

import bgsub
from bgsub.methods.imagej import imagej_subtract, parse_imagej_options


@pytest.mark.parametrize("options", ["rolling=12", "rolling=31 light", "rolling=8 sliding disable",
                                     "rolling=[20] create"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_subtract_background_with_from_imagej_is_the_port(blobs_2d, options, dtype):
    image = (blobs_2d // 16).astype(dtype) if dtype == np.uint8 else blobs_2d.astype(dtype)
    parsed = parse_imagej_options(options)
    expected = imagej_subtract(image, parsed.pop("radius"), **parsed)
    ours = bgsub.subtract_background(image, **bgsub.from_imagej(options))
    assert ours.dtype == image.dtype
    np.testing.assert_array_equal(ours, expected)


def test_stack_and_rgb_axes(blobs_3d):
    ours = bgsub.subtract_background(blobs_3d, **bgsub.from_imagej("rolling=5"))
    np.testing.assert_array_equal(ours, imagej_subtract(blobs_3d, 5))
    rgb = np.stack([(blobs_3d[0] // 16).astype(np.uint8)] * 3, axis=-1)
    ours = bgsub.subtract_background(rgb, **bgsub.from_imagej("rolling=5"))
    np.testing.assert_array_equal(ours, imagej_subtract(rgb, 5, rgb=True))


def test_unknown_imagej_key_names_the_accepted_ones():
    with pytest.raises(ValueError, match="rolling"):
        bgsub.from_imagej("rolling=5 bogus=3")


def test_imagej_refuses_true_3d(blobs_3d):
    with pytest.raises(ValueError, match="no true 3D"):
        bgsub.subtract_background(blobs_3d, **bgsub.from_imagej("rolling=5"), true_3d=True)


# -- the ImageJ release: 1.54t unless asked; on the command line and in provenance --------

def _elongated() -> np.ndarray:
    """A 64x12 8-bit image on which 1.53t's and 1.54t's sliding paraboloids differ."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:12, 0:64]
    img = 60 + 20 * np.sin(x / 9.0) + 5 * y + rng.normal(0, 4, (12, 64))
    img[3:7, 40:46] += 90
    return np.clip(img, 0, 255).astype(np.uint8)


def test_from_imagej_reproduces_1_54t_unless_asked(blobs_2d):
    image = _elongated()
    kwargs = bgsub.from_imagej("rolling=50 sliding")
    assert kwargs["imagej_version"] == "1.54t"
    new = bgsub.subtract_background(image, **kwargs)
    old = bgsub.subtract_background(image, **bgsub.from_imagej("rolling=50 sliding", "1.53t"))
    np.testing.assert_array_equal(new, imagej_subtract(image, 50, sliding_paraboloid=True,
                                                       version="1.54t"))
    np.testing.assert_array_equal(old, imagej_subtract(image, 50, sliding_paraboloid=True,
                                                       version="1.53t"))
    assert (new != old).any()  # the image is one where the releases differ
    with pytest.raises(ValueError, match="unknown ImageJ version"):
        bgsub.from_imagej("rolling=5", version="1.54")


def _run(tmp_path, *args):
    from click.testing import CliRunner

    from bgsub.cli import main

    tifffile.imwrite(tmp_path / "a.tif", _elongated())
    result = CliRunner().invoke(main, ["run", str(tmp_path / "a.tif"), "-o",
                                       str(tmp_path / "out"), "-q", *args])
    return result


@pytest.mark.parametrize(("args", "version"), [
    ((), "1.54t"), (("--imagej-version", "1.53t"), "1.53t"), (("--imagej-version", "1.54t"),
                                                             "1.54t")])
def test_cli_imagej_version_is_applied_and_recorded(tmp_path, args, version):
    result = _run(tmp_path, "--imagej", "rolling=50 sliding", *args)
    assert result.exit_code == 0, result.output
    out = tifffile.imread(tmp_path / "out" / "a.tif")
    np.testing.assert_array_equal(out, imagej_subtract(_elongated(), 50,
                                                       sliding_paraboloid=True, version=version))
    record = json.loads((tmp_path / "out" / "a.tif.bgsub.json").read_text())
    assert record["parameters"]["options"]["imagej_version"] == version


@pytest.mark.parametrize(("args", "message"), [
    (("--imagej", "rolling=[50"), "unclosed '\\['"),
    (("--method", "rolling_ball", "--imagej-version", "1.53t"), "applies to the imagej method"),
    (("--imagej", "rolling=5", "--imagej-version", "1.52a"), "1.52a"),
])
def test_cli_refuses_in_one_line(tmp_path, args, message):
    result = _run(tmp_path, *args)
    assert result.exit_code == 2
    assert re.search(message, result.output) and result.output.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_a_record_without_imagej_version_replays_1_53t(tmp_path):
    assert _run(tmp_path, "--imagej", "rolling=50 sliding").exit_code == 0
    record_path = tmp_path / "out" / "a.tif.bgsub.json"
    record = json.loads(record_path.read_text())
    del record["parameters"]["options"]["imagej_version"]  # as bgsub wrote it before 1.54t
    record_path.write_text(json.dumps(record))
    again = _run(tmp_path, "--config", str(record_path), "--suffix", "_again")
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "out" / "a_again.tif"),
        imagej_subtract(_elongated(), 50, sliding_paraboloid=True, version="1.53t"))


def test_values_beyond_32_bit_float_are_refused_not_made_infinite():
    # ImageJ computes in 32-bit float: a float64 image up to 1e200 became inf, the background
    # NaN, silently
    image = np.random.default_rng(0).random((64, 64)) * 1e200
    with pytest.raises(ValueError, match=r"values up to 1e\+200 exceed its range"):
        bgsub.estimate_background(image, "imagej", radius=10)
    within = bgsub.estimate_background(image / 1e170, "imagej", radius=10)
    assert np.isfinite(within).all()
