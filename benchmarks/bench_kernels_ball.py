"""Benchmark the ball, paraboloid and Gaussian kernels against their peers.

Prints one table: kernel, size, parameter, our time, peer time, ratio
(peer / ours) and the maximum absolute difference to the peer.

* ``ball_erosion`` vs ``skimage.restoration.rolling_ball`` on a 2048 x 2048
  float32 image.  skimage is O(r^2) per pixel, so it is timed on a 512 x 512
  crop and its time scaled by the pixel count (x16); the difference is measured
  on that crop.  Our time is also shown for r = 100 and 200 (no peer run) to
  show the linear growth with r.
* ``paraboloid_erosion`` vs ``scipy.ndimage.grey_erosion`` with the paraboloid
  structure truncated where ``c * d^2`` exceeds the image's range (that
  truncation is exact); the peer runs on a crop and is scaled the same way.
* ``gaussian_filter`` vs ``scipy.ndimage.gaussian_filter`` on the full image.

The first-call (compile) cost is measured separately in fresh processes: with
an empty numba cache (cold compile) and with the cache filled (cache load).

Run: ``PYTHONPATH=src python benchmarks/bench_kernels_ball.py [--quick]``.
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
import time, numpy as np
t0 = time.perf_counter()
from bgsub.kernels.ball import ball_erosion, ball_opening
from bgsub.kernels.parabola import paraboloid_erosion
x = np.random.default_rng(0).random((64, 64)).astype(np.float32)
ball_erosion(x, 5.0); ball_erosion(x.astype(np.float64), 5.0); ball_opening(x, 5.0)
paraboloid_erosion(x, 1.0)
print(time.perf_counter() - t0)
"""


def first_call_times() -> tuple[float, float]:
    """(cold compile, warm-cache load) seconds for the first calls in a new process."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        run = [sys.executable, "-c", COLD_SNIPPET]
        cold = float(subprocess.run(run, env=env, capture_output=True, check=True).stdout)
        warm = float(subprocess.run(run, env=env, capture_output=True, check=True).stdout)
    return cold, warm


def bench_ball(img, crop, quick):
    from skimage.restoration import rolling_ball

    from bgsub.kernels.ball import ball_erosion

    ball_erosion(img[:32, :32], 3.0)  # compile / load outside the timings
    scale = img.size / crop.size
    for r in (10, 25, 50):
        *ours, _ = best_time(lambda r=r: ball_erosion(img, float(r)), 1 if quick else 2)
        ours_crop = ball_erosion(crop, float(r))
        *peer, ref = best_time(lambda r=r: rolling_ball(crop.astype(np.float64), radius=r), 1)
        diff = float(np.abs(ours_crop.astype(np.float64) - ref).max())
        peer = (peer[0] * scale, peer[1] * scale)
        note = f"skimage on {CROP}^2 crop x{scale:.0f}"
        row("ball_erosion", f"{SIZE}^2", f"r={r}", ours, peer, diff, note)
    for r in (100, 200):
        *ours, _ = best_time(lambda r=r: ball_erosion(img, float(r)), 1)
        row("ball_erosion", f"{SIZE}^2", f"r={r}", ours, NO_PEER, np.inf, "no peer run")


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
    args = parser.parse_args()

    import numba

    print(
        f"numba threads: {numba.get_num_threads()}, os.cpu_count(): {os.cpu_count()}, "
        f"load average: {os.getloadavg()[0]:.1f}"
    )
    cold, warm = first_call_times()
    print(
        f"first calls in a fresh process (ball f32/f64/opening + paraboloid): "
        f"cold compile {cold:.1f} s, with numba cache {warm:.2f} s"
    )
    img = microscopy_like(SIZE)
    crop = np.ascontiguousarray(img[:CROP, :CROP])
    print("times in seconds: wall (best of repeats) and CPU (all threads); ratio = peer/ours wall")
    print(
        f"{'kernel':<15} {'size':<7} {'param':<10} {'ours':>9} {'ours cpu':>9} {'peer':>9} "
        f"{'peer cpu':>9} {'ratio':>8} {'max|diff|':>9}  note"
    )
    bench_ball(img, crop, args.quick)
    bench_parabola(img, crop, args.quick)
    bench_gaussian(img, args.quick)


if __name__ == "__main__":
    main()
