"""Bad and extreme inputs to the API: each gets a documented one-line answer (docs/robustness.md).

tests/test_api.py covers the basic refusals (bool, complex, object, empty, 1D,
radius <= 0, wrong axes); this file fills the rest of the table and checks the
promises as properties over every registered method.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from scipy import ndimage as ndi

import bgsub
from bgsub._dtypes import integer_bounds

FAST = dict(method="tophat", radius=2)
METHODS = [m.name for m in bgsub.list_methods()]


def _usable_with_defaults(method) -> bool:
    """Whether ``method`` runs without options (methods whose options need values are skipped)."""
    try:
        method.resolve_options({})
    except (TypeError, ValueError):
        return False
    return True


# 'imagej' reproduces ImageJ's own NaN and dtype behaviour (tests/imagej, tests/methods)
DEFAULT_METHODS = [m.name for m in bgsub.list_methods()
                   if _usable_with_defaults(m) and m.subtract is None]


def fitting(method: str, radius: float) -> dict:
    """Options that fit any radius: ``dog``'s small sigma below its large one (the radius)."""
    return {"low_sigma": radius / 2} if method == "dog" else {}


def one_line_error(error, call):
    """Run ``call``; it must raise ``error`` with a single-line message, which is returned."""
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message
    return message


# --- shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0), (3, 0, 4), (2, 3, 0, 4)])
def test_empty_arrays_are_refused(shape):
    message = one_line_error(ValueError, lambda: bgsub.subtract_background(np.zeros(shape),
                                                                           **FAST))
    assert "empty" in message


@pytest.mark.parametrize("shape", [(), (7,)])
def test_scalars_and_1d_are_refused(shape):
    message = one_line_error(ValueError, lambda: bgsub.subtract_background(np.zeros(shape),
                                                                           **FAST))
    assert "at least 2 dimensions" in message


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (1, 1, 1)])
def test_single_pixel_and_single_row_images_work_with_every_method(method, shape):
    if method not in DEFAULT_METHODS:
        pytest.skip(f"{method} needs option values")
    image = np.full(shape, 7, np.uint16)
    foreground = bgsub.subtract_background(image, method, 3)
    assert foreground.shape == shape and foreground.dtype == np.uint16
    assert not foreground.any()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(1, 1), (48, 40)])
def test_float32_values_below_its_normal_range_work_with_every_method(method, shape):
    # (robust scales tiny values to an ordinary unit: 2**133 for 1e-40, infinite in float32;
    # hypothesis found a 1x1 image of 4.3e-42 failing with "coeff entries must be finite")
    rng = np.random.default_rng(0)
    image = (rng.poisson(100, shape) * 1e-42).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bgsub.BackgroundWarning)
        background = bgsub.estimate_background(image, method, 3)
    assert background.dtype == np.float32 and np.isfinite(background).all()
    if method != "imagej":  # (ImageJ's own float arithmetic, reproduced: its ball is in grey
        # levels, some hundred thousand times these values)
        assert image.min() - 1e-42 <= background.min() and background.max() <= image.max()


def test_ragged_input_is_a_one_line_type_error():
    message = one_line_error(TypeError, lambda: bgsub.subtract_background([[1, 2], [3]],
                                                                          **FAST))
    assert "rectangular" in message


def test_nested_lists_and_non_contiguous_views_are_accepted():
    grid = [[1, 2, 3], [4, 5, 6]]
    assert bgsub.subtract_background(grid, **FAST).shape == (2, 3)
    view = np.arange(400, dtype=np.uint16).reshape(20, 20)[::-2, 1::3]
    np.testing.assert_array_equal(bgsub.subtract_background(view, **FAST),
                                  bgsub.subtract_background(view.copy(), **FAST))


# --- radius -------------------------------------------------------------------------------

@pytest.mark.parametrize(("radius", "error"), [
    (0, ValueError), (-3, ValueError), (np.nan, ValueError), (-np.inf, ValueError),
    (None, TypeError), ("5", TypeError), (1j, TypeError), (True, TypeError),
    ([], ValueError), ([1, 2, 3], ValueError), ([2, np.nan], ValueError),
])
def test_bad_radius_values(radius, error):
    message = one_line_error(error, lambda: bgsub.subtract_background(np.zeros((8, 8)), "tophat",
                                                                      radius))
    assert "radius" in message


@pytest.mark.parametrize("method", DEFAULT_METHODS)
def test_a_radius_larger_than_the_image_works(method):
    image = np.arange(100, dtype=np.uint16).reshape(10, 10)
    foreground = bgsub.subtract_background(image, method, 50)
    assert foreground.shape == image.shape and foreground.dtype == image.dtype


@pytest.mark.parametrize("method", DEFAULT_METHODS)
def test_a_huge_radius_beyond_the_image_is_refused_before_allocating(method):
    image = np.zeros((8, 8), np.uint16)
    message = one_line_error(ValueError, lambda: bgsub.subtract_background(image, method, 1e6))
    assert "beyond the image (8x8)" in message and "radius=8.0" in message


@pytest.mark.parametrize(("method", "options"), [
    ("gaussian", {"sigma": 1e9}), ("dog", {"high_sigma": 1e12}),
    ("dog", {"low_sigma": 1e9, "high_sigma": 2e9}),
    ("tophat", {"dilation_radius": 1e9})])
def test_a_huge_method_option_is_refused_before_allocating(method, options):
    image = np.zeros((8, 8), np.uint16)
    message = one_line_error(
        ValueError, lambda: bgsub.subtract_background(image, method, 3, **options))
    assert f"method {method!r}" in message and "beyond the image (8x8)" in message


def test_a_large_option_beyond_a_small_image_still_runs():
    image = np.arange(64, dtype=np.uint16).reshape(8, 8)
    expected = ndi.gaussian_filter(image.astype(np.float64), 1000.0, mode="reflect")
    background = bgsub.estimate_background(image, "gaussian", 3, sigma=1000.0)
    np.testing.assert_allclose(background, expected, rtol=1e-5)


def test_a_huge_radius_within_a_large_image_is_not_refused_by_that_rule():
    from bgsub.engine import _check_radius_fits

    _check_radius_fits((3000.0, 3000.0), (8000, 8000))  # a big neighbourhood, inside the image
    with pytest.raises(ValueError, match=r"radius=\(10.0, 200.0, 200.0\)"):
        _check_radius_fits((200.0, 200.0, 200.0), (10, 256, 256))


@pytest.mark.parametrize("spacing", [(0, 1), (1, -2), (np.nan, 1), (np.float64(0), 1)])
def test_bad_spacing_names_the_value_without_numpy_types(spacing):
    message = one_line_error(ValueError, lambda: bgsub.subtract_background(
        np.zeros((8, 8)), **FAST, spacing=spacing))
    assert message.startswith("spacing=") and "np." not in message


# --- NaN and infinity ---------------------------------------------------------------------

@pytest.mark.parametrize("method", DEFAULT_METHODS)
def test_an_all_nan_image_gives_all_nan(method):
    image = np.full((12, 12), np.nan, np.float32)
    foreground, background = bgsub.subtract_background(image, method, 3,
                                                       return_background=True)
    assert np.isnan(foreground).all() and np.isnan(background).all()


@pytest.mark.parametrize("method", DEFAULT_METHODS)
def test_infinite_pixels_stay_infinite_and_do_not_poison(method):
    image = np.full((16, 16), 10.0)
    image[3, 4], image[10, 12], image[8, 2] = np.inf, -np.inf, np.nan
    bad = ~np.isfinite(image)
    foreground, background = bgsub.subtract_background(image, method, 3,
                                                        return_background=True)
    assert foreground[3, 4] == np.inf and foreground[10, 12] == -np.inf
    assert np.isnan(foreground[8, 2])
    assert np.isfinite(background).all() and np.isfinite(foreground[~bad]).all()


def test_an_all_infinite_image_gives_nan():
    foreground = bgsub.subtract_background(np.full((6, 6), np.inf), **FAST)
    assert np.isnan(foreground).all()


@pytest.mark.parametrize("method", ["gaussian", "mean", "dog"])
def test_linear_filters_near_the_largest_float_give_the_scaled_result_not_nan(method):
    # their sums overflowed: a float64 image around 1e306 gave a background of NaN, silently
    rng = np.random.default_rng(3)
    image = rng.uniform(1.0, 2.0, (256, 256)) * 2.0**1020
    background = bgsub.estimate_background(image, method, 10)
    expected = bgsub.estimate_background(image * 2.0**-1020, method, 10) * 2.0**1020
    assert np.isfinite(background).all()
    np.testing.assert_array_equal(background, expected)  # (powers of two scale exactly)


@pytest.mark.parametrize("value", [1e300, -1e300, 1.7e308, 1e-300, 1e-10])
def test_the_default_on_a_constant_image_of_any_magnitude_gives_zero_silently(value):
    # 1e300 let NumPy's "overflow encountered in square" through; 1.7e308 raised
    # "coeff entries must be finite and > 0"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        foreground = bgsub.subtract_background(np.full((64, 64), value), radius="auto")
    assert not foreground.any()


# --- dtypes -------------------------------------------------------------------------------

ACCEPTED = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
            "float16", "float32", "float64", "longdouble", ">u2", ">f8"]
REFUSED = [("bool", "boolean"), ("complex64", "complex"), ("complex128", "complex"),
           ("clongdouble", "complex"), ("object", "not supported"), ("U3", "not supported"),
           ("S3", "not supported"), ("datetime64[ns]", "not supported"),
           ("timedelta64[s]", "not supported"), ("V4", "not supported")]


@pytest.mark.parametrize("dtype", ACCEPTED)
def test_every_numeric_dtype_comes_back_in_its_own_dtype(dtype):
    image = (np.arange(144).reshape(12, 12) % 50).astype(dtype)
    foreground = bgsub.subtract_background(image, **FAST)
    # (in this machine's byte order: the same values)
    assert foreground.dtype == np.dtype(dtype).newbyteorder("=")
    assert foreground.shape == image.shape


SWAPPED = [(">f8", "auto"), (">f8", "rolling_ball"), (">f8", "gaussian"), (">i4", "robust"),
           (">u4", "auto"), (">i8", "rolling_ball"), (">u2", "imagej"), (">f4", "imagej"),
           (">u2", "auto")]


@pytest.mark.parametrize(("dtype", "method"), SWAPPED)
def test_big_endian_pixels_give_what_the_same_values_in_native_order_give(dtype, method):
    # a FITS file's or an N5 store's pixels: a big-endian float64 image was computed in
    # float32 (1,750 grey levels off on values near 1e9), and 'imagej' refused >u2 / >f4
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:48, :64]
    values = 1e9 * (dtype == ">f8") + 200.0 + 2.0 * xx + rng.poisson(20.0, yy.shape)
    values[20:26, 30:36] += 300.0
    native = values.astype(np.dtype(dtype).newbyteorder("="))
    kwargs = {"radius": "auto"} if method == "auto" else {"method": method, "radius": 12}
    expected = bgsub.subtract_background(native, return_background=True, **kwargs)
    found = bgsub.subtract_background(native.astype(dtype), return_background=True, **kwargs)
    for want, got in zip(expected, found, strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_big_endian_dask_input_gives_the_native_pixels():
    da = pytest.importorskip("dask.array")
    image = (np.add.outer(np.arange(40.0), np.arange(40.0)) + 1e9).astype(">f8")
    image[10:14, 10:14] += 50.0
    expected = bgsub.subtract_background(image.astype("<f8"), "rolling_ball", 6)
    found = bgsub.subtract_background(da.from_array(image, chunks=20), "rolling_ball", 6)
    assert np.array_equal(found.compute(), expected)


@pytest.mark.parametrize(("dtype", "message"), REFUSED)
def test_every_non_numeric_dtype_is_refused_with_one_line(dtype, message):
    image = np.zeros((8, 8), dtype=dtype)
    assert message in one_line_error(TypeError,
                                     lambda: bgsub.subtract_background(image, **FAST))


def test_long_double_is_computed_in_float64():
    background = bgsub.estimate_background(np.ones((8, 8), np.longdouble), **FAST)
    assert background.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, np.uint32])
def test_wide_integers_never_wrap_at_the_top_of_their_range(dtype):
    """float(iinfo(int64).max) is 2**63, which used to cast to the most negative int64."""
    info = np.iinfo(dtype)
    image = np.full((8, 8), info.max, dtype)
    image[::2] = info.min
    foreground = bgsub.subtract_background(image, "tophat", 2)
    high = integer_bounds(np.dtype(dtype), np.dtype(np.float64))[1]
    assert foreground[1::2].min() >= high  # image - background = max - min: clipped, not wrapped
    assert (foreground[::2] == 0).all()


# --- channels and axes --------------------------------------------------------------------

def test_two_channels_last_are_refused_without_channel_axis_and_split_with_it():
    image = np.random.default_rng(0).integers(0, 200, (16, 16, 2)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"ambiguous.*channel_axis=-1"):
        bgsub.subtract_background(image, **FAST)
    foreground = bgsub.subtract_background(image, channel_axis=-1, **FAST)
    for c in range(2):
        np.testing.assert_array_equal(foreground[..., c],
                                      bgsub.subtract_background(image[..., c], **FAST))
    with pytest.raises(ValueError, match="disagree"):
        bgsub.subtract_background(image, channel_axis=-1, axes="ZYX", **FAST)


@pytest.mark.parametrize(("shape", "axes"), [((16, 16, 3), "YXS"), ((16, 16, 4), "YXS"),
                                             ((2, 16, 16), "ZYX"),
                                             ((3, 16, 16), "ZYX"), ((4, 4, 3), "ZYX")])
def test_channel_layouts_are_guessed_as_documented(shape, axes):
    from bgsub._axes import default_axes

    assert default_axes(shape) == axes
    image = np.random.default_rng(0).integers(0, 200, shape).astype(np.uint8)
    foreground = bgsub.subtract_background(image, **FAST)
    first = (slice(None), slice(None), 0) if axes == "YXS" else (0,)
    np.testing.assert_array_equal(foreground[first],
                                  bgsub.subtract_background(image[first], **FAST))


@pytest.mark.parametrize(("axes", "error", "message"), [
    ("", ValueError, "names 0 axes"), ("YX", ValueError, "names 2 axes"),
    ("TYXC", ValueError, "names 4 axes"), ("Y X", ValueError, "distinct letters"),
    ("YX1", ValueError, "distinct letters"), ("YYX", ValueError, "distinct letters"),
    ("TCZ", ValueError, "'Y' and 'X'"), (b"ZYX", TypeError, "string"),
    (["Z", "Y", "X"], TypeError, "string"), ("ÿYX", ValueError, "distinct letters"),
    ("ßYX", ValueError, "distinct letters"),
])
def test_wrong_axes_strings(axes, error, message):
    image = np.zeros((3, 8, 8), np.uint8)
    assert message in one_line_error(error, lambda: bgsub.subtract_background(
        image, **FAST, axes=axes))


def test_axes_are_case_insensitive():
    image = np.zeros((3, 8, 8), np.uint8)
    assert bgsub.subtract_background(image, **FAST, axes="zyx").shape == (3, 8, 8)


# --- properties over every method ---------------------------------------------------------

NUMERIC = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
           np.float16, np.float32, np.float64]


@st.composite
def images(draw):
    """Small 2D or 3D images of any numeric dtype, integers over their whole range."""
    dtype = np.dtype(draw(st.sampled_from(NUMERIC)))
    shape = draw(array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=12))
    if dtype.kind == "f":
        finite = float(np.finfo(dtype).max) / 4 if dtype == np.float16 else 1e6
        elements = st.one_of(st.floats(-finite, finite, width=dtype.itemsize * 8),
                             st.just(np.nan))
    else:
        elements = st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    return draw(arrays(dtype, shape, elements=elements))


def _check_foreground(image, foreground, background, light):
    assert foreground.shape == image.shape and foreground.dtype == image.dtype
    assert background.shape == image.shape and background.dtype.kind == "f"
    exact = image.astype(np.float64) - background.astype(np.float64)
    if light:
        exact = -exact
    if image.dtype.kind in "iu":
        low, high = integer_bounds(image.dtype, np.dtype(np.float64))
        expected = np.clip(np.rint(exact), low, high)
        # never wrapped: equal to the clipped difference, up to float rounding
        tolerance = 1.0 + 1e-6 * np.abs(expected)
        assert np.all(np.abs(foreground.astype(np.float64) - expected) <= tolerance)
    else:
        nan = np.isnan(image)  # NaN stays NaN (an all-NaN plane gives NaN), and only there
        np.testing.assert_array_equal(np.isnan(foreground), nan)
        assert np.isfinite(foreground[~nan]).all()


@pytest.mark.parametrize("method", DEFAULT_METHODS)
@settings(max_examples=25)
@given(image=images(), radius=st.floats(0.5, 6.0), light=st.booleans())
def test_any_image_gives_the_documented_dtype_and_range_without_wrap_around(method, image,
                                                                           radius, light):
    axes = "QYX" if image.ndim == 3 else "YX"  # plane by plane: every method supports it
    foreground, background = bgsub.subtract_background(
        image, method, radius, axes=axes, light_background=light, return_background=True,
        **fitting(method, radius))
    _check_foreground(image, foreground, background, light)


@pytest.mark.parametrize("method", [m.name for m in bgsub.list_methods()
                                    if m.supports_3d and m.name in DEFAULT_METHODS])
@settings(max_examples=10)
@given(image=images(), radius=st.floats(0.5, 3.0))
def test_true_3d_on_any_small_stack(method, image, radius):
    if image.ndim == 2:
        image = image[np.newaxis]
    foreground, background = bgsub.subtract_background(
        image, method, radius, axes="ZYX", true_3d=True, return_background=True,
        **fitting(method, radius))
    _check_foreground(image, foreground, background, False)


@settings(max_examples=40)
@given(image=st.one_of(images(), st.builds(np.zeros, st.tuples(st.integers(0, 3))),
                       st.builds(np.zeros, array_shapes(min_dims=2, max_dims=3, min_side=0,
                                                        max_side=3))),
       radius=st.one_of(st.floats(-10, 10), st.sampled_from([np.nan, np.inf, -np.inf, 1e300]),
                        st.integers(-5, 5), st.none(), st.text(max_size=2)),
       method=st.sampled_from(METHODS + ["nope"]))
def test_arbitrary_arguments_raise_only_documented_one_line_errors(image, radius, method):
    try:
        result = bgsub.subtract_background(image, method, radius)
    except (TypeError, ValueError) as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result.shape == image.shape and result.dtype == image.dtype


# --- RGBA: the alpha sample is no image data -----------------------------------------------

def _rgba(alpha: int = 200) -> np.ndarray:
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:40, :48]
    grey = 30.0 + 0.5 * xx + rng.poisson(5.0, yy.shape)
    grey[12:18, 20:26] += 120.0
    colour = np.stack([grey, 0.7 * grey, 0.4 * grey], axis=-1)
    return np.concatenate([colour, np.full(yy.shape + (1,), alpha)], axis=-1).astype(np.uint8)


def test_the_alpha_of_an_rgba_image_passes_through_and_the_colours_are_as_rgb():
    # before, alpha was a fourth colour: a fully opaque PNG came out fully transparent
    image = _rgba()
    with pytest.warns(bgsub.BackgroundWarning, match="read as RGBA"):
        foreground, background = bgsub.subtract_background(image, "rolling_ball", 10,
                                                           return_background=True)
    colour, colour_background = bgsub.subtract_background(
        image[..., :3], "rolling_ball", 10, return_background=True)
    assert foreground.dtype == np.uint8 and foreground.shape == image.shape
    assert np.array_equal(foreground[..., 3], image[..., 3])
    assert np.array_equal(foreground[..., :3], colour)
    assert np.array_equal(background[..., :3], colour_background)
    assert not background[..., 3].any()
    estimated = bgsub.estimate_background(image, "rolling_ball", 10, axes="YXS")
    assert np.array_equal(estimated[..., :3], colour_background) and not estimated[..., 3].any()


def test_rgba_axes_given_are_not_warned_of_and_four_channels_are_all_processed():
    image = _rgba(alpha=255)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bgsub.BackgroundWarning)
        kept = bgsub.subtract_background(image, "tophat", 10, axes="YXS",
                                         output_dtype="float32")
        channels = bgsub.subtract_background(image, "tophat", 10, channel_axis=-1)
    assert kept.dtype == np.float32 and (kept[..., 3] == 255).all()
    assert not channels[..., 3].any()  # (a constant fourth channel: no foreground)


def test_rgba_on_dask_and_with_imagej_keeps_alpha():
    da = pytest.importorskip("dask.array")
    image = _rgba()
    expected = bgsub.subtract_background(image, "rolling_ball", 10, axes="YXS")
    lazy = bgsub.subtract_background(da.from_array(image, chunks=(20, 24, 4)), "rolling_ball",
                                     10, axes="YXS")
    assert np.array_equal(lazy.compute(), expected)
    imagej = bgsub.subtract_background(image, "imagej", 10, axes="YXS")
    assert np.array_equal(imagej[..., 3], image[..., 3])
    assert np.array_equal(imagej[..., :3], bgsub.subtract_background(image[..., :3], "imagej",
                                                                     10, axes="YXS"))


def test_grey_plus_alpha_samples_keep_their_alpha():
    image = _rgba()[..., ::3]  # (grey, alpha): YXS with two samples, as a PNG's "LA"
    foreground = bgsub.subtract_background(image, "rolling_ball", 10, axes="YXS")
    assert np.array_equal(foreground[..., 1], image[..., 1])
    assert np.array_equal(foreground[..., :1], bgsub.subtract_background(
        image[..., :1], "rolling_ball", 10, axes="YXS"))


def test_imagej_on_sixteen_bit_samples_processes_each_as_a_plane():
    # ImageJ's RGB is 8-bit; three 16-bit samples are a composite's channels there (the
    # method refused them: "rgb=True needs a uint8 array")
    rng = np.random.default_rng(8)
    image = (rng.poisson(200.0, (3, 40, 48)) + np.arange(48)).astype(np.uint16)
    image[:, 15:20, 20:26] += 500
    samples = bgsub.subtract_background(np.moveaxis(image, 0, -1), "imagej", 10, axes="YXS")
    planes = bgsub.subtract_background(image, "imagej", 10, axes="CYX")
    assert np.array_equal(np.moveaxis(samples, -1, 0), planes)
