"""Every Python example in README.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


IMAGES = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README.read_text())


def test_readme_images_exist_and_the_settings_figures_are_small():
    assert {"docs/images/compare.png", "docs/images/sweep.png",
            "docs/images/sweep_minmax.png"} <= set(IMAGES)
    for name in IMAGES:
        path = README.parent / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        if "napari" not in name:  # a screenshot; the figures of docs/images/make_figures.py
            assert path.stat().st_size < 300_000, name
