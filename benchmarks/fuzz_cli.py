"""Fuzz bgsub's command line as a hostile user would: count writes outside -o and lost inputs.

Each invocation builds a small sandbox (a few tiny images with hostile names:
250 characters, a byte that is not UTF-8, spaces, dots, a leading dash;
folder links to ``.`` and ``..``; links to files outside; stray and damaged
``*.bgsub.json`` records; an output folder holding links that lead out of it),
then runs one random ``bgsub`` command in this process with click's
``CliRunner`` (``run``, ``sweep``, ``suggest``, ``info``, ``demo``) with random
options drawn from hostile pools: ``--suffix`` paths, TOML/YAML configs and
provenance records with malformed or huge values, ``-O`` options,
``--presmooth`` sizes, radii, ``-r``, ``--overwrite``, ``--force``, ...

The oracle, after each invocation:

* **write outside -o**: a file or folder anywhere in the sandbox's tree
  (four levels of parents included, so that ``../../x`` lands inside it)
  created, changed or removed outside the output folder. An in-place run
  (``--overwrite`` with ``-o`` the inputs' folder) may replace its inputs.
* **lost input**: an input that no longer exists, or (outside an in-place
  ``--overwrite`` run) whose bytes changed.
* **traceback**: an exception escaped (other than ``SystemExit``), or
  ``Traceback`` was printed without ``-v``.
* **hang**: an invocation still running after ``--timeout`` seconds (stopped by SIGALRM).
* **bad exit**: an exit code other than 0, 1 or 2.

Examples
--------
``python benchmarks/fuzz_cli.py --invocations 2000`` (what ``make fuzz`` runs
after the readers' fuzzer); ``--seed N`` to vary, ``--keep DIR`` to keep the
command lines of failing invocations as JSON for replay with ``--replay FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUFFIXES = ("", "_bg", "/../../escaped", "/../x", "../x", "..", "/", "\\..\\x", "a\x00b",
            "x" * 240, "_\u00e9", "\n", " ", "-", ".tif", "_s0", ".bgsub.json", "/sub/x")
RADII = ("3", "0", "-5", "nan", "inf", "1e308", "1e6", "2,3", "2,2,2", "auto", ",", "x", "0.5",
         "100000")
PRESMOOTH = ("median:10000", "mean:2", "gaussian:1e9", "median:-1", "median:x", "none",
             "gaussian:1", "rank:3")
OPTIONS = ("sigma=1e9", "sigma=2", "grow=1e9", "threshold=-1", "footprint=box", "x=1",
           "sigma", "=3", "sigma=nan", "iterations=99", "dilation_radius=1e9", "low_sigma=1e9")
METHODS = ("gaussian", "rolling_ball", "tophat", "median", "robust", "rolling_pin", "dog",
           "paraboloid", "")
FORMATS = ("same", "tiff", "ome-tiff", "imagej", "png", "zarr", "ome-zarr", "gif")
NAMES = ("a.tif", "b c.tif", "-dash.tif", "..dots.tif", "n" * 246 + ".tif",
         os.fsdecode(b"\xff\xfe.tif"), "\u00fcml\u00e4ut.tif", "x.png", "x.tif.bgsub.json.tif",
         "stack.tif", "pic.png", "y.ome.tif")
CONFIG_VALUES: tuple[Any, ...] = (
    "x", 5, -1, 1e308, True, None, [1, 2], {"a": 1}, "/../../escaped", "gaussian", "median:10000",
    "auto", "all", "a\x00b", [], {})
CONFIG_KEYS = ("method", "radius", "suffix", "options", "presmooth", "format", "series", "light",
               "3d", "spacing", "axes", "offset", "output_dtype", "figure_plane", "imagej",
               "save_background", "unknown", "pipelines", "default")


@dataclass
class Report:
    """What a run tried and found."""

    invocations: int = 0
    seconds: float = 0.0
    exits: Counter = field(default_factory=Counter)
    commands: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.invocations} invocations in {self.seconds:.0f} s "
                 f"({self.invocations / max(self.seconds, 1e-9):.1f}/s)",
                 f"commands: {dict(self.commands)}", f"exit codes: {dict(self.exits)}",
                 "writes outside -o: {}, lost inputs: {}, tracebacks: {}, hangs: {}, "
                 "bad exits: {}".format(
                     self.violations["outside"], self.violations["lost"],
                     self.violations["traceback"], self.violations["hang"],
                     self.violations["exit"])]
        for failure in self.failures[:10]:
            lines.append(f"  FAIL {failure['kind']}: {failure['detail'][:300]}")
        return "\n".join(lines)


# --- sandboxes ----------------------------------------------------------------------


def _tiny(rng: random.Random) -> np.ndarray:
    shape = rng.choice([(12, 14), (1, 9), (3, 10, 11), (16, 16)])
    return np.random.default_rng(rng.randrange(2**32)).integers(0, 4000, shape).astype(np.uint16)


def _write_input(path: Path, rng: random.Random) -> bool:
    import tifffile

    from bgsub import io

    data = _tiny(rng)
    try:
        if path.suffix == ".png":
            io.write_image(path, data[0] if data.ndim == 3 else data,
                           io.ImageMetadata(axes="YX"), format="png")
        elif path.name.endswith(".zarr"):
            io.write_image(path, data, io.ImageMetadata(axes="YX"[-data.ndim:] if data.ndim == 2
                                                        else "ZYX"), format="zarr")
        else:
            tifffile.imwrite(path, data)
    except OSError:
        return False
    return True


def _sidecar(rng: random.Random, target: str) -> dict[str, Any]:
    record: dict[str, Any] = {"bgsub_provenance": 1, "bgsub_version": "0",
                              "input": {"path": target}, "outputs": {"image": {"path": target}}}
    for key in rng.sample(["input", "outputs", "settings", "parameters", "request"], 2):
        record[key] = rng.choice(CONFIG_VALUES)
    return record


def build_sandbox(base: Path, rng: random.Random) -> dict[str, Any]:
    """A sandbox under ``base``: inputs, links, stray records, an output folder; its layout."""
    root = base / "l1" / "l2" / "l3" / "root"
    inp, out, elsewhere = root / "in", root / "out", root / "elsewhere"
    for folder in (inp, elsewhere, inp / "sub"):
        folder.mkdir(parents=True, exist_ok=True)
    (elsewhere / "keep.tif").write_bytes(b"precious")
    inputs = []
    for name in rng.sample(NAMES, rng.randint(1, 4)) + (["s.zarr"] if rng.random() < 0.2 else []):
        folder = inp / "sub" if rng.random() < 0.2 else inp
        if _write_input(folder / name, rng):
            inputs.append(folder / name)
    for _ in range(rng.randint(0, 3)):
        kind = rng.choice(["dot", "up", "outside-file", "dangling", "loop", "sidecar", "out-link",
                           "out-file-link", "input-link"])
        with contextlib.suppress(OSError):
            if kind == "dot":
                (inp / f"dot{rng.randrange(9)}").symlink_to(".")
            elif kind == "up":
                (inp / "sub" / f"up{rng.randrange(9)}").symlink_to("..")
            elif kind == "outside-file":
                (inp / "far.tif").symlink_to(elsewhere / "keep.tif")
            elif kind == "dangling":
                (inp / "gone.tif").symlink_to(root / "nowhere.tif")
            elif kind == "loop":
                (inp / "la").symlink_to(inp / "lb")
                (inp / "lb").symlink_to(inp / "la")
            elif kind == "sidecar":
                (inp / f"stray{rng.randrange(9)}.tif.bgsub.json").write_text(
                    json.dumps(_sidecar(rng, str(inputs[0] if inputs else "x"))))
            elif kind == "out-link":
                out.mkdir(exist_ok=True)
                (out / "sub").symlink_to(elsewhere)
            elif kind == "out-file-link" and inputs:
                out.mkdir(exist_ok=True)
                (out / inputs[0].name).symlink_to(elsewhere / "keep.tif")
            elif kind == "input-link" and inputs:
                out.mkdir(exist_ok=True)
                (out / f"in_{inputs[0].name}").symlink_to(inputs[0])
    return {"root": root, "in": inp, "out": out, "elsewhere": elsewhere, "inputs": inputs}


# --- commands ------------------------------------------------------------------------------------


def _config_file(folder: Path, rng: random.Random, inputs: list[Path]) -> Path:
    kind = rng.choice(["toml", "yaml", "json", "bytes"])
    values = {rng.choice(CONFIG_KEYS): rng.choice(CONFIG_VALUES) for _ in range(rng.randint(1, 4))}
    if rng.random() < 0.5:
        values.setdefault("method", "gaussian")
        values.setdefault("radius", 3)
    if kind == "json":
        record = {"bgsub_provenance": 1, "parameters": values,
                  "input": {"path": str(rng.choice(inputs)) if inputs else "x",
                            "sha256": "0" * 64},
                  "settings": {"suffix": rng.choice(SUFFIXES)}}
        path = folder / "sent.bgsub.json"
        path.write_text(json.dumps(record, default=str))
    elif kind == "yaml":
        import yaml

        path = folder / "cfg.yaml"
        path.write_text(yaml.safe_dump(values, allow_unicode=True))
    elif kind == "toml":
        path = folder / "cfg.toml"
        lines = []
        for key, value in values.items():
            if isinstance(value, dict) or value is None:
                continue
            lines.append(f"{key} = {json.dumps(value)}")
        path.write_text("\n".join(lines) + "\n")
    else:
        path = folder / "cfg.toml"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
    return path


def _pick(rng: random.Random, usual: str, pool: tuple[str, ...], hostile: float) -> str:
    """``usual``, or with probability ``hostile`` any value of ``pool``."""
    return rng.choice(pool) if rng.random() < hostile else usual


def random_command(box: dict[str, Any], rng: random.Random) -> tuple[list[str], dict[str, Any]]:
    """A random ``bgsub`` command line for the sandbox, and what it was asked to do."""
    inputs: list[Path] = box["inputs"]
    command = rng.choices(["run", "sweep", "suggest", "info", "demo"], [80, 5, 5, 5, 1])[0]
    info: dict[str, Any] = {"command": command, "overwrite": False, "out": box["out"]}
    target = rng.choice(inputs) if inputs else box["in"] / "missing.tif"
    if command == "run":
        out = rng.choice([box["out"], box["out"], box["in"], box["out"] / "deep",
                          box["root"] / "link-to-in"])
        if out.name == "link-to-in" and not out.exists():
            out.symlink_to(box["in"])
        info["out"] = out
        args = ["run", *rng.sample([str(box["in"]), str(target), f"{box['in']}/**/*.tif",
                                    str(box["in"] / "sub")], rng.randint(1, 2)), "-o", str(out)]
        args += ["-m", _pick(rng, "gaussian", METHODS, 0.3), "--radius",
                 _pick(rng, "3", RADII, 0.3)]
        for flag, chance in (("-r", 0.4), ("--overwrite", 0.3), ("--force", 0.3),
                             ("--save-background", 0.2), ("-n", 0.1), ("--light", 0.1)):
            if rng.random() < chance:
                args.append(flag)
                info["overwrite"] |= flag == "--overwrite"
        if rng.random() < 0.5:
            args += ["--suffix", _pick(rng, "_bg", SUFFIXES, 0.4)]
        if rng.random() < 0.25:
            args += ["-O", rng.choice(OPTIONS)]
        if rng.random() < 0.15:
            args += ["--presmooth", rng.choice(PRESMOOTH)]
        if rng.random() < 0.2:
            args += ["--format", _pick(rng, "tiff", FORMATS, 0.5)]
        if rng.random() < 0.25:
            args += ["--config", str(_config_file(box["root"], rng, inputs))]
        if rng.random() < 0.05:
            args.append("--figure")
    elif command == "sweep":
        out = rng.choice([target, target.with_name("m.png"), box["in"], box["elsewhere"] /
                          "keep.tif", box["out"] / "m.png"])
        info["out"] = out.parent if out != box["in"] else out
        info["sweep_output"] = out
        box["out"].mkdir(exist_ok=True)
        args = ["sweep", str(target), "-o", str(out), "-m", "gaussian", "--radius",
                rng.choice(["2", "2,3", "1:100000:1", "0,1", "1:3:1"])]
    elif command == "demo":
        args = ["demo", "-o", str(box["out"]), "--method", "gaussian", "--radius",
                rng.choice(["-5", "8", "nan", "x"])]
    else:
        args = [command, str(target)]
    return args, info


# --- the oracle ----------------------------------------------------------------------


def snapshot(top: Path) -> dict[str, str]:
    """Every entry under ``top``: files by content hash, links by target, folders by name."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = os.fsencode(path).hex()
            if path.is_symlink():
                found[key] = "link:" + os.readlink(path)
            elif path.is_file():
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[key] = "dir"
    return found


def check(before: dict[str, str], after: dict[str, str], box: dict[str, Any],
          info: dict[str, Any]) -> list[tuple[str, str]]:
    """The violations of one invocation: (kind, detail)."""
    from bgsub.paths import real

    problems = []
    out = real(info["out"])
    in_place = info["overwrite"] and real(info["out"]) == real(box["in"])
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    for key in sorted(changed):
        path = Path(os.fsdecode(bytes.fromhex(key)))
        parent = real(path.parent)
        if parent == out or out in parent.parents:
            continue
        if after.get(key) == "dir" and key not in before and (
                real(path) == out or real(path) in out.parents):
            continue  # the output folder's own parents, made as mkdir -p makes them
        if info.get("sweep_output") is not None and real(path) == real(info["sweep_output"]):
            continue
        if in_place and parent == real(box["in"]) and key in before and key in after:
            continue  # an input replaced by its own output, as --overwrite asks
        problems.append(("outside", f"{path} {before.get(key)} -> {after.get(key)}"))
    for source in box["inputs"]:
        key = os.fsencode(source).hex()
        if not (source.exists() or source.is_symlink()):
            problems.append(("lost", f"{source} is gone"))
        elif not in_place and before.get(key) != after.get(key) and source.is_file():
            problems.append(("lost", f"{source} changed"))
    return problems


class Hang(BaseException):
    """An invocation ran past its time (a BaseException: click's runner does not catch it)."""


def invoke(args: list[str], timeout: int = 0) -> tuple[int, str, BaseException | None]:
    """Exit code, stderr and escaped exception of ``bgsub ARGS``; Hang after ``timeout`` s."""
    import signal

    from click.testing import CliRunner

    from bgsub import cli

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {timeout} s")

    previous = signal.signal(signal.SIGALRM, expire) if timeout else None
    signal.alarm(timeout)
    try:
        result = CliRunner().invoke(cli.main, args, prog_name="bgsub")
    finally:
        signal.alarm(0)
        if previous is not None:
            signal.signal(signal.SIGALRM, previous)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stderr, exception


def run(invocations: int, seed: int, seconds: float | None = None,
        keep: Path | None = None, progress: int = 0, timeout: int = 60) -> Report:
    """Run ``invocations`` random commands (or until ``seconds`` have passed).

    With ``progress``, the counts so far are printed every ``progress`` invocations; an
    invocation still running after ``timeout`` seconds is stopped and counted as a hang.
    """
    from bgsub import cli

    cli._install_signal_handlers = lambda: None  # the runner is not the main program
    report = Report()
    rng = random.Random(seed)
    start = time.perf_counter()
    for index in range(invocations):
        if seconds is not None and time.perf_counter() - start > seconds:
            break
        case_rng = random.Random(rng.randrange(2**63))
        with tempfile.TemporaryDirectory(prefix="bgsub-fuzz-cli-") as tmp:
            base = Path(tmp)
            box = build_sandbox(base, case_rng)
            args, info = random_command(box, case_rng)
            before = snapshot(base)
            cwd = os.getcwd()
            os.chdir(box["in"])
            hang = None
            try:
                code, stderr, exception = invoke(args, timeout)
            except Hang as exc:
                code, stderr, exception, hang = -1, "", None, exc
            finally:
                os.chdir(cwd)
            after = snapshot(base)
            problems = check(before, after, box, info)
            if hang is not None:
                problems.append(("hang", str(hang)))
            if exception is not None or "Traceback" in stderr:
                import traceback

                where = "".join(traceback.format_tb(exception.__traceback__)[-3:]) \
                    if exception is not None else ""
                problems.append(("traceback", f"{type(exception).__name__}: {exception}\n"
                                 f"{where}" if exception else stderr[-300:]))
            if code not in (0, 1, 2) and hang is None:
                problems.append(("exit", f"exit {code}: {stderr[-200:]}"))
        report.invocations += 1
        if progress and report.invocations % progress == 0:
            report.seconds = time.perf_counter() - start
            print(report.summary().splitlines()[0], "|", report.summary().splitlines()[3],
                  flush=True)
        report.exits[code] += 1
        report.commands[info["command"]] += 1
        for kind, detail in problems:
            report.violations[kind] += 1
            failure = {"kind": kind, "detail": detail, "args": args, "index": index,
                       "seed": seed}
            report.failures.append(failure)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"cli-{seed}-{index}.json").write_text(json.dumps(failure, default=str))
    report.seconds = time.perf_counter() - start
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="folder for failing cases")
    parser.add_argument("--progress", type=int, default=0, help="print counts every N")
    parser.add_argument("--timeout", type=int, default=60,
                        help="seconds before an invocation counts as a hang")
    parser.add_argument("--replay", type=Path, default=None,
                        help="a kept failure: print its command line and seed")
    args = parser.parse_args(argv)
    if args.replay is not None:
        failure = json.loads(args.replay.read_text())
        print(failure["args"], "seed", failure["seed"], "index", failure["index"])
        return 0
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    report = run(args.invocations, args.seed, args.seconds, args.keep, args.progress,
                 args.timeout)
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
