"""Fidelity of the ImageJ port against the real ImageJ 1.53t and 1.54t.

Two oracles, each run ONCE over every case in one JVM (``RunSubtract.java``):

* **1.53t**: Debian's ``/usr/share/java/ij.jar`` (``libij-java``).
* **1.54t**: 1.54t's ``BackgroundSubtracter.java``, kept beside the repository in
  ``../shared/imagej-1.54t/`` (``BGSUB_IMAGEJ_154_SOURCE`` overrides), compiled
  into ``build/imagej-1.54t/`` and put before the 1.53t jar on the class path (the
  rest of ImageJ is unchanged for this command between the two releases).

Every case is compared with ``imagej_subtract(..., version=...)`` of the same
release and must agree **exactly** (0 differing pixels; NaN where ImageJ has NaN).
The comparison tests are skipped when ``java``/``javac``, the jar or the 1.54t
source are missing, unless ``BGSUB_REQUIRE_IMAGEJ=1`` is set (CI sets it): then
they fail loudly.  The option-parser and argument tests need no Java.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile

from bgsub.methods.imagej import (
    IMAGEJ_VERSIONS,
    imagej_reading,
    imagej_subtract,
    parse_imagej_options,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IJ_JAR = Path(os.environ.get("BGSUB_IMAGEJ_JAR", "/usr/share/java/ij.jar"))
SOURCE_154 = Path(os.environ.get("BGSUB_IMAGEJ_154_SOURCE",
                                 REPO.parent / "shared" / "imagej-1.54t"))
BUILD_154 = REPO / "build" / "imagej-1.54t"
REQUIRE = os.environ.get("BGSUB_REQUIRE_IMAGEJ", "") == "1"


def _imagej_missing(version: str) -> str | None:
    """What the oracle of ``version`` lacks on this machine (None: nothing)."""
    missing = [tool for tool in ("java", "javac") if shutil.which(tool) is None]
    if not IJ_JAR.is_file():
        missing.append(str(IJ_JAR))
    if version == "1.54t" and not (SOURCE_154 / "BackgroundSubtracter.java").is_file():
        missing.append(str(SOURCE_154 / "BackgroundSubtracter.java"))
    return ", ".join(missing) or None


_MISSING = {version: _imagej_missing(version) for version in IMAGEJ_VERSIONS}
if REQUIRE and any(_MISSING.values()):
    raise RuntimeError(
        f"BGSUB_REQUIRE_IMAGEJ=1 but ImageJ prerequisites are missing: "
        f"{_MISSING['1.54t'] or _MISSING['1.53t']} (tools/system-deps.sh imagej installs Java "
        "and the 1.53t jar; the 1.54t source is expected in ../shared/imagej-1.54t beside the "
        "repository)"
    )
needs_imagej = pytest.mark.skipif(  # the jar and a JDK
    _MISSING["1.53t"] is not None, reason=f"ImageJ prerequisites missing: {_MISSING['1.53t']}"
)
needs_both = pytest.mark.skipif(
    _MISSING["1.54t"] is not None, reason=f"ImageJ 1.54t oracle missing: {_MISSING['1.54t']}"
)
#: the releases as test parameters, each skipped where its oracle cannot run
VERSIONS = [pytest.param(v, marks=pytest.mark.skipif(
    _MISSING[v] is not None, reason=f"ImageJ {v} oracle missing: {_MISSING[v]}"))
    for v in IMAGEJ_VERSIONS]


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


def with_nan(shape: tuple[int, int], seed: int, where: str) -> np.ndarray:
    """A 32-bit image with NaN pixels placed as ``where`` says."""
    img = make_image(shape, np.float32, seed)
    h, w = shape
    if where == "scattered":
        img[0, 0] = img[10, 10] = np.nan
        img[20, 30:33] = np.nan
    elif where == "corners":  # all four corners and the first/last pixel of lines
        img[0, 0] = img[0, -1] = img[-1, 0] = img[-1, -1] = np.nan
        img[h // 2, 0] = img[0, w // 2] = img[h // 3, -1] = np.nan
    elif where == "lines":  # a whole row and a whole column
        img[h // 3, :] = np.nan
        img[:, w // 2] = np.nan
    elif where == "block":
        img[h // 4: h // 2, w // 3: 2 * w // 3] = np.nan
    elif where == "mostly":  # only a few numbers
        keep = np.random.default_rng(seed).random(shape) < 0.08
        img[~keep] = np.nan
    elif where == "all":
        img[:] = np.nan
    return img


# --------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------
FLAGS = {  # short name -> imagej_subtract keyword
    "light": "light_background",
    "create": "create_background",
    "sliding": "sliding_paraboloid",
    "disable": "disable_smoothing",
}
#: every combination of the four dialog options of a grey image (16)
ALL_COMBOS = [combo for n in range(5) for combo in itertools.combinations(FLAGS, n)]
#: the combinations with the sliding paraboloid (8)
SLIDING_COMBOS = [c for c in ALL_COMBOS if "sliding" in c]
DTYPES = {"8bit": np.uint8, "16bit": np.uint16, "32bit": np.float32}


@dataclass
class Case:
    id: str
    image: np.ndarray
    radius: float
    options: dict = field(default_factory=dict)
    rgb: bool = False
    group: str = ""


def _opts(combo, **extra) -> dict:
    return {**{FLAGS[name]: True for name in combo}, **extra}


def _name(combo, **extra) -> str:
    names = list(combo) + [k.split("_")[0] if v is not True else k for k, v in extra.items()]
    return "+".join(names) or "default"


def _grey_cases() -> list[Case]:
    cases = []
    for d, (dname, dtype) in enumerate(DTYPES.items()):
        img = make_image((67, 91), dtype, seed=10 + d)  # odd size
        for r, combo in itertools.product((5, 31, 101), ALL_COMBOS):
            cases.append(Case(f"{dname}-r{r}-{_name(combo)}", img, r, _opts(combo), group=dname))
        for r in (10, 11, 30, 50, 100):  # both sides of every shrink threshold
            for combo in ((), ("light",)):
                cases.append(Case(f"{dname}-r{r}-{_name(combo)}", img, r, _opts(combo),
                                  group=dname))
        for r, light in itertools.product((5, 50), (False, True)):
            opts = {"sliding_paraboloid": True, "correct_corners": False,
                    "light_background": light}
            cases.append(Case(f"{dname}-r{r}-sliding-nocorners{'+light' * light}", img, r,
                              opts, group=dname))
        odd = make_image((33, 40), dtype, seed=20 + d)
        cases.append(Case(f"{dname}-33x40-r7.5-light", odd, 7.5, _opts(("light",)),
                          group=dname))
        stack = np.stack([make_image((41, 38), dtype, seed=40 + d + k) for k in range(3)])
        for combo in ((), ("sliding", "light")):
            cases.append(Case(f"{dname}-stack-r20-{_name(combo)}", stack, 20, _opts(combo),
                              group="stacks"))
    return cases


def _shape_cases() -> list[Case]:
    """Elongated, tiny, square and large images: where 1.54t's corner estimate matters."""
    cases = []
    for d, (dname, dtype) in enumerate(DTYPES.items()):
        for h, w in ((23, 40), (40, 23), (42, 128), (128, 42), (9, 200), (200, 9), (12, 64)):
            img = make_image((h, w), dtype, seed=100 + d + h + w)
            for r, combo in itertools.product((5, 50), SLIDING_COMBOS):
                cases.append(Case(f"{dname}-{w}x{h}-r{r}-{_name(combo)}", img, r, _opts(combo),
                                  group="elongated"))
            cases.append(Case(f"{dname}-{w}x{h}-r20-default", img, 20, {}, group="elongated"))
        for h, w in ((1, 1), (1, 7), (7, 1), (2, 2), (3, 3), (4, 5), (5, 4), (20, 17)):
            img = make_image((h, w), dtype, seed=200 + d + h * w)
            for r, combo in itertools.product((3, 10), ((), ("light",), ("sliding",),
                                                        ("sliding", "light"),
                                                        ("sliding", "disable"))):
                cases.append(Case(f"{dname}-{w}x{h}-r{r}-{_name(combo)}", img, r, _opts(combo),
                                  group="tiny"))
        small = make_image((20, 17), dtype, seed=30 + d)  # smaller than the ball
        for r, combo in itertools.product((50, 101), ((), ("sliding",), ("light",))):
            cases.append(Case(f"{dname}-17x20-r{r}-{_name(combo)}", small, r, _opts(combo),
                              group="tiny"))
        square = make_image((64, 64), dtype, seed=300 + d)
        for combo in ALL_COMBOS:
            cases.append(Case(f"{dname}-64x64-r20-{_name(combo)}", square, 20, _opts(combo),
                              group="square"))
    large = make_image((300, 280), np.uint16, seed=400)
    for r, combo in ((50, ()), (50, ("sliding",)), (20, ("sliding", "light")), (150, ())):
        cases.append(Case(f"16bit-280x300-r{r}-{_name(combo)}", large, r, _opts(combo),
                          group="large"))
    return cases


NAN_LAYOUTS = ("scattered", "corners", "lines", "block", "mostly", "all")


def _nan_cases() -> list[Case]:
    cases = []
    img = with_nan((45, 50), seed=45, where="scattered")
    for r, combo in itertools.product((5, 20), ALL_COMBOS):
        cases.append(Case(f"32bit-nan-scattered-r{r}-{_name(combo)}", img, r, _opts(combo),
                          group="nan"))
    for k, where in enumerate(NAN_LAYOUTS[1:]):
        for shape in ((45, 50), (23, 40)):
            img = with_nan(shape, seed=50 + k, where=where)
            for r, combo in itertools.product((5, 50), ((), ("disable",), ("sliding",),
                                                        ("sliding", "light"),
                                                        ("sliding", "disable"))):
                cases.append(Case(f"32bit-nan-{where}-{shape[1]}x{shape[0]}-r{r}-{_name(combo)}",
                                  img, r, _opts(combo), group="nan"))
    return cases


def _spanning(shape: tuple[int, int], seed: int, span: float) -> np.ndarray:
    """A 32-bit image whose values span ``span`` (up to beyond the float range)."""
    img = make_image(shape, np.float32, seed).astype(np.float64)
    img = (img - img.min()) / (img.max() - img.min())
    return ((img - 0.5) * span).astype(np.float32)


def _extreme_cases() -> list[Case]:
    """Infinite pixels, and values spanning nearly or more than the float range."""
    cases = []
    inf = make_image((20, 24), np.float32, seed=3)
    inf[3, 4] = inf[0, 0] = np.inf
    inf[10, 0] = -np.inf
    inf[15, 20] = np.nan
    for combo in ((), ("disable",), ("light",), ("sliding",), ("sliding", "disable")):
        cases.append(Case(f"32bit-inf-r5-{_name(combo)}", inf, 5, _opts(combo), group="extreme"))
    for span, tag in ((1.5e38, "wide"), (4e38, "too-wide")):  # 1.53t never ends on too-wide
        img = _spanning((20, 24), seed=4, span=span)
        for combo in (("sliding",), ("sliding", "light"), ("sliding", "disable")):
            cases.append(Case(f"32bit-{tag}-r5-{_name(combo)}", img, 5, _opts(combo),
                              group="extreme"))
    return cases


def _rgb_cases() -> list[Case]:
    cases = []
    rgb = make_rgb((57, 71), seed=50)
    for r, sep, combo in itertools.product((11, 50), (False, True), ALL_COMBOS):
        tag = "separate" if sep else "hsb"
        cases.append(Case(f"rgb-{tag}-r{r}-{_name(combo)}", rgb, r,
                          _opts(combo, separate_colors=sep), rgb=True, group=f"rgb-{tag}"))
    long_rgb = make_rgb((23, 40), seed=55)
    for sep, combo in itertools.product((False, True), SLIDING_COMBOS):
        tag = "separate" if sep else "hsb"
        cases.append(Case(f"rgb-{tag}-40x23-r5-{_name(combo)}", long_rgb, 5,
                          _opts(combo, separate_colors=sep), rgb=True, group=f"rgb-{tag}"))
    rgb_stack = np.stack([make_rgb((30, 35), seed=60 + k) for k in range(2)])
    for combo in ((), ("sliding",)):
        cases.append(Case(f"rgb-stack-r11-{_name(combo)}", rgb_stack, 11, _opts(combo),
                          rgb=True, group="stacks"))
    return cases


def _hangs_153(case: Case) -> bool:
    """ImageJ 1.53t's sliding paraboloid loops for ever on non-finite values, and on
    values spanning more than the float range (a slope overflows)."""
    if not case.options.get("sliding_paraboloid") or case.image.dtype != np.float32:
        return False
    values = case.image.astype(np.float64)
    return not np.isfinite(values).all() or np.ptp(values) >= np.finfo(np.float32).max


CASES = _grey_cases() + _shape_cases() + _nan_cases() + _extreme_cases() + _rgb_cases()
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
#: 1.53t never finishes on these (the port refuses them for that release)
HANGS_153 = [c for c in CASES if _hangs_153(c)]
#: ImageJ throws ArrayIndexOutOfBoundsException for these (width <= shrink factor)
FAILING = [
    Case("8bit-4x30-r50", make_image((30, 4), np.uint8, seed=70), 50, group="failing"),
    Case("16bit-8x9-r101", make_image((9, 8), np.uint16, seed=71), 101, group="failing"),
    Case("32bit-2x5-r20-light", make_image((5, 2), np.float32, seed=72), 20,
         _opts(("light",)), group="failing"),
]
GROUPS = sorted({c.group for c in CASES})


def cases_for(version: str) -> list[Case]:
    """The cases the oracle of ``version`` runs (1.53t hangs on NaN with sliding)."""
    hangs = {c.id for c in HANGS_153} if version == "1.53t" else set()
    return [c for c in CASES + FAILING if c.id not in hangs]


# --------------------------------------------------------------------------------------
# the two oracles
# --------------------------------------------------------------------------------------
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


def build_imagej_154() -> Path:
    """Compile 1.54t's BackgroundSubtracter into ``build/imagej-1.54t`` (once); its folder.

    Never writes beside the source (``../shared`` is read-only in CI).
    """
    source = SOURCE_154 / "BackgroundSubtracter.java"
    target = BUILD_154 / "ij" / "plugin" / "filter" / "BackgroundSubtracter.class"
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        BUILD_154.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-nowarn", "-cp", str(IJ_JAR), "-d", str(BUILD_154),
                        str(source)], check=True, capture_output=True)
    return BUILD_154


def oracle_classpath(version: str, driver: Path) -> str:
    """Class path on which ``RunSubtract`` runs ImageJ ``version``'s Subtract Background."""
    parts = [str(driver), str(IJ_JAR)]
    if version == "1.54t":
        parts.insert(0, str(build_imagej_154()))
    return os.pathsep.join(parts)


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


def write_inputs(cases: list[Case], workdir: Path) -> dict[str, Path]:
    """Write every case's input once (shared by both oracles); map id -> path."""
    paths = {}
    for case in cases:
        paths[case.id] = workdir / f"{case.id}.in.tif"
        photometric = "rgb" if case.rgb else "minisblack"
        tifffile.imwrite(paths[case.id], case.image, photometric=photometric)
    return paths


def run_imagej(cases: list[Case], classpath: str, workdir: Path,
               inputs: dict[str, Path] | None = None) -> dict[str, object]:
    """Run all cases in one JVM; map case id -> result array or error string.

    ``__version__`` and ``__subtracter__`` hold the jar's release and where
    ``BackgroundSubtracter`` was loaded from.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    inputs = inputs if inputs is not None else write_inputs(cases, workdir)
    lines = [_job_line(c, inputs[c.id], workdir / f"{c.id}.out.tif") for c in cases]
    jobs = workdir / "jobs.txt"
    jobs.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        ["java", "-Djava.awt.headless=true", "-cp", classpath, "RunSubtract", str(jobs)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    out = proc.stdout.splitlines()
    results: dict[str, object] = {"__version__": out[0].split()[-1],
                                  "__subtracter__": out[1].split(" ", 1)[-1]}
    status = {}
    for line in out[2:]:
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
def imagej_inputs(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(CASES + FAILING, tmp_path_factory.mktemp("imagej_inputs"))


@pytest.fixture(scope="session")
def imagej_results(imagej_classes, imagej_inputs, tmp_path_factory):
    """Both oracles' results: version -> (case id -> array or error), one JVM each."""
    results = {}
    for version in (v for v in IMAGEJ_VERSIONS if _MISSING[v] is None):
        workdir = tmp_path_factory.mktemp(f"imagej_{version}")
        results[version] = run_imagej(cases_for(version),
                                      oracle_classpath(version, imagej_classes),
                                      workdir, imagej_inputs)
    return results


def differences(ours: np.ndarray, ref: np.ndarray) -> tuple[int, float]:
    """(number of differing values, max |difference|); NaN equals NaN."""
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
    diff[np.isnan(diff)] = np.inf  # NaN on one side only
    return int((~same).sum()), float(diff.max(initial=0.0))


def agreement(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(fraction of equal values, max |difference|)."""
    n_diff, max_diff = differences(ours, ref)
    return 1.0 - n_diff / max(ours.size, 1), max_diff


def port_result(case: Case, version: str) -> np.ndarray:
    return imagej_subtract(case.image, case.radius, rgb=case.rgb, version=version,
                           **case.options)


# --------------------------------------------------------------------------------------
# ImageJ comparisons
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_oracle_is_the_release(version, imagej_results):
    results = imagej_results[version]
    assert results["__version__"] == "1.53t"  # the jar; 1.54t replaces one class of it
    loaded_from_build = Path(results["__subtracter__"].removeprefix("file:")).resolve()
    assert (loaded_from_build == BUILD_154.resolve()) == (version == "1.54t")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_matches_imagej(group, version, imagej_results):
    """0 differing pixels against the same release, for every case of the group."""
    cases = [c for c in cases_for(version) if c.group == group]
    assert cases
    failures = []
    for case in cases:
        ref = imagej_results[version][case.id]
        if not isinstance(ref, np.ndarray):
            failures.append(f"{case.id}: ImageJ failed: {ref}")
            continue
        ours = port_result(case, version)
        ref = ref.reshape(ours.shape)
        n_diff, max_diff = differences(ours, ref) if ours.dtype == ref.dtype else (-1, np.inf)
        if n_diff:
            failures.append(f"{case.id}: {n_diff} of {ref.size} values differ, max {max_diff}")
    assert not failures, f"{len(failures)} of {len(cases)} cases differ: " + "; ".join(
        failures[:8])


@needs_both
def test_the_releases_differ_where_the_port_switches(imagej_results):
    """The suite can tell the releases apart: their oracles differ on these groups, and
    only with the sliding paraboloid or on images with NaN or infinite pixels."""
    differ: dict[str, list[Case]] = {}
    for case in cases_for("1.53t"):
        a, b = imagej_results["1.53t"][case.id], imagej_results["1.54t"][case.id]
        if isinstance(a, np.ndarray) and differences(a, b)[0]:
            differ.setdefault(case.group, []).append(case)
    assert {"elongated", "nan", "tiny"} <= set(differ), differ.keys()
    assert any("-40x23-" in c.id and "sliding" in c.id for c in differ["elongated"])
    for case in (c for cases in differ.values() for c in cases):
        assert case.options.get("sliding_paraboloid") or not np.isfinite(case.image).all()


@pytest.mark.parametrize("version", VERSIONS)
def test_fails_where_imagej_fails(version, imagej_results):
    for case in FAILING:
        assert "ArrayIndexOutOfBounds" in str(imagej_results[version][case.id])
        with pytest.raises(ValueError, match="ArrayIndexOutOfBounds"):
            port_result(case, version)


@pytest.mark.parametrize("case", [HANGS_153[0], HANGS_153[-1]], ids=lambda c: c.id)
def test_153_refuses_what_it_never_finishes(case):
    # ImageJ 1.53t never terminates on these (NaN; values spanning more than the float
    # range) with the sliding paraboloid; 1.54t does, and the oracle test compares it
    with pytest.raises(ValueError, match="1.53t.*never finishes"):
        port_result(case, "1.53t")
    assert port_result(case, "1.54t").shape == case.image.shape


#: macro option strings whose radius ImageJ's Macro.getValue must read as the mirror does
MACRO_STRINGS = [
    "rolling=50", "rolling=[50", "rolling=[5] light", "rolling=[ 7 ]  sliding", "rolling='50'",
    "rolling='5", "rolling=[[5]]", "rolling=[[5]", "rolling=[5]]", "rolling=[a [b] c] d",
    "xrolling=3 rolling=4", "_rolling=7", "Rolling=7", "rolling=", "rolling=[]", "light",
    "rolling=5 rolling=6", "rolling=5light", " rolling=5", "rolling=5\tlight", "rolling=''",
    "sliding rolling=[3] white", "rolling=1e2", "rolling=[5 6]", "arolling=5",
]


@needs_imagej
def test_option_mirror_reads_the_radius_as_imagej_does(imagej_classes, tmp_path):
    strings = tmp_path / "strings.txt"
    strings.write_text("\n".join(MACRO_STRINGS) + "\n")
    proc = subprocess.run(
        ["java", "-Djava.awt.headless=true", "-cp", f"{imagej_classes}{os.pathsep}{IJ_JAR}",
         "RunSubtract", "--macro-values", str(strings)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    java = [None if line == "DEFAULT" else line.removeprefix("VALUE:")
            for line in proc.stdout.splitlines()]
    assert java == [imagej_reading(text)["rolling"] for text in MACRO_STRINGS]


# --------------------------------------------------------------------------------------
# pure-Python tests (no Java needed)
# --------------------------------------------------------------------------------------
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


def test_invalid_arguments():
    with pytest.raises(TypeError):
        imagej_subtract(np.zeros((8, 8), np.int32), 5)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros((8, 8), np.uint8), 0)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros((8, 8), np.uint8), 5, rgb=True)
    with pytest.raises(ValueError):
        imagej_subtract(np.zeros(8, np.uint8), 5)
    with pytest.raises(ValueError, match="unknown ImageJ version '1.52a'"):
        imagej_subtract(np.zeros((8, 8), np.uint8), 5, version="1.52a")
