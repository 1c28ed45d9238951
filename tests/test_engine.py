"""One engine under every face: the same pixels, the same default, a clean import graph.

Every face -- the API with progress and cancel, Dask, the CLI batch (with and
without per-block progress), streaming and the napari plugin -- must give
what :func:`bgsub.subtract_background` gives on the same array, for every
registered method; ``imagej`` on RGB (with and without ``separate_colors``)
keeps the samples together as ImageJ does.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

import bgsub
from bgsub import batch, engine, io, stream
from bgsub.config import Settings
from bgsub.data import synthetic
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS, Extent

ROOT = Path(__file__).resolve().parent.parent
HAS_NAPARI = importlib.util.find_spec("napari") is not None

LIGHT = {"light_background": True}
#: (method, options, shared settings): every registered method at its defaults, and option
#: sets that change how blocks are formed, smoothed or rounded.
CASES = [(m.name, {}, {}) for m in bgsub.list_methods()] + [
    ("imagej", {"separate_colors": True}, {}),
    ("imagej", {"sliding_paraboloid": True}, LIGHT),
    ("tophat", {"footprint": "box"}, {**LIGHT, "presmooth": "mean:1"}),
    ("median", {}, {"presmooth": "gaussian:1"}),
    ("paraboloid", {}, LIGHT),
    ("rolling_ball", {"envelope": True}, {}),
]
IDS = [name + "".join(f"-{k}" for k in (*options, *shared)) for name, options, shared in CASES]


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """Two 24x28 uint16 planes with objects and a slope (axes TYX)."""
    return synthetic((2, 24, 28), object_radius=2, seed=3).image


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    """A 24x28 RGB uint8 image whose channels differ (axes YXS)."""
    image = synthetic((3, 24, 28), object_radius=2, seed=4).image.astype(np.float64)
    scaled = (image - image.min()) / np.ptp(image) * 255
    return np.moveaxis(scaled, 0, -1).round().astype(np.uint8)


def _inputs(method: str, stack: np.ndarray, rgb: np.ndarray) -> list[tuple[np.ndarray, str]]:
    out = [(stack, "TYX")]
    if method == "imagej":
        out.append((rgb, "YXS"))
    return out


def _batch_face(image: np.ndarray, axes: str, method: str, options: dict, shared: dict,
                tmp: Path, streaming: stream.Streaming | None = None,
                progress_bytes: int = 2**40) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``bgsub run`` on a file holding ``image``: the foreground it writes, and the
    progress steps it reported."""
    source = tmp / "in" / "image.tif"
    source.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(source, image, io.ImageMetadata(axes))
    settings = Settings(method=method, radius=6.0, options=dict(options), **shared).validated()
    sources, problems = batch.expand_inputs([str(source)])
    jobs, problems = batch.plan_jobs(sources, tmp / "out", settings)
    assert not problems
    batch.prepare_folders(jobs)
    steps: list[tuple[int, int]] = []

    def bar(job, total, unit="plane"):
        steps.append((0, total))
        return lambda n: steps.append((steps[-1][0] + n, total))

    result = batch.run_job(jobs[0], settings, stack_progress=bar, streaming=streaming,
                           progress_bytes=progress_bytes)
    assert result.status == "done", result.message
    return io.read_image(jobs[0].output)[0], steps


@pytest.mark.parametrize(("method", "options", "shared"), CASES, ids=IDS)
def test_every_face_gives_the_api_pixels(method, options, shared, stack, rgb, tmp_path):
    for index, (image, axes) in enumerate(_inputs(method, stack, rgb)):
        expected = bgsub.subtract_background(image, method, 6, axes=axes, **shared, **options)
        # the API with progress and a cancel flag that is never set
        steps = []
        with_progress = bgsub.subtract_background(
            image, method, 6, axes=axes, progress=lambda *s, seen=steps: seen.append(s),
            cancel=threading.Event(), **shared, **options)
        np.testing.assert_array_equal(with_progress, expected)
        total = 1 if axes == "YXS" and method == "imagej" else image.shape[axes.index(
            "T" if "T" in axes else "S")]
        assert steps == [(done, total) for done in range(total + 1)]
        # Dask, chunks smaller than a plane
        chunks = tuple(1 if a in "TS" else 10 for a in axes)
        lazy = bgsub.subtract_background(da.from_array(image, chunks=chunks), method, 6,
                                         axes=axes, **shared, **options)
        np.testing.assert_array_equal(lazy.compute(), expected)
        # the CLI batch: whole, then block by block with a progress bar
        for threshold in (2**40, 0):
            written, bar = _batch_face(image, axes, method, options, shared,
                                       tmp_path / f"batch{index}-{threshold}",
                                       progress_bytes=threshold)
            np.testing.assert_array_equal(written, expected)
            assert bar == ([(done, total) for done in range(total + 1)] if threshold == 0
                           else [])
        # streaming, chunk by chunk
        written, _ = _batch_face(image, axes, method, options, shared, tmp_path / f"stream{index}",
                                 streaming=stream.Streaming(always=True, chunks=(12, 14)))
        np.testing.assert_array_equal(written, expected)
        if HAS_NAPARI:
            _check_napari_apply(image, axes, method, options, shared, expected)


def _check_napari_apply(image, axes, method, options, shared, expected):
    from bgsub.napari._compute import subtract_in_blocks
    from bgsub.napari._settings import Settings as NapariSettings

    kind, _, size = (shared.get("presmooth") or "none:1").partition(":")
    settings = NapariSettings(method, 6, axes=axes, options=options, presmooth=kind,
                              presmooth_size=float(size),
                              light_background=shared.get("light_background", False))
    steps = subtract_in_blocks(image, settings)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            foreground, _ = done.value
            break
    np.testing.assert_array_equal(foreground, expected)


def test_imagej_rgb_is_not_split_per_channel(rgb):
    """ImageJ treats RGB as one brightness image: per-channel results differ from it."""
    together = bgsub.subtract_background(rgb, "imagej", 6, axes="YXS")
    per_channel = np.stack([bgsub.subtract_background(rgb[..., c], "imagej", 6, axes="YX")
                            for c in range(3)], axis=-1)
    assert not np.array_equal(together, per_channel)
    separate = bgsub.subtract_background(rgb, "imagej", 6, axes="YXS", separate_colors=True)
    assert not np.array_equal(together, separate)


@pytest.mark.skipif(not HAS_NAPARI, reason="napari is not installed")
@pytest.mark.parametrize("method", ["paraboloid", "robust", "tophat"])
def test_napari_3d_preview_equals_the_whole_stack(method):
    from bgsub.napari._compute import Plane, preview
    from bgsub.napari._settings import Settings as NapariSettings

    volume = synthetic((9, 20, 22), object_radius=2, seed=5).image.astype(np.float32)
    volume /= volume.max() / 100  # a 0-100 image, as in the issue
    settings = NapariSettings(method, 3, true_3d=True, axes="ZYX")
    full_bg = bgsub.estimate_background(volume, method, 3, axes="ZYX", true_3d=True)
    for z in (0, 4, 8):
        background, _ = preview(volume, settings, (z, 0, 0))
        np.testing.assert_array_equal(background, full_bg[z])
    if method == "robust":  # it looks at the whole block: the window is the whole stack
        assert Plane(volume, settings, (4, 0, 0)).data.shape[0] == 9


def test_cancel_stops_between_blocks(stack):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 1:
            cancel.set()

    with pytest.raises(engine.Cancelled):
        bgsub.subtract_background(stack, "median", 3, axes="TYX", progress=progress,
                                  cancel=cancel)
    assert seen == [0, 1]
    with pytest.raises(TypeError, match="Dask"):
        bgsub.subtract_background(da.from_array(stack), "median", 3, progress=print)


def test_halos_are_finite_and_computed_by_each_method():
    extent = Extent((40, 50), 100.0)
    for method in bgsub.list_methods():
        halo = method.halo((6.0, 6.0), method.defaults(), extent)
        assert all(0 <= h < 10**6 for h in halo), method.name
    paraboloid = bgsub.get_method("paraboloid")
    assert paraboloid.halo((8.0, 8.0), {}, Extent((400, 400), 100.0)) == (82, 82)
    assert paraboloid.halo((8.0, 8.0), {}, Extent((40, 400), 1e300)) == (40, 400)


def test_one_default_everywhere():
    from click.testing import CliRunner

    from bgsub import chunked, cli, config, plot

    for function in (bgsub.estimate_background, bgsub.subtract_background, engine.plan,
                     chunked.estimate_background, chunked.subtract_background):
        parameters = inspect.signature(function).parameters
        assert parameters["radius"].default == DEFAULT_RADIUS, function
        if parameters["method"].default is not None:
            assert parameters["method"].default == DEFAULT_METHOD, function
    assert engine.plan(np.zeros((8, 8)), radius=2).method.name == DEFAULT_METHOD
    assert config.Settings().method == DEFAULT_METHOD
    assert config.Settings().radius == DEFAULT_RADIUS
    commands = cli.main.commands
    for name in ("run", "demo"):
        option = next(p for p in commands[name].params if p.name == "method")
        assert option.default == DEFAULT_METHOD, name
    radius = next(p for p in commands["run"].params if p.name == "radius")
    assert float(radius.default) == DEFAULT_RADIUS
    rows = next(p for p in commands["sweep"].params if p.name == "methods")
    assert rows.default.split(",")[0] == DEFAULT_METHOD
    assert inspect.signature(plot.sweep).parameters["methods"].default[0] == DEFAULT_METHOD
    listing = CliRunner().invoke(cli.main, ["methods"]).output
    assert [line.split()[0] for line in listing.splitlines()
            if "[default]" in line] == [DEFAULT_METHOD]
    if HAS_NAPARI:
        from bgsub.napari import _functions, _settings

        assert _settings.Settings().method == DEFAULT_METHOD
        assert _settings.Settings().radius == DEFAULT_RADIUS
        function = _functions.robust
        assert inspect.signature(function).parameters["radius"].default == DEFAULT_RADIUS


def test_no_import_cycles_nor_private_imports():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_imports
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert check_imports.problems(ROOT / "src") == []
    edges = check_imports.graph(ROOT / "src")
    assert "bgsub.engine" in edges["bgsub.api"] and "bgsub.engine" in edges["bgsub.chunked"]
    # a compiled module is a module, private to its package, not a private name
    assert "bgsub.kernels._ball" in edges["bgsub.kernels.ball"]
    assert "bgsub.api" not in edges["bgsub.chunked"] and "bgsub.batch" not in edges[
        "bgsub.stream"]


# --- the planes of a stack side by side ------------------------------------------------------

_STACK_OPTIONS = {"dog": {"high_sigma": 6.0}, "gaussian": {"sigma": 4.0}}


@pytest.fixture()
def workers(monkeypatch) -> list[int]:
    """Two cores, planes of any size side by side; the workers of each block loop, recorded."""
    monkeypatch.setenv("BGSUB_NUM_THREADS", "2")
    monkeypatch.setattr(engine, "BLOCKS_SIDE_BY_SIDE_FROM", 0)
    recorded = []
    map_in_order = engine.map_in_order

    def spy(fn, items, count):
        recorded.append(count)
        return map_in_order(fn, items, count)

    monkeypatch.setattr(engine, "map_in_order", spy)
    return recorded


@pytest.mark.parametrize("method", [m.name for m in bgsub.list_methods()])
def test_a_stacks_planes_side_by_side_equal_those_in_turn(workers, method):
    from bgsub.kernels.threads import limit_threads

    stack = np.stack([synthetic((72, 64), object_radius=(3, 6), seed=s).image
                      for s in range(5)])
    options = _STACK_OPTIONS.get(method, {})
    together = bgsub.subtract_background(stack, method, 9, axes="TYX",
                                         return_background=True, **options)
    # (ImageJ's whole command runs its planes in turn)
    assert workers == [1 if method == "imagej" else 2]
    with limit_threads(1):
        in_turn = bgsub.subtract_background(stack, method, 9, axes="TYX",
                                            return_background=True, **options)
    assert workers[1:] == [1]
    for got, want in zip(together, in_turn, strict=True):
        np.testing.assert_array_equal(got, want)
    if method != "imagej":  # (the estimate's own loop)
        np.testing.assert_array_equal(
            bgsub.estimate_background(stack, method, 9, axes="TYX", **options), in_turn[1])
        assert workers[2:] == [2]


def test_planes_side_by_side_report_each_once_and_stop_on_cancel(workers):
    stack = np.stack([synthetic((64, 64), object_radius=(3, 6), seed=s).image
                      for s in range(6)])
    seen = []
    bgsub.subtract_background(stack, radius=9, axes="TYX",
                              progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 6) for k in range(7)]
    cancel, seen = threading.Event(), []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(engine.Cancelled):  # (robust's planes are never cut: side by side)
        bgsub.subtract_background(stack, radius=9, axes="TYX", progress=progress,
                                  cancel=cancel)
    assert seen == [0, 1, 2] and workers == [2, 2]


def test_small_planes_run_in_turn(monkeypatch):
    monkeypatch.setenv("BGSUB_NUM_THREADS", "2")
    monkeypatch.setattr(engine, "available_memory", lambda: 10**12)
    small = engine.plan(np.zeros((6, 128, 128), np.float32), "robust", 9, axes="TYX")
    large = engine.plan(np.zeros((6, 256, 256), np.float32), "robust", 9, axes="TYX")
    assert engine._blocks_at_once(small, 6) == 1 and engine._blocks_at_once(large, 6) == 2


def test_an_error_in_a_plane_side_by_side_is_raised(workers, monkeypatch):
    stack = np.zeros((4, 32, 32), np.float32)
    background_of = engine.Plan.background_of

    def failing(self, block, prepared=None):
        if block[0, 0] == 3:
            raise RuntimeError("plane 3 failed")
        return background_of(self, block, prepared)

    stack[3, 0, 0] = 3
    monkeypatch.setattr(engine.Plan, "background_of", failing)
    with pytest.raises(RuntimeError, match="plane 3 failed"):
        bgsub.subtract_background(stack, "mean", 3, axes="TYX")


def test_planes_run_in_turn_where_memory_holds_one(monkeypatch):
    monkeypatch.setenv("BGSUB_NUM_THREADS", "4")
    monkeypatch.setattr(engine, "BLOCKS_SIDE_BY_SIDE_FROM", 0)
    stack = np.zeros((6, 64, 64), np.float32)
    plan = engine.plan(stack, "robust", 9, axes="TYX")
    monkeypatch.setattr(engine, "available_memory", lambda: 10**12)
    assert engine._blocks_at_once(plan, 6) == min(4, engine.BLOCKS_AT_ONCE)
    assert engine._blocks_at_once(plan, 1) == 1
    one_block = 4.0 * plan.method.peak_buffers(plan.radius) * 64 * 64
    monkeypatch.setattr(engine, "available_memory", lambda: int(1.5 * one_block))
    assert engine._blocks_at_once(plan, 6) == 1
