"""Benchmark the ball, paraboloid and Gaussian kernels against their peers.

Prints two tables (times in seconds; ratio = peer / ours, wall; the maximum
absolute difference to the peer):

* the rolling ball: ``ball_erosion`` (on the image as float32, the work dtype
  bgsub uses for uint16; the conversion is timed) vs
  ``skimage.restoration.rolling_ball`` on a generated 2048 x 2048 uint16 image
  (smooth background, spots, Poisson noise; seeded) for r = 10, 25, 50, 100,
  200, both in one process with all cores (skimage uses OpenMP threads).
  skimage runs on the full image up to r = 50; it is O(r^2) per pixel, so for
  r = 100 and 200 it runs on a 512 x 512 crop, its time is scaled by the pixel
  count (x16) and the difference is measured on that crop (the table says so).
  skimage is given the image as float64: that is what it converts uint16 to
  (its uint16 output would be truncated to integers).  "cold" is our first
  call in a fresh process (the kernels are compiled when the package is built,
  so nothing is compiled at run time);
* ``paraboloid_erosion`` vs ``scipy.ndimage.grey_erosion`` with the paraboloid
  structure truncated where ``c * d^2`` exceeds the image's range (that
  truncation is exact); the peer runs on a crop and is scaled the same way.
* ``gaussian_filter`` vs ``scipy.ndimage.gaussian_filter`` on the full image.

The first-call cost is measured separately in a fresh process: the first calls
(import included) against the same calls repeated in that process.

Run: ``PYTHONPATH=src python benchmarks/bench_kernels_ball.py [--quick] [--ball-only]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

SIZE = 2048
CROP = 512
BALL_RADII = (10, 25, 50, 100, 200)
#: skimage runs on the full image up to this radius, on a crop above it.
BALL_FULL_PEER_MAX = 50


def microscopy_uint16(size: int, seed: int = 0) -> np.ndarray:
    """Smooth uneven background + spots + Poisson noise, uint16, values ~200-3000."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    background = 800 + 600 * np.sin(3 * xx + 1) * np.cos(2 * yy) + 400 * xx * yy
    n_spots = size * size // 2000
    cy, cx = rng.integers(0, size, (2, n_spots))
    spots = np.zeros((size, size))
    spots[cy, cx] = rng.uniform(200, 1000, n_spots)
    expected = background + ndi.gaussian_filter(spots, 2.0) * 25
    return rng.poisson(expected).astype(np.uint16)


def microscopy_like(size: int, seed: int = 0) -> np.ndarray:
    """Smooth uneven background + bright blobs + noise, float32, values ~100-1500."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    img = 400 + 300 * np.sin(3 * xx + 1) * np.cos(2 * yy) + 200 * xx * yy
    n_spots = size * size // 2000
    cy, cx = rng.integers(0, size, (2, n_spots))
    spots = np.zeros((size, size))
    spots[cy, cx] = rng.uniform(200, 1000, n_spots)
    from scipy import ndimage as ndi

    img += ndi.gaussian_filter(spots, 2.0) * 25
    img += rng.normal(0, 15, (size, size))
    return img.astype(np.float32)


def best_time(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, float, np.ndarray]:
    """Best wall time, the CPU time (all threads) of that call, and the last result."""
    best = (np.inf, np.inf)
    out = None
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best[0], best[1], out


def row(kernel, size, param, ours, peer, diff, note=""):
    """Print one table row; ``ours``/``peer`` are (wall, cpu) seconds."""
    has_peer = np.isfinite(peer[0])
    ratio = f"{peer[0] / ours[0]:7.1f}x" if has_peer else "       -"
    peer_s = f"{peer[0]:9.3f} {peer[1]:9.3f}" if has_peer else f"{'-':>9} {'-':>9}"
    diff_s = f"{diff:9.2e}" if np.isfinite(diff) else f"{'-':>9}"
    print(
        f"{kernel:<15} {size:<7} {param:<10} {ours[0]:9.3f} {ours[1]:9.3f} {peer_s} "
        f"{ratio} {diff_s}  {note}"
    )


NO_PEER = (np.inf, np.inf)


COLD_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
from bgsub.kernels.ball import ball_erosion, ball_opening
from bgsub.kernels.parabola import paraboloid_erosion
x = np.random.default_rng(0).random((64, 64)).astype(np.float32)
def calls():
    ball_erosion(x, 5.0); ball_erosion(x.astype(np.float64), 5.0); ball_opening(x, 5.0)
    paraboloid_erosion(x, 1.0)
calls()
t1 = time.perf_counter()
calls()
print(t1 - t0, time.perf_counter() - t1)
"""


def first_call_times() -> tuple[float, float]:
    """(first, second) seconds of the same calls in a new process (the first with the import)."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    run = [sys.executable, "-c", COLD_SNIPPET]
    out = subprocess.run(run, env=env, capture_output=True, check=True).stdout
    first, second = (float(v) for v in out.split())
    return first, second


BALL_COLD_SNIPPET = """
import sys, time, numpy as np
image = np.load(sys.argv[1])
from bgsub.kernels.ball import ball_erosion
c0 = time.process_time(); t0 = time.perf_counter()
ball_erosion(image.astype(np.float32), float(sys.argv[2]))
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def ball_cold_times(image: np.ndarray) -> dict[int, tuple[float, float]]:
    """(wall, cpu) of the first ``ball_erosion`` call per radius, each in a fresh process."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "image.npy")
        np.save(path, image)
        run = [sys.executable, "-c", BALL_COLD_SNIPPET, path]
        for r in BALL_RADII:
            out = subprocess.run([*run, str(r)], env=env, capture_output=True, check=True)
            wall, cpu = (float(v) for v in out.stdout.split())
            times[r] = (wall, cpu)
    return times


def bench_ball(quick: bool) -> None:
    from skimage.restoration import rolling_ball

    from bgsub.kernels.ball import ball_erosion

    image = microscopy_uint16(SIZE)
    cold = ball_cold_times(image)
    ball_erosion(np.zeros((32, 32), np.float32), 3.0)  # load outside the timings
    print(
        f"rolling ball, {SIZE}x{SIZE} uint16 (values {image.min()}-{image.max()}), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'r':>4} {'wall':>8} {'cpu':>8} {'cold':>8} {'cold cpu':>8} {'skimage':>9} "
        f"{'sk cpu':>9} {'ratio':>8} {'max|diff|':>9}  note"
    )
    crop = np.ascontiguousarray(image[:CROP, :CROP])
    for r in BALL_RADII:
        *ours, result = best_time(
            lambda r=r: ball_erosion(image.astype(np.float32), float(r)), 1 if quick else 3
        )
        if r <= BALL_FULL_PEER_MAX:
            *peer, ref = best_time(lambda r=r: rolling_ball(image.astype(np.float64), radius=r), 1)
            note = "skimage on the full image"
        else:
            *peer, ref = best_time(lambda r=r: rolling_ball(crop.astype(np.float64), radius=r), 1)
            scale = image.size / crop.size
            peer = [peer[0] * scale, peer[1] * scale]
            result = ball_erosion(crop.astype(np.float32), float(r))
            note = f"skimage on a {CROP}x{CROP} crop, time x{scale:.0f}; diff on the crop"
        diff = float(np.abs(result.astype(np.float64) - ref).max())
        print(
            f"{r:>4} {ours[0]:8.3f} {ours[1]:8.3f} {cold[r][0]:8.3f} {cold[r][1]:8.3f} "
            f"{peer[0]:9.2f} {peer[1]:9.2f} {peer[0] / ours[0]:7.0f}x {diff:9.1e}  {note}",
            flush=True,
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}\n")


def bench_parabola(img, crop, quick):
    from scipy import ndimage as ndi

    from bgsub.kernels.parabola import paraboloid_erosion

    paraboloid_erosion(img[:32, :32], 1.0)
    value_range = float(crop.max() - crop.min())
    scale = img.size / crop.size
    *ours, _ = best_time(lambda: paraboloid_erosion(img, 0.01), 1 if quick else 3)
    row("paraboloid_ero", f"{SIZE}^2", "c=0.01", ours, NO_PEER, np.inf, "no peer run")
    for c in (1.0, 10.0, 100.0):
        *ours, _ = best_time(lambda c=c: paraboloid_erosion(img, c), 1 if quick else 3)
        half = int(np.sqrt(value_range / c)) + 1
        d = np.arange(-half, half + 1)
        structure = -c * (d[:, None] ** 2 + d[None, :] ** 2)
        *peer, ref = best_time(
            lambda s=structure: ndi.grey_erosion(
                crop.astype(np.float64), structure=s, mode="constant", cval=np.inf
            ),
            1,
        )
        diff = float(np.abs(paraboloid_erosion(crop, c).astype(np.float64) - ref).max())
        row(
            "paraboloid_ero",
            f"{SIZE}^2",
            f"c={c}",
            ours,
            (peer[0] * scale, peer[1] * scale),
            diff,
            f"scipy grey_erosion r={half} on {CROP}^2 crop x{scale:.0f}",
        )


def bench_gaussian(img, quick):
    from scipy import ndimage as ndi

    from bgsub.kernels.gaussian import gaussian_filter

    for sigma in (5.0, 50.0, 100.0, 200.0):
        *ours, out = best_time(lambda s=sigma: gaussian_filter(img, s), 1 if quick else 2)
        *peer, ref = best_time(lambda s=sigma: ndi.gaussian_filter(img, s), 1)
        diff = float(np.abs(out.astype(np.float64) - ref.astype(np.float64)).max())
        row("gaussian_filter", f"{SIZE}^2", f"sigma={sigma:g}", ours, peer, diff, "scipy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per timing")
    parser.add_argument("--ball-only", action="store_true", help="only the rolling-ball table")
    args = parser.parse_args()

    from bgsub.kernels.threads import num_threads

    print(
        f"kernel threads: {num_threads()}, os.cpu_count(): {os.cpu_count()}, "
        f"load average: {os.getloadavg()[0]:.1f}"
    )
    first, again = first_call_times()
    print(
        f"first calls in a fresh process (ball f32/f64/opening + paraboloid): "
        f"{first:.2f} s with the import, {again:.3f} s when repeated"
    )
    print("times in seconds: wall (best of repeats) and CPU (all threads); ratio = peer/ours wall")
    bench_ball(args.quick)
    if args.ball_only:
        return
    img = microscopy_like(SIZE)
    crop = np.ascontiguousarray(img[:CROP, :CROP])
    print(
        f"{'kernel':<15} {'size':<7} {'param':<10} {'ours':>9} {'ours cpu':>9} {'peer':>9} "
        f"{'peer cpu':>9} {'ratio':>8} {'max|diff|':>9}  note"
    )
    bench_parabola(img, crop, args.quick)
    bench_gaussian(img, args.quick)


if __name__ == "__main__":
    main()
