"""``benchmarks/outside.py --set photons``: real images brought down to a few photons a pixel,
the counts with and without a field drawn from the same uniform numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import outside  # noqa: E402
from bgsub.data import synthetic  # noqa: E402


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return synthetic((96, 96), object_radius=5, seed=3).image


def test_without_a_field_the_two_draws_are_the_same_image(image):
    # (a field of amplitude 0: the same counts twice, so every estimate's difference is 0)
    rows = outside.photon_run("synthetic", image, False, ["tilt"], [0.0], photons=(5.0,))
    assert len(rows) == 1
    assert rows[0]["default"] == 0.0 and rows[0]["fiji50"] == 0.0 and rows[0]["ratio"] == 1.0


def test_each_mean_count_and_field_is_scored_against_fiji(image):
    rows = outside.photon_run("synthetic", image, False, ["bench", "tilt"], [0.5],
                              photons=(3.0, 30.0))
    assert [(r["image"], r["field"]) for r in rows] == [
        ("synthetic, 3 photons", "bench"), ("synthetic, 3 photons", "tilt"),
        ("synthetic, 30 photons", "bench"), ("synthetic, 30 photons", "tilt")]
    for row in rows:
        assert np.isfinite(row["default"]) and row["default"] > 0.0
        assert row["ratio"] == pytest.approx(
            row["default"] / np.nanmin([row["fiji50"], row["fiji3x"]]))
