"""The opening's scatter dilation (bgsub.kernels._ball_scatter) against a brute force."""

from __future__ import annotations

import numpy as np
import pytest

from bgsub.kernels import _ball_scatter, ball


def brute_dilation(image: np.ndarray, radii: tuple[float, float], height: float,
                   dtype: type) -> np.ndarray:
    """``-round(min over offsets of (-image[c]) + cost(p - c))``: the row kernel's sums."""
    widths, _, costs = ball._row_profiles(radii, height, image.shape)
    pad = (costs.shape[2] - 1) // 2
    ny, nx = image.shape
    neg = -image.astype(np.float64)
    best = np.full(image.shape, np.inf)
    for dy in range(-(widths.shape[1] - 1), widths.shape[1]):
        w = int(widths[0, abs(dy)])
        for dx in range(-w, w + 1):
            cost = costs[0, abs(dy), pad + dx]
            # output p = c + (dy, dx)
            ys, yd = slice(max(0, -dy), min(ny, ny - dy)), slice(max(0, dy), min(ny, ny + dy))
            xs, xd = slice(max(0, -dx), min(nx, nx - dx)), slice(max(0, dx), min(nx, nx + dx))
            np.minimum(best[yd, xd], neg[ys, xs] + cost, out=best[yd, xd])
    rounded = best.astype(dtype)
    return (0.0 - rounded.astype(np.float64)).astype(dtype)


def scatter(image: np.ndarray, radii: tuple[float, float], height: float, dtype: type,
            nthreads: int, minima: type | None = None) -> np.ndarray:
    """The kernel's dilation, its running minima in ``minima`` (default: ``dtype``)."""
    widths, _, costs = ball._row_profiles(radii, height, image.shape)
    tabs = _ball_scatter.tables(costs[0], (costs.shape[2] - 1) // 2)
    scale = float(np.abs(image).max()) + float(costs[costs < np.inf].max())
    out = np.empty(image.shape, dtype)
    scratch = np.full(_ball_scatter.scratch_shape(*image.shape, nthreads, tabs), np.nan,
                      dtype=minima or dtype)
    _ball_scatter.scatter_dilate(np.ascontiguousarray(image, dtype=np.float64), out, scratch,
                                 -1.0, tabs, 2.0**-49 * scale + 1e-300, nthreads)
    return out


def _images(shape: tuple[int, int], radius: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    noise = rng.normal(100.0, 20.0, shape)
    blobs = 50.0 * np.sin(yy / 7.0) * np.cos(xx / 5.0) + 0.3 * xx + 0.1 * yy * yy / ny
    spikes = np.full(shape, 10.0)
    spikes[rng.integers(0, ny, 6), rng.integers(0, nx, 6)] = 400.0
    out = {
        "flat": np.full(shape, 7.0),
        "ramp": 3.0 * xx - 2.0 * yy,
        "steep": 40.0 * xx + 25.0 * yy,
        "spikes": spikes,
        "noise": noise,
        "quantised": np.round(noise / 16.0) * 16.0,
        "blobs": blobs,
    }
    # the opening's real input: an erosion by the same ball (smooth, creases, near-ties)
    for name in ("noise", "blobs", "quantised"):
        out[f"eroded_{name}"] = ball._morph(out[name], radius, None, 1.0, out_dtype=np.float64)
    return out


@pytest.mark.parametrize("radius", [3.0, 7.5, 16.0, 40.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_matches_brute_force(radius: float, dtype: type) -> None:
    shape = (53, 61)
    for name, image in _images(shape, radius, int(radius)).items():
        expected = brute_dilation(image, (radius, radius), radius, dtype)
        for nthreads in (1, 3, 7):
            got = scatter(image, (radius, radius), radius, dtype, nthreads)
            assert np.array_equal(got, expected), (name, nthreads)
        if dtype is np.float32:
            # float64 minima rounded at the end: the same bits as float32 ones
            got = scatter(image, (radius, radius), radius, dtype, 2, np.float64)
            assert np.array_equal(got, expected), name


def test_scatter_float32_minima_need_float32_output() -> None:
    image = np.zeros((8, 9))
    with pytest.raises(AssertionError):
        scatter(image, (3.0, 3.0), 3.0, np.float64, 1, np.float32)


@pytest.mark.parametrize("radii,height", [((5.0, 12.0), 3.0), ((20.0, 6.5), 50.0),
                                          ((30.0, 30.0), 0.5)])
def test_scatter_anisotropic_and_flat_balls(radii: tuple[float, float], height: float) -> None:
    for name, image in _images((47, 38), min(radii), 5).items():
        if name.startswith("eroded"):
            image = ball._morph(image * 0 + _images((47, 38), 3.0, 1)["noise"], radii, height,
                                1.0, out_dtype=np.float64)
        expected = brute_dilation(image, radii, height, np.float64)
        assert np.array_equal(scatter(image, radii, height, np.float64, 2), expected), name


def test_scatter_ball_larger_than_image() -> None:
    image = ball._morph(np.random.default_rng(3).normal(0.0, 5.0, (9, 23)), 40.0, None, 1.0,
                        out_dtype=np.float64)
    for radius in (40.0, 200.0):
        expected = brute_dilation(image, (radius, radius), radius, np.float64)
        assert np.array_equal(scatter(image, (radius, radius), radius, np.float64, 2), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_opening_same_with_and_without_scatter(dtype: type, monkeypatch) -> None:
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[:90, :110]
    image = 200.0 + 30.0 * np.sin(xx / 9.0) + 0.5 * yy + rng.normal(0.0, 4.0, xx.shape)
    image = image.astype(dtype)
    for radius in (4.0, 25.0, (12.0, 30.0)):
        height = None if np.ndim(radius) == 0 else 20.0
        monkeypatch.setattr(ball, "_FORCE_SCATTER", False)
        before = ball.ball_opening(image, radius, height)
        monkeypatch.setattr(ball, "_FORCE_SCATTER", True)
        after = ball.ball_opening(image, radius, height)
        assert after.dtype == image.dtype
        assert np.array_equal(before, after), radius


def test_tables_envelopes_are_monotone() -> None:
    _, _, costs = ball._row_profiles((25.0, 25.0), 25.0, (100, 100))
    C, L, rise, W, o, K, GT, mono = _ball_scatter.tables(costs[0], (costs.shape[2] - 1) // 2)
    assert mono
    for table in (L, K, GT, GT.T, rise[np.newaxis]):
        assert np.all(table[:, 1:] >= table[:, :-1])


@pytest.mark.parametrize("radius", [12.0, 60.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_pixel_path_matches_brute_force(radius: float, dtype: type) -> None:
    # inside an eroded bowl most centres are checked against their left neighbour's pixel
    # without searching; the counters show that path ran, the brute force that it left out
    # no pixel a centre wins (bounds loosened on purpose make this fail)
    rng = np.random.default_rng(21)
    yy, xx = np.mgrid[:96, :130]
    raw = 150.0 + 20.0 * np.sin(xx / 11.0) * np.cos(yy / 8.0) + rng.normal(0.0, 6.0, xx.shape)
    image = ball._morph(raw, radius, None, 1.0, out_dtype=np.float64)
    expected = brute_dilation(image, (radius, radius), radius, dtype)
    widths, _, costs = ball._row_profiles((radius, radius), radius, image.shape)
    tabs = _ball_scatter.tables(costs[0], (costs.shape[2] - 1) // 2)
    scale = float(np.abs(image).max()) + float(costs[costs < np.inf].max())
    for nthreads in (1, 2):
        out = np.empty(image.shape, dtype)
        scratch = np.full(_ball_scatter.scratch_shape(*image.shape, nthreads, tabs), np.nan,
                          dtype=dtype)
        counters = _ball_scatter.scatter_dilate(image, out, scratch, -1.0, tabs,
                                                2.0**-49 * scale + 1e-300, nthreads)
        assert counters[2] > image.size // 4
        assert np.array_equal(out, expected)


@pytest.mark.parametrize("radius", [9.0, 24.0, 60.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crease_window_matches_brute_force(radius: float, dtype: type) -> None:
    # a centre with three rows or more (a crease between eroded bowls) scans one window for
    # all of them, bounded by its nearest and farthest rows' searches (L monotone in |dy|);
    # the counters show that path ran, the brute force that the window left out no pixel a
    # centre wins (a window from the nearest row alone makes this fail), and the per-row path
    # (tables marked not monotone) gives the same bits
    rng = np.random.default_rng(int(radius))
    yy, xx = np.mgrid[:88, :117]
    raw = (120.0 + 25.0 * np.sin(xx / 6.0 + yy / 9.0) + 0.4 * xx
           + rng.normal(0.0, 8.0, xx.shape))
    raw[rng.integers(0, 88, 40), rng.integers(0, 117, 40)] -= 60.0  # pits: more creases
    for image in (ball._morph(raw, radius, None, 1.0, out_dtype=np.float64),
                  ball._morph(np.round(raw / 10.0) * 10.0, radius, None, 1.0,
                              out_dtype=np.float64)):
        expected = brute_dilation(image, (radius, radius), radius, dtype)
        widths, _, costs = ball._row_profiles((radius, radius), radius, image.shape)
        tabs = _ball_scatter.tables(costs[0], (costs.shape[2] - 1) // 2)
        assert tabs[7]
        scale = float(np.abs(image).max()) + float(costs[costs < np.inf].max())
        for mono in (True, False):
            for nthreads in (1, 2):
                out = np.empty(image.shape, dtype)
                scratch = np.full(_ball_scatter.scratch_shape(*image.shape, nthreads, tabs),
                                  np.nan, dtype=dtype)
                counters = _ball_scatter.scatter_dilate(
                    image, out, scratch, -1.0, (*tabs[:7], mono), 2.0**-49 * scale + 1e-300,
                    nthreads)
                assert (counters[3] > 0) == mono
                assert np.array_equal(out, expected), (mono, nthreads)
