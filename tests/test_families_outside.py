"""The outside generator's truth (``benchmarks/families_outside.py``): every family's image is
its background, its objects and its noise, and the noise is what the camera model says."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import families_outside  # noqa: E402


@pytest.mark.parametrize("family", families_outside.FAMILIES)
def test_image_is_background_objects_and_noise(family):
    truth = families_outside.generate(family, 0, max_side=192)
    sign = -1.0 if truth.light else 1.0
    rebuilt = truth.background + sign * truth.objects + truth.noise
    np.testing.assert_allclose(rebuilt, truth.image.astype(np.float64), rtol=0, atol=1e-3
                               * max(1.0, float(np.abs(truth.background).max())))
    assert truth.mask.shape == truth.image.shape and truth.mask.any() and not truth.mask.all()
    assert truth.object_radius > 0
    # the objects carry light in the mask (transmitted light: what they absorb)
    assert truth.objects[truth.mask].sum() > 0
    # away from the objects and from saturation, the noise has the model's sd and no bias
    # (within 20 %: uint8 rounding and clipping, Poisson at a few photons)
    quiet = ~truth.mask & (truth.image.astype(np.float64) < np.iinfo(np.uint8).max
                           if truth.image.dtype == np.uint8 else ~truth.mask)
    noise = truth.noise[quiet]
    assert abs(noise.mean()) < 0.2 * float(np.median(truth.noise_sd))
    assert 0.8 < noise.std() / float(np.median(truth.noise_sd[quiet])) < 1.25


def test_draws_differ_by_seed_and_repeat():
    a, b = (families_outside.generate("cells", 1, max_side=128) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    assert a.describe() != families_outside.generate("cells", 2, max_side=128).describe()


def test_robust_follows_a_hot_spot_under_a_tenth_of_the_image():
    """A focused illumination's hot spot (a Gaussian sigma 35 px, 30 noise sds high, near an
    edge, under a tenth of the image) under sparse spots, robust at radius 40. With the trend
    held at degree 4 (its higher degrees called only where they left under 0.35-0.55 of the
    hidden rise) the dome cut 163 grey levels under the crest: RMSE 28.7, 0.98x Fiji's at
    r = 50. A higher degree is now called where it leaves up to 0.55-0.75 of that rise
    (``HIDDEN_LEFT``): RMSE 17.1 (0.58x Fiji's 29.3)."""
    import warnings

    import bgsub
    from bgsub.methods.imagej import imagej_background

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:320, 0:352].astype(np.float64)
    background = 500 + 300 * np.exp(-((yy - 150) ** 2 + (xx - 300) ** 2) / (2 * 35.0**2))
    objects = np.zeros_like(background)
    for _ in range(60):
        cy, cx = rng.uniform(0, 320), rng.uniform(0, 352)
        objects += 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 3.0**2))
    image = (background + objects + rng.normal(0, 10, background.shape)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        estimate = bgsub.estimate_background(image, "robust", 40)
    error = float(np.sqrt(np.mean((estimate - background) ** 2)))
    fiji = float(np.sqrt(np.mean((imagej_background(image, (50.0, 50.0)) - background) ** 2)))
    assert error < 0.75 * fiji, (error, fiji)


@pytest.mark.parametrize("family", ["cells", "halo", "stack"])
def test_defects_are_the_cameras_not_the_truths(family):
    truth = families_outside.generate(family, 0, max_side=160)
    broken = families_outside.with_defects(truth, 2e-3)
    sign = -1.0 if truth.light else 1.0
    rebuilt = broken.background + sign * broken.objects + broken.noise
    np.testing.assert_allclose(rebuilt, broken.image.astype(np.float64), rtol=0, atol=1e-6
                               * max(1.0, float(np.abs(broken.background).max())))
    assert np.array_equal(broken.background, truth.background)
    changed = broken.image != truth.image
    assert changed.any() and not (changed & ~broken.defects).any()
    assert (broken.image[broken.defects] == 0).sum() >= broken.defects.sum() // 3
    assert np.array_equal(truth.image, families_outside.generate(family, 0, max_side=160).image)


@pytest.mark.parametrize("family", ["spots", "stack", "histo"])
def test_bias_by_region_reads_a_raise_under_the_objects_apart(family):
    """A background raised by half a noise sd under the objects only reads +0.5 there, 0 in
    the ring around them and beyond, and costs that raise's share of the objects' light; one
    raised everywhere reads the same in all three (``--bias``; light backgrounds negated)."""
    truth = families_outside.generate(family, 1, max_side=160)
    sd = float(np.median(truth.noise_sd))
    sign = -1.0 if truth.light else 1.0
    raised = truth.background + sign * 0.5 * sd * truth.mask
    bias = families_outside.bias_by_region(truth, raised)
    assert bias["under"] == pytest.approx(0.5)
    assert bias["near"] == pytest.approx(0.0, abs=1e-12)
    assert bias["far"] == pytest.approx(0.0, abs=1e-12)
    lost = 0.5 * sd * truth.mask.sum() / truth.objects[truth.mask].sum()
    assert bias["cost"] == pytest.approx(lost)
    everywhere = families_outside.bias_by_region(truth, truth.background + sign * sd)
    assert [everywhere[k] for k in ("under", "near", "far")] == pytest.approx([1.0] * 3)


@pytest.mark.parametrize("family", ["cells", "stack", "halo"])
@pytest.mark.parametrize("kind", ["with_dead_lines", "with_dead_clusters"])
def test_dead_lines_are_bands_at_zero_the_truth_unchanged(family, kind):
    """``--dead-lines``, ``--dead-clusters``: the dead pixels are 0 in the image and marked as
    defects, at the same place in every plane; the truth is unchanged and ``image =
    background + objects + noise`` still holds."""
    truth = families_outside.generate(family, 2, max_side=160)
    dead = getattr(families_outside, kind)(truth, 4)
    assert dead.defects is not None and dead.defects.any()
    assert np.all(dead.image[dead.defects] == 0)
    np.testing.assert_array_equal(dead.image[~dead.defects], truth.image[~dead.defects])
    np.testing.assert_array_equal(dead.background, truth.background)
    if dead.image.ndim == 3:
        assert all(np.array_equal(dead.defects[0], plane) for plane in dead.defects)
    sign = -1.0 if dead.light else 1.0
    rebuilt = dead.background + sign * dead.objects + dead.noise
    np.testing.assert_allclose(rebuilt, dead.image.astype(np.float64), rtol=0, atol=1e-3
                               * max(1.0, float(np.abs(dead.background).max())))


def test_the_defaults_warnings_are_named_by_what_they_are_about():
    from bgsub._field_stop import field_stop_finding
    from bgsub._padding import padding_finding
    from bgsub._polarity import LIGHT_MESSAGE
    from bgsub.auto import Suggestion, cut_finding, faint_finding

    said = [LIGHT_MESSAGE, padding_finding(0.3, 0.0), field_stop_finding(0.3),
            cut_finding(Suggestion(16.0, 6.0, "...", cut_share=0.9)),
            faint_finding(Suggestion(32.0, 8.0, "...", contrast=1.2, faint=2.0)),
            "something else"]
    assert families_outside.warned_of(said) == ["crop", "faint", "field-stop", "light", "other",
                                              "padding"]
    assert families_outside.warned_of([]) == []
