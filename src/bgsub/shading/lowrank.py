"""``lowrank``: a BaSiC-style low-rank plus sparse decomposition of a tile stack.

Following the model of Peng et al., "A BaSiC tool for background and shading
correction of optical microscopy images", Nature Communications 8, 14836 (2017):
every tile ``i`` is ``I_i(x) = b_i F(x) + D(x) + S_i(x)``, a rank-two part shared
by all tiles (a per-tile baseline ``b_i`` times the flat-field ``F``, plus the
dark-field ``D``) and a sparse residual ``S_i`` (the specimen). Smoothness comes
from representing ``F`` and ``D`` by a few low-frequency cosine (DCT) terms with a
roughness penalty. The sparse term is found by iteratively reweighted least
squares with a Cauchy weight (a smooth relative of the reweighted L1 the paper
uses): pixels far from the low-rank model, in units of the residuals' robust
spread, stop pulling on the fields.

Which robust loss fits best depends on the specimen: where it leaves gaps of bare
background (fluorescence, sparse or half-covered tiles) Tukey's biweight fits that
background alone; where it covers every tile with a broad spread of values (dense
bright-field tissue) the biweight's narrow window wanders between modes and the
absolute (L1) loss, a median, is steadier. ``loss="auto"`` fits both on two halves
of the tiles and keeps the one whose halves agree better: with the same shading in
every tile, their disagreement is the estimate's own variance. The same split chooses
the roughness penalty (``smoothness=None``): the penalty with the least estimated
error, its variance from the halves and its bias from how far it moves the
least-smoothed fit (a risk estimate, as in Stein's unbiased risk estimate, with the
split halves standing in for the noise's covariance), and the same estimate decides
whether to average blocks of 2 x 2 or 4 x 4 bins before the robust fit (``pool=None``), which
steadies it on a specimen with fine grain, but only when that halves the estimated error
or the halves' disagreement. A pooled fit uses the basis averaged over each block and is
evaluated at every bin, so pooling loses none of the smooth model's resolution.

``D`` is only defined up to a multiple of ``F`` (``b_i F + D`` equals
``(b_i - a) F + (D + a F)``); of that family the dark-field returned is the one
with no component along ``F``'s shape, which is the camera offset itself when
that offset is flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bgsub._warnings import warn
from bgsub.kernels.bins import MAD_TO_SD, mad
from bgsub.kernels.threads import map_in_order, num_threads
from bgsub.methods import Parameter
from bgsub.shading._fields import cosine_basis, fit_smooth
from bgsub.shading._registry import FieldEstimate, ShadingMethod, register_shading

_CAUCHY = 2.385  # 95 % efficiency at Gaussian noise
# Tukey's cut-off: 3 (77 % efficiency at pure noise, not 4.685's 95 %) because real specimens
# have faint structure at 3-5 SDs that the wider cut-off keeps fitting: on the benchmark's
# seven real tile sets the flat-field error falls by 5-24 %, on the generated ones (clean spots,
# no faint structure) it rises by at most 0.0003 RMSE. 2.5 gains a little more on the real
# ones but loses in dim corners, where the noise exceeds the global spread it is scaled by
_TUKEY = 3.0
# below this spread of the baselines (relative to their mean) a dark-field is not estimable
_LEAST_VARIATION = 0.05
_CAUCHY_STEPS = 5  # Cauchy steps before the biweight
_STRIDE = 7  # the residuals' spread is taken from every 7th one: as exact, 7x faster
# the dark-field is kept when it moves the flat-field by more than this many times the
# flat-field's own spread between halves of the tiles (MSE break-even is sqrt 2; 3 is safe)
_SIGNIFICANCE = 3.0
# a dark-field above more than this fraction of the values (beyond their noise) is refused
_MOST_BELOW_DARK = 0.002
_FEWEST_PER_HALF = 4  # fewer tiles: no split-half check
# a bin whose mean over the tiles is at most this share of the stack's mean received no
# light (a field stop's black corners, zero padding): left out of the fit, its flat-field
# extended from the lit bins'; a flat-field at 1 % of its mean is far below any vignetting
_UNLIT = 0.01
LOSSES = ("auto", "biweight", "absolute")
# the roughness penalties ``smoothness=None`` chooses from (the first is the least smoothed)
SMOOTHNESS_GRID = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1)
# the pooling factors of the bins tried before the robust fit (``pool=None``): blocks of 2 x 2
# bins average the specimen's fine structure before the robust weights see it, at the cost
# of resolution; the stardist nuclei's flat-field error falls from 0.0098 to 0.0073. Blocks
# of 4 x 4 (8 x 8 blocks of the default grid, fitted with 6 cosine terms) help where the bins
# are single grainy pixels: stardist's nuclei in 32-pixel tiles 0.0109 -> 0.0075
POOLS = (1, 2, 4)
POOL_CHOICES = (1, 2, 3, 4)  # what ``pool=`` accepts
_FEWEST_BLOCKS = 5  # a pool given must leave at least this many blocks along each axis
# a pooled fit is kept only if its estimated error is under this fraction of the best unpooled
# one: the risk estimates are noisy, and choosing among more candidates favours lucky draws
# (with no margin, 3 of 15 outside checks came out 5-16 % worse, with 0.5 none)
_POOL_GAIN = 0.5
# tiles of whole counts with few of them in a bin: a robust location of such grainy values
# (the median of Poisson(m) lies about 1/3 count from m) is biased by a share that varies with
# the shading itself; pooled, the blocks hold at least this many counts (typically), where the
# bias is ~2 %: on 180 generated sets at 0.2-10 photons a pixel (tiles of 64-256 px, sparse
# and dense, radial and tilted fields) the flat-field error 0.83x (geometric mean; 0.68x at
# 0.2 photons, 1.0x from 10), the losses to the best CellProfiler-style function 68 -> 55
# (1.91x worse on one set); at 30 counts the same gain, 2.35x worse on one
QUANTUM_COUNTS = 15.0
_ABSOLUTE_FLOOR = 0.05  # the L1 weights 1/|r| are capped at 1/(this x the noise's spread)
_FIT_THREADS = 4  # the choice's independent fits run on up to this many threads (and cores)
# ... where the binned stack holds at least this many values: on fewer, each NumPy call is
# too short to leave the GIL for long, and threads cost more than they save (100 tiles of
# 32 x 32 bins: 0.81 -> 1.04 s on 2 cores; 400 tiles: 2.04 -> 1.56 s; 1,000: 5.0 -> 2.9 s)
_THREADS_FROM = 1 << 18


def estimate(stack: np.ndarray, darkfield: bool, *, terms: int = 8, darkfield_terms: int = 3,
             smoothness: float | None = None, iterations: int = 30, tolerance: float = 1e-5,
             loss: str = "auto", pool: int | None = None,
             centres: tuple[np.ndarray, np.ndarray] | None = None,
             bin_pixels: float | None = None) -> FieldEstimate:
    """Flat-field (and dark-field) of ``stack`` (n, y, x) by robust rank-two fitting.

    ``loss`` is ``"biweight"``, ``"absolute"`` or ``"auto"`` (the one of the two
    whose fits on alternate halves of the tiles agree better); ``smoothness`` None
    is chosen from :data:`SMOOTHNESS_GRID` and ``pool`` None from :data:`POOLS` by
    the least estimated error (see :func:`_tuned`), from the pools whose blocks hold
    :data:`QUANTUM_COUNTS` counts or more where the tiles are whole counts (``bin_pixels``:
    the pixels a bin averages; None for tiles of any value). What was chosen is returned in
    ``FieldEstimate.chosen``.

    With ``darkfield``, the dark-field is kept only where the data can tell it from
    the flat-field and it lies below the data (see :func:`_darkfield_identifiable`,
    :func:`_darkfield_implausible`); otherwise a
    :class:`~bgsub.BackgroundWarning` names the reason and the fields are fitted
    without it (the dark-field returned is 0).
    """
    n, ny, nx = stack.shape
    if centres is None:
        centres = ((np.arange(ny) + 0.5) / ny, (np.arange(nx) + 0.5) / nx)
    if pool is not None:
        _check_pool(pool, (ny, nx))
    unlit = _unlit_bins(stack)
    if unlit is not None:
        _warn_unlit(float(unlit.mean()))
    settings, flat_without = _tuned(stack, {"terms": terms, "darkfield_terms": darkfield_terms,
                                            "iterations": iterations, "tolerance": tolerance,
                                            "centres": centres}, loss, smoothness, pool,
                                    _least_pool(stack, bin_pixels))
    chosen = {"loss": settings["loss"], "smoothness": settings["smoothness"],
              "pool": settings["pool"]}
    if flat_without is None:  # the fit without a dark-field, unless the choice made it already
        flat_without = _fit(stack, False, **settings)[0]
    if not darkfield:
        return FieldEstimate(flat_without, None, chosen)
    flat, dark, baseline = _fit(stack, True, **settings)
    variation = float(np.std(baseline)) / abs(float(np.mean(baseline)))
    if variation < _LEAST_VARIATION:
        _warn_no_darkfield(f"the tiles' baselines vary by {variation:.1%}: too little to tell a "
                           "dark-field from the flat-field")
        return FieldEstimate(flat_without, np.zeros((ny, nx)), chosen)
    verdict = _darkfield_implausible(stack, dark, unlit) or _darkfield_identifiable(
        stack, flat, flat_without, settings)
    if verdict is not None:
        _warn_no_darkfield(verdict)
        return FieldEstimate(flat_without, np.zeros((ny, nx)), chosen)
    return FieldEstimate(flat, dark, chosen)


def _least_pool(stack: np.ndarray, bin_pixels: float | None) -> int:
    """The least of :data:`POOLS` whose blocks hold :data:`QUANTUM_COUNTS` counts (the
    bins' median value times the pixels ``bin_pixels`` they average, times the pool's
    area); 1 where the tiles are not whole counts (``bin_pixels`` None).

    Examples
    --------
    >>> _least_pool(np.full((4, 8, 8), 0.2), 4.0), _least_pool(np.full((4, 8, 8), 5.0), 4.0)
    (4, 1)
    """
    if bin_pixels is None:
        return 1
    counts = float(np.median(stack)) * bin_pixels
    return next((p for p in POOLS if p * p * counts >= QUANTUM_COUNTS), POOLS[-1])


def _tuned(stack: np.ndarray, settings: dict, loss: str, smoothness: float | None,
           pool: int | None, least_pool: int = 1) -> tuple[dict, np.ndarray | None]:
    """``settings`` with the loss, the smoothness and the pooling chosen from the data where
    asked, and the flat-field fitted to all tiles with them (without a dark-field), if one was.

    All choices rest on fits to alternate halves of the tiles, without a dark-field
    (what they adapt to is the specimen, not the dark-field). Every tile shares the
    shading, so the halves differ only through their content and noise: half their
    difference, ``d``, is a draw of the full fit's own error. The loss is the one
    whose halves agree better. For a candidate ``c`` (a penalty, and a pooling of the
    bins), the full fit's expected squared error is estimated as
    ``|F_c - F_0|^2 - |d_c - d_0|^2 + |d_c|^2`` (``F_0``, ``d_0``: the least-smoothed,
    least-pooled fit and its split): the bias it adds to that fit, less the part of
    that change which is only variance, plus its variance. A pooled candidate must
    beat the best unpooled one by the margin ``_POOL_GAIN``, in that estimate or in its
    variance alone at the same penalty (the estimate takes the unpooled fit as unbiased,
    and counts a bias that pooling removes as one it adds). Too few tiles to split:
    the biweight, the least penalty, the least pooling. Pools under ``least_pool`` are not
    candidates (the largest usable one is, where none is that large).
    """
    losses = LOSSES[1:] if loss == "auto" else (loss,)
    penalties = SMOOTHNESS_GRID if smoothness is None else (smoothness,)
    pools = _usable_pools(stack.shape[1:], settings["terms"]) if pool is None else (pool,)
    if pool is None:
        pools = tuple(p for p in pools if p >= least_pool) or pools[-1:]
    if len(stack) < 2 * _FEWEST_PER_HALF or len(losses) == len(penalties) == len(pools) == 1:
        return {**settings, "loss": losses[0], "smoothness": penalties[0],
                "pool": pools[0]}, None
    settings = {**settings, "pool": pools[0]}
    splits = dict(zip(losses, _on_threads(
        lambda name: _split_error(stack, {**settings, "loss": name, "smoothness": penalties[0]}),
        losses, stack.size), strict=True))
    chosen = min(losses, key=lambda name: _mean_square(splits[name]))
    settings = {**settings, "loss": chosen}
    if len(penalties) == len(pools) == 1:
        return {**settings, "smoothness": penalties[0]}, None
    candidates = [(p, s) for p in pools for s in penalties]

    def fitted(candidate: tuple[int, float]) -> tuple[np.ndarray, np.ndarray | None]:
        """The candidate's flat-field on all the tiles, and its split (not for the first)."""
        here = {**settings, "pool": candidate[0], "smoothness": candidate[1]}
        return (_fit(stack, False, **here)[0],
                None if candidate == candidates[0] else _split_error(stack, here))

    fits, split_of = {}, {}
    for candidate, (fit, split) in zip(candidates, _on_threads(fitted, candidates, stack.size),
                                       strict=True):
        fits[candidate], split_of[candidate] = fit, split
    least, least_split = _unit_mean(fits[candidates[0]]), splits[chosen]
    risks = {candidates[0]: _mean_square(least_split)}
    variances = dict(risks)
    for factor, penalty in candidates[1:]:
        split = split_of[factor, penalty]
        variances[factor, penalty] = _mean_square(split)
        risks[factor, penalty] = (_mean_square(_unit_mean(fits[factor, penalty]) - least)
                                  - _mean_square(split - least_split) + variances[factor, penalty])
    best = min((key for key in risks if key[0] == pools[0]), key=risks.get)
    # pooling smooths the data, so it may add to the penalty, not stand in for one
    pooled = min((key for key in risks if key[1] >= best[1]), key=risks.get)
    steadier = min((key for key in variances if key[1] == best[1]), key=variances.get)
    if risks[pooled] < _POOL_GAIN * risks[best]:
        best = pooled
    elif variances[steadier] < _POOL_GAIN * variances[best]:
        # the risk counts all that pooling moves the unpooled fit as bias it adds; with the
        # same basis fitted to the blocks' means it adds little, and removes a bias both
        # halves share (the robust location of bins of one or two grainy pixels): so pooling
        # that halves the fit's variance is kept too (stardist nuclei in 32-pixel tiles:
        # 0.0191 -> 0.0109; risk ratio 0.8, variance ratio 0.4)
        best = steadier
    return {**settings, "pool": best[0], "smoothness": best[1]}, fits[best]


def _on_threads(fn: Callable[[Any], Any], items: Iterable[Any], values: int) -> list[Any]:
    """``[fn(item) for item in items]``, the items on up to ``_FIT_THREADS`` threads (no more
    than bgsub may use: :func:`bgsub.kernels.threads.num_threads`) where the stack fitted
    holds at least ``_THREADS_FROM`` ``values`` (the fits' NumPy loops release the GIL): the
    same results, in order, sooner where cores are free."""
    items = list(items)
    workers = 1 if values < _THREADS_FROM else min(len(items), _FIT_THREADS, num_threads())
    return list(map_in_order(fn, items, workers))


def _check_pool(pool: int, shape: tuple[int, int]) -> None:
    """Refuse a ``pool`` that leaves fewer than ``_FEWEST_BLOCKS`` blocks along an axis of the
    working grid ``shape``: on 3 or fewer the flat-field came out constant, on 4 the fit
    interpolated the blocks exactly and swung far beyond them (0.13 RMSE on 64-px tiles)."""
    blocks = [-(-n // pool) for n in shape]
    if min(blocks) < _FEWEST_BLOCKS:
        raise ValueError(f"pool={pool} leaves {blocks[0]} x {blocks[1]} blocks of the "
                         f"{shape[0]} x {shape[1]} working grid, too few to fit a shading (at "
                         f"least {_FEWEST_BLOCKS} a side); use a smaller pool, or a working_size "
                         f"of at least {pool * (_FEWEST_BLOCKS - 1) + 1} (on tiles that large)")


def _usable_pools(shape: tuple[int, int], terms: int) -> tuple[int, ...]:
    """The factors of :data:`POOLS` that leave at least ``terms`` bins per axis."""
    return tuple(f for f in POOLS if f == 1 or min(shape) // f >= terms) or (1,)


def _split_error(stack: np.ndarray, settings: dict) -> np.ndarray:
    """Half the difference of the flat-fields fitted on alternate halves of the tiles."""
    halves = [_unit_mean(_fit(stack[start::2], False, **settings)[0]) for start in (0, 1)]
    return (halves[0] - halves[1]) / 2.0


def _mean_square(values: np.ndarray) -> float:
    return float(np.mean(np.square(values)))


def _warn_no_darkfield(reason: str) -> None:
    warn(f"{reason}; the dark-field is set to 0 and the flat-field fitted without it (its "
         "contrast then falls short by the offset / the tiles' level). Give a measured dark "
         "frame instead (darkfield=FRAME, a number or an image; --dark-frame FILE), or tiles "
         "of varying brightness (e.g. from a time-lapse or several exposures)", stacklevel=5)


def _warn_unlit(share: float) -> None:
    warn(f"{share:.0%} of the tiles' area received no light in them (a field stop's black "
         "corners, zero padding?); the flat-field is fitted to the rest and extended smoothly "
         "over it, where the corrected pixels hold no signal: crop or mask that area in the "
         "corrected tiles", stacklevel=5)


def _darkfield_implausible(stack: np.ndarray, dark: np.ndarray,
                           unlit: np.ndarray | None = None) -> str | None:
    """The reason why ``dark`` cannot be the dark-field of ``stack``, or None.

    No pixel that received light reads below the dark-field, so a dark-field above
    more than ``_MOST_BELOW_DARK`` of the tiles' values (by more than 3x their noise,
    taken from the differences of neighbouring bins) has absorbed part of the content.
    The ``unlit`` bins (see :func:`_left_out`), where the dark-field was extended without
    data, are not counted.
    """
    steps = np.diff(stack, axis=-1).ravel()[::_STRIDE]
    noise = MAD_TO_SD * mad(steps) / np.sqrt(2.0)
    below = stack < dark - 3.0 * noise
    below = float(np.mean(below if unlit is None else below[:, ~_left_out(unlit)]))
    if below <= _MOST_BELOW_DARK:
        return None
    return (f"the fitted dark-field lies above {below:.1%} of the tiles' values (beyond their "
            "noise), which no light can do: the tiles' content (dense?) was taken for it")


def _darkfield_identifiable(stack: np.ndarray, flat: np.ndarray, without: np.ndarray,
                            settings: dict) -> str | None:
    """None when the dark-field is estimable from ``stack``, else the reason why not.

    The flat-field fitted with a dark-field (``flat``) and without one (``without``)
    differ by what the dark-field does to it; fitting the two halves of the tiles
    (alternate tiles) separately shows how much the first one varies with the tiles'
    content alone. When the dark-field moves the flat-field by less than
    ``_SIGNIFICANCE`` times that spread, the dark-field is mostly the specimen's noise
    (dense content whose level varies as much as the tiles' baselines do: a flat
    offset and flat x content are confounded), and the flat-field fitted without it is
    the better estimate: its error is the dark-field's small effect, not that noise.
    """
    if len(stack) < 2 * _FEWEST_PER_HALF:
        return None
    halves = _on_threads(lambda start: _fit(stack[start::2], True, **settings)[0], (0, 1),
                         stack.size)
    spread = _rms(_unit_mean(halves[0]) - _unit_mean(halves[1])) / 2  # of the full-set fit
    effect = _rms(_unit_mean(flat) - _unit_mean(without))
    if effect >= _SIGNIFICANCE * spread:
        return None
    return (f"the dark-field changes the flat-field by {effect:.2%} RMS, less than "
            f"{_SIGNIFICANCE:g}x the {spread:.2%} by which that varies between halves of the "
            "tiles: the tiles' content (dense?) hides the dark-field")


def _fit(stack: np.ndarray, darkfield: bool, *, pool: int = 1,
         centres: tuple[np.ndarray, np.ndarray], **settings) -> tuple[np.ndarray,
                                                                      np.ndarray | None,
                                                                      np.ndarray]:
    """The IRLS fit: flat-field (y, x), dark-field (y, x; None without), baselines (n,).

    ``pool`` > 1 fits on blocks of ``pool`` x ``pool`` bins averaged first (see
    :func:`_pooled`) and evaluates the fields at every bin (see :func:`_refinement`).
    """
    if pool == 1:
        return _fit_bins(stack, darkfield, centres=centres, **settings)
    coarse = _pooled(stack, pool)
    flat, dark, baseline = _fit_bins(coarse, darkfield, centres=centres, pool=pool, **settings)
    back = [_refinement(c, pool, _terms(settings["terms"], k, pool))
            for c, k in zip(centres, coarse.shape[1:], strict=True)]
    flat = back[0] @ flat @ back[1].T
    if dark is not None:
        dark = back[0] @ dark @ back[1].T
    return flat, dark, baseline


def _pooled(stack: np.ndarray, factor: int) -> np.ndarray:
    """``stack`` averaged over blocks of ``factor`` x ``factor`` bins (the last block of an
    axis may be smaller)."""
    starts = [np.arange(0, n, factor) for n in stack.shape[1:]]
    counts = [np.diff(np.append(s, n)) for s, n in zip(starts, stack.shape[1:], strict=True)]
    summed = np.add.reduceat(np.add.reduceat(stack, starts[0], axis=1), starts[1], axis=2)
    return np.ascontiguousarray(summed / np.outer(counts[0], counts[1]))


def _terms(terms: int, bins: int, pool: int) -> int:
    """The cosine terms fitted on ``bins`` bins: pooled, no more basis functions (the terms
    and two quadratics) than bins, so that :func:`_refinement` recovers the coefficients."""
    return min(terms, bins) if pool == 1 else min(terms, max(bins - 2, 1))


def _block_basis(centres: np.ndarray, factor: int, terms: int) -> np.ndarray:
    """:func:`cosine_basis` at ``centres`` averaged over blocks of ``factor`` bins, as
    :func:`_pooled` averages the data: what a pooled bin holds of each basis function."""
    fine = cosine_basis(centres, terms)
    if factor == 1:
        return fine
    starts = np.arange(0, len(centres), factor)
    counts = np.diff(np.append(starts, len(centres)))
    return np.add.reduceat(fine, starts, axis=0) / counts[:, None]


def _refinement(centres: np.ndarray, factor: int, terms: int) -> np.ndarray:
    """(len(centres), blocks): a field fitted on blocks of ``factor`` bins with the
    :func:`_block_basis`, at every bin's centre.

    ``pinv(block basis)`` recovers the field's coefficients, and the point basis
    evaluates them at the bins: the field itself, not a spline through the blocks'
    centres, which adds an error where the shading curves strongly (vignetting towards
    the tile's edges: 0.0022 RMSE on 32-pixel tiles pooled to 16 bins).
    """
    return cosine_basis(centres, terms) @ np.linalg.pinv(_block_basis(centres, factor, terms))


def _fit_bins(stack: np.ndarray, darkfield: bool, *, terms: int, darkfield_terms: int,
              smoothness: float, iterations: int, tolerance: float, loss: str,
              centres: tuple[np.ndarray, np.ndarray], pool: int = 1) -> tuple[
                  np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`_fit` on the bins of ``stack`` as they are: the bins at ``centres``, or
    blocks of ``pool`` x ``pool`` of them (``stack`` already pooled)."""
    n, ny, nx = stack.shape
    unlit = _unlit_bins(stack)
    lit = None if unlit is None else ~_left_out(unlit).ravel()
    scale = float(np.median(stack if lit is None else stack.reshape(n, -1)[:, lit])) or 1.0
    data = (stack / scale).reshape(n, ny * nx)
    basis = (_block_basis(centres[0], pool, _terms(terms, ny, pool)),
             _block_basis(centres[1], pool, _terms(terms, nx, pool)))
    dark_basis = (_block_basis(centres[0], pool, _terms(darkfield_terms, ny, pool)),
                  _block_basis(centres[1], pool, _terms(darkfield_terms, nx, pool)))
    flat = _start(data, lit)
    dark = np.zeros_like(flat)
    baseline = np.median(data / flat if lit is None else data[:, lit] / flat[lit], axis=1)
    weights = np.ones_like(data)
    for step in range(iterations):
        # residuals in the specimen's frame (divided by the flat-field), so that a bright
        # object counts as much in a dim corner as in the bright centre
        residual = _residual(data, baseline, flat, dark, lit)
        spread = _one_sided_spread((residual if lit is None else residual[:, lit])
                                   .ravel()[::_STRIDE])
        _weigh(residual, spread, loss if step >= _CAUCHY_STEPS else "cauchy", out=weights)
        if lit is not None:
            weights[:, ~lit] = 0.0  # no light there: the smooth fields are extended over it
        previous = flat
        flat, dark = _fit_fields(data, weights, baseline, (ny, nx), basis, dark_basis,
                                 smoothness, darkfield)
        if lit is not None:
            flat = _bounded_to_lit(flat, lit)
        baseline = _fit_baseline(data, weights, flat, dark)
        flat, dark, baseline = _normalised(flat, dark, baseline)
        if np.max(np.abs(flat - previous)) < tolerance:
            break
    return (flat.reshape(ny, nx), dark.reshape(ny, nx) * scale if darkfield else None,
            baseline * scale)


def _unlit_bins(stack: np.ndarray) -> np.ndarray | None:
    """(y, x) bool: the bins that received no light, their mean over the tiles at most
    ``_UNLIT`` of the stack's mean (a field stop's black corners, zero padding); None where
    every bin did (the usual case, fitted exactly as before) or none did."""
    means = stack.mean(axis=0)
    unlit = means <= _UNLIT * float(means.mean())
    return unlit if unlit.any() and not unlit.all() else None


def _left_out(unlit: np.ndarray) -> np.ndarray:
    """The ``unlit`` bins and their neighbours: a bin beside an unlit one may be partly dark
    (the edge of padding inside it), and fitted, it pulls the smooth field down along the
    whole rim (3 px of padding in 2-px bins: 0.041 -> 0.0003 RMSE of a flat field)."""
    rim = unlit.copy()
    rim[1:] |= unlit[:-1]
    rim[:-1] |= unlit[1:]
    rim[:, 1:] |= unlit[:, :-1]
    rim[:, :-1] |= unlit[:, 1:]
    return unlit if rim.all() else rim


def _start(data: np.ndarray, lit: np.ndarray | None) -> np.ndarray:
    """The fit's first flat-field, mean 1: each bin's median over the tiles; where that is
    not positive (very dim tiles: most bins read 0 photons), the bin's mean; unlit bins at
    the lit ones' mean."""
    flat = np.median(data, axis=0)
    if lit is not None or not (flat > 0).all():
        flat = np.where(flat > 0, flat, data.mean(axis=0))
        if lit is not None:
            flat[~lit] = flat[lit].mean()
    flat /= flat.mean()
    return flat


def _residual(data: np.ndarray, baseline: np.ndarray, flat: np.ndarray, dark: np.ndarray,
              lit: np.ndarray | None) -> np.ndarray:
    """``(data - baseline x flat - dark) / flat``, 0 in the unlit bins (outside ``lit``)."""
    if lit is None:
        return (data - baseline[:, None] * flat - dark) / flat
    residual = np.zeros_like(data)
    residual[:, lit] = (data[:, lit] - baseline[:, None] * flat[lit] - dark[lit]) / flat[lit]
    return residual


def _bounded_to_lit(flat: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """``flat`` with its unlit bins (outside ``lit``), where the smooth field is extended
    without data, kept within the lit bins' range: extended far, it may turn negative."""
    flat = flat.copy()
    flat[~lit] = np.clip(flat[~lit], flat[lit].min(), flat[lit].max())
    return flat


def _unit_mean(field: np.ndarray) -> np.ndarray:
    return field / field.mean()


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _fit_fields(data, weights, baseline, shape, basis, dark_basis, smoothness, darkfield):
    weighted = weights * data
    w_bb = _over_tiles(weights, baseline**2).reshape(shape)
    r_b = _over_tiles(weighted, baseline).reshape(shape)
    if not darkfield:
        (flat,) = fit_smooth([[w_bb]], [r_b], [basis], smoothness)
        return flat.ravel(), np.zeros(data.shape[1])
    w_b = _over_tiles(weights, baseline).reshape(shape)
    w_1 = weights.sum(axis=0).reshape(shape)
    r_1 = weighted.sum(axis=0).reshape(shape)
    flat, dark = fit_smooth([[w_bb, w_b], [w_b, w_1]], [r_b, r_1], [basis, dark_basis],
                            smoothness)
    return flat.ravel(), dark.ravel()


def _over_tiles(values: np.ndarray, per_tile: np.ndarray) -> np.ndarray:
    """sum_i per_tile[i] values[i, :]; einsum's own loop, not a threaded BLAS call, which on
    a loaded machine costs 100x more than the arithmetic for these (tiles, bins) products."""
    return np.einsum("ij,i->j", values, per_tile)


def _weigh(residual: np.ndarray, spread: float, loss: str, out: np.ndarray) -> None:
    """IRLS weights (``residual`` is overwritten): ``"cauchy"`` for the first steps
    (converges from a rough start), then Tukey's ``"biweight"``, which gives the
    specimen no weight at all once the fit is close, or the ``"absolute"`` loss
    (weights 1/|r|: a median fit)."""
    if loss == "absolute":
        np.abs(residual, out=residual)
        np.maximum(residual, _ABSOLUTE_FLOOR * spread, out=residual)
        np.divide(1.0, residual, out=out)
        return
    if loss == "biweight":
        np.divide(residual, _TUKEY * spread, out=residual)
        np.square(residual, out=residual)
        np.subtract(1.0, residual, out=residual)
        np.maximum(residual, 0.0, out=residual)
        np.square(residual, out=out)
        return
    np.divide(residual, _CAUCHY * spread, out=residual)
    np.square(residual, out=residual)
    residual += 1.0
    np.divide(1.0, residual, out=out)


def _one_sided_spread(residual: np.ndarray) -> float:
    """Robust SD of the noise: the smaller of the two one-sided MADs of the residuals.

    The specimen only adds on one side (bright objects in fluorescence, dark ones in
    brightfield), so the other side holds noise alone, even when the specimen covers
    half of every tile and a two-sided MAD would count it as noise.
    """
    below, above = residual[residual < 0], residual[residual > 0]
    sides = [MAD_TO_SD * float(np.median(np.abs(side))) for side in (below, above) if side.size]
    return max(min(sides, default=0.0), 1e-6)


def _fit_baseline(data, weights, flat, dark):
    numerator = np.einsum("ij,j->i", weights * (data - dark), flat)
    denominator = np.einsum("ij,j->i", weights, flat**2)
    return numerator / np.maximum(denominator, np.finfo(float).tiny)


def _normalised(flat, dark, baseline):
    mean = float(flat.mean())
    flat = flat / mean
    baseline = baseline * mean
    shape = flat - 1.0
    energy = float(shape @ shape)
    if energy > 0 and np.any(dark):
        a = -float((dark - dark.mean()) @ shape) / energy
        dark = dark + a * flat
        baseline = baseline - a
    return flat, dark, baseline


register_shading(ShadingMethod(
    name="lowrank",
    summary="BaSiC-style: tiles = baseline x flat-field + dark-field + sparse specimen, "
            "robust smooth fit",
    estimate=estimate,
    parameters=(
        Parameter("terms", 8, "cosine terms per axis of the flat-field (more: sharper shading)",
                  minimum=1, exclusive=False, allow_none=False),
        Parameter("darkfield_terms", 3, "cosine terms per axis of the dark-field",
                  minimum=1, exclusive=False, allow_none=False),
        Parameter("smoothness", None, "roughness penalty of the fields; None: chosen from "
                  "1e-6 to 0.1 by the least error estimated from halves of the tiles",
                  minimum=0, exclusive=False),
        Parameter("iterations", 30, "most reweighting iterations",
                  minimum=1, exclusive=False, allow_none=False),
        Parameter("tolerance", 1e-5, "stop when the flat-field changes less than this",
                  minimum=0, allow_none=False),
        Parameter("loss", "auto", "robust loss: 'biweight' (specimen with gaps of background), "
                  "'absolute' (a median: dense, broad specimen) or 'auto' (the one whose fits "
                  "on halves of the tiles agree better)", choices=LOSSES, allow_none=False),
        Parameter("pool", None, "average blocks of pool x pool working bins before the robust "
                  "fit (steadier on a specimen with fine structure, coarser); None: 1, 2 or 4, "
                  "chosen from halves of the tiles", choices=POOL_CHOICES),
    ),
    darkfield=True,
    reference="Peng et al., Nat. Commun. 8, 14836 (2017) (BaSiC)",
    aliases=("basic",),
))
