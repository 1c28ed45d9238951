"""Out-of-core benchmark: a Zarr stack larger than memory, corrected lazily with Dask.

Generates an uncompressed uint16 Zarr stack of ``--gib`` GiB on disk (planes of
``--size`` x ``--size`` pixels, one plane per chunk), then processes it end to end
-- read lazily, ``bgsub.subtract_background`` per slice, write a Zarr stack --
and reports the peak resident memory and the throughput, next to the in-memory
NumPy path's throughput on a small stack of the same planes. Each phase runs in
its own process so that its peak memory is its own.

Usage::

    python benchmarks/bench_dask.py                 # 4 GiB, tophat (box, radius 25)
    python benchmarks/bench_dask.py --gib 1 --method rolling_ball --radius 30
    python benchmarks/bench_dask.py --scheduler distributed   # a LocalCluster instead

Not part of the test suite. Results are printed and, with ``--json``, saved.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MIB = 2**20
GIB = 2**30
DEFAULT_OPTIONS = {"tophat": ["footprint=box"]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--phase``, one phase of it in this process)."""
    args = _parser().parse_args(argv)
    if args.quick:
        args.gib, args.numpy_planes = min(args.gib, 0.5), min(args.numpy_planes, 4)
    if args.phase:
        result = PHASES[args.phase](args)
        print(json.dumps(result))
        return 0
    return _run_all(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="size of the Zarr stack (GiB)")
    parser.add_argument("--size", type=int, default=2048, help="plane height and width (px)")
    parser.add_argument("--method", default="tophat")
    parser.add_argument("--radius", type=float, default=25.0)
    parser.add_argument("--option", action="append", metavar="KEY=VALUE",
                        help="method option, repeatable (default for tophat: footprint=box)")
    parser.add_argument("--chunk", type=int,
                        help="process (and write) tiles of this many pixels square instead of "
                             "whole planes: exercises the overlapping halos")
    parser.add_argument("--numpy-planes", type=int, default=16,
                        help="planes in the in-memory NumPy comparison")
    parser.add_argument("--scheduler", choices=("threads", "distributed"), default="threads")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "dask-bench")
    parser.add_argument("--keep", action="store_true", help="keep the Zarr stacks afterwards")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quick", action="store_true",
                        help="a 0.5 GiB stack and 4 NumPy planes (as `benchmarks/run.py --quick`)")
    parser.add_argument("--phase", choices=("generate", "dask", "numpy"), help=argparse.SUPPRESS)
    return parser


def _run_all(args: argparse.Namespace) -> int:
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"settings": _settings(args)}
    try:
        for phase in ("generate", "numpy", "dask"):
            print(f"[{phase}] ...", flush=True)
            results[phase] = _run_phase(phase, args)
            print(f"[{phase}] {json.dumps(results[phase])}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _run_phase(phase: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, *_forwarded(args)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _forwarded(args: argparse.Namespace) -> list[str]:
    forwarded = ["--gib", str(args.gib), "--size", str(args.size), "--method", args.method,
                 "--radius", str(args.radius), "--numpy-planes", str(args.numpy_planes),
                 "--scheduler", args.scheduler, "--workdir", str(args.workdir)]
    if args.chunk:
        forwarded += ["--chunk", str(args.chunk)]
    for option in args.option or ():
        forwarded += ["--option", option]
    return forwarded


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"planes": _planes(args), "size": args.size, "method": args.method,
            "radius": args.radius, "options": _options(args), "scheduler": args.scheduler,
            "chunks": _chunks(args)}


# --- phases (each in its own process) ---------------------------------------------------------


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write the input stack, plane by plane (lazily, through Dask), uncompressed."""
    import dask.array as da

    from bgsub.data import synthetic

    base = synthetic((args.size, args.size), object_radius=(5, 20), seed=1).image
    planes = _planes(args)
    lazy = da.map_blocks(_plane, base=base, dtype=np.uint16,
                         chunks=((1,) * planes, (args.size,), (args.size,)))
    target = _zarr_array(args.workdir / "input.zarr", lazy.shape)
    start = time.perf_counter()
    da.store(lazy, target, lock=False)
    seconds = time.perf_counter() - start
    return {"gib_on_disk": round(_disk_bytes(args.workdir / "input.zarr") / GIB, 3),
            "seconds": round(seconds, 1), "peak_rss_mib": _peak_rss_mib()}


def _plane(block_info: dict | None = None, *, base: np.ndarray) -> np.ndarray:
    """One plane: the base image shifted by the plane's index, with fresh noise."""
    index = block_info[None]["chunk-location"][0]
    rng = np.random.default_rng(index)
    plane = np.roll(base, 13 * index, axis=1) + rng.integers(0, 16, base.shape, dtype=np.uint16)
    return plane[np.newaxis]


def _dask(args: argparse.Namespace) -> dict[str, Any]:
    """Read lazily, subtract per slice, write: the whole stack, end to end."""
    import dask.array as da
    import zarr

    import bgsub

    idle = _peak_rss_mib()
    client = _client(args.scheduler)
    source = zarr.open_array(str(args.workdir / "input.zarr"), mode="r")
    stack = da.from_zarr(source, chunks=_chunks(args))
    foreground = bgsub.subtract_background(stack, args.method, args.radius, axes="ZYX",
                                           **_options(args))
    # the output's Zarr chunks match the Dask chunks: no two tasks write the same Zarr chunk
    target = _zarr_array(args.workdir / "output.zarr", stack.shape, _chunks(args))
    start = time.perf_counter()
    da.store(foreground, target, lock=False)
    seconds = time.perf_counter() - start
    if client is not None:
        client.close()
    peak = _peak_rss_mib()
    expected = bgsub.subtract_background(source[0], args.method, args.radius, **_options(args))
    return {"planes": stack.shape[0], "gib": round(stack.nbytes / GIB, 3),
            "seconds": round(seconds, 1), "mb_per_s": round(stack.nbytes / 1e6 / seconds, 1),
            "peak_rss_mib": peak, "rss_after_imports_mib": idle,
            "plane_0_equals_numpy": bool(np.array_equal(target[0], expected))}


def _numpy(args: argparse.Namespace) -> dict[str, Any]:
    """The in-memory path on the first ``--numpy-planes`` planes (compute only)."""
    import zarr

    import bgsub

    stack = np.asarray(zarr.open_array(str(args.workdir / "input.zarr"), mode="r")[
        : args.numpy_planes])
    start = time.perf_counter()
    bgsub.subtract_background(stack, args.method, args.radius, axes="ZYX", **_options(args))
    seconds = time.perf_counter() - start
    return {"planes": stack.shape[0], "gib": round(stack.nbytes / GIB, 3),
            "seconds": round(seconds, 1), "mb_per_s": round(stack.nbytes / 1e6 / seconds, 1),
            "peak_rss_mib": _peak_rss_mib()}


PHASES = {"generate": _generate, "dask": _dask, "numpy": _numpy}


# --- helpers ----------------------------------------------------------------------------------


def _client(scheduler: str) -> Any:
    if scheduler != "distributed":
        return None  # Dask's default: local threads
    from distributed import Client, LocalCluster

    return Client(LocalCluster(processes=False, dashboard_address=None))


def _zarr_array(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...] | None = None) -> Any:
    import zarr

    return zarr.create_array(str(path), shape=shape, chunks=chunks or (1, *shape[1:]),
                             dtype=np.uint16, compressors=None, overwrite=True)


def _chunks(args: argparse.Namespace) -> tuple[int, int, int]:
    tile = min(args.chunk or args.size, args.size)
    return (1, tile, tile)


def _planes(args: argparse.Namespace) -> int:
    return max(1, math.ceil(args.gib * GIB / (args.size * args.size * 2)))


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    items = args.option if args.option is not None else DEFAULT_OPTIONS.get(args.method, [])
    for item in items:
        key, _, text = item.partition("=")
        options[key] = _value(text)
    return options


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(peak * scale / MIB, 1)


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _report(results: dict[str, Any]) -> None:
    s, dsk, npy = results["settings"], results["dask"], results["numpy"]
    print(f"\n{s['method']} radius {s['radius']:g} {s['options']}, per slice, "
          f"{s['planes']} planes of {s['size']}x{s['size']} uint16, Dask chunks {s['chunks']}, "
          f"scheduler {s['scheduler']}")
    print(f"{'path':<34}{'data (GiB)':>11}{'time (s)':>10}{'MB/s':>9}{'peak RSS (MiB)':>16}")
    print(f"{'Dask, Zarr -> Zarr (end to end)':<34}{dsk['gib']:>11}{dsk['seconds']:>10}"
          f"{dsk['mb_per_s']:>9}{dsk['peak_rss_mib']:>16}")
    print(f"{'NumPy, in memory (compute only)':<34}{npy['gib']:>11}{npy['seconds']:>10}"
          f"{npy['mb_per_s']:>9}{npy['peak_rss_mib']:>16}")
    print(f"(Dask process after imports: {dsk['rss_after_imports_mib']} MiB; "
          f"input on disk: {results['generate']['gib_on_disk']} GiB; "
          f"plane 0 equals NumPy: {dsk['plane_0_equals_numpy']})")


if __name__ == "__main__":
    sys.exit(main())
