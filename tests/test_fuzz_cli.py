"""The command line under random hostile input: a short run of benchmarks/fuzz_cli.py and
hypothesis properties of the output guard (``make fuzz`` runs thousands of invocations)."""

from __future__ import annotations

import os
import string
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgsub import batch, paths
from bgsub.config import ConfigError, Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz_cli  # noqa: E402


def test_forty_random_hostile_invocations_write_nothing_outside_and_lose_nothing():
    report = fuzz_cli.run(40, seed=11)
    assert report.invocations == 40
    assert report.violations == {}, report.summary()
    # the pool reaches every answer: done, failed files, usage errors
    assert report.exits[0] and report.exits[1] and report.exits[2], report.summary()


NAME_CHARS = st.sampled_from(list(string.ascii_letters + string.digits + " ._-~") +
                             ["\u00e9", "\u00df", "\u4e2d", os.fsdecode(b"\xff"), "..", "/"])
SUFFIXES = st.lists(NAME_CHARS | st.sampled_from(["\\", "\x00", "\n", "/../"]),
                    max_size=40).map("".join)
STEMS = st.lists(NAME_CHARS.filter(lambda c: c != "/"), min_size=1, max_size=30).map("".join)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(suffix=SUFFIXES, stem=STEMS, background=st.booleans(), figure=st.booleans())
def test_every_planned_path_is_inside_the_output_folder_or_the_plan_is_refused(
        tmp_path, suffix, stem, background, figure):
    folder = tmp_path / "case"
    (folder / "in").mkdir(parents=True, exist_ok=True)
    name = stem + ".tif"
    try:
        tifffile.imwrite(folder / "in" / name, np.zeros((4, 4), np.uint16))
    except (OSError, ValueError):
        return  # a name the file system refuses ("." or "..")
    try:
        settings_ = Settings(suffix=suffix, save_background=background,
                             figure=figure).validated()
    except ConfigError:
        assert any(c in suffix for c in "/\\\x00\n") or len(suffix) > 100
        return
    sources, _ = batch.expand_inputs([str(folder / "in" / name)])
    try:
        jobs, _ = batch.plan_jobs(sources, folder / "out", settings_)
    except batch.PlanError:
        return
    for job in jobs:
        for path in (*job.outputs().values(), job.sidecar):
            assert paths.is_inside(path, folder / "out") and path != folder / "out"
            assert len(os.fsencode(path.name)) <= 255


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.sampled_from(["a", "..", ".", "b", "link", "up"]), max_size=6))
def test_check_inside_agrees_with_the_resolved_path(tmp_path_factory, parts):
    root = tmp_path_factory.mktemp("guard")
    out = root / "out"
    (out / "a").mkdir(parents=True)
    if not (out / "link").exists():
        (out / "link").symlink_to(root)
        (out / "a" / "up").symlink_to("..")
    path = out.joinpath(*parts, "x.tif")
    inside = os.path.realpath(path).startswith(os.path.realpath(out) + os.sep)
    if inside:
        assert paths.check_inside(path, out) == path
    else:
        with pytest.raises(paths.OutsideOutputError):
            paths.check_inside(path, out)
