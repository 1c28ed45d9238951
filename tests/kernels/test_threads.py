"""kernels.threads.map_in_order: results in order, a bounded look-ahead, errors raised."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels.threads import limit_threads, map_in_order, num_threads


@settings(max_examples=25, deadline=None)
@given(delays=st.lists(st.sampled_from([0.0, 0.001, 0.003]), max_size=12),
       workers=st.integers(1, 4))
def test_results_come_in_order_whatever_ends_first(delays, workers):
    def slow(item):
        index, delay = item
        time.sleep(delay)
        return index

    assert list(map_in_order(slow, enumerate(delays), workers)) == list(range(len(delays)))


def test_items_are_read_at_most_workers_ahead_and_calls_get_a_share_of_the_threads(
        monkeypatch):
    monkeypatch.setenv("BGSUB_NUM_THREADS", "4")
    read, shares = [], []
    together = threading.Barrier(2, timeout=60)  # (the first two calls run at once, or fail)

    def items():
        for k in range(6):
            read.append(k)
            yield k

    def call(k):
        shares.append(num_threads())
        if k < 2:
            together.wait()
        return k

    for k in map_in_order(call, items(), workers=2):
        assert len(read) <= k + 2  # (the one taken, and one running)
    assert shares == [2] * 6
    with limit_threads(1):  # (one thread for the caller: one for each call too)
        assert list(map_in_order(lambda k: num_threads(), range(3), workers=2)) == [1, 1, 1]


def test_an_error_is_raised_where_its_result_is_taken():
    def call(k):
        if k == 2:
            raise ValueError("item 2")
        return k

    taken = []
    with pytest.raises(ValueError, match="item 2"):
        for k in map_in_order(call, range(5), workers=2):
            taken.append(k)
    assert taken == [0, 1]
