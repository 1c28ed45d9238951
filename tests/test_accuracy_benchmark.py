"""The accuracy benchmark's own measures (``benchmarks/accuracy.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import accuracy  # noqa: E402


def test_the_sweep_reads_each_pair_of_neighbouring_radii_5_percent_apart():
    assert np.allclose(accuracy.SWEEP[1:] / accuracy.SWEEP[:-1], 1.05)
    assert accuracy.SWEEP[0] < 0.75 and accuracy.SWEEP[-1] > 1.4


def test_the_sweep_finds_the_largest_change_between_neighbours(monkeypatch):
    """A made-up estimate whose recovered field is off by 1 grey level at every radius but
    the 4th and 5th of the sweep (2.0 and 2.5): the changes between neighbours are +100 %,
    +25 % and -60 %, each over the smaller radius's error; the largest is the first, at the
    3rd radius."""
    field = np.zeros((8, 8))
    image = np.zeros((8, 8))
    shaded = np.ones((8, 8))  # (told apart from ``image`` by its values)
    off = {3: 2.0, 4: 2.5}

    def estimate(values: np.ndarray, radius: float, light: bool) -> np.ndarray:
        k = int(round(np.log(radius / 10.0) / np.log(1.05))) + 7
        return np.full(values.shape, off.get(k, 1.0) if values is shaded else 0.0)

    monkeypatch.setattr(accuracy, "robust", estimate)
    change, at = accuracy.sweep_step(image, shaded, field, 10.0, False)
    assert change == pytest.approx(1.0)  # (1 -> 2 at k = 2 -> 3)
    assert at == pytest.approx(accuracy.SWEEP[2])
