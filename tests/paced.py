"""``bgsub`` in a subprocess whose TIFF writes each take at least ``pause`` seconds longer.

The interrupt tests signal a batch once it has finished some outputs and expect it to be
still running. With the compiled kernels a batch of small files ends within a fraction of
a second of its first output, less than a busy machine may take to schedule the test
again; pausing after each TIFF is written to its temporary name (the batch still running,
a partial output on disk) makes that window ``pause`` times the outputs left, whatever
the load. Nothing else of the command changes.
"""

from __future__ import annotations

import subprocess
import sys

_PACED_MAIN = """
import sys, time
import tifffile
from bgsub.cli import main

write = tifffile.imwrite

def paced(*args, **kwargs):
    result = write(*args, **kwargs)
    time.sleep(PAUSE)
    return result

tifffile.imwrite = paced
main(prog_name="bgsub")
"""


def start_paced_cli(*args: str, pause: float = 0.25) -> subprocess.Popen:
    """Start ``bgsub ARGS`` with every ``tifffile.imwrite`` followed by ``pause`` seconds."""
    code = _PACED_MAIN.replace("PAUSE", repr(float(pause)))
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
