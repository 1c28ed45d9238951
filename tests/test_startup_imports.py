"""``import bgsub`` and ``bgsub --help`` load no heavy dependency: each waits for its first use.

Each case runs in a fresh interpreter and lists which of the heavy modules ended up in
``sys.modules``; no timing is measured (``benchmarks/bench_startup.py`` does that).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

# imported only by the functions that need them (docs/benchmarks.md, start-up)
HEAVY = ("dask", "distributed", "zarr", "numcodecs", "ome_types", "ome_zarr_models", "pydantic",
         "matplotlib", "matplotlib_scalebar", "skimage", "tifffile", "imagecodecs", "PIL",
         "psutil", "tqdm", "scipy.ndimage", "scipy.fft", "scipy.signal", "zstandard")
# what reading and writing a plain TIFF still leaves out
NOT_FOR_TIFF = ("dask", "distributed", "zarr", "numcodecs", "ome_types", "ome_zarr_models",
                "pydantic", "matplotlib", "skimage", "zstandard", "PIL")


def _loaded(code: str, modules: tuple[str, ...], *args: str) -> list[str]:
    """Which of ``modules`` a fresh interpreter running ``code`` has imported."""
    script = (f"{code}\nimport json, sys\n"
              f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                            text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_bgsub_loads_no_heavy_dependency():
    assert _loaded("import bgsub", HEAVY) == []


def test_public_names_still_resolve():
    code = ("import bgsub\n"
            "names = [bgsub.subtract_background, bgsub.estimate_background, bgsub.list_methods,\n"
            "         bgsub.get_method, bgsub.from_imagej, bgsub.correct_shading,\n"
            "         bgsub.estimate_shading, bgsub.ShadingProfile, bgsub.io.read_image,\n"
            "         bgsub.data.sample]")
    # bgsub.io (reached as an attribute) brings tifffile, not Zarr, OME or Dask
    assert _loaded(code, NOT_FOR_TIFF) == []


def test_cli_help_loads_no_heavy_dependency():
    code = ("import sys\nfrom bgsub.cli import main\n"
            "try:\n    main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass")
    assert _loaded(code, HEAVY) == []


@pytest.mark.parametrize("method", ["robust", "paraboloid"])
def test_plain_tiff_round_trip_needs_no_zarr_ome_or_dask(tmp_path, method):
    source = tmp_path / "plane.tif"
    tifffile.imwrite(source, np.random.default_rng(0).integers(0, 4000, (64, 64), np.uint16))
    code = ("import sys, bgsub\n"
            "image, meta = bgsub.io.read_image(sys.argv[1])\n"
            f"out = bgsub.subtract_background(image, {method!r}, radius=5)\n"
            "bgsub.io.write_image(sys.argv[2], out, meta)")
    assert _loaded(code, NOT_FOR_TIFF, str(source), str(tmp_path / "out.tif")) == []
    assert tifffile.imread(tmp_path / "out.tif").shape == (64, 64)
