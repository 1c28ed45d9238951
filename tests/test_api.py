"""The public API: validation, axes, dtypes, NaN, light background, pre-smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

import bgsub

FAST = dict(method="tophat", radius=3)


# --- validation -------------------------------------------------------------

@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (np.zeros((8, 8), bool), TypeError, "boolean"),
        (np.zeros((8, 8), complex), TypeError, "complex"),
        (np.zeros((8, 8), object), TypeError, "not supported"),
        (np.zeros((0, 8)), ValueError, "empty"),
        (np.zeros(8), ValueError, "at least 2 dimensions"),
        ("image.tif", TypeError, "read_image"),
    ],
)
def test_bad_images_get_a_clear_error(image, error, message):
    with pytest.raises(error, match=message):
        bgsub.subtract_background(image, **FAST)


@pytest.mark.parametrize("radius", [0, -1, np.nan, np.inf, "10", True, (1, 2, 3)])
def test_bad_radius_gets_a_clear_error(radius):
    with pytest.raises((TypeError, ValueError), match="radius"):
        bgsub.subtract_background(np.zeros((8, 8)), "tophat", radius)


@pytest.mark.parametrize(("radius", "spacing", "named"), [
    ((5, "a"), None, "radius must be a number of pixels, got 'a'"),
    (5, (1, "x"), "spacing must be a number of pixels, got 'x'")])
def test_a_bad_entry_among_numbers_is_the_one_named(radius, spacing, named):
    # (np.ravel((5, "a")) made both text, and the message named '5')
    with pytest.raises(TypeError, match=named):
        bgsub.subtract_background(np.zeros((8, 8)), "tophat", radius, spacing=spacing)


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="available methods: .*rolling_ball"):
        bgsub.subtract_background(np.zeros((8, 8)), "rolling-pin", 3)


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(TypeError, match="accepted options: dilation_radius, footprint"):
        bgsub.subtract_background(np.zeros((8, 8)), "tophat", 3, shape="disk")


def test_bad_option_value():
    with pytest.raises(ValueError, match="footprint='star'"):
        bgsub.subtract_background(np.zeros((8, 8)), "tophat", 3, footprint="star")


@pytest.mark.parametrize(("axes", "message"), [("YXZ0", "names 4 axes"), ("ZZX", "distinct"),
                                               ("TYZ", "'Y' and 'X'"), (3, "string")])
def test_bad_axes(axes, message):
    with pytest.raises((TypeError, ValueError), match=message):
        bgsub.subtract_background(np.zeros((4, 8, 8)), **FAST, axes=axes)


def test_true_3d_needs_z():
    with pytest.raises(ValueError, match="needs a 'Z' axis"):
        bgsub.subtract_background(np.zeros((4, 8, 8)), **FAST, axes="TYX", true_3d=True)


@pytest.mark.parametrize("call", [bgsub.estimate_background, bgsub.subtract_background])
def test_flags_must_be_bools_before_anything_else_is_read(call):
    # (true_3d="yes" on a 2D image said "true_3d=True needs a 'Z' axis")
    for name in ("true_3d", "light_background"):
        with pytest.raises(TypeError, match=f"^{name} must be True or False, got 'yes'$"):
            call(np.zeros((8, 8)), **FAST, **{name: "yes"})
    with pytest.raises(TypeError, match="return_background must be True or False, got 'no'"):
        bgsub.subtract_background(np.zeros((8, 8)), **FAST, return_background="no")


@pytest.mark.parametrize("call", [bgsub.estimate_background, bgsub.subtract_background])
@pytest.mark.parametrize(("given", "message"), [
    (dict(progress=5), "progress must be a function progress(done, total) or None, got 5"),
    (dict(cancel=True), "cancel must have is_set(), as a threading.Event has, or be None; "
                        "got True")])
def test_progress_and_cancel_of_the_wrong_kind_are_refused_before_any_work(call, given,
                                                                           message):
    # (they failed at the first block: "'int' object is not callable", an AttributeError)
    with pytest.raises(TypeError) as info:
        call(np.zeros((8, 8)), **FAST, **given)
    assert str(info.value) == message


@pytest.mark.parametrize("output_dtype", ["int", "uint8", "double-ish", None])
def test_bad_output_dtype(output_dtype):
    # (None: NumPy's np.dtype(None) is float64, which came back silently)
    with pytest.raises(ValueError, match=f"output_dtype={output_dtype!r} is not accepted; use "
                       "one of 'same', 'float', 'float32', 'float64'"):
        bgsub.subtract_background(np.zeros((8, 8)), **FAST, output_dtype=output_dtype)


# --- dtypes -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.uint32, np.int32, np.int8,
                                   np.int64, np.uint64, np.float16, np.float32, np.float64])
def test_output_keeps_dtype_and_never_wraps(dtype):
    rng = np.random.default_rng(0)
    image = (rng.random((40, 40)) * 100).astype(dtype)
    fg, bg = bgsub.subtract_background(image, "gaussian", 4, return_background=True)
    assert fg.dtype == np.dtype(dtype)
    expected_bg = np.float64 if np.dtype(dtype) in (np.float64, np.int32, np.uint32, np.int64,
                                                    np.uint64) else np.float32
    assert bg.dtype == expected_bg
    if np.issubdtype(dtype, np.integer):
        # a naive image - background wraps around below zero for unsigned types
        exact = image.astype(np.float64) - bg
        np.testing.assert_array_equal(fg, np.clip(np.rint(exact), np.iinfo(dtype).min,
                                                  np.iinfo(dtype).max))


def test_uint16_never_wraps_where_background_exceeds_image():
    image = np.full((32, 32), 100, np.uint16)
    image[::2] = 90  # a mean background is above half of the pixels
    fg = bgsub.subtract_background(image, "mean", 3)
    assert fg.min() == 0 and fg.max() <= 10


def test_offset_keeps_negative_values():
    image = np.full((32, 32), 100, np.uint16)
    image[::2] = 90
    fg = bgsub.subtract_background(image, "mean", 3, offset=50)
    assert 40 <= fg.min() < 50


@pytest.mark.parametrize(("offset", "error", "message"), [
    (np.float64("nan"), ValueError, "offset=nan must be finite"),
    (np.inf, ValueError, "offset=inf must be finite"),
    ("50", TypeError, "offset must be a number, got '50'"),
    (True, TypeError, "offset must be a number, got True"),
])
def test_a_bad_offset_is_a_one_line_error(offset, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        bgsub.subtract_background(np.ones((32, 32), np.uint16), "mean", 3, offset=offset)


@pytest.mark.parametrize("output_dtype", ["float", "float32", np.float64])
def test_float_output_on_request(output_dtype):
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    fg = bgsub.subtract_background(image, **FAST, output_dtype=output_dtype)
    assert fg.dtype == (np.float32 if output_dtype in ("float", "float32") else np.float64)


# --- NaN and inf ------------------------------------------------------------

@pytest.mark.parametrize("method", ["rolling_ball", "tophat", "median", "mean", "gaussian",
                                    "paraboloid"])
def test_nan_pixels_stay_nan_and_do_not_poison(method):
    rng = np.random.default_rng(1)
    image = (rng.random((48, 48)) * 10 + 100).astype(np.float32)
    holes = np.zeros(image.shape, bool)
    holes[20:23, 10:14] = True
    holes[5, 40] = True
    image[holes] = np.nan
    fg, bg = bgsub.subtract_background(image, method, 4, return_background=True)
    assert np.isnan(fg[holes]).all()
    assert np.isfinite(fg[~holes]).all() and np.isfinite(bg).all()
    # the background around the holes stays in the range of the valid data
    assert 99 <= np.nanmin(bg) and np.nanmax(bg) <= 111


def test_all_nan_plane_gives_nan_not_an_error():
    image = np.full((2, 16, 16), np.nan, np.float32)
    image[1] = 5.0
    fg = bgsub.subtract_background(image, **FAST)
    assert np.isnan(fg[0]).all() and (fg[1] == 0).all()


# --- axes -------------------------------------------------------------------

def test_per_slice_equals_each_plane(blobs_3d):
    stack = bgsub.estimate_background(blobs_3d, "rolling_ball", 4)
    for z in (0, 7, 19):
        np.testing.assert_array_equal(stack[z], bgsub.estimate_background(blobs_3d[z],
                                                                           "rolling_ball", 4))


def test_time_and_channel_axes_are_independent(blobs_3d):
    tczyx = np.stack([np.stack([blobs_3d, blobs_3d[::-1]], axis=1)] * 2)  # (2, 20, 2, 40, 44)
    out = bgsub.subtract_background(tczyx, **FAST, axes="TZCYX")
    np.testing.assert_array_equal(out[1, :, 1], bgsub.subtract_background(blobs_3d[::-1], **FAST))


def test_true_3d_with_channels_last(blobs_3d):
    zyxc = np.stack([blobs_3d, blobs_3d // 2], axis=-1)
    out = bgsub.estimate_background(zyxc, "tophat", 2, axes="ZYXC", true_3d=True)
    np.testing.assert_array_equal(out[..., 1], bgsub.estimate_background(
        blobs_3d // 2, "tophat", 2, true_3d=True))


def test_rgb_is_guessed_and_processed_per_channel():
    rng = np.random.default_rng(2)
    rgb = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
    out = bgsub.subtract_background(rgb, **FAST)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], bgsub.subtract_background(rgb[..., c], **FAST))


def test_spacing_scales_the_radius_per_axis(blobs_3d):
    by_spacing = bgsub.estimate_background(blobs_3d, "tophat", 4, true_3d=True,
                                           spacing=(2.0, 1.0, 1.0))
    explicit = bgsub.estimate_background(blobs_3d, "tophat", (2, 4, 4), true_3d=True)
    np.testing.assert_array_equal(by_spacing, explicit)


def test_anisotropic_radius_matches_an_ellipse_footprint(blobs_2d):
    from skimage.morphology import opening

    ours = bgsub.estimate_background(blobs_2d, "tophat", (2, 5))
    yy, xx = np.ogrid[-2:3, -5:6]
    np.testing.assert_array_equal(ours, opening(blobs_2d, (yy / 2) ** 2 + (xx / 5) ** 2 <= 1))


# --- light background and pre-smoothing ---------------------------------------

@pytest.mark.parametrize("method", ["rolling_ball", "tophat", "median", "paraboloid"])
def test_light_background_is_the_inverted_dark_result(blobs_2d, method):
    image = blobs_2d.astype(np.float32)
    inverted = image.max() - image
    light = bgsub.subtract_background(inverted, method, 5, light_background=True)
    dark = bgsub.subtract_background(image, method, 5)
    np.testing.assert_allclose(light, dark, atol=1e-2)


@pytest.mark.parametrize(("spec", "reference"), [
    ("mean:1", lambda x: ndi.uniform_filter(x, 3, mode="reflect")),
    ("gaussian:1.5", lambda x: ndi.gaussian_filter(x, 1.5, mode="reflect")),
    (("median", 1), lambda x: ndi.median_filter(x, 3, mode="reflect")),
])
def test_presmooth_smooths_before_estimating(blobs_2d, spec, reference):
    image = blobs_2d.astype(np.float64)
    ours = bgsub.estimate_background(image, "tophat", 4, presmooth=spec)
    expected = bgsub.estimate_background(reference(image), "tophat", 4)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
    # the foreground is taken from the raw image, not the smoothed one
    fg = bgsub.subtract_background(image, "tophat", 4, presmooth=spec, output_dtype="float")
    np.testing.assert_allclose(fg, image - ours, atol=1e-6)


@pytest.mark.parametrize("spec", ["box:1", "gaussian:-1", "gaussian:x", 3])
def test_bad_presmooth(spec):
    with pytest.raises((TypeError, ValueError), match="presmooth"):
        bgsub.subtract_background(np.zeros((8, 8)), **FAST, presmooth=spec)


def test_list_methods_describes_every_method():
    names = {m.name for m in bgsub.list_methods()}
    assert {"rolling_ball", "paraboloid", "tophat", "median", "mean", "gaussian", "dog"} <= names
    assert bgsub.get_method("opening").name == "tophat"
    for m in bgsub.list_methods():
        assert m.summary and all(p.doc for p in m.parameters)


def test_four_and_five_dimensional_arrays_need_no_axes():
    image = np.arange(2 * 3 * 2 * 8 * 8, dtype=np.uint16).reshape(2, 3, 2, 8, 8)
    out = bgsub.subtract_background(image, **FAST)
    np.testing.assert_array_equal(out[1, 2, 0], bgsub.subtract_background(image[1, 2, 0], **FAST))
