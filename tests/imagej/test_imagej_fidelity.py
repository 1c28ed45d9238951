"""Fidelity of :mod:`bgsub.imagej` against the real ImageJ 1.x (Debian's 1.53t).

All ImageJ runs are batched into ONE Java process (``RunSubtract.java``, compiled
once per session) to keep the JVM start-up cost low.  The comparison tests are
skipped when ``java``/``javac`` or ``/usr/share/java/ij.jar`` are missing, unless
``BGSUB_REQUIRE_IMAGEJ=1`` is set, in which case they fail loudly (CI sets it).
The option-parser and argument-validation tests need no Java and always run.

Agreement required (per case): 8/16-bit and RGB >= 99.9 % of the values equal
and none off by more than 1 grey level; 32-bit max |difference| <= 1e-5 of the
value range of the ImageJ result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile

from bgsub.imagej import imagej_subtract, parse_imagej_options

HERE = Path(__file__).resolve().parent
IJ_JAR = Path(os.environ.get("BGSUB_IMAGEJ_JAR", "/usr/share/java/ij.jar"))
REQUIRE = os.environ.get("BGSUB_REQUIRE_IMAGEJ", "") == "1"


def _imagej_missing() -> str | None:
    missing = [tool for tool in ("java", "javac") if shutil.which(tool) is None]
    if not IJ_JAR.is_file():
        missing.append(str(IJ_JAR))
    return ", ".join(missing) or None


_MISSING = _imagej_missing()
if _MISSING and REQUIRE:
    raise RuntimeError(
        f"BGSUB_REQUIRE_IMAGEJ=1 but ImageJ prerequisites are missing: {_MISSING} "
        "(Debian: apt-get install -y libij-java openjdk-17-jdk-headless)"
    )
needs_imagej = pytest.mark.skipif(
    _MISSING is not None, reason=f"ImageJ prerequisites missing: {_MISSING}"
)


# --------------------------------------------------------------------------------------
# test images
# --------------------------------------------------------------------------------------
def make_image(shape: tuple[int, int], dtype, seed: int) -> np.ndarray:
    """Smooth background + Gaussian blobs + noise, scaled to the dtype's range."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 40 + 30 * np.sin(x / (w / 2.3) + 0.5) * np.cos(y / (h / 1.7)) + 20 * x / w + 10 * y / h
    for _ in range(max(3, h * w // 400)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        s, a = rng.uniform(1, 6), rng.uniform(30, 120)
        y0, y1 = max(0, int(cy - 4 * s)), min(h, int(cy + 4 * s) + 1)
        x0, x1 = max(0, int(cx - 4 * s)), min(w, int(cx + 4 * s) + 1)
        yy, xx = y[y0:y1, x0:x1], x[y0:y1, x0:x1]
        img[y0:y1, x0:x1] += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    img += rng.normal(0, 4, img.shape)
    if dtype == np.uint8:
        return np.clip(img, 0, 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.clip(img * 150, 0, 65535).astype(np.uint16)
    return (img * 3.7 - 50).astype(np.float32)


def make_rgb(shape: tuple[int, int], seed: int) -> np.ndarray:
    rgb = np.stack([make_image(shape, np.uint8, seed + c) for c in range(3)], axis=-1)
    rgb[..., 1] //= 2  # not grey: hue and saturation matter
    return rgb


# --------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------
OPTION_SETS: dict[str, dict] = {
    "default": {},
    "light": {"light_background": True},
    "create": {"create_background": True},
    "disable": {"disable_smoothing": True},
    "sliding": {"sliding_paraboloid": True},
    "sliding+light": {"sliding_paraboloid": True, "light_background": True},
    "sliding+disable": {"sliding_paraboloid": True, "disable_smoothing": True},
    "sliding+nocorners": {"sliding_paraboloid": True, "correct_corners": False},
    "create+light+disable": {
        "create_background": True,
        "light_background": True,
        "disable_smoothing": True,
    },
    "all": {
        "create_background": True,
        "light_background": True,
        "sliding_paraboloid": True,
        "disable_smoothing": True,
    },
}
BALL_SETS = ("default", "light", "create", "disable")
RADII = (5, 10, 11, 30, 31, 50, 100, 101)
DTYPES = {"8bit": np.uint8, "16bit": np.uint16, "32bit": np.float32}


@dataclass
class Case:
    id: str
    image: np.ndarray
    radius: float
    options: dict = field(default_factory=dict)
    rgb: bool = False


def _cases() -> list[Case]:
    cases: list[Case] = []
    for d, (dname, dtype) in enumerate(DTYPES.items()):
        img = make_image((67, 91), dtype, seed=10 + d)  # odd size
        for r in RADII:
            for name in BALL_SETS:
                cases.append(Case(f"{dname}-r{r}-{name}", img, r, OPTION_SETS[name]))
        for r in (5, 50, 101):
            for name in ("sliding", "sliding+light", "sliding+disable", "sliding+nocorners"):
                cases.append(Case(f"{dname}-r{r}-{name}", img, r, OPTION_SETS[name]))
        for r in (11, 101):
            for name in ("create+light+disable", "all"):
                cases.append(Case(f"{dname}-r{r}-{name}", img, r, OPTION_SETS[name]))
        odd = make_image((33, 40), dtype, seed=20 + d)
        cases.append(Case(f"{dname}-33x40-r7.5-light", odd, 7.5, OPTION_SETS["light"]))
        small = make_image((20, 17), dtype, seed=30 + d)  # smaller than the ball
        for r in (50, 101):
            for name in ("default", "sliding", "light"):
                cases.append(Case(f"{dname}-20x17-r{r}-{name}", small, r, OPTION_SETS[name]))
        stack = np.stack([make_image((41, 38), dtype, seed=40 + d + k) for k in range(3)])
        cases.append(Case(f"{dname}-stack-r20", stack, 20, OPTION_SETS["default"]))
        cases.append(Case(f"{dname}-stack-r20-sliding+light", stack, 20,
                          OPTION_SETS["sliding+light"]))
    nan_img = make_image((45, 50), np.float32, seed=45)
    nan_img[0, 0] = nan_img[10, 10] = np.nan
    nan_img[20, 30:33] = np.nan
    for r in (5, 20):
        for name in ("default", "disable", "light"):
            cases.append(Case(f"32bit-nan-r{r}-{name}", nan_img, r, OPTION_SETS[name]))
    rgb = make_rgb((57, 71), seed=50)
    for r in (11, 50):
        for sep in (False, True):
            for name in ("default", "light", "create", "disable", "sliding", "all"):
                opts = {**OPTION_SETS[name], "separate_colors": sep}
                tag = "separate" if sep else "hsb"
                cases.append(Case(f"rgb-{tag}-r{r}-{name}", rgb, r, opts, rgb=True))
    rgb_stack = np.stack([make_rgb((30, 35), seed=60 + k) for k in range(2)])
    cases.append(Case("rgb-stack-r11", rgb_stack, 11, {}, rgb=True))
    return cases


CASES = _cases()
# ImageJ 1.53t throws ArrayIndexOutOfBoundsException for these (width <= shrink factor)
FAILING = [
    Case("8bit-30x4-r50", make_image((30, 4), np.uint8, seed=70), 50),
    Case("16bit-9x8-r101", make_image((9, 8), np.uint16, seed=71), 101),
]


def _job_line(case: Case, src: Path, dst: Path) -> str:
    o = case.options
    flags = [
        o.get("create_background", False),
        o.get("light_background", False),
        o.get("sliding_paraboloid", False),
        not o.get("disable_smoothing", False),
        o.get("correct_corners", True),
        o.get("separate_colors", False),
    ]
    return f"{src} {dst} {case.radius!r} " + " ".join(str(int(f)) for f in flags)


@pytest.fixture(scope="session")
def imagej_classes(tmp_path_factory) -> Path:
    """Compile RunSubtract.java once per session; return the class directory."""
    out = tmp_path_factory.mktemp("imagej_classes")
    subprocess.run(
        ["javac", "-d", str(out), "-cp", str(IJ_JAR), str(HERE / "RunSubtract.java")],
        check=True,
        capture_output=True,
    )
    return out


def run_imagej(cases: list[Case], classes: Path, workdir: Path) -> dict[str, object]:
    """Run all cases in one JVM; map case id -> result array or error string."""
    lines = []
    for case in cases:
        src, dst = workdir / f"{case.id}.in.tif", workdir / f"{case.id}.out.tif"
        photometric = "rgb" if case.rgb else "minisblack"
        tifffile.imwrite(src, case.image, photometric=photometric)
        lines.append(_job_line(case, src, dst))
    jobs = workdir / "jobs.txt"
    jobs.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        ["java", "-Djava.awt.headless=true", "-cp", f"{IJ_JAR}{os.pathsep}{classes}",
         "RunSubtract", str(jobs)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    results: dict[str, object] = {"__version__": proc.stdout.splitlines()[0].split()[-1]}
    status = {}
    for line in proc.stdout.splitlines()[1:]:
        kind, path, *rest = line.split(" ", 2)
        status[Path(path).name] = (kind, " ".join(rest))
    for case in cases:
        kind, msg = status.get(f"{case.id}.out.tif", ("ERROR", "no status"))
        if kind == "OK":
            results[case.id] = tifffile.imread(workdir / f"{case.id}.out.tif")
        else:
            results[case.id] = msg
    return results


@pytest.fixture(scope="session")
def imagej_results(imagej_classes, tmp_path_factory) -> dict[str, object]:
    return run_imagej(CASES + FAILING, imagej_classes, tmp_path_factory.mktemp("imagej_runs"))


def agreement(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(fraction of equal values, max |difference|)."""
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities / NaNs count as equal
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
    diff[np.isnan(diff)] = np.inf  # NaN on one side only
    return float(np.mean(same)), float(diff.max())


def assert_agrees(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    equal, maxdiff = agreement(ours, ref)
    if ref.dtype == np.float32:
        finite = ref[np.isfinite(ref)]
        value_range = float(finite.max() - finite.min()) if finite.size else 1.0
        value_range = value_range or 1.0
        assert maxdiff <= 1e-5 * value_range, f"max |diff| {maxdiff} (range {value_range})"
    else:
        assert maxdiff <= 1, f"max |diff| {maxdiff} grey levels"
        assert equal >= 0.999, f"only {equal:.4%} equal"


# --------------------------------------------------------------------------------------
# ImageJ comparisons
# --------------------------------------------------------------------------------------
@needs_imagej
def test_imagej_version(imagej_results):
    assert imagej_results["__version__"] == "1.53t"


@needs_imagej
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_imagej(case: Case, imagej_results):
    ref = imagej_results[case.id]
    assert isinstance(ref, np.ndarray), f"ImageJ failed: {ref}"
    ours = imagej_subtract(case.image, case.radius, rgb=case.rgb, **case.options)
    assert_agrees(ours, ref.reshape(ours.shape))


@needs_imagej
@pytest.mark.parametrize("case", FAILING, ids=[c.id for c in FAILING])
def test_fails_where_imagej_fails(case: Case, imagej_results):
    assert "ArrayIndexOutOfBounds" in str(imagej_results[case.id])
    with pytest.raises(ValueError, match="ArrayIndexOutOfBounds"):
        imagej_subtract(case.image, case.radius, **case.options)


# --------------------------------------------------------------------------------------
# pure-Python tests (no Java needed)
# --------------------------------------------------------------------------------------
def test_parse_full_option_string():
    kw = parse_imagej_options("rolling=50 light separate create sliding disable")
    assert kw == {
        "radius": 50.0,
        "light_background": True,
        "separate_colors": True,
        "create_background": True,
        "sliding_paraboloid": True,
        "disable_smoothing": True,
    }


def test_parse_defaults_and_bracket_form():
    kw = parse_imagej_options("rolling=[12.5]")
    assert kw["radius"] == 12.5
    assert not any(v for k, v in kw.items() if k != "radius")
    assert parse_imagej_options("  rolling=[ 7 ]   sliding ")["sliding_paraboloid"]


def test_parse_legacy_white_and_stack():
    kw = parse_imagej_options("rolling=3 white stack")
    assert kw["light_background"] and kw["radius"] == 3.0


def test_parse_unknown_key_names_accepted_keys():
    with pytest.raises(ValueError, match="unknown ImageJ option 'ball'.*rolling.*light"):
        parse_imagej_options("rolling=5 ball=3")


@pytest.mark.parametrize("text", ["", "light", "sliding disable"])
def test_parse_missing_rolling(text):
    with pytest.raises(ValueError, match="rolling"):
        parse_imagej_options(text)


@pytest.mark.parametrize("text", ["rolling=", "rolling=abc", "rolling=0", "rolling=[-2]"])
def test_parse_bad_radius(text):
    with pytest.raises(ValueError, match="rolling|radius"):
        parse_imagej_options(text)


def test_parse_flag_with_value_is_error():
    with pytest.raises(ValueError, match="flag"):
        parse_imagej_options("rolling=5 light=true")


def test_parsed_options_feed_imagej_subtract():
    img = make_image((24, 30), np.uint8, seed=1)
    kw = parse_imagej_options("rolling=[6] light sliding")
    out = imagej_subtract(img, **kw)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_output_types_and_stack_slices_are_independent():
    stack = np.stack([make_image((20, 22), np.uint16, seed=s) for s in (1, 2)])
    out = imagej_subtract(stack, 8)
    assert out.dtype == np.uint16 and out.shape == stack.shape
    np.testing.assert_array_equal(out[1], imagej_subtract(stack[1], 8))


def test_paraboloid_rejects_nan():
    # ImageJ 1.53t never terminates here; we refuse instead of hanging
    img = make_image((20, 20), np.float32, seed=3)
    img[5, 5] = np.nan
    with pytest.raises(ValueError, match="finite"):
        imagej_subtract(img, 10, sliding_paraboloid=True)


def test_invalid_arguments():
    with pytest.raises(TypeError):
        imagej_subtract(np.zeros((8, 8), np.int32), 5)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros((8, 8), np.uint8), 0)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros((8, 8), np.uint8), 5, rgb=True)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros(8, np.uint8), 5)
