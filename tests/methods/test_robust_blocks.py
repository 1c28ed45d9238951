"""The default's faster building blocks give NumPy's and SciPy's own values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from bgsub.kernels import bins as robust_bins
from bgsub.kernels.blocks import plane_block_means
from bgsub.methods import _noise, _robust_blocks, _robust_mode, _robust_trend, robust


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


def _values(shape: tuple[int, ...], dtype: type, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 3, size=shape)).astype(dtype)
    values[rng.random(shape) < 0.05] = -0.0
    return values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("f", [1, 2, 3, 5, 8, 9, 16, 17, 130])
def test_block_sums_equal_reduceat(dtype, f):
    for shape in [(3 * f + 2, 7), (2 * f, 5), (2 * f + 1, f + 3, 4), (max(f - 1, 1), 6)]:
        values = _values(shape, dtype, f)
        for axis in range(len(shape)):
            expected = np.add.reduceat(values, np.arange(0, shape[axis], f), axis=axis)
            _same(_robust_blocks.block_sums(values, f, axis), expected)


@pytest.mark.parametrize("factor", [(5, 5), (16, 16), (1, 4), (3, 2, 2), (1, 3, 3)])
def test_block_min_in_strips_equals_whole(monkeypatch, factor):
    image = _values((61, 47) if len(factor) == 2 else (13, 22, 17), np.float32, 1)
    monkeypatch.setattr(_robust_blocks, "STRIP", 10**9)
    whole = _robust_blocks.block_min(image, factor)
    for strip in (1, 4, 7, 32):
        monkeypatch.setattr(_robust_blocks, "STRIP", strip)
        _same(_robust_blocks.block_min(image, factor), whole)


def _widened(narrow, ufunc):
    """The wider windows' result, assembled from ``robust._wider_strips``."""
    out = np.empty_like(narrow)
    for rows, strip in robust._wider_strips(narrow, ufunc):
        out[rows] = strip
    return out


@pytest.mark.parametrize("shape", [(1, 9), (2, 2), (17, 23), (5, 1, 8), (6, 7, 9)])
@pytest.mark.parametrize("ufunc", [np.minimum, np.maximum])
def test_widen_equals_filtering_again(shape, ufunc):
    values = np.round(_values(shape, np.float64, 2))
    filters = {np.minimum: ndi.minimum_filter, np.maximum: ndi.maximum_filter}
    for reach in range(4):
        narrow = filters[ufunc](values, size=2 * reach + 1, mode="nearest")
        wide = filters[ufunc](values, size=2 * reach + 3, mode="nearest")
        _same(_widened(narrow, ufunc), wide)
        with pytest.MonkeyPatch.context() as patch:  # (strips of one row and more)
            for cells in (1, 2 * values[0].size + 1):
                patch.setattr(robust, "STRIP_CELLS", cells)
                _same(_widened(narrow, ufunc), wide)


@pytest.mark.parametrize("shape", [(1, 9), (2, 2), (17, 23), (5, 1, 8), (6, 7, 9)])
@pytest.mark.parametrize("ufunc", [np.minimum, np.maximum])
def test_blend_in_place_reads_each_strips_neighbours_as_they_were(shape, ufunc):
    """The blend towards the wider windows, made strip by strip in the filter's own buffer,
    gives the values of blending with the whole wider result made first (the rows either
    side of a strip are read before their own blend)."""
    values = _values(shape, np.float64, 3)
    filters = {np.minimum: ndi.minimum_filter, np.maximum: ndi.maximum_filter}
    narrow = filters[ufunc](values, size=3, mode="nearest")
    outer = filters[ufunc](values, size=5, mode="nearest")
    outer -= narrow
    outer *= 0.3
    expected = narrow + outer
    for cells in (1, 7, 10**6):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(robust, "STRIP_CELLS", cells)
            blended = narrow.copy()
            robust._blend_wider(blended, ufunc, 0.3)
        _same(blended, expected)


def _numpy_second_differences(values, axis, where):
    """The definition: NumPy's second differences along ``axis``, where ``where`` holds at
    the middle cell."""
    second = np.diff(values, 2, axis=axis)
    if where is None:
        return second.ravel()
    inner = [slice(None)] * values.ndim
    inner[axis] = slice(1, -1)
    return second[where[tuple(inner)]]


@pytest.mark.parametrize("shape", [(3, 9), (17, 23), (5, 4, 8), (6, 7, 9)])
@pytest.mark.parametrize("masked", [False, True])
def test_second_differences_equal_numpys_selection(shape, masked):
    values = _values(shape, np.float64, 3)
    where = _values(shape, np.float64, 4) > 0 if masked else None
    for axis in range(len(shape)):
        want = _numpy_second_differences(values, axis, where)
        for cells in (1, 7, robust.STRIP_CELLS):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(robust, "STRIP_CELLS", cells)
                strips = list(robust._second_differences(values, axis, where))
                assert len(strips) > 1 or cells == robust.STRIP_CELLS
                _same(np.concatenate(strips), want)


@pytest.mark.parametrize("shape", [(3, 9), (40, 37), (6, 7, 9)])
@pytest.mark.parametrize("masked", [False, True, "empty"])
def test_local_bending_equals_numpys_percentile_of_the_copy(shape, masked):
    """The bending's 90th percentile taken from strips made twice equals NumPy's on the
    whole second differences (with any strip height and the compiled selection on few
    values: ``_SELECT_FROM`` lowered)."""
    surface = np.cumsum(np.cumsum(_values(shape, np.float64, 5), 0), -1)
    where = None if masked is False else _values(shape, np.float64, 6) > 0
    if masked == "empty":
        where[...] = False
    smooth = ndi.gaussian_filter(surface, [min(1.5, n / 8) for n in shape], mode="nearest")
    want = []
    for axis in range(len(shape)):
        second = _numpy_second_differences(smooth, axis, where)
        want.append(0.0 if not second.size
                    else 0.5 * max(0.0, float(np.percentile(-second, 90))))
    for cells in (1, 7, robust.STRIP_CELLS):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(robust, "STRIP_CELLS", cells)
            if cells == 7:  # (the compiled selection on these few values too)
                patch.setattr(robust_bins, "_SELECT_FROM", 1)
            got = robust._local_bending(surface, (1.5,) * len(shape), 1.0, where)
            assert got.tolist() == want


def test_over_support_equals_the_whole_division():
    values, support = _values((37, 11), np.float64, 7), np.abs(_values((37, 11), np.float64, 8))
    support[:3] = 0.0
    want = values / np.maximum(support, 1e-12)
    for cells in (1, 7, robust.STRIP_CELLS):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(robust, "STRIP_CELLS", cells)
            got = values.copy()
            robust._over_support(got, support)
            _same(got, want)


def _far_rise_whole(envelope, far, rise, window, cell_radius):
    """``robust._far_rise`` as it was written before its grids were freed early: every
    grid whole, the support held throughout (the reference for the same values)."""
    if not far.any() or far.all():
        return rise
    sigma = tuple(max(w, robust.FAR_WINDOW * c) for w, c in zip(window, cell_radius, strict=True))
    step = tuple(max(1, min(int(s / robust.FAR_BLOCKS), n))
                 for s, n in zip(sigma, far.shape, strict=True))

    def windowed(values):
        if max(step) == 1:
            return ndi.gaussian_filter(values, sigma, mode="reflect")
        within = tuple(s / k for s, k in zip(sigma, step, strict=True))
        small = ndi.gaussian_filter(_robust_blocks.block_mean(values, step), within, mode="reflect")
        return robust.upsample_centres(small, step, far.shape)

    support = windowed(far)
    level = windowed(envelope * far) / np.maximum(support, 1e-12)
    bias = windowed((level - envelope) * far) / np.maximum(support, 1e-12)
    level = np.clip(envelope - (level - bias), 0.0, None)
    level *= support / (support + robust.PRIOR)
    level *= 1.0 - far
    for axis, (s, n) in enumerate(zip(sigma, level.shape, strict=True)):
        inward = np.minimum(np.arange(n), np.arange(n)[::-1]) / max(s, 1e-12)
        shape = [1] * level.ndim
        shape[axis] = n
        level *= np.clip(inward, 0.0, 1.0).reshape(shape)
    return np.maximum(rise, level)


@pytest.mark.parametrize("cell_radius", [4.0, 8.0, 30.0])  # (windows on single cells, blocks)
def test_far_rise_equals_the_whole_computation(cell_radius):
    rng = np.random.default_rng(int(cell_radius))
    envelope = ndi.gaussian_filter(rng.normal(size=(90, 70)), 5.0) * 50.0
    far = np.clip(ndi.gaussian_filter(rng.random((90, 70)), 3.0) * 4.0 - 1.5, 0.0, 1.0)
    rise = np.abs(rng.normal(size=(90, 70)))
    window = (0.25 * cell_radius,) * 2
    want = _far_rise_whole(envelope, far, rise.copy(), window, (cell_radius,) * 2)
    got = robust._far_rise(envelope, far, rise.copy(), window, (cell_radius,) * 2)
    _same(got, want)


def test_stable_argsort_equals_numpy():
    rng = np.random.default_rng(4)
    for n in (1, 2, 9, 1000, 50_000):
        for values in (rng.integers(0, 7, n).astype(np.float64),
                       np.round(rng.normal(size=n), 1) * rng.choice([-1.0, 1.0], n),
                       np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 3, n) * 1.0),
                       np.where(rng.random(n) < 0.5, -0.0, 0.0)):
            np.testing.assert_array_equal(_noise._stable_argsort(values),
                                          np.argsort(values, kind="stable"))


def test_sorted_median_equals_numpy():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 11, 1000):
        values = np.sort(rng.normal(size=n))
        assert _noise._sorted_median(values) == float(np.median(values))


@pytest.mark.parametrize("step", [2, 3, 4, 8, 9, 17, 130])
def test_plane_block_means_equal_numpy_mean(step):
    # (its own pairwise sums: NumPy's order, below 8, up to 128 and beyond)
    for shape in [(5 * step + 3, 7 * step + 1), (2 * step, 40 * step), (step, 3 * step)]:
        plane = _values(shape, np.float64, step)
        plane[:step, :step] = -0.0
        rows, cols = (n // step * step for n in shape)
        expected = plane[:rows, :cols].reshape(rows // step, step, cols // step, step).mean(
            axis=(1, 3))
        _same(plane_block_means(plane, step), expected)


def _block_min_reference(image: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """The block minima of the 2-pixel moving average, as the docstring defines them."""
    values = image.copy()
    for axis, f in enumerate(factor):
        if f > 1 and image.shape[axis] > 1:
            here = [slice(None)] * image.ndim
            ahead = [slice(None)] * image.ndim
            here[axis], ahead[axis] = slice(0, -1), slice(1, None)
            total = values[tuple(here)] + values[tuple(ahead)]
            values[tuple(here)] = total * values.dtype.type(0.5)
    for axis, f in enumerate(factor):
        values = np.minimum.reduceat(values, np.arange(0, values.shape[axis], f), axis=axis)
    return values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (2, 2), (61, 47), (130, 7)])
@pytest.mark.parametrize("factor", [(2, 2), (5, 3), (1, 4), (3, 1), (16, 16), (200, 200)])
def test_compiled_block_extremes_equal_numpy(dtype, shape, factor):
    # exact values (a zero extreme's sign may differ: NumPy's own depends on its SIMD path)
    image = _values(shape, dtype, 3)
    minima = _robust_blocks.block_min(image, factor)
    assert minima.dtype == image.dtype
    np.testing.assert_array_equal(minima, _block_min_reference(image, factor))
    maxima = _robust_blocks.block_max(image, factor)
    expected = image
    for axis, f in enumerate(factor):
        expected = np.maximum.reduceat(expected, np.arange(0, shape[axis], f), axis=axis)
    assert maxima.dtype == np.float64
    np.testing.assert_array_equal(maxima, expected.astype(np.float64))
    image[0, -1] = np.nan  # NaN propagates, as in np.minimum and np.maximum
    np.testing.assert_array_equal(_robust_blocks.block_min(image, factor),
                                  _block_min_reference(image, factor))
    assert np.isnan(_robust_blocks.block_max(image, factor)[0, -1])


def test_fill_holes_equals_scipy():
    from bgsub.auto import _holes

    rng = np.random.default_rng(5)
    for shape in [(1, 1), (1, 6), (6, 1), (3, 3), (40, 57), (256, 256)]:
        for level in (0.0, 0.3, 0.5, 0.7, 1.1):
            for sigma in (0.0, 1.5):
                mask = ndi.gaussian_filter(rng.random(shape), sigma) > level
                rest, edge = _holes(mask)
                np.testing.assert_array_equal(~edge[rest], ndi.binary_fill_holes(mask))


@pytest.mark.parametrize("degree", [0, 1, 2, 4, 6, 8])
def test_trend_at_rows_equal_terms(degree):
    rng = np.random.default_rng(degree)
    for shape in [(70, 70), (33, 70), (70, 33), (1, 40), (40, 1), (5, 300)]:
        terms = _robust_trend._trend_terms(shape, degree)
        coeffs = rng.normal(0.0, 10.0 ** rng.uniform(-5, 5), len(terms))
        coeffs[rng.random(len(terms)) < 0.3] = -0.0
        trend = _robust_trend.Trend(tuple(terms), coeffs)
        coords = [np.linspace(-1.0, 1.0, n) * rng.uniform(0.5, 1.5) for n in shape]
        _same(trend.at(coords), trend._at_terms(coords))


@pytest.mark.parametrize("degree", [1, 4, 8])
def test_trend_design_products_equal_prod(degree):
    rng = np.random.default_rng(degree)
    for shape in [(20, 30), (12, 12, 5)]:
        terms = _robust_trend._trend_terms(shape, degree)
        grids = [g.ravel() for g in np.meshgrid(*[rng.normal(size=n) for n in shape],
                                                 indexing="ij")]
        expected = [np.prod([grids[axis] for axis in term], axis=0) if term
                    else np.ones(grids[0].size) for term in terms]
        design = _robust_trend._design(terms, grids)
        assert design.shape == (grids[0].size, len(terms)) and design.flags.c_contiguous
        _same(design, np.stack(expected, axis=1))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 5000), spread=st.floats(0.0, 10.0), nan=st.booleans(),
       seed=st.integers(0, 2**16))
def test_keep_weights_equal_the_cosine_step_everywhere(n, spread, nan, seed):
    """The trend's cell weights, the cosine taken only between the ends: the same weights as
    the step written out over every cell, bit for bit (NaN where the excess is NaN)."""
    excess = np.random.default_rng(seed).normal(0.0, 3.0, n)
    if nan and n:
        excess[n // 2] = np.nan
    got = _robust_trend._keep_weights(excess, spread)
    if spread > 0:
        want = 0.5 + 0.5 * np.cos(np.pi * np.clip((excess / spread + 1.0) / 2.0, 0.0, 1.0))
    else:
        want = (excess <= 0).astype(np.float64)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("fn", [ndi.maximum_filter, ndi.minimum_filter])
def test_box_filter_equals_scipy(fn):
    rng = np.random.default_rng(3)
    for k, shape in enumerate([(60, 61), (1, 30), (30, 1), (9, 20, 7)]):
        values = _values(shape, np.float64, k)
        if k == 1:
            values[rng.random(shape) < 0.1] = np.inf
        if k == 2:
            values[0] = np.nan
        for inner in [(0,) * len(shape), tuple(int(r) for r in rng.integers(0, 40, len(shape)))]:
            expected = fn(values, size=tuple(2 * r + 1 for r in inner), mode="nearest")
            _same(robust._box_filter(fn, values, inner), expected)
            positive = np.abs(values)  # (no negative zero: the compiled path)
            _same(robust._box_filter(fn, positive, inner),
                  fn(positive, size=tuple(2 * r + 1 for r in inner), mode="nearest"))


def test_refine_mode_on_bins_follows_the_mean_shift_over_the_values():
    # the mean shift on values summed on fine bins (each bin weighted at its mean) against
    # the textbook one over every value, written out here: within 1e-5 of the bandwidth
    rng = np.random.default_rng(5)
    for k in range(20):
        values = rng.normal(rng.normal(0, 100), 10.0 ** rng.uniform(-3, 3), 1 + 500 * k)
        if k % 2:
            values = np.round(values)
        start, bandwidth = float(np.median(values)) + rng.normal(), 10.0 ** rng.uniform(-3, 2)
        near = values[np.abs(values - start) <= 4 * bandwidth]
        centre = start
        for _ in range(_robust_mode.MODE_SHIFTS):
            weights = np.exp(-0.5 * ((near - centre) / bandwidth) ** 2)
            total = float(weights.sum())
            if not total > 0:
                break
            weights *= near
            centre = float(weights.sum() / total)
        got = _robust_mode._refine_mode(values, start, bandwidth)
        assert abs(got - centre) <= 1e-5 * bandwidth + 1e-12 * abs(centre), (k, got, centre)


def test_uniform_noise_without_bins_equals_binned(monkeypatch):
    rng = np.random.default_rng(6)
    images = [rng.poisson(200.0, (96, 96)).astype(float), rng.normal(0.0, 1e-120, (64, 64)),
              np.round(rng.normal(0.0, 1.0, (64, 64))), np.tile(np.arange(64.0), (64, 1)),
              rng.normal(100.0, 5.0, (12, 40, 30))]
    fast = [_noise.estimate_noise(image, uniform=True) for image in images]
    monkeypatch.setattr(_noise, "_surely_binned", lambda size, residual: False)
    assert fast == [_noise.estimate_noise(image, uniform=True) for image in images]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 5000), scale=st.floats(1e-3, 1e3), tail=st.floats(0.0, 0.9),
       width=st.floats(0.01, 2.0), seed=st.integers(0, 2**16))
def test_mode_bandwidth_equals_silvermans_with_the_sd(n, scale, tail, width, seed):
    """The sd skipped where it cannot matter: the bandwidth of the formula with it."""
    rng = np.random.default_rng(seed)
    score = (rng.normal(size=n) * scale).astype(np.float32)
    score[rng.random(n) < tail] += np.float32(10.0 * scale)  # (objects: a heavy right tail)
    low, q1, q3, high = np.percentile(score, [0.5, 25, 75, 99])
    spread = min(float(np.std(score)), float(q3 - q1) / 1.34)
    silverman = _robust_mode.MODE_SILVERMAN * spread * n ** -0.2
    want = max(width, min(_robust_mode.MODE_SMOOTH_CAP, silverman))
    want = min(want, float(high - low))
    assert _robust_mode._mode_bandwidth(score, width, float(high - low), float(q3 - q1)) == want
