"""Measure how closely :func:`bgsub.methods.imagej.imagej_subtract` reproduces ImageJ.

Runs the real ImageJ 1.53t (``/usr/share/java/ij.jar``, Debian's) and 1.54t
(its ``BackgroundSubtracter`` compiled from ``../shared/imagej-1.54t``, as the tests
do) through ``tests/imagej/RunSubtract.java``, one JVM per release, and prints
markdown tables:

1. agreement with each release (option set x bit depth: % equal values, max
   |difference|) on a larger image,
2. where 1.53t and 1.54t differ from each other, over the fidelity tests' cases,
3. with ``--sweep N``: N random cases (sizes 1x1 to 48x48, radii 0.3 to 1000, random
   options, bit depths, NaN) against both releases,
4. how ImageJ's rolling ball differs from the exact rolling ball of
   ``skimage.restoration.rolling_ball`` (mean / max |difference| of the backgrounds).

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/imagej_agreement.py [--size 255x257] [--no-skimage]
        [--sweep 1600]

Needs ``java``, ``javac`` and ``ij.jar`` (``tools/system-deps.sh imagej``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "imagej"))

from test_imagej_fidelity import (  # noqa: E402  (shared generator and ImageJ runner)
    CASES,
    FLAGS,
    IJ_JAR,
    Case,
    agreement,
    cases_for,
    differences,
    make_image,
    make_rgb,
    oracle_classpath,
    port_result,
    run_imagej,
    write_inputs,
)

from bgsub.methods.imagej import IMAGEJ_VERSIONS, imagej_subtract  # noqa: E402

TABLE_SETS = {
    "default": {},
    "light": {"light_background": True},
    "create": {"create_background": True},
    "disable": {"disable_smoothing": True},
    "sliding": {"sliding_paraboloid": True},
    "sliding+light": {"sliding_paraboloid": True, "light_background": True},
    "sliding+disable": {"sliding_paraboloid": True, "disable_smoothing": True},
    "sliding+nocorners": {"sliding_paraboloid": True, "correct_corners": False},
    "create+light+disable": {"create_background": True, "light_background": True,
                             "disable_smoothing": True},
    "all": {"create_background": True, "light_background": True, "sliding_paraboloid": True,
            "disable_smoothing": True},
}
DEPTHS = ("8-bit", "16-bit", "32-bit", "RGB", "RGB separate")


def _image(depth: str, shape: tuple[int, int]) -> np.ndarray:
    if depth.startswith("RGB"):
        return make_rgb(shape, seed=5)
    dtype = {"8-bit": np.uint8, "16-bit": np.uint16, "32-bit": np.float32}[depth]
    return make_image(shape, dtype, seed=3)


def agreement_table(shape: tuple[int, int], radii: list[float], classes: Path,
                    version: str) -> str:
    cases: list[Case] = []
    labels: dict[str, tuple[str, str]] = {}
    for depth in DEPTHS:
        img = _image(depth, shape)
        for name, options in TABLE_SETS.items():
            opts = dict(options)
            if depth == "RGB separate":
                opts["separate_colors"] = True
            for r in radii:
                cid = f"{depth.replace(' ', '_')}-{name}-r{r:g}"
                cases.append(Case(cid, img, r, opts, rgb=depth.startswith("RGB")))
                labels[cid] = (depth, name)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        refs = run_imagej(cases, oracle_classpath(version, classes), Path(tmp))
        t_java = time.perf_counter() - t0
    stats: dict[tuple[str, str], list] = {}
    t0 = time.perf_counter()
    for case in cases:
        ref = refs[case.id]
        if not isinstance(ref, np.ndarray):
            raise RuntimeError(f"ImageJ failed on {case.id}: {ref}")
        ours = imagej_subtract(case.image, case.radius, rgb=case.rgb, version=version,
                               **case.options)
        ref = ref.reshape(ours.shape)
        equal, maxdiff = agreement(ours, ref)
        rng = float(ref.max() - ref.min()) or 1.0
        stats.setdefault(labels[case.id], []).append((equal, ours.size, maxdiff, maxdiff / rng))
    t_py = time.perf_counter() - t0

    lines = [
        f"ImageJ {version}, image {shape[0]}x{shape[1]}, radii "
        f"{', '.join(f'{r:g}' for r in radii)} pooled per cell; cell = % equal values / "
        "max |difference| (32-bit: max |difference| relative to the value range).",
        "",
        "| option set | " + " | ".join(DEPTHS) + " |",
        "|---|" + "---|" * len(DEPTHS),
    ]
    for name in TABLE_SETS:
        cells = []
        for depth in DEPTHS:
            rows = stats[(depth, name)]
            n = sum(size for _, size, _, _ in rows)
            eq = sum(e * size for e, size, _, _ in rows) / n
            if depth == "32-bit":
                rel = max(rel for *_, rel in rows)
                cells.append(f"{100 * eq:.2f} % / {rel:.1e}")
            else:
                cells.append(f"{100 * eq:.2f} % / {max(m for _, _, m, _ in rows):g}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"({len(cases)} cases; ImageJ incl. JVM start {t_java:.1f} s, bgsub {t_py:.1f} s.)"
    )
    return "\n".join(lines)


def release_table(classes: Path) -> str:
    """Where the two releases' own results differ, over the fidelity tests' cases."""
    ids = {c.id for c in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(CASES, Path(tmp))
        refs = {v: run_imagej([c for c in cases_for(v) if c.id in ids],
                              oracle_classpath(v, classes), Path(tmp) / v, inputs)
                for v in IMAGEJ_VERSIONS}
    rows: dict[tuple[str, str], list] = {}
    for case in cases_for("1.53t"):
        if case.id not in ids:
            continue
        a = np.asarray(refs["1.53t"][case.id], np.float64)
        b = np.asarray(refs["1.54t"][case.id], np.float64)
        one_nan = np.isnan(a) != np.isnan(b)
        n_diff, _ = differences(a, b)
        finite = np.isfinite(a) & np.isfinite(b)
        max_diff = float(np.abs(a - b)[finite].max(initial=0.0))
        depth = "RGB" if case.rgb else {"uint8": "8-bit", "uint16": "16-bit",
                                        "float32": "32-bit"}[case.image.dtype.name]
        rows.setdefault((case.group, depth), []).append(
            (n_diff / a.size, max_diff, int(one_nan.sum())))
    lines = ["Cases of `tests/imagej/test_imagej_fidelity.py` on which ImageJ 1.53t and 1.54t "
             "give different results (the cases with NaN and the sliding paraboloid run on "
             "1.54t only: 1.53t does not finish them).", "",
             "| group | depth | cases | differing | max \\|difference\\| | most values "
             "differing | NaN in one only |", "|---|---|---|---|---|---|---|"]
    for (group, depth), items in sorted(rows.items()):
        differing = [item for item in items if item[0]]
        worst = max((f for f, *_ in differing), default=0.0)
        max_diff = max((m for _, m, _ in differing), default=0.0)
        nan_only = sum(n for *_, n in differing)
        lines.append(f"| {group} | {depth} | {len(items)} | {len(differing)} | {max_diff:.3g} | "
                     f"{100 * worst:.1f} % | {nan_only} |")
    return "\n".join(lines)


def _random_case(k: int, rng: np.random.Generator) -> Case:
    h, w = int(rng.integers(1, 49)), int(rng.integers(1, 49))
    if rng.random() < 0.3:
        h = int(rng.integers(1, 8))  # many elongated ones
    kind = str(rng.choice(["8", "16", "32", "rgb"]))
    options = {FLAGS[f]: True for f in FLAGS if rng.random() < 0.5}
    if rng.random() < 0.15:
        options["correct_corners"] = False
    if kind == "rgb":
        image = make_rgb((h, w), k)
        options["separate_colors"] = bool(rng.random() < 0.5)
    else:
        image = make_image((h, w), {"8": np.uint8, "16": np.uint16, "32": np.float32}[kind], k)
        if kind == "32" and rng.random() < 0.3:
            image[rng.random((h, w)) < rng.random() * 0.3] = np.nan
    radius = float(rng.choice([0.3, 1, 2.5, 5, 7.5, 10, 10.5, 20, 30, 30.5, 50, 100, 100.5,
                               150, 300, 1000]))
    return Case(f"sweep{k}", image, radius, options, rgb=kind == "rgb", group="sweep")


def random_sweep(n: int, classes: Path, seed: int = 2026) -> str:
    """``n`` random cases against both releases: exact, differing, thrown by both."""
    from test_imagej_fidelity import _hangs_153

    rng = np.random.default_rng(seed)
    cases = [_random_case(k, rng) for k in range(n)]
    lines = ["| release | cases | bit-identical | differing | ImageJ and bgsub both fail | "
             "only one fails |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(cases, Path(tmp))
        for version in IMAGEJ_VERSIONS:
            run = [c for c in cases if not (version == "1.53t" and _hangs_153(c))]
            refs = run_imagej(run, oracle_classpath(version, classes), Path(tmp) / version,
                              inputs)
            exact = differ = both_fail = one_fails = 0
            for case in run:
                ref = refs[case.id]
                try:
                    ours = port_result(case, version)
                except ValueError:
                    both_fail += isinstance(ref, str)
                    one_fails += not isinstance(ref, str)
                    continue
                if isinstance(ref, str):
                    one_fails += 1
                elif differences(ours, ref.reshape(ours.shape))[0]:
                    differ += 1
                else:
                    exact += 1
            lines.append(f"| {version} | {len(run)} | {exact} | {differ} | {both_fail} | "
                         f"{one_fails} |")
    return "\n".join(lines)


def skimage_table(size: int, radii: list[float]) -> str:
    from skimage.restoration import rolling_ball

    img = make_image((size, size), np.float32, seed=11)
    value_range = float(img.max() - img.min())
    lines = [
        f"{size}x{size} float32 image (value range {value_range:.0f}); backgrounds of "
        "`imagej_subtract(..., create_background=True)` vs "
        "`skimage.restoration.rolling_ball(image, radius=r)`.",
        "",
        "| radius | ImageJ shrink | smoothing | mean abs diff | max abs diff | "
        "mean (ImageJ - exact) | ImageJ time | skimage time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in radii:  # warm up the JIT (compilation / cache load) outside the timings
        imagej_subtract(img[:32, :32], r, create_background=True)
    for r in radii:
        t0 = time.perf_counter()
        exact = rolling_ball(img.astype(np.float64), radius=r)
        t_sk = time.perf_counter() - t0
        shrink = 1 if r <= 10 else 2 if r <= 30 else 4 if r <= 100 else 8
        for smooth in (False, True):
            t0 = time.perf_counter()
            bg = imagej_subtract(img, r, create_background=True, disable_smoothing=not smooth)
            t_ij = time.perf_counter() - t0
            d = bg.astype(np.float64) - exact
            lines.append(
                f"| {r:g} | {shrink} | {'3x3 mean' if smooth else 'off'} | "
                f"{np.abs(d).mean():.2f} | {np.abs(d).max():.2f} | {d.mean():+.2f} | "
                f"{t_ij:.2f} s | {t_sk:.2f} s |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="255x257", help="HxW of the agreement images")
    ap.add_argument("--radii", default="5,11,31,101", help="radii pooled in the table")
    ap.add_argument("--skimage-size", type=int, default=512)
    ap.add_argument("--skimage-radii", default="10,50,100")
    ap.add_argument("--no-skimage", action="store_true")
    ap.add_argument("--sweep", type=int, default=0, help="random cases against both releases")
    args = ap.parse_args(argv)
    shape = tuple(int(v) for v in args.size.lower().split("x"))
    radii = [float(v) for v in args.radii.split(",")]

    with tempfile.TemporaryDirectory() as classes:
        subprocess.run(
            ["javac", "-d", classes, "-cp", str(IJ_JAR),
             str(ROOT / "tests" / "imagej" / "RunSubtract.java")],
            check=True,
        )
        for version in IMAGEJ_VERSIONS:
            print(f"## Agreement with ImageJ {version}\n")
            print(agreement_table(shape, radii, Path(classes), version) + "\n")
        print("## Where 1.53t and 1.54t differ\n")
        print(release_table(Path(classes)))
        if args.sweep:
            print(f"\n## {args.sweep} random cases\n")
            print(random_sweep(args.sweep, Path(classes)))
    if not args.no_skimage:
        print("\n## ImageJ rolling ball vs exact rolling ball (skimage)\n")
        print(skimage_table(args.skimage_size, [float(v) for v in args.skimage_radii.split(",")]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
