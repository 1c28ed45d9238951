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
