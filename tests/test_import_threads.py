"""The first call in a fresh process imports SciPy on one thread only.

Two threads importing modules of one package for the first time at once can deadlock in
Python's import locks; Python then hands one of them a half-initialised module and it fails
with an ImportError (seen on 2 of 25 fresh processes running ``radius="auto"`` before the
fix). These tests check, in a fresh interpreter, that every worker thread bgsub starts finds
SciPy and the radius planner already imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

WATCH_SUBMITS = """
import concurrent.futures as cf
import sys

seen = []
original = cf.ThreadPoolExecutor.submit


def submit(self, fn, *args, **kwargs):
    seen.append({name: name in sys.modules for name in NEEDED})
    return original(self, fn, *args, **kwargs)


cf.ThreadPoolExecutor.submit = submit
"""


def _run_fresh(body: str, needed: tuple[str, ...]) -> None:
    script = f"NEEDED = {needed!r}\n" + WATCH_SUBMITS + textwrap.dedent(body) + textwrap.dedent("""
        assert seen, "no worker thread was started"
        missing = [s for s in seen if not all(s.values())]
        assert not missing, f"a worker started before these were imported: {missing}"
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={"BGSUB_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize(("radius", "needed"), [
    ("'auto'", ("scipy.ndimage", "bgsub.auto")),  # the planner imports bgsub.auto meanwhile
    ("20", ("scipy.ndimage",)),
])
def test_first_estimate_starts_no_thread_before_scipy_is_imported(
        radius: str, needed: tuple[str, ...]) -> None:
    _run_fresh(f"""
        import numpy as np
        import bgsub

        image = np.random.default_rng(0).poisson(50, (256, 256)).astype(np.uint16)
        bgsub.estimate_background(image, method="robust", radius={radius})
    """, needed)
