"""Start-up: ``import bgsub``, each method's first call against its second, a whole ``bgsub run``.

Every measurement that says *cold* runs in a new Python process with no cache: a fresh,
empty ``NUMBA_CACHE_DIR`` (while the package still has numba kernels; nothing changes
once it has none). *warm* is the second call in the same process; *cached* a new
process that finds the cache the cold one left.

* ``import bgsub``: wall time of the import inside a fresh process, with the share
  of numba (and llvmlite, which it imports) from ``python -X importtime``; best of
  ``--repeat`` processes.
* every registered method (and the rolling ball's ``envelope=True``, a kernel of its
  own) on a 512x512 uint16 image at the default radius: the first call in a cold
  process, the second call in that process, and the first call in a cached process.
  Target (issue #20): first minus second at most 1 s.
* the whole process ``python -m bgsub run plane.tif -o out`` on one 2048x2048
  uint16 TIFF with the default method: cold, then best of ``--repeat`` cached runs.
  Target: at most 1.5 s either way. ``bgsub --help`` alongside.
* peers, for comparison: scikit-image's ``rolling_ball`` and SciPy's
  ``gaussian_filter``, first and second call in a fresh process (skipped by
  ``--quick``).

Usage: ``python benchmarks/bench_startup.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMPORT_TARGET_S = 0.5
FIRST_CALL_TARGET_S = 1.0
RUN_TARGET_S = 1.5
SIDE = 512
RUN_SIDE = 2048

# Run in a fresh interpreter: import, then two calls; prints one line of JSON.
CALLS = """
import json, sys, time
import numpy as np
image = np.load(sys.argv[1])
start = time.perf_counter()
{setup}
imported = time.perf_counter() - start
times = []
for _ in range(2):
    start = time.perf_counter()
    {call}
    times.append(time.perf_counter() - start)
print(json.dumps({{"import": imported, "first": times[0], "second": times[1]}}))
"""
BGSUB_SETUP = "import bgsub"
BGSUB_CALL = "bgsub.subtract_background(image, {method!r}, radius={radius}, **{options!r})"
PEERS = {
    "skimage rolling_ball r=50": ("from skimage.restoration import rolling_ball",
                                  "rolling_ball(image, radius=50)"),
    "scipy gaussian_filter sigma=50": ("from scipy import ndimage",
                                       "ndimage.gaussian_filter(image, 50.0)"),
}


def environment(cache: Path) -> dict[str, str]:
    """The current environment with numba's cache in ``cache`` (empty: a cold start).

    Bytecode is used as pip installs it (compiled, see :func:`compile_package`), even where
    ``PYTHONDONTWRITEBYTECODE`` is set here.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NUMBA_CACHE_DIR"] = str(cache)
    return env


def compile_package() -> None:
    """Byte-compile bgsub's modules, as ``pip install`` does: a user's first import reads
    ``.pyc`` files, not sources (gitignored ``__pycache__`` folders in a checkout)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("bgsub")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    """Wall time, stdout and stderr of one process (raises if it fails)."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stdout, result.stderr


def calls(setup: str, call: str, image_path: Path, env: dict[str, str]) -> dict[str, float]:
    """Import time, first and second call of ``call`` in a new process."""
    script = CALLS.format(setup=setup, call=call)
    _, out, _ = timed_process([sys.executable, "-c", script, str(image_path)], env)
    return json.loads(out.strip().splitlines()[-1])


def import_shares(stderr: str) -> tuple[float, float]:
    """``(bgsub, numba + llvmlite)`` cumulative seconds from ``-X importtime`` output.

    numba's entry (wherever bgsub first imports it) holds llvmlite and what else numba
    imports first; llvmlite is counted too when something imported it earlier.
    """
    total = numba = 0.0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        depth = len(name) - len(name.lstrip())
        module = name.strip()
        if module == "bgsub" and depth == 1:
            total = int(cumulative) / 1e6
        elif module in ("numba", "llvmlite"):
            numba += int(cumulative) / 1e6
    return total, numba


def measure_import(repeat: int, cache_root: Path) -> dict[str, float]:
    """Best-of-``repeat`` ``import bgsub``: in-process wall time and numba's share."""
    walls, totals, numbas = [], [], []
    for k in range(repeat):
        env = environment(cache_root / f"import-{k}")
        script = ("import time; start = time.perf_counter(); import bgsub; "
                  "print(time.perf_counter() - start)")
        _, out, _ = timed_process([sys.executable, "-c", script], env)
        walls.append(float(out.strip().splitlines()[-1]))
        _, _, err = timed_process([sys.executable, "-X", "importtime", "-c", "import bgsub"], env)
        total, numba = import_shares(err)
        totals.append(total)
        numbas.append(numba)
    best = int(np.argmin(walls))
    return {"wall": walls[best], "importtime": min(totals), "numba": numbas[int(np.argmin(totals))]}


def method_cases() -> list[tuple[str, str, dict]]:
    """``(label, method, options)`` for every registered method, plus the ball's envelope."""
    from bgsub import list_methods

    cases = [(m.name, m.name, {}) for m in list_methods()]
    cases.append(("rolling_ball envelope=True", "rolling_ball", {"envelope": True}))
    return sorted(cases)


def method_table(image_path: Path, cache_root: Path, quick: bool) -> list[tuple]:
    from bgsub.methods import DEFAULT_RADIUS

    rows = []
    for label, method, options in method_cases():
        cache = cache_root / f"method-{label.replace(' ', '-')}"
        call = BGSUB_CALL.format(method=method, radius=DEFAULT_RADIUS, options=options)
        cold = calls(BGSUB_SETUP, call, image_path, environment(cache))
        cached = calls(BGSUB_SETUP, call, image_path, environment(cache))
        rows.append((label, cold, cached))
        print(f"  {label}: first {cold['first']:.2f} s, second {cold['second']:.3f} s",
              file=sys.stderr, flush=True)
    if not quick:
        for label, (setup, call) in PEERS.items():
            try:
                cold = calls(setup, call, image_path, environment(cache_root / "peer"))
            except RuntimeError as exc:  # a peer that is not installed
                print(f"  {label}: skipped ({str(exc).splitlines()[-1]})", file=sys.stderr)
                continue
            rows.append((f"peer: {label}", cold, None))
    return rows


def run_process(tiff: Path, out: Path, repeat: int, cache_root: Path) -> dict[str, float]:
    """Whole ``bgsub run`` and ``bgsub --help`` processes: cold, then best cached."""
    command = [sys.executable, "-m", "bgsub", "run", str(tiff), "-o", str(out), "-q", "--force"]
    env = environment(cache_root / "run")
    cold, _, _ = timed_process(command, env)
    cached = min(timed_process(command, env)[0] for _ in range(repeat))
    help_command = [sys.executable, "-m", "bgsub", "--help"]
    helped = min(timed_process(help_command, env)[0] for _ in range(repeat))
    return {"cold": cold, "cached": cached, "help": helped}


def test_images(folder: Path) -> tuple[Path, Path]:
    """A 512x512 uint16 array (.npy) and a 2048x2048 uint16 TIFF of nuclei-like spots on
    a vignetted background, generated with NumPy only (no bgsub import here)."""
    import tifffile

    rng = np.random.default_rng(20)
    paths = []
    for side in (SIDE, RUN_SIDE):
        y, x = np.mgrid[:side, :side] / side
        image = 800.0 + 1200.0 * np.exp(-((x - 0.45) ** 2 + (y - 0.55) ** 2) / 0.18)
        for cy, cx in rng.integers(8, side - 8, (side // 8, 2)):
            image[cy - 6:cy + 6, cx - 6:cx + 6] += 1500.0
        image = rng.poisson(image).astype(np.uint16)
        paths.append(image)
    small = folder / "plane512.npy"
    np.save(small, paths[0])
    tiff = folder / "plane2048.tif"
    tifffile.imwrite(tiff, paths[1])
    return small, tiff


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else f"over by {value - target:.2f} s"


def markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table, columns padded to their widest cell (numbers right-aligned)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows,
                                                                       strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        padded = [cell.ljust(w) if k == 0 else cell.rjust(w)
                  for k, (cell, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def report(imports: dict, rows: list[tuple], runs: dict) -> None:
    print(f"import bgsub: {imports['wall']:.3f} s (target {IMPORT_TARGET_S} s: "
          f"{verdict(imports['wall'], IMPORT_TARGET_S)}); -X importtime "
          f"{imports['importtime']:.3f} s, of which numba + llvmlite {imports['numba']:.3f} s, "
          f"without them "
          f"{imports['importtime'] - imports['numba']:.3f} s")
    print(f"\n{SIDE}x{SIDE} uint16, radius 50; each cold column in a new process with an empty "
          f"cache; a first call includes the imports its module defers (SciPy, kernels)\n")
    headers = ("method", "import s", "first call s (cold)", "import + first s",
               "second call s (warm)", "first - second s", "target <= 1 s", "first / second",
               "first call s (cached)")
    table = []
    for label, cold, cached in rows:
        extra = cold["first"] - cold["second"]
        table.append((label, f"{cold['import']:.3f}", f"{cold['first']:.3f}",
                      f"{cold['import'] + cold['first']:.3f}",
                      f"{cold['second']:.3f}", f"{extra:.3f}",
                      "-" if label.startswith("peer") else verdict(extra, FIRST_CALL_TARGET_S),
                      f"{cold['first'] / max(cold['second'], 1e-9):.1f}",
                      f"{cached['first']:.3f}" if cached else "-"))
    print(markdown_table(headers, table))
    print(f"\nwhole process `bgsub run` on one {RUN_SIDE}x{RUN_SIDE} uint16 TIFF (robust, r=50): "
          f"cold {runs['cold']:.2f} s ({verdict(runs['cold'], RUN_TARGET_S)}), cached "
          f"{runs['cached']:.2f} s ({verdict(runs['cached'], RUN_TARGET_S)}); "
          f"`bgsub --help` {runs['help']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, no peers")
    parser.add_argument("--repeat", type=int, default=5, help="processes for best-of figures")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    try:
        import numba  # noqa: F401
        kernels = "numba kernels (cold = empty NUMBA_CACHE_DIR)"
    except ImportError:
        kernels = "no numba: compiled kernels only"
    print(f"{kernels}; Python {sys.version.split()[0]}; load average "
          f"{os.getloadavg()[0]:.1f}; best of {repeat} where repeated\n", flush=True)
    compile_package()
    with tempfile.TemporaryDirectory(prefix="bgsub-startup-") as tmp:
        folder = Path(tmp)
        small, tiff = test_images(folder)
        imports = measure_import(repeat, folder / "cache")
        runs = run_process(tiff, folder / "out", repeat, folder / "cache")
        rows = method_table(small, folder / "cache", args.quick)
    report(imports, rows, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
