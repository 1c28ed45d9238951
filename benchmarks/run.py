"""Run every speed benchmark (``make bench``): each ``bench_*.py`` script in turn.

Arguments are passed on to every script (they all accept ``--quick``). Each script
prints its own table(s) with bgsub's time, the peer's time and their ratio; see
``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    print(f"benchmarks: {', '.join(s.stem for s in scripts)}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    failed = []
    for script in scripts:
        print(f"\n## {script.stem}\n", flush=True)
        start = time.perf_counter()
        if subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0:
            failed.append(script.name)
        print(f"\n({script.stem}: {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
