"""An image that looks like dark objects on a light background, measured as a dark one, is
warned of (``bgsub._polarity``): by the default method at a fixed radius (the engine's plan)
and, for every method, as a finding of ``radius="auto"``; never with
``light_background=True``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

import bgsub
from bgsub import BackgroundWarning
from bgsub._polarity import LIGHT_MESSAGE, looks_light
from bgsub.auto import findings, suggest_radius
from bgsub.data import synthetic
from bgsub.kernels.blocks import coarse_cells
from sample_data import sample_image


def _fluorescence(seed: int, density: float, radius: tuple[float, float],
                  dtype: type = np.uint16) -> np.ndarray:
    image = synthetic((384, 448), object_radius=radius, density=density, seed=seed).image
    if dtype is np.float32:
        return image.astype(np.float32) / 1000
    if dtype is np.uint8:
        return np.clip(image / 8, 0, 255).astype(np.uint8)
    return image


def _negative(image: np.ndarray) -> np.ndarray:
    """Dark objects on a light background, in the image's dtype."""
    return (image.max() - image).astype(image.dtype)


def _messages(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, BackgroundWarning)]


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.float32])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("density", "radius"), [(0.05, (3, 6)), (0.2, (5, 12)), (0.4, (8, 16)),
                                                 (0.7, (5, 10))])
def test_fluorescence_looks_dark_and_its_sparse_negative_looks_light(dtype, seed, density,
                                                                      radius):
    image = _fluorescence(seed, density, radius, dtype)
    assert not looks_light(coarse_cells(image, 512)[0])
    # (a dense field's negative: the gaps between the objects are its flat part; uint8 with
    # the objects saturated at 20-40 % coverage is missed too)
    if density <= (0.4 if dtype is not np.uint8 else 0.05):
        assert looks_light(coarse_cells(_negative(image), 512)[0])


def test_a_plane_too_small_to_rank_its_tiles_or_not_finite_never_looks_light():
    negative = 1000.0 - synthetic((120, 300), object_radius=3, seed=1).image
    assert not looks_light(negative)  # (7 tiles of 16 cells down: too few to rank)
    negative = 1000.0 - synthetic((256, 256), object_radius=6, seed=1).image
    assert looks_light(negative)
    for value in (np.nan, np.inf):
        spoiled = negative.copy()
        spoiled[5, 7] = value
        assert not looks_light(spoiled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no overflow on the squares of huge values)
        assert looks_light(negative * 1e300) and looks_light(negative * 1e-300)


def test_naparis_h_and_e_skin_is_warned_of_in_each_channel_at_a_fixed_radius_and_auto():
    skin = sample_image("skin.tif")  # (960, 1280, 3) uint8: H&E, a light background
    for channel in range(3):
        plane = np.ascontiguousarray(skin[..., channel])
        assert _messages(lambda p=plane: bgsub.estimate_background(p, radius=50))[0] \
            == LIGHT_MESSAGE
        assert LIGHT_MESSAGE not in _messages(
            lambda p=plane: bgsub.estimate_background(p, radius=50, light_background=True))
    auto = suggest_radius(skin[..., 1])
    assert auto.looks_light and LIGHT_MESSAGE in findings(auto)
    assert not suggest_radius(skin[..., 1], light_background=True).looks_light


def test_the_default_warns_of_it_once_per_call_and_the_exact_methods_only_with_auto():
    """The default method looks at a fixed radius (5 ms of its 200 on 2048x2048); the exact
    methods (the rolling ball: 40 ms) do not, but ``radius="auto"`` does for every method."""
    negative = _negative(synthetic((256, 256), object_radius=8, seed=3).image)
    assert _messages(lambda: bgsub.subtract_background(negative, radius=20)).count(
        LIGHT_MESSAGE) == 1
    assert _messages(lambda: bgsub.subtract_background(negative, radius=20,
                                                       light_background=True)) == []
    for method in ("rolling_ball", "paraboloid", "tophat", "gaussian"):
        assert LIGHT_MESSAGE not in _messages(
            lambda m=method: bgsub.subtract_background(negative, m, 20))
        assert LIGHT_MESSAGE in _messages(
            lambda m=method: bgsub.subtract_background(negative, m, "auto"))


def test_the_fluorescent_sample_stacks_are_not_warned_of():
    for name, axes in (("nuclei.tif", "ZYX"), ("2D_timelapse.tif", "TYX")):
        stack = sample_image(name)
        assert LIGHT_MESSAGE not in _messages(
            lambda s=stack, a=axes: bgsub.estimate_background(s, radius=30, axes=a))
        assert not suggest_radius(stack, axes).looks_light


def test_a_stack_is_judged_on_its_middle_plane():
    """The engine looks at one plane (the middle one, a few milliseconds); a stack whose middle
    plane looks light is warned of once."""
    dark = synthetic((160, 160), object_radius=6, seed=4).image
    stack = np.stack([dark, dark, _negative(dark), dark, dark])
    assert _messages(lambda: bgsub.estimate_background(stack, radius=20, axes="ZYX")).count(
        LIGHT_MESSAGE) == 1
    assert LIGHT_MESSAGE not in _messages(
        lambda: bgsub.estimate_background(stack[:2], radius=20, axes="ZYX"))


def test_a_dask_array_is_not_read_for_it():
    da = pytest.importorskip("dask.array")
    negative = _negative(synthetic((256, 256), object_radius=8, seed=3).image)
    assert LIGHT_MESSAGE not in _messages(
        lambda: bgsub.estimate_background(da.from_array(negative, chunks=128), "rolling_ball", 20))


def test_the_command_line_says_it_once_and_not_with_light(tmp_path):
    negative = _negative(synthetic((256, 256), object_radius=8, seed=3).image)
    tifffile.imwrite(tmp_path / "bright_field.tif", negative)

    def run(*extra: str) -> str:
        result = subprocess.run([sys.executable, "-m", "bgsub", "run",
                                 str(tmp_path / "bright_field.tif"), "-o",
                                 str(tmp_path / f"out{len(extra)}"), "--radius", "20", *extra],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stderr

    lines = [line for line in run().splitlines() if "light background" in line]
    assert lines == [f"bgsub: warning: {tmp_path / 'bright_field.tif'}: {LIGHT_MESSAGE}"]
    assert "light background" not in run("--light")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([np.uint8, np.int16, np.uint16, np.int64, np.float16, np.float32,
                        np.float64]),
       st.integers(1, 400), st.integers(1, 400), st.integers(0, 2**32 - 1),
       st.sampled_from([0.0, 1e-30, 1.0, 1e30]))
def test_any_plane_is_looked_at_without_an_error_or_a_warning(dtype, rows, columns, seed,
                                                             scale):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, columns)) * scale
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(values * 50 + 100, info.min, info.max)
    plane = values.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert looks_light(coarse_cells(plane, 512)[0]) in (True, False)


def test_sweep_names_the_file_once_and_counts_the_other_settings(tmp_path):
    path = tmp_path / "bright_field.tif"
    tifffile.imwrite(path, _negative(synthetic((256, 256), object_radius=8, seed=3).image))
    result = subprocess.run([sys.executable, "-m", "bgsub", "sweep", str(path), "-m", "robust",
                             "--radius", "20,30,40", "-o", str(tmp_path / "montage.png"), "-q"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if "light background" in line] == [
        f"bgsub: warning: {path}: {LIGHT_MESSAGE}"], result.stderr
    assert lines[-1] == ("bgsub: 2 more warnings like those above (the same file's other "
                         "planes, channels or settings) not shown"), result.stderr


def _saturated_fluorescence(seed: int) -> np.ndarray:
    """uint8 fluorescence at a high gain (27 counts a photon over 5 photons of background):
    the disks' 25 photons more clip at 255, flat plateaus as bright as nothing else."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:384, :384]
    photons = np.full((384, 384), 5.0)
    for cy, cx in rng.integers(0, 384, (40, 2)):
        photons[(yy - cy) ** 2 + (xx - cx) ** 2 <= 100] += 20.0
    return np.clip(5.0 + 27.0 * rng.poisson(photons), 0, 255).astype(np.uint8)


def _overexposed_bright_field(seed: int, level: float) -> np.ndarray:
    """uint8 bright field: dark disks on a background at ``level`` (noise sd 10), clipped at 255
    where it is over (0.5-76 % of the pixels from 230 to 270)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:384, :384]
    image = np.full((384, 384), level)
    for cy, cx in rng.integers(0, 384, (25, 2)):
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 400] -= 80.0
    return np.clip(image + rng.normal(0, 10.0, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(3))
def test_saturated_objects_do_not_make_fluorescence_look_light(seed):
    """Saturated cells are flat because the camera stopped counting: read as the flattest,
    brightest tiles, they made uint8 fluorescence look like a light background (5 of 168
    generated dark-background planes; every one of these). A tile's roughness and level are
    read on its unclipped cells."""
    image = _saturated_fluorescence(seed)
    assert (image == 255).mean() > 0.1
    assert not looks_light(coarse_cells(image, 512)[0])


@pytest.mark.parametrize("level", [230.0, 255.0, 270.0])
def test_an_overexposed_bright_field_still_looks_light(level):
    """Its background clips at 255 in 0.5-76 % of the pixels: still the flattest, brightest
    part once the clipped cells are left out of each tile's roughness and level."""
    assert looks_light(coarse_cells(_overexposed_bright_field(0, level), 512)[0])
