"""A 64 x 2048 x 2048 uint16 stack, rolling ball r=50 per slice: time, cores, peak memory.

``bgsub.subtract_background(stack, "rolling_ball", radius=50, axes="ZYX",
true_3d=False)`` on a generated 512 MiB stack (each plane a smooth uneven background,
blurred spots and noise; seeded). Reports

* wall time and CPU time (all threads); CPU / wall near the core count means the
  kernels keep every core busy (parallel loops within each plane, on
  :func:`bgsub.kernels.threads.max_threads` threads);
* the CPU time per OS thread of the process, to show which threads did the work;
* peak memory above the baseline (the process with the input stack loaded), three ways:
  the kernel's peak-RSS counter (``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``; Linux), an RSS sampling thread (psutil, every 2 ms), and
  tracemalloc's peak (NumPy's allocations; C allocations inside kernels are not traced).
  Each is also given in float32 stack buffers (one is ``planes x size x size x 4`` bytes)
  and float32 planes.

The per-slice path should hold the input, the output and a few planes: well under the
three float32 stack buffers the issue allows.

Usage::

    PYTHONPATH=src python benchmarks/bench_stack.py [--planes 64] [--size 2048] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_kernels_ball import microscopy_like  # noqa: E402

MIB = 2**20


def make_stack(planes: int, size: int, seed: int = 0) -> np.ndarray:
    """A uint16 stack: one smooth background and spot field, shifted and rescaled per
    plane, with fresh noise in every plane (cheap to generate, different planes)."""
    base = microscopy_like(size, seed)
    rng = np.random.default_rng(seed + 1)
    stack = np.empty((planes, size, size), dtype=np.uint16)
    for z in range(planes):
        plane = np.roll(base, (7 * z, 13 * z), axis=(0, 1)) * np.float32(1 + 0.2 * np.sin(z))
        plane += rng.standard_normal(plane.shape, dtype=np.float32) * np.float32(10)
        np.clip(np.rint(plane), 0, 65535, out=plane)
        stack[z] = plane
    return stack


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` in KiB (None off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Highest RSS seen by a thread polling every ``interval`` seconds (psutil)."""

    def __init__(self, interval: float = 0.002) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Result:
    wall: float
    cpu: float
    thread_cpu: list[float]
    baseline_rss: int
    peak_hwm: int | None
    peak_sampled: int
    peak_traced: int


def thread_cpu_times() -> dict[int, float]:
    """CPU seconds (user + system) of each OS thread of this process."""
    import psutil

    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}


def run(stack: np.ndarray, radius: float) -> Result:
    """Correct ``stack`` once, measuring time, per-thread CPU and peak memory."""
    import psutil

    import bgsub

    process = psutil.Process()
    before_threads = thread_cpu_times()
    baseline = process.memory_info().rss
    hwm_ok = reset_peak_rss()
    tracemalloc.start()
    with RssSampler() as sampler:
        c0, t0 = time.process_time(), time.perf_counter()
        out = bgsub.subtract_background(stack, "rolling_ball", radius, axes="ZYX",
                                        true_3d=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _status_kib("VmHWM") if hwm_ok else None
    after_threads = thread_cpu_times()
    busy = sorted((after_threads[t] - before_threads.get(t, 0.0) for t in after_threads),
                  reverse=True)
    assert out.shape == stack.shape and out.dtype == stack.dtype
    return Result(wall, cpu, busy, baseline, None if hwm is None else hwm * 1024 - baseline,
                  sampler.peak - baseline, traced)


def report(result: Result, stack: np.ndarray) -> None:
    planes, height, width = stack.shape
    stack_f32 = planes * height * width * 4
    plane_f32 = height * width * 4

    def mem(nbytes: int | None) -> str:
        if nbytes is None:
            return "n/a (no /proc/self/clear_refs)"
        return (f"{nbytes / MIB:8.0f} MiB = {nbytes / stack_f32:5.2f} float32 stacks "
                f"= {nbytes / plane_f32:6.1f} float32 planes")

    print(f"wall {result.wall:.1f} s, CPU {result.cpu:.1f} s, CPU / wall "
          f"{result.cpu / result.wall:.2f}; {result.wall / planes * 1e3:.0f} ms per plane")
    shown = ", ".join(f"{t:.1f}" for t in result.thread_cpu[:6])
    print(f"CPU s per OS thread (busiest first): {shown}")
    print(f"baseline RSS (input stack loaded): {result.baseline_rss / MIB:.0f} MiB")
    print(f"peak above baseline, kernel VmHWM:   {mem(result.peak_hwm)}")
    print(f"peak above baseline, RSS sampling:   {mem(result.peak_sampled)}")
    print(f"peak traced (NumPy, tracemalloc):    {mem(result.peak_traced)}")
    print(f"of which the uint16 output stack: {stack.nbytes / MIB:.0f} MiB = "
          f"{stack.nbytes / stack_f32:.2f} float32 stacks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--radius", type=float, default=50.0)
    parser.add_argument("--quick", action="store_true", help="8 planes instead of 64")
    args = parser.parse_args()
    planes = 8 if args.quick else args.planes

    import bgsub
    from bgsub.kernels.threads import max_threads

    # a first call on a small stack, outside the measurement
    bgsub.subtract_background(make_stack(2, 64), "rolling_ball", args.radius / 10,
                              axes="ZYX", true_3d=False)
    stack = make_stack(planes, args.size)
    print(f"stack {stack.shape} {stack.dtype} ({stack.nbytes / MIB:.0f} MiB), rolling ball "
          f"r={args.radius:g} per slice; bgsub threads {max_threads()}, "
          f"os.cpu_count() {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}",
          flush=True)
    report(run(stack, args.radius), stack)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
