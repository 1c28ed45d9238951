"""Background error of each method on generated images with a known background."""

from __future__ import annotations

import numpy as np
import pytest

import bgsub
from bgsub.data import synthetic

# Background RMSE bounds (grey levels) on a 256x256 uint16 image, background 400-1500,
# Poisson + read noise (sd ~ 30 grey levels), blob radius 5-10, radius 3x the largest.
# The minimum-based methods sit at the floor of the noise (see issue on accuracy); the
# bounds are a regression guard set ~25% above the measured errors.
BOUNDS = {"rolling_ball": 240, "paraboloid": 240, "tophat": 90, "median": 45, "mean": 115,
          "gaussian": 115}


@pytest.fixture(scope="module")
def case():
    return synthetic((256, 256), object_radius=(5, 10), density=0.1, seed=11)


@pytest.mark.parametrize("method", sorted(BOUNDS))
def test_background_rmse_is_bounded(case, method):
    bg = bgsub.estimate_background(case.image, method, 30)
    rmse = float(np.sqrt(np.mean((bg - case.background) ** 2)))
    assert rmse < BOUNDS[method], f"{method}: RMSE {rmse:.1f}"
