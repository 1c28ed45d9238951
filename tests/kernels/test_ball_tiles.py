"""Tests for the tiled branch and bound of bgsub.kernels.ball (2D erosion and dilation).

The reference is a brute-force minimum, built here, over every offset of the ball of the sums
``pixel + cost`` with the costs tabulated as the module documents them (``height - height *
sqrt(1 - (dy / ry) ** 2 - (dx / rx) ** 2)``, in that order of operations), so the results must
be equal bit for bit, not merely close: every value the kernels return is one of these sums.
The images are small and the radii large, so that the tiles' bounds (which skip whole blocks of
pixels) decide nearly every value.
"""

from __future__ import annotations

import numpy as np
import pytest

from bgsub.kernels import _ball_tiles, ball
from bgsub.kernels.ball import ball_dilation, ball_erosion, ball_opening


def _costs(ry: float, rx: float, height: float, ny: int, nx: int):
    """``{dy: (dx, cost)}`` for the rows of the ball that fit in an ``ny x nx`` image."""
    tol = 1.0 + 1e-12
    rows = {}
    for dy in range(min(int(np.floor(ry)), ny - 1) + 1):
        q = 0.0 + (dy / ry) ** 2
        if not q <= tol:
            continue
        w = 0
        while w < nx - 1 and q + ((w + 1) / rx) ** 2 <= tol:
            w += 1
        dx = np.arange(-w, w + 1)
        frac = np.clip(1.0 - (q + (dx / rx) ** 2), 0.0, None)
        rows[dy] = (dx, height - height * np.sqrt(frac))
    return rows


def brute_min(x: np.ndarray, ry: float, rx: float, height: float) -> np.ndarray:
    """``min over the ball's offsets o inside the image of x[p + o] + cost(o)`` in float64."""
    x = np.asarray(x, dtype=np.float64)
    ny, nx = x.shape
    out = np.full(x.shape, np.inf)
    for dy, (dxs, cost) in _costs(ry, rx, height, ny, nx).items():
        for sy in {dy, -dy}:
            for dx, c in zip(dxs, cost, strict=True):
                # output p gets x[p + (sy, dx)] + c where p + (sy, dx) is inside
                ys, yd = (slice(sy, None), slice(0, ny - sy)) if sy >= 0 else (
                    slice(0, ny + sy), slice(-sy, None))
                xs, xd = (slice(dx, None), slice(0, nx - dx)) if dx >= 0 else (
                    slice(0, nx + dx), slice(-dx, None))
                np.minimum(out[yd, xd], x[ys, xs] + c, out=out[yd, xd])
    return out + 0.0


def brute_erosion(x, ry, rx, height):
    return brute_min(x, ry, rx, height).astype(x.dtype)


def brute_dilation(x, ry, rx, height):
    return (0.0 - brute_min(-np.asarray(x, dtype=np.float64), ry, rx, height)).astype(x.dtype)


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _images(seed: int, shape=(75, 90)):
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    noise = rng.normal(0, 15, shape)
    yield "noise", 400 + noise
    yield "flat", np.full(shape, 250.0)
    quant = np.round(rng.normal(0, 3, shape)) * 4 + 100  # many exact ties
    yield "ties", quant
    spike = np.full(shape, 100.0)
    spike[ny // 2, nx // 3] = 5000.0
    spike[ny // 4, 2 * nx // 3] = -300.0
    yield "spikes", spike
    yield "ramp", 3.0 * xx + 0.5 * yy + rng.normal(0, 1, shape)
    steep = 40.0 * xx - 25.0 * yy
    yield "steep", steep
    fov = 300 + noise
    fov[(yy - ny / 2) ** 2 + (xx - nx / 2) ** 2 > (0.4 * nx) ** 2] = 0.0
    yield "field_of_view", fov
    yield "saturated", np.minimum(np.round(60000 + 3000 * rng.normal(0, 1, shape)), 65535.0)
    bowl = 2000.0 - np.sqrt(np.clip(60.0**2 - (yy - ny / 2) ** 2 - (xx - nx / 2) ** 2, 0, None))
    yield "bowl", bowl  # near ties everywhere inside the ball's footprint


@pytest.fixture
def force_tiles(monkeypatch):
    monkeypatch.setattr(ball, "_FORCE_TILES", True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("radius", [33.0, 50.5, 120.0])
def test_tiles_match_brute_force(force_tiles, dtype, radius):
    for name, img in _images(int(radius)):
        x = img.astype(dtype)
        for fn, ref in ((ball_erosion, brute_erosion), (ball_dilation, brute_dilation)):
            got = fn(x, radius)
            want = ref(x, radius, radius, radius)
            assert got.dtype == dtype
            assert np.array_equal(bits(got), bits(want)), (name, fn.__name__)


@pytest.mark.parametrize("isa", [0, 1, 2])
def test_tiles_instruction_sets(force_tiles, monkeypatch, isa):
    # the scalar, AVX2 and AVX-512 versions (those the CPU has) give the same bits
    if isa > _ball_tiles.cpu_isa():
        pytest.skip("the CPU lacks this instruction set")
    monkeypatch.setattr(ball, "_TILES_ISA", isa)
    for name, img in _images(isa, shape=(64, 97)):
        for dtype in (np.float32, np.float64):
            x = img.astype(dtype)
            want = brute_erosion(x, 40.0, 40.0, 40.0)
            assert np.array_equal(bits(ball_erosion(x, 40.0)), bits(want)), (name, dtype)
            want = brute_dilation(x, 40.0, 40.0, 40.0)
            assert np.array_equal(bits(ball_dilation(x, 40.0)), bits(want)), (name, dtype)


@pytest.mark.parametrize("radius, height", [((40.0, 70.0), 10.0), ((64.0, 35.5), 300.0)])
def test_tiles_anisotropic(force_tiles, radius, height):
    for name, img in _images(7, shape=(100, 83)):
        got = ball_erosion(img, radius, height)
        want = brute_erosion(img, radius[0], radius[1], height)
        assert np.array_equal(bits(got), bits(want)), name


def test_tiles_small_radius_and_odd_shapes(force_tiles):
    rng = np.random.default_rng(3)
    for shape, radius in (((1, 40), 5.0), ((17, 1), 9.0), ((33, 47), 2.5), ((16, 16), 40.0),
                          ((5, 200), 60.0)):
        x = rng.normal(0, 10, shape)
        want = brute_erosion(x, radius, radius, radius)
        assert np.array_equal(bits(ball_erosion(x, radius)), bits(want)), shape


def test_tiles_opening(force_tiles):
    for name, img in _images(11):
        x = img.astype(np.float32)
        eroded = brute_min(x, 45.0, 45.0, 45.0)
        want = (0.0 - brute_min(-eroded, 45.0, 45.0, 45.0)).astype(np.float32)
        assert np.array_equal(bits(ball_opening(x, 45.0)), bits(want)), name


def test_tiles_non_finite_pixels(force_tiles):
    # the tiled kernel needs finite pixels: inf pixels go to the row-based kernel, same values
    rng = np.random.default_rng(5)
    x = rng.normal(100, 20, (60, 70))
    x[10, 10] = np.inf
    x[40, 50] = -np.inf
    x[59, 0] = np.inf
    for fn, ref in ((ball_erosion, brute_erosion), (ball_dilation, brute_dilation)):
        assert np.array_equal(bits(fn(x, 40.0)), bits(ref(x, 40.0, 40.0, 40.0)))


@pytest.mark.parametrize("budget", [(1e-3, 0.0), (0.3, 0.0), (1.0, 0.0)])
def test_tiles_give_up_within_budget(force_tiles, monkeypatch, budget):
    # a small budget makes the tiles give up part way (or at once): the row-based kernel does
    # the rows they left, from the input rows those need
    monkeypatch.setattr(ball, "_TILES_BUDGET", budget)
    rng = np.random.default_rng(8)
    x = rng.normal(0, 30, (300, 90))
    x[150:] = np.round(x[150:] / 40) * 40  # heavier below: ties
    for radius in (36.0, 70.0):
        want = brute_erosion(x, radius, radius, radius)
        assert np.array_equal(bits(ball_erosion(x, radius)), bits(want))
        want = brute_dilation(x, radius, radius, radius)
        assert np.array_equal(bits(ball_dilation(x, radius)), bits(want))


def test_tiles_and_rows_agree(monkeypatch):
    # a larger image, several tiles per thread: the two kernels give the same bits
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[:300, :333]
    x = (400 + 200 * np.sin(xx / 40.0) * np.cos(yy / 60.0) + rng.normal(0, 15, xx.shape))
    x = x.astype(np.float32)
    results = []
    for force in (False, True):
        monkeypatch.setattr(ball, "_FORCE_TILES", force)
        results.append([ball_erosion(x, 70.0), ball_dilation(x, 70.0), ball_opening(x, 70.0)])
    for a, b in zip(*results, strict=True):
        assert np.array_equal(bits(a), bits(b))


def test_tiles_used_by_radius():
    assert ball._use_tiles((ball._TILES_MIN_RADIUS,) * 2, 2)
    assert not ball._use_tiles((ball._TILES_MIN_RADIUS - 1,) * 2, 2)
    assert not ball._use_tiles((200.0, 200.0, 200.0), 3)
