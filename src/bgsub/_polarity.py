"""Which way round: does an image look like dark objects on a light background?

bgsub takes objects to be brighter than their background unless told otherwise
(``light_background=True``, ``--light`` on the command line). Measured the wrong way round, a
bright-field image (H&E, IHC, transmitted light) is a field of "objects" covering most of the
image, and the background rises into the tissue. The cue used here: an empty background is the
flattest part of an image -- bright in bright field, dark in fluorescence, whose shot noise also
makes its bright parts rougher -- and the objects reach further from the median than the
background's noise does. Both on a coarse copy of one plane, a few milliseconds.

A guess, so a warning, never a switch: a confluent fluorescent field with dark gaps between the
cells and even noise looks the same (docs/accuracy.md, Session 35).
"""

from __future__ import annotations

import numpy as np

from bgsub._arrays import in_ordinary_unit
from bgsub._lazy import lazy_module
from bgsub._warnings import warn
from bgsub.kernels.bins import percentiles
from bgsub.kernels.blocks import coarse_cells

__all__ = ["LIGHT_MESSAGE", "looks_light", "warn_if_light"]

ndi = lazy_module("scipy.ndimage")  # (imported on the first look: not on import bgsub)

#: A plane is looked at on block means of at most this many cells a side.
SIDE = 512
#: Its darkest values (0.5th percentile) lie further below its median than its brightest
#: (99.5th) above it: the brightest's rise is under this share of the darkest's drop (noise
#: alone: 0.95-1.05) ...
TAIL = 0.9
#: ... and its flattest tiles (this share of them, with the least pixel-to-pixel roughness,
#: ``TILE`` cells a side) are brighter than more than ``BRIGHTER`` of all the tiles on average
#: (noise alone: 0.5, give or take 0.1 on ``FEWEST_TILES`` a side, less on more).
FLATTEST = 0.2
TILE = 16
BRIGHTER = 0.6
FEWEST_TILES = 8
#: A plane whose maximum at least ``CLIPPED`` of its cells (and two) hold is clipped there: its
#: saturated cells are flat because the camera stopped counting, not because they are an empty
#: background, so each tile's roughness and level are read on its other cells, and a tile of
#: fewer than ``UNCLIPPED_CELLS`` of them (a saturated plateau) is not ranked. uint8
#: fluorescence with its brightest objects saturated looked light before (5 of 168 generated
#: dark-background planes; 3 since), an overexposed bright field still does (docs/accuracy.md,
#: Session 49)
CLIPPED = 0.001
UNCLIPPED_CELLS = 8

#: The finding and its fix (the warning's text; ``radius="auto"`` reports it as a finding).
LIGHT_MESSAGE = ("the image looks like dark objects on a light background (bright field, H&E, "
                 "IHC): its flattest parts are brighter than most of it and its darkest values "
                 "lie further from its median than its brightest; the objects were taken to be "
                 "brighter than the background: if they are darker, give light_background=True "
                 "(on the command line --light)")


def looks_light(cells: np.ndarray) -> bool:
    """Whether a 2D plane (float64; objects taken to be bright) looks like dark objects on a
    light background (see the module's docstring): :data:`TAIL`, then :data:`FLATTEST`,
    :data:`TILE` and :data:`BRIGHTER`. False on a plane of fewer than :data:`FEWEST_TILES`
    tiles per axis (too few to rank) or holding a value that is not finite.

    Examples
    --------
    >>> from bgsub.data import synthetic
    >>> image = synthetic((256, 256), object_radius=8, seed=1).image.astype(float)
    >>> looks_light(image), looks_light(image.max() - image)
    (False, True)
    """
    tiles = tuple(n // TILE for n in cells.shape)
    if cells.ndim != 2 or min(tiles) < FEWEST_TILES or not np.isfinite(cells).all():
        return False  # (NaN, inf or a sum that overflowed: no judgement, no warning)
    cells = in_ordinary_unit(cells)[0]  # (values of 1e-300 or 1e300: squares stay finite)
    low, middle, high = (float(v) for v in percentiles(cells, [0.5, 50, 99.5]))
    if not high - middle < TAIL * (middle - low):
        return False
    rows, columns = (n * TILE for n in tiles)
    detail = cells - ndi.uniform_filter(cells, 3, mode="nearest")
    shape = (tiles[0], TILE, tiles[1], TILE)
    counted = _unclipped(cells)[:rows, :columns].reshape(shape)
    per_tile = counted.sum(axis=(1, 3)).ravel()
    ranked = per_tile >= UNCLIPPED_CELLS
    if np.count_nonzero(ranked) < FEWEST_TILES:
        return False  # (nearly all of it saturated: no judgement)
    roughness = _tile_means(np.square(detail[:rows, :columns]), counted, per_tile, ranked)
    # (a tile of background crossed by a saturated object is as bright as its background)
    levels = _tile_means(cells[:rows, :columns], counted, per_tile, ranked)
    flattest = roughness <= np.quantile(roughness, FLATTEST)
    brighter = np.searchsorted(np.sort(levels), levels[flattest], side="left") / levels.size
    return float(np.mean(brighter)) > BRIGHTER


def _tile_means(values: np.ndarray, counted: np.ndarray, per_tile: np.ndarray,
                ranked: np.ndarray) -> np.ndarray:
    """The mean of ``values`` over each ``ranked`` tile's counted cells (``counted``: 1 or 0
    per cell, reshaped to tiles; ``per_tile``: their number)."""
    sums = (values.reshape(counted.shape) * counted).sum(axis=(1, 3)).ravel()
    return sums[ranked] / per_tile[ranked]


def _unclipped(cells: np.ndarray) -> np.ndarray:
    """1.0 where a cell is not at the plane's clip level, 0.0 where it is: its maximum where
    at least :data:`CLIPPED` of the cells (and two) hold it (1 everywhere where none does).

    Examples
    --------
    >>> cells = np.arange(16.0).reshape(4, 4)
    >>> int(_unclipped(cells).sum())
    16
    >>> cells[2:, 2:] = 100.0
    >>> int(_unclipped(cells).sum())
    12
    """
    at_top = cells == cells.max()
    if np.count_nonzero(at_top) < max(2, CLIPPED * cells.size):
        return np.ones(cells.shape)
    return (~at_top).astype(np.float64)


def warn_if_light(plane: np.ndarray, stacklevel: int = 4) -> None:
    """A :class:`bgsub.BackgroundWarning` of :data:`LIGHT_MESSAGE` where one Y-X ``plane``
    (any real dtype; one holding NaN is not judged) :func:`looks_light` on its block means
    (:func:`~bgsub.kernels.blocks.coarse_cells`, at most :data:`SIDE` a side)."""
    if looks_light(coarse_cells(plane, SIDE)[0]):
        warn(LIGHT_MESSAGE, stacklevel=stacklevel)
