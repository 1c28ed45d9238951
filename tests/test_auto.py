"""Automatic radius, the ground-truth-free quality score, and radius="auto" in the API."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

import bgsub
from bgsub.auto import Suggestion, depth_radius, measure_objects, quality, suggest_radius
from bgsub.data import synthetic
from errors import rmse
from textured import textured_nuclei

# Object radius -> image size: small images, a few dozen objects each.
SIZES = {4: (160, 160), 8: (192, 192), 16: (256, 256), 32: (384, 384)}


@pytest.mark.parametrize("radius", [4, 8, 16])
def test_suggested_radius_is_about_three_object_radii(radius):
    s = synthetic(SIZES[radius], object_radius=radius, seed=1)
    suggestion = suggest_radius(s.image)
    assert isinstance(suggestion, Suggestion)
    # measured when written: object radius 5.9, 9.0, 17.5 (the blobs' soft edges count down
    # to 4 noise sds: about 1-2 px more than the nominal radius)
    assert 0.8 * radius < suggestion.object_radius < 1.25 * radius + 1.5
    assert 2.5 * radius < suggestion.radius < 3.75 * radius + 4.5
    assert "objects found" in suggestion.reason


# Spots of radius 2-3 measure 3.7-4.9 px (their blur counts): 3x is 11-15 px, where the
# background averages so few pixels that it follows the noise into their skirts. The floor of
# 16 px: measured when written (error at the suggestion / at 3x the object radius, grey
# levels): seed 0 3.83 / 5.40, seed 1 3.80 / 5.32. (These spots rise 2.6 noise sds on average:
# faint, so the floor is 1.16x wider.)
@pytest.mark.parametrize("seed", [0, 1])
def test_small_spots_get_at_least_16_px_and_a_better_background(seed):
    s = synthetic((384, 384), object_radius=(2.0, 3.0), density=0.05, object_brightness=200.0,
                  seed=seed)
    suggestion = suggest_radius(s.image)
    assert 3 * suggestion.object_radius < 16.0 <= suggestion.radius
    assert suggestion.radius == pytest.approx(16.0 * suggestion.faint)
    assert "narrower background follows the noise" in suggestion.reason
    at_floor = rmse(bgsub.estimate_background(s.image, "robust", suggestion.radius), s.background)
    at_three = rmse(bgsub.estimate_background(s.image, "robust", 3 * suggestion.object_radius),
                    s.background)
    assert at_floor < 0.85 * at_three


def test_min_radius_sets_or_lifts_the_floor():
    s = synthetic((384, 384), object_radius=(2.0, 3.0), density=0.05, object_brightness=2000.0,
                  seed=0)  # (bright: no wider radius for faint objects)
    assert suggest_radius(s.image).faint == 1.0
    plain = suggest_radius(s.image, min_radius=0)
    assert plain.radius == pytest.approx(3 * plain.object_radius, rel=0.01)
    assert "noise" not in plain.reason
    assert suggest_radius(s.image, min_radius=24).radius == 24.0
    with pytest.raises(ValueError, match="min_radius"):
        suggest_radius(s.image, min_radius=-1)


# Objects that barely rise out of the noise lift a background averaged over few pixels into
# them: the radius is up to twice as wide for them. Blobs of radius 8 (384 x 384, seed 1,
# background 1000 photons) at brightness 40 / 60 / 100 / 300 measured, when written, 1.5 / 1.8
# / 2.5 / 7 noise sds: radius 32.0 / 33.0 / 29.2 / 28.4 px (x 2 / 1.7 / 1.2 / 1), and the
# background 5.69 / 5.19 / 3.99 / 3.02 grey levels off, against 9.83 / 5.87 / 4.69 / 3.02 at 3x
# the object radius.
@pytest.mark.parametrize(("brightness", "wider"), [(40.0, True), (60.0, True), (300.0, False)])
def test_faint_objects_get_a_wider_radius_and_a_better_background(brightness, wider):
    s = synthetic((384, 384), object_radius=8, seed=1, object_brightness=brightness)
    suggestion = suggest_radius(s.image)
    three = 3.0 * suggestion.object_radius
    if not wider:
        assert suggestion.contrast > 3.0 and suggestion.faint == 1.0
        assert suggestion.radius == pytest.approx(three) and "faint" not in suggestion.reason
        return
    assert suggestion.contrast < 3.0 and suggestion.faint > 1.5
    assert suggestion.radius == pytest.approx(max(three, 16.0) * suggestion.faint)  # (floor too)
    assert f"x {suggestion.faint:.2g} (faint objects" in suggestion.reason
    error = rmse(bgsub.estimate_background(s.image, "robust", suggestion.radius), s.background)
    plain = rmse(bgsub.estimate_background(s.image, "robust", three), s.background)
    assert error < 0.9 * plain


def test_objects_fainter_than_the_wider_radius_reaches_are_warned_of():
    import warnings

    faint = synthetic((384, 384), object_radius=8, seed=1, object_brightness=30.0).image
    with pytest.warns(bgsub.BackgroundWarning, match=r"the objects rise 1\.\d noise sds a "
                      r"pixel .* radius=\"auto\" took 32 px, 2x as wide .* binning"):
        bgsub.subtract_background(faint, radius="auto")
    assert suggest_radius(faint).contrast < 1.5
    bright = synthetic((384, 384), object_radius=8, seed=1, object_brightness=300.0).image
    with warnings.catch_warnings():
        warnings.simplefilter("error", bgsub.BackgroundWarning)
        bgsub.subtract_background(bright, radius="auto")
        bgsub.subtract_background(faint, radius=32.0)  # (a radius set: nothing measured)
    # (the suggestion says it too, for the faces that set the radius it suggests)
    assert suggest_radius(faint).caveat.startswith("the objects rise 1.")
    assert suggest_radius(bright).caveat == ""


def test_objects_measured_under_two_noise_sds_are_warned_of():
    """Measured over the threshold, faint objects read 0.5-0.8 noise sds brighter than they
    are (cells rising 0.79 read 1.51 and kept 72 % of their light): the warning holds to 2
    sds as measured (``FAINT_WARN``), below which most generated cases keep under 95 %."""
    from bgsub.auto import FAINT, FAINT_WARN

    faint = synthetic((384, 384), object_radius=8, seed=1, object_brightness=60.0).image
    found = suggest_radius(faint)
    assert FAINT[0] < found.contrast < FAINT_WARN
    with pytest.warns(bgsub.BackgroundWarning, match=r"the objects rise 1\.8 noise sds"):
        bgsub.subtract_background(faint, radius="auto")


def _faint_disks(rise: float) -> np.ndarray:
    """Twelve disks of radius 10 px rising ``rise`` noise sds over Poisson(100) noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    disks = np.zeros((256, 256))
    for cy, cx in rng.integers(20, 236, (12, 2)):
        disks[(yy - cy) ** 2 + (xx - cx) ** 2 <= 100] = 10.0 * rise
    return rng.poisson(100.0 + disks).astype(np.uint16)


@pytest.mark.parametrize("rise", [0.0, 0.4])
def test_a_radius_guessed_where_no_object_stands_out_is_warned_of(rise):
    """No object stood out of the noise: the radius falls back to an eighth of the side,
    right for a blank field (rise 0), a guess where the objects are too faint to measure
    (0.4 sds: on 144 generated cases 3 fell back, all holding such objects, which kept
    34-60 % of their light). Either way ``radius="auto"`` says so; a constant image, which
    holds no object for sure, stays silent."""
    image = _faint_disks(rise)
    found = suggest_radius(image)
    assert found.guessed and np.isnan(found.object_radius) and found.radius == 32.0
    with pytest.warns(bgsub.BackgroundWarning, match=r"found no object standing out of the "
                      r"noise and took 32 px.*give radius= 3x their radius"):
        bgsub.subtract_background(image, radius="auto")
    assert found.caveat.startswith('radius="auto" found no object')
    constant = suggest_radius(np.full((256, 256), 100, np.uint16))
    assert not constant.guessed and constant.caveat == ""


def test_a_crop_a_few_objects_wide_is_warned_of_and_a_whole_field_is_not():
    """Nuclei of radius 15-20 px in a 64x64 crop: most of their area lies in nuclei cut by
    the crop's edge, where the default's background rises into them (it lost to the rolling
    ball on such crops: docs/accuracy.md, Session 48). The whole field, and the same field
    cut by nothing, say nothing of it."""
    field = synthetic((512, 512), object_radius=(15, 20), seed=16).image
    crop = field[200:264, 300:364]
    found = suggest_radius(crop)
    assert found.cut_share >= 0.8
    with pytest.warns(bgsub.BackgroundWarning, match=r"^\d+% of the objects' area lies in "
                      r"objects cut by the image's edge: .* took 16 px\) .* crop afterwards"):
        bgsub.subtract_background(crop, radius="auto")
    assert found.caveat.startswith(f"{found.cut_share:.0%} of the objects' area")
    whole = suggest_radius(field)
    assert whole.cut_share < 0.3
    assert "cut by the image's edge" not in whole.caveat
    one = np.zeros((96, 96))
    one[48 - 10:48 + 10, 48 - 10:48 + 10] = 100.0
    one += np.random.default_rng(0).normal(0.0, 1.0, one.shape)
    assert suggest_radius(one).cut_share == 0.0


def test_the_objects_cut_by_the_edge_are_those_touching_it():
    from bgsub.auto import Objects, _cut_share, _touching_edge

    labels = np.zeros((10, 10), dtype=int)
    labels[0:2, 4:6] = 1  # touches the top
    labels[4:6, 4:6] = 2  # inside
    labels[8:10, 9] = 3  # the bottom-right corner
    assert _touching_edge(labels, 3).tolist() == [True, False, True]
    objects = Objects(np.ones(3), np.array([4.0, 4.0, 2.0]), cut=np.array([True, False, True]))
    assert _cut_share(objects, 100) == pytest.approx(0.6)
    # (one object covering half the plane: a tissue section, not a crop)
    assert np.isnan(_cut_share(objects, 8))
    assert np.isnan(_cut_share(Objects(np.empty(0), np.empty(0)), 100))


def test_a_radius_set_by_a_bright_patch_among_many_spots_is_warned_of_with_its_fix():
    """A narrow illumination beam survives the flattenings as one object 75 px wide among
    200 spots: it sets the radius (capped at 128 px), under which the background cannot
    follow the beam. radius="auto" keeps that radius (a few giant objects among small ones
    look the same) but says so, with the radius the spots alone set."""
    from illumination import spots_under_a_beam

    image, truth = spots_under_a_beam(seed=0)
    found = suggest_radius(image)
    assert found.radius == 128.0
    assert found.dominant is not None
    assert found.dominant.count == 1 and found.dominant.others > 150
    assert 60 < found.dominant.radius < 90 and found.dominant.share > 0.5
    assert 16.0 <= found.dominant.suggested <= 40.0
    with pytest.warns(bgsub.BackgroundWarning) as record:
        automatic = bgsub.estimate_background(image, radius="auto")
    lines = [str(w.message) for w in record if "bright patch" in str(w.message)]
    assert lines == [found.caveat.split("; ")[-1]]
    assert re.fullmatch(r"one object \(radius \d+(\.\d+)? px\) holds \d+% of the objects' area "
                        r"and set radius=\"auto\" to 128 px, while \d+ smaller ones are "
                        r"typically [\d.]+ px: if it is a bright patch of the illumination "
                        r"\(a laser beam's spot, a hot spot\) rather than objects to keep, "
                        r"give radius=[\d.]+", lines[0])
    # the fix it names is the right one here: the truth known, 13x closer
    advised = bgsub.estimate_background(image, radius=found.dominant.suggested)
    assert rmse(advised, truth) < 0.2 * rmse(automatic, truth)


def test_dark_objects_on_a_light_background_are_not_taken_for_a_bright_patch():
    from illumination import spots_under_a_beam

    image, _ = spots_under_a_beam(seed=0)
    assert suggest_radius(image.max() - image, light_background=True).dominant is None


@pytest.mark.parametrize(("others", "radius", "count"), [
    (40, 128.0, 1),    # the giant alone sets 128; the others 16 (their floor): found
    (19, 128.0, None),  # too few others to tell what they would set
    (40, 47.0, None),   # the others would set 16: under 3x of 47 -- no large gap
    (40, 48.0, 1),
    (500, 128.0, None),  # the giant holds under half the objects' area: it only raised the
])                       # radius to cover it, as meant
def test_a_few_large_objects_set_the_radius_only_with_many_others_far_smaller(others, radius,
                                                                              count):
    from bgsub.auto import Objects, _dominant

    radii = np.r_[np.full(others, 3.0), 60.0]
    found = _dominant(Objects(radii, np.pi * radii**2), radius, 3.0, 16.0, 128.0)
    assert (None if found is None else found.count) == count


def test_the_largest_objects_are_taken_a_few_at_a_time_per_plane():
    from bgsub.auto import DOMINANT_FEW, Objects, _dominant

    radii = np.r_[np.full(50, 3.0), np.full(2 * DOMINANT_FEW, 40.0)]
    objects = Objects(radii, np.pi * radii**2)
    assert _dominant(objects, 128.0, 3.0, 16.0, 128.0, planes=1) is None
    found = _dominant(objects, 128.0, 3.0, 16.0, 128.0, planes=2)
    assert (found.count, found.others, found.suggested) == (2 * DOMINANT_FEW, 50, 16.0)


@given(small=st.lists(st.floats(1.0, 8.0), min_size=15, max_size=60),
       large=st.lists(st.floats(8.0, 200.0), min_size=1, max_size=8),
       radius=st.floats(16.0, 256.0), planes=st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_a_dominant_finding_keeps_its_promises(small, large, radius, planes):
    """Whatever the objects: the few it names are the largest, at most DOMINANT_FEW a plane,
    hold at least DOMINANT_SHARE of the area, leave at least DOMINANT_OTHERS, and the radius
    it names is within the floor and the cap and at most 1 / DOMINANT_GAP of the one set."""
    from bgsub.auto import (
        DOMINANT_FEW,
        DOMINANT_GAP,
        DOMINANT_OTHERS,
        DOMINANT_SHARE,
        Objects,
        _dominant,
    )

    sizes = np.array(small + large, dtype=np.float64)
    found = _dominant(Objects(sizes, np.pi * sizes**2), radius, 3.0, 16.0, 128.0, planes)
    if found is None:
        return
    assert 1 <= found.count <= DOMINANT_FEW * planes
    assert found.others == sizes.size - found.count >= DOMINANT_OTHERS
    assert found.radius == sizes.max() and found.share >= DOMINANT_SHARE
    assert found.others_radius <= np.sort(sizes)[::-1][found.count - 1]
    assert 16.0 <= found.suggested <= 128.0
    assert DOMINANT_GAP * found.suggested <= radius


def test_the_faint_factor_falls_smoothly_from_two_to_one():
    from bgsub.auto import FAINT, FAINT_FACTOR, _faint_factor

    contrasts = np.geomspace(0.5, 5.0, 400)
    factors = np.array([_faint_factor(c) for c in contrasts])
    assert np.all(np.diff(factors) <= 0.0)
    assert factors[contrasts <= FAINT[0]] == pytest.approx(FAINT_FACTOR)
    assert np.all(factors[contrasts >= FAINT[1]] == 1.0)
    # continuous: no step between neighbouring contrasts bigger than the ramp's slope allows
    assert np.max(np.abs(np.diff(np.log(factors)))) < 0.01
    assert _faint_factor(float("nan")) == 1.0


def test_a_quarter_of_the_side_still_caps_the_floor():
    s = synthetic((60, 60), object_radius=(2.0, 3.0), density=0.1, seed=1)
    suggestion = suggest_radius(s.image)
    assert suggestion.radius == 15.0 and "capped" not in suggestion.reason


# At the suggested radius (3x the object radius), the recommended method's background error
# is within 1.5x of the best radius of a sweep (1.5-6 x the object radius; the noise-aware
# method keeps improving up to ~4-6x on these images, where its dome leaks least into the
# objects). Measured (error at the suggestion / best of the sweep), seed 1, r = 4..32: 1.62,
# 1.22, 1.01, 1.00 since Session 17 (robust in units of the noise's shading: these Poisson
# images under vignetting have noise 2x across); 1.46, 0.98, 0.98, 1.08 before. At r = 4 (a
# 160 px field) the best is the sweep's widest radius, 6x, whose error the shading lowered
# 5.41 -> 4.87 while the suggestion's (4.4x, 17.7 px) moved 7.92 -> 7.87: bound 1.75 there.
@pytest.mark.parametrize("radius", [4, 8, 16, 32])
def test_suggested_radius_is_within_half_again_of_the_best(radius):
    s = synthetic(SIZES[radius], object_radius=radius, seed=1)
    suggested = suggest_radius(s.image).radius

    def error(r: float) -> float:
        return rmse(bgsub.estimate_background(s.image, "robust", r), s.background)

    best = min(error(f * radius) for f in (1.5, 2, 3, 4, 6))
    assert error(suggested) <= (1.75 if radius == 4 else 1.5) * best


def test_mixed_sizes_cover_the_largest_objects():
    s = synthetic((256, 256), object_radius=(3, 12), seed=2)
    suggestion = suggest_radius(s.image)
    assert suggestion.radius >= 12 and 3 < suggestion.object_radius < 13.5


def test_stacks_are_measured_once_for_every_plane():
    stack = np.stack([synthetic((128, 128), object_radius=6, seed=i).image for i in range(3)])
    suggestion = suggest_radius(stack, axes="TYX")
    assert 4.5 < suggestion.object_radius < 8
    auto = bgsub.estimate_background(stack, radius="auto", axes="TYX")
    fixed = bgsub.estimate_background(stack, "robust", suggestion.radius, axes="TYX")
    np.testing.assert_array_equal(auto, fixed)


def test_dark_objects_and_pure_noise():
    s = synthetic((160, 160), object_radius=6, seed=3)
    dark = (4095 - s.image).astype(np.uint16)
    light = suggest_radius(dark, light_background=True)
    # the same up to rounding (the negated image's noise model differs in the last bits)
    assert light.object_radius == pytest.approx(suggest_radius(s.image).object_radius, rel=0.02)
    noise = np.random.default_rng(0).normal(100, 5, (128, 128))
    fallback = suggest_radius(noise)
    assert np.isnan(fallback.object_radius) and fallback.radius == 16
    assert "no object" in fallback.reason
    with pytest.raises(ValueError, match="factor"):
        suggest_radius(noise, factor=0)


@pytest.mark.parametrize(("image", "error"), [
    (np.zeros((0, 5)), ValueError), (np.zeros((8, 8), bool), TypeError),
    ("cells.tif", TypeError), (np.ones((16, 16), complex), TypeError),
    (np.zeros(5), ValueError)])
def test_suggest_radius_refuses_what_the_api_refuses_in_the_same_words(image, error):
    # (it measured 2.0 px on an empty array and on a mask, cast complex with NumPy's warning)
    with pytest.raises(error) as api:
        bgsub.subtract_background(image, radius="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no ComplexWarning on the way)
        with pytest.raises(error) as own:
            suggest_radius(image)
    assert str(own.value) == str(api.value) and "\n" not in str(own.value)


def test_light_background_must_be_a_bool_as_in_the_api():
    image = synthetic((64, 64), object_radius=4, seed=1).image
    message = "light_background must be True or False, got 'no'"
    for call in (lambda: bgsub.subtract_background(image, radius=5, light_background="no"),
                 lambda: suggest_radius(image, light_background="no"),
                 lambda: quality(image, image, light_background="no")):
        with pytest.raises(TypeError, match=message):  # ("no" is truthy: it meant True)
            call()
    assert suggest_radius(image, light_background=np.False_).radius == suggest_radius(image).radius


def test_measure_objects_finds_a_disk_and_ignores_its_texture():
    yy, xx = np.mgrid[0:128, 0:128]
    disk = (yy - 60) ** 2 + (xx - 70) ** 2 <= 20**2
    image = 100.0 * disk
    spots = np.random.default_rng(2).random(image.shape) < 0.02
    image += 300.0 * ndi.gaussian_filter((spots & disk).astype(float), 1.5) * 14  # chromatin
    image += np.random.default_rng(1).normal(0, 2, image.shape)
    objects = measure_objects(image)
    assert len(objects) == 1 and 18 < objects.quantile(0.5) < 22


def test_texture_inside_objects_does_not_shrink_the_radius():
    # nuclei r 14-22 with bright spots of radius ~3 inside: the radius follows the nuclei
    def spots(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return ndi.gaussian_filter((rng.random(shape) < 0.03).astype(float), 2.5)

    image = textured_nuclei(np.random.default_rng(5), 256,
                            [(60, 60, 18), (70, 180, 16), (180, 90, 20), (190, 200, 18)],
                            slope=0.5, body=500.0, texture=6000.0, pattern=spots)
    suggestion = suggest_radius(image)
    assert 14 < suggestion.object_radius < 22 and 42 < suggestion.radius < 70


@pytest.mark.parametrize(("method", "options"), [("robust", {}), ("tophat", {}),
                                                  ("rolling_ball", {"envelope": True})])
def test_quality_prefers_a_correct_radius_to_a_far_too_small_one(method, options):
    s = synthetic((160, 160), object_radius=5, seed=4)
    good = quality(s.image, bgsub.estimate_background(s.image, method, 15, **options))
    bad = quality(s.image, bgsub.estimate_background(s.image, method, 2, **options))
    assert good["score"] > bad["score"]
    assert bad["object_signal_in_background"] > good["object_signal_in_background"]
    assert set(good) == {"score", "expected_error", "object_signal_in_background",
                         "copied_level", "raised_under_objects", "unevenness", "offset",
                         "object_radius"}


def test_quality_sees_the_noise_floor_offset_of_minimum_based_methods():
    s = synthetic((160, 160), object_radius=5, seed=5)
    robust = quality(s.image, bgsub.estimate_background(s.image, "robust", 15))
    opening = quality(s.image, bgsub.estimate_background(s.image, "tophat", 15))
    assert abs(robust["offset"]) < 0.3 < opening["offset"]
    assert robust["score"] > opening["score"]
    with pytest.raises(ValueError, match="shape"):
        quality(s.image, s.background[:10])


@pytest.mark.parametrize("level, texture", [(8.0, 8.0), (12.0, 10.0), (15.0, 12.0)])
def test_quality_counts_wide_textured_tissue_as_objects(level, texture):
    """Tissue with a fine texture over almost the whole field (histology): the noise model
    measures the texture, so the tissue is only a few of its sds above the background and
    no brighter than its wide surroundings; it is still no background sitting too low.
    The true (flat) background must score better than one raised 2 grey levels under the
    tissue (the old code counted the faintest tissue as background: 0.16 against 0.11)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:256, :256]
    tissue = yy > 30 + 6 * np.sin(xx / 20)  # 88 % of the field
    image = 20 + rng.normal(0, 1, tissue.shape) + tissue * (
        level + texture * rng.normal(0, 1, tissue.shape))
    flat = np.full(tissue.shape, 20.0)
    true = quality(image, flat, object_radius=60)["expected_error"]
    raised = quality(image, flat + 2 * tissue, object_radius=60)["expected_error"]
    assert true < 0.5 * raised


def test_api_auto_radius_and_recommended_method():
    s = synthetic((128, 128), object_radius=5, seed=6)
    suggestion = suggest_radius(s.image)
    auto = bgsub.estimate_background(s.image, radius="auto")
    np.testing.assert_array_equal(auto, bgsub.estimate_background(s.image, "robust",
                                                                  suggestion.radius))
    assert rmse(auto, s.background) < 20.0  # 16.3 when written; the opening's: ~60
    fg = bgsub.subtract_background(s.image, radius="auto")
    assert fg.dtype == np.uint16
    # an explicit method keeps its own behaviour; radius="auto" works with any method
    np.testing.assert_array_equal(
        bgsub.estimate_background(s.image, "rolling_ball", 20),
        bgsub.estimate_background(s.image, method="rolling_ball", radius=20))
    tophat = bgsub.estimate_background(s.image, "tophat", "auto")
    np.testing.assert_array_equal(tophat, bgsub.estimate_background(s.image, "tophat",
                                                                    suggestion.radius))
    with pytest.raises(TypeError, match="'auto'"):
        bgsub.estimate_background(s.image, radius="automatic")


def _f1(found: np.ndarray, truth: np.ndarray) -> float:
    hits = np.sum(found & truth)
    return 2 * hits / (np.sum(found) + np.sum(truth))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_otsu_after_bgsub_on_vignetting_is_as_good_as_without_vignetting(seed):
    # The same pixels twice: with a vignetted, tilted background, and with that background
    # replaced by its mean (a perfectly flat field). Otsu's threshold on the foreground of
    # the vignetted image must find the objects at least as well (F1 against the true mask),
    # up to 0.02 -- a few edge pixels. Measured when written (flat / after bgsub / raw
    # vignetted): seed 0 0.690/0.678/0.44, seed 1 0.731/0.721/0.56, seed 2 0.719/0.72/0.51.
    s = synthetic((160, 160), object_radius=(4, 8), vignetting=0.8, seed=seed)
    flat = s.image - s.background + s.background.mean()
    foreground = bgsub.subtract_background(s.image, radius="auto", output_dtype="float")
    f1_flat = _f1(flat > threshold_otsu(flat), s.mask)
    f1_bgsub = _f1(foreground > threshold_otsu(foreground), s.mask)
    f1_raw = _f1(s.image > threshold_otsu(s.image), s.mask)
    assert f1_bgsub >= f1_flat - 0.02
    assert f1_bgsub > f1_raw + 0.1


def _cos4_wave(shape: tuple[int, int], amplitude: float, centre: tuple[float, float]) -> np.ndarray:
    """Off-centre cos^4 vignetting plus a faint wave, 0 to ``amplitude``."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                         indexing="ij")
    v = np.cos(0.6 * np.hypot(xx - centre[0], yy - centre[1])) ** 4
    v = v + 0.15 * v.mean() * np.sin(3 * xx + 2 * yy)
    return amplitude * (v - v.min()) / np.ptp(v)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_blank_field_with_vignetting_has_no_objects(seed):
    """An empty well (noise only) under a smooth field: the flattening leaves the field's
    misfit, on which the smoothed noise reaches the threshold in a few specks; no object
    peaks clearly out of its surroundings, so none is found and the radius falls back to an
    eighth of the side. Measured when written: no object in 36 of 36 blank fields (3 fields,
    2 amplitudes, 6 seeds); before, objects of radius ~1 px in 19 of 36 (radius 2.7-4.5).
    Faint objects on the same noise and field are still found."""
    rng = np.random.default_rng(seed)
    image = 10.0 + rng.normal(0, 0.2, (256, 256))
    low, high = np.percentile(image, [1, 99])
    for centre in ((0.3, -0.2), (0.5, 0.5)):
        for amplitude in (0.5, 2.0):
            shaded = image + _cos4_wave(image.shape, amplitude * (high - low), centre)
            suggestion = suggest_radius(shaded)
            assert np.isnan(suggestion.object_radius), (centre, amplitude)
            assert suggestion.radius == 32.0
    # while objects 3 noise sds above the background (about 11 sds of the smoothed image) on the
    # same noise still rise clearly out of it: found, with about their radius
    yy, xx = np.mgrid[0:256, 0:256]
    objects = np.zeros(image.shape)
    for cy, cx in rng.uniform(20, 236, (25, 2)):
        objects[np.hypot(yy - cy, xx - cx) <= 7] = 0.6
    suggestion = suggest_radius(image + objects + _cos4_wave(image.shape, 2.0, (0.3, -0.2)))
    assert 5.0 < suggestion.object_radius < 10.0


def _correlated_noise(rng, shape, sigma, share):
    """Unit-sd noise, ``share`` of its variance low-passed (a Gaussian of ``sigma`` px): as a
    cryo-electron tomogram's, an interpolated or a denoised image's noise."""
    low = ndi.gaussian_filter(rng.normal(0, 1, shape), sigma)
    return np.sqrt(1 - share) * rng.normal(0, 1, shape) + np.sqrt(share) * low / low.std()


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_correlated_noise_alone_has_no_objects(seed):
    """The noise model (pixel differences) sees little of correlated noise, whose blobs then
    rise 6 model sds above their surroundings; measured against the flattened background's
    own spread they do not. Measured when written (seeds 0-5, these two noises, plain and
    under 4 fields): blank in 58 of 60 (radius 32); before, in none (radius 4.5-29.5, and
    it changed between the plain and the shaded image)."""
    for sigma, share in ((0.7, 0.5), (1.0, 0.3)):
        image = 100.0 + _correlated_noise(np.random.default_rng(seed), (256, 256), sigma, share)
        low, high = np.percentile(image, [1, 99])
        for shaded in [image] + [image + _cos4_wave(image.shape, a * (high - low), c)
                                 for c in ((0.3, -0.2), (0.5, 0.5)) for a in (0.5, 2.0)]:
            suggestion = suggest_radius(shaded)
            assert np.isnan(suggestion.object_radius), (sigma, share)
            assert suggestion.radius == 32.0


@pytest.mark.parametrize("seed", [0, 1])
def test_objects_on_correlated_noise_are_still_found(seed):
    """Objects on the same correlated noise still stand out of it: synthetic cells under
    correlated noise of twice their own noise's sd keep their measured radius (9.5 px without
    it), and faint disks (3 pixel-noise sds) are found."""
    rng = np.random.default_rng(seed)
    s = synthetic((256, 256), object_radius=8, seed=seed)
    plain = suggest_radius(s.image).object_radius
    sd = float(np.std(s.image - s.background - s.objects))
    noisy = suggest_radius(s.image + 2 * sd * _correlated_noise(rng, s.image.shape, 1.0, 1.0))
    assert noisy.object_radius == pytest.approx(plain, rel=0.1)
    yy, xx = np.mgrid[0:256, 0:256]
    disks = np.zeros((256, 256))
    for cy, cx in rng.uniform(20, 236, (25, 2)):
        disks[np.hypot(yy - cy, xx - cx) <= 7] = 3.0
    faint = suggest_radius(100.0 + _correlated_noise(rng, (256, 256), 1.0, 0.5) + disks)
    assert np.isfinite(faint.object_radius)


def test_the_reason_says_when_one_object_fills_the_image_and_caps_the_radius():
    # a field stop: a bright disc of data (nuclei r 3-6) in a dark surround of camera offset;
    # the disc is measured as one object of radius 239 px and the radius capped at 128
    s = synthetic((512, 512), object_radius=(3, 6), seed=4)
    yy, xx = np.mgrid[0:512, 0:512]
    disc = (yy - 256) ** 2 + (xx - 256) ** 2 < 240 ** 2
    noise = np.random.default_rng(0).normal(100.0, 3.0, disc.shape)
    stop = np.where(disc, s.image.astype(np.float64), noise)
    found = suggest_radius(stop)
    assert found.radius == 128.0
    assert "one object covers 69 % of the image" in found.reason
    assert "field stop" in found.reason and "radius=" in found.reason
    assert "one object covers" not in suggest_radius(s.image).reason


def test_small_dense_spots_on_a_large_image_are_measured_at_full_resolution():
    # spots of radius 2-3 px covering half of a 2048 px field average out over the 4 px cells
    # of the measuring grid: nothing stood out, the radius fell back to an eighth of the side
    # (256 px) and the default's background missed by 51 grey levels (noise sd 33); measured
    # on the full-resolution crop: 6.5 px, radius 30 px (raised to cover merged clusters),
    # 8.0 grey levels
    s = synthetic((2048, 2048), object_radius=(2.0, 3.0), seed=1)
    found = suggest_radius(s.image)
    assert 2.0 <= found.object_radius <= 8.0, found.reason
    assert 16.0 <= found.radius <= 40.0, found.reason


def test_the_radius_is_measured_without_touching_the_warning_filters(catch_warnings_entered,
                                                                     monkeypatch):
    # warnings.catch_warnings changes process-wide state: two files measured at once (bgsub run
    # with several jobs) could leave BackgroundWarning ignored for good; the flattenings ask
    # robust_background not to warn instead
    from bgsub.methods.robust import robust_background

    dense = synthetic((256, 256), object_radius=(5, 8), density=0.9, seed=1).image
    suggest_radius(dense)
    assert catch_warnings_entered == []
    monkeypatch.undo()
    image = dense.astype(np.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = robust_background(image, (40.0, 40.0), warn=False)
        told = robust_background(image, (40.0, 40.0))
    assert [str(w.message)[:4] for w in caught] == ["only"]  # (the second call's alone)
    np.testing.assert_array_equal(quiet, told)


@pytest.mark.parametrize("scale", [1.0, 1 / 65535])
def test_a_float_plane_is_measured_as_it_is(scale):
    # a float32 plane with nothing to fill is measured without a float64 copy (its block
    # means read as float64 all the same): the same radius and reason as its float64 copy,
    # in less memory (1024x1024: 7.1 -> 5.1 float32 copies)
    import tracemalloc

    image = (synthetic((1024, 1024), object_radius=(5, 20), seed=1).image * scale
             ).astype(np.float32)
    twin = suggest_radius(image.astype(np.float64))
    tracemalloc.start()
    try:
        found = suggest_radius(image)
        peak = tracemalloc.get_traced_memory()[1] / (image.size * 4)
    finally:
        tracemalloc.stop()
    assert (found.radius, found.reason, found.contrast) == (twin.radius, twin.reason,
                                                            twin.contrast)
    assert peak < 6.0
    # to fill or to negate: a float32 copy (float64 where the fill falls between two float32
    # values), measured as its float64 copy is
    nan = image.copy()
    nan.ravel()[np.random.default_rng(2).choice(nan.size, nan.size // 20, replace=False)] = np.nan
    for kind, values, keywords in (("nan", nan, {}), ("light", -image, {"light_background": True})):
        here, there = (suggest_radius(v, **keywords) for v in (values, values.astype(np.float64)))
        assert (here.radius, here.reason) == (there.radius, there.reason), kind


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                       min_size=1, max_size=40))
def test_the_fill_median_is_numpys_in_double(values):
    from bgsub.auto import _median_in_double

    values = np.array(values, np.float32)
    assert _median_in_double(values.copy()) == float(np.median(values.astype(np.float64)))


def test_a_missing_value_is_the_images_own_dtypes():
    # missing=0.1 on a float32 image names the pixels that read float32's 0.1, in the
    # radius's measurement as in the engine's fill: measured as if they were NaN
    image = synthetic((256, 256), object_radius=(5, 10), seed=1).image.astype(np.float32)
    image[:, :40] = np.float32(0.1)
    holes = image.copy()
    holes[:, :40] = np.nan
    found = suggest_radius(image, missing=0.1)
    assert (found.radius, found.reason) == (suggest_radius(holes).radius,
                                            suggest_radius(holes).reason)


def _z_stack(planes: int = 5) -> np.ndarray:
    """Nuclei on a vignetted background, ``planes`` planes of a z-stack."""
    return np.stack([synthetic((96, 96), object_radius=(4, 6), seed=seed).image
                     for seed in range(planes)])


def test_auto_radius_of_a_true_3d_volume_without_spacing_measures_the_depth():
    """Without a spacing, the radius along Z comes from the objects' depth (3x their
    half-depth, as the Y, X radius is 3x their radius): nothing to warn of."""
    from bgsub import engine

    stack = _z_stack()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bgsub.BackgroundWarning)
        measured = engine.plan(stack, radius="auto", true_3d=True)
    assert not [w for w in caught if "along Z" in str(w.message)]
    assert measured.radius[0] == depth_radius(stack, measured.radius[-1])
    assert 1.0 <= measured.radius[0] < measured.radius[-1]


@pytest.mark.parametrize("half_depth", [2.0, 6.0])
def test_depth_radius_is_three_times_the_half_depth_of_ellipsoids(half_depth):
    zz, yy, xx = np.mgrid[:40, :160, :160]
    rng = np.random.default_rng(int(half_depth))
    volume = 100.0 + rng.normal(0.0, 2.0, zz.shape)
    for cz, cy, cx in rng.uniform((8, 15, 15), (32, 145, 145), (12, 3)):
        volume[((zz - cz) / half_depth) ** 2 + ((yy - cy) ** 2 + (xx - cx) ** 2) / 64 <= 1] += 40
    assert 3.0 * half_depth / 1.5 < depth_radius(volume, 24.0) < 3.0 * half_depth * 1.5


def test_too_few_planes_to_measure_the_depth_warn_that_z_is_a_guess():
    """Two planes: no depth to measure; the same pixels along Z, named a guess with the fix."""
    stack = _z_stack(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bgsub.BackgroundWarning)
        bgsub.estimate_background(stack, radius="auto", true_3d=True)
    said = [str(w.message) for w in caught if "along Z" in str(w.message)]
    assert len(said) == 1
    assert "more than the stack's 2" in said[0] and "spacing=(dz, dy, dx)" in said[0]


@pytest.mark.parametrize("given_too", [{"true_3d": True, "spacing": (4.0, 1.0, 1.0)},
                                       {"true_3d": True, "radius": (2.0, 12.0, 12.0)}, {}])
def test_a_spacing_a_radius_per_axis_or_planes_alone_raise_no_z_warning(given_too):
    stack = _z_stack()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bgsub.BackgroundWarning)
        bgsub.estimate_background(stack, **{"radius": "auto", **given_too})
    assert not [w for w in caught if "along Z" in str(w.message)]


def test_the_z_radius_follows_the_spacing_given_with_an_automatic_radius():
    from bgsub import engine

    stack = _z_stack()
    flat = engine.plan(stack, radius="auto", true_3d=True, spacing=(4.0, 1.0, 1.0))
    assert flat.radius[0] == pytest.approx(flat.radius[1] / 4.0)


def test_the_radius_measured_is_reported_once_per_automatic_plan_with_its_depth():
    """``engine.measured_radii``: the radius an automatic plan used, the depth's along Z in
    true 3D; once for the API's call (whose first, fixed-radius plan is not one), nothing
    for a radius given, nothing outside the context."""
    from bgsub import engine

    stack = _z_stack()
    with engine.measured_radii() as radii:
        planned = engine.plan(stack, radius="auto", true_3d=True)
        bgsub.estimate_background(stack, radius=12.0)
    assert radii == [planned.radius]
    with engine.measured_radii() as radii:
        bgsub.subtract_background(stack[2], radius="auto")
    assert radii == [(suggest_radius(stack[2]).radius,) * 2]
    engine.plan(stack, radius="auto")  # (no context open: nothing kept, nothing raised)


def test_large_objects_off_the_crop_that_small_ones_are_measured_on_still_set_the_radius():
    """Small spots are measured again on a full-resolution central crop; two discs of radius
    75 px near the corners, off that crop, still count (the 90 % of the objects' area rule:
    at least twice their radius), and the default keeps their light (it kept 21 %, at 16 px,
    before the grid's large objects were kept beside the crop's)."""
    rng = np.random.default_rng(5)
    n = 1100
    yy, xx = np.mgrid[:n, :n]
    objects = np.zeros((n, n))
    dy, dx = np.mgrid[-3:4, -3:4]
    for cy, cx in rng.integers(20, n - 20, (2500, 2)):
        objects[cy - 3:cy + 4, cx - 3:cx + 4][dy**2 + dx**2 <= 9] = 60.0
    giants = np.zeros((n, n), bool)
    for cy, cx in ((150, 150), (930, 900)):
        giants |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 75**2
    objects[giants] = 60.0
    image = (500 + 0.1 * xx + objects + rng.normal(0, 8, (n, n))).astype(np.float32)
    found = suggest_radius(image)
    assert 2.5 < found.object_radius < 4.5  # (the spots stay the typical objects)
    assert found.radius >= 2 * 0.9 * 75
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        background = bgsub.estimate_background(image, radius="auto")
    assert (image - background)[giants].sum() / objects[giants].sum() > 0.9


def test_small_objects_around_an_empty_middle_are_measured_not_taken_for_a_blank_field():
    """Small spots (radius 3 px, 7.5 noise sds) only in the outer part of a 1200 px field --
    cells grown at a well's rim: the full-resolution crop in the middle holds none, which was
    taken for a blank field (radius 150 px, the blank warning); the windows around the
    quadrants' middles measure them."""
    rng = np.random.default_rng(2)
    n = 1200
    image = 500 + rng.normal(0, 8, (n, n))
    dy, dx = np.mgrid[-3:4, -3:4]
    centres = rng.integers(10, n - 10, (6000, 2))
    outer = centres[(np.abs(centres - n / 2) >= 300).any(axis=1)][:1500]
    for cy, cx in outer:
        image[cy - 3:cy + 4, cx - 3:cx + 4][dy**2 + dx**2 <= 9] += 60
    found = suggest_radius(image.astype(np.float32))
    assert 2.5 < found.object_radius < 4.5
    assert found.radius == pytest.approx(16.0) and not found.caveat  # (the documented floor)
