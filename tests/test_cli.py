"""The command line, driven in a subprocess as a user would."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import tifffile


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bgsub", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_demo_writes_the_corrected_image_and_a_figure(tmp_path):
    result = run_cli("demo", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    corrected = tifffile.imread(tmp_path / "out" / "sample_nuclei_foreground.tif")
    assert corrected.dtype == np.uint16 and corrected.shape == (512, 512)
    png = (tmp_path / "out" / "sample_nuclei_comparison.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert not list((tmp_path / "out").glob(".*partial"))


def test_methods_lists_every_method():
    result = run_cli("methods")
    assert result.returncode == 0
    for name in ("rolling_ball", "paraboloid", "tophat", "median", "mean", "gaussian", "dog"):
        assert name in result.stdout
