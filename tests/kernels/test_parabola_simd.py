"""The paraboloid kernel's SIMD loops give the same doubles as its scalar loop.

The compiled module steps the stacks of 8 or 16 lines together in SIMD lanes where the CPU has
AVX-512 or AVX2 (``_parabola.set_simd``: level 2 or 1); elsewhere every line runs the scalar
loop (level 0). Every level must give bit-identical results; each test runs every SIMD level
the CPU has (a level it lacks is skipped). The references of the results themselves are in
``test_parabola.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from bgsub.kernels import _parabola
from bgsub.kernels.parabola import paraboloid_dilation, paraboloid_erosion, paraboloid_opening

_FUNCTIONS = (paraboloid_erosion, paraboloid_dilation, paraboloid_opening)

# the SIMD levels of set_simd: 1 AVX2, 2 AVX-512
_LEVELS = pytest.mark.parametrize("level", [1, 2], ids=["avx2", "avx512"])


def _use(level: int) -> None:
    """Force ``level``; skip the test where the CPU lacks it."""
    granted = _parabola.set_simd(level)
    if granted != level:
        _parabola.set_simd(True)
        pytest.skip(f"the CPU has no SIMD level {level} (best {granted})")


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, float | tuple[float, ...]]:
    ndim = int(rng.integers(1, 4))
    sizes = [1, 3, 8, 9, 15, 16, 17, 40, 70]
    shape = tuple(int(rng.choice(sizes)) for _ in range(ndim))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        image = rng.normal(0.0, 1.0, shape) * 10.0 ** rng.uniform(-2, 4)
    elif kind == 1:
        image = rng.integers(0, 4, shape).astype(np.float64)  # many equal heights
    else:
        image = np.cumsum(rng.normal(0.0, 1.0, shape), axis=-1)
    image = image.astype(rng.choice([np.float32, np.float64]))
    if rng.random() < 0.3:
        image[rng.random(shape) < 0.05] = np.inf
    if rng.random() < 0.1:
        image[rng.random(shape) < 0.01] = -np.inf
    if rng.random() < 0.5:
        return image, float(10.0 ** rng.uniform(-5, 4))
    return image, tuple(float(10.0 ** rng.uniform(-5, 4)) for _ in range(ndim))


@_LEVELS
@pytest.mark.parametrize("seed", range(4))
def test_simd_equals_scalar(seed: int, level: int) -> None:
    _use(level)
    rng = np.random.default_rng(seed)
    try:
        for _ in range(40):
            image, coeff = _random_case(rng)
            function = _FUNCTIONS[int(rng.integers(0, 3))]
            _parabola.set_simd(level)
            vector = function(image, coeff)
            _parabola.set_simd(False)
            scalar = function(image, coeff)
            assert vector.dtype == scalar.dtype == image.dtype
            assert np.array_equal(vector, scalar), (function.__name__, image.shape, coeff)
    finally:
        _parabola.set_simd(True)


def test_set_simd_reports_the_loop_in_use() -> None:
    try:
        assert _parabola.set_simd(False) is False
        assert isinstance(_parabola.set_simd(True), bool)
        best = _parabola.set_simd(-1)
        assert best in (0, 1, 2)
        assert _parabola.set_simd(True) is (best > 0)
        assert _parabola.set_simd(0) == 0
        for level in (1, 2, 3):
            # the highest level the CPU has at or below the one asked for
            assert _parabola.set_simd(level) == min(level, best)
    finally:
        _parabola.set_simd(True)


def _line_kinds(rng: np.random.Generator, shape: tuple[int, ...]) -> list[np.ndarray]:
    """Noise (shallow stacks), a smooth ramp and its erosion (deep stacks: every point on
    its stack), integer ties, lines of +inf among finite ones."""
    noise = rng.gamma(2.0, 40.0, shape) + np.linspace(0.0, 60.0, shape[-1])
    ties = rng.integers(0, 3, shape).astype(np.float64)
    smooth = np.cumsum(rng.normal(0.0, 1.0, shape), axis=-1)
    holes = noise.copy()
    holes[..., ::5] = np.inf  # a whole line of +inf every 5 along the last axis
    holes[(slice(None),) * (len(shape) - 1) + (slice(0, 1),)] = np.inf
    return [noise, ties, smooth, paraboloid_erosion(smooth, 0.05), holes]


@pytest.mark.parametrize("shape", [(37, 700), (700, 37), (16, 515), (3, 40, 129), (33, 8, 31),
                                   (300, 9), (300, 10), (200, 11), (9, 300), (2, 150, 7)])
@_LEVELS
def test_simd_blocks_of_16_equal_scalar(shape: tuple[int, ...], level: int) -> None:
    """The AVX-512 path's moves in and out (8 x 8 transposes along the contiguous axis,
    masked rows of up to 16 along a strided one, tails of fewer than 8 points), its stacks and
    its read-out from the top down, on long lines, for every dtype in and out and both
    signs (the opening's dilation of an erosion has every point on its stacks); blocks of 9
    or 10 lines (8 lanes and the scalar loop) and of fewer than 8 (the scalar loop)."""
    _use(level)
    rng = np.random.default_rng(sum(shape))
    try:
        for image in _line_kinds(rng, shape):
            for dtype in (np.float32, np.float64):
                for function in _FUNCTIONS:
                    for coeff in (0.003, 0.4):
                        x = image.astype(dtype)
                        _parabola.set_simd(level)
                        vector = function(x, coeff)
                        _parabola.set_simd(False)
                        scalar = function(x, coeff)
                        assert np.array_equal(vector, scalar), (function.__name__, dtype, coeff)
    finally:
        _parabola.set_simd(True)


@_LEVELS
def test_simd_blocks_with_nan_or_minus_inf_take_the_scalar_loop(level: int) -> None:
    """A block of 16 lines holding a NaN or a -inf is computed by the scalar loop (the
    read-out from the top down needs take-over points that rise); the others are not."""
    _use(level)
    rng = np.random.default_rng(5)
    try:
        for bad in (np.nan, -np.inf):
            image = rng.normal(0.0, 10.0, (40, 300))
            image[20, 150] = bad
            _parabola.set_simd(level)
            vector = paraboloid_erosion(image, 0.01)
            _parabola.set_simd(False)
            scalar = paraboloid_erosion(image, 0.01)
            assert np.array_equal(vector, scalar, equal_nan=True)
    finally:
        _parabola.set_simd(True)


def test_environment_variable_forces_a_level() -> None:
    """``BGSUB_PARABOLA_SIMD`` at import: at most that level (the whole suite can run at each)."""
    try:
        best = _parabola.set_simd(-1)
        assert _parabola.current_level() == best
        for level in (0, 1, 2):
            env = {**os.environ, "BGSUB_PARABOLA_SIMD": str(level)}
            out = subprocess.run(
                [sys.executable, "-c",
                 "from bgsub.kernels import _parabola; print(_parabola.current_level())"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()
            assert int(out) == min(level, best)
    finally:
        _parabola.set_simd(True)


@pytest.mark.parametrize("value", ["avx2", "3", "1.5"])
def test_environment_variable_that_is_not_a_level_warns(value: str) -> None:
    """A value that is not a level gets a one-line warning naming it, and the best loop."""
    env = {**os.environ, "BGSUB_PARABOLA_SIMD": value}
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c",
         "from bgsub.kernels import _parabola; print(_parabola.current_level())"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert f"BGSUB_PARABOLA_SIMD={value!r} is not a level" in out.stderr
    assert int(out.stdout.strip()) == _parabola.set_simd(-1)
