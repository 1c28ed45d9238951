"""The recommended default against the exact rolling ball: time and peak memory, one process.

On a generated 2048x2048 uint16 image (nuclei r 5-20 on a vignetted background):
``bgsub.subtract_background(image, radius="auto")`` (the noise-aware ``robust``
method, its radius measured by ``suggest_radius``), ``robust`` at a fixed radius
and ``suggest_radius`` alone, each against ``method="rolling_ball"`` (exact) at
r=50 in the same process, best of ``--repeat`` runs after a warm-up (the calls in turn,
round after round, so that a drifting load weighs on each alike). Peak memory
is Python's traced allocations (NumPy's buffers) during one call, in units of
one float32 copy of the image. Targets (issue #13): at most 5x the rolling ball,
at most 6 image-sized float32 buffers.

``--small``: spots of radius 2-3 instead (5 % of the field), whose suggested radius, 16 px,
falls where ``robust`` estimates at full resolution (radii under 24 px: 12 cells a radius):
the default's slowest range, far from the target (see docs/accuracy.md, Session 18).

Usage: ``python benchmarks/bench_default.py [--quick] [--repeat N] [--small]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np

import bgsub
from bgsub.auto import suggest_radius
from bgsub.data import synthetic


def best_times(calls: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best of ``repeat`` runs of each call, the calls taken in turn (round after round), so
    that a machine whose load drifts weighs on each of them alike."""
    times = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, fn in enumerate(calls):
            start = time.perf_counter()
            fn()
            times[i] = min(times[i], time.perf_counter() - start)
    return times


def peak_buffers(fn: Callable[[], object], image: np.ndarray) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / (image.size * 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024x1024, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="spots r 2-3 (radius 16 px)")
    args = parser.parse_args(argv)
    side = 1024 if args.quick else 2048
    repeat = 1 if args.quick else args.repeat
    image = (synthetic((side, side), object_radius=(2.0, 3.0), density=0.05,
                       object_brightness=300.0, seed=0) if args.small
             else synthetic((side, side), object_radius=(5, 20), seed=1)).image
    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    calls = {
        "rolling_ball r=50 (exact)": lambda: bgsub.subtract_background(image, "rolling_ball",
                                                                       50),
        'default, radius="auto"': lambda: bgsub.subtract_background(image, radius="auto"),
        "default (robust) r=50": lambda: bgsub.subtract_background(image, radius=50),
        "suggest_radius alone": lambda: suggest_radius(image),
    }
    bgsub.subtract_background(image[:256, :256], "rolling_ball", 50)  # warm-up: lazy imports
    bgsub.subtract_background(image[:256, :256], radius="auto")
    seconds = best_times(list(calls.values()), repeat)
    rows = [(name, t, peak_buffers(fn, image))
            for (name, fn), t in zip(calls.items(), seconds, strict=True)]
    reference = rows[0][1]
    print(f"{side}x{side} uint16, best of {repeat}\n")
    print("| call | time (s) | x rolling ball | peak memory (float32 images) |")
    print("|---|---|---|---|")
    for name, seconds, buffers in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / reference:.2f} | {buffers:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
