"""Each method equals the reference implementation it claims to reproduce."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import filters, morphology, restoration
from tests.conftest import as_dtype

import bgsub

DTYPES = [np.uint8, np.uint16, np.float32]


def _ref_image(image: np.ndarray) -> np.ndarray:
    """What the references see: the image in float64."""
    return image.astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("radius", [1, 4, 9, 30])
def test_rolling_ball_equals_skimage_2d(blobs_2d, dtype, radius):
    image = as_dtype(blobs_2d, dtype)
    ours = bgsub.estimate_background(image, "rolling_ball", radius)
    ref = restoration.rolling_ball(_ref_image(image), radius=radius)
    # float32 background: within 1e-3 grey levels (12-bit data, float32 half-ulp < 1.2e-4)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rolling_ball_equals_skimage_3d(blobs_3d, dtype):
    image = as_dtype(blobs_3d, dtype)
    ours = bgsub.estimate_background(image, "rolling_ball", 3, true_3d=True)
    ref = restoration.rolling_ball(_ref_image(image), radius=3)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_rolling_ball_per_slice_equals_skimage_per_plane(blobs_3d):
    ours = bgsub.estimate_background(blobs_3d, "rolling_ball", 5)
    for z in range(blobs_3d.shape[0]):
        ref = restoration.rolling_ball(_ref_image(blobs_3d[z]), radius=5)
        np.testing.assert_allclose(ours[z], ref, rtol=0, atol=1e-3)


def test_rolling_ball_ellipsoid_equals_skimage_kernel(blobs_2d):
    height = 40.0
    ours = bgsub.estimate_background(blobs_2d, "rolling_ball", 7, height=height)
    kernel = restoration.ellipsoid_kernel((15, 15), height)
    ref = restoration.rolling_ball(_ref_image(blobs_2d), kernel=kernel)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_rolling_ball_envelope_is_the_opening_by_the_ball(blobs_2d):
    r = 6
    kernel = restoration.ball_kernel(r, 2)
    inside = np.isfinite(kernel)
    structure = np.where(inside, kernel - r, 0.0)
    img = _ref_image(blobs_2d)
    eroded = ndi.grey_erosion(img, footprint=inside, structure=structure,
                              mode="constant", cval=np.inf)
    ref = ndi.grey_dilation(eroded, footprint=inside, structure=structure,
                            mode="constant", cval=-np.inf)
    ours = bgsub.estimate_background(blobs_2d, "rolling_ball", r, envelope=True)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)
    apex = bgsub.estimate_background(blobs_2d, "rolling_ball", r)
    assert np.all(ours >= apex - 1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "make"), [("disk", morphology.disk),
                                             ("box", lambda r: np.ones((2 * r + 1,) * 2))])
def test_tophat_equals_skimage_opening(blobs_2d, dtype, shape, make):
    image = as_dtype(blobs_2d, dtype)
    for r in (1, 5, 12):
        ours = bgsub.estimate_background(image, "tophat", r, footprint=shape)
        ref = morphology.opening(image, make(r))
        np.testing.assert_array_equal(ours, ref.astype(ours.dtype))


def test_tophat_separate_sizes_is_min_then_max(blobs_2d):
    ours = bgsub.estimate_background(blobs_2d, "tophat", 6, dilation_radius=3)
    ref = morphology.dilation(morphology.erosion(blobs_2d, morphology.disk(6)),
                              morphology.disk(3))
    np.testing.assert_array_equal(ours, ref)


def test_tophat_3d_ball_equals_skimage(blobs_3d):
    ours = bgsub.estimate_background(blobs_3d, "opening", 3, true_3d=True)
    ref = morphology.opening(blobs_3d, morphology.ball(3))
    np.testing.assert_array_equal(ours, ref)


def test_white_and_black_tophat(blobs_2d):
    fg = bgsub.subtract_background(blobs_2d, "tophat", 5, output_dtype="float")
    np.testing.assert_array_equal(fg, morphology.white_tophat(blobs_2d.astype(np.float32),
                                                              morphology.disk(5)))
    dark = (blobs_2d.max() - blobs_2d).astype(np.float32)
    fg = bgsub.subtract_background(dark, "tophat", 5, light_background=True)
    np.testing.assert_allclose(fg, morphology.black_tophat(dark, morphology.disk(5)), atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["disk", "box"])
def test_median_equals_scipy(blobs_2d, dtype, shape):
    image = as_dtype(blobs_2d, dtype)
    r = 4
    fp = morphology.disk(r) if shape == "disk" else np.ones((2 * r + 1,) * 2)
    ours = bgsub.estimate_background(image, "median", r, footprint=shape)
    ref = ndi.median_filter(image, footprint=fp, mode="reflect")
    np.testing.assert_array_equal(ours, ref.astype(ours.dtype))


def test_median_3d_equals_scipy(blobs_3d):
    ours = bgsub.estimate_background(blobs_3d, "median", 2, true_3d=True)
    ref = ndi.median_filter(blobs_3d, footprint=morphology.ball(2), mode="reflect")
    np.testing.assert_array_equal(ours, ref.astype(ours.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mean_equals_scipy(blobs_2d, dtype):
    image = as_dtype(blobs_2d, dtype)
    fp = morphology.disk(6).astype(np.float64)
    ours = bgsub.estimate_background(image, "mean", 6)
    ref = ndi.correlate(image.astype(np.float64), fp / fp.sum(), mode="reflect")
    # float32 result: relative tolerance of float32 arithmetic
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("sigma", [0.8, 3.0, 20.0])
def test_gaussian_equals_scipy(blobs_2d, sigma):
    image = blobs_2d.astype(np.float64)
    ours = bgsub.estimate_background(image, "gaussian", sigma)
    ref = ndi.gaussian_filter(image, sigma, mode="reflect")
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6 * np.ptp(image))


def test_dog_equals_skimage(blobs_2d):
    image = blobs_2d.astype(np.float64)
    fg = bgsub.subtract_background(image, "dog", 8, low_sigma=1.0, output_dtype="float")
    ref = filters.difference_of_gaussians(image, 1.0, 8.0, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(fg, ref, atol=1e-6 * np.ptp(image))


@pytest.mark.parametrize(("radius", "options", "named"), [
    (5, {"low_sigma": 8.0}, "low_sigma=8 must be below high_sigma (default: the radius, 5)"),
    (1, {}, "low_sigma=1 must be below high_sigma (default: the radius, 1)"),
    (20, {"low_sigma": 4.0, "high_sigma": 3.0}, "low_sigma=4 must be below high_sigma=3"),
    (20, {"low_sigma": 3.0, "high_sigma": 3.0}, "low_sigma=3 must be below high_sigma=3"),
])
def test_dog_refuses_a_low_sigma_at_or_above_the_high_one(blobs_2d, radius, options, named):
    # the reference refuses it too; bgsub gave the inverted band-pass, or zeros where equal
    with pytest.raises(ValueError, match="high_sigma must be equal to or larger"):
        filters.difference_of_gaussians(blobs_2d.astype(float), 8.0, 5.0)
    with pytest.raises(ValueError) as info:
        bgsub.subtract_background(blobs_2d, "dog", radius, **options)
    message = str(info.value)
    assert named in message and "give" in message and "\n" not in message


def test_paraboloid_is_opening_by_paraboloid(blobs_2d):
    r = 10.0
    # scaled to a range of 100: the reference's structuring element must reach as far as the
    # paraboloid can drop by the image's range, and brute force over 12 bits takes minutes
    img = blobs_2d.astype(np.float64)
    img = (img - img.min()) * (100.0 / np.ptp(img))
    reach = int(np.sqrt(np.ptp(img) * 2 * r)) + 2
    d = np.arange(-reach, reach + 1)
    structure = -(d[:, None] ** 2 + d[None, :] ** 2) / (2 * r)
    fp = np.ones_like(structure, dtype=bool)
    eroded = ndi.grey_erosion(img, footprint=fp, structure=structure, mode="constant",
                              cval=np.inf)
    ref = ndi.grey_dilation(eroded, footprint=fp, structure=structure, mode="constant",
                            cval=-np.inf)
    ours = bgsub.estimate_background(img, "paraboloid", r)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
