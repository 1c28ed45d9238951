"""The registered 'imagej' method and bgsub.from_imagej route to the ImageJ port unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import bgsub
from bgsub.methods.imagej import imagej_subtract, parse_imagej_options


@pytest.mark.parametrize("options", ["rolling=12", "rolling=31 light", "rolling=8 sliding disable",
                                     "rolling=[20] create"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_subtract_background_with_from_imagej_is_the_port(blobs_2d, options, dtype):
    image = (blobs_2d // 16).astype(dtype) if dtype == np.uint8 else blobs_2d.astype(dtype)
    parsed = parse_imagej_options(options)
    expected = imagej_subtract(image, parsed.pop("radius"), **parsed)
    ours = bgsub.subtract_background(image, **bgsub.from_imagej(options))
    assert ours.dtype == image.dtype
    np.testing.assert_array_equal(ours, expected)


def test_stack_and_rgb_axes(blobs_3d):
    ours = bgsub.subtract_background(blobs_3d, **bgsub.from_imagej("rolling=5"))
    np.testing.assert_array_equal(ours, imagej_subtract(blobs_3d, 5))
    rgb = np.stack([(blobs_3d[0] // 16).astype(np.uint8)] * 3, axis=-1)
    ours = bgsub.subtract_background(rgb, **bgsub.from_imagej("rolling=5"))
    np.testing.assert_array_equal(ours, imagej_subtract(rgb, 5, rgb=True))


def test_unknown_imagej_key_names_the_accepted_ones():
    with pytest.raises(ValueError, match="rolling"):
        bgsub.from_imagej("rolling=5 bogus=3")


def test_imagej_refuses_true_3d(blobs_3d):
    with pytest.raises(ValueError, match="no true 3D"):
        bgsub.subtract_background(blobs_3d, **bgsub.from_imagej("rolling=5"), true_3d=True)
