"""Fuzz bgsub's file readers with mutated TIFF, OME-TIFF, ImageJ, PNG, JPEG and Zarr inputs.

Every mutated input goes through :func:`bgsub.io.probe` and
:func:`bgsub.io.read_image` in a worker process. The oracle: each call either
returns a valid array (its dimensions match the metadata's axes, its size is
within the limit) or raises bgsub's documented one-line error
(``UnsupportedFileError``, including ``ImageTooLargeError`` for a declared
size over the limit). Anything else is a failure: another exception type, a
message over several lines, a worker that dies (a crash in a codec) or that
does not answer within ``--timeout`` seconds (a hang), an allocation larger
than a few times the limit (measured with ``tracemalloc``, which sees NumPy's
allocations), or a ``MemoryError`` behind the error (a huge allocation was
attempted).

Mutations are seeded and reproducible: byte flips, interesting integers
(0, 1, 0xFFFF, 2**31-1, 2**32-1, ...) written over header fields, truncation,
deleted and duplicated slices; PNG chunks get their CRC fixed half the time
(so that libpng looks past it), and Zarr metadata is also mutated as JSON
(a random value replaced by an interesting one).

Examples
--------
``python benchmarks/fuzz_readers.py --seconds 120`` (what ``make fuzz`` runs);
``--max-inputs 300 --seed 1`` is the bounded run of ``tests/test_fuzz_readers.py``.
Failing inputs are kept in ``--keep DIR`` for replay with ``--replay FILE``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import shutil
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Readers may allocate at most this much per image during fuzzing.
LIMIT = 64 * 2**20
#: tracemalloc peak above which an input counts as a huge allocation.
PEAK_LIMIT = 4 * LIMIT + 32 * 2**20
INTERESTING = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**40, 2**63 - 1)
JSON_VALUES: tuple[Any, ...] = (0, -1, 1, 2**31, 2**62, 1e308, -0.5, "", "x", "<u2", "float128",
                                "|O", None, True, [], {}, [0], [2**31, 2**31],
                                [100000, 100000, 1000], {"name": "x"})


@dataclass
class Seed:
    """A valid input to mutate: a file, or a Zarr store (a folder of files)."""

    name: str
    path: Path
    store: bool = False

    def files(self) -> list[Path]:
        """The files a mutation may change."""
        if not self.store:
            return [self.path]
        return sorted(p for p in self.path.rglob("*") if p.is_file())


@dataclass
class Report:
    """What a fuzz run tried and found."""

    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    by_seed: Counter = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "seconds": round(self.seconds, 1),
                "inputs_per_second": round(self.inputs / max(self.seconds, 1e-9), 1),
                "outcomes": dict(self.outcomes), "by_seed": dict(self.by_seed),
                "failures": self.failures}


# -- seeds --------------------------------------------------------------------------------


def make_seeds(folder: Path) -> list[Seed]:
    """Small valid files of every format bgsub reads."""
    import imagecodecs
    import numpy as np
    import tifffile

    from bgsub.io import ImageMetadata, write_image

    rng = np.random.default_rng(0)
    plane = rng.integers(0, 4000, (24, 20), dtype=np.uint16)
    stack = rng.integers(0, 255, (2, 3, 16, 12), dtype=np.uint8)
    rgb = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "plain.tif": lambda p: tifffile.imwrite(p, plane),
        "zlib.tif": lambda p: tifffile.imwrite(p, plane, compression="zlib"),
        "tiled.tif": lambda p: tifffile.imwrite(p, np.tile(plane, (2, 2)), tile=(16, 16)),
        "bigtiff.tif": lambda p: tifffile.imwrite(p, stack[0], bigtiff=True,
                                                  photometric="minisblack"),
        "pages.tif": lambda p: tifffile.imwrite(p, stack[0], photometric="minisblack"),
        "float.tif": lambda p: tifffile.imwrite(p, plane.astype(np.float32) / 7,
                                                predictor=True, compression="zlib"),
        "rgb.tif": lambda p: tifffile.imwrite(p, rgb, photometric="rgb"),
        "cells.ome.tif": lambda p: tifffile.imwrite(p, stack, ome=True, metadata={
            "axes": "CZYX", "PhysicalSizeX": 0.2, "Channel": {"Name": ["a", "b"]}}),
        "hyper.tif": lambda p: tifffile.imwrite(p, stack.transpose(1, 0, 2, 3).copy(),
                                                imagej=True, metadata={"axes": "ZCYX",
                                                                       "spacing": 1.0}),
        "grey.png": lambda p: p.write_bytes(imagecodecs.png_encode(plane)),
        "rgb.png": lambda p: p.write_bytes(imagecodecs.png_encode(rgb)),
        "photo.jpg": lambda p: p.write_bytes(imagecodecs.jpeg8_encode(rgb)),
    }
    seeds = []
    for name, write in files.items():
        write(folder / name)
        seeds.append(Seed(name, folder / name))
    meta = ImageMetadata("CZYX", spacing={"Z": 1.0, "Y": 0.5, "X": 0.5},
                         units={"Z": "µm", "Y": "µm", "X": "µm"}, channel_names=("a", "b"))
    write_image(folder / "cells.ome.zarr", stack, meta, {"seed": 1}, format="ome-zarr")
    write_image(folder / "plain.zarr", plane, ImageMetadata("YX"), format="zarr")
    seeds += [Seed("cells.ome.zarr", folder / "cells.ome.zarr", True),
              Seed("plain.zarr", folder / "plain.zarr", True)]
    return seeds


# -- mutations ----------------------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One to four random byte-level mutations of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += bytes([rng.randrange(256)])
        # headers (TIFF IFDs, PNG IHDR, JPEG SOF) are near the start: aim there half the time
        span = min(len(out), 512) if rng.random() < 0.5 else len(out)
        pos = rng.randrange(span)
        kind = rng.randrange(7)
        if kind == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[pos] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x01))
        elif kind == 2:
            size, order = rng.choice((2, 4, 8)), rng.choice("<>")
            value = rng.choice(INTERESTING) & ((1 << (8 * size)) - 1)
            packed = struct.pack(order + {2: "H", 4: "I", 8: "Q"}[size], value)
            out[pos:pos + size] = packed
        elif kind == 3:
            del out[rng.randrange(len(out) + 1):]
        elif kind == 4:
            del out[pos:pos + rng.randint(1, 64)]
        elif kind == 5:
            end = min(len(out), pos + rng.randint(1, 64))
            out[pos:pos] = out[pos:end]
        else:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out)


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every PNG chunk's CRC, so that a mutation reaches the decoder."""
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 4:pos + 8 + length]
        out += data[pos:pos + 8 + length] + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        pos = end
    return bytes(out + data[pos:])


def mutate_json(text: bytes, rng: random.Random) -> bytes:
    """Replace one value anywhere in a JSON document by an interesting one."""
    try:
        document = json.loads(text)
    except ValueError:
        return mutate_bytes(text, rng)
    slots = list(_slots(document))
    if not slots:
        return mutate_bytes(text, rng)
    container, key = rng.choice(slots)
    container[key] = rng.choice(JSON_VALUES)
    return json.dumps(document).encode()


def _slots(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _slots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _slots(value)


def mutated_copy(seed: Seed, target: Path, rng: random.Random) -> Path:
    """A mutated copy of ``seed`` at ``target`` (a file, or a store with one file changed)."""
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    if not seed.store:
        data = mutate_bytes(seed.path.read_bytes(), rng)
        if seed.name.endswith(".png") and rng.random() < 0.5:
            data = fix_png_crcs(data)
        target.write_bytes(data)
        return target
    shutil.copytree(seed.path, target)
    files = sorted(p for p in target.rglob("*") if p.is_file())
    chosen = rng.choice(files)
    raw = chosen.read_bytes()
    is_json = chosen.name in ("zarr.json", ".zarray", ".zattrs", ".zgroup")
    chosen.write_bytes(mutate_json(raw, rng) if is_json and rng.random() < 0.7
                       else mutate_bytes(raw, rng))
    return target


# -- the oracle, run in a worker process ----------------------------------------------------


def check_input(path: Path) -> tuple[str, str]:
    """``(outcome, detail)`` of probing and reading ``path``; outcome ``fail:*`` breaks the rule."""
    import tracemalloc

    import numpy as np

    from bgsub.io import ImageTooLargeError, UnsupportedFileError, probe, read_image

    tracemalloc.start()
    try:
        _, count = probe(path)
        for series in range(min(count, 3)):
            image, meta = read_image(path, series, max_bytes=LIMIT)
            if not isinstance(image, np.ndarray) or image.ndim != len(meta.axes):
                return "fail:invalid", f"{type(image).__name__} {getattr(image, 'shape', '')} " \
                                       f"axes {meta.axes!r}"
            if image.nbytes > LIMIT:
                return "fail:over-limit", f"{image.shape} {image.dtype}"
        outcome, detail = "ok", ""
    except ImageTooLargeError as exc:
        if isinstance(exc.__cause__, MemoryError):
            return "fail:memoryerror", str(exc)
        outcome, detail = "refused-too-large", str(exc)
    except UnsupportedFileError as exc:
        outcome, detail = "refused", str(exc)
    except OSError as exc:
        outcome, detail = ("os-error", str(exc)) if exc.errno is not None else (
            "fail:exception", f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return "fail:exception", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if peak > PEAK_LIMIT:
        return "fail:allocation", f"peak {peak} bytes; {outcome}: {detail}"
    if "\n" in detail:
        return "fail:multi-line", detail
    return outcome, detail


def _worker(connection: Any) -> None:
    import logging
    import os

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    # libpng prints "PNG warning: ..." from C; keep the report on stdout clean
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    while True:
        path = connection.recv()
        if path is None:
            return
        connection.send(check_input(Path(path)))


class Worker:
    """A worker process that reads inputs; replaced when it crashes or hangs."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()

    def check(self, path: Path, timeout: float) -> tuple[str, str]:
        self.connection.send(str(path))
        if self.connection.poll(timeout):
            try:
                return self.connection.recv()
            except EOFError:
                pass
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
            return "fail:hang", f"no answer within {timeout:g} s"
        self.process.join()
        return "fail:crash", f"worker died with exit code {self.process.exitcode}"

    def close(self) -> None:
        if self.process.is_alive():
            self.connection.send(None)
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()


# -- driver -------------------------------------------------------------------------------


def fuzz(seconds: float | None = 120.0, *, seed: int = 0, max_inputs: int | None = None,
         timeout: float = 20.0, keep: Path | None = None,
         progress: bool = False) -> Report:
    """Run the fuzzer until ``seconds`` pass or ``max_inputs`` inputs were tried."""
    rng = random.Random(seed)
    report = Report()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bgsub-fuzz-") as tmp:
        seeds = make_seeds(Path(tmp) / "seeds")
        worker = Worker()
        # the first answer includes the worker's imports: allow it time
        first = worker.check(seeds[0].path, max(timeout, 120.0))
        report.outcomes["seed-ok" if first[0] == "ok" else "seed-" + first[0]] += 1
        try:
            while (max_inputs is None or report.inputs < max_inputs) and (
                    seconds is None or time.monotonic() - start < seconds):
                chosen = rng.choice(seeds)
                suffix = "".join(chosen.path.suffixes) or ".bin"
                target = mutated_copy(chosen, Path(tmp) / f"input{suffix}", rng)
                outcome, detail = worker.check(target, timeout)
                report.inputs += 1
                report.outcomes[outcome] += 1
                report.by_seed[chosen.name] += 1
                if outcome.startswith("fail:"):
                    report.failures.append(_record(report, chosen, outcome, detail, target,
                                                   keep))
                    if outcome in ("fail:hang", "fail:crash"):
                        worker = Worker()
                if progress and report.inputs % 500 == 0:
                    print(f"{report.inputs} inputs, {dict(report.outcomes)}", file=sys.stderr)
        finally:
            worker.close()
    report.seconds = time.monotonic() - start
    return report


def _record(report: Report, seed: Seed, outcome: str, detail: str, target: Path,
            keep: Path | None) -> dict[str, Any]:
    entry = {"input": report.inputs, "seed": seed.name, "outcome": outcome,
             "detail": detail[:300]}
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        kept = keep / f"{report.inputs:06d}-{target.name}"
        if target.is_dir():
            shutil.copytree(target, kept, dirs_exist_ok=True)
        else:
            shutil.copy(target, kept)
        entry["kept"] = str(kept)
    return entry


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print a JSON report, exit 1 if anything broke the rule."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="time budget")
    parser.add_argument("--max-inputs", type=int, default=None, help="stop after this many")
    parser.add_argument("--seed", type=int, default=0, help="random seed (reproducible)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--keep", type=Path, default=None, help="folder for failing inputs")
    parser.add_argument("--replay", type=Path, default=None, help="check one kept input")
    args = parser.parse_args(argv)
    if args.replay is not None:
        print(check_input(args.replay))
        return 0
    report = fuzz(args.seconds, seed=args.seed, max_inputs=args.max_inputs,
                  timeout=args.timeout, keep=args.keep, progress=True)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
