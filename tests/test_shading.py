"""Shading correction: known-field recovery, dtype safety, in memory == Dask == cluster,
bad inputs, and the command line round trip (docs/shading.md)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from numpy.testing import assert_allclose, assert_array_equal

import bgsub
from bgsub.shading import ShadingProfile, get_shading_method, list_shading_methods
from bgsub.shading.files import apply_to_image, load_fields

SIZE = 64
TILES = 40


def _vignetting(size: int = SIZE, power: float = 2.0) -> np.ndarray:
    """Off-centre radial falloff: to 26 % of the mean in a corner (power 2), 63 % (power 0.5)."""
    y, x = (np.mgrid[:size, :size] + 0.5) / size
    field = 1.0 / (1.0 + ((y - 0.45) ** 2 + (x - 0.55) ** 2) / 0.25) ** power
    return field / field.mean()


def _tiles(dark: float | np.ndarray = 0.0, spots: bool = True, seed: int = 0,
           count: int = TILES, power: float = 2.0) -> np.ndarray:
    """(count, SIZE, SIZE) uint16: (level_i + sparse spots) * F + D, Poisson noise."""
    rng = np.random.default_rng(seed)
    flat = _vignetting(power=power)
    level = rng.uniform(150, 450, count)
    scene = np.repeat(level[:, None, None], SIZE, 1).repeat(SIZE, 2)
    if spots:
        for i in range(count):
            ys, xs = rng.integers(0, SIZE, (2, 6))
            scene[i, ys, xs] += rng.uniform(2000, 4000, 6)
    return rng.poisson(scene * flat + dark).astype(np.uint16)


def _tile_folder(tmp_path: Path, tiles) -> Path:
    """tmp_path/tiles/t00.tif, t01.tif, ...: one file per tile."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i, tile in enumerate(tiles):
        tifffile.imwrite(folder / f"t{i:02d}.tif", tile)
    return folder


@pytest.fixture(scope="module")
def tiles() -> np.ndarray:
    return _tiles()


@pytest.fixture(scope="module")
def profile(tiles) -> ShadingProfile:
    return bgsub.estimate_shading(tiles)


# -- recovery of known fields --------------------------------------------------------------

def test_lowrank_recovers_flatfield(profile):
    # 40 noisy tiles of 64x64 with bright spots: the field within 1 % RMSE, 3 % anywhere
    error = profile.flatfield - _vignetting()
    assert np.sqrt(np.mean(error**2)) < 0.01
    assert np.abs(error).max() < 0.03
    assert profile.flatfield.dtype == np.float32
    assert abs(float(profile.flatfield.mean()) - 1.0) < 1e-5


def test_lowrank_recovers_dark_offset():
    # a flat camera offset of 100 counts: recovered within 10 counts, the flat-field within 2 %
    profile = bgsub.estimate_shading(_tiles(dark=100.0, seed=1), darkfield=True)
    assert abs(float(profile.darkfield.mean()) - 100.0) < 10.0
    assert np.sqrt(np.mean((profile.flatfield - _vignetting()) ** 2)) < 0.02
    assert profile.darkfield_estimated


def test_dark_field_of_evenly_bright_tiles_is_refused_with_a_warning():
    rng = np.random.default_rng(3)
    even = rng.poisson(np.full((TILES, 1, 1), 300.0) * _vignetting() + 100).astype(np.uint16)
    with pytest.warns(UserWarning, match="too little to tell a dark-field"):
        profile = bgsub.estimate_shading(even, darkfield=True)
    assert not profile.darkfield.any()


def _tissue(dark: float = 0.0, seed: int = 0) -> np.ndarray:
    """Brightfield-like tiles: bright glass minus absorbing tissue that covers every tile."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    tissue = ndimage.gaussian_filter(rng.random((TILES, SIZE, SIZE)), (0, 3, 3))
    scene = 1000.0 - 700.0 * (tissue - tissue.min()) / np.ptp(tissue)
    return rng.poisson(scene * _vignetting() + dark).astype(np.uint16)


def _rmse(profile: ShadingProfile) -> float:
    return float(np.sqrt(np.mean((profile.flatfield - _vignetting()) ** 2)))


def test_dark_field_hidden_by_dense_content_is_dropped_with_a_warning():
    # the tiles' brightness varies through their content, not a baseline, so the
    # dark-field cannot be told from flat x content, and the fit without it is returned
    # (the reason named: the baselines that vary too little, or the content that hides it)
    dense = _tissue(dark=100.0)
    with pytest.warns(bgsub.BackgroundWarning,
                      match=r"(content \(dense\?\)|too little to tell).*dark frame"):
        profile = bgsub.estimate_shading(dense, darkfield=True)
    assert not profile.darkfield.any()
    assert_array_equal(profile.flatfield, bgsub.estimate_shading(dense).flatfield)


def _glow(size: int = SIZE) -> np.ndarray:
    """A dark frame: a 100-count camera offset with a 24-count amplifier glow."""
    x = (np.arange(size) + 0.5) / size
    return np.broadcast_to(100.0 + 24.0 * (x - 0.5), (size, size)).copy()


@pytest.mark.parametrize("method", ["lowrank", "spline"])
def test_measured_dark_frame_is_subtracted_before_the_fit(method):
    # dense tissue hides the dark-field from the tiles (above), and a flat-field fitted
    # without subtracting it falls short of the field's contrast by offset / level; given
    # as a measured frame it comes off the tiles first, with any method
    dense, frame = _tissue(dark=_glow()), _glow()
    profile = bgsub.estimate_shading(dense, method, darkfield=frame)
    assert_array_equal(profile.darkfield, frame.astype(np.float32))
    assert profile.darkfield_estimated
    assert profile.options["dark_frame"].startswith("measured")
    cleaned = (dense.astype(np.float64) - frame).astype(np.float32)
    assert_allclose(profile.flatfield, bgsub.estimate_shading(cleaned, method).flatfield,
                    atol=1e-6)
    without = bgsub.estimate_shading(dense, method)
    assert _rmse(profile) < 0.5 * _rmse(without)


def test_measured_dark_offset_as_a_number_and_per_channel():
    dense = _tissue(dark=100.0)
    number = bgsub.estimate_shading(dense, darkfield=100.0)
    assert_array_equal(number.darkfield, np.full((SIZE, SIZE), 100.0, np.float32))
    frame = np.full((SIZE, SIZE), 100)
    assert_array_equal(number.flatfield,
                       bgsub.estimate_shading(dense, darkfield=frame).flatfield)
    assert _rmse(number) < 0.5 * _rmse(bgsub.estimate_shading(dense))
    two = np.stack([dense, dense], axis=1)  # (N, C, Y, X): one frame for all, or one each
    frames = np.stack([np.full((SIZE, SIZE), 100.0), _glow()])
    each = bgsub.estimate_shading(two, darkfield=frames)
    assert_array_equal(each.darkfield, frames.astype(np.float32))
    assert_array_equal(each.flatfield[0], number.flatfield)
    shared = bgsub.estimate_shading(two, darkfield=frames[0])
    assert_array_equal(shared.darkfield[1], shared.darkfield[0])


def test_measured_dark_frame_gives_baselines_and_corrects_flat():
    dense = _tissue(dark=_glow())
    profile = bgsub.estimate_shading(dense, darkfield=_glow(), baseline=True)
    flat = bgsub.correct_shading(dense, profile, output_dtype="float")
    means = flat.reshape(TILES, -1).mean(axis=1)
    assert_allclose(profile.baseline, means, rtol=0.1)
    # with the offset removed the corrected tiles have no trace of the field left
    assert abs(np.corrcoef(flat.mean(axis=0).ravel(), _vignetting().ravel())[0, 1]) < 0.3


def test_bad_dark_frames(tiles):
    with pytest.raises(ValueError, match=r"dark frame has shape \(32, 32\), the tiles \(64, 64\)"):
        bgsub.estimate_shading(tiles, darkfield=np.zeros((32, 32)))
    with pytest.raises(ValueError, match="dark frame contains NaN"):
        bgsub.estimate_shading(tiles, darkfield=np.full((SIZE, SIZE), np.nan))
    with pytest.raises(ValueError, match="dark frame has shape"):
        bgsub.estimate_shading(tiles, darkfield=[1.0, 2.0])
    with pytest.raises(TypeError, match="not a path.*--dark-frame"):
        bgsub.estimate_shading(tiles, darkfield="dark.tif")
    with pytest.raises(ValueError, match=r"dark frame has shape \(3, 64, 64\), the tiles"):
        bgsub.estimate_shading(np.stack([tiles, tiles], axis=1), darkfield=np.zeros((3, 64, 64)))
    with pytest.raises(ValueError, match="dark frame contains NaN or infinite"):
        bgsub.estimate_shading(tiles, darkfield=np.full((SIZE, SIZE), np.inf))
    with pytest.raises(ValueError, match="the dark offset inf is not a finite number"):
        bgsub.estimate_shading(tiles, darkfield=np.inf)


@pytest.mark.parametrize("frame", [1000.0, "bright frame", "second channel"])
def test_dark_frame_above_the_tiles_is_a_one_line_error(tiles, frame):
    # a frame in other units (or from another exposure) leaves the tiles negative: the
    # flat-field fitted to that would be nonsense, silently
    stack = tiles
    if frame == "bright frame":
        frame = tiles.mean(axis=0) + 50.0
    elif frame == "second channel":
        stack = np.stack([tiles, tiles], axis=1)
        frame = np.stack([np.zeros((SIZE, SIZE)), np.full((SIZE, SIZE), 5000.0)])
    with pytest.raises(ValueError) as error:
        bgsub.estimate_shading(stack, darkfield=frame)
    message = str(error.value)
    assert "dark frame lies at or above the tiles' mean at 100 % of the pixels" in message
    assert "\n" not in message
    assert ("channel 1" in message) == (stack.ndim == 4)


@pytest.mark.parametrize("number", [0, 1, np.int64(1), np.array(0)])
def test_integer_zero_or_one_dark_field_warns_that_it_is_an_offset(tiles, number):
    # True is an int in Python: darkfield=1 reads as an offset of one count, which is
    # rarely what was meant; the warning names both fixes
    truth = bool(number)
    with pytest.warns(bgsub.BackgroundWarning,
                      match=rf"darkfield={int(number)} is read as a measured dark offset of "
                            rf"{int(number)} counts?, not as {truth}; pass darkfield={truth}"):
        profile = bgsub.estimate_shading(tiles, "gaussian", darkfield=number)
    assert_array_equal(profile.darkfield, np.full((SIZE, SIZE), int(number), np.float32))
    with warnings.catch_warnings():  # a float, a bool or another int: no warning
        warnings.simplefilter("error", bgsub.BackgroundWarning)
        for value in (1.0, 0.0, 2, False):
            bgsub.estimate_shading(tiles, "gaussian", darkfield=value)
        with pytest.raises(ValueError, match="does not estimate a dark-field"):
            bgsub.estimate_shading(tiles, "gaussian", darkfield=np.True_)


@pytest.mark.parametrize("kind, steadier", [("tissue", "absolute"), ("spots", "biweight")])
def test_auto_loss_is_the_one_closer_to_the_field(tiles, kind, steadier):
    # dense bright-field tissue with a broad spread of values: the absolute loss (a
    # median) is closer; sparse spots on bare background: the biweight. "auto" takes the
    # one whose fits on halves of the tiles agree better, which is the closer one here
    stack = _tissue() if kind == "tissue" else tiles
    auto = bgsub.estimate_shading(stack)
    (chosen,) = auto.options["chosen"]
    assert chosen["loss"] == steadier
    other = {"absolute": "biweight", "biweight": "absolute"}[steadier]
    assert _rmse(auto) < _rmse(bgsub.estimate_shading(stack, loss=other))
    # the choice recorded in the profile reproduces the profile
    assert_array_equal(auto.flatfield, bgsub.estimate_shading(stack, **chosen).flatfield)


def test_auto_smoothness_smooths_more_where_the_content_dominates(tiles, profile):
    # 16 tiles of large blobs: the specimen, not the field, shapes a lightly smoothed fit,
    # so a stronger penalty is chosen and lands closer; many tiles of sparse spots: the least
    from scipy import ndimage

    rng = np.random.default_rng(2)
    blobs = ndimage.gaussian_filter(rng.standard_normal((16, SIZE, SIZE)), (0, 6, 6))
    scene = np.clip(300.0 + 100.0 * (blobs - blobs.mean()) / blobs.std(), 10.0, None)
    stack = rng.poisson(scene * _vignetting()).astype(np.uint16)
    auto = bgsub.estimate_shading(stack)
    assert auto.options["chosen"][0]["smoothness"] > 1e-6
    assert _rmse(auto) < _rmse(bgsub.estimate_shading(stack, smoothness=1e-6))
    assert profile.options["chosen"][0]["smoothness"] == 1e-6


def test_the_choice_made_on_threads_is_the_one_made_in_turn(monkeypatch):
    # the split-half choice's fits run side by side: the same profile, bit for bit, as
    # one after the other (and the same choice, dark-field included)
    from bgsub.shading import lowrank

    stack = _tiles(dark=100.0, seed=3)
    monkeypatch.setenv("BGSUB_NUM_THREADS", "4")
    monkeypatch.setattr(lowrank, "_THREADS_FROM", 0)  # (these few tiles: on threads too)
    threaded = bgsub.estimate_shading(stack, darkfield=True)
    monkeypatch.setattr(lowrank, "_FIT_THREADS", 1)
    in_turn = bgsub.estimate_shading(stack, darkfield=True)
    assert threaded.options["chosen"] == in_turn.options["chosen"]
    assert_array_equal(threaded.flatfield, in_turn.flatfield)
    assert_array_equal(threaded.darkfield, in_turn.darkfield)


def test_pooled_fit_recovers_the_field_on_the_working_grid(tiles):
    # blocks of 2 x 2 bins averaged before the robust fit, the fields evaluated at every bin:
    # the same field within 1 % RMSE, and the pooling recorded with the other choices
    pooled = bgsub.estimate_shading(tiles, pool=2)
    assert _rmse(pooled) < 0.01
    assert pooled.options["chosen"][0]["pool"] == 2
    dark = bgsub.estimate_shading(_tiles(dark=100.0, seed=1), darkfield=True, pool=2)
    assert abs(float(dark.darkfield.mean()) - 100.0) < 10.0


def test_pooled_fit_is_evaluated_at_every_bin_not_interpolated():
    # strong vignetting on 64-pixel tiles pooled to 8 x 8 blocks: fitted with the basis
    # averaged over each block and evaluated at every bin, the field is within 0.7 % RMSE;
    # a spline through the 8 blocks' centres missed the curved edges by 1.3 %
    size = 64
    y, x = (np.mgrid[:size, :size] + 0.5) / size
    flat = 1.0 / (1.0 + ((y - 0.45) ** 2 + (x - 0.55) ** 2) / 0.1)
    flat /= flat.mean()
    rng = np.random.default_rng(0)
    tiles = rng.poisson(rng.uniform(1500, 2500, (64, 1, 1)) * flat * np.ones((64, size, size)))
    profile = bgsub.estimate_shading(tiles.astype(np.uint16), pool=4, smoothness=1e-6,
                                     loss="biweight")
    assert float(np.sqrt(np.mean((profile.flatfield - flat) ** 2))) < 0.007


def test_pooling_that_halves_the_split_variance_is_kept(monkeypatch):
    # the unpooled fit carries a bias both halves of the tiles share (grainy one-pixel bins),
    # which pooling removes: the risk estimate, measured from the unpooled fit, counts that
    # change as bias added (1.2e-4 against 1e-4) and kept it; the pooled fit's split
    # variance, 0.36x the unpooled one, now keeps the pooled fit
    from bgsub.shading import lowrank

    u = (np.arange(32) + 0.5) / 32
    truth = np.add.outer(np.cos(np.pi * u), np.cos(np.pi * u)) * 0.1 + 1.0
    bias = 0.01 * np.sign(np.sin(7 * np.pi * np.add.outer(u, u)))
    noise = np.random.default_rng(0).standard_normal((32, 32))
    noise *= 0.01 / np.sqrt(np.mean(noise**2))
    monkeypatch.setattr(lowrank, "_fit", lambda stack, darkfield, *, pool=1, **_: (
        truth + (bias if pool == 1 else 0.0), None, np.ones(len(stack))))
    monkeypatch.setattr(lowrank, "_split_error",
                        lambda stack, settings: noise * (1.0 if settings["pool"] == 1 else 0.6))
    fields = lowrank.estimate(np.ones((16, 32, 32)), False)
    assert fields.chosen["pool"] == 2
    np.testing.assert_allclose(fields.flatfield, truth)


def test_pooling_is_chosen_only_where_it_clearly_helps(profile):
    # sparse spots on bare background: nothing for pooling to average out, so the working
    # grid is kept; the recorded choice (pool included) reproduces the profile
    (chosen,) = profile.options["chosen"]
    assert chosen["pool"] == 1
    assert_array_equal(profile.flatfield,
                       bgsub.estimate_shading(_tiles(), **chosen).flatfield)
    with pytest.raises(ValueError, match="pool=5 is not accepted; use one of"):
        bgsub.estimate_shading(_tiles(count=8), pool=5)


def test_unknown_loss_is_a_one_line_error(tiles):
    with pytest.raises(ValueError, match="loss='l2' is not accepted; use one of") as error:
        bgsub.estimate_shading(tiles, loss="l2")
    assert "\n" not in str(error.value)


def test_dark_field_that_moves_the_flat_field_within_its_noise_is_dropped(tiles, profile):
    # no dark-field in these tiles: the fitted one changes the flat-field by less than the
    # flat-field varies between halves of the tiles (split-half check), so it is dropped
    with pytest.warns(bgsub.BackgroundWarning, match="varies between halves of the tiles"):
        asked = bgsub.estimate_shading(tiles, darkfield=True)
    assert not asked.darkfield.any()
    assert_array_equal(asked.flatfield, profile.flatfield)


def test_baseline_follows_each_tile(tiles):
    profile = bgsub.estimate_shading(tiles, baseline=True)
    level = np.random.default_rng(0).uniform(150, 450, TILES)
    # the spots sit on top of the level; the baseline is the level within 3 %
    assert_allclose(profile.baseline, level, rtol=0.03)


@pytest.mark.parametrize("method", ["gaussian", "median", "block_minimum", "polynomial",
                                    "spline"])
def test_cellprofiler_style_methods_find_the_field(method):
    # a milder field without spots (their smoothing cannot reject them): within 3 % RMSE
    profile = bgsub.estimate_shading(_tiles(spots=False, seed=2, power=0.5), method)
    assert np.sqrt(np.mean((profile.flatfield - _vignetting(power=0.5)) ** 2)) < 0.03


def test_registry_lists_methods_and_aliases():
    names = [m.name for m in list_shading_methods()]
    assert names == sorted(names) and "lowrank" in names
    assert get_shading_method("BaSiC").name == "lowrank"


# -- correction --------------------------------------------------------------------------

def test_correct_is_dtype_safe_and_matches_float64_reference(tiles, profile):
    corrected = bgsub.correct_shading(tiles, profile)
    assert corrected.dtype == np.uint16
    reference = (tiles.astype(np.float64) - profile.darkfield) / profile.flatfield
    assert np.abs(corrected - np.clip(np.rint(reference), 0, 65535)).max() <= 1
    floats = bgsub.correct_shading(tiles, profile, output_dtype="float")
    assert floats.dtype == np.float32
    assert_allclose(floats, reference, rtol=1e-5)


def test_correct_clips_instead_of_wrapping():
    flat = np.full((4, 4), 1.0, np.float32)
    flat[0, 0] = 0.01
    profile = ShadingProfile(flat / flat.mean(), np.full((4, 4), 50, np.float32))
    image = np.full((4, 4), 60000, np.uint16)
    image[1, 1] = 10  # below the dark-field: 0, not 65496
    out = bgsub.correct_shading(image, profile)
    assert out[0, 0] == 65535 and out[1, 1] == 0


def test_correct_flattens_the_tiles(tiles, profile):
    plain = _tiles(spots=False)
    corrected = bgsub.correct_shading(plain, profile, output_dtype="float64")
    # each tile's rows and columns become even: edge vs centre within 3 %
    ratio = corrected[:, :8, :8].mean() / corrected[:, 28:36, 28:36].mean()
    assert abs(ratio - 1.0) < 0.03


def test_channels_are_corrected_separately(tiles):
    stack = np.stack([tiles, tiles // 2], axis=1)  # (N, C, Y, X)
    profile = bgsub.estimate_shading(stack, "gaussian")
    assert profile.flatfield.shape == (2, SIZE, SIZE)
    one = bgsub.estimate_shading(tiles, "gaussian")
    assert_allclose(profile.flatfield[0], one.flatfield, atol=1e-6)
    corrected = bgsub.correct_shading(stack[:3], profile)
    assert corrected.shape == (3, 2, SIZE, SIZE)


def test_baseline_drift_is_removed(tiles):
    profile = bgsub.estimate_shading(tiles, baseline=True)
    corrected = bgsub.correct_shading(tiles, profile, baseline=True, output_dtype="float64")
    medians = np.median(corrected.reshape(TILES, -1), axis=1)
    assert medians.std() < 0.05 * tiles.std(axis=(1, 2)).mean() + 0.02 * medians.mean()


# -- inputs: lists, files, Zarr, Dask, cluster ---------------------------------------------

def test_every_input_kind_gives_the_same_profile(tmp_path, tiles):
    # reading is the same for every method: the quick median filter stands for all
    want = bgsub.estimate_shading(tiles, "median")
    import dask.array as da
    import zarr

    folder = tmp_path / "tiles"
    folder.mkdir()
    for i, tile in enumerate(tiles):
        tifffile.imwrite(folder / f"tile_{i:02d}.tif", tile)
    store = zarr.open_array(str(tmp_path / "tiles.zarr"), mode="w", shape=tiles.shape,
                            chunks=(4, SIZE, SIZE), dtype=tiles.dtype)
    store[:] = tiles
    sources = [list(tiles), folder, sorted(folder.glob("*.tif")),
               str(tmp_path / "tiles.zarr"), da.from_array(tiles, chunks=(7, 32, 32))]
    for source in sources:
        assert_array_equal(bgsub.estimate_shading(source, "median").flatfield, want.flatfield)


def test_sample_bounds_the_tiles_used(tiles):
    profile = bgsub.estimate_shading(tiles, sample=10)
    assert profile.options["tiles_fitted"] == 10 and profile.options["tiles"] == TILES


def test_dask_and_cluster_equal_memory(tiles):
    import dask.array as da

    distributed = pytest.importorskip("distributed")
    profile = bgsub.estimate_shading(tiles, darkfield=True, baseline=True, iterations=6)
    want = bgsub.correct_shading(tiles, profile, baseline=True)
    lazy = bgsub.correct_shading(da.from_array(tiles, chunks=(7, 24, 40)), profile,
                                 baseline=True)
    assert_array_equal(lazy.compute(scheduler="threads"), want)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            assert_array_equal(lazy.compute(), want)
            estimated = bgsub.estimate_shading(da.from_array(tiles, chunks=(9, SIZE, SIZE)),
                                               darkfield=True, baseline=True, iterations=6)
    assert_array_equal(estimated.flatfield, profile.flatfield)
    assert_array_equal(estimated.darkfield, profile.darkfield)


def test_a_cluster_of_worker_processes_equals_memory(tiles):
    # the tasks are pickled to other processes here, as on a real cluster (the tests above
    # run the workers in this process); the background's planes go through it too
    import dask.array as da

    distributed = pytest.importorskip("distributed")
    profile = bgsub.estimate_shading(tiles, darkfield=True, iterations=6)
    want = bgsub.correct_shading(tiles, profile)
    planes = tiles[:3].astype(np.float32)
    want_background = bgsub.subtract_background(planes, radius=10, axes="TYX")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            lazy = bgsub.correct_shading(da.from_array(tiles, chunks=(7, 24, 40)), profile)
            assert_array_equal(lazy.compute(), want)
            estimated = bgsub.estimate_shading(da.from_array(tiles, chunks=(9, SIZE, SIZE)),
                                               darkfield=True, iterations=6)
            background = bgsub.subtract_background(
                da.from_array(planes, chunks=(1, SIZE, SIZE)), radius=10, axes="TYX").compute()
    assert_array_equal(estimated.flatfield, profile.flatfield)
    assert_array_equal(estimated.darkfield, profile.darkfield)
    assert_array_equal(background, want_background)


def test_dask_and_cluster_equal_memory_with_a_measured_dark_frame():
    import dask.array as da

    distributed = pytest.importorskip("distributed")
    dense, frame = _tissue(dark=_glow()), _glow()
    profile = bgsub.estimate_shading(dense, darkfield=frame, baseline=True)
    want = bgsub.correct_shading(dense, profile, baseline=True)
    lazy = bgsub.correct_shading(da.from_array(dense, chunks=(7, 24, 40)), profile,
                                 baseline=True)
    assert_array_equal(lazy.compute(scheduler="threads"), want)
    chunked = da.from_array(dense, chunks=(9, SIZE, SIZE))
    assert_array_equal(bgsub.estimate_shading(chunked, darkfield=frame).flatfield,
                       profile.flatfield)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            assert_array_equal(lazy.compute(), want)
            estimated = bgsub.estimate_shading(chunked, darkfield=frame, baseline=True)
    assert_array_equal(estimated.flatfield, profile.flatfield)
    assert_array_equal(estimated.darkfield, profile.darkfield)
    assert_array_equal(estimated.baseline, profile.baseline)


# -- bad inputs ----------------------------------------------------------------------------

def test_tiles_of_different_shapes(tiles):
    with pytest.raises(ValueError, match=r"tile 1 has shape \(60, 64\).*one shape"):
        bgsub.estimate_shading([tiles[0], tiles[1][:60], tiles[2]])


@pytest.mark.parametrize("as_list", [False, True])
def test_rgb_tiles_with_samples_last_are_refused_not_read_as_channels(tiles, as_list):
    # (N, Y, X, 3) was read as (N, C, Y, X): a flat-field of Y channels, each X by 3 pixels
    rgb = np.stack([tiles] * 3, axis=-1)
    with pytest.raises(ValueError, match=r"last axis of 3 looks like RGB.*np.moveaxis"):
        bgsub.estimate_shading(list(rgb) if as_list else rgb)
    assert bgsub.estimate_shading(np.moveaxis(rgb, -1, -3)).flatfield.shape == (
        3, *tiles.shape[1:])


def test_profile_of_the_wrong_shape(profile):
    with pytest.raises(ValueError, match="profile is for tiles of shape.*estimate a profile"):
        bgsub.correct_shading(np.zeros((32, 32), np.uint16), profile)


def test_a_profile_of_another_channel_count_says_so():
    # (it said "the profile is for tiles of shape (C, Y, X) = (3, 16, 16) ... estimate a
    # profile from tiles of this size", also of a measured flat-field file)
    three = ShadingProfile(np.ones((3, 16, 16), np.float32), np.zeros((3, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"^the profile has 3 channels, the images 2 \(shape "
                                         r"\(2, 16, 16\)\); give one field per channel"):
        bgsub.correct_shading(np.zeros((2, 16, 16), np.uint16), three)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_flatfield_with_zero_negative_or_nan(bad):
    flat = np.ones((8, 8), np.float32)
    flat[2, 3] = bad
    with pytest.raises(ValueError, match="1 pixel.*must be positive everywhere.*clip"):
        ShadingProfile(flat, np.zeros((8, 8), np.float32))


def test_nan_in_tiles(tiles):
    bad = tiles.astype(np.float32)
    bad[5, 3, 3] = np.nan
    with pytest.raises(ValueError, match="tile 5 contains NaN.*nan_to_num"):
        bgsub.estimate_shading(bad)


def test_other_bad_inputs(tiles, profile):
    with pytest.raises(ValueError, match="does not estimate a dark-field.*lowrank"):
        bgsub.estimate_shading(tiles, "gaussian", darkfield=True)
    with pytest.raises(ValueError, match="at least 2"):
        bgsub.estimate_shading(tiles[:1])
    with pytest.raises(ValueError, match="shape.*stack of tiles"):
        bgsub.estimate_shading(tiles[0])
    with pytest.raises(ValueError, match="unknown shading method"):
        bgsub.estimate_shading(tiles, "nope")
    with pytest.raises(TypeError, match="unknown option"):
        bgsub.estimate_shading(tiles, terms_x=3)
    with pytest.raises(ValueError, match="no baseline"):
        bgsub.correct_shading(tiles, profile, baseline=True)
    with pytest.raises(TypeError, match="bgsub run"):
        bgsub.correct_shading("tile.tif", profile)
    with pytest.raises(ValueError, match="dark-field has NaN"):
        ShadingProfile(np.ones((4, 4)), np.full((4, 4), np.nan))


# -- files and the command line ------------------------------------------------------------

def test_profile_file_round_trip(tmp_path, tiles):
    profile = bgsub.estimate_shading(tiles, darkfield=True, baseline=True)
    profile.save(tmp_path / "p.ome.tif")
    back = ShadingProfile.load(tmp_path / "p.ome.tif")
    assert_array_equal(back.flatfield, profile.flatfield)
    assert_array_equal(back.darkfield, profile.darkfield)
    assert_allclose(back.baseline, profile.baseline)
    assert back.method == "lowrank" and back.darkfield_estimated


def test_measured_flatfield_image_is_normalised(tmp_path):
    flat = (_vignetting() * 1000 + 100).astype(np.float32)
    tifffile.imwrite(tmp_path / "flat.tif", flat)
    tifffile.imwrite(tmp_path / "dark.tif", np.full((SIZE, SIZE), 100, np.float32))
    profile = load_fields(str(tmp_path / "flat.tif"), str(tmp_path / "dark.tif"))
    assert_allclose(profile.flatfield, _vignetting(), rtol=1e-4)
    image = np.stack([np.full((SIZE, SIZE), 7, np.uint8)] * 3, axis=-1)  # RGB, YXS
    assert apply_to_image(image, "YXS", ShadingProfile(np.ones((SIZE, SIZE)),
                                                       np.ones((SIZE, SIZE)))).max() == 6


def test_a_stack_of_unknown_planes_as_a_flat_field_says_what_to_do(tmp_path):
    # (saved without axes, per-channel fields and repeated flat frames both read as QYX)
    tifffile.imwrite(tmp_path / "flats.tif", np.ones((2, SIZE, SIZE), np.float32))
    with pytest.raises(ValueError, match=r"^flats.tif holds 2 planes \(axes QYX\); .* axes CYX, "
                                         r"and average repeated frames first"):
        load_fields(str(tmp_path / "flats.tif"), None)
    # three float planes read as planar samples (SYX): one field per channel
    tifffile.imwrite(tmp_path / "three.tif", np.ones((3, SIZE, SIZE), np.float32))
    assert load_fields(str(tmp_path / "three.tif"), None).flatfield.shape == (3, SIZE, SIZE)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_flat_field_image_with_a_nan_names_that_pixel_not_every_one(tmp_path, bad):
    # the NaN spread through the mean that scales the image: "4096 pixel(s) that are zero,
    # negative or not finite" for one NaN
    flat = np.full((SIZE, SIZE), 900, np.float32)
    flat[3, 4] = bad
    tifffile.imwrite(tmp_path / "flat.tif", flat)
    with pytest.raises(ValueError, match=r"^the flat-field flat.tif has 1 NaN or infinite "
                                         r"pixel\(s\); .* take the flat-field image again$"):
        load_fields(str(tmp_path / "flat.tif"), None)


@pytest.mark.parametrize("flat", [True, False])
def test_dark_frame_file_with_nan_is_named(tmp_path, flat):
    # subtracted from a flat-field image, a NaN used to be reported as the flat-field's
    # ("4096 pixel(s) that are zero, negative or not finite")
    dark = np.full((SIZE, SIZE), 100, np.float32)
    dark[3, 4] = np.nan
    tifffile.imwrite(tmp_path / "dark.tif", dark)
    tifffile.imwrite(tmp_path / "flat.tif", np.full((SIZE, SIZE), 900, np.float32))
    with pytest.raises(ValueError, match=r"^the dark-field dark.tif has 1 NaN or infinite pixel"):
        load_fields(str(tmp_path / "flat.tif") if flat else None, str(tmp_path / "dark.tif"))


def test_cli_estimate_then_run(tmp_path, tiles):
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:12])
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o",
                                str(tmp_path / "p.ome.tif"), "--figure"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "p.png").stat().st_size > 0
    saved = ShadingProfile.load(tmp_path / "p.ome.tif")
    assert_array_equal(saved.flatfield, bgsub.estimate_shading(folder).flatfield)
    done = runner.invoke(main, ["run", str(folder / "t00.tif"), "-o", str(tmp_path / "out"),
                                "--flatfield", str(tmp_path / "p.ome.tif"), "--method",
                                "rolling_ball", "--radius", "10", "-q"])
    assert done.exit_code == 0, done.output
    shaded = bgsub.correct_shading(tiles[0], saved)
    want = bgsub.subtract_background(shaded, "rolling_ball", 10)
    assert_array_equal(tifffile.imread(tmp_path / "out" / "t00.tif"), want)
    done = runner.invoke(main, ["shading", "apply", str(folder), "-o", str(tmp_path / "flat"),
                                "--flatfield", str(tmp_path / "p.ome.tif")])
    assert done.exit_code == 0, done.output
    assert_array_equal(tifffile.imread(tmp_path / "flat" / "t03.tif"),
                       bgsub.correct_shading(tiles[3], saved))
    # bgsub info says what made each (it said nothing of a profile or a correction)
    done = runner.invoke(main, ["info", str(tmp_path / "p.ome.tif")])
    assert "bgsub      : shading profile, lowrank, 12 tiles (bgsub " in done.output
    done = runner.invoke(main, ["info", str(tmp_path / "flat" / "t03.tif")])
    assert (f"bgsub      : shading correction of {folder / 't03.tif'}, flat-field "
            f"{tmp_path / 'p.ome.tif'} (bgsub ") in done.output
    done = runner.invoke(main, ["shading", "apply", str(folder), "-o", str(tmp_path / "flat"),
                                "--flatfield", str(tmp_path / "p.ome.tif")])
    assert done.exit_code != 0 and "--overwrite" in done.output
    done = runner.invoke(main, ["shading", "estimate", str(folder / "t00.tif"), "-o",
                                str(tmp_path / "q.ome.tif")])
    assert done.exit_code != 0 and "is one image (axes YX), not a set of tiles" in done.output


def test_values_clipped_at_the_dtypes_top_are_warned_of_and_kept_in_float():
    # a bright pixel divided by a flat-field under 1 passed 65535 and was clipped silently
    flat = np.ones((4, 4), np.float32)
    flat[0] = 0.5
    profile = ShadingProfile(flat / flat.mean(), np.zeros((4, 4), np.float32))
    image = np.full((2, 4, 4), 20000, np.uint16)
    image[1, 0, :2] = 60000
    with pytest.warns(bgsub.BackgroundWarning, match=r"^2 pixel\(s\) \(6.2 %\) of the "
                      r"corrected image exceed uint16's 65535 and were clipped there .*"
                      r"output_dtype='float32'"):
        clipped = bgsub.correct_shading(image, profile)
    assert clipped.max() == 65535
    with warnings.catch_warnings():
        warnings.simplefilter("error", bgsub.BackgroundWarning)
        kept = bgsub.correct_shading(image, profile, output_dtype="float32")
        bgsub.correct_shading(image[:1], profile)  # (nothing clipped: no warning)
        # (a value that rounds to the top is not clipped: 65535 / 0.9999954 = 65535.3)
        near = np.ones((4, 4), np.float32)
        near[0, 0] = 65535 / 65535.3
        top = bgsub.correct_shading(np.full((4, 4), 65535, np.uint16),
                                    ShadingProfile(near, np.zeros((4, 4), np.float32)))
        assert (top == 65535).all()
    assert kept.max() == pytest.approx(60000 / (0.5 / 0.875))
    assert_array_equal(np.rint(np.minimum(kept, 65535)).astype(np.uint16), clipped)


def test_cli_keeps_what_the_flat_field_lifts_past_the_dtype_in_float(tmp_path):
    from click.testing import CliRunner

    from bgsub.cli import main

    flat = np.linspace(0.5, 1.5, SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE)
    tifffile.imwrite(tmp_path / "flat.tif", flat)
    rng = np.random.default_rng(3)
    tile = rng.integers(40000, 60000, (SIZE, SIZE)).astype(np.uint16)
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "t.tif", tile)
    profile = load_fields(str(tmp_path / "flat.tif"), None)
    in_float = bgsub.correct_shading(tile, profile, output_dtype="float32")
    assert in_float.max() > 65535
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "apply", str(tmp_path / "in"), "-o",
                                str(tmp_path / "same"), "--flatfield", str(tmp_path / "flat.tif")])
    assert done.exit_code == 0, done.output
    assert f"bgsub: warning: {tmp_path / 'in' / 't.tif'}: " in done.output
    assert "--output-dtype float32" in done.output
    done = runner.invoke(main, ["shading", "apply", str(tmp_path / "in"), "-o",
                                str(tmp_path / "float"), "--flatfield", str(tmp_path / "flat.tif"),
                                "--output-dtype", "float32"])
    assert done.exit_code == 0, done.output
    assert "warning" not in done.output
    assert_array_equal(tifffile.imread(tmp_path / "float" / "t.tif"), in_float)
    # bgsub run --flatfield --output-dtype float32: the correction was cast to uint16 (and
    # clipped) before the background was subtracted
    done = runner.invoke(main, ["run", str(tmp_path / "in" / "t.tif"), "-o",
                                str(tmp_path / "run"), "--flatfield", str(tmp_path / "flat.tif"),
                                "-m", "rolling_ball", "--radius", "8", "--output-dtype",
                                "float32", "-q"])
    assert done.exit_code == 0, done.output
    want = bgsub.subtract_background(in_float, "rolling_ball", 8, output_dtype="float32")
    assert_array_equal(tifffile.imread(tmp_path / "run" / "t.tif"), want)


def test_cli_estimate_takes_method_options(tmp_path, tiles):
    # every -O failed: "dictionary update sequence element #0 has length 5; 2 is required"
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:6])
    runner = CliRunner()
    out = str(tmp_path / "p.ome.tif")
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", out, "-m", "gaussian",
                                "-O", "size=0.2", "-O", "source=median"])
    assert done.exit_code == 0, done.output
    want = bgsub.estimate_shading(folder, "gaussian", size=0.2, source="median")
    assert_array_equal(ShadingProfile.load(out).flatfield, want.flatfield)
    for option, expected in [("bogus=1", "got unknown option(s) bogus; accepted options: "),
                             ("size", "option 'size' is not KEY=VALUE")]:
        done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", out, "-m",
                                    "gaussian", "-O", option])
        assert done.exit_code != 0 and expected in done.output, done.output


def test_cli_estimate_speaks_in_its_own_options(tmp_path, tiles):
    # the API's message named darkfield=FRAME; the summary did not say --sample left tiles out
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:8])
    runner = CliRunner()
    out = str(tmp_path / "p.ome.tif")
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", out, "-m", "spline",
                                "--darkfield"])
    assert done.exit_code != 0
    assert ("-m spline does not estimate a dark-field; use -m lowrank for --darkfield, or give "
            "a measured one with --dark-frame FILE or --dark-offset COUNTS") in done.output
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", out, "-m", "gaussian",
                                "--sample", "3"])
    assert done.exit_code == 0 and "gaussian, 8 tiles (3 fitted, --sample) 64x64" in done.output


def test_cli_apply_writes_float_corrections_the_input_format_cannot_hold_as_tiff(tmp_path, tiles):
    # a PNG cannot hold floats: each file failed with "use --format tiff", an option
    # shading apply does not have
    import imagecodecs
    from click.testing import CliRunner

    from bgsub.cli import main

    (tmp_path / "in").mkdir()
    for i, tile in enumerate(tiles[:3]):
        (tmp_path / "in" / f"t{i}.png").write_bytes(imagecodecs.png_encode(tile))
    flat = np.linspace(0.5, 1.5, SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE)
    tifffile.imwrite(tmp_path / "flat.tif", flat)
    done = CliRunner().invoke(main, ["shading", "apply", str(tmp_path / "in"), "-o",
                                     str(tmp_path / "out"), "--flatfield",
                                     str(tmp_path / "flat.tif"), "--output-dtype", "float32"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t0.tif", "t1.tif", "t2.tif"]
    assert_array_equal(tifffile.imread(tmp_path / "out" / "t1.tif"), bgsub.correct_shading(
        tiles[1], load_fields(str(tmp_path / "flat.tif"), None), output_dtype="float32"))
    # (an ImageJ hyperstack holds float32 at most: float64 was refused file by file with a
    # "--format tiff" the command does not have; now a plain TIFF)
    tifffile.imwrite(tmp_path / "ij.tif", tiles[:3], imagej=True, metadata={"axes": "ZYX"})
    done = CliRunner().invoke(main, ["shading", "apply", str(tmp_path / "ij.tif"), "-o",
                                     str(tmp_path / "out64"), "--flatfield",
                                     str(tmp_path / "flat.tif"), "--output-dtype", "float64"])
    assert done.exit_code == 0, done.output
    written = tifffile.imread(tmp_path / "out64" / "ij.tif")
    assert written.dtype == np.float64 and written.shape == (3, SIZE, SIZE)


def test_a_dark_offset_must_be_finite_and_is_warned_of_when_negative(tiles):
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match=r"^the dark offset (nan|inf) is not a finite number"):
            bgsub.estimate_shading(tiles[:6], "gaussian", darkfield=bad)
    with pytest.warns(bgsub.BackgroundWarning, match=r"^the dark offset -5 is negative: 5 counts "
                      r"are added to every tile"):
        bgsub.estimate_shading(tiles[:6], "gaussian", darkfield=-5.0)


def test_a_glob_pattern_or_several_files_pick_one_channel_of_a_screens_folder(tmp_path, tiles):
    # a screen writes every well, site and channel into one folder (A01_s0_w1.tif, ...): the
    # CLI took one folder, a stack or a store, and refused two files or a pattern
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = tmp_path / "plate"
    folder.mkdir()
    for i, tile in enumerate(tiles[:6]):
        tifffile.imwrite(folder / f"A01_s{i}_w1.tif", tile)
        tifffile.imwrite(folder / f"A01_s{i}_w2.tif", tile[::-1])
    ones = sorted(folder.glob("*_w1.tif"))
    want = bgsub.estimate_shading(ones, "gaussian").flatfield
    assert_array_equal(bgsub.estimate_shading(str(folder / "*_w1.tif"), "gaussian").flatfield,
                       want)
    runner = CliRunner()
    for given in ([str(folder / "*_w1.tif")], [str(p) for p in ones]):
        out = tmp_path / "w1.ome.tif"
        done = runner.invoke(main, ["shading", "estimate", *given, "-o", str(out), "-m",
                                    "gaussian"])
        assert done.exit_code == 0, done.output
        assert_array_equal(ShadingProfile.load(out).flatfield, want)
    for given, expected in [
            (str(folder / "*_w9.tif"), "*_w9.tif matches no image file (TIFF, PNG, JPEG or Zarr); "
                                       "check the pattern (quote it"),
            (str(folder / "*.tif"), "p_w1.ome.tif matches the tiles' pattern")]:
        done = runner.invoke(main, ["shading", "estimate", given, "-o",
                                    str(folder / "p_w1.ome.tif")])
        assert done.exit_code != 0 and expected in done.output, done.output
    assert not (folder / "p_w1.ome.tif").exists()


@pytest.mark.parametrize(("output", "figure", "expected"), [
    ("tiles/t00.tif", False, "tiles/t00.tif is an input and would be overwritten"),
    ("tiles/profile.ome.tif", False, "would be written among the tiles of"),
    ("p.png", False, "a shading profile is an OME-TIFF, so p.png must end in .tif or .tiff"),
    ("tiles/t00.ome.tif", True, "tiles/t00.png is an input and would be overwritten"),
])
def test_cli_estimate_refuses_to_write_over_a_tile_or_among_them(tmp_path, tiles, output,
                                                                  figure, expected):
    # -o tiles/t00.tif wrote the profile over a tile; -o tiles/profile.ome.tif made the next
    # estimate read the profile as a tile; -o p.png wrote an OME-TIFF named .png, which
    # --figure then overwrote; the figure (named like the profile up to its first dot) replaced
    # a PNG tile of that name
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:4])
    tifffile.imwrite(folder / "t00.png", tiles[4])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    target = tmp_path / output
    done = CliRunner().invoke(main, ["shading", "estimate", str(folder), "-o", str(target),
                                     *(["--figure"] if figure else [])])
    assert done.exit_code != 0 and expected in done.output.replace(str(tmp_path) + "/", "")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_cli_estimate_makes_the_profiles_folder_and_refuses_a_profile_as_a_tile(tmp_path,
                                                                              tiles):
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:4])
    runner = CliRunner()
    profile = tmp_path / "new" / "sub" / "p.ome.tif"  # (its folder made, as bgsub run's -o)
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", str(profile)])
    assert done.exit_code == 0, done.output
    (folder / "zz.ome.tif").write_bytes(profile.read_bytes())  # put there by hand
    with pytest.raises(ValueError, match=r"^zz.ome.tif is a bgsub shading profile, not a tile"):
        bgsub.estimate_shading(folder)


def test_a_figure_bgsub_drew_among_the_tiles_is_not_a_tile(tmp_path, tiles):
    # a montage or comparison PNG in the tiles' folder failed the estimate: "tile x.png has
    # shape (4, 825, 1430) but the first has (1, 64, 64)"
    from matplotlib.figure import Figure

    from bgsub import io

    folder = _tile_folder(tmp_path, tiles[:6])
    io.write_figure(Figure((2, 1)), folder / "t00_sweep.png")
    want = bgsub.estimate_shading(sorted(folder.glob("*.tif")), "gaussian").flatfield
    for source in (folder, str(folder / "t0*")):
        assert_array_equal(bgsub.estimate_shading(source, "gaussian").flatfield, want)


def test_cli_estimate_replaces_a_profile_but_not_an_image(tmp_path, tiles):
    # -o an existing image of the user's silently replaced it with the profile
    from click.testing import CliRunner

    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:4])
    image = tmp_path / "image.tif"
    tifffile.imwrite(image, tiles[5])
    kept = image.read_bytes()
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", str(image)])
    assert done.exit_code != 0
    assert f"{image} exists and is not a bgsub shading profile; choose another -o" in done.output
    assert image.read_bytes() == kept
    profile = tmp_path / "p.ome.tif"
    for _ in range(2):  # (a rerun replaces the earlier profile)
        done = runner.invoke(main, ["shading", "estimate", str(folder), "-o", str(profile)])
        assert done.exit_code == 0, done.output


def test_cli_estimate_figure_replaces_its_own_but_not_a_users_png(tmp_path, tiles):
    # --figure wrote <profile stem>.png over whatever had that name
    from click.testing import CliRunner
    from matplotlib.figure import Figure

    from bgsub import io
    from bgsub.cli import main

    folder = _tile_folder(tmp_path, tiles[:4])
    png = tmp_path / "p.png"
    Figure((1, 1)).savefig(png, format="png")  # a plot of the user's
    kept = png.read_bytes()
    args = ["shading", "estimate", str(folder), "-o", str(tmp_path / "p.ome.tif"), "--figure"]
    runner = CliRunner()
    done = runner.invoke(main, args)
    assert done.exit_code != 0
    assert (f"{png} exists and is not a figure bgsub wrote; choose another -o (the figure is "
            "named after it), or move that file away first") in done.output
    assert png.read_bytes() == kept and not (tmp_path / "p.ome.tif").exists()
    png.unlink()
    for _ in range(2):  # (a rerun replaces the figure it wrote)
        done = runner.invoke(main, args)
        assert done.exit_code == 0, done.output
        assert io.is_bgsub_figure(png)


def test_tiles_of_another_dtype_are_warned_of_once(tmp_path, tiles):
    # 8-bit tiles among 16-bit ones were fitted together without a word
    for i, tile in enumerate(tiles[:6]):
        tifffile.imwrite(tmp_path / f"t{i}.tif", tile if i % 3 else (tile // 8).astype(np.uint8))
    with pytest.warns(bgsub.BackgroundWarning) as caught:
        bgsub.estimate_shading(tmp_path)
    # (bgsub's own: another test's file closed by the garbage collector meanwhile is not)
    assert [str(w.message) for w in caught if issubclass(w.category, bgsub.BackgroundWarning)
            ] == [
        "tile t1.tif (and 3 more) is uint16, the first, t0.tif, uint8; tiles of one acquisition "
        "share one dtype: check that they belong together, or estimate each kind separately"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bgsub.estimate_shading(tiles[:6])  # (one dtype: no warning)


def test_a_grey_tile_among_rgb_ones_names_the_channel_count(tmp_path, tiles):
    # it said "tile t1.tif has shape (64, 64) but the first has (64, 64)"
    tifffile.imwrite(tmp_path / "t0.tif", tiles[0])
    tifffile.imwrite(tmp_path / "t1.tif", np.stack([tiles[1]] * 3, axis=-1), photometric="rgb")
    with pytest.raises(ValueError, match=r"^tile t1.tif has shape \(3, 64, 64\) but the first "
                                         r"has \(1, 64, 64\); .* each channel count separately"):
        bgsub.estimate_shading(tmp_path)


@pytest.mark.parametrize("planar", [False, True])
def test_rgb_tile_files_interleaved_or_planar_give_a_field_per_colour(tmp_path, tiles, planar):
    # planar RGB tiles (SYX) were refused ("has axes SYX"), and an RGB stack file (QYXS) was
    # refused with a NumPy hint its command-line user cannot follow
    rgb = np.stack([tiles[:6], tiles[6:12] // 2, tiles[12:18] // 3], axis=1)  # (N, S, Y, X)
    layout = {"photometric": "rgb", "planarconfig": "separate"} if planar else {
        "photometric": "rgb"}
    files = []
    for i, tile in enumerate(rgb):
        files.append(tmp_path / f"t{i}.tif")
        tifffile.imwrite(files[-1], tile if planar else np.moveaxis(tile, 0, -1), **layout)
    tifffile.imwrite(tmp_path / "stack.tif", rgb if planar else np.moveaxis(rgb, 1, -1),
                     **layout)
    want = bgsub.estimate_shading(rgb).flatfield
    assert want.shape == (3, SIZE, SIZE)
    assert_array_equal(bgsub.estimate_shading(files).flatfield, want)
    assert_array_equal(bgsub.estimate_shading(tmp_path / "stack.tif").flatfield, want)


def test_cli_apply_skips_the_profile_and_refuses_two_inputs_to_one_output(tmp_path, tiles):
    from click.testing import CliRunner

    from bgsub.cli import main

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        tifffile.imwrite(tmp_path / name / "x.tif", tiles[0])
    profile = tmp_path / "a" / "p.ome.tif"
    ShadingProfile(_vignetting(), np.zeros((SIZE, SIZE))).save(profile)
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "apply", str(tmp_path / "a" / "x.tif"),
                                str(tmp_path / "b" / "x.tif"), "-o", str(tmp_path / "out"),
                                "--flatfield", str(profile), "--overwrite"])
    assert done.exit_code != 0 and "would both write" in done.output
    assert not (tmp_path / "out").exists()
    done = runner.invoke(main, ["shading", "apply", str(tmp_path / "a"), "-o",
                                str(tmp_path / "out"), "--flatfield", str(profile)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.tif"]


def test_cli_estimate_with_a_measured_dark_frame(tmp_path):
    from click.testing import CliRunner

    from bgsub.cli import main

    dense = _tissue(dark=_glow())
    folder = _tile_folder(tmp_path, dense)
    tifffile.imwrite(tmp_path / "dark.tif", _glow().astype(np.float32))
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o",
                                str(tmp_path / "p.ome.tif"), "--dark-frame",
                                str(tmp_path / "dark.tif")])
    assert done.exit_code == 0, done.output
    assert "dark-field mean 100.0" in done.output
    saved = ShadingProfile.load(tmp_path / "p.ome.tif")
    want = bgsub.estimate_shading(dense, darkfield=_glow().astype(np.float32))
    assert_array_equal(saved.darkfield, want.darkfield)
    assert_array_equal(saved.flatfield, want.flatfield)
    done = runner.invoke(main, ["shading", "estimate", str(folder), "-o",
                                str(tmp_path / "q.ome.tif"), "--darkfield", "--dark-frame",
                                str(tmp_path / "dark.tif")])
    assert done.exit_code != 0 and "not both" in done.output


def test_cli_estimate_with_a_dark_offset(tmp_path):
    from click.testing import CliRunner

    from bgsub.cli import main

    dense = _tissue(dark=100.0)
    tifffile.imwrite(tmp_path / "stack.tif", dense)
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "estimate", str(tmp_path / "stack.tif"), "-o",
                                str(tmp_path / "p.ome.tif"), "--dark-offset", "100"])
    assert done.exit_code == 0, done.output
    assert "dark-field mean 100.0" in done.output
    saved = ShadingProfile.load(tmp_path / "p.ome.tif")
    assert_array_equal(saved.flatfield, bgsub.estimate_shading(dense, darkfield=100.0).flatfield)
    assert_array_equal(saved.darkfield, np.full((SIZE, SIZE), 100.0, np.float32))
    done = runner.invoke(main, ["shading", "estimate", str(tmp_path / "stack.tif"), "-o",
                                str(tmp_path / "q.ome.tif"), "--dark-offset", "1",
                                "--dark-frame", str(tmp_path / "stack.tif")])
    assert done.exit_code != 0
    assert "give one of --dark-frame and --dark-offset, not both" in done.output


def test_changed_profile_makes_run_outputs_stale(tmp_path, tiles):
    # the same --flatfield path with new content: the earlier output is redone, not skipped
    from click.testing import CliRunner

    from bgsub.cli import main

    tifffile.imwrite(tmp_path / "t.tif", tiles[0])
    profile_path = tmp_path / "p.ome.tif"
    ShadingProfile(_vignetting(), np.zeros((SIZE, SIZE))).save(profile_path)
    command = ["run", str(tmp_path / "t.tif"), "-o", str(tmp_path / "out"), "--flatfield",
               str(profile_path), "--method", "rolling_ball", "--radius", "10"]
    runner = CliRunner()
    assert runner.invoke(main, command).exit_code == 0
    again = runner.invoke(main, command)
    assert again.exit_code == 0 and "0 done, 1 skipped" in again.output, again.output
    changed = ShadingProfile(_vignetting(power=0.5), np.zeros((SIZE, SIZE)))
    changed.save(profile_path)
    redone = runner.invoke(main, command)
    assert redone.exit_code == 0 and "1 done, 0 skipped" in redone.output, redone.output
    want = bgsub.subtract_background(bgsub.correct_shading(tiles[0], changed), "rolling_ball", 10)
    assert_array_equal(tifffile.imread(tmp_path / "out" / "t.tif"), want)


@pytest.mark.parametrize("bad", ["missing", "nan_flat", "nan_dark"])
def test_run_refuses_bad_fields_once_before_the_batch(tmp_path, tiles, bad):
    # a field that cannot be read or is not valid is one error, exit 2, nothing written --
    # not the same failure repeated for every file of the batch
    from click.testing import CliRunner

    from bgsub.cli import main

    for i in range(3):
        tifffile.imwrite(tmp_path / f"t{i}.tif", tiles[i])
    flat, dark = tmp_path / "flat.tif", tmp_path / "dark.tif"
    tifffile.imwrite(flat, np.full((SIZE, SIZE), np.nan if bad == "nan_flat" else 1.0,
                                   np.float32))
    tifffile.imwrite(dark, np.full((SIZE, SIZE), np.nan if bad == "nan_dark" else 0.0,
                                   np.float32))
    fields = ["--flatfield", str(tmp_path / "absent.tif") if bad == "missing" else str(flat),
              "--darkfield", str(dark)]
    out = tmp_path / "out"
    done = CliRunner().invoke(main, ["run", *(str(tmp_path / f"t{i}.tif") for i in range(3)),
                                     "-o", str(out), *fields])
    assert done.exit_code == 2, done.output
    errors = [line for line in done.output.splitlines() if "error" in line]
    assert len(errors) == 1 and "--flatfield / --darkfield" in errors[0], done.output
    assert not out.exists() or not any(out.iterdir())


def test_shading_apply_writes_a_jpeg_input_as_png_inside_the_output(tmp_path, tiles):
    from click.testing import CliRunner
    from PIL import Image

    from bgsub.cli import main

    folder = tmp_path / "tiles"
    folder.mkdir()
    for i, tile in enumerate(tiles[:3]):
        Image.fromarray((tile // 256).astype(np.uint8)).save(folder / f"t{i}.jpg", quality=95)
    profile = bgsub.estimate_shading([t.astype(np.float64) for t in tiles])
    profile.save(tmp_path / "p.ome.tif")
    done = CliRunner().invoke(main, ["shading", "apply", str(folder), "-o", str(tmp_path / "flat"),
                                     "--flatfield", str(tmp_path / "p.ome.tif")])
    assert done.exit_code == 0, done.output
    written = sorted(p.name for p in (tmp_path / "flat").iterdir() if not p.name.startswith("."))
    assert [n for n in written if n.endswith((".png", ".jpg"))] == ["t0.png", "t1.png", "t2.png"]
    with Image.open(tmp_path / "flat" / "t0.png") as im:
        assert im.format == "PNG"


# -- what a tester found (Session 47) -------------------------------------------------------


def _aperture(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A circular field stop's flat-field, 0 in the corners, and each pixel's radius."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    return np.where(radius < 36, 1.2 - 0.5 * (radius / 36) ** 2, 0.0), radius


def test_lowrank_fits_tiles_with_an_area_that_received_no_light():
    """A field stop's black corners or a few pixels of zero padding: the bins without light
    (and their rim) are left out of the fit, with a warning naming their share; the fit
    failed with 'found no usable flat-field (mean nan)' (the median start was 0 there)."""
    rng = np.random.default_rng(0)
    flat, radius = _aperture()
    tiles = rng.poisson(500 * flat * rng.uniform(0.8, 1.2, (30, 1, 1))).astype(np.uint16)
    with pytest.warns(bgsub.BackgroundWarning, match=r"^8% of the tiles' area received no "):
        found = bgsub.estimate_shading(tiles).flatfield
    inside = radius < 30
    error = found / found[inside].mean() - flat / flat[inside].mean()
    assert np.sqrt(np.mean(error[inside] ** 2)) < 0.003  # gaussian: 0.023, polynomial: 0.065
    assert np.isfinite(found).all() and found.min() > 0.5
    padded = rng.poisson(500, (30, SIZE, SIZE)).astype(np.uint16)
    padded[:, :, :3] = 0
    with pytest.warns(bgsub.BackgroundWarning, match=r"^3% of the tiles' area"):
        found = bgsub.estimate_shading(padded).flatfield
    assert_allclose(found[:, 3:], 1.0, atol=0.005)  # the part-dark bins did not pull it down


def test_lowrank_fits_tiles_so_dim_that_most_bins_read_zero():
    """0.2 photons a pixel: most bins read 0 in most tiles, but every bin got light over the
    tiles; started from each bin's mean where its median is 0, the fit no longer fails
    (with 'mean nan') and warns of no unlit area."""
    dim = np.random.default_rng(0).poisson(0.2 * _vignetting(), (40, SIZE, SIZE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = bgsub.estimate_shading(dim.astype(np.uint16)).flatfield
    assert np.sqrt(np.mean((found - _vignetting()) ** 2)) < 0.1  # gaussian: 0.084


@pytest.mark.parametrize("chunks", [(5, 2, SIZE, SIZE), (7, 1, 24, 40)])
def test_dask_removes_each_channels_drift_as_memory_does(chunks):
    """``baseline=True`` with a profile per channel on Dask: it failed with 'Chunks do not add
    up to shape' (the drift, (N, C, 1, 1), was chunked as one channel)."""
    import dask.array as da

    stack = np.stack([_tiles(seed=1, count=20), _tiles(seed=2, count=20)], axis=1)
    profile = bgsub.estimate_shading(stack, baseline=True, iterations=6)
    want = bgsub.correct_shading(stack, profile, baseline=True)
    lazy = bgsub.correct_shading(da.from_array(stack, chunks=chunks), profile, baseline=True)
    assert_array_equal(lazy.compute(scheduler="threads"), want)


def test_a_stack_files_axes_other_than_c_y_x_count_tiles(tmp_path):
    """A TZYX OME-TIFF's Z planes were read as 4 channels (4 flat-fields); a TCZYX or CTYX
    file (an OME-Zarr as bioformats2raw writes it) was refused ('axes end in CYX or YX').
    Every axis but C (or RGB samples), Y and X counts tiles, in the file's order."""
    from bgsub import io

    tiles = _tiles(count=20)
    tifffile.imwrite(tmp_path / "tzyx.ome.tif", tiles.reshape(5, 4, SIZE, SIZE), ome=True,
                     metadata={"axes": "TZYX"})
    want = bgsub.estimate_shading(tiles)
    found = bgsub.estimate_shading(tmp_path / "tzyx.ome.tif")
    assert found.flatfield.shape == (SIZE, SIZE) and found.options["tiles"] == 20
    assert_array_equal(found.flatfield, want.flatfield)
    two = np.stack([tiles, _tiles(seed=2, count=20)], axis=1)  # (N, C, Y, X)
    want = bgsub.estimate_shading(two).flatfield
    for axes, layout in (("TCZYX", two.reshape(10, 2, 2, SIZE, SIZE).transpose(0, 2, 1, 3, 4)),
                         ("CTYX", two.transpose(1, 0, 2, 3))):
        path = tmp_path / f"{axes}.ome.zarr"
        io.write_image(path, np.ascontiguousarray(layout),
                       io.ImageMetadata(axes=axes, format="ome-zarr"), None, format="ome-zarr")
        assert_array_equal(bgsub.estimate_shading(path).flatfield, want)


@pytest.mark.parametrize("name", ["one.ome.tif", "one.png"])
def test_one_image_file_is_not_a_set_of_tiles(tmp_path, name):
    """One CYX image was fitted as 3 single-channel tiles (its channels taken for tiles); one
    RGB PNG failed with NumPy's 'AxisError: destination: axis -3 is out of bounds'."""
    from click.testing import CliRunner

    from bgsub.cli import main

    rng = np.random.default_rng(0)
    if name.endswith(".png"):
        import imageio.v3 as iio

        iio.imwrite(tmp_path / name, rng.integers(0, 255, (48, SIZE, 3), dtype=np.uint8))
        axes = "YXS"
    else:
        tifffile.imwrite(tmp_path / name, rng.poisson(300, (3, 48, SIZE)).astype(np.uint16),
                         ome=True, metadata={"axes": "CYX"})
        axes = "CYX"
    message = f"{name} is one image (axes {axes}), not a set of tiles; "
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        bgsub.estimate_shading(tmp_path / name)
    done = CliRunner().invoke(main, ["shading", "estimate", str(tmp_path / name), "-o",
                                     str(tmp_path / "p.ome.tif")])
    assert done.exit_code == 1 and message in done.output and "Traceback" not in done.output


def test_an_hcs_plate_names_a_field_to_give(tmp_path):
    """An HCS plate given as the tiles: its reader's one line naming a field's path, as `bgsub
    run` gives; it said '... holds no image files; give the folder of the tiles'."""
    from test_io import hcs_plate

    plate = hcs_plate(tmp_path / "hcs.ome.zarr")
    with pytest.raises(ValueError, match="^an OME-Zarr HCS plate .* give each field's own path"):
        bgsub.estimate_shading(plate)
    fields = [plate / "A" / well / field for well in "12" for field in "01"]
    assert bgsub.estimate_shading(fields).options["tiles"] == 4  # the fields, as tiles


def test_run_corrects_the_shading_on_the_axes_given_with_axes(tmp_path):
    """`bgsub run --axes CYX --flatfield` of a file saved without axes (2 planes: IYX): the
    shading step used the file's axes ('the profile has 2 channels, the image (axes IYX) has
    none'), --axes only the background subtraction after it."""
    from click.testing import CliRunner

    from bgsub.cli import main

    two = np.stack([_tiles(seed=1, count=12), _tiles(seed=2, count=12)], axis=1)
    profile = bgsub.estimate_shading(two, iterations=6)
    profile.save(tmp_path / "p.ome.tif")
    tifffile.imwrite(tmp_path / "a.tif", two[0], metadata=None)
    done = CliRunner().invoke(main, ["run", str(tmp_path / "a.tif"), "--axes", "CYX", "-o",
                                     str(tmp_path / "out"), "--flatfield",
                                     str(tmp_path / "p.ome.tif"), "--method", "rolling_ball",
                                     "--radius", "10", "-q"])
    assert done.exit_code == 0, done.output
    want = bgsub.subtract_background(bgsub.correct_shading(two[0], profile), "rolling_ball", 10,
                                     axes="CYX")
    assert_array_equal(tifffile.imread(tmp_path / "out" / "a.tif"), want)


def test_one_dark_frame_serves_every_channel_of_a_profile_everywhere(tmp_path):
    """A camera's one (Y, X) dark frame beside a (C, Y, X) flat-field: estimate took it for
    every channel, but ShadingProfile, `shading apply --darkfield` and `run --darkfield` (with
    the profile that estimate wrote) refused it ('give fields of one shape')."""
    from click.testing import CliRunner

    from bgsub.cli import main

    two = np.stack([_tiles(dark=50.0, seed=1, count=12), _tiles(dark=50.0, seed=2, count=12)],
                   axis=1)
    frame = np.full((SIZE, SIZE), 50, np.float32)
    profile = bgsub.estimate_shading(two, darkfield=frame, iterations=6)
    assert profile.darkfield.shape == (2, SIZE, SIZE)
    given = ShadingProfile(profile.flatfield, frame)
    assert_array_equal(given.darkfield, profile.darkfield)
    want = bgsub.correct_shading(two[0], profile)
    assert_array_equal(bgsub.correct_shading(two[0], given), want)
    profile.save(tmp_path / "p.ome.tif")
    tifffile.imwrite(tmp_path / "dark.tif", frame)
    tifffile.imwrite(tmp_path / "flat.tif", 1000 * profile.flatfield + frame,
                     metadata={"axes": "CYX"})  # a fluorescent slide's image
    assert_array_equal(load_fields(str(tmp_path / "p.ome.tif"),
                                   str(tmp_path / "dark.tif")).darkfield, profile.darkfield)
    measured = load_fields(str(tmp_path / "flat.tif"), str(tmp_path / "dark.tif"))
    assert_allclose(measured.flatfield, profile.flatfield, rtol=1e-5)
    tifffile.imwrite(tmp_path / "a.tif", two[0], metadata={"axes": "CYX"})
    runner = CliRunner()
    done = runner.invoke(main, ["shading", "apply", str(tmp_path / "a.tif"), "-o",
                                str(tmp_path / "flat"), "--flatfield",
                                str(tmp_path / "p.ome.tif"), "--darkfield",
                                str(tmp_path / "dark.tif")])
    assert done.exit_code == 0, done.output
    assert_array_equal(tifffile.imread(tmp_path / "flat" / "a.tif"), want)
    done = runner.invoke(main, ["run", str(tmp_path / "a.tif"), "-o", str(tmp_path / "out"),
                                "--flatfield", str(tmp_path / "p.ome.tif"), "--darkfield",
                                str(tmp_path / "dark.tif"), "--radius", "10", "-q"])
    assert done.exit_code == 0, done.output


def test_spline_fits_noise_free_tiles():
    """Tiles exactly level x flat-field: the residuals' spread was the arithmetic's rounding
    (1e-7 counts), so each round rejected bins at random until half were gone and the
    B-spline's coefficients left without data fell to 0 (0.86 off at a corner). The spread
    is floored at 1e-6 of the tiles' level."""
    x = (np.arange(SIZE) + 0.5) / SIZE
    flat = np.broadcast_to(1 + 0.3 * (x - 0.5), (SIZE, SIZE))
    tiles = np.linspace(500, 1500, 20)[:, None, None] * flat
    assert_allclose(bgsub.estimate_shading(tiles, "spline").flatfield, flat, atol=1e-6)


def test_a_profile_the_tiles_pattern_would_match_is_refused_however_spelt(tmp_path, tiles,
                                                                          monkeypatch):
    """`shading estimate "tiles/t*.tif" -o /abs/tiles/tp.ome.tif` (or `../x/tiles/...`) wrote
    the profile among the tiles: the pattern and the profile were compared as written."""
    from click.testing import CliRunner

    from bgsub.cli import main

    _tile_folder(tmp_path, tiles[:10])
    monkeypatch.chdir(tmp_path)
    for output in (tmp_path / "tiles" / "tp.ome.tif", f"../{tmp_path.name}/tiles/tp.ome.tif"):
        done = CliRunner().invoke(main, ["shading", "estimate", "tiles/t*.tif", "-o",
                                         str(output)])
        assert done.exit_code == 1 and "matches the tiles' pattern tiles/t*.tif" in done.output
        assert not (tmp_path / "tiles" / "tp.ome.tif").exists()
    done = CliRunner().invoke(main, ["shading", "estimate", str(tmp_path / "tiles" / "t*.tif"),
                                     "-o", "tiles/tp.ome.tif"])
    assert done.exit_code == 1 and "matches the tiles' pattern" in done.output


@pytest.mark.parametrize(("working_size", "pool"), [(8, 4), (7, 3), (8, 2)])
def test_a_pool_that_leaves_too_few_blocks_is_refused(tiles, working_size, pool):
    """pool=4 on an 8-bin working grid gave a constant flat-field without a word (2 x 2
    blocks: one basis function), pool=2 on it one far off (0.13 RMSE: 4 blocks fitted
    exactly)."""
    with pytest.raises(ValueError, match=rf"^pool={pool} leaves \d x \d blocks of the "
                                         f"{working_size} x {working_size} working grid"):
        bgsub.estimate_shading(tiles, pool=pool, working_size=working_size)
    assert bgsub.estimate_shading(tiles, pool=pool, working_size=5 * pool).flatfield.min() > 0.1


def test_an_empty_channel_is_named_and_a_kept_flat_field_warned_of_as_bgsub_does():
    """One empty channel: 'found no usable flat-field (mean nan)' named no channel. A
    flat-field kept at 0.05 of its mean was a plain UserWarning, not bgsub's own."""
    two = np.stack([_tiles(count=12), np.zeros((12, SIZE, SIZE), np.uint16)], axis=1)
    with pytest.raises(ValueError, match="no usable flat-field of channel 1 .*the tiles of "
                                         "channel 1 are not empty"):
        bgsub.estimate_shading(two)
    flat, _ = _aperture()
    dark_corners = np.random.default_rng(0).poisson(500 * flat, (12, SIZE, SIZE))
    with pytest.warns(bgsub.BackgroundWarning, match="flat-field falls to -?[0-9.]+ of its mean"):
        bgsub.estimate_shading(dark_corners, "polynomial", degree=6)


def test_lowrank_pools_bins_of_a_few_counts():
    """Tiles of 0.3 photons a pixel (whole counts): a robust location of bins holding ~5
    counts is biased by a share that varies with the shading, so the bins are pooled until
    a block holds ~15 counts. Measured when written: flat-field RMSE 0.0469 unpooled,
    0.0135 pooled (the best CellProfiler-style function 0.0128). The same counts saved as
    float32 are pooled alike; float tiles of other values (the counts scaled by 1/3) are not
    known to be counts and are fitted unpooled."""
    size = 128
    y, x = (np.mgrid[:size, :size] + 0.5) / size
    flat = 1.0 / (1.0 + ((y - 0.45) ** 2 + (x - 0.55) ** 2) / 0.25) ** 2
    flat /= flat.mean()
    rng = np.random.default_rng(1)
    scene = np.ones((100, size, size)) * rng.uniform(0.8, 1.2, 100)[:, None, None]
    for i in range(100):
        ys, xs = rng.integers(0, size, (2, 6))
        scene[i, ys, xs] += rng.uniform(10, 20, 6)
    tiles = rng.poisson(0.3 * scene * flat).astype(np.uint16)
    counts = bgsub.estimate_shading(tiles)
    assert counts.options["chosen"][0]["pool"] >= 2
    assert np.sqrt(np.mean((counts.flatfield - flat) ** 2)) < 0.02
    floats = bgsub.estimate_shading(tiles.astype(np.float32))
    assert floats.options["chosen"] == counts.options["chosen"]
    np.testing.assert_allclose(floats.flatfield, counts.flatfield, rtol=1e-6)
    scaled = bgsub.estimate_shading(tiles.astype(np.float32) / 3)
    assert scaled.options["chosen"][0]["pool"] == 1
    assert np.sqrt(np.mean((scaled.flatfield - flat) ** 2)) > 0.03


def test_a_shading_method_registered_without_bin_pixels_still_runs(tiles):
    """``bin_pixels`` reaches only the methods that take it: one written to the contract
    before it (``estimate(stack, darkfield, *, centres)``) runs as it did."""
    from bgsub.shading import ShadingMethod
    from bgsub.shading._registry import FieldEstimate

    seen = []

    def plain(stack, darkfield, *, centres):
        seen.append(stack.shape)
        return FieldEstimate(stack.mean(axis=0), None)

    method = ShadingMethod("plain-test", "the mean tile", plain)
    taking = ShadingMethod("taking-test", "the mean tile",
                           lambda stack, darkfield, *, centres, bin_pixels: (
                               seen.append(bin_pixels) or FieldEstimate(stack.mean(axis=0), None)))
    stack = np.ones((3, 4, 4))
    method.fit(stack, False, (np.ones(4), np.ones(4)), 16.0, {})
    taking.fit(stack, False, (np.ones(4), np.ones(4)), 16.0, {})
    assert seen == [(3, 4, 4), 16.0]
