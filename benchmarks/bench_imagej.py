"""Rolling ball and sliding paraboloid: bgsub against ImageJ 1.x itself, run headless.

One 2048 x 2048 16-bit image (the float image of ``bench_kernels_ball.py`` -- smooth
uneven background, blurred spots, noise; seeded -- rounded to uint16) goes to

* **ImageJ 1.x**: a small Java program (compiled against ``ij.jar``) calls
  ``BackgroundSubtracter.rollingBallBackground(ip, r, createBackground=true,
  lightBackground=false, useParaboloid, doPresmooth=true, correctCorners=true)`` --
  ImageJ's defaults -- on a fresh ``ShortProcessor`` copy: warm-up calls first (JIT),
  then the best of a few timed calls, all in one JVM, so JVM start-up is excluded like
  bgsub's warm timings. ImageJ runs single-threaded.
* **bgsub exact**: ``estimate_background(img, "rolling_ball", r, envelope=True,
  presmooth="mean")`` -- ImageJ's definition (3x3 mean, then the opening by the ball)
  computed exactly, without shrinking; ``"paraboloid"`` with ``presmooth="mean"`` for the
  paraboloid rows.
* **bgsub apex**: the default ``estimate_background(img, "rolling_ball", r)`` (the ball's
  apex height, skimage's definition, no presmoothing): timed for reference.
* **bgsub port**: ``subtract_background(img, "imagej", r, create_background=True)``, the
  pixel-for-pixel re-implementation of ImageJ (``bgsub.methods.imagej``), warm; and **port
  cold**: its first call in a new Python process (``import bgsub`` not timed). The kernels are
  compiled when the package is built, so cold and warm should differ by milliseconds.

bgsub uses :func:`bgsub.kernels.threads.max_threads` threads (``BGSUB_NUM_THREADS``).
Printed as a markdown table: times (best wall, and the CPU time of that call), the
ratio ImageJ / bgsub exact (wall), and max |difference| of ImageJ's background to the
exact one (ImageJ shrinks the image for r > 10 and interpolates back: approximate) and to
the port (0 = identical).

Needs ``java``, ``javac`` and ``/usr/share/java/ij.jar`` (``tools/system-deps.sh
imagej``); without them it prints why and exits successfully.

Usage::

    PYTHONPATH=src python benchmarks/bench_imagej.py [--quick] [--radii 50,150,200]
        [--paraboloid-radii 10,50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _imagej_runner  # noqa: E402  (sibling helper)
from bench_kernels_ball import best_time, microscopy_like  # noqa: E402

SIZE = 2048
BALL_RADII = (10, 20, 30, 50, 100, 150, 200)
PARABOLOID_RADII = (10, 50, 200)

_JAVA_CLASS = "TimeBackground"
_JAVA_SOURCE = r"""
import ij.IJ;
import ij.plugin.filter.BackgroundSubtracter;
import ij.process.ShortProcessor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

public class TimeBackground {
    // args: width height input.raw warmup repeats outdir job...  (job: "ball:10", "paraboloid:50")
    // prints "job wall_ms cpu_ms" per job (best timed call) and writes outdir/<job>.raw (uint16 LE)
    public static void main(String[] args) throws Exception {
        int w = Integer.parseInt(args[0]), h = Integer.parseInt(args[1]);
        short[] pixels = new short[w * h];
        ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[2])))
            .order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(pixels);
        int warmup = Integer.parseInt(args[3]), repeats = Integer.parseInt(args[4]);
        ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        System.out.println(
            "version " + IJ.getVersion() + " java " + System.getProperty("java.version"));
        for (int j = 6; j < args.length; j++) {
            String[] job = args[j].split(":");
            boolean paraboloid = job[0].equals("paraboloid");
            double radius = Double.parseDouble(job[1]);
            long bestWall = Long.MAX_VALUE, bestCpu = 0;
            ShortProcessor ip = null;
            for (int i = 0; i < warmup + repeats; i++) {
                ip = new ShortProcessor(w, h, pixels.clone(), null);
                long c0 = bean.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                new BackgroundSubtracter().rollingBallBackground(
                    ip, radius, true, false, paraboloid, true, true);
                long wall = System.nanoTime() - t0, cpu = bean.getCurrentThreadCpuTime() - c0;
                if (i >= warmup && wall < bestWall) { bestWall = wall; bestCpu = cpu; }
            }
            ByteBuffer out = ByteBuffer.allocate(2 * w * h).order(ByteOrder.LITTLE_ENDIAN);
            out.asShortBuffer().put((short[]) ip.getPixels());
            Files.write(Paths.get(args[5], job[0] + "_" + job[1] + ".raw"), out.array());
            System.out.printf("%s %.3f %.3f%n", args[j], bestWall / 1e6, bestCpu / 1e6);
        }
    }
}
"""


@dataclass
class Timing:
    """Best wall time and the CPU time of that call (seconds), and the background."""

    wall: float
    cpu: float
    background: np.ndarray


def benchmark_image(size: int = SIZE) -> np.ndarray:
    """The float benchmark image of ``bench_kernels_ball.py`` rounded to uint16."""
    return np.clip(np.rint(microscopy_like(size)), 0, 65535).astype(np.uint16)


def run_imagej(
    image: np.ndarray, jobs: list[tuple[str, int]], warmup: int, repeats: int
) -> tuple[str, dict[tuple[str, int], Timing]]:
    """Time ImageJ's background for each ``(kind, radius)`` job in one JVM.

    Returns ImageJ's version line and, per job, its best wall/CPU time and background.
    """
    folder = _imagej_runner.compile_class(_JAVA_CLASS, _JAVA_SOURCE)
    height, width = image.shape
    with tempfile.TemporaryDirectory(prefix="bgsub-ij-bench-") as tmp:
        source = Path(tmp) / "in.raw"
        source.write_bytes(np.ascontiguousarray(image, dtype="<u2").tobytes())
        command = [
            "java", "-Djava.awt.headless=true", "-Xmx4g",
            "-cp", f"{_imagej_runner.IJ_JAR}{os.pathsep}{folder}", _JAVA_CLASS,
            str(width), str(height), str(source), str(warmup), str(repeats), tmp,
            *(f"{kind}:{radius}" for kind, radius in jobs),
        ]
        lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        version, results = "", {}
        for line in lines.splitlines():
            if line.startswith("version "):
                version = line.removeprefix("version ")
                continue
            job, wall_ms, cpu_ms = line.split()
            kind, radius = job.split(":")
            raw = (Path(tmp) / f"{kind}_{radius}.raw").read_bytes()
            background = np.frombuffer(raw, dtype="<u2").reshape(image.shape).copy()
            results[(kind, int(radius))] = Timing(float(wall_ms) / 1e3, float(cpu_ms) / 1e3,
                                                  background)
    return version, results


def run_bgsub(image: np.ndarray, kind: str, radius: int, repeat: int) -> dict[str, Timing]:
    """bgsub's backgrounds, each timed warm: ``exact`` (ImageJ's definition), ``port``
    (the ImageJ re-implementation) and, for the ball, ``apex`` (the default rolling ball:
    the ball's apex height, no presmoothing -- skimage's definition, half the work)."""
    import bgsub

    method = "rolling_ball" if kind == "ball" else "paraboloid"
    options = {"envelope": True} if kind == "ball" else {}
    funcs = {
        "exact": lambda: bgsub.estimate_background(image, method, radius, presmooth="mean",
                                                   **options),
        "port": lambda: bgsub.subtract_background(image, "imagej", radius,
                                                  create_background=True,
                                                  sliding_paraboloid=kind == "paraboloid",
                                                  imagej_version="1.53t"),  # = the jar
    }
    if kind == "ball":
        funcs["apex"] = lambda: bgsub.estimate_background(image, "rolling_ball", radius)
    timings = {}
    for name, func in funcs.items():
        func()  # warm-up call outside the timing
        timings[name] = Timing(*best_time(func, repeat))
    return timings


def port_cold(kind: str, radius: int, size: int = SIZE) -> float:
    """Seconds of the port's first call in a new Python process (imports not timed)."""
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import bgsub\n"
        "from bench_imagej import benchmark_image\n"
        f"image = benchmark_image({size})\n"
        "t0 = time.perf_counter()\n"
        f"bgsub.subtract_background(image, 'imagej', {radius}, create_background=True, "
        f"sliding_paraboloid={kind == 'paraboloid'}, imagej_version='1.53t')\n"
        "print(time.perf_counter() - t0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True)
    return float(result.stdout.split()[-1])


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


HEADER = (
    "| method | r | ImageJ ms | ImageJ CPU ms | bgsub exact ms | bgsub CPU ms | "
    "ImageJ / bgsub | bgsub apex ms | bgsub port ms | port cold ms | max\\|IJ − exact\\| | "
    "mean\\|IJ − exact\\| | max\\|IJ − port\\| |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(kind: str, radius: int, ij: Timing, ours: dict[str, Timing], cold: float) -> str:
    exact, port = ours["exact"], ours["port"]
    diff = np.abs(ij.background.astype(np.float64) - exact.background)
    name = "rolling ball" if kind == "ball" else "sliding paraboloid"
    apex = f"{ours['apex'].wall * 1e3:.0f}" if "apex" in ours else "–"
    return (
        f"| {name} | {radius} | {ij.wall * 1e3:.0f} | {ij.cpu * 1e3:.0f} | "
        f"{exact.wall * 1e3:.0f} | {exact.cpu * 1e3:.0f} | {ij.wall / exact.wall:.1f}x | "
        f"{apex} | {port.wall * 1e3:.0f} | {cold * 1e3:.0f} | {diff.max():.1f} | "
        f"{diff.mean():.2f} | "
        f"{max_abs_diff(ij.background, port.background):g} |"
    )


def _radii(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of radii (empty: none)."""
    return tuple(int(part) for part in text.split(",") if part.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one timed call each (ImageJ: after one warm-up)")
    parser.add_argument("--radii", type=_radii, default=BALL_RADII, metavar="R,R,...",
                        help="rolling-ball radii to run (default: %(default)s)")
    parser.add_argument("--paraboloid-radii", type=_radii, default=PARABOLOID_RADII,
                        metavar="R,R,...",
                        help="sliding-paraboloid radii to run, '' for none (default: %(default)s)")
    args = parser.parse_args()
    if not _imagej_runner.available():
        print("skipped: ImageJ 1.x not found (needs java, javac and "
              f"{_imagej_runner.IJ_JAR}; `tools/system-deps.sh imagej` installs them)")
        return 0
    from bgsub.kernels.threads import max_threads

    jobs = [("ball", r) for r in args.radii] + [("paraboloid", r) for r in args.paraboloid_radii]
    image = benchmark_image()
    warmup, repeats = (1, 1) if args.quick else (2, 3)
    print(f"image: {SIZE}x{SIZE} uint16, values {image.min()}..{image.max()}; "
          f"bgsub threads {max_threads()}, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    start = time.perf_counter()
    version, imagej = run_imagej(image, jobs, warmup, repeats)
    print(f"ImageJ {version}: {warmup} warm-up + best of {repeats} calls per row, "
          f"whole JVM run {time.perf_counter() - start:.0f} s", flush=True)
    print("ImageJ defaults: 3x3 mean presmoothing on, corner correction on (paraboloid); "
          "bgsub exact uses the same 3x3 mean (presmooth='mean')\n")
    print(HEADER, flush=True)
    for kind, radius in jobs:
        repeat = 1 if args.quick else (2 if radius >= 100 else 3)
        ours = run_bgsub(image, kind, radius, repeat)
        cold = port_cold(kind, radius)
        print(table_row(kind, radius, imagej[(kind, radius)], ours, cold), flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
