"""Out-of-core benchmark: a Zarr stack larger than memory, streamed by ``bgsub run``.

Generates an uncompressed uint16 Zarr stack of ``--gib`` GiB on disk (planes of
``--size`` x ``--width`` pixels, one plane per chunk, written chunk by chunk),
then processes it end to end with the command line -- ``bgsub run stack.zarr -o
out``: read lazily, ``bgsub.subtract_background`` per slice, a Zarr stack written
chunk by chunk, provenance included -- and reports the peak resident memory of
that process and its throughput, next to the in-memory path on the first
``--numpy-planes`` planes: the NumPy API (compute only) and ``bgsub run`` on the
same planes as a TIFF, which it reads whole. Each phase runs in its own process,
so that its peak memory is its own.

Usage::

    python benchmarks/bench_dask.py                 # 4 GiB, tophat (box, radius 25)
    python benchmarks/bench_dask.py --gib 1 --method rolling_ball --radius 30
    python benchmarks/bench_dask.py --gib 1 --chunk 1024      # tiles with halos
    python benchmarks/bench_dask.py --via api --scheduler distributed   # the Python API

The data goes to a temporary folder (``--workdir``), removed afterwards unless
``--keep``. Not part of the test suite. Results are printed and, with
``--json``, saved.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
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
    parser.add_argument("--size", type=int, default=2048, help="plane height (px)")
    parser.add_argument("--width", type=int, default=4096, help="plane width (px)")
    parser.add_argument("--method", default="tophat")
    parser.add_argument("--radius", type=float, default=25.0)
    parser.add_argument("--option", action="append", metavar="KEY=VALUE",
                        help="method option, repeatable (default for tophat: footprint=box)")
    parser.add_argument("--chunk", type=int,
                        help="process (and write) tiles of this many pixels square instead of "
                             "whole planes: exercises the overlapping halos")
    parser.add_argument("--numpy-planes", type=int, default=16,
                        help="planes in the in-memory comparison")
    parser.add_argument("--via", choices=("cli", "api"), default="cli",
                        help="stream with `bgsub run` (default) or the Python API + da.store")
    parser.add_argument("--threads", type=int, help="scheduler threads (default: one per core)")
    parser.add_argument("--scheduler", choices=("threads", "distributed"), default="threads",
                        help="with --via api: local threads or a LocalCluster")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "bgsub-dask-bench")
    parser.add_argument("--keep", action="store_true", help="keep the Zarr stacks afterwards")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quick", action="store_true",
                        help="a 0.5 GiB stack and 4 planes in memory (as `benchmarks/run.py "
                             "--quick`)")
    parser.add_argument("--phase", choices=tuple(PHASES), help=argparse.SUPPRESS)
    return parser


def _run_all(args: argparse.Namespace) -> int:
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"settings": _settings(args), "machine": _machine()}
    streamed = "stream" if args.via == "cli" else "dask"
    try:
        for phase in ("generate", "numpy", "memory", streamed):
            print(f"[{phase}] ...", flush=True)
            results[phase] = _run_phase(phase, args)
            print(f"[{phase}] {json.dumps(results[phase])}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _run_phase(phase: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, *_forwarded(args)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _forwarded(args: argparse.Namespace) -> list[str]:
    forwarded = ["--gib", str(args.gib), "--size", str(args.size), "--width", str(args.width),
                 "--method", args.method, "--radius", str(args.radius),
                 "--numpy-planes", str(args.numpy_planes), "--via", args.via,
                 "--scheduler", args.scheduler, "--workdir", str(args.workdir)]
    if args.chunk:
        forwarded += ["--chunk", str(args.chunk)]
    if args.threads:
        forwarded += ["--threads", str(args.threads)]
    for option in args.option or ():
        forwarded += ["--option", option]
    return forwarded


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"planes": _planes(args), "size": args.size, "width": args.width,
            "method": args.method, "radius": args.radius, "options": _options(args),
            "via": args.via, "threads": args.threads or os.cpu_count(),
            "scheduler": args.scheduler if args.via == "api" else "threads",
            "chunks": _chunks(args)}


def _machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
            "ram_gib": round(pages / GIB, 1), "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "load_before": [round(x, 2) for x in os.getloadavg()]}


# --- phases (each in its own process) ---------------------------------------------------------


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write the input stack, plane by plane (lazily, through Dask), uncompressed."""
    import dask.array as da

    from bgsub.data import synthetic

    base = synthetic((args.size, args.width), object_radius=(5, 20), seed=1).image
    planes = _planes(args)
    lazy = da.map_blocks(_plane, base=base, dtype=np.uint16,
                         chunks=((1,) * planes, (args.size,), (args.width,)))
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


def _stream(args: argparse.Namespace) -> dict[str, Any]:
    """``bgsub run stack.zarr -o out``: the whole stack end to end, in a child process.

    The child's peak RSS is ``getrusage(RUSAGE_CHILDREN)`` of this process,
    which has no other child.
    """
    import zarr

    import bgsub

    command = [sys.executable, "-m", "bgsub", "run", str(args.workdir / "input.zarr"), "-o",
               str(args.workdir / "out"), "--method", args.method, "--radius", str(args.radius),
               "--force", "-q", *_cli_options(args)]
    if args.chunk:
        command += ["--chunks", ",".join(map(str, _chunks(args)))]
    if args.threads:
        command += ["--jobs", str(args.threads)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    peak = _peak_rss_mib(resource.RUSAGE_CHILDREN)
    source = zarr.open_array(str(args.workdir / "input.zarr"), mode="r")
    output = zarr.open_array(str(args.workdir / "out" / "input.zarr"), mode="r")
    equal = all(np.array_equal(output[i], bgsub.subtract_background(
        source[i], args.method, args.radius, **_options(args))) for i in (0, source.shape[0] - 1))
    nbytes = source.nbytes
    return {"planes": source.shape[0], "gib": round(nbytes / GIB, 3),
            "seconds": round(seconds, 1), "mb_per_s": round(nbytes / 1e6 / seconds, 1),
            "peak_rss_mib": peak, "first_and_last_planes_equal_numpy": equal,
            "output_gib_on_disk": round(_disk_bytes(args.workdir / "out" / "input.zarr") / GIB,
                                        3)}


def _memory(args: argparse.Namespace) -> dict[str, Any]:
    """``bgsub run`` on the first ``--numpy-planes`` planes as a TIFF, read whole (in memory)."""
    import tifffile
    import zarr

    stack = np.asarray(zarr.open_array(str(args.workdir / "input.zarr"), mode="r")[
        : args.numpy_planes])
    tifffile.imwrite(args.workdir / "small.tif", stack)
    command = [sys.executable, "-m", "bgsub", "run", str(args.workdir / "small.tif"), "-o",
               str(args.workdir / "out-memory"), "--method", args.method, "--radius",
               str(args.radius), "--force", "-q", *_cli_options(args)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    return {"planes": stack.shape[0], "gib": round(stack.nbytes / GIB, 3),
            "seconds": round(seconds, 1), "mb_per_s": round(stack.nbytes / 1e6 / seconds, 1),
            "peak_rss_mib": _peak_rss_mib(resource.RUSAGE_CHILDREN)}


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


PHASES = {"generate": _generate, "dask": _dask, "numpy": _numpy, "memory": _memory,
          "stream": _stream}


# --- helpers ----------------------------------------------------------------------------------


def _client(scheduler: str) -> Any:
    if scheduler != "distributed":
        return None  # Dask's default: local threads
    from distributed import Client, LocalCluster

    return Client(LocalCluster(processes=False, dashboard_address=None))


def _zarr_array(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...] | None = None) -> Any:
    import zarr

    return zarr.create_array(str(path), shape=shape, chunks=chunks or (1, *shape[1:]),
                             dtype=np.uint16, compressors=None, overwrite=True,
                             dimension_names=["z", "y", "x"])


def _chunks(args: argparse.Namespace) -> tuple[int, int, int]:
    if not args.chunk:
        return (1, args.size, args.width)
    return (1, min(args.chunk, args.size), min(args.chunk, args.width))


def _planes(args: argparse.Namespace) -> int:
    return max(1, math.ceil(args.gib * GIB / (args.size * args.width * 2)))


def _cli_options(args: argparse.Namespace) -> list[str]:
    items = args.option if args.option is not None else DEFAULT_OPTIONS.get(args.method, [])
    return [text for item in items for text in ("-O", item)]


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


def _peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    peak = resource.getrusage(who).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(peak * scale / MIB, 1)


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _report(results: dict[str, Any]) -> None:
    s, m = results["settings"], results["machine"]
    streamed = results.get("stream") or results["dask"]
    npy, mem = results["numpy"], results["memory"]
    print(f"\n{s['method']} radius {s['radius']:g} {s['options']}, per slice, "
          f"{s['planes']} planes of {s['size']}x{s['width']} uint16, chunks {s['chunks']}, "
          f"{s['threads']} threads ({s['scheduler']})")
    print(f"{m['date']}, {m['cpus']} CPUs, {m['ram_gib']} GiB RAM, Python {m['python']}, "
          f"load average {m['load_before'][0]} before, {m['load_after'][0]} after")
    print(f"{'path':<44}{'data (GiB)':>11}{'time (s)':>10}{'MB/s':>9}{'peak RSS (MiB)':>16}")
    rows = [(f"streamed, Zarr -> Zarr ({s['via']}, end to end)", streamed),
            ("in memory, TIFF -> TIFF (bgsub run)", mem),
            ("in memory, NumPy API (compute only)", npy)]
    for label, row in rows:
        print(f"{label:<44}{row['gib']:>11}{row['seconds']:>10}{row['mb_per_s']:>9}"
              f"{row['peak_rss_mib']:>16}")
    equal = streamed.get("first_and_last_planes_equal_numpy",
                         streamed.get("plane_0_equals_numpy"))
    print(f"(input on disk: {results['generate']['gib_on_disk']} GiB; streamed result equals "
          f"NumPy on the planes checked: {equal})")


if __name__ == "__main__":
    sys.exit(main())
