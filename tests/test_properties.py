"""Property-based tests (hypothesis) over shapes, dtypes, radii and methods."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import bgsub

OPENINGS = ["rolling_ball", "tophat", "paraboloid"]
ALL = OPENINGS + ["median", "mean", "gaussian"]
DTYPES = [np.uint8, np.uint16, np.int16, np.float32]

small_images = st.sampled_from(DTYPES).flatmap(
    lambda dt: arrays(dt, st.tuples(st.integers(1, 24), st.integers(1, 24)),
                      elements=st.integers(0, 200) if dt != np.float32
                      else st.floats(-100, 100, width=32))
)
radii = st.floats(0.5, 12.0)


@given(image=small_images, method=st.sampled_from(OPENINGS), radius=radii)
def test_opening_type_background_never_exceeds_the_image(image, method, radius):
    bg = bgsub.estimate_background(image, method, radius)
    assert np.all(bg <= image.astype(np.float64) + 1e-3)


@given(value=st.integers(0, 60000), shape=st.tuples(st.integers(1, 20), st.integers(1, 20)),
       method=st.sampled_from(ALL), radius=radii)
def test_constant_image_has_zero_foreground(value, shape, method, radius):
    image = np.full(shape, value, np.uint16)
    assert not bgsub.subtract_background(image, method, radius).any()


@given(image=small_images, method=st.sampled_from(ALL), radius=radii,
       light=st.booleans())
def test_output_shape_dtype_and_range(image, method, radius, light):
    fg = bgsub.subtract_background(image, method, radius, light_background=light)
    assert fg.shape == image.shape and fg.dtype == image.dtype
    if np.issubdtype(image.dtype, np.integer):
        assert fg.min() >= max(np.iinfo(image.dtype).min, 0) or method not in OPENINGS


@given(slope=st.tuples(st.floats(-3, 3), st.floats(-3, 3)), offset=st.floats(100, 1000),
       method=st.sampled_from(["tophat", "median", "mean", "gaussian"]))
def test_ramp_with_small_objects_gives_back_the_ramp(slope, offset, method):
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    ramp = offset + slope[0] * yy + slope[1] * xx
    image = ramp.copy()
    image[::16, ::16] += 500.0  # single-pixel objects, far apart
    bg = bgsub.estimate_background(image, method, 6, footprint="box") if method in (
        "tophat", "median", "mean") else bgsub.estimate_background(image, method, 6)
    # away from the edges, where reflection bends a ramp (4 sigma for the Gaussian)
    margin = 24 if method == "gaussian" else 12
    inner = (slice(margin, -margin),) * 2
    # an opening of a plane sits one box corner below it; one object in a box window
    # moves the median up by one rank (at most one slope step) and the mean by 500/169;
    # a Gaussian adds its peak 500/(2 pi sigma^2) plus the neighbours' tails (20%)
    steepest = max(abs(slope[0]), abs(slope[1]))
    tol = {"tophat": 6 * (abs(slope[0]) + abs(slope[1])) + 1e-6, "median": steepest + 1e-3,
           "mean": 500 / 169 + 1e-3, "gaussian": 1.2 * 500 / (2 * np.pi * 36)}[method]
    assert np.abs(bg - ramp)[inner].max() <= tol


@given(slope=st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)), offset=st.floats(500, 1000))
def test_rolling_ball_and_paraboloid_follow_a_gentle_ramp(slope, offset):
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64)
    ramp = offset + slope[0] * yy + slope[1] * xx
    image = ramp.copy()
    image[::12, ::12] += 300.0
    for method in ("rolling_ball", "paraboloid"):
        bg = bgsub.estimate_background(image, method, 10, **(
            {"envelope": True} if method == "rolling_ball" else {}))
        # a ball of radius r under a plane of slope s sits below it by at most r*(sec-1)
        s = np.hypot(*slope)
        assert np.abs(bg - ramp)[10:-10, 10:-10].max() <= 10 * (np.sqrt(1 + s * s) - 1) + 0.5


@given(image=small_images, method=st.sampled_from(["rolling_ball", "tophat", "median"]),
       radius=radii)
def test_light_background_equals_dark_result_of_inverted_image(image, method, radius):
    as_float = image.astype(np.float64)
    light = bgsub.subtract_background(as_float, method, radius, light_background=True)
    dark = bgsub.subtract_background(-as_float, method, radius)
    np.testing.assert_allclose(light, dark, atol=1e-6)
