"""SHA-256 of every compiled kernel's output on fixed inputs: compare two builds bit for bit.

The kernels promise the same bits whatever the build (with or without OpenMP, GCC or clang,
any SIMD level picked at load time) and whatever the thread count. Run this once per build
(or per ``BGSUB_NUM_THREADS``) and compare the printed digests, e.g.::

    PYTHONPATH=build-a/src python tools/kernel_digest.py > a.txt
    PYTHONPATH=build-b/src BGSUB_NUM_THREADS=1 python tools/kernel_digest.py > b.txt
    diff a.txt b.txt && echo bit-identical

The first line names the kernels' files and whether they link OpenMP (it differs between
builds by design; ``diff`` it away with ``tail -n +2``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np

import bgsub
from bgsub.kernels import _flat, ball, flat, imagej, parabola, rank
from bgsub.methods.imagej import imagej_subtract


def _images() -> Iterator[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(2024)
    for dtype in (np.uint8, np.uint16, np.float32, np.float64):
        for shape in ((300, 333), (6, 70, 81)):
            data = rng.gamma(2.0, 40.0, shape) + np.linspace(0, 60, shape[-1])
            yield f"{np.dtype(dtype).name}{shape}", data.astype(dtype)


def _cases() -> Iterator[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    for shape in ("disk", "box"):
        for r in (1, 4, 17):
            yield f"flat_opening r={r} {shape}", lambda x, r=r, s=shape: flat.flat_opening(x, r, s)
            yield f"flat_erosion r={r} {shape}", lambda x, r=r, s=shape: flat.flat_erosion(x, r, s)
        yield f"median r=5 {shape}", lambda x, s=shape: rank.median_filter(x, 5, s)
        yield f"mean r=5 {shape}", lambda x, s=shape: rank.mean_filter(x, 5, s)
    for r in (3.0, 12.5, 40.0, 150.0):
        yield f"ball_opening r={r}", lambda x, r=r: ball.ball_opening(x.astype(np.float32), r)
    for r in (40.0, 150.0):
        yield f"ball_erosion r={r}", lambda x, r=r: ball.ball_erosion(x.astype(np.float64), r)
    for c in (0.01, 0.3):
        yield f"paraboloid_opening c={c}", lambda x, c=c: parabola.paraboloid_opening(
            x.astype(np.float64), c)


def _imagej_cases(plane: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    for v154 in (False, True):
        work = plane.astype(np.float32)
        imagej.sliding_paraboloid(work, 20.0, invert=False, presmooth=True,
                                  correct_corners=True, v154=v154)
        yield f"imagej sliding_paraboloid v154={v154}", work
        for light in (False, True):
            yield (f"imagej subtract r=25 v154={v154} light={light}",
                   imagej_subtract(plane.astype(np.uint16), 25, light_background=light,
                                   version="1.54t" if v154 else "1.53t"))


def _digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(array.dtype.str.encode() + str(array.shape).encode()
                          + array.tobytes()).hexdigest()[:16]


def main() -> None:
    with open(_flat.__file__, "rb") as module:
        binary = module.read()
    openmp = b"GOMP_" in binary or b"__kmpc_" in binary  # GCC's libgomp, LLVM's libomp
    print(f"# {_flat.__file__}: OpenMP linked: {openmp}")
    for name, image in _images():
        for case, run in _cases():
            print(f"{name:22s} {case:32s} {_digest(run(image))}")
    plane = next(image for name, image in _images() if name == "float32(300, 333)")
    for case, result in _imagej_cases(plane):
        print(f"{'float32(300, 333)':22s} {case:32s} {_digest(result)}")
    for method in (m.name for m in bgsub.list_methods()):
        try:
            result = bgsub.subtract_background(plane.astype(np.uint16), method, 15)
        except (TypeError, ValueError) as exc:  # a method that needs more options
            print(f"{'uint16(300, 333)':22s} method {method:25s} {type(exc).__name__}")
            continue
        print(f"{'uint16(300, 333)':22s} method {method:25s} {_digest(result)}")


if __name__ == "__main__":
    main()
