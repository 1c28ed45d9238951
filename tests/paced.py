"""``bgsub`` in a subprocess whose TIFF writes each take at least ``pause`` seconds longer.

The interrupt tests signal a batch once it has finished some outputs and expect it to be
still running. With the compiled kernels a batch of small files ends within a fraction of
a second of its first output, less than a busy machine may take to schedule the test
again; pausing after each TIFF is written to its temporary name (the batch still running,
a partial output on disk) makes that window ``pause`` times the outputs left. So that the
window does not depend on the load at all, ``hold_from`` holds the batch after that many
writes until the test, having sent its signal, creates the ``release`` file (at most
``HOLD_LIMIT`` seconds). (A file, not the signal itself: the write may run on a thread the
signal does not reach.) SIGINT is restored to Python's default first: a suite started as a
shell's background job passes it on ignored, and bgsub keeps an ignored SIGINT so. Nothing
else of the command changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PACED_MAIN = """
import os, signal, sys, time
import tifffile
from bgsub.cli import main

# SIGINT as at a terminal: a run started as a shell's background job inherits it ignored,
# and bgsub rightly leaves an ignored SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)

write = tifffile.imwrite
written = 0

def paced(*args, **kwargs):
    global written
    result = write(*args, **kwargs)
    written += 1
    time.sleep(PAUSE)
    if HOLD_FROM and written >= HOLD_FROM:
        limit = time.monotonic() + HOLD_LIMIT
        while not os.path.exists(RELEASE) and time.monotonic() < limit:
            time.sleep(0.01)
    return result

tifffile.imwrite = paced
main(prog_name="bgsub")
"""


HOLD_LIMIT = 120.0


def start_paced_cli(*args: str, pause: float = 0.25, hold_from: int = 0,
                    release: Path | None = None) -> subprocess.Popen:
    """Start ``bgsub ARGS`` with every ``tifffile.imwrite`` followed by ``pause`` seconds,
    and from the ``hold_from``-th write on (0: never) by a wait until the ``release`` file
    exists (at most ``HOLD_LIMIT`` seconds)."""
    if hold_from and release is None:
        raise ValueError("hold_from needs a release file")
    code = (_PACED_MAIN.replace("PAUSE", repr(float(pause)))
            .replace("HOLD_FROM", repr(int(hold_from))).replace("HOLD_LIMIT", repr(HOLD_LIMIT))
            .replace("RELEASE", repr(str(release))))
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
