"""Progress on every long wait: bars on a terminal, plain log lines elsewhere, silence with -q.

The command line runs through click's runner, whose stderr is not a terminal
(as under ``nohup`` or in a CI log): progress must come as complete lines, with
done/total, rate and time left, and no carriage return.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from bgsub import batch, progress
from bgsub.auto import suggest_radius
from bgsub.config import Settings
from bgsub.data import synthetic
from bgsub.plot import sweep

LINE = re.compile(r"^bgsub: (?:(?P<desc>.+): )?(?P<done>\d+)/(?P<total>\d+) (?P<unit>[a-z]+)"
                  r"(?:, (?P<rate>[\d.e+]+ (?:[a-z]+/s|s/[a-z]+)), "
                  r"(?P<time>[\d:]+) (?P<when>left|elapsed))?$")


@pytest.fixture
def run_cli(monkeypatch):
    """``bgsub ARGS`` in this process (``run`` may not install its signal handlers here)."""
    from click.testing import CliRunner

    from bgsub import cli

    monkeypatch.setattr(cli, "_install_signal_handlers", lambda: None)

    def invoke(*args: str) -> Any:
        result = CliRunner().invoke(cli.main, list(args), prog_name="bgsub")
        result.returncode = result.exit_code
        return result

    return invoke


def progress_lines(text: str, unit: str) -> list[re.Match]:
    """The progress lines about ``unit`` (plural), each checked to be whole."""
    assert "\r" not in text
    found = [LINE.match(line) for line in text.splitlines()]
    return [m for m in found if m is not None and m["unit"] == unit]


def check_counts(lines: list[re.Match], total: int) -> None:
    """From 0 to ``total`` done, never backwards; every line but the first has a rate."""
    counts = [int(m["done"]) for m in lines]
    assert counts[0] == 0 and counts[-1] == total, counts
    assert counts == sorted(counts) and {int(m["total"]) for m in lines} == {total}
    assert all(m["rate"] for m in lines[1:])
    assert lines[-1]["when"] == "elapsed" and all(m["when"] == "left" for m in lines[1:-1])


# -- the reporter ------------------------------------------------------------------------


class Clock:
    """Seconds that advance only when told (no sleeping, no flakiness)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_show_done_total_rate_and_time_left():
    log, clock = io.StringIO(), Clock()
    task = progress.Reporter(stream=log, terminal=False, clock=clock).task(
        40, "cells.tif", "plane", interval=10)
    for _ in range(40):
        clock.now += 0.5  # 2 planes a second
        task.advance()
    lines = progress_lines(log.getvalue(), "planes")
    check_counts(lines, 40)
    # the first line, then one per 10 s (every 20 planes), and the last
    assert [int(m["done"]) for m in lines] == [0, 20, 40]
    assert lines[1]["rate"] == "2 planes/s" and lines[1]["time"] == "00:10"
    assert lines[2]["time"] == "00:20" and lines[2]["desc"] == "cells.tif"


def test_slow_steps_show_seconds_each_and_a_stopped_task_says_where_it_stopped():
    log, clock = io.StringIO(), Clock()
    task = progress.Reporter(stream=log, terminal=False, clock=clock).task(5, unit="file",
                                                                          interval=0)
    clock.now += 30
    task.advance()
    task.close()  # e.g. interrupted: nothing more
    assert log.getvalue().splitlines() == ["bgsub: 0/5 files",
                                           "bgsub: 1/5 files, 30 s/file, 02:00 left"]


class Writes(io.StringIO):
    """A stream that keeps each ``write`` apart."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_each_log_line_is_one_write_with_its_newline(monkeypatch):
    # ``print`` wrote a line and its newline apart, and another file's thread printed its
    # warning between them: "bgsub: 1/2 files, 3.6 files/s, 00:00 leftbgsub: warning: ..."
    # (a loaded fresh-clone run)
    log, clock = Writes(), Clock()
    task = progress.Reporter(stream=log, terminal=False, clock=clock).task(3, unit="file",
                                                                          interval=0)
    clock.now += 1
    task.advance()
    out = Writes()
    monkeypatch.setattr(progress.sys, "stdout", out)
    task.write("a line of its own")
    assert log.calls and all(call.endswith("\n") and call.count("\n") == 1
                             for call in log.calls)
    assert out.calls == ["a line of its own\n"]


def test_quiet_shows_nothing_and_a_terminal_gets_a_tqdm_bar():
    log = io.StringIO()
    quiet = progress.Reporter(quiet=True, stream=log, terminal=False)
    callback = quiet.callback("x", "plane", interval=0)
    for done in range(4):
        callback(done, 3)
    assert log.getvalue() == ""
    bar = progress.Reporter(stream=log, terminal=True).task(3, "cells.tif", "plane")
    bar.advance(3)
    bar.close()
    assert "\r" in log.getvalue() and "3/3" in log.getvalue()


def test_the_engine_callback_makes_one_task_per_run():
    log = io.StringIO()
    callback = progress.Reporter(stream=log, terminal=False).callback("a.tif", "tile",
                                                                      interval=0)
    for total in (2, 3):  # two runs, one after the other
        for done in range(total + 1):
            callback(done, total)
    counts = [(int(m["done"]), int(m["total"])) for m in progress_lines(log.getvalue(), "tiles")]
    assert counts == [(0, 2), (1, 2), (2, 2), (0, 3), (1, 3), (2, 3), (3, 3)]


# -- bgsub run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("in")
    for i in range(3):
        tifffile.imwrite(folder / f"f{i}.tif", synthetic((48, 40), seed=i).image)
    tifffile.imwrite(folder / "stack.tif", synthetic((6, 40, 44), seed=9).image)
    return folder


def test_run_prints_a_line_per_file_when_stderr_is_not_a_terminal(run_cli, files, tmp_path):
    inputs = [str(files / f"f{i}.tif") for i in range(3)]
    result = run_cli("run", *inputs, "-o", str(tmp_path / "out"), "-m", "median",
                     "--radius", "3")
    assert result.returncode == 0, result.stderr
    lines = progress_lines(result.stderr, "files")
    check_counts(lines, 3)
    assert [int(m["done"]) for m in lines] == [0, 1, 2, 3]  # a line per file
    quiet = run_cli("run", *inputs, "-o", str(tmp_path / "quiet"), "-m", "median",
                    "--radius", "3", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_streamed_chunks_report_their_progress(run_cli, files, tmp_path):
    result = run_cli("run", str(files / "stack.tif"), "-o", str(tmp_path / "out"), "-m",
                     "median", "--radius", "3", "--chunks", "20,22", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    lines = progress_lines(result.stderr, "chunks")
    check_counts(lines, 6 * 2 * 2)
    assert lines[0]["desc"] == "stack.tif"


def test_the_planes_of_a_large_stack_report_their_progress(files, tmp_path, monkeypatch):
    """``bgsub run``'s per-plane task (for stacks of 64 MiB or more; here any size)."""
    from bgsub.cli import _stack_bar

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)  # a line per plane
    log = io.StringIO()
    settings = Settings(method="median", radius=3.0).validated()
    sources, _ = batch.expand_inputs([str(files / "stack.tif")])
    jobs, _ = batch.plan_jobs(sources, tmp_path / "out", settings)
    batch.prepare_folders(jobs)
    stack = _stack_bar(progress.Reporter(stream=log, terminal=False))
    result = batch.run_job(jobs[0], settings, stack_progress=stack, progress_bytes=0)
    assert result.status == "done", result.message
    lines = progress_lines(log.getvalue(), "planes")
    check_counts(lines, 6)
    assert [int(m["done"]) for m in lines] == list(range(7))


# -- sweep and suggest -------------------------------------------------------------------


def test_sweep_and_suggest_report_increasing_counts():
    image = np.random.default_rng(0).poisson(50, (40, 44)).astype(np.uint16)
    steps: list[tuple[int, int]] = []
    sweep(image, ["tophat", "median"], [3, 6], progress=lambda *s: steps.append(s))
    assert steps == [(done, 4) for done in range(5)]
    stack = synthetic((12, 64, 64), object_radius=4, seed=2).image
    steps.clear()
    suggest_radius(stack, "TYX", progress=lambda *s: steps.append(s))
    assert steps == [(done, 8) for done in range(9)]  # 8 planes of 12 are measured


def test_sweep_and_suggest_commands_log_progress_and_quiet_silences_it(run_cli, files, tmp_path):
    image = str(files / "stack.tif")
    suggested = run_cli("suggest", image)
    assert suggested.returncode == 0, suggested.stderr
    check_counts(progress_lines(suggested.stderr, "planes"), 6)
    swept = run_cli("sweep", str(files / "f0.tif"), "-m", "tophat", "--radius", "3,6",
                    "-o", str(tmp_path / "montage.png"))
    assert swept.returncode == 0, swept.stderr
    check_counts(progress_lines(swept.stderr, "cells"), 2)
    for command in (["suggest", image, "-q"],
                    ["sweep", str(files / "f0.tif"), "-m", "tophat", "--radius", "3,6", "-q",
                     "-o", str(tmp_path / "quiet.png")]):
        quiet = run_cli(*command)
        assert quiet.returncode == 0, quiet.stderr
        assert not [line for line in quiet.stderr.splitlines() if LINE.match(line)]


def test_advance_from_several_threads_loses_no_step():
    """Dask reports chunks from its worker threads; a slow display must not drop counts."""
    import threading
    import time

    from bgsub.progress import Task

    class SlowDisplay(Task):
        def _show(self) -> None:
            time.sleep(0.001)  # another thread reads ``done`` meanwhile

    task = SlowDisplay(80)
    threads = [threading.Thread(target=lambda: [task.advance() for _ in range(20)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert task.done == 80
