"""Properties of the recommended default (``robust``) that hold for any image."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bgsub
from bgsub.methods.robust import robust_background

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def images(draw):
    """Noisy images with a few bright objects on a tilted background, any scale."""
    height = draw(st.integers(8, 72))
    width = draw(st.integers(8, 72))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([1e-3, 1.0, 255.0, 4000.0]))
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = 1.0 + 0.01 * draw(st.floats(-1, 1)) * xx + rng.normal(0, 0.05, (height, width))
    for _ in range(draw(st.integers(0, 6))):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(1, 8)
        image += rng.uniform(0.2, 3) * ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2)
    return scale * image, draw(st.floats(2.0, 40.0))


def quiet(image: np.ndarray, radius: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        return robust_background(image, (radius, radius))


@SETTINGS
@given(images())
def test_background_stays_within_the_data(case):
    image, radius = case
    background = quiet(image, radius)
    assert background.shape == image.shape and np.isfinite(background).all()
    span = image.max() - image.min()
    assert background.min() >= image.min() - 1e-9 * max(span, 1.0)
    assert background.max() <= image.max() + 1e-9 * max(span, 1.0)


@SETTINGS
@given(images(), st.floats(-1, 100))
def test_a_shifted_image_has_a_shifted_background(case, relative_shift):
    """Shifts within a hundred times the image's own scale. Far larger offsets (an image of
    range 1e-3 lifted by 97) change the measured Poisson-Gaussian noise model -- the noise
    grows with the intensity -- and with it the dome: differences up to ~2 noise sds were
    seen there, as expected of a photon-counting noise model. Shifts that make most of the
    image negative are left out: shot noise needs non-negative counts, so there (as on a
    negated light-background image) the noise is taken as constant."""
    image, radius = case
    shift = relative_shift * float(np.max(np.abs(image)))
    assume(float(np.median(image + shift)) >= 0)
    first = quiet(image, radius)
    second = quiet(image + shift, radius)
    tolerance = 1e-6 * (np.abs(image).max() + abs(shift)) + 1e-6 * np.ptp(image)
    np.testing.assert_allclose(second - shift, first, atol=max(tolerance, 1e-9))


@SETTINGS
@given(st.integers(4, 64), st.integers(4, 64), st.floats(-1e6, 1e6), st.floats(1.0, 50.0))
def test_a_constant_image_has_no_foreground(height, width, value, radius):
    image = np.full((height, width), value)
    np.testing.assert_allclose(quiet(image, radius), value, rtol=1e-12, atol=1e-9)
