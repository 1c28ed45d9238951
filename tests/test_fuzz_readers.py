"""A short, seeded run of the reader fuzzer (``make fuzz`` runs it for minutes)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from fuzz_readers import fuzz, mutate_bytes, mutate_json  # noqa: E402


def test_mutations_are_reproducible():
    import random

    data = bytes(range(256)) * 4
    assert mutate_bytes(data, random.Random(5)) == mutate_bytes(data, random.Random(5))
    assert mutate_json(b'{"shape": [3, 4]}', random.Random(1)) != b'{"shape": [3, 4]}'


def test_three_hundred_mutated_files_only_give_documented_answers(tmp_path):
    report = fuzz(None, seed=1, max_inputs=300, timeout=30.0, keep=tmp_path / "failures")
    assert report.inputs == 300
    assert report.failures == [], report.failures
    # the mutations reach both outcomes: some inputs still read, most are refused
    assert report.outcomes["ok"] > 10 and report.outcomes["refused"] > 100
