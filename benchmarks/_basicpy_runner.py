"""Run BaSiCPy on a stack saved as .npy and save its fields: ``bench_shading.py``'s peer.

BaSiCPy 2.0 pins ``scipy<1.13`` (and so NumPy 1.x), which cannot share bgsub's
environment, so it runs in its own virtual environment (``make bench-shading``
builds ``.venv-basicpy`` from ``benchmarks/requirements-basicpy.txt``) and this
script is its entry point. Usage::

    .venv-basicpy/bin/python benchmarks/_basicpy_runner.py STACK.npy OUT.npz [--darkfield]

Prints one JSON line: the fit's wall time (import and file reading excluded) and
the peak resident memory of the process.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def main() -> int:
    stack_path, out_path = sys.argv[1], sys.argv[2]
    darkfield = "--darkfield" in sys.argv[3:]
    from basicpy import BaSiC

    stack = np.load(stack_path, mmap_mode="r")
    model = BaSiC(get_darkfield=darkfield)
    start = time.perf_counter()
    model.fit(np.asarray(stack))
    seconds = time.perf_counter() - start
    np.savez(out_path, flatfield=np.asarray(model.flatfield, np.float64),
             darkfield=np.asarray(model.darkfield, np.float64),
             baseline=np.asarray(model.baseline, np.float64))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
