"""Multichannel pyramidal OME-TIFF in, pyramidal OME-TIFF out: peak memory, the pyramid read back.

An 8-channel uint16 image of ``--size`` x ``--size`` pixels (a smooth uneven
background, bright spots and noise, made channel by channel) is written as a
tiled OME-TIFF with sub-resolutions, then ``bgsub run --format ome-tiff
--pyramid auto --chunks auto`` (streamed, so the memory bound holds at any
size) corrects it in a child process. Printed: the input's and output's
sizes, the run's wall time and the child's peak resident memory (polled),
the output's levels and tiles as tifffile reads them, and whether level 0 equals
``bgsub.subtract_background`` of each channel (computed here, a channel at a time).

The target of issue #17 is 16384 x 16384 (4 GiB in) under 1.5 GiB peak; the
default here is 4096 (256 MiB) to fit a shared 2-core machine.

    PYTHONPATH=src python benchmarks/bench_pyramid.py [--size 4096] [--channels 8] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import tifffile

import bgsub

METHOD, RADIUS = "tophat", 15


def channel(size: int, c: int) -> np.ndarray:
    """One channel: a tilted, curved background, 2000 bright spots and Poisson-like noise."""
    rng = np.random.default_rng(c)
    yy, xx = np.ogrid[:size, :size]
    page = (200 + 100 * c + 0.02 * xx + 300 * np.sin(yy / size * np.pi)).astype(np.float32)
    spots = rng.integers(0, size, (2000, 2))
    for y, x in spots:
        page[max(0, y - 3):y + 4, max(0, x - 3):x + 4] += 800
    page += rng.normal(0, 20, page.shape).astype(np.float32)
    return np.clip(page, 0, 65535).astype(np.uint16)


def tiles(pages: Iterator[np.ndarray], tile: int = 512) -> Iterator[np.ndarray]:
    for page in pages:
        for y in range(0, page.shape[0], tile):
            for x in range(0, page.shape[1], tile):
                block = np.zeros((tile, tile), page.dtype)
                part = page[y:y + tile, x:x + tile]
                block[:part.shape[0], :part.shape[1]] = part
                yield block


def write_input(path: Path, size: int, channels: int) -> None:
    """A tiled pyramidal OME-TIFF as a whole-slide scanner's converter writes it (tifffile)."""
    levels = max(1, int(np.log2(size / 512)))
    options = {"tile": (512, 512), "compression": "zlib", "photometric": "minisblack"}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        tif.write(tiles(channel(size, c) for c in range(channels)), shape=(channels, size, size),
                  dtype=np.uint16, subifds=levels, resolution=(2e4, 2e4),
                  resolutionunit="CENTIMETER", metadata={
                      "axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                      "Channel": {"Name": [f"marker{c}" for c in range(channels)]}}, **options)
        for k in range(1, levels + 1):
            step = 2**k
            tif.write(tiles(channel(size, c)[::step, ::step] for c in range(channels)),
                      shape=(channels, -(-size // step), -(-size // step)), dtype=np.uint16,
                      subfiletype=1, **options)


def run_measured(command: list[str]) -> tuple[int, str, int]:
    """Run ``command``; its exit code, stderr and peak resident memory (polled every 20 ms).

    Polled with psutil rather than read from ``RUSAGE_CHILDREN``: a child forked
    from this process inherits its high-water mark through ``exec``.
    """
    peak = 0
    with psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                      text=True) as child:
        while child.poll() is None:
            try:
                peak = max(peak, child.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)
        stderr = child.stderr.read() if child.stderr else ""
    return child.returncode, stderr, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 4 channels")
    args = parser.parse_args()
    size, channels = (2048, 4) if args.quick else (args.size, args.channels)
    with tempfile.TemporaryDirectory(dir=".") as folder:
        folder = Path(folder)
        source = folder / "slide.ome.tif"
        write_input(source, size, channels)
        with tifffile.TiffFile(source) as tif:
            levels_in = [level.shape for level in tif.series[0].levels]
        started = time.perf_counter()
        code, stderr, peak = run_measured([
            sys.executable, "-m", "bgsub", "run", str(source), "-o", str(folder / "out"),
            "--format", "ome-tiff", "--pyramid", "auto", "--chunks", "auto", "--method", METHOD,
            "--radius", str(RADIUS), "-j", "2", "-q"])
        seconds = time.perf_counter() - started
        if code != 0:
            print(stderr)
            return 1
        output = folder / "out" / "slide.ome.tif"
        nbytes = channels * size * size * 2
        print(f"input : {channels} x {size} x {size} uint16 ({nbytes / 2**20:.0f} MiB), "
              f"levels {levels_in}, file {source.stat().st_size / 2**20:.0f} MiB")
        print(f"run   : {seconds:.1f} s, child peak RSS {peak / 2**20:.0f} MiB "
              f"({peak / nbytes:.2f} x the image)")
        equal = True
        with tifffile.TiffFile(output) as tif:
            series = tif.series[0]
            page = series.levels[0].keyframe
            print(f"output: {output.stat().st_size / 2**20:.0f} MiB, OME {tif.is_ome}, "
                  f"levels {[level.shape for level in series.levels]}, tiles "
                  f"{page.tilelength} x {page.tilewidth}, SubIFDs per page "
                  f"{len(tif.pages[0].subifds or ())}")
            level0 = series.aszarr(level=0)
            import zarr

            stored = zarr.open(level0, mode="r")
            for c in range(channels):
                expected = bgsub.subtract_background(channel(size, c), METHOD, RADIUS)
                got = stored[c] if stored.ndim == 3 else stored[...]  # one channel: YX
                equal &= bool(np.array_equal(np.asarray(got), expected))
        print(f"level 0 equal to subtract_background, channel by channel: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
