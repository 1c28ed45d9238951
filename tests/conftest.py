"""Shared fixtures: small generated images with known ground truth."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from bgsub.data import synthetic

# `make test` (and CI) draws the same examples on every run, so a red run is reproducible and
# never depends on the luck of the draw; HYPOTHESIS_PROFILE=explore draws new ones each run
# (for hunting edge cases, as `make fuzz` does for files and the command line).
settings.register_profile(
    "bgsub", deadline=None, max_examples=40, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("explore", parent=settings.get_profile("bgsub"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bgsub"))


@pytest.fixture
def catch_warnings_entered(monkeypatch) -> list:
    """The ``warnings.catch_warnings`` blocks entered while the test runs (collected here):
    its filters are process-wide, so library code that may run on several threads must not
    use it. ``monkeypatch.undo()`` ends the watch early."""
    entered: list = []
    real = warnings.catch_warnings

    class Spy(real):
        def __enter__(self):
            entered.append(self)
            return super().__enter__()

    monkeypatch.setattr(warnings, "catch_warnings", Spy)
    return entered


@pytest.fixture(scope="session")
def blobs_2d() -> np.ndarray:
    """96x112 uint16 blobs on an uneven background (12-bit range)."""
    return synthetic((96, 112), object_radius=(3, 6), seed=3).image


@pytest.fixture(scope="session")
def blobs_3d() -> np.ndarray:
    """20x40x44 uint16 stack."""
    return synthetic((20, 40, 44), object_radius=(2, 4), density=0.05, seed=4).image


def as_dtype(image: np.ndarray, dtype) -> np.ndarray:
    """``image`` converted to ``dtype``, rescaled into range for uint8."""
    if np.dtype(dtype) == np.uint8:
        return (image.astype(np.float64) * 255 / image.max()).round().astype(np.uint8)
    return image.astype(dtype)
