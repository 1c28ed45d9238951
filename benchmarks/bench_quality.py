"""How well ``bgsub.auto.quality`` ranks backgrounds without ground truth.

For each image, a sweep of backgrounds (methods x radii, as ``bgsub sweep``
compares them) is scored by ``quality`` and by its true error, and the script
reports Spearman's rank correlation between the two (pooled, and per family)
and, per image, whether the best-scored setting's true error is within 1.5x of
the truly best one.

Sets of images:

* ``benchmark`` -- the generated cases of ``benchmarks/accuracy.py`` (seed 7),
  ``robust`` at 1, 1.5, 2, 3, 4, 6 x the object radius: what ``make
  bench-accuracy`` reports;
* ``seeds`` -- the same families at other seeds (11, 23);
* ``variants`` -- families at parameters the benchmark does not use;
* ``methods`` -- the benchmark's cases and seeds, sweeping ``robust``,
  ``rolling_ball``, ``tophat`` and ``median`` together;
* ``real`` -- real images with an added known smooth field, as
  ``benchmarks/_real.py`` scores them: the error is that of the recovered field,
  ``estimate(real + field) - estimate(real)`` against ``field``, over the
  noise sd; the score is ``quality(real + field, estimate(real + field))``.
  As in ``accuracy.py``, radii start at twice the measured object radius: a
  smaller one follows the objects and "recovers" any field, an error this
  measure cannot see (and ``quality`` does).

Errors are RMS in noise sds (generated: against the true background). The
object radius given to ``quality`` is the true one for generated images and
the measured one (``suggest_radius``) for real ones.

Usage::

    PYTHONPATH=src python benchmarks/bench_quality.py            # every set (~6 min)
    PYTHONPATH=src python benchmarks/bench_quality.py --quick    # the benchmark set (~40 s)
    PYTHONPATH=src python benchmarks/bench_quality.py --set benchmark --set real
    PYTHONPATH=src python benchmarks/bench_quality.py --detail   # every setting's numbers

Not part of the test suite; ``make bench`` runs it with the speed benchmarks.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

import bgsub
from bgsub.auto import quality, suggest_radius

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _families  # noqa: E402
import _real  # noqa: E402
import accuracy  # noqa: E402

FACTORS = accuracy.QUALITY_FACTORS  # x the object radius
METHODS = ("robust", "rolling_ball", "tophat", "median")
MEDIAN_MAX = 40  # bgsub's median beyond this radius is slow on the larger images
SEEDS = (11, 23)
WITHIN = 1.5


@dataclass
class Sweep:
    """One image's sweep: (method, radius, score, true error) per setting."""

    name: str
    family: str
    settings: list[tuple[str, float, float, float]] = field(default_factory=list)

    def chosen_over_best(self) -> float:
        scores = np.array([s[2] for s in self.settings])
        errors = np.array([s[3] for s in self.settings])
        return float(errors[int(np.argmax(scores))] / errors.min())

    def spearman(self) -> float:
        scores = np.array([s[2] for s in self.settings])
        errors = np.array([s[3] for s in self.settings])
        return float(spearmanr(-scores, errors).statistic)


def _estimate(image: np.ndarray, method: str, radius: float, light: bool) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        return np.asarray(bgsub.estimate_background(image, method, radius,
                                                    light_background=light), np.float64)


def _noise(truth: _families.Truth) -> float:
    sign = -1.0 if truth.light_background else 1.0
    residual = truth.image.astype(np.float64) - truth.background - sign * truth.objects
    return float(np.std(residual[~truth.mask]))


def generated(name: str, family: str, truth: _families.Truth,
              methods: tuple[str, ...]) -> Sweep:
    sweep = Sweep(name, family)
    noise = _noise(truth)
    light = truth.light_background
    for method in methods:
        for f in FACTORS:
            radius = f * truth.object_radius
            if method == "median" and radius > MEDIAN_MAX:
                continue
            background = _estimate(truth.image, method, radius, light)
            score = quality(truth.image, background, light_background=light,
                            object_radius=truth.object_radius)["score"]
            error = accuracy.rmse(background, truth.background) / noise
            sweep.settings.append((method, radius, score, error))
    return sweep


def _case_options(case: accuracy.Case, seed: int) -> dict:
    return {**case.options, "seed": seed}


def variants() -> list[tuple[str, dict]]:
    """Family members at parameters the benchmark does not use."""
    return [
        ("sparse r 3-5", dict(coverage=0.08, object_radius=(3, 5), seed=3)),
        ("crowded r 10-16", dict(coverage=0.5, object_radius=(10, 16), seed=4)),
        ("confluent r 4-7", dict(coverage=0.7, object_radius=(4, 7), seed=5)),
        ("textured dense", dict(coverage=0.55, object_radius=(10, 16), texture=3.0,
                                shape=(320, 320), seed=6)),
        ("halo strong", dict(halo=0.8, light_background=True, contrast=0.5, seed=8)),
        ("halo dark bg", dict(halo=0.5, contrast=0.6, seed=9)),
        ("dim contrast", dict(contrast=0.1, seed=10)),
        ("20 photons steep", dict(photons=20, read_noise=0, gradient=1.0, vignetting=0.6,
                                  seed=12)),
        ("flat field", dict(gradient=0.0, vignetting=0.0, seed=13)),
        ("uint8 light", dict(dtype=np.uint8, light_background=True, contrast=0.3,
                             coverage=0.25, seed=14)),
        ("large 40 %", dict(object_radius=(20, 30), coverage=0.4, shape=(384, 384), seed=15)),
        ("3D dense", dict(shape=(8, 128, 128), object_radius=(5, 8), coverage=0.45,
                          seed=16)),
    ]


def _field_error(recovered: np.ndarray, fld: np.ndarray) -> float:
    return float(np.sqrt(np.mean((recovered - fld) ** 2)))


def real(item: _real.RealImage, methods: tuple[str, ...]) -> Sweep:
    from bgsub.methods._noise import estimate_noise

    image = item.image.astype(np.float64)
    light = item.light_background
    low, high = np.percentile(image, [1, 99])
    fld = accuracy._field(image.shape, 0.5 * float(high - low))
    shaded = image + fld
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        objects = suggest_radius(image, light_background=light).object_radius
    objects = objects if np.isfinite(objects) else min(image.shape[-2:]) / 24
    plane = image if image.ndim == 2 else image[len(image) // 2]
    noise = float(np.median(estimate_noise(plane).sd(plane)))
    sweep = Sweep(item.name, "real")
    for method in methods:
        for f in accuracy.REAL_FACTORS:
            radius = f * objects
            if radius > min(image.shape[-2:]) / 2 or (method == "median"
                                                       and radius > MEDIAN_MAX):
                continue
            clean = _estimate(image, method, radius, light)
            with_field = _estimate(shaded, method, radius, light)
            score = quality(shaded, with_field, light_background=light,
                            object_radius=objects)["score"]
            error = _field_error(with_field - clean, fld) / noise
            sweep.settings.append((method, radius, score, error))
    return sweep


def sweeps(chosen: set[str]) -> Iterator[tuple[str, Sweep]]:
    cases = accuracy.cases()
    if "benchmark" in chosen:
        for case in cases:
            yield "benchmark", generated(case.name, case.name, case.make(), ("robust",))
    if "seeds" in chosen:
        for seed in SEEDS:
            for case in cases:
                truth = _families.generate(**_case_options(case, seed))
                yield "seeds", generated(f"{case.name} s{seed}", case.name, truth, ("robust",))
    if "variants" in chosen:
        for name, options in variants():
            yield "variants", generated(name, name, _families.generate(**options), ("robust",))
    if "methods" in chosen:
        for seed in (7, *SEEDS):
            for case in cases:
                truth = _families.generate(**_case_options(case, seed))
                yield "methods", generated(f"{case.name} s{seed}", case.name, truth, METHODS)
    if "real" in chosen:
        for item in _real.real_images():
            yield "real", real(item, ("robust",))
            yield "real methods", real(item, METHODS)


def report(results: dict[str, list[Sweep]], detail: bool) -> str:
    lines = []
    for set_name, found in results.items():
        pairs = np.array([(s[2], s[3]) for sw in found for s in sw.settings])
        rho = spearmanr(-pairs[:, 0], pairs[:, 1]).statistic
        ok = sum(sw.chosen_over_best() <= WITHIN for sw in found)
        lines.append(f"## {set_name}: Spearman pooled {rho:.3f}; best-scored within "
                     f"{WITHIN}x of the truly best in {ok} of {len(found)}")
        families: dict[str, list[Sweep]] = {}
        for sw in found:
            families.setdefault(sw.family, []).append(sw)
        for family, members in families.items():
            fam = np.array([(s[2], s[3]) for sw in members for s in sw.settings])
            rho = spearmanr(-fam[:, 0], fam[:, 1]).statistic
            misses = [f"{sw.name} {sw.chosen_over_best():.2f}x" for sw in members
                      if sw.chosen_over_best() > WITHIN]
            lines.append(f"  {family:<22} Spearman {rho:6.3f}  worst chosen/best "
                         f"{max(sw.chosen_over_best() for sw in members):5.2f}"
                         + (f"  MISS: {', '.join(misses)}" if misses else ""))
        if detail:
            for sw in found:
                lines.append(f"    {sw.name}: Spearman within {sw.spearman():5.2f}, chosen/best "
                             f"{sw.chosen_over_best():.2f}")
                for method, radius, score, error in sw.settings:
                    lines.append(f"      {method:<13} r={radius:6.1f} score {score:.3f} "
                                 f"(expected {1 / score - 1:7.2f}) error {error:7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    every = ["benchmark", "seeds", "variants", "methods", "real"]
    parser.add_argument("--set", action="append", choices=every, help="only this set")
    parser.add_argument("--detail", action="store_true", help="every setting's numbers")
    parser.add_argument("--quick", action="store_true",
                        help="the benchmark set only (as make bench BENCH_ARGS=--quick passes)")
    args = parser.parse_args(argv)
    chosen = set(args.set or (["benchmark"] if args.quick else every))
    results: dict[str, list[Sweep]] = {}
    start = time.perf_counter()
    for set_name, sweep in sweeps(chosen):
        if len(sweep.settings) > 1:  # a real image too small for two radii ranks nothing
            results.setdefault(set_name, []).append(sweep)
    print(report(results, args.detail))
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
