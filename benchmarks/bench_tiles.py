"""Whole planes against tiles: what napari's *Apply* pays for a *Cancel* seen within a second.

napari's *Apply* (``bgsub.napari._compute.subtract_in_blocks``) runs the engine's block loop,
``bgsub.engine.subtract_steps``, with ``split=bgsub.engine.SPLIT_PIXELS``: a plane larger
than that is computed in tiles, each on a window enlarged by the method's halo, the same
pixels as the whole plane (tested bit for bit), in steps short enough that *Cancel* is seen
between them. This times one generated uint16 plane (4096x4096; ``--quick``: 2048x2048)
whole and in tiles for each method whose halo lets it be cut, best of ``--repeat``, in the
same process, and the longest step in tiles (the wait for *Cancel*). ``robust`` (the
default) and ``imagej`` look at the whole plane and are not cut (they check *Cancel*
between their stages instead; see docs/napari.md).

Usage: ``python benchmarks/bench_tiles.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bgsub import engine
from bgsub.data import synthetic

#: (method, radius) as docs/napari.md's table lists them.
CASES = (("median", 50.0), ("mean", 50.0), ("tophat", 50.0), ("gaussian", 50.0),
         ("paraboloid", 50.0), ("rolling_ball", 100.0))


def timed_steps(plan: engine.Plan, image: np.ndarray, split: int | None
                ) -> tuple[float, float, int]:
    """The whole call's time, its longest step (block or tile) and how many steps."""
    steps = engine.subtract_steps(plan, image, image.dtype, split=split)
    start = last = time.perf_counter()
    longest, count = 0.0, 0
    try:
        while True:
            next(steps)
            now = time.perf_counter()
            if count:  # (the first yield comes before any work)
                longest = max(longest, now - last)
            count += 1
            last = now
    except StopIteration:
        pass
    longest = max(longest, time.perf_counter() - last)
    return time.perf_counter() - start, longest, count - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048x2048, one repeat")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    side = 2048 if args.quick else 4096
    repeat = 1 if args.quick else args.repeat
    image = synthetic((side, side), object_radius=(5, 20), seed=1).image
    print(f"{side}x{side} uint16, tiles of about {engine.SPLIT_PIXELS} pixels, best of "
          f"{repeat}\n")
    print("| method | whole plane (s) | in tiles (s) | tiles / whole | tiles | longest tile (s) |")
    print("|---|---|---|---|---|---|")
    for method, radius in CASES:
        plan = engine.plan(image, method, radius)
        if not plan.splits_exactly:
            continue
        timed_steps(plan, image[:256, :256], None)  # warm-up: lazy imports
        whole = min(timed_steps(plan, image, None)[0] for _ in range(repeat))
        tiled = [timed_steps(plan, image, engine.SPLIT_PIXELS) for _ in range(repeat)]
        best = min(tiled)
        print(f"| `{method}` r={radius:g} | {whole:.2f} | {best[0]:.2f} | {best[0] / whole:.2f} "
              f"| {best[2]} | {best[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
