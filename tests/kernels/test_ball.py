"""Tests for bgsub.kernels.ball (rolling-ball erosion, dilation and opening).

References
----------
* ``skimage.restoration.rolling_ball`` with ``ball_kernel`` / ``ellipsoid_kernel``
  (integer radii), run on float64.
* ``scipy.ndimage.grey_erosion`` / ``grey_dilation`` with an explicit non-flat
  ellipsoid structure built independently here (any radii), pixels outside the
  image ignored (``cval=+inf`` for erosion, ``-inf`` for dilation).

Tolerances
----------
* float64 input: ``ATOL64 = 1e-9`` absolute (the kernels are exact up to rounding).
* float32 input: result must match the float64 reference rounded to float32
  within ``1e-3`` grey levels plus one float32 ulp of the value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi
from skimage.restoration import ball_kernel, ellipsoid_kernel, rolling_ball

from bgsub.kernels import ball
from bgsub.kernels.ball import ball_dilation, ball_erosion, ball_opening, ball_support

ATOL64 = 1e-9
ATOL32 = 1e-3


def _structure(radius, height):
    """Independent construction of the ellipsoid's footprint and additive structure.

    Offsets on the surface within the relative tolerance count as inside, also
    just beyond ``floor(r)`` (e.g. offset 2 for ``r = 2 - 2e-15``).
    """
    half = [int(np.floor(r * (1 + 1e-12))) for r in radius]
    grids = np.meshgrid(*[np.arange(-f, f + 1) for f in half], indexing="ij")
    q = np.zeros(grids[0].shape)
    for g, r in zip(grids, radius, strict=True):
        q += (g / r) ** 2
    footprint = q <= 1.0 + 1e-12
    structure = np.where(footprint, height * np.sqrt(np.clip(1.0 - q, 0.0, None)) - height, 0.0)
    return footprint, structure


def ref_erosion(x, radius, height):
    fp, s = _structure(radius, height)
    x = np.asarray(x, dtype=np.float64)
    return ndi.grey_erosion(x, footprint=fp, structure=s, mode="constant", cval=np.inf)


def ref_dilation(x, radius, height):
    fp, s = _structure(radius, height)
    x = np.asarray(x, dtype=np.float64)
    return ndi.grey_dilation(x, footprint=fp, structure=s, mode="constant", cval=-np.inf)


def assert_close(got, ref, dtype):
    """Compare with the stated tolerance for the input dtype."""
    assert got.dtype == dtype
    if dtype == np.float32:
        ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        np.testing.assert_array_less(np.abs(got.astype(np.float64) - ref), ATOL32 + ulp)
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL64)


ROW_METHODS = {
    # name: (forced method, lower bounds, pruning); see bgsub.kernels.ball
    "auto": (0, -1, True),
    "auto-bounds-nolists": (0, 1, True),
    "direct": (1, 0, True),
    "gather": (2, 1, True),
    "gather-unpruned": (2, 0, False),
    "envelope": (3, 0, True),
    "envelope-unpruned": (3, 1, False),
}


@pytest.fixture(params=list(ROW_METHODS))
def row_method(request, monkeypatch):
    """Run a test with the default per-row method choice, or one path forced.

    "direct", "gather" and "envelope" force that 1D method on every row (the
    envelope also on rows of width 0); "-unpruned" keeps every pixel as a
    candidate.  The lower-bound skipping (two sweeps) is forced on for
    "gather", "envelope-unpruned" and "auto-bounds-nolists", off for the
    others except "auto".  "auto-bounds-nolists" makes candidate lists too
    expensive to build, so the cost model uses every pixel (group 0).
    """
    force, bounds, prune = ROW_METHODS[request.param]
    monkeypatch.setattr(ball, "_FORCE_METHOD", force)
    monkeypatch.setattr(ball, "_FORCE_BOUNDS", bounds)
    monkeypatch.setattr(ball, "_PRUNE", prune)
    if request.param == "auto-bounds-nolists":
        monkeypatch.setattr(ball, "_COST_CANDIDATES", (1e9, 0.0))
    if force == 3:
        monkeypatch.setattr(ball, "_ENVELOPE_MIN_WIDTH", -1)
    return request.param


def _image(shape, dtype, seed=0, kind="noise"):
    rng = np.random.default_rng(seed)
    if kind == "noise":
        x = rng.normal(100.0, 30.0, size=shape)
    elif kind == "integer":  # many exact ties
        x = rng.integers(0, 5, size=shape) * 3.0
    else:  # smooth background plus spots
        grids = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
        x = 50 + 40 * np.sin(sum(grids)) + 200 * (rng.random(shape) > 0.97)
    return x.astype(dtype)


# ----------------------------------------------------------------------------
# Against skimage
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("radius", [1, 2, 5, 12])
@pytest.mark.parametrize("shape", [(31, 47), (7, 5), (1, 9)])
def test_erosion_matches_skimage_ball_2d(shape, radius, dtype, row_method):
    x = _image(shape, dtype, seed=radius)
    ref = rolling_ball(x.astype(np.float64), kernel=ball_kernel(radius, 2))
    assert_close(ball_erosion(x, (float(radius),) * 2), ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("radius", [1, 3])
def test_erosion_matches_skimage_ball_3d(radius, dtype, row_method):
    x = _image((9, 11, 13), dtype, seed=3)
    ref = rolling_ball(x.astype(np.float64), radius=radius)
    assert_close(ball_erosion(x, float(radius)), ref, dtype)


@pytest.mark.parametrize(
    ("semi_axes", "height"), [((3, 7), 10.0), ((6, 2), 2.5), ((1, 4), 40.0), ((2, 3, 4), 5.0)]
)
def test_erosion_matches_skimage_ellipsoid(semi_axes, height, row_method):
    shape = (23, 29) if len(semi_axes) == 2 else (9, 10, 11)
    x = _image(shape, np.float64, seed=1, kind="smooth")
    kernel = ellipsoid_kernel([2 * a + 1 for a in semi_axes], height)
    ref = rolling_ball(x, kernel=kernel)
    got = ball_erosion(x, tuple(float(a) for a in semi_axes), height)
    assert_close(got, ref, np.float64)


def test_skimage_default_call_float32():
    """skimage's float32 path (float32 arithmetic) agrees within the float32 tolerance."""
    x = _image((40, 40), np.float32, seed=5, kind="smooth")
    ref = rolling_ball(x, radius=6).astype(np.float64)
    got = ball_erosion(x, 6.0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL32)


# ----------------------------------------------------------------------------
# Against scipy with the explicit non-flat structure (any radii)
# ----------------------------------------------------------------------------


CASES_2D = [
    ((2.5, 2.5), None),
    ((3.7, 1.2), 4.0),
    ((0.5, 6.3), 9.0),
    ((5.0, 5.0), 0.3),
    ((1.0, 1.0), None),
    ((40.0, 33.3), 25.0),  # larger than the image
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("radius", "height"), CASES_2D)
@pytest.mark.parametrize("kind", ["noise", "integer", "smooth"])
def test_erosion_dilation_2d_match_scipy(radius, height, kind, dtype, row_method):
    x = _image((21, 34), dtype, seed=7, kind=kind)
    h = radius[0] if height is None else height
    assert_close(ball_erosion(x, radius, height), ref_erosion(x, radius, h), dtype)
    assert_close(ball_dilation(x, radius, height), ref_dilation(x, radius, h), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("radius", "height"), [((1.5, 2.5, 3.5), 4.0), ((2.0, 2.0, 2.0), None), ((0.7, 3.2, 1.1), 2.0)]
)
def test_erosion_dilation_3d_match_scipy(radius, height, dtype, row_method):
    x = _image((7, 9, 12), dtype, seed=11, kind="noise")
    h = radius[0] if height is None else height
    assert_close(ball_erosion(x, radius, height), ref_erosion(x, radius, h), dtype)
    assert_close(ball_dilation(x, radius, height), ref_dilation(x, radius, h), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_opening_is_dilation_of_erosion(dtype, row_method):
    x = _image((25, 31), dtype, seed=2, kind="smooth")
    radius, h = (4.5, 3.5), 6.0
    ref = ref_dilation(ref_erosion(x, radius, h), radius, h)
    assert_close(ball_opening(x, radius, h), ref, dtype)


def test_large_radius_envelope_on_wide_rows():
    """Wide rows of noisy data go through the envelope under the default choice."""
    x = _image((9, 240), np.float64, seed=4, kind="noise")
    radius = (3.0, 100.0)
    assert ball._ENVELOPE_MIN_WIDTH < 100
    assert_close(ball_erosion(x, radius, 20.0), ref_erosion(x, radius, 20.0), np.float64)


def _brute_erosion(x, radius, height):
    """Direct evaluation of the definition over all pixel pairs (small images only)."""
    pts = np.indices(x.shape).reshape(x.ndim, -1).T
    vals = x.astype(np.float64).ravel()
    out = np.empty(vals.size)
    for i, p in enumerate(pts):
        q = (((pts - p) / np.asarray(radius)) ** 2).sum(axis=1)
        inside = q <= 1.0 + 1e-12
        k = height * np.sqrt(np.clip(1.0 - q[inside], 0.0, None))
        out[i] = np.min(vals[inside] + height - k)
    return out.reshape(x.shape)


@pytest.mark.parametrize(
    ("shape", "radius", "height"),
    [((6, 9), (1e5, 3e4), 50.0), ((3, 4, 5), (2e4, 7.5, 1e6), 8.0), ((5, 7), (2.0, 1e7), 1.0)],
)
def test_ball_much_larger_than_image(shape, radius, height, row_method):
    x = _image(shape, np.float64, seed=9, kind="noise")
    np.testing.assert_allclose(
        ball_erosion(x, radius, height), _brute_erosion(x, radius, height), rtol=0, atol=1e-9
    )


def test_exact_ties_on_sphere_surface():
    """Offsets exactly on the ball (e.g. (3, 4) for r = 5) belong to the support."""
    fp, _ = ball_support(5.0)
    assert fp[5 + 3, 5 + 4] and fp[5 + 4, 5 - 3]
    x = np.full((11, 11), 10.0)
    x[5 + 3, 5 + 4] = 0.0
    assert ball_erosion(x, 5.0)[5, 5] == pytest.approx(5.0)


def test_single_pixel_and_inf_values():
    x = np.array([[3.0]])
    assert ball_erosion(x, (2.0, 2.0))[0, 0] == 3.0
    y = np.array([[1.0, np.inf, 2.0], [np.inf, np.inf, np.inf], [-np.inf, 0.0, 5.0]])
    for radius in [(1.0, 1.0), (2.5, 2.5)]:
        for fn, ref in ((ball_erosion, ref_erosion), (ball_dilation, ref_dilation)):
            got = fn(y, radius)
            assert not np.isnan(got).any()
            np.testing.assert_array_equal(got, ref(y, radius, radius[0]))


def test_dtype_shape_and_input_untouched():
    x = _image((6, 8), np.float32)
    before = x.copy()
    for fn in (ball_erosion, ball_dilation, ball_opening):
        out = fn(x, 2.0)
        assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(x, before)
    # non-contiguous input is accepted
    xt = _image((8, 6), np.float64).T
    assert_close(ball_erosion(xt, 2.0), ref_erosion(xt, (2.0, 2.0), 2.0), np.float64)


def test_invalid_arguments():
    x = np.zeros((4, 4))
    with pytest.raises(TypeError):
        ball_erosion(x.astype(np.int32), 2.0)
    with pytest.raises(ValueError):
        ball_erosion(np.zeros(4), 2.0)
    with pytest.raises(ValueError):
        ball_erosion(x, (2.0, 3.0))  # anisotropic needs a height
    with pytest.raises(ValueError):
        ball_erosion(x, (2.0, 0.0), 1.0)
    with pytest.raises(ValueError):
        ball_erosion(x, 2.0, height=0.0)
    with pytest.raises(ValueError):
        ball_erosion(x, (1.0, 1.0, 1.0))


def test_ball_support_structure():
    fp, s = ball_support((1.0, 1.0))
    np.testing.assert_array_equal(fp, [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert s[1, 1] == 0.0 and s[0, 1] == -1.0 and s[0, 0] == -np.inf


def test_support_within_rounding_of_an_integer_radius():
    """A radius just below an integer keeps the offset on its surface, like the kernel does."""
    r = 2.0 - 2e-15
    fp, _ = ball_support((1.0, r), 1.0)
    assert fp.shape == (3, 5) and fp[1, 0] and fp[1, 4]
    x = np.full((1, 5), 10.0)
    x[0, 0] = 0.0  # reaches x = 2 only through the offset on the surface, at cost 1
    assert ball_erosion(x, (1.0, r), 1.0)[0, 2] == pytest.approx(1.0)


# ----------------------------------------------------------------------------
# Pruning, lower bounds and blocking (the fast paths)
# ----------------------------------------------------------------------------


def _hard_rows(n, rng):
    """Rows that stress the pruning: ties, plateaus, steep ramps, spikes, infinities."""
    ramp = np.arange(n) * 1000.0
    yield np.repeat(rng.integers(0, 3, (n + 3) // 4), 4)[:n] * 1.0  # plateaus of 4, ties
    yield np.full(n, 7.0)  # constant: every pixel ties with its neighbours
    yield np.full(n, 1e6)  # ties where tiny margins vanish in rounding (the margin floor)
    yield ramp  # steep: every neighbour to the left is far lower
    yield ramp[::-1].copy()
    yield np.minimum(ramp, ramp[::-1])  # a V
    yield np.where(np.arange(n) % 2 == 0, 0.0, 1e6)  # alternating
    yield 1e6 + rng.integers(0, 2, n) * np.spacing(1e6)  # ties one ulp apart at 1e6
    row = rng.normal(0.0, 50.0, n)
    row[rng.random(n) < 0.1] = np.inf
    row[rng.random(n) < 0.05] = -np.inf
    yield row
    yield rng.normal(0.0, 50.0, n)


def _erode_row_brute(g, cs, w):
    """``min_b g[b] + cs[x - b + w]`` over ``|x - b| <= w`` (NaN-free: ``-inf + inf`` skipped)."""
    n = g.size
    out = np.full(n, np.inf)
    for x in range(n):
        for b in range(max(0, x - w), min(n, x + w + 1)):
            v = g[b] + cs[x - b + w]
            if v < out[x]:
                out[x] = v
    return out


@pytest.mark.parametrize(
    ("radius", "height"), [((3.0, 40.0), 8.0), ((20.0, 20.0), None), ((2.0, 5e5), 1e-3)]
)
def test_candidates_attain_every_erosion_value(radius, height):
    """The pruned candidates give the same 1D erosion as all pixels, for every cap of their group.

    The last case has margins far below the values' ulps (the margin floor).
    """
    rng = np.random.default_rng(5)
    n = 150
    h = radius[0] if height is None else height
    widths, _, costs = ball._row_profiles(radius, h, (n, n))
    pad = (costs.shape[2] - 1) // 2
    for g in _hard_rows(n, rng):
        scale = ball._max_abs_finite(g) + float(costs[costs < np.inf].max())
        _, _, groups, margins = ball._cap_tables(widths, costs, scale)
        rpad = max(pad, 32)
        row = np.concatenate([np.full(rpad, np.inf), g, np.full(rpad, np.inf)])
        mins = np.empty((4, row.size))
        ball._tier_minima(row, 0, 4, mins)
        for (_, dy), w in np.ndenumerate(widths):
            grp = groups[0, dy]
            if w < 1 or grp == 0:
                continue
            cpos = np.empty(n, np.int64)
            cval = np.empty(n)
            first = np.empty(n + 1, np.int64)
            scratch = (np.empty(n), np.empty(n), np.empty(n, np.uint8))
            nk = ball._candidates(
                row, rpad, n, mins, margins[grp], grp, cpos, cval, first, *scratch
            )
            kept = np.full(n, np.inf)
            kept[cpos[:nk]] = cval[:nk]
            cs = costs[0, dy, pad - w : pad + w + 1]
            np.testing.assert_array_equal(
                _erode_row_brute(kept, cs, w), _erode_row_brute(g, cs, w), err_msg=f"dy={dy}"
            )
            assert np.array_equal(first[cpos[:nk]], np.arange(nk)) and first[n] == nk


def test_cap_offsets_bound_every_cap():
    """Every cap costs at least ``offs`` more than the central one, offset by offset."""
    for radius, height in [((7.5, 30.0), 12.0), ((50.0, 50.0), 50.0), ((3.0, 4.0, 9.0), 2.0)]:
        shape = (40,) * len(radius)
        widths, _, costs = ball._row_profiles(radius, height, shape)
        _, offs, _, _ = ball._cap_tables(widths, costs, 1e4)
        pad = (costs.shape[2] - 1) // 2
        for idx, w in np.ndenumerate(widths):
            if w < 0:
                continue
            window = slice(pad - w, pad + w + 1)
            assert np.all(costs[idx][window] >= costs[0, 0][window] + offs[idx])
            assert offs[idx] >= 0.0


def test_rise_bounds_the_cost_increase_between_neighbouring_caps():
    """Neighbour domination: every cap ``dy`` costs at least ``rise[dy]`` more than the cap
    ``dy - 1`` in every column of its row, and ``rise`` does not decrease with ``dy``."""
    for radius, height in [((7.5, 30.0), 12.0), ((50.0, 50.0), 50.0), ((20.0, 3.5), 40.0)]:
        widths, _, costs = ball._row_profiles(radius, height, (120, 120))
        rise = ball._rise_table(widths, costs)
        pad = (costs.shape[2] - 1) // 2
        assert rise[0] == -np.inf
        assert np.all(np.diff(rise[1:]) >= 0.0)
        for dy in range(1, widths.shape[1]):
            w = widths[0, dy]
            window = slice(pad - w, pad + w + 1)
            assert np.all(costs[0, dy, window] - costs[0, dy - 1, window] >= rise[dy])
            assert rise[dy] > 0.0
    assert ball._rise_table(*ball._row_profiles((3.0, 4.0, 9.0), 2.0, (20, 20, 20))[::2]) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [16, 53, 130])
def test_block_update_and_live_test(n, dtype):
    """Block primitives: min-into with maxima rounded up, and the live-block test."""
    rng = np.random.default_rng(n)
    nblk = -(-n // ball._BLOCK)
    for trial in range(20):
        dst = rng.normal(0.0, 1.0, n).astype(dtype)
        if trial % 4 == 1:  # equal values and ties with the update
            dst = np.round(dst * 2).astype(dtype)
        res = np.full(nblk * ball._BLOCK, np.inf)
        res[:n] = np.round(rng.normal(0.3, 1.0, n) * 8) / 8 + rng.normal(0.0, 1e-9, n)
        blocks = np.flatnonzero(rng.random(nblk) < 0.6).astype(np.int64)
        expect = dst.copy()
        top = np.full(nblk, np.inf, dtype=np.float32)
        for blk in blocks:
            sl = slice(blk * ball._BLOCK, min(n, (blk + 1) * ball._BLOCK))
            expect[sl] = np.minimum(expect[sl], res[sl].astype(dtype))
        ball._update_target(dst, res, blocks, blocks.size, top, n)
        np.testing.assert_array_equal(dst, expect)
        for blk in blocks:
            high = float(dst[blk * ball._BLOCK : (blk + 1) * ball._BLOCK].max())
            below = np.nextafter(top[blk], np.float32(-np.inf))
            assert float(top[blk]) >= high and float(below) < high  # compare in float64
        # live test: exactly the blocks where lower + off < dst somewhere
        lower = np.full(nblk * ball._BLOCK, np.inf)
        lower[:n] = rng.normal(0.0, 1.0, n)
        off = float(rng.choice([0.0, 0.25, 1.5]))
        if trial % 2 == 0:  # blocks decided by one ulp at the block's maximum
            off = 0.0
            lower[:n] = dst.astype(np.float64) + 1.0
            for blk in range(nblk):
                sl = slice(blk * 16, min(n, blk * 16 + 16))
                x = sl.start + int(np.argmax(dst[sl]))
                lower[x] = dst[x]
                if rng.random() < 0.5:
                    lower[x] = np.nextafter(np.float64(dst[x]), -np.inf)
        lower_min = np.array([lower[b * 16 : min(n, b * 16 + 16)].min() for b in range(nblk)])
        tops = np.array(  # block maxima as float32 upper bounds
            [ball._round_up32(float(dst[b * 16 : b * 16 + 16].max())) for b in range(nblk)],
            dtype=np.float32,
        )
        live = np.zeros(nblk, np.uint8)
        listed = np.empty(nblk, np.int64)
        maybe = np.zeros(-(-nblk // 8) * 8, np.uint8)
        count = ball._flag_live(lower, lower_min, off, dst, tops, live, listed, 0, maybe, n)
        want = [b for b in range(nblk) if np.any(lower[b * 16 : min(n, b * 16 + 16)] + off
                                                 < dst[b * 16 : b * 16 + 16])]
        assert sorted(listed[:count]) == want
        assert np.array_equal(np.flatnonzero(live), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["noise", "integer", "smooth"])
def test_wide_ball_with_lower_bounds_matches_scipy(kind, dtype, row_method):
    """Radii where the default uses the lower bounds and gather/envelope on wide rows."""
    x = _image((48, 150), dtype, seed=12, kind=kind)
    if kind == "smooth":  # a smooth surface touches many caps at once
        x = ndi.gaussian_filter(x.astype(np.float64), 4.0).astype(dtype)
    radius, h = (25.0, 30.0), 25.0
    assert_close(ball_erosion(x, radius, h), ref_erosion(x, radius, h), dtype)
    assert_close(ball_dilation(x, radius, h), ref_dilation(x, radius, h), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_ellipsoid_3d_with_lower_bounds_matches_scipy(dtype):
    x = _image((5, 30, 70), dtype, seed=13, kind="noise")
    radius, h = (2.0, 9.5, 20.0), 15.0
    assert ball._FORCE_BOUNDS < 0  # the default choice takes the two sweeps here
    assert_close(ball_erosion(x, radius, h), ref_erosion(x, radius, h), dtype)
    assert_close(ball_dilation(x, radius, h), ref_dilation(x, radius, h), dtype)


@pytest.mark.parametrize("bounds", [0, 1])
@pytest.mark.parametrize(("shape", "blocks"), [((37, 90), (1, 3)), ((7, 13, 40), (2, 5))])
def test_small_row_blocks(shape, blocks, bounds, monkeypatch):
    """Many small blocks of output rows: halos, partial blocks and block order."""
    monkeypatch.setattr(ball, "_block_shape", lambda nz, ny: blocks)
    monkeypatch.setattr(ball, "_FORCE_BOUNDS", bounds)
    x = _image(shape, np.float64, seed=14, kind="noise")
    radius = (20.0,) * len(shape) if len(shape) == 2 else (2.0, 4.0, 20.0)
    h = 20.0
    assert_close(ball_erosion(x, radius, h), ref_erosion(x, radius, h), np.float64)
    assert_close(ball_dilation(x, radius, h), ref_dilation(x, radius, h), np.float64)


@pytest.mark.parametrize("width", [1, 2, 3, 15, 16, 17, 31, 32, 33])
def test_hard_rows_every_width(width, row_method):
    """Row patterns that defeat a wrong pruning, at widths around each candidate group."""
    rng = np.random.default_rng(width)
    radius, h = (1.5, width + 0.5), 3.0
    for g in _hard_rows(70, rng):
        x = np.stack([g, g[::-1], np.roll(g, 7)])
        got = ball_erosion(x, radius, h)
        ref = ref_erosion(x, radius, h)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-15, atol=ATOL64)


# ----------------------------------------------------------------------------
# Properties (hypothesis)
# ----------------------------------------------------------------------------

images_2d = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=14),
    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)
radii = st.tuples(st.floats(0.5, 9.0), st.floats(0.5, 9.0))
heights = st.floats(0.1, 50.0)


@settings(max_examples=60, deadline=None)
@given(x=images_2d, radius=radii, height=heights)
def test_property_matches_reference_and_orders(x, radius, height):
    ero = ball_erosion(x, radius, height)
    dil = ball_dilation(x, radius, height)
    np.testing.assert_allclose(ero, ref_erosion(x, radius, height), rtol=0, atol=ATOL64)
    np.testing.assert_allclose(dil, ref_dilation(x, radius, height), rtol=0, atol=ATOL64)
    assert np.all(ero <= x) and np.all(dil >= x)


def _force_path(mp: pytest.MonkeyPatch, force: int, prune: bool) -> None:
    """Lower-bound sweeps with the 1D method ``force`` (pruned or not), whatever the sizes."""
    mp.setattr(ball, "_FORCE_BOUNDS", 1)
    mp.setattr(ball, "_FORCE_METHOD", force)
    mp.setattr(ball, "_PRUNE", prune)
    if force == 3:
        mp.setattr(ball, "_ENVELOPE_MIN_WIDTH", -1)


@settings(max_examples=60, deadline=None)
@given(
    x=images_2d,
    radius=radii,
    height=heights,
    path=st.sampled_from([(0, True), (2, True), (3, True), (2, False), (3, False)]),
    inf_mask=hnp.arrays(np.int8, 14 * 14, elements=st.integers(-1, 12)),
)
def test_property_fast_paths_match_reference(x, radius, height, path, inf_mask):
    """Lower-bound sweeps with each 1D method (pruned or not), some pixels infinite."""
    force, prune = path
    marks = inf_mask[: x.size].reshape(x.shape)
    x = np.where(marks == -1, -np.inf, np.where(marks == 0, np.inf, x))
    with pytest.MonkeyPatch.context() as mp:
        _force_path(mp, force, prune)
        ero = ball_erosion(x, radius, height)
        dil = ball_dilation(x, radius, height)
    for got, ref in ((ero, ref_erosion(x, radius, height)), (dil, ref_dilation(x, radius, height))):
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(got[finite], ref[finite], rtol=0, atol=ATOL64)


@settings(max_examples=40, deadline=None)
@given(x=images_2d, radius=radii, height=heights)
def test_property_opening(x, radius, height):
    opened = ball_opening(x, radius, height)
    tol = 1e-9 * max(1.0, float(np.abs(x).max()))
    assert np.all(opened <= x + tol)
    again = ball_opening(opened, radius, height)
    np.testing.assert_allclose(again, opened, rtol=0, atol=tol)  # idempotent


@settings(max_examples=30, deadline=None)
@given(
    value=st.floats(-1e4, 1e4),
    shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=8),
    r=st.floats(0.5, 6.0),
)
def test_property_constant_image_unchanged(value, shape, r):
    x = np.full(shape, value)
    np.testing.assert_array_equal(ball_opening(x, r), x)
    np.testing.assert_array_equal(ball_erosion(x, r), x)


# ----------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------


def test_concurrent_calls_from_threads_match_sequential():
    """Concurrent calls (the GIL released, each its own OpenMP team sized per thread) agree."""
    import threading

    from bgsub.kernels.threads import limit_threads

    images = [_image((37, 45), np.float32, seed=s, kind="noise") for s in range(4)]
    radii = [3.0, 7.5, 12.0, 20.0]
    expected = [ball_erosion(x, r) for x, r in zip(images, radii, strict=True)]
    results = [None] * len(images)
    barrier = threading.Barrier(len(images))

    def work(i):
        barrier.wait()
        with limit_threads(1 + i % 2):
            for _ in range(3):
                results[i] = ball_erosion(images[i], radii[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, ref in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, ref)


def test_scratch_kept_between_calls_gives_the_same_values(monkeypatch):
    """Scratch arrays kept from a call on another image (stale values) change nothing.

    r = 70 on 90 x 120: the two sweeps keep their rows' central-cap erosions (half-width at
    least 64) and the opening's dilation runs coarse to fine, so every kept array is used.
    """
    a = _image((90, 120), np.float32, seed=11, kind="noise")
    b = _image((90, 120), np.float32, seed=12, kind="noise") + np.linspace(
        0, 80, 120, dtype=np.float32)
    monkeypatch.setattr(ball, "_pool", type(ball._pool)())
    monkeypatch.setattr(ball, "_POOL_MAX_BYTES", 0)  # nothing kept: new arrays every call
    fresh = (ball_opening(b, 70.0), ball_erosion(b, 70.0))
    assert not ball._pool
    monkeypatch.setattr(ball, "_POOL_MAX_BYTES", 2**30)
    ball_opening(a, 70.0)
    ball_erosion(a, 70.0)
    assert ball._pool
    np.testing.assert_array_equal(ball_opening(b, 70.0), fresh[0])
    np.testing.assert_array_equal(ball_erosion(b, 70.0), fresh[1])
    monkeypatch.setattr(ball, "_POOL_MAX_BYTES", 0)
    ball._pool_give([])  # over the limit: everything dropped
    assert not ball._pool


# ----------------------------------------------------------------------------
# The coarse-to-fine driver (the opening's dilation): same values as the two sweeps
# ----------------------------------------------------------------------------


def _both_drivers(func, x, radius, height, monkeypatch):
    """``func`` with the lower bounds on, by the two sweeps and by the coarse-to-fine driver."""
    monkeypatch.setattr(ball, "_FORCE_BOUNDS", 1)
    two = func(x, radius, height)
    monkeypatch.setattr(ball, "_FORCE_COARSE_TO_FINE", True)
    one = func(x, radius, height)
    monkeypatch.setattr(ball, "_FORCE_COARSE_TO_FINE", False)
    return two, one


def _eroded(x, radius, height):
    return ball_erosion(x.astype(np.float64), radius, height)


C2F_CASES = {
    # name: (image maker, radius, height)
    "noise": (lambda dt: _image((40, 150), dt, seed=21), (30.0, 30.0), 30.0),
    "eroded-smooth": (lambda dt: _eroded(_image((50, 170), dt, seed=22, kind="smooth"),
                                         (25.0, 25.0), 25.0).astype(dt), (25.0, 25.0), 25.0),
    "flat": (lambda dt: np.full((30, 90), 7.0, dtype=dt), (20.0, 20.0), 20.0),
    "small-range-tall-ball": (lambda dt: _image((40, 120), dt, seed=23, kind="integer"),
                              (22.0, 22.0), 400.0),
    "large-range-flat-ball": (lambda dt: (_image((40, 120), dt, seed=24) * 1e4).astype(dt),
                              (22.0, 22.0), 0.5),
    "anisotropic": (lambda dt: _image((60, 100), dt, seed=25, kind="smooth"), (9.5, 31.0), 12.0),
    "stack-3d": (lambda dt: _image((6, 26, 80), dt, seed=26, kind="smooth"), (2.0, 10.0, 20.0),
                 15.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(C2F_CASES))
def test_coarse_to_fine_driver_identical_and_exact(case, dtype, monkeypatch):
    make, radius, height = C2F_CASES[case]
    x = make(dtype)
    for func, ref in ((ball_dilation, ref_dilation), (ball_erosion, ref_erosion)):
        two, one = _both_drivers(func, x, radius, height, monkeypatch)
        np.testing.assert_array_equal(one, two)
        assert_close(one, ref(x, radius, height), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_opening_uses_coarse_to_fine_with_same_values(dtype, monkeypatch):
    """The opening (whose dilation takes the coarse-to-fine driver) against the composition
    by the two sweeps, on an image with a slope close to the ball's."""
    yy, xx = np.mgrid[:64, :180]
    rng = np.random.default_rng(27)
    x = (0.6 * xx + 0.3 * yy + rng.normal(0, 3, (64, 180))).astype(dtype)
    radius = 40.0
    got = ball_opening(x, radius)
    two = ball._morph(ball._morph(x, radius, None, 1.0, out_dtype=np.float64), radius, None,
                      -1.0, out_dtype=dtype)
    np.testing.assert_array_equal(got, two)
    assert_close(got, ref_dilation(ref_erosion(x, (radius,) * 2, radius), (radius,) * 2, radius),
                 dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("radius", "limit"), [(40.0, 30.0), (195.5, None)])
def test_opening_erosion_coarse_to_fine_same_values(dtype, radius, limit, monkeypatch):
    """Wide balls: the opening's erosion half also takes the coarse-to-fine driver, with
    the values of the two sweeps (and of the reference where it is affordable)."""
    if limit is not None:
        monkeypatch.setattr(ball, "_OPENING_EROSION_C2F_MIN_RADIUS", limit)
    assert ball._erosion_coarse_to_fine(2, (radius, radius))
    shape = (64, 180) if limit is not None else (24, 420)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    rng = np.random.default_rng(31)
    x = (0.6 * xx + 0.3 * yy + rng.normal(0, 3, shape)).astype(dtype)
    got = ball_opening(x, radius)
    two = ball._morph(ball._morph(x, radius, None, 1.0, out_dtype=np.float64), radius, None,
                      -1.0, out_dtype=dtype)
    np.testing.assert_array_equal(got, two)
    if limit is not None:
        assert_close(got, ref_dilation(ref_erosion(x, (radius,) * 2, radius), (radius,) * 2,
                                       radius), dtype)


@pytest.mark.parametrize("bounds", [1])
@pytest.mark.parametrize(("shape", "blocks"), [((37, 90), (1, 3)), ((7, 13, 40), (2, 5))])
def test_coarse_to_fine_small_row_blocks(shape, blocks, bounds, monkeypatch):
    """Many blocks of output rows: each reads the lower bounds the others computed."""
    monkeypatch.setattr(ball, "_block_shape", lambda nz, ny: blocks)
    monkeypatch.setattr(ball, "_FORCE_BOUNDS", bounds)
    monkeypatch.setattr(ball, "_FORCE_COARSE_TO_FINE", True)
    x = _image(shape, np.float64, seed=28, kind="smooth")
    radius = (20.0,) * len(shape) if len(shape) == 2 else (2.0, 4.0, 20.0)
    assert_close(ball_erosion(x, radius, 20.0), ref_erosion(x, radius, 20.0), np.float64)
    assert_close(ball_dilation(x, radius, 20.0), ref_dilation(x, radius, 20.0), np.float64)


@settings(max_examples=60, deadline=None)
@given(
    x=images_2d,
    radius=radii,
    height=heights,
    force=st.sampled_from([0, 1, 2, 3]),
    inf_mask=hnp.arrays(np.int8, 14 * 14, elements=st.integers(-1, 12)),
    smooth=st.booleans(),
)
def test_property_coarse_to_fine_matches_reference(x, radius, height, force, inf_mask, smooth):
    """The coarse-to-fine driver with each 1D method, on raw or eroded images, some pixels
    infinite: the reference's values and the two sweeps' bits."""
    marks = inf_mask[: x.size].reshape(x.shape)
    if smooth:
        x = ball_erosion(x, radius, height)
    x = np.where(marks == -1, -np.inf, np.where(marks == 0, np.inf, x))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ball, "_FORCE_METHOD", force)
        if force == 3:
            mp.setattr(ball, "_ENVELOPE_MIN_WIDTH", -1)
        results = [_both_drivers(f, x, radius, height, mp) for f in (ball_erosion, ball_dilation)]
    refs = (ref_erosion(x, radius, height), ref_dilation(x, radius, height))
    for (two, one), ref in zip(results, refs, strict=True):
        np.testing.assert_array_equal(one, two)
        np.testing.assert_array_equal(np.isposinf(one), np.isposinf(ref))
        np.testing.assert_array_equal(np.isneginf(one), np.isneginf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(one[finite], ref[finite], rtol=0, atol=ATOL64)


@pytest.mark.parametrize("slope", [0.9, -0.95, 2.5])
def test_coarse_to_fine_steep_slopes(slope, monkeypatch):
    """Slopes close to (and beyond) the ball's: the winning candidates lie far to one side
    of each output pixel, in segments the filtered gather must not skip."""
    rng = np.random.default_rng(29)
    yy, xx = np.mgrid[:24, :400]
    x = slope * xx + 0.2 * yy + rng.normal(0, 2, xx.shape)
    radius, height = (10.0, 60.0), 60.0
    e = ball_erosion(x, radius, height)
    for image in (x, e):
        two, one = _both_drivers(ball_dilation, image, radius, height, monkeypatch)
        np.testing.assert_array_equal(one, two)
        assert_close(one, ref_dilation(image, radius, height), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_coarse_to_fine_winner_at_every_distance_from_a_block(dtype, monkeypatch):
    """One peak on a noisy background, at every position against the 16-pixel blocks: the
    blocks whose winner lies at a segment's nearest distance (16 m - 15) must keep it (the
    filtered gather's scalar segment test)."""
    monkeypatch.setattr(ball, "_FORCE_METHOD", 2)
    radius, height = (2.0, 40.0), 40.0
    rng = np.random.default_rng(41)
    for p in range(0, 48):
        x = rng.uniform(0.0, 30.0, (5, 96)).astype(dtype)
        x[2, p] = 50.0
        two, one = _both_drivers(ball_dilation, x, radius, height, monkeypatch)
        np.testing.assert_array_equal(one, two)
        assert_close(one, ref_dilation(x, radius, height), dtype)


@pytest.mark.parametrize("path", [(0, True), (2, True), (3, False)])
def test_a_semi_axis_just_under_an_integer_reaches_it_on_every_path(path):
    """``r = 2 - 2e-15`` keeps offset 2 (on the surface within the support's tolerance) in the
    row profiles' outer extent too, as in ``ball_support`` (found by hypothesis: the dilation
    of a 3x1 column left the last row finite)."""
    x = np.array([[np.inf], [0.0], [0.0]])
    radius = (1.9999999999999982, 1.0)
    force, prune = path
    with pytest.MonkeyPatch.context() as mp:
        _force_path(mp, force, prune)
        got = ball_dilation(x, radius, 1.0)
    np.testing.assert_array_equal(got, ref_dilation(x, radius, 1.0))
