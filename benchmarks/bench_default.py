"""The recommended default against the exact rolling ball: time and peak memory, one process.

On a generated 2048x2048 uint16 image (nuclei r 5-20 on a vignetted background):
``bgsub.subtract_background(image, radius="auto")`` (the noise-aware ``robust``
method, its radius measured by ``suggest_radius``), ``robust`` at a fixed radius
and ``suggest_radius`` alone, each against ``method="rolling_ball"`` (exact) at
r=50 in the same process, best of ``--repeat`` runs after a warm-up (the calls in turn,
round after round, so that a drifting load weighs on each alike). Peak memory
is Python's traced allocations (NumPy's buffers) during a call, the highest of three, in
units of one float32 copy of the image. Targets (issue #13): at most 5x the rolling ball,
at most 6 image-sized float32 buffers. The ball also runs at the automatic radius (the
last row, and a line under the table): the issue names no radius for it, Fiji's 50 px is
the reference, and the ball's own time depends on the radius (ImageJ's shrinking: 0.04 s
at 50 px, 0.07 s at 16 px on 2048x2048).

``--small``: spots of radius 2-3 instead (5 % of the field), whose suggested radius, 16 px,
falls where ``robust`` estimates on blocks of 2 pixels classified pixel by pixel (16-24 px:
8-12 cells a radius; single pixels before Session 23): the automatic radius's slowest range,
far from the target (see docs/accuracy.md, Sessions 18, 23 and 24).

A second table (alone with ``--sizes``; not with ``--small``): the default (automatic radius
included) against the ball on fields of objects of several sizes, one row each: where the
automatic radius falls between two block sizes (``bgsub.methods.robust.blocks_used``: half of
the radii up to 50 px, more beyond, nearly all from 96 px) two estimates are blended, and the
time doubles.

A third table (alone with ``--stack``; not with ``--small``): the same on stacks of 8 planes
(nuclei r 5-20, objects r 5-8, spots r 2-3), the radius measured once on the stack and the
planes run side by side (``bgsub.engine``), in milliseconds a plane against the ball's on the
same stack. At 1024x1024 (``--quick``) measuring the radius on 8 planes weighs most.

A fourth table (alone with ``--small-images``): the default against the ball on planes of
256-1024 px a side (time, peak memory) and on stacks of 20 frames of up to 512x512 (ms a
frame, the radius measured once on the stack): where the fixed parts of the default's work
outweigh the image.

Usage: ``python benchmarks/bench_default.py [--quick] [--repeat N] [--small | --sizes | --stack
| --small-images]``.
"""

from __future__ import annotations

import argparse
import functools
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


#: Calls whose peak memory is taken: the highest (threads that overlap by chance move a peak
#: by about 0.2 image-sized buffers from one call to the next).
PEAK_CALLS = 3


def peak_buffers(fn: Callable[[], object], image: np.ndarray) -> float:
    """The highest traced peak of :data:`PEAK_CALLS` calls of ``fn``, in float32 copies of
    ``image``."""
    peaks = []
    for _ in range(PEAK_CALLS):
        tracemalloc.start()
        tracemalloc.reset_peak()
        fn()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return max(peaks) / (image.size * 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024x1024, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="spots r 2-3 (radius 16 px)")
    parser.add_argument("--sizes", action="store_true",
                        help="the default on objects of several sizes, a row each")
    parser.add_argument("--stack", action="store_true",
                        help="the default on 8-plane stacks, in ms a plane")
    parser.add_argument("--small-images", action="store_true",
                        help="the default on planes of 256-1024 px and stacks of small frames")
    args = parser.parse_args(argv)
    side = 1024 if args.quick else 2048
    repeat = 1 if args.quick else args.repeat
    if args.sizes:
        return by_object_size(side, repeat)
    if args.stack:
        return on_stacks(side, repeat)
    if args.small_images:
        return on_small_images(repeat)
    image = (synthetic((side, side), object_radius=(2.0, 3.0), density=0.05,
                       object_brightness=300.0, seed=0) if args.small
             else synthetic((side, side), object_radius=(5, 20), seed=1)).image
    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    automatic = suggest_radius(image).radius
    calls = {
        "rolling_ball r=50 (exact)": lambda: bgsub.subtract_background(image, "rolling_ball",
                                                                       50),
        'default, radius="auto"': lambda: bgsub.subtract_background(image, radius="auto"),
        "default (robust) r=50": lambda: bgsub.subtract_background(image, radius=50),
        "suggest_radius alone": lambda: suggest_radius(image),
        f"rolling_ball r={automatic:.3g} (exact, the automatic radius)":
            lambda: bgsub.subtract_background(image, "rolling_ball", automatic),
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
    print(f"\nthe default against the ball at the same radius ({automatic:.3g} px): "
          f"{rows[1][1] / rows[-1][1]:.2f}x")
    if not args.small:
        print()
        by_object_size(side, repeat)
        print()
        return on_stacks(side, repeat)
    return 0


#: Object radius ranges of ``--sizes`` (the generator's nuclei, 12 % of the field).
SIZES = ((3, 5), (5, 8), (8, 12), (12, 20), (5, 20))


def by_object_size(side: int, repeat: int) -> int:
    """``--sizes``: one row per object size: the automatic radius, the block sizes it uses
    (two where it is blended), the default's time against the exact ball's, its peak."""
    from bgsub.methods.robust import blocks_used

    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    print(f"{side}x{side} uint16, best of {repeat}\n")
    print("| objects r (px) | auto radius | blocks | default (s) | ball r=50 (s) "
          "| x ball | ball at the auto radius (s) | x that ball | peak (float32 images) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        image = synthetic((side, side), object_radius=size, seed=1).image
        bgsub.subtract_background(image[:256, :256], radius="auto")  # warm-up
        radius = suggest_radius(image).radius
        low, high, share = blocks_used(radius)
        blocks = (f"{low[0]} + {high[0]}" if 0.0 < share < 1.0
                  else str(low[0] if share <= 0.0 else high[0]))
        ball_call = functools.partial(bgsub.subtract_background, image, "rolling_ball", 50)
        default_call = functools.partial(bgsub.subtract_background, image, radius="auto")
        same_call = functools.partial(bgsub.subtract_background, image, "rolling_ball", radius)
        ball, default, same = best_times([ball_call, default_call, same_call], repeat)
        peak = peak_buffers(default_call, image)
        print(f"| {size[0]}-{size[1]} | {radius:.1f} | {blocks} | {default:.3f} | {ball:.3f} "
              f"| {default / ball:.1f} | {same:.3f} | {default / same:.1f} | {peak:.1f} |")
    return 0


#: ``--stack``: (label, object radii, generator keywords) of each 8-plane stack.
STACKS = (("nuclei r 5-20", (5, 20), {}), ("objects r 5-8", (5, 8), {}),
          ("spots r 2-3", (2.0, 3.0), {"density": 0.05, "object_brightness": 300.0}))
STACK_PLANES = 8


def on_stacks(side: int, repeat: int) -> int:
    """``--stack``: the default and the ball on 8-plane stacks, in ms a plane."""
    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    print(f"{STACK_PLANES} x {side}x{side} uint16, best of {repeat}\n")
    print("| stack | auto radius | default (ms a plane) | ball r=50 (ms a plane) | x ball |")
    print("|---|---|---|---|---|")
    for label, size, keywords in STACKS:
        stack = np.stack([synthetic((side, side), object_radius=size, seed=seed,
                                    **keywords).image for seed in range(STACK_PLANES)])
        radius = suggest_radius(stack, "TYX").radius
        default_call = functools.partial(bgsub.subtract_background, stack, radius="auto",
                                         axes="TYX")
        ball_call = functools.partial(bgsub.subtract_background, stack, "rolling_ball", 50,
                                      axes="TYX")
        default_call()  # (warm-up)
        default, ball = best_times([default_call, ball_call], repeat)
        print(f"| {label} | {radius:.1f} | {1000 * default / STACK_PLANES:.0f} "
              f"| {1000 * ball / STACK_PLANES:.0f} | {default / ball:.1f} |")
    return 0


#: ``--small-images``: the plane sizes (objects r 3-8, the generator's nuclei).
SMALL_SIDES = (256, 384, 512, 640, 1024)
#: ... and the frames of the time-lapse timed a frame at a time
SMALL_FRAMES = 20


def on_small_images(repeat: int) -> int:
    """``--small-images``: the default (automatic radius included) against the ball on
    planes under 2048x2048, time and peak memory, and a stack of small frames in ms a frame.
    Below about 700x700 the fixed parts (the radius's measuring grid of up to 512x512 cells,
    two noise models, the trend's 128x128 cells) outweigh the image."""
    warnings.simplefilter("ignore", bgsub.BackgroundWarning)
    print(f"objects r 3-8, uint16, best of {repeat}\n")
    print("| plane | default (s) | ball r=50 (s) | x ball | peak (float32 images) | "
          f"{SMALL_FRAMES} frames: default (ms a frame) | ball (ms a frame) | x ball |")
    print("|---|---|---|---|---|---|---|---|")
    for side in SMALL_SIDES:
        image = synthetic((side, side), object_radius=(3, 8), seed=1).image
        frames = np.stack([synthetic((side, side), object_radius=(3, 8), seed=seed).image
                           for seed in range(SMALL_FRAMES)]) if side <= 512 else None
        calls = [functools.partial(bgsub.subtract_background, image, radius="auto"),
                 functools.partial(bgsub.subtract_background, image, "rolling_ball", 50)]
        if frames is not None:
            calls += [functools.partial(bgsub.subtract_background, frames, radius="auto",
                                        axes="TYX"),
                      functools.partial(bgsub.subtract_background, frames, "rolling_ball", 50,
                                        axes="TYX")]
        for call in calls:  # (warm-up)
            call()
        times = best_times(calls, repeat)
        peak = peak_buffers(calls[0], image)
        row = (f"| {side}x{side} | {times[0]:.3f} | {times[1]:.3f} | {times[0] / times[1]:.1f} "
               f"| {peak:.1f} |")
        if frames is None:
            row += " - | - | - |"
        else:
            row += (f" {1000 * times[2] / SMALL_FRAMES:.0f} | {1000 * times[3] / SMALL_FRAMES:.1f}"
                    f" | {times[2] / times[3]:.1f} |")
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
