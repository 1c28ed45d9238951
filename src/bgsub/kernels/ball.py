"""Grey erosion, dilation and opening by a non-flat ball or ellipsoid ("rolling ball").

The structuring function is the upper half of an ellipsoid with semi-axes
``radius`` (pixels, one per image axis) and half-height ``height`` (intensity
units).  With ``q(o) = sum_i (o_i / radius_i) ** 2`` the support is the set of
integer offsets ``o`` with ``q(o) <= 1`` and the ball's surface is
``K(o) = height * sqrt(1 - q(o))``.  The erosion is::

    result[p] = min_{o in S, p + o inside} image[p + o] + height - K(o)

which is exactly what :func:`skimage.restoration.rolling_ball` computes (the
height of the ball's apex), and the dilation is its dual.  Pixels outside the
image are ignored.

Algorithm
---------
The ellipsoid is cut into rows along the last axis.  For a fixed offset in the
outer axes the cross-section is a semi-ellipse of half-width
``rho = radius_x * sqrt(1 - q_outer)`` and height ``h' = height * sqrt(1 - q_outer)``;
scaled by ``s = height / radius_x`` in intensity it is a semicircle of radius
``rho``.  The 2D (3D) erosion is the minimum over the O(r) (O(r^2)) rows
("caps") of 1D erosions of the input rows by these caps; an input row's
erosion by a cap is computed once and min-ed into the two (four) output rows
it serves.  Output rows are processed in blocks (one per thread, ``prange``),
so memory beyond the output is a few row buffers per thread plus one float32
per 16 output pixels.

Candidates.  Pixels that cannot win are dropped before a row is eroded: pixel
``b`` goes when, on each side, some neighbour within ``K <= 32`` pixels is
lower by at least the cap's cost increase ``c(k) - c(0)`` at its distance
``k`` (tested in tiers of distances against a sparse table of minima).  Such a
neighbour is at least as good as ``b`` everywhere on its side of ``b``, for
every cap at least ``K`` wide.  For noisy images 85-90 % of the pixels go.  A
row's list is built for each reach it needs, and only when the blocks still
to erode repay it.

1D erosion.  One of three exact methods per row and cap, chosen by a cost model:

* direct: the minimum over the ``2 w + 1`` offsets, vectorised and
  register-blocked (a chunk of pixels, 32 with AVX-512, keeps its minimum in
  vector registers over all the offsets, taken four at a time, then goes
  straight into the output rows the row serves); O(w) per pixel with a tiny
  constant, best for narrow rows;
* gather: for each block of 16 output pixels, the minimum over the candidates
  within reach of it, with the 16 lanes held in vector registers (a small
  C function); O(w * candidate density) per pixel, and it erodes only
  the blocks that are needed;
* envelope: the lower envelope of the candidates' translated semicircles,
  restricted to their windows.  Two translates cross at most once, so a stack
  (the convex-hull trick with expiry, as in Felzenszwalb-Huttenlocher) builds
  it in O(1) amortised time per pixel.  The crossing of two equal circles has a
  closed form; when it falls within rounding of an integer the integer
  switch-over point is settled by direct comparison, so the result is exact
  for the tabulated costs.

Lower bounds (rows at least 18 pixels wide).  Every cap costs at least
``off = min_d c_cap(d) - c_central(d)`` more than the central cap at the same
offset, so an input row's erosion by that cap is at least its erosion by the
central cap, ``E0``, plus ``off`` (minus a slack that covers rounding, so the
skipping is exact).  A block of 16 output pixels needs the cap only where
``E0 + off`` is below the output's current value: first tested on block
summaries (the minimum of ``E0``, an upper bound of the output's maximum),
then pixel by pixel.  For the outputs to be nearly final when tested, the
input rows are swept twice: forward, serving the output rows before each
input row (in (z, y) order) and the row itself (with ``E0``), then backward,
serving those after it.  For noisy images 90-95 % of the blocks are skipped.

Coarse to fine (the opening's dilation).  The dilation in :func:`ball_opening`
works on an eroded image, smooth at the ball's own scale, where the best cap of
an output pixel lies far from it (at about ``r * slope`` rows where the
background slopes): the two sweeps bring each output row its caps in order of
distance, so it stays far from its result, and the bounds keep most caps, until
that cap arrives.  There a first stage computes every row's ``E0`` (kept in one
image-sized float64 buffer, with its block minima) and starts each output row
from it; then one sweep visits the input rows coarse to fine (every
``2 ** L``-th row, then the rows halfway between, ...), so that each output row
gets caps spread over its whole range first and is close to its result after a
few, and the bounds then skip nearly everything else.  The gather is filtered
too: a 16-pixel segment of the input row is visited for a block only if its
minimum plus the cost at its distance from a pixel of the block is below that
pixel's current value (the largest over the output rows served), sixteen such
tests in one vector compare, after one scalar test that rules out most segments:
the segment's minimum plus the cost at its nearest distance to the block against the
block's largest such value.  Everything skipped is beaten by a value already in
place (up to the same rounding slack), so the results are those of the two
sweeps, bit for bit; only the order of the minima changes.

Neighbour domination (the coarse-to-fine driver, 2D).  Each cap ``dy`` costs at
least ``rise[dy]`` more than the cap ``dy - 1`` in every column (the table made
non-decreasing in ``dy``).  So where the centre ``(y + 1, x)`` is lower than
``(y, x)`` by at most ``rise[dy]`` (less a rounding slack), it gives every pixel of
output row ``y + dy`` a strictly smaller value than ``(y, x)`` does (likewise
``(y - 1, x)`` for row ``y - dy``), and ``(y, x)`` cannot win there.  An input row
skips the output rows beyond the reach of its largest such rise, and the filtered
gather skips a 16-pixel segment whose centres are all dominated (the segment's largest
rise to each neighbouring row, kept per row and side: 4 MB on 2048x2048).  For caps at
least 64 pixels wide the two output rows an input row serves are eroded apart, each with
its own side's domination and its own thresholds; narrower caps erode the row once for
both (the segment then needs both sides dominated).  The dominating centre
is itself served by the cap ``dy - 1``, so every chain of dominations ends at a
centre that is evaluated, and the minima are unchanged, bit for bit.  On an eroded
image about two thirds of the (row, cap) pairs at r = 150-200 are skipped this way;
on a noisy one almost none.  For wide 2D balls
(radius along the rows at least ``_OPENING_EROSION_C2F_MIN_RADIUS``) the opening's
erosion half runs the same driver: on the raw image it gains only there (measured
crossover between r = 180 and 200 on the benchmark image).

Tiles (2D, from ``_TILES_MIN_RADIUS`` on; :mod:`bgsub.kernels._ball_tiles`).  The erosion
and dilation of a raw 2D image (the public ones and the opening's erosion, not the opening's
dilation, whose smooth input makes near-ties everywhere) run a branch and bound over 16 x 16
tiles of output pixels when every pixel is finite.  Each centre starts from its own value (cost
0), then the previous tile's winners along its last column (or the minima of the four most
promising blocks) are evaluated for the whole tile.  A 16 x 16 block of input pixels may hold
a better sum only if its minimum plus the cost at its least distance to the tile is below the
tile's largest current value (64 x 64 superblocks first, then a superblock's four blocks of
a row at once; the blocks queued lowest bound first); within it a row only if the row's
minimum is, and a pixel only if its value is.  A candidate pixel is then evaluated for each
tile row where its value plus the least cost over that row is below the row's largest current
value: sixteen centres at once, ``value +
tab[...]`` with the same cost rows as the gather, so every result is one of the same double
sums and the minima are the same bits.  The bounds need costs symmetric in ``dx`` and
non-decreasing in ``|dx|`` and ``|dy|``, true of the tabulated ellipsoid (checked).  The
tiles give up when their work per pixel so far exceeds ``_TILES_BUDGET`` (images where the
bounds prune little: steep ramps, quantised flat backgrounds at small radii); the row-based
kernel then computes the rows they did not finish.  Single-thread CPU time of the erosion of
the 2048x2048 benchmark image, rows / tiles: 0.13 / 0.07 s at r = 50, 0.25 / 0.09 s at 150,
0.28 / 0.09 s at 200 (an older, loaded measurement; the tiles alone, uint16-rounded image,
unloaded: 48 / 35 / 33 / 32 / 34 ms at r = 32 / 50 / 100 / 150 / 200).  Where their time
goes at r = 150 (perf): the candidate scan 26 % (some 40 % of it waiting for the blocks'
row minima and values from memory; prefetching them gained nothing), the evaluation and the
rows' maxima 23 %, the block queue 18 %, building the blocked copy and its minima 14 % (memory
bound: a shorter minimum chain gained nothing), the rest per tile (own values, result, shared
work counters) 19 %.  The next tile's own values are prefetched (they are read first thing,
after scans that keep the hardware prefetcher away).

Scatter (the opening's dilation, 2D, from ``_SCATTER_MIN_RADIUS`` on;
:mod:`bgsub.kernels._ball_scatter`).  On the eroded image most centres win at one pixel or
a few, so each centre is evaluated only where none of its four edge neighbours is shown to
give a smaller sum.  A neighbour ``c + e`` beats ``c`` at ``p`` when the cost difference
``C(p - c) - C(p - c - e)`` is at least ``E(c + e) - E(c)`` (the image times the sign) plus a
slack that covers rounding, so it beats it strictly and every chain of such wins ends at a
centre that is evaluated.  The x-neighbours leave an interval of each cost row (searched in
monotone lower envelopes ``L`` of the row's differences), the y-neighbours a range of rows (the
envelope ``rise`` of the column differences, then, on the near side of a centre lower than one
y-neighbour, rows where that neighbour wins over every column the x-neighbours leave: the
columns' bound is one search of the envelope ``K`` of the rows' ``L`` for the larger of the two
x-thresholds, ``K`` being non-decreasing).  Every pixel left is evaluated, without further
tests: each value is one of the row kernel's sums, a real one, so evaluating a pixel the
bounds could have left out changes no minimum, and the maxima are the same bits.
(Per-pixel tests against the y- and diagonal neighbours, in the vector scan, saved no work
and cost 6 loads and compares per four pixels: dropped.)  For a float32 output the running
minima are float32, each sum rounded first: rounding is monotone, so the least rounded sum
is the rounded least sum, the same bits with half the memory traffic.

Creases (the centres between bowls, where the ball touches two contacts: about 4 % of the
centres, 12-20 rows each).  ``L[j][u]`` is monotone in ``|j|`` (the ball's rows steepen away
from its centre: non-decreasing for ``u >= 1``, non-increasing for ``u <= 0``; checked when
the tables are built, the per-row path otherwise), so every row of a range has its interval
within the hull of those of its nearest and farthest rows: a centre with three rows or more
takes that hull, four searches, as one window for all its rows and scans them in one call
(pixel by pixel when under four wide) instead of two searches per row; the window is about as
wide as the rows' intervals (51.1 million pixels evaluated against 47.8 million tested by the
per-row searches at r = 150).

One-pixel centres.  Inside an eroded bowl every centre touches the image at the same contact
pixel, where they all tie, and the bounds leave a centre that one pixel, the same as its left
neighbour's.  A few comparisons at the indices where the searches would stop (the tables are
monotone) show every other pixel beaten: the rows beyond the pixel's, and those on the
centre's other side, beaten by the y-neighbour there from the row where ``rise`` reaches its
threshold on, the rows before that with empty x-intervals (checked at their nearest and
farthest rows, ``L`` being monotone, on either side of the pixel's column); the rows between
the centre and the pixel's beaten by the other y-neighbour as in the one-sided range (its
x-extent bound tried first at the previous centre's, two comparisons, then searched); the
pixel's row by its x-neighbours' envelopes.  Only the pixel is then evaluated.  Where a check
fails the searches run, starting at that pixel.  Bands of centre rows run in parallel, each
into its own rows of minima (its centres' reach), merged row by row.  Benchmark image,
r = 150: 85 % of the centres by the one-pixel check (77 % when it replayed the searches'
exact outcome instead), 1.2 cost rows visited per centre.  Single-thread CPU time of the
dilation, rows / scatter, 0.39 / 0.19 s at r = 150, 0.43 / 0.20 s at 200, even at 50,
slower below (0.21 / 0.25 s at r = 30: the eroded image is less smooth, more centres win at
many pixels), before the changes above; the window per crease, the tests dropped and the
wider one-pixel check took the scatter to about 0.6x of that (interleaved with the previous
build, loaded machine; a 1024x1024 gamma-noise image: about 0.5x), and it now beats the row
kernel from about r = 17 (see :data:`_SCATTER_MIN_RADIUS`).  Tried and dropped: the one-pixel
check also from the centre above's pixel (5 % more centres by the check, 1-7 % slower; tried
only where the left neighbour gives none, 0.93-1.06x, within the noise); the
window from two rows on (more centres lose the one-pixel guess their left neighbour gives:
3 % slower) or from four (no gain); the searches of the range and of the tightening started
from the left neighbour's pixel (no gain); earlier, cutting a range's end rows where the x-
and diagonal neighbours together beat every pixel (43 % fewer rows, yet 5-15 % slower: each
cut row still paid two searches).

So the time per pixel is at most O(r) row operations in 2D (O(r^2) in 3D)
whatever the radius, small radii run the vectorised direct minimum, and with
the lower bounds the time on typical images grows much more slowly than r.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from bgsub._axes import per_axis
from bgsub.kernels import _ball, _ball_scatter, _ball_tiles
from bgsub.kernels.threads import num_threads

__all__ = ["ball_erosion", "ball_dilation", "ball_opening", "ball_support"]

#: Relative slack when testing ``q(o) <= 1`` so that offsets lying exactly on
#: the ellipsoid's surface (e.g. (3, 4) for radius 5) are kept despite rounding.
_SUPPORT_TOL = 1e-12


def _reach(r: float) -> int:
    """The largest integer offset along a semi-axis ``r`` that the support keeps (offsets on
    the surface within :data:`_SUPPORT_TOL` count: 2 for ``r = 2 - 2e-15``)."""
    return int(math.floor(r * math.sqrt(1.0 + _SUPPORT_TOL)))


# ----------------------------------------------------------------------------
# Parameter handling
# ----------------------------------------------------------------------------


def _normalize_height(radii: tuple[float, ...], height: float | None) -> float:
    """Return the ellipsoid's half-height, defaulting to the ball radius."""
    if height is None:
        if any(r != radii[0] for r in radii):
            raise ValueError("height is required when the radius is anisotropic")
        height = radii[0]
    height = float(height)
    if not (math.isfinite(height) and height > 0):
        raise ValueError(f"height must be finite and > 0, got {height}")
    return height


def _check_image(image: np.ndarray) -> np.ndarray:
    """Validate the image and return it as a C-contiguous float array."""
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"image must be float32 or float64, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D, got ndim={image.ndim}")
    return np.ascontiguousarray(image)


def _in_support(q: float) -> bool:
    """Whether a normalised squared distance ``q`` lies inside the ellipsoid."""
    return q <= 1.0 + _SUPPORT_TOL


#: The ball's tables (:func:`_row_profiles`, the scatter's) of the last few balls, the least
#: recently used dropped first: built in Python, they cost 8 + 10 ms at r = 150 (13 + 13 at
#: r = 200) of every opening, not run in parallel.  Entries are read-only; the profiles are
#: handed out as copies.
_TABLES_KEPT = 8
_tables: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
_tables_lock = threading.Lock()


def _kept_tables(key: tuple, make: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The tables ``make()`` returns, built once per ``key`` while kept (read-only arrays)."""
    with _tables_lock:
        found = _tables.get(key)
        if found is not None:
            _tables.move_to_end(key)
            return found
    found = make()
    for array in found:
        if isinstance(array, np.ndarray):
            array.setflags(write=False)
    with _tables_lock:
        _tables[key] = found
        while len(_tables) > _TABLES_KEPT:
            _tables.popitem(last=False)
    return found


def _row_profiles(
    radii: tuple[float, ...], height: float, shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tabulate the 1D cross-sections of the ellipsoid along the last axis (kept between
    calls, see :data:`_TABLES_KEPT`; the caller gets its own copies).

    Offsets that cannot fit in an image of ``shape`` (``|o_i| >= shape[i]``)
    are left out, so the tables stay small for balls larger than the image.

    Returns
    -------
    widths : ndarray of int64, shape (fz + 1, fy + 1)
        Half-width ``w`` (in pixels) of the row at outer offset ``(|dz|, |dy|)``,
        or -1 if that row is empty.  For a 2D image ``fz == 0``.
    rhos : ndarray of float64, same shape
        Real half-width of each row's semi-ellipse.
    costs : ndarray of float64, shape (fz + 1, fy + 1, 2 * P + 1)
        ``costs[i, j, P + dx] = height - K(i, j, dx)`` for ``|dx| <= widths[i, j]``
        (``+inf`` elsewhere), with ``P = max(widths)``.
    """
    key = ("profiles", tuple(float(r) for r in radii), float(height),
           None if shape is None else tuple(int(n) for n in shape))
    kept = _kept_tables(key, lambda: _make_row_profiles(radii, height, shape))
    return kept[0].copy(), kept[1].copy(), kept[2].copy()


def _make_row_profiles(
    radii: tuple[float, ...], height: float, shape: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_row_profiles`, computed."""
    outer = radii[:-1] if len(radii) == 3 else (1.0,) + radii[:-1]
    rz, ry = outer
    rx = radii[-1]
    limits = [10**18] * len(radii) if shape is None else [max(n - 1, 0) for n in shape]
    fz = min(_reach(rz), limits[0]) if len(radii) == 3 else 0
    fy = min(_reach(ry), limits[-2])
    kmax = limits[-1]
    widths = np.full((fz + 1, fy + 1), -1, dtype=np.int64)
    rhos = np.zeros((fz + 1, fy + 1))
    for i in range(fz + 1):
        for j in range(fy + 1):
            q_outer = (i / rz) ** 2 + (j / ry) ** 2
            if not _in_support(q_outer):
                continue
            k = 0
            while k < kmax and _in_support(q_outer + ((k + 1) / rx) ** 2):
                k += 1
            widths[i, j] = k
            rhos[i, j] = rx * math.sqrt(max(1.0 - q_outer, 0.0))
    pad = int(widths.max())
    costs = np.full((fz + 1, fy + 1, 2 * pad + 1), np.inf)
    for i in range(fz + 1):
        for j in range(fy + 1):
            w = widths[i, j]
            if w < 0:
                continue
            q_outer = (i / rz) ** 2 + (j / ry) ** 2
            dx = np.arange(-w, w + 1)
            frac = np.clip(1.0 - (q_outer + (dx / rx) ** 2), 0.0, None)
            costs[i, j, pad - w : pad + w + 1] = height - height * np.sqrt(frac)
    return widths, rhos, costs


def ball_support(
    radius: float | Sequence[float], height: float | None = None, ndim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ellipsoid's footprint and non-flat structure as dense arrays.

    Parameters
    ----------
    radius : float or sequence of float
        Semi-axes in pixels, one per axis (a scalar means an isotropic ball).
    height : float, optional
        Half-height in intensity units; defaults to the radius of an isotropic ball.
    ndim : int, optional
        Number of axes when ``radius`` is a scalar (default 2).

    Returns
    -------
    footprint : ndarray of bool
        Offsets ``o`` with ``sum((o_i / radius_i) ** 2) <= 1``, centred.
    structure : ndarray of float64
        ``K(o) - height`` on the footprint (``-inf`` outside), i.e. the additive
        structure for :func:`scipy.ndimage.grey_dilation`.

    Examples
    --------
    >>> fp, st = ball_support((1.0, 1.0))
    >>> fp.astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    >>> float(st[1, 1]), float(st[0, 1])
    (0.0, -1.0)
    """
    if ndim is None:
        ndim = 2 if np.ndim(radius) == 0 else len(radius)
    radii = per_axis(radius, ndim, "radius")
    h = _normalize_height(radii, height)
    half = [_reach(r) for r in radii]
    grids = np.meshgrid(*[np.arange(-f, f + 1) for f in half], indexing="ij")
    q = np.zeros(grids[0].shape)
    for g, r in zip(grids, radii, strict=True):
        q = q + (g / r) ** 2
    footprint = q <= 1.0 + _SUPPORT_TOL
    structure = np.where(footprint, h * np.sqrt(np.clip(1.0 - q, 0.0, None)) - h, -np.inf)
    return footprint, structure


# ----------------------------------------------------------------------------
# Method choice (cost model) and candidate pruning
# ----------------------------------------------------------------------------

#: Pixels per block of the output row: the unit of the gather method and of
#: the lower-bound test (the compiled gather is written for 16 float64 lanes).
_BLOCK = _ball.BLOCK_SIZE  # 16

#: Estimated costs (ns, development machine: AVX2 x86-64) used to pick each
#: row's method: gather per (candidate, block) and per block; envelope per
#: candidate and per pixel; direct per (pixel, offset).
_COST_GATHER = (1.6, 16.0)
_COST_ENVELOPE = (16.0, 1.5)
_COST_DIRECT = 0.08

#: Rows at most this wide never use the envelope.
_ENVELOPE_MIN_WIDTH = 12

#: The lower-bound skipping (two sweeps) is used when the ellipsoid has at
#: least ``_BOUNDS_MIN_ROWS`` rows (cross-sections) besides the central one
#: and the central row is at least ``_BOUNDS_MIN_WIDTH`` pixels wide on each
#: side: it saves erosion work only where rows are wide enough for the gather
#: method, and costs a second sweep.
_BOUNDS_MIN_ROWS = 8
_BOUNDS_MIN_WIDTH = 18

#: Testing hooks: force one method for every row (0 = cost model, 1 = direct,
#: 2 = gather, 3 = envelope), the lower-bound skipping (-1 = automatic, 0 = off,
#: 1 = on), the candidate pruning (False = keep every pixel) and the coarse-to-fine
#: driver for every call that uses the lower bounds (not only the opening's dilation).
_FORCE_METHOD = 0
_FORCE_BOUNDS = -1
_PRUNE = True
_FORCE_COARSE_TO_FINE = False

#: The opening's erosion half (of the raw image, not smooth) also uses the coarse-to-fine
#: driver in 2D from this radius along the rows on: single-thread CPU time of the erosion
#: of the 2048x2048 benchmark image, two sweeps / coarse to fine, 0.23 / 0.25 s at r = 100,
#: 0.31 / 0.33 s at 160, 0.35 / 0.34 s at 180, 0.34-0.37 / 0.31-0.32 s at 200, 0.42 / 0.34 s
#: at 250 (the same values either way).
_OPENING_EROSION_C2F_MIN_RADIUS = 190.0

#: The tiled branch and bound (2D erosions and dilations of images that are not smooth, every
#: pixel finite) is used from this radius on (the smaller of the two): single-thread CPU time of
#: the erosion of the 2048x2048 benchmark image, rows / tiles, 0.13 / 0.20 s at r = 20,
#: 0.17 / 0.14 s at 30, 0.17 / 0.11 s at 40, 0.29 / 0.09 s at 150.
_TILES_MIN_RADIUS = 32.0

#: The tiled branch and bound gives up (and the row-based kernel runs instead) when its work per
#: pixel (rows of 16 sums evaluated plus rows of 16 pixels tested, about 6.5 ns each beside some
#: 5 ns per pixel of fixed costs) exceeds ``_TILES_BUDGET[0] + _TILES_BUDGET[1] * radius`` so
#: far: about where the row-based kernel (45 / 75 ns per pixel at r = 50 / 100 on the images
#: below) would be faster. Work per pixel at r = 50 / 100 / 150: benchmark image 1.2 / 1.0 /
#: 1.0, 4x4 tiles of the stardist nuclei 5.1 / 2.0 / 1.1, of the napari time-lapse frame
#: (uint8) 13.8 / 10.3 / 7.4 (single-thread times rows / tiles 222 / 366 ms at r = 50, 312 /
#: 295 ms at r = 100).
_TILES_BUDGET = (1.0, 0.1)

#: Testing hooks: the tiled branch and bound for every 2D call with finite pixels (True), never
#: (False), or by radius (None); the instruction set it may use at most (-1: the best the CPU
#: has, 0: scalar, 1: AVX2, 2: AVX-512).
_FORCE_TILES: bool | None = None
_TILES_ISA = -1

#: Candidate pruning in the opening's dilation. Its input, an erosion by the same ball, is
#: (sign flipped) an upper envelope of the ball's translates: a pixel has a lower neighbour
#: on one side only, except where its ball touches near the rim of a narrower cap, so the
#: lists keep every pixel and only cost their building (2048x2048 benchmark image, r = 200:
#: the same candidates and row erosions with and without, 6 % fewer instructions without).
_OPENING_DILATION_PRUNE = False

#: Pruning tiers: tier ``t`` compares the lowest neighbour at distances
#: ``_TIER_LO[t].._TIER_HI[t]`` on each side (read from the sparse table of
#: minima over windows of ``2 ** _TIER_LEVEL[t]`` pixels) against the margin at
#: ``_TIER_HI[t]``.  Group 1 (reach 1) uses tier 0; group ``g >= 2`` (reach
#: ``2 ** (g - 1)``) uses tiers ``1 .. g - 1``.
_TIER_LEVEL = _ball.TIER_LEVEL  # (0, 1, 1, 2, 3, 4)
_TIER_LO = _ball.TIER_LO  # (1, 1, 3, 5, 9, 17)
_TIER_HI = _ball.TIER_HI  # (1, 2, 4, 8, 16, 32)

#: Number of candidate groups: group 0 keeps every pixel (rows of width 0,
#: pruning off, or a row whose own list would not pay off), group ``g >= 1``
#: prunes with reach ``2 ** (g - 1)``.
_NGROUPS = len(_TIER_HI) + 1

#: Estimated cost (ns per pixel) of building a candidate list: a base plus one
#: term per tier (see :func:`_erode_row` for when a list is built).
_COST_CANDIDATES = (1.5, 0.5)

#: A closed-form switch-over point this close to an integer is re-checked by
#: direct comparison (the closed form is accurate to ~1e-11 pixels).
_NEAR_INTEGER = _ball.NEAR_INTEGER  # 1e-6


def _group_of(w: int) -> int:
    """Candidate group of a row of half-width ``w``: the largest reach ``<= w``."""
    if w <= 0 or not _PRUNE:
        return 0
    return min(_NGROUPS - 1, int(w).bit_length())



# ----------------------------------------------------------------------------
# Compiled loops
# ----------------------------------------------------------------------------
# The row erosions, candidate lists, block tests and the parallel driver over blocks
# of output rows are compiled (``bgsub.kernels._ball``, Cython + OpenMP); the 16-pixel
# block primitives are small C functions there, the gather with its 16 lanes in vector
# registers (an AVX2 version picked at run time).  Building blocks re-exported for the
# tests: ``_tier_minima(row, done, levels, mins)`` (sparse-table minima),
# ``_candidates(...)`` (the pruned candidates, see the module docstring),
# ``_update_target`` / ``_flag_live`` (block updates and the lower-bound test) and
# ``_round_up32`` (the smallest float32 at or above a value).

_tier_minima = _ball.tier_minima
_candidates = _ball.candidates
_update_target = _ball.update_target
_flag_live = _ball.flag_live
_round_up32 = _ball.round_up32


def _block_shape(nz: int, ny: int) -> tuple[int, int]:
    """Split the outer axes into about one block of rows per thread.

    Large blocks maximise the sharing of row erosions between output rows;
    one block per thread keeps all cores busy.
    """
    nthreads = num_threads()
    if nz >= nthreads:
        return -(-nz // nthreads), ny
    nby = -(-nthreads // nz)
    return 1, max(1, -(-ny // nby))


def _cap_tables(
    widths: np.ndarray, costs: np.ndarray, scale: float, prune: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-cap tables for the kernel.

    ``scale`` bounds the magnitude of every finite value the kernel adds or
    compares (largest finite pixel plus largest cost): four of its ulps are
    added to the pruning margins, so that a dropped pixel is beaten by more
    than rounding (the comparisons are exact, not merely within an ulp), and
    pruning is off when it is not finite or beyond ``1e300``, or when ``prune`` is false.

    Returns
    -------
    ctabs : ndarray of float64, shape (fz + 1, fy + 1, 2 * (P + _BLOCK) + 1)
        ``costs`` padded with ``_BLOCK`` more ``+inf`` on each side (gather method).
    offs : ndarray of float64, shape (fz + 1, fy + 1)
        ``min_d costs[dz, dy, d] - costs[0, 0, d]`` over the cap's window: how much
        more every cap costs than the central one (``+inf`` for empty rows).
    groups : ndarray of int64, shape (fz + 1, fy + 1)
        Candidate group of each cap (see :func:`_group_of`).
    margins : ndarray of float64, shape (_NGROUPS, 33)
        ``margins[g, k]``: the largest ``c(k) - c(0)`` over the caps of group ``g``,
        plus ``4 * spacing(scale)`` for ``k >= 1``.
    """
    pad = (costs.shape[2] - 1) // 2
    ctabs = np.pad(costs, ((0, 0), (0, 0), (_BLOCK, _BLOCK)), constant_values=np.inf)
    offs = np.full(widths.shape, np.inf)
    groups = np.zeros(widths.shape, dtype=np.int64)
    kmax = _TIER_HI[-1]
    margins = np.zeros((_NGROUPS, kmax + 1))
    for (dz, dy), w in np.ndenumerate(widths):
        if w < 0:
            continue
        window = slice(pad - w, pad + w + 1)
        offs[dz, dy] = float(np.min(costs[dz, dy, window] - costs[0, 0, window]))
        g = _group_of(int(w)) if prune and math.isfinite(scale) and scale <= 1e300 else 0
        groups[dz, dy] = g
        reach = min(int(w), kmax)
        inc = costs[dz, dy, pad : pad + reach + 1] - costs[dz, dy, pad]
        margins[g, : reach + 1] = np.maximum(margins[g, : reach + 1], inc)
    if math.isfinite(scale):
        margins[:, 1:] += 4.0 * np.spacing(scale)
    return ctabs, offs, groups, margins


def _rise_table(widths: np.ndarray, costs: np.ndarray) -> np.ndarray | None:
    """Least cost increase from row ``dy - 1`` to row ``dy`` of the ball, non-decreasing in ``dy``.

    ``rise[dy] = min over dy' >= dy and |dx| <= widths[0, dy'] of
    costs[0, dy', dx] - costs[0, dy' - 1, dx]`` (``rise[0] = -inf``), for the neighbour
    domination of the coarse-to-fine driver (2D only: ``None`` when the ball has outer rows
    in z, or no row besides the central one). A centre ``(y, x)`` whose neighbour
    ``(y + 1, x)`` is lower than it by at most ``rise[dy]`` (minus a slack for rounding) gives a
    larger value than that neighbour at every pixel of output row ``y + dy``.
    """
    if widths.shape[0] != 1 or widths.shape[1] < 2:
        return None
    pad = (costs.shape[2] - 1) // 2
    fy = widths.shape[1] - 1
    rise = np.full(fy + 1, np.inf)
    rise[0] = -np.inf
    for dy in range(1, fy + 1):
        w = int(widths[0, dy])
        if w < 0:
            break
        window = slice(pad - w, pad + w + 1)
        rise[dy] = float(np.min(costs[0, dy, window] - costs[0, dy - 1, window]))
    rise[1:] = np.minimum.accumulate(rise[1:][::-1])[::-1]
    return rise


#: Image-sized scratch arrays (the kernel's bounds and row erosions, the opening's eroded
#: image) are kept between calls, up to this many bytes in all, the least recently used
#: dropped first: a fresh array costs its page faults and the zeroing of its pages by the
#: system, 6-8 % of the opening's time at r = 200 on 2048x2048.  Callers in several threads
#: each get their own arrays.
_POOL_MAX_BYTES = 256 * 2**20
_pool: OrderedDict[tuple[tuple[int, ...], str], list[np.ndarray]] = OrderedDict()
_pool_lock = threading.Lock()


def _pool_take(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` with any contents: a kept one, or a new one."""
    key = (tuple(int(n) for n in shape), np.dtype(dtype).str)
    with _pool_lock:
        free = _pool.get(key)
        if free:
            _pool.move_to_end(key)
            return free.pop()
    return np.empty(key[0], dtype)


def _pool_give(arrays: Sequence[np.ndarray]) -> None:
    """Keep ``arrays`` (taken with :func:`_pool_take`, no longer used) for later calls."""
    with _pool_lock:
        for array in arrays:
            key = (array.shape, array.dtype.str)
            _pool.setdefault(key, []).append(array)
            _pool.move_to_end(key)
        total = sum(a.nbytes for free in _pool.values() for a in free)
        while total > _POOL_MAX_BYTES:
            key, free = next(iter(_pool.items()))
            total -= free.pop(0).nbytes
            if not free:
                del _pool[key]


def _erosion_coarse_to_fine(ndim: int, radii: tuple[float, ...]) -> bool:
    """Whether the opening's erosion half runs coarse to fine too (wide 2D balls)."""
    return ndim == 2 and radii[-1] >= _OPENING_EROSION_C2F_MIN_RADIUS


def _max_abs_finite(image: np.ndarray) -> float:
    """The largest absolute value among the finite pixels (0 if none)."""
    m = max(abs(float(image.max())), abs(float(image.min())))
    if math.isfinite(m):
        return m
    a = np.abs(image)
    return float(np.max(a, where=np.isfinite(a), initial=0.0))


def _largest_cost(costs: np.ndarray) -> float:
    """The largest finite cost of the ball's rows (its height, up to rounding)."""
    return float(costs[costs < np.inf].max())


def _all_finite(image: np.ndarray) -> bool:
    """Whether every pixel is finite (no inf, no NaN)."""
    return image.size == 0 or (math.isfinite(float(image.max()))
                               and math.isfinite(float(image.min())))


def _tile_tables(
    widths: np.ndarray, ctabs: np.ndarray
) -> tuple[np.ndarray, int, int, np.ndarray, np.ndarray] | None:
    """The cost tables of the tiled branch and bound (2D), or None where its bounds do not hold.

    Returns ``ctab`` (the rows' costs, ``dx = 0`` at ``c0``), ``c0``, ``P`` (the widest row's
    half-width), ``ct[gx, dy] = ctab[dy, c0 + gx]`` (``+inf`` beyond the last row, 16 more rows)
    and ``bg[di, dj]``, the cost at the least distance between two 16 x 16 tiles ``di`` and
    ``dj`` tiles apart. The bounds need costs symmetric in ``dx`` and non-decreasing in
    ``|dx|`` and ``|dy|``: true of the tabulated ellipsoid (every rounding step is monotone),
    checked anyway.
    """
    block = _ball_tiles.TILE_SIZE
    ctab = np.ascontiguousarray(ctabs[0])
    fy = ctab.shape[0] - 1
    P = int(widths.max())
    c0 = P + _BLOCK
    right = ctab[:, c0:]
    if not (np.array_equal(ctab, ctab[:, ::-1]) and np.all(right[:, 1:] >= right[:, :-1])
            and np.all(ctab[1:] >= ctab[:-1])):
        return None
    ct = np.full((P + _BLOCK + 1, fy + block + 1), np.inf)
    ct[:, : fy + 1] = right[:, : P + _BLOCK + 1].T
    gaps_y = [0] + [(d - 1) * block + 1 for d in range(1, (fy - 1) // block + 2)] if fy else [0]
    gaps_x = [0] + [(d - 1) * block + 1 for d in range(1, (P - 1) // block + 2)] if P else [0]
    bg = np.array([[ctab[gy, c0 + gx] for gx in gaps_x] for gy in gaps_y])
    return ctab, c0, P, ct, bg


def _use_tiles(radii: tuple[float, ...], ndim: int) -> bool:
    """Whether a 2D call (raw image, finite pixels) runs the tiled branch and bound."""
    if ndim != 2:
        return False
    if _FORCE_TILES is not None:
        return _FORCE_TILES
    return min(radii) >= _TILES_MIN_RADIUS


def _morph(
    image: np.ndarray,
    radius: float | Sequence[float],
    height: float | None,
    sign: float,
    out_dtype: np.dtype | None = None,
    coarse_to_fine: bool = False,
    profiles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    scale: float | None = None,
    prune: bool = True,
    out: np.ndarray | None = None,
    tiles: bool = False,
    finite: bool | None = None,
) -> np.ndarray:
    """Shared implementation of erosion (``sign=1``) and dilation (``sign=-1``).

    ``coarse_to_fine`` selects the one-sweep lower-bound driver (input rows coarse to
    fine, filtered gather), made for smooth images such as an eroded one. ``profiles``
    (:func:`_row_profiles` of these radii, height and shape) and ``scale`` (an upper
    bound of every finite ``|pixel|`` plus the largest cost, see :func:`_cap_tables`)
    may be passed when already known; any larger ``scale`` gives the same values.
    ``prune=False`` keeps every pixel as a candidate (same values, see
    :data:`_OPENING_DILATION_PRUNE`). ``out``: a C-contiguous array of the image's size and
    the output dtype to write the result into. ``tiles``: try the tiled branch and bound (2D,
    every pixel finite -- ``finite`` when already known -- and a radius from
    :data:`_TILES_MIN_RADIUS` on), made for images that are not smooth; the row-based kernel
    runs where it does not apply or gives up.
    """
    image = _check_image(image)
    radii = per_axis(radius, image.ndim, "radius")
    h = _normalize_height(radii, height)
    widths, rhos, costs = _row_profiles(radii, h, image.shape) if profiles is None else profiles
    img3 = image if image.ndim == 3 else image[np.newaxis]
    if out is None:
        out = np.empty(img3.shape, dtype=image.dtype if out_dtype is None else out_dtype)
    out = out.reshape(img3.shape)
    if image.size:
        bz, by = _block_shape(img3.shape[0], img3.shape[1])
        if scale is None:
            top, bottom = float(img3.max()), float(img3.min())
            if math.isfinite(top) and math.isfinite(bottom):
                finite = True if finite is None else finite
                scale = max(abs(top), abs(bottom)) + _largest_cost(costs)
            else:
                finite = False
                scale = _max_abs_finite(img3) + _largest_cost(costs)
        ctabs, offs, groups, margins = _cap_tables(widths, costs, scale, prune)
        if tiles and _use_tiles(radii, image.ndim) and (
            _all_finite(image) if finite is None else finite
        ):
            out2 = out.reshape(image.shape)
            done = _tile_morph(image, out2, sign, widths, ctabs)
            if done >= image.shape[0]:
                return out2
            if done > 0:
                # the rows the tiles left: the row-based kernel on the rows they need
                first = max(done - (widths.shape[1] - 1), 0)
                rest = _morph(image[first:], radii, h, sign, out_dtype=out.dtype,
                              coarse_to_fine=coarse_to_fine, scale=scale, prune=prune)
                out2[done:] = rest[done - first:]
                return out2
        nrows = int((widths >= 0).sum()) - 1
        bounds = nrows >= _BOUNDS_MIN_ROWS and widths[0, 0] >= _BOUNDS_MIN_WIDTH
        if _FORCE_BOUNDS >= 0:
            bounds = bool(_FORCE_BOUNDS)
        method = np.array(
            [_FORCE_METHOD, bounds, *_COST_GATHER, *_COST_ENVELOPE, _COST_DIRECT,
             _ENVELOPE_MIN_WIDTH, *_COST_CANDIDATES, coarse_to_fine or _FORCE_COARSE_TO_FINE],
            dtype=np.float64,
        )
        slack = 2.0**-49 * scale + 1e-300
        inv_s = radii[-1] / h
        taken: list[np.ndarray] = []

        def alloc(shape: tuple[int, ...], dtype: type) -> np.ndarray:
            taken.append(_pool_take(shape, dtype))
            return taken[-1]

        try:
            _ball.erode_nd(
                img3, out, float(sign), widths, rhos, costs, ctabs, offs, groups, inv_s, method,
                margins, slack, bz, by, num_threads(), alloc, _rise_table(widths, costs),
            )
        finally:
            _pool_give(taken)
    return out.reshape(image.shape)


def _tile_morph(
    image: np.ndarray, out: np.ndarray, sign: float, widths: np.ndarray, ctabs: np.ndarray
) -> int:
    """The tiled branch and bound into ``out``: the number of leading rows it completed (all,
    or fewer where it gave up, see :data:`_TILES_BUDGET`; 0 where it does not apply)."""
    tables = _tile_tables(widths, ctabs)
    if tables is None:
        return 0
    rate = _TILES_BUDGET[0] + _TILES_BUDGET[1] * float(min(widths.shape[1] - 1, widths.max()))
    block = _ball_tiles.TILE_SIZE
    ny, nx = image.shape
    scratch = _pool_take((-(-ny // block) * -(-nx // block) * block * block,), np.float64)
    try:
        return int(_ball_tiles.tile_erode(image, scratch, out, *tables, float(sign), rate,
                                          num_threads(), _TILES_ISA))
    finally:
        _pool_give([scratch])


#: The opening's dilation (2D, every pixel finite) runs the scatter kernel
#: (:mod:`bgsub.kernels._ball_scatter`) from this radius on (the smaller of the two):
#: single-thread CPU time of the dilation of the eroded 2048x2048 benchmark image, rows /
#: scatter, 0.16 / 0.26 s at r = 20, 0.21 / 0.25 s at 30, 0.26 / 0.24 s at 50, 0.32 / 0.23 s
#: at 100, 0.39 / 0.22 s at 150 (an older scatter). Since the crease windows and the wider
#: one-pixel check (loaded machine, best of 5): 27 / 234 ms at r = 5, 72 / 212 ms at 10,
#: 140 / 182 ms at 15, 155 / 178 ms at 16, 213 / 174 ms at 18, 223-248 / 164-172 ms at 20,
#: 292 / 196 ms at 30, 384 / 167 ms at 50 (2 threads, CPU: 162 / 198 ms at 16, 218 / 172 ms
#: at 18); a 1024x1024 gamma-noise image, 64 / 49 ms at r = 18, 88 / 42 ms at 50.
_SCATTER_MIN_RADIUS = 18.0

#: Testing hook: the scatter kernel for every 2D opening with finite pixels (True), never
#: (False), or by radius (None).
_FORCE_SCATTER: bool | None = None


def _use_scatter(radii: tuple[float, ...], ndim: int, finite: bool, scale: float | None) -> bool:
    """Whether the opening's dilation runs the scatter kernel (2D, finite, not near overflow)."""
    if ndim != 2 or not finite or scale is None or not scale <= 1e300:
        return False
    if _FORCE_SCATTER is not None:
        return _FORCE_SCATTER
    return min(radii) >= _SCATTER_MIN_RADIUS


def _scatter_dilation(
    eroded: np.ndarray, profiles: tuple[np.ndarray, np.ndarray, np.ndarray], scale: float,
    dtype: np.dtype,
) -> np.ndarray:
    """The opening's dilation of ``eroded`` (2D, finite) by the scatter kernel: the same values
    as :func:`_morph` with ``sign=-1``, bit for bit. ``scale`` as in :func:`_cap_tables`."""
    costs = profiles[2]
    pad = (costs.shape[2] - 1) // 2
    tabs = _kept_tables(("scatter", costs.shape, costs[0].tobytes()),
                        lambda: _ball_scatter.tables(costs[0], pad))
    nt = max(1, min(num_threads(), eroded.shape[0] // 64))
    out = np.empty(eroded.shape, dtype)
    # float32 minima for a float32 output (the same bits: see _ball_scatter), half the traffic
    minima = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    scratch = _pool_take(_ball_scatter.scratch_shape(*eroded.shape, nt, tabs), minima)
    try:
        _ball_scatter.scatter_dilate(eroded, out, scratch, -1.0, tabs, 2.0**-49 * scale + 1e-300,
                                     nt)
    finally:
        _pool_give([scratch])
    return out


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def ball_erosion(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey erosion by a non-flat ellipsoid (the rolling-ball background).

    ``result[p] = min over o in S, p + o inside the image, of
    image[p + o] + height - height * sqrt(1 - sum((o_i / radius_i) ** 2))``
    where ``S`` is the set of integer offsets with ``sum((o_i / radius_i) ** 2) <= 1``.
    This equals :func:`skimage.restoration.rolling_ball` (``radius=r`` for an
    isotropic integer ``r``, or ``kernel=ellipsoid_kernel(2 * radius + 1, height)``
    for integer semi-axes) but runs in O(r) per pixel in 2D (O(r^2) in 3D).

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis (a scalar is used for
        all axes).  Non-integer and anisotropic values are allowed.
    height : float, optional
        Half-height of the ellipsoid in intensity units.  Defaults to the radius
        for an isotropic ball; required if the radius is anisotropic.

    Returns
    -------
    ndarray
        Eroded image with the input's shape and dtype (computed in float64).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 7), dtype=np.float32)
    >>> img[2, 3] = -10.0
    >>> ball_erosion(img, radius=2.0)[2]
    array([  0.      ,  -8.      ,  -9.732051, -10.      ,  -9.732051,
            -8.      ,   0.      ], dtype=float32)
    """
    return _morph(image, radius, height, 1.0, tiles=True)


def ball_dilation(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey dilation by a non-flat ellipsoid, the dual of :func:`ball_erosion`.

    ``result[p] = max over o in S, p + o inside the image, of
    image[p + o] - height + height * sqrt(1 - sum((o_i / radius_i) ** 2))``.

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis.
    height : float, optional
        Half-height of the ellipsoid; defaults to the radius for an isotropic ball.

    Returns
    -------
    ndarray
        Dilated image with the input's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((1, 5))
    >>> img[0, 2] = 4.0
    >>> ball_dilation(img, radius=(1.0, 2.0), height=1.0)
    array([[3.       , 3.8660254, 4.       , 3.8660254, 3.       ]])
    """
    return _morph(image, radius, height, -1.0, tiles=True)


def ball_opening(
    image: np.ndarray, radius: float | Sequence[float], height: float | None = None
) -> np.ndarray:
    """Grey opening by a non-flat ellipsoid: the rolling-ball envelope (as in ImageJ).

    ``ball_dilation(ball_erosion(image))`` with the intermediate result kept in
    float64.  The opening lies below the image and touches it wherever the ball
    fits under the intensity landscape.

    Parameters
    ----------
    image : ndarray of float32 or float64, ndim 2 or 3
        Input image; must not contain NaN.
    radius : float or sequence of float
        Semi-axes of the ellipsoid in pixels, one per axis.
    height : float, optional
        Half-height of the ellipsoid; defaults to the radius for an isotropic ball.

    Returns
    -------
    ndarray
        Opened image with the input's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 5.0)
    >>> img[4, 4] = 100.0  # the ball cannot enter a one-pixel spike
    >>> round(float(ball_opening(img, radius=3.0)[4, 4]), 4)
    5.1716
    """
    image = _check_image(image)
    radii = per_axis(radius, image.ndim, "radius")
    h = _normalize_height(radii, height)
    profiles = _row_profiles(radii, h, image.shape)
    scale = None
    finite = True
    if image.size:
        # every finite eroded value is a finite pixel plus a cost in [0, largest cost]:
        # the dilation's bound follows without another pass over the image
        cost = _largest_cost(profiles[2])
        top, bottom = float(image.max()), float(image.min())
        finite = math.isfinite(top) and math.isfinite(bottom)
        scale = (max(abs(top), abs(bottom)) if finite else _max_abs_finite(image)) + cost
    buffer = _pool_take(image.shape, np.float64)
    eroded = _morph(image, radii, h, 1.0, out_dtype=np.float64,
                    coarse_to_fine=_erosion_coarse_to_fine(image.ndim, radii),
                    profiles=profiles, scale=scale, out=buffer, tiles=True, finite=finite)
    if _use_scatter(radii, image.ndim, finite, scale):
        opened = _scatter_dilation(eroded, profiles, scale + cost, image.dtype)
    else:
        opened = _morph(eroded, radii, h, -1.0, out_dtype=image.dtype, coarse_to_fine=True,
                        profiles=profiles, scale=None if scale is None else scale + cost,
                        prune=_OPENING_DILATION_PRUNE)
    _pool_give([buffer])
    return opened
