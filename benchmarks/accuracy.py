"""Accuracy benchmark: how close each background estimate comes to the known truth.

Generates images with a known smooth background and known objects
(:func:`bgsub.data.synthetic`: several object sizes and densities, noise
levels, a tilt with or without vignetting, uint8 / uint16 / float32, 2D and a
3D stack) and scores every bgsub method and the usual peers -- scikit-image's
``rolling_ball`` and ``opening``, OpenCV's opening, SciPy's median filter and,
when installed, ImageJ 1.x's own "Subtract Background" run headless -- each at
its best radius from a sweep (chosen with the ground truth: the most favourable
setting a user could find). The recommended setting,
``bgsub.estimate_background(image, radius="auto")``, gets no sweep and no truth.

Scores:

* background RMSE -- root-mean-square error of the background against the
  truth, in the image's grey levels (for every pixel);
* object intensity error -- the error of the objects' integrated intensity
  after subtraction, in % of the true one (positive: the background was too
  low, the objects too bright).

Usage::

    python benchmarks/accuracy.py            # all cases; prints and updates docs/accuracy.md
    python benchmarks/accuracy.py --quick    # three small cases, nothing written
    python benchmarks/accuracy.py --case issue --no-write

Not part of the test suite (``make bench-accuracy``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bgsub
from bgsub.data import Synthetic, synthetic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _imagej_runner  # noqa: E402

DOC = HERE.parent / "docs" / "accuracy.md"
START, END = "<!-- accuracy-table:start -->", "<!-- accuracy-table:end -->"
RADIUS_FACTORS = (1.5, 2.0, 3.0, 4.0)  # sweep: these times the largest object radius
RECOMMENDED = "bgsub recommended"
BackgroundFn = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Case:
    """One generated image and how it was made."""

    name: str
    description: str
    make: Callable[[], Synthetic]
    quick: bool = False


@dataclass(frozen=True)
class Score:
    """A method's result on one case, at its best radius."""

    radius: float | None
    rmse: float
    intensity_error: float


def cases() -> list[Case]:
    """The benchmark cases (uint16 12-bit range, Poisson + read noise unless stated)."""
    def make(shape=(256, 256), **kw):
        return lambda: synthetic(shape, **{"seed": 7, **kw})

    return [
        Case("issue", "512x512, objects r 5-20, the issue's setting",
             make((512, 512), object_radius=(5, 20))),
        Case("small", "objects r 2-4", make(object_radius=(2, 4)), quick=True),
        Case("medium", "objects r 5-10", make(object_radius=(5, 10)), quick=True),
        Case("large", "objects r 12-20", make(object_radius=(12, 20))),
        Case("sparse", "r 5-10, 3% of the area", make(object_radius=(5, 10), density=0.03)),
        Case("dense", "r 5-10, 35% of the area", make(object_radius=(5, 10), density=0.35)),
        Case("dim", "r 5-10, objects 150 above background (~5 noise sd)",
             make(object_radius=(5, 10), object_brightness=150.0)),
        Case("low noise", "r 5-10, read noise 2 only (no shot noise)",
             make(object_radius=(5, 10), poisson=False, read_noise=2.0)),
        Case("tilt", "r 5-10, tilted plane, no vignetting",
             make(object_radius=(5, 10), vignetting=0.0)),
        Case("vignetted", "r 5-10, strong vignetting, background 200-3000",
             make(object_radius=(5, 10), vignetting=1.0, background_range=(200.0, 3000.0))),
        Case("uint8", "r 5-10, 8-bit", make(object_radius=(5, 10), dtype=np.uint8)),
        Case("float32", "r 5-10, float32", make(object_radius=(5, 10), dtype=np.float32)),
        Case("3D stack", "16x128x128 volume, balls r 3-6, per plane",
             make((16, 128, 128), object_radius=(3, 6), density=0.1), quick=True),
    ]


# --- peers --------------------------------------------------------------------

def _per_plane(fn: Callable[[np.ndarray, int], np.ndarray]) -> BackgroundFn:
    def run(image: np.ndarray, radius: float) -> np.ndarray:
        r = max(1, int(round(radius)))
        if image.ndim == 2:
            return fn(image, r)
        return np.stack([fn(plane, r) for plane in image])
    return run


def _skimage_rolling_ball(image: np.ndarray, r: int) -> np.ndarray:
    from skimage import restoration

    return restoration.rolling_ball(image, radius=r)


def _skimage_opening(image: np.ndarray, r: int) -> np.ndarray:
    from skimage import morphology

    return morphology.opening(image, morphology.disk(r, decomposition="sequence"))


def _cv2_opening(image: np.ndarray, r: int) -> np.ndarray:
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.morphologyEx(image.astype(np.float32), cv2.MORPH_OPEN, kernel).astype(np.float64)


def _scipy_median(image: np.ndarray, r: int) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.median_filter(image, size=2 * r + 1, mode="reflect")


PEERS: dict[str, BackgroundFn] = {
    "skimage rolling_ball": _per_plane(_skimage_rolling_ball),
    "skimage opening": _per_plane(_skimage_opening),
    "cv2 opening": _per_plane(_cv2_opening),
    "scipy median": _per_plane(_scipy_median),
}
IMAGEJ = "ImageJ rolling ball"


def _bgsub_method(name: str) -> BackgroundFn:
    def run(image: np.ndarray, radius: float) -> np.ndarray:
        return bgsub.estimate_background(image, name, radius).astype(np.float64)
    return run


def bgsub_methods() -> dict[str, BackgroundFn]:
    """Every bgsub method that models the background (not the DoG feature enhancer)."""
    return {f"bgsub {m.name}": _bgsub_method(m.name) for m in bgsub.list_methods()
            if m.background_model}


# --- scoring ------------------------------------------------------------------

def score(truth: Synthetic, background: np.ndarray, radius: float | None) -> Score:
    """Background RMSE and the objects' integrated-intensity error of one estimate."""
    error = np.asarray(background, dtype=np.float64) - truth.background
    rmse = float(np.sqrt(np.mean(error**2)))
    total = float(truth.objects[truth.mask].sum())
    intensity = 100.0 * float(-error[truth.mask].sum()) / total if total else float("nan")
    return Score(radius, rmse, intensity)


def best_of(truth: Synthetic, radii: Sequence[float],
            background: Callable[[float], np.ndarray]) -> Score:
    """The sweep's best radius by background RMSE.

    Radii are tried in increasing order and the sweep stops once the error has
    risen twice in a row (the error is unimodal in the radius for these
    methods; this skips the slowest, largest windows once past the best).
    """
    scores: list[Score] = []
    rises = 0
    for r in radii:
        scores.append(score(truth, background(r), r))
        rises = rises + 1 if len(scores) > 1 and scores[-1].rmse > scores[-2].rmse else 0
        if rises == 2:
            break
    return min(scores, key=lambda s: s.rmse)


def run_case(case: Case, methods: dict[str, BackgroundFn], imagej: bool) -> dict[str, Score]:
    """Score every method on one case."""
    truth = case.make()
    image = truth.image
    radii = [f * truth.object_radius[1] for f in RADIUS_FACTORS]
    results = {RECOMMENDED: score(truth, bgsub.estimate_background(image, radius="auto"), None)}
    as_float = image.astype(np.float64)
    for name, fn in methods.items():
        source = image if name.startswith("bgsub") else as_float
        results[name] = best_of(truth, radii, lambda r, fn=fn, s=source: fn(s, r))
    if imagej:
        backgrounds = dict(zip(radii, _imagej_runner.imagej_backgrounds(as_float, radii),
                               strict=True))
        results[IMAGEJ] = best_of(truth, radii, backgrounds.__getitem__)
    return results


# --- report -------------------------------------------------------------------

def table(selected: list[Case], results: dict[str, dict[str, Score]]) -> str:
    """One markdown table: a row per case, a column per method."""
    columns = list(next(iter(results.values())))
    peers = [c for c in columns if not c.startswith("bgsub")]
    head = ["case", *columns, "recommended / best peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in selected:
        row = results[case.name]
        best_peer = min(peers, key=lambda c: row[c].rmse) if peers else None
        cells = [f"**{case.name}** ({case.description})"]
        cells += [_cell(row[c]) for c in columns]
        if best_peer is None:
            cells.append("-")
        else:
            ratio = row[RECOMMENDED].rmse / row[best_peer].rmse
            mark = "yes" if ratio <= 0.5 else "**NO**"
            cells.append(f"{ratio:.2f} vs {best_peer} ({mark})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(s: Score) -> str:
    radius = "auto" if s.radius is None else f"r={s.radius:.3g}"
    return f"{_num(s.rmse)} / {s.intensity_error:+.1f}% ({radius})"


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"


def header(imagej: bool) -> str:
    import numba
    import scipy
    import skimage

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    ij = "ImageJ 1.x from /usr/share/java/ij.jar" if imagej else "ImageJ not installed: no column"
    return (
        f"Generated {when} by `python benchmarks/accuracy.py` (`make bench-accuracy`) on "
        f"{platform.machine()} {platform.system()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, scikit-image {skimage.__version__}, "
        f"numba {numba.__version__}, bgsub {bgsub.__version__}; {ij}.\n\n"
        "Each cell: background RMSE (grey levels) / error of the objects' integrated intensity "
        "(%) (radius). Peers and bgsub's other methods: their best radius among "
        f"{', '.join(f'{f:g}' for f in RADIUS_FACTORS)} x the largest object radius, chosen "
        "with the ground truth; the recommended setting "
        "(`bgsub.estimate_background(image, radius=\"auto\")`) gets no truth and no sweep. "
        "The last column is the recommended RMSE over the best peer's (target: at most 0.5)."
    )


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), flags=re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    DOC.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", doc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three small cases; write nothing")
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.name}")
    parser.add_argument("--no-imagej", action="store_true", help="skip ImageJ")
    args = parser.parse_args(argv)
    selected = [c for c in cases() if (not args.quick or c.quick)
                and (not args.case or c.name in args.case)]
    if not selected:
        parser.error(f"no case matches; cases: {', '.join(c.name for c in cases())}")
    imagej = _imagej_runner.available() and not args.no_imagej
    methods = {**PEERS, **bgsub_methods()}
    results = {}
    for case in selected:
        start = time.perf_counter()
        results[case.name] = run_case(case, methods, imagej)
        print(f"{case.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    text = header(imagej) + "\n\n" + table(selected, results)
    print(text)
    if not (args.quick or args.no_write or args.case):
        write_doc(text)
        print(f"\nwrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
