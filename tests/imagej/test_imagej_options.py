"""ImageJ macro option strings: accepted when they have one reading, refused otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgsub.methods.imagej import imagej_reading, parse_imagej_options

NO_FLAGS = {"light_background": False, "separate_colors": False, "create_background": False,
            "sliding_paraboloid": False, "disable_smoothing": False}


def test_parse_full_option_string():
    kw = parse_imagej_options("rolling=50 light separate create sliding disable")
    assert kw == {"radius": 50.0, **{name: True for name in NO_FLAGS}}


@pytest.mark.parametrize(("text", "radius"), [
    ("rolling=[12.5]", 12.5), ("  rolling=[ 7 ]   sliding ", 7.0), ("rolling='8'", 8.0),
    ("rolling=1e1", 10.0), ("rolling=50d", 50.0), ("stack rolling=3", 3.0),
])
def test_parse_forms_imagej_accepts(text, radius):
    assert parse_imagej_options(text)["radius"] == radius


def test_parse_legacy_white_and_stack():
    kw = parse_imagej_options("rolling=3 white stack")
    assert kw == {**NO_FLAGS, "radius": 3.0, "light_background": True}


@pytest.mark.parametrize(("text", "message"), [
    ("rolling=[50", "unclosed '\\['"),  # ImageJ silently runs radius 50; bgsub ran 5
    ("rolling=[50 light", "unclosed '\\['"),
    ("rolling='50", "unclosed quote"),
    ("rolling=[5]0", "put a space after"),
    ("rolling=[[5]]", "invalid rolling ball radius"),
    ("rolling=5 rolling=6", "given twice"),
    ("rolling=5 light white", "given twice"),
    ("Rolling=5", "lower case"),
    ("rolling=5 LIGHT", "lower case"),
    ("rolling=5\tlight", "spaces only"),
    ("rolling=5\nlight", "spaces only"),
    ("rolling=5 ball=3", "unknown ImageJ option 'ball'.*rolling.*light"),
    ("rolling=5 [light]", "unknown ImageJ option"),
    ("rolling=5 light=true", "flag"),
    ("rolling=5 stack=1", "flag"),
    ("rolling=0x10", "invalid rolling ball radius"),
    ("rolling=1_0", "invalid rolling ball radius"),
    ("rolling=NaN", "must be > 0.0001"),
    ("rolling=Infinity", "must be > 0.0001"),
    ("rolling=0.0001", "must be > 0.0001"),
])
def test_parse_refuses_strings_imagej_reads_otherwise(text, message):
    with pytest.raises(ValueError, match=message):
        parse_imagej_options(text)


@pytest.mark.parametrize("text", ["", "light", "sliding disable"])
def test_parse_missing_rolling(text):
    with pytest.raises(ValueError, match="missing 'rolling=<radius>'.*default, 50"):
        parse_imagej_options(text)


@pytest.mark.parametrize("text", ["rolling=", "rolling", "rolling=abc", "rolling=0",
                                  "rolling=[-2]", "rolling=[]"])
def test_parse_bad_radius(text):
    with pytest.raises(ValueError, match="rolling|radius"):
        parse_imagej_options(text)


def test_mirror_follows_imagej_where_it_is_lenient():
    # what ImageJ's own reading gives for strings bgsub refuses
    assert imagej_reading("rolling=[50")["rolling"] is None  # the dialog default, 50
    assert imagej_reading("rolling=5 rolling=6")["rolling"] == "5"  # the first wins
    assert not imagej_reading("rolling=5 LIGHT")["light_background"]  # keys are case-sensitive
    assert not imagej_reading("rolling=5 [light]")["light_background"]  # inside a literal
    assert not imagej_reading("rolling=5 light=1")["light_background"]
    assert imagej_reading("light rolling=5")["light_background"]  # at the very start
    assert imagej_reading("rolling=5 white")["light_background"]


_WORDS = st.sampled_from(["rolling", "=", "[", "]", "'", " ", "  ", "5", "0.5", "light",
                          "white", "sliding", "stack", "disable", "x", "\t", "Light", "-"])


@given(st.lists(_WORDS, max_size=12).map("".join))
def test_any_string_is_parsed_consistently_or_refused_in_one_line(text):
    try:
        kw = parse_imagej_options(text)
    except ValueError as exc:
        assert "\n" not in str(exc).replace(repr(text), "")
        return
    reading = imagej_reading(text)
    assert float(reading.pop("rolling").strip()) == kw.pop("radius")
    assert reading == kw
