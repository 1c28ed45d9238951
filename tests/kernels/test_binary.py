"""The 2D distance transform (also its largest value per label) and cross opening against
scipy.ndimage, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from bgsub.kernels.binary import (
    binary_opening_cross,
    distance_transform_edt,
    largest_distance_by_label,
)

SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 3), (5, 17), (31, 4), (64, 64), (100, 37)]


def _masks(shape: tuple[int, int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = [rng.random(shape) < p for p in (0.02, 0.3, 0.7, 0.97, 0.999)]
    masks.append(ndi.gaussian_filter(rng.random(shape), 3.0) > 0.5)  # blobs with holes
    masks += [np.ones(shape, bool), np.zeros(shape, bool)]
    corner = np.ones(shape, bool)
    corner[-1, -1] = False
    masks.append(corner)
    return masks


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distance_transform_equals_scipy(shape, seed):
    for mask in _masks(shape, seed):
        assert _same(distance_transform_edt(mask), ndi.distance_transform_edt(mask))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_opening_equals_scipy(shape, seed):
    for mask in _masks(shape, seed):
        assert _same(binary_opening_cross(mask), ndi.binary_opening(mask))


def test_large_sparse_distances_equal_scipy():
    rng = np.random.default_rng(5)
    for p in (0.5, 0.999, 0.99999):
        mask = rng.random((512, 600)) < p
        mask[0, 0] = False  # at least one zero
        assert _same(distance_transform_edt(mask), ndi.distance_transform_edt(mask))
    mask = np.ones((300, 513), bool)
    mask[-1, 256] = False  # a single zero on the border: distances up to the far corners
    assert _same(distance_transform_edt(mask), ndi.distance_transform_edt(mask))


def test_non_2d_and_other_dtypes_as_scipy():
    rng = np.random.default_rng(3)
    cube = rng.random((6, 7, 8)) < 0.8
    assert _same(distance_transform_edt(cube), ndi.distance_transform_edt(cube))
    assert _same(binary_opening_cross(cube), ndi.binary_opening(cube))
    ints = (rng.random((20, 30)) < 0.8).astype(np.uint8) * 3
    assert _same(distance_transform_edt(ints), ndi.distance_transform_edt(ints))
    view = (rng.random((40, 60)) < 0.9)[::2, ::3]  # not contiguous
    assert _same(distance_transform_edt(view), ndi.distance_transform_edt(view))
    assert _same(binary_opening_cross(view), ndi.binary_opening(view))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(bool, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
                  elements=st.booleans()))
def test_random_masks_equal_scipy(mask):
    assert _same(distance_transform_edt(mask), ndi.distance_transform_edt(mask))
    assert _same(binary_opening_cross(mask), ndi.binary_opening(mask))


def _largest_by_scipy(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Each label's largest distance, as SciPy's ``ndimage.maximum`` gives it (0 for a
    label with no pixel, as for the mask's zeros)."""
    distance = ndi.distance_transform_edt(mask)
    found = ndi.maximum(distance, labels, np.arange(count + 1))
    return np.nan_to_num(np.asarray(found, dtype=np.float64))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_largest_distance_by_label_equals_scipy(shape, seed, connectivity):
    for mask in _masks(shape, seed):
        labels, count = ndi.label(mask, ndi.generate_binary_structure(2, connectivity))
        got = largest_distance_by_label(mask, labels, count)
        assert _same(got, _largest_by_scipy(mask, labels, count))


def test_largest_distance_by_label_of_other_labellings():
    """Labels that are not the mask's own components (several per object, gaps, labels
    past the last used one, wider integers), a 3D mask, and a mask without zeros."""
    rng = np.random.default_rng(7)
    mask = ndi.gaussian_filter(rng.random((90, 70)), 2.0) > 0.45
    labels = np.where(mask, rng.integers(1, 40, mask.shape), 0).astype(np.int64)
    got = largest_distance_by_label(mask, labels, 45)
    assert _same(got, _largest_by_scipy(mask, labels, 45))
    cube = rng.random((5, 9, 11)) < 0.8
    labels3d, count = ndi.label(cube)
    assert _same(largest_distance_by_label(cube, labels3d, count),
                 _largest_by_scipy(cube, labels3d, count))
    full = np.ones((6, 8), bool)
    assert _same(largest_distance_by_label(full, full.astype(np.int32), 1),
                 _largest_by_scipy(full, full.astype(np.int32), 1))


def test_largest_distance_by_label_refuses_labels_it_cannot_hold():
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False
    with pytest.raises(ValueError, match=r"within 0..count \(1\), found 0..2"):
        largest_distance_by_label(mask, mask.astype(np.int32) * 2, 1)
    with pytest.raises(ValueError, match="do not match"):
        largest_distance_by_label(mask, np.ones((5, 4), np.int32), 1)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(bool, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
                  elements=st.booleans()))
def test_random_largest_distances_by_label_equal_scipy(mask):
    labels, count = ndi.label(mask)
    assert _same(largest_distance_by_label(mask, labels, count),
                 _largest_by_scipy(mask, labels, count))


@pytest.mark.parametrize("seed", range(6))
def test_clipped_histogram_equals_skimage_and_otsu(seed):
    from skimage.exposure import histogram
    from skimage.filters import threshold_otsu

    from bgsub.kernels.binary import clipped_histogram_centres

    rng = np.random.default_rng(seed)
    samples = [
        rng.normal(size=5000),
        rng.exponential(size=3000) * 10.0 ** rng.uniform(-5, 5),
        np.round(rng.normal(size=4000) * 3) / 3,  # many values on the bins' edges
        rng.integers(0, 20, 999).astype(np.float64) - 7.5,
        ndi.gaussian_filter(rng.normal(size=(64, 80)), 1.0) + (rng.random((64, 80)) < 0.1) * 4,
    ]
    for values in samples:
        low, high = np.percentile(values, [0.1, 99.9])
        clipped = np.clip(values, low, high)
        counts, centres = clipped_histogram_centres(values, low, high)
        ref_counts, ref_centres = histogram(clipped.ravel(), 256, source_range="image")
        assert np.array_equal(counts, ref_counts) and np.array_equal(centres, ref_centres)
        assert threshold_otsu(hist=(counts, centres)) == threshold_otsu(clipped)
