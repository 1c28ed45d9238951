"""Flat erosion/dilation/opening against skimage.morphology and OpenCV (exact equality)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from itertools import product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage import morphology as morph

from bgsub.kernels import flat
from bgsub.kernels.flat import (
    SUPPORTED_DTYPES,
    flat_dilation,
    flat_erosion,
    flat_opening,
    footprint_array,
    footprint_offsets,
    normalize_radius,
    row_halfwidths,
)

DTYPES = [d.type for d in SUPPORTED_DTYPES]
CV2_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
OPS = {
    "erosion": (flat_erosion, morph.erosion),
    "dilation": (flat_dilation, morph.dilation),
    "opening": (flat_opening, morph.opening),
}


def random_image(shape: tuple[int, ...], dtype: type, seed: int = 0) -> np.ndarray:
    """Random image over the dtype's full range (ints) or with +-0, ties and big values."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        img = rng.normal(scale=1e3, size=shape).astype(dtype)
        img.flat[::7] = 0.0
        img.flat[::11] = -0.0
        img.flat[::13] = np.finfo(dtype).max
        return img
    info = np.iinfo(dtype)
    img = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    img.flat[::5] = info.min
    img.flat[::9] = info.max
    return img


def brute_footprint(radius: tuple[float, ...], shape: str) -> np.ndarray:
    """Footprint from its definition, with exact rational arithmetic."""
    ext = [int(np.floor(r)) for r in radius]
    fp = np.zeros([2 * e + 1 for e in ext], dtype=bool)
    for off in product(*[range(-e, e + 1) for e in ext]):
        if shape == "box":
            inside = True
        else:
            total = Fraction(0)
            inside = True
            for o, r in zip(off, radius, strict=True):
                if r == 0:
                    inside &= o == 0
                else:
                    total += Fraction(o) ** 2 / Fraction(r) ** 2
            inside &= total <= 1
        fp[tuple(o + e for o, e in zip(off, ext, strict=True))] = inside
    return fp


# ---------------------------------------------------------------------------
# Footprints
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("r", range(0, 26))
def test_disk_equals_skimage(r: int) -> None:
    assert np.array_equal(footprint_array(r, ndim=2), morph.disk(r).astype(bool))


@pytest.mark.parametrize("r", range(0, 11))
def test_ball_equals_skimage(r: int) -> None:
    assert np.array_equal(footprint_array(r, ndim=3), morph.ball(r).astype(bool))


@pytest.mark.parametrize("r", [1, 2, 7, 12])
def test_half_integer_radius_equals_non_strict(r: int) -> None:
    """``disk(r, strict_radius=False)`` / ``ball`` are our footprints of radius ``r + 0.5``."""
    loose = footprint_array(r + 0.5, ndim=2)
    assert np.array_equal(loose, morph.disk(r, strict_radius=False).astype(bool))
    loose = footprint_array(r + 0.5, ndim=3)
    assert np.array_equal(loose, morph.ball(r, strict_radius=False).astype(bool))


@pytest.mark.parametrize("r", [0, 1, 4])
def test_box_equals_skimage(r: int) -> None:
    side = 2 * r + 1
    assert footprint_array(r, "box", ndim=2).all()
    assert np.array_equal(
        footprint_array(r, "box", ndim=2), morph.footprint_rectangle((side, side)).astype(bool)
    )
    assert np.array_equal(
        footprint_array(r, "box", ndim=3), morph.footprint_rectangle((side,) * 3).astype(bool)
    )


@pytest.mark.parametrize(
    "radius",
    [(2.5, 2.5), (3, 1.5), (0, 4), (4.2, 0), (0.5, 0.99), (1, 2, 3), (2.5, 0, 1.7), (5, 5, 5)],
)
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_footprint_matches_definition(radius: tuple[float, ...], shape: str) -> None:
    assert np.array_equal(footprint_array(radius, shape), brute_footprint(radius, shape))


def test_footprint_offsets_and_rows() -> None:
    offs = footprint_offsets((2, 3))
    fp = footprint_array((2, 3))
    assert len(offs) == fp.sum()
    assert np.array_equal(np.sort(offs, axis=0), np.sort(-offs, axis=0))  # symmetric
    hw = row_halfwidths((2, 3))
    assert hw.shape == (1, 5)
    assert np.array_equal(hw[0], fp.sum(axis=1) // 2)


def test_normalize_radius_errors() -> None:
    assert normalize_radius(2, 3) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError):
        normalize_radius((1, 2), 3)
    with pytest.raises(ValueError):
        normalize_radius(-1, 2)
    with pytest.raises(ValueError):
        normalize_radius(float("nan"), 2)


# ---------------------------------------------------------------------------
# Against skimage
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize("r", [1, 3, 7])
def test_2d_equals_skimage(dtype: type, op: str, shape: str, r: int) -> None:
    img = random_image((23, 37), dtype, seed=r)
    ours, ref = OPS[op]
    fp = footprint_array(r, shape, ndim=2)
    out = ours(img, r, shape=shape)
    assert out.dtype == img.dtype
    np.testing.assert_array_equal(out, ref(img, fp))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_3d_equals_skimage(dtype: type, op: str, shape: str) -> None:
    img = random_image((9, 14, 11), dtype, seed=3)
    ours, ref = OPS[op]
    for r in (1, 2, 4):
        np.testing.assert_array_equal(
            ours(img, r, shape=shape), ref(img, footprint_array(r, shape, ndim=3))
        )


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize(
    "radius", [(2, 5), (5, 2), (0, 3), (3, 0), (2.5, 1.5), (0, 0), (1, 3, 2), (0, 2, 2), (2, 0, 0)]
)
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_anisotropic_equals_skimage(op: str, radius: tuple[float, ...], shape: str) -> None:
    img = random_image((7, 19, 16)[-len(radius) :], np.uint16, seed=5)
    ours, ref = OPS[op]
    np.testing.assert_array_equal(
        ours(img, radius, shape=shape), ref(img, footprint_array(radius, shape))
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int32])
@pytest.mark.parametrize("shape", ["disk", "box"])
@pytest.mark.parametrize("img_shape", [(1, 1), (1, 9), (9, 1), (5, 7), (3, 4, 2), (1, 1, 6)])
def test_radius_larger_than_image(dtype: type, shape: str, img_shape: tuple[int, ...]) -> None:
    img = random_image(img_shape, dtype, seed=7)
    r = 12
    fp = footprint_array(r, shape, ndim=img.ndim)
    for op, (ours, ref) in OPS.items():
        # mode="ignore": scipy's "reflect" (skimage's default) reads garbage for 3D
        # footprints much larger than the image (seen with scipy 1.17)
        expected = ref(img, fp, mode="ignore")
        np.testing.assert_array_equal(ours(img, r, shape=shape), expected, err_msg=op)
    # every pixel sees the whole image for these small sizes
    assert (flat_erosion(img, r, shape) == img.min()).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tiling", ["default", "strips", "bands"])
def test_box_tilings(dtype: type, tiling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box kernel's tasks (bands of lines with halos, column strips) on every thread."""
    monkeypatch.setattr(flat, "_MIN_WORK_PER_THREAD", 1)
    if tiling == "strips":  # 64-column strips for runs without row windows
        monkeypatch.setattr(flat, "_BOX_STRIP_BYTES", 1)
    elif tiling == "bands":  # as if there were 16 threads: bands of 16 lines or 2x the halo
        monkeypatch.setattr(flat, "planned_threads", lambda: 16)
    img2 = random_image((70, 150), dtype, seed=12)
    img3 = random_image((11, 13, 17), dtype, seed=13)
    for img, radii in (
        (img2, [1, 4, 12, 40, (0, 9), (9, 0), (3, 30)]),
        (img3, [1, 3, 9, (6, 0, 2), (2, 3, 0), (0, 0, 4)]),
    ):
        for r in radii:
            fp = footprint_array(r, "box", ndim=img.ndim)
            for op, (ours, ref) in OPS.items():
                expected = ref(img, fp, mode="ignore")
                np.testing.assert_array_equal(ours(img, r, "box"), expected, err_msg=f"{op} {r}")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("img_shape", [(1, 1), (1, 2), (2, 3), (3, 3), (3, 40), (40, 1), (2, 2, 3)])
def test_box_narrow_images(dtype: type, img_shape: tuple[int, ...]) -> None:
    """Widths/heights 1..3 with radii below, at and beyond the image size."""
    img = random_image(img_shape, dtype, seed=sum(img_shape))
    for r in (1, 2, 3, 5, (0,) * (img.ndim - 1) + (2,), (2,) + (0,) * (img.ndim - 1)):
        fp = footprint_array(r, "box", ndim=img.ndim)
        for op, (ours, ref) in OPS.items():
            expected = ref(img, fp, mode="ignore")
            np.testing.assert_array_equal(ours(img, r, "box"), expected, err_msg=f"{op} {r}")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_box_ties_and_plateaus(dtype: type) -> None:
    """Few distinct values (many equal minima/maxima in a window) and constant images."""
    rng = np.random.default_rng(3)
    few = rng.integers(0, 3, size=(37, 53)).astype(dtype)
    steps = np.repeat(np.repeat(rng.integers(0, 4, size=(5, 7)), 8, 0), 8, 1).astype(dtype)
    flat_img = np.full((19, 23), 7, dtype)
    for img in (few, steps, flat_img):
        for r in (1, 2, 6, 30):
            fp = footprint_array(r, "box", ndim=2)
            for op, (ours, ref) in OPS.items():
                expected = ref(img, fp, mode="ignore")
                np.testing.assert_array_equal(ours(img, r, "box"), expected, err_msg=f"{op} {r}")


def test_box_calls_group_the_passes() -> None:
    """A 2D opening is one kernel run: x min -> (y min, y max) -> x max."""
    calls = flat._box_calls([((3.0, 5.0), False), ((3.0, 5.0), True)], (1, 20, 20))
    assert calls == [(1, ([(5, False)], [(3, False), (3, True)], [(5, True)]))]
    calls3 = flat._box_calls([((1.0, 2.0, 3.0), False), ((1.0, 2.0, 3.0), True)], (4, 9, 9))
    assert [axis for axis, _ in calls3] == [1, 0, 1]
    assert calls3[1][1] == ([], [(1, False), (1, True)], [])
    assert flat._box_calls([((0.0, 0.0), False)], (1, 5, 5)) == []


def test_opening_with_dilation_radius() -> None:
    img = random_image((31, 29), np.uint16, seed=2)
    got = flat_opening(img, 3, dilation_radius=5)
    np.testing.assert_array_equal(got, flat_dilation(flat_erosion(img, 3), 5))
    got = flat_opening(img, (2, 4), "box", dilation_radius=(1, 1))
    np.testing.assert_array_equal(got, flat_dilation(flat_erosion(img, (2, 4), "box"), 1, "box"))


def test_input_layouts() -> None:
    img = random_image((40, 30), np.int16, seed=4)
    fp = morph.disk(3)
    ref = morph.erosion(img, fp)
    np.testing.assert_array_equal(flat_erosion(np.asfortranarray(img), 3), ref)
    np.testing.assert_array_equal(flat_erosion(img.astype(">i2"), 3), ref)
    view = img[::2, 1::3]
    np.testing.assert_array_equal(flat_erosion(view, 3), morph.erosion(view, fp))
    assert flat_erosion(img.astype(">i2"), 3).dtype == np.int16


@pytest.mark.parametrize("img_shape", [(0, 5), (4, 0), (0, 3, 3), (2, 0, 4)])
def test_empty_images(img_shape: tuple[int, ...]) -> None:
    img = np.zeros(img_shape, np.float32)
    for op in (flat_erosion, flat_dilation, flat_opening):
        for shape in ("disk", "box"):
            out = op(img, 3, shape=shape)
            assert out.shape == img.shape
            assert out.dtype == img.dtype


def test_huge_radius_is_cheap() -> None:
    """Offsets beyond the image extent are dropped (exact: they only reach outside)."""
    img = random_image((6, 9), np.uint16, seed=14)
    for shape in ("disk", "box"):
        np.testing.assert_array_equal(flat_erosion(img, 1e6, shape), np.full_like(img, img.min()))
    np.testing.assert_array_equal(
        flat_opening(img, (1e6, 2), "box"), flat_opening(img, (5, 2), "box")
    )
    fp = footprint_array((1e3, 2))[1000 - 5 : 1000 + 6]  # the rows that can reach the image
    np.testing.assert_array_equal(flat_opening(img, (1e3, 2)), morph.opening(img, fp))


def test_errors() -> None:
    img = np.zeros((5, 5), np.uint16)
    with pytest.raises(ValueError, match="shape"):
        flat_erosion(img, 1, shape="diamond")
    with pytest.raises(TypeError):
        flat_erosion(img.astype(np.int64), 1)
    with pytest.raises(TypeError):
        flat_erosion(img.astype(bool), 1)
    with pytest.raises(ValueError):
        flat_erosion(np.zeros(5, np.uint8), 1)
    with pytest.raises(ValueError):
        flat_erosion(img, (1, 1, 1))


# ---------------------------------------------------------------------------
# Against OpenCV (2D)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", CV2_DTYPES)
@pytest.mark.parametrize("r", [1, 2, 6, 20])
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_2d_equals_cv2(dtype: type, r: int, shape: str) -> None:
    cv2 = pytest.importorskip("cv2")
    img = random_image((41, 57), dtype, seed=r)
    kernel = footprint_array(r, shape, ndim=2).astype(np.uint8)
    np.testing.assert_array_equal(
        flat_opening(img, r, shape), cv2.morphologyEx(img, cv2.MORPH_OPEN, kernel)
    )
    np.testing.assert_array_equal(flat_erosion(img, r, shape), cv2.erode(img, kernel))
    np.testing.assert_array_equal(flat_dilation(img, r, shape), cv2.dilate(img, kernel))


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

images = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(
        dt,
        hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=12),
        elements=hnp.from_dtype(np.dtype(dt), allow_nan=False, allow_infinity=True)
        if np.dtype(dt).kind == "f"
        else None,
    )
)
radii = st.floats(min_value=0, max_value=4, allow_nan=False)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(img=images, r=radii, shape=st.sampled_from(["disk", "box"]))
def test_property_ordering(img: np.ndarray, r: float, shape: str) -> None:
    ero = flat_erosion(img, r, shape)
    dil = flat_dilation(img, r, shape)
    opened = flat_opening(img, r, shape)
    assert (ero <= img).all()
    assert (img <= dil).all()
    assert (ero <= opened).all()
    assert (opened <= img).all()


@PROPS
@given(img=images, r=radii, shape=st.sampled_from(["disk", "box"]))
def test_property_opening_idempotent(img: np.ndarray, r: float, shape: str) -> None:
    opened = flat_opening(img, r, shape)
    np.testing.assert_array_equal(flat_opening(opened, r, shape), opened)


@PROPS
@given(img=images, r=radii, shape=st.sampled_from(["disk", "box"]))
def test_property_equals_skimage(img: np.ndarray, r: float, shape: str) -> None:
    fp = footprint_array(r, shape, ndim=img.ndim)
    np.testing.assert_array_equal(flat_opening(img, r, shape), morph.opening(img, fp))


@pytest.mark.parametrize("shape", ["disk", "box"])
def test_multithreaded_equals_skimage(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small jobs run single-threaded; force every thread on a mid-size image."""
    monkeypatch.setattr(flat, "_MIN_WORK_PER_THREAD", 1)
    img2 = random_image((201, 233), np.uint16, seed=21)
    img3 = random_image((17, 40, 37), np.float32, seed=22)
    for img, r in ((img2, 9), (img2, 30), (img3, 3), (img3, (2, 5, 5))):
        fp = footprint_array(r, shape, ndim=img.ndim)
        np.testing.assert_array_equal(flat_opening(img, r, shape), morph.opening(img, fp))


# ---------------------------------------------------------------------------
# Threads: the kernels release the GIL
# ---------------------------------------------------------------------------


def _runs_beside(call: Callable[[], object]) -> bool:
    """Whether this thread gets the GIL while ``call`` runs in another thread.

    With a huge switch interval a thread holding the GIL is never made to hand it over,
    so this thread only runs before ``call`` returns if ``call`` releases the GIL.
    """
    started, finished = threading.Event(), []

    def work() -> None:
        started.set()
        call()
        finished.append(True)

    worker = threading.Thread(target=work)
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        worker.start()
        started.wait()
        during = not finished
        worker.join()
    finally:
        sys.setswitchinterval(old)
    return during


def test_kernels_release_the_gil() -> None:
    """The compiled kernels run without the GIL (a thread holding it, such as a pure-Python
    loop, never lets the caller in; a few tries in case the caller is not scheduled)."""
    img = random_image((512, 512), np.float32, seed=5)
    assert not _runs_beside(lambda: sum(range(2_000_000)))
    for shape in ("disk", "box"):
        run = partial(flat_opening, img, 15, shape)
        assert any(_runs_beside(run) for _ in range(5)), shape


def test_kernels_are_compiled() -> None:
    """flat.py runs ahead-of-time compiled loops: no JIT compiler is imported."""
    import ast
    import importlib.machinery
    from pathlib import Path

    from bgsub.kernels import _flat

    assert _flat.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    tree = ast.parse(Path(flat.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m.split(".")[0] for m in imported} & {"numba", "llvmlite"}


def test_concurrent_calls_equal_sequential() -> None:
    """Two Python threads running the kernels at once get the sequential results."""
    from concurrent.futures import ThreadPoolExecutor

    from bgsub.kernels.rank import mean_filter, median_filter

    imgs = [random_image((300, 310), np.uint16, seed=s) for s in range(4)]
    jobs = [
        (flat_opening, 9, "box"), (flat_opening, 6, "disk"), (flat_erosion, 20, "box"),
        (median_filter, 3, "disk"), (mean_filter, 4, "disk"),
    ]
    calls = [(fn, img, r, shape) for fn, r, shape in jobs for img in imgs]
    expected = [fn(img, r, shape) for fn, img, r, shape in calls]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):
            got = list(pool.map(lambda c: c[0](c[1], c[2], c[3]), calls))
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_array_equal(g, e)
