"""Blocks split into tiles (so that a cancel is seen inside a large plane) give the same pixels.

The engine cuts a plane into tiles, each computed on a window enlarged by the
method's halo and cropped (:func:`bgsub.engine.tiles`), where the caller can
cancel: the napari *Apply* and the API with ``cancel=``. These tests force a
small tile size so that small images split, and compare bit for bit with the
whole-plane run of the same plan.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import bgsub
from bgsub import engine
from bgsub.data import synthetic

#: A tile size that cuts the test planes into several tiles.
SMALL = 40 * 40
#: Methods whose reach spans the whole plane: never split.
WHOLE = {"robust", "imagej"}
#: A running sum (the mean) rounds depending on where a window starts: split only for
#: integer data, whose sums are exact.
SUMS = "mean"

CASES = [(m.name, {}, {}) for m in bgsub.list_methods()] + [
    ("rolling_ball", {"envelope": True}, {}),
    ("rolling_ball", {"height": 5.0}, {"light_background": True}),
    ("tophat", {"footprint": "box", "dilation_radius": 5}, {"presmooth": "mean:1"}),
    ("median", {}, {"presmooth": "gaussian:1"}),
    ("dog", {"low_sigma": 2.0}, {}),
    ("paraboloid", {}, {"light_background": True}),
]
IDS = [name + "".join(f"-{k}" for k in (*options, *shared)) for name, options, shared in CASES]


@pytest.fixture(scope="module")
def plane() -> np.ndarray:
    """A 200x210 float32 plane, values 0-20 (the paraboloid's reach stays short)."""
    image = synthetic((200, 210), object_radius=3, seed=1).image.astype(np.float32)
    return image / image.max() * 20


def _splits(method: str, shared: dict, image: np.ndarray) -> bool:
    """Whether the engine may cut this case into tiles and keep every pixel."""
    if method in WHOLE:
        return False
    sums = method == SUMS or shared.get("presmooth", "").startswith(SUMS)
    return not (sums and image.dtype.kind == "f")


def _both(image, method, options, shared, **keywords):
    plan = engine.plan(image, method, 3, **shared, **options, **keywords)
    whole = engine.subtract(plan, image, image.dtype, return_background=True)
    steps: list[tuple[int, int]] = []
    split = engine.subtract(plan, image, image.dtype, return_background=True, split=SMALL,
                            progress=lambda *step: steps.append(step))
    return plan, whole, split, steps


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
@pytest.mark.parametrize(("method", "options", "shared"), CASES, ids=IDS)
def test_split_planes_give_the_whole_planes_pixels(method, options, shared, dtype, plane):
    image = plane.astype(dtype)  # uint16: integer values 0-20
    plan, whole, split, steps = _both(image, method, options, shared)
    np.testing.assert_array_equal(split[0], whole[0])
    np.testing.assert_array_equal(split[1], whole[1])
    tiles = steps[-1][1]
    assert steps == [(done, tiles) for done in range(tiles + 1)]
    if _splits(method, shared, image):
        assert tiles >= 4, f"{method} was not split (halo {plan.halo()})"
    else:  # its reach is the whole plane, or a running sum of non-integers: kept whole
        assert tiles == 1


def test_split_keeps_nan_filling_and_integer_rounding(plane):
    """NaN pixels are filled from the whole plane before it is cut (the nearest valid pixel
    may lie beyond a tile's window); uint16 results round the same."""
    holes = plane.copy()
    holes[20:70, 30:120] = np.nan  # wider than a tile and its halo
    holes[150, 150] = np.inf
    _, whole, split, steps = _both(holes, "median", {}, {})
    np.testing.assert_array_equal(split[0], whole[0])
    np.testing.assert_array_equal(split[1], whole[1])
    assert steps[-1][1] > 1 and np.isnan(split[0][40, 40])
    ints = (plane * 1000).astype(np.uint16)
    _, whole, split, _ = _both(ints, "tophat", {}, {})
    np.testing.assert_array_equal(split[0], whole[0])
    assert split[0].dtype == np.uint16


def test_split_stacks_and_volumes(plane):
    stack = np.stack([plane, plane[::-1, ::-1]])
    _, whole, split, steps = _both(stack, "rolling_ball", {}, {}, axes="TYX")
    np.testing.assert_array_equal(split[0], whole[0])
    assert steps[-1][1] > 2 and steps[-1][1] % 2 == 0  # the same tiles in each plane
    volume = np.stack([plane[:, :40]] * 30)
    _, whole, split, steps = _both(volume, "tophat", {}, {}, axes="ZYX", true_3d=True)
    np.testing.assert_array_equal(split[0], whole[0])
    assert steps[-1][1] > 1


def test_tiles_cover_the_block_once_with_their_halo():
    for extent, halo in [((200, 210), (3, 3)), ((7, 1000), (6, 2)), ((30, 40, 50), (2, 3, 4))]:
        parts = engine.tiles(extent, halo, pixels=300)
        covered = np.zeros(extent, np.int32)
        for tile in parts:
            covered[tile.inner] += 1
            for inner, window, crop, h, n in zip(tile.inner, tile.window, tile.crop, halo,
                                                 extent, strict=True):
                assert window.start == max(inner.start - h, 0)
                assert window.stop == min(inner.stop + h, n)
                assert crop.start == inner.start - window.start
                assert crop.stop - crop.start == inner.stop - inner.start
                # each cut tile is at least SPLIT_HALO_FACTOR halos wide
                assert inner.stop - inner.start >= min(n, engine.SPLIT_HALO_FACTOR * h)
        assert (covered == 1).all()
        assert len(parts) > 1


def test_cancel_is_seen_inside_one_plane(plane, monkeypatch):
    """The API with ``cancel=`` splits a large plane; a cancel set after the first tile
    stops it there."""
    monkeypatch.setattr(engine, "SPLIT_PIXELS", SMALL)
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done == 1:
            cancel.set()

    with pytest.raises(engine.Cancelled):
        bgsub.subtract_background(plane, "median", 3, progress=progress, cancel=cancel)
    assert [done for done, _ in seen] == [0, 1] and seen[0][1] > 1
    # never set: the same pixels as without a cancel flag
    np.testing.assert_array_equal(
        bgsub.subtract_background(plane, "median", 3, cancel=threading.Event()),
        bgsub.subtract_background(plane, "median", 3))
    steps = []
    bgsub.estimate_background(plane, "tophat", 3, cancel=threading.Event(),
                              progress=lambda *s: steps.append(s))
    assert steps[-1][0] == steps[-1][1] > 1


class _SetAfter:
    """A cancel flag that reads as set from its ``n``-th look on, counting the looks."""

    def __init__(self, n):
        self.n, self.looks = n, 0

    def is_set(self):
        self.looks += 1
        return self.looks >= self.n


def test_cancel_is_seen_inside_a_plane_that_cannot_be_split(plane):
    """``robust`` keeps a plane whole; it checks the flag between its stages, so a cancel
    set while the only block runs stops it before that block ends."""
    seen = []
    flag = _SetAfter(3)  # the engine's look before the block, then robust's first two stages
    with pytest.raises(engine.Cancelled):
        bgsub.subtract_background(plane, "robust", 20, cancel=flag,
                                  progress=lambda *s: seen.append(s))
    assert flag.looks == 3 and [done for done, _ in seen] == [0]
    # a flag that is never set changes nothing, and outside a cancellable call robust
    # does not look at any flag
    never = _SetAfter(10**9)
    np.testing.assert_array_equal(bgsub.estimate_background(plane, "robust", 20, cancel=never),
                                  bgsub.estimate_background(plane, "robust", 20))
    assert never.looks > 3


def test_napari_apply_steps_through_tiles(plane):
    """The napari Apply's generator yields after each tile: its worker can stop there."""
    pytest.importorskip("napari", reason="napari is not installed")
    from bgsub.napari._compute import subtract_in_blocks
    from bgsub.napari._settings import Settings as NapariSettings

    steps = subtract_in_blocks(plane, NapariSettings("median", 3), split=SMALL)
    assert next(steps) == (0, 30) and next(steps) == (1, 30)
    steps.close()  # what a worker's quit does between two tiles


def test_the_cli_batch_keeps_planes_whole_and_stops_between_them(plane, monkeypatch):
    """``bgsub run`` keeps its throughput (no tiles) and still stops between planes."""
    from bgsub import batch, io
    from bgsub.config import Settings
    from bgsub.jobs import resolve_parameters

    monkeypatch.setattr(engine, "SPLIT_PIXELS", SMALL)
    stack = np.stack([plane] * 3)
    settings = Settings(method="median", radius=3.0, axes="TYX").validated()
    parameters = resolve_parameters(settings, io.ImageMetadata("TYX"), stack.shape)
    cancel, seen = threading.Event(), []

    def progress(done, total):
        seen.append((done, total))
        if done == 1:
            cancel.set()

    with pytest.raises(engine.Cancelled):
        batch.process(stack, parameters, False, progress, cancel)
    assert seen == [(0, 3), (1, 3)]  # planes, not tiles
