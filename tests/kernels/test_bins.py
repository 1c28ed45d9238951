"""Counts and sums on equal bins, compiled (`bgsub.kernels.bins`): NumPy's numbers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import bins
from bgsub.kernels.bins import (
    binned_counts_sums,
    equal_bin_histogram,
    less_than,
    median,
    percentiles,
)


def _numpy(values: np.ndarray, low: float, high: float, bins: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """The definition, as ``_robust_mode._binned`` computed it before the kernel."""
    inside = values[(values >= low) & (values <= high)]
    index = np.subtract(inside, low)
    index *= bins / (high - low)
    index = np.minimum(index.astype(np.intp), bins - 1)
    return (np.bincount(index, minlength=bins).astype(np.float64),
            np.bincount(index, weights=inside, minlength=bins))


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       centre=st.floats(-1e4, 1e4), width=st.floats(1e-3, 1e3), bins=st.integers(1, 3000),
       scale=st.floats(0.01, 100.0), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_equals_numpy_bit_for_bit(n, dtype, centre, width, bins, scale, ties, seed) -> None:
    """Any range and bin count; values inside, outside, on the edges and tied."""
    rng = np.random.default_rng(seed)
    values = rng.normal(centre, scale * width, n)
    if ties:
        values = np.round(values / width * 4) * width / 4
    values = values.astype(dtype)
    low, high = centre - width, centre + width
    if n:  # (the edges themselves, as the dtype holds them)
        values[: min(n, 2)] = [low, high][: min(n, 2)]
    counts, sums = binned_counts_sums(values, low, high, bins)
    want_counts, want_sums = _numpy(values, low, high, bins)
    assert counts.tobytes() == want_counts.tobytes()
    assert sums.tobytes() == want_sums.tobytes()


def test_nan_and_infinities_lie_in_no_bin() -> None:
    values = np.array([np.nan, -np.inf, np.inf, 0.5], np.float32)
    counts, sums = binned_counts_sums(values, 0.0, 1.0, 4)
    assert counts.tolist() == [0.0, 0.0, 1.0, 0.0] and sums.tolist() == [0.0, 0.0, 0.5, 0.0]


def test_a_range_too_narrow_for_the_dtype_puts_its_values_in_the_first_bin() -> None:
    """(NumPy's definition fails there: an infinite float32 scale times zero is NaN.)"""
    values = np.array([0.0, 0.0, 1.0], np.float32)
    counts, _ = binned_counts_sums(values, 0.0, 1e-300, 8)
    assert counts.tolist() == [2.0] + [0.0] * 7


def test_other_layouts_and_dtypes_are_read_in_c_order() -> None:
    values = np.arange(24, dtype=np.int16).reshape(4, 6)[:, ::2].T
    counts, sums = binned_counts_sums(values, 0.0, 23.0, 3)
    want_counts, want_sums = _numpy(np.ravel(values).astype(np.float64), 0.0, 23.0, 3)
    assert counts.tolist() == want_counts.tolist() and sums.tolist() == want_sums.tolist()


@pytest.mark.parametrize(("low", "high", "bins"), [(1.0, 1.0, 4), (2.0, 1.0, 4), (0.0, 1.0, 0)])
def test_an_empty_range_or_no_bins_is_a_one_line_error(low, high, bins) -> None:
    with pytest.raises(ValueError, match="high > low and bins >= 1"):
        binned_counts_sums(np.zeros(3), low, high, bins)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       centre=st.floats(-1e4, 1e4), width=st.floats(1e-3, 1e3), bins=st.integers(1, 1000),
       scale=st.floats(0.01, 100.0), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_the_histogram_equals_numpys_bit_for_bit(n, dtype, centre, width, bins, scale, ties,
                                                 seed) -> None:
    """Values on and near every edge (ties on a grid of quarter bins) included."""
    rng = np.random.default_rng(seed)
    low, high = centre - width, centre + width
    values = rng.normal(centre, scale * width, n)
    if ties:
        step = 2 * width / bins / 4
        values = low + np.round((values - low) / step) * step
    values = values.astype(dtype)
    if n:
        values[: min(n, 2)] = [low, high][: min(n, 2)]
    try:
        want_counts, want_edges = np.histogram(values, bins, range=(low, high))
    except ValueError:  # (bins narrower than the dtype's spacing)
        with pytest.raises(ValueError, match="narrower than"):
            equal_bin_histogram(values, bins, low, high)
        return
    counts, edges = equal_bin_histogram(values, bins, low, high)
    assert counts.dtype == want_counts.dtype and counts.tobytes() == want_counts.tobytes()
    assert edges.dtype == want_edges.dtype and edges.tobytes() == want_edges.tobytes()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 2000), dtype=st.sampled_from([np.float32, np.float64]),
       centre=st.floats(-10, 10), seed=st.integers(0, 2**16))
def test_less_than_equals_numpys_bit_for_bit(n, dtype, centre, seed) -> None:
    values = np.random.default_rng(seed).normal(0.0, 3.0, n).astype(dtype)
    got = less_than(values, centre)
    want = centre - values[values < centre]
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize(("low", "high", "bins"),
                         [(1.0, 1.0, 4), (0.0, np.inf, 4), (np.nan, 1.0, 4), (0.0, 1.0, 0)])
def test_a_histogram_without_a_finite_range_or_bins_is_a_one_line_error(low, high, bins) -> None:
    with pytest.raises(ValueError, match="finite range with high > low"):
        equal_bin_histogram(np.zeros(3), bins, low, high)


def _values(seed: int, n: int, dtype: type, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(rng.uniform(-50, 50), 10 ** rng.uniform(-3, 3), n)
    if kind == "ties":
        values = np.round(values)
    elif kind == "signs":  # (negative and positive, zeros of both signs)
        values = rng.exponential(1.0, n) - 1.0
        values[:: 7] = 0.0
        values[3:: 7] = -0.0
    elif kind == "crowded":  # (most in one group of leading bits: split on the next bits)
        values[: n // 2] = 1.0
    return values.astype(dtype)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["normal", "ties", "signs", "crowded"]),
       q=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_percentiles_and_the_median_equal_numpys_bit_for_bit(n, dtype, kind, q, seed) -> None:
    """Both selections: NumPy's partition (few values) and the compiled one on small inputs
    too (``_SELECT_FROM`` lowered to 1), its groups sorted or (``_SORT_UP_TO`` lowered to 4)
    split again on their next bits. (Zeros of either sign are equal values: the median of a
    tie between them may differ in sign.)"""
    values = _values(seed, n, dtype, kind)
    for select_from in (1, bins._SELECT_FROM):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bins, "_SELECT_FROM", select_from)
            patch.setattr(bins, "_SORT_UP_TO", 4 if seed % 2 else bins._SORT_UP_TO)
            for fractions in (q, [0.5, 25, 75, 99], [0, 100]):
                want = np.percentile(values, fractions)
                got = percentiles(values, fractions)
                assert got.dtype == want.dtype and (got == want).all()
                if kind != "signs":
                    assert got.tobytes() == want.tobytes()
            want = np.median(values)
            assert type(median(values)) is type(want) and median(values) == want
            if kind != "signs":
                assert median(values).tobytes() == want.tobytes()


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["normal", "ties", "signs", "crowded"]),
       fraction=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.15, 0.5, 0.9, 1.0])),
       seed=st.integers(0, 2**16))
def test_a_quantile_equals_numpys_bit_for_bit(n, dtype, kind, fraction, seed) -> None:
    """``np.quantile`` with one Python float: its result in the values' dtype (NumPy's
    interpolation with a weak fraction), by either selection."""
    values = _values(seed, n, dtype, kind)
    want = np.quantile(values, fraction)
    for select_from in (1, bins._SELECT_FROM):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bins, "_SELECT_FROM", select_from)
            got = bins.quantile(values, fraction)
        assert type(got) is type(want) and got == want
        if kind != "signs":
            assert got.tobytes() == want.tobytes()


def test_a_quantile_of_many_values_or_with_nan_equals_numpys() -> None:
    values = _values(4, 300_001, np.float32, "normal")
    assert bins.quantile(values, 0.15).tobytes() == np.quantile(values, 0.15).tobytes()
    values[7] = np.nan
    assert np.isnan(bins.quantile(values, 0.15))
    assert np.isnan(bins.quantile(values[:1000], 0.15))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_percentiles_of_many_values_equal_numpys(dtype) -> None:
    values = _values(3, 300_001, dtype, "normal")
    for q in ([0.5, 25, 75, 99], [1, 99], [50]):
        assert percentiles(values, q).tobytes() == np.percentile(values, q).tobytes()
    assert median(values).tobytes() == np.median(values).tobytes()
    assert median(values[1:]).tobytes() == np.median(values[1:]).tobytes()


@pytest.mark.parametrize("select_from", [1, bins._SELECT_FROM])
def test_nan_leaves_the_percentiles_and_the_median_to_numpy(monkeypatch, select_from) -> None:
    monkeypatch.setattr(bins, "_SELECT_FROM", select_from)
    values = np.array([1.0, np.nan, 3.0], np.float32)
    assert np.isnan(percentiles(values, [50])).all() and np.isnan(median(values))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["normal", "ties", "signs", "crowded"]), rank=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**16))
def test_the_median_below_a_centre_equals_that_of_the_copy(n, dtype, kind, rank, seed) -> None:
    """By rank among all the values (``_SELECT_FROM`` lowered to 1: the compiled selection
    on small inputs too), the median of the copy's distances, bit for bit; None where no value
    lies below."""
    values = _values(seed, n, dtype, kind)
    centre = float(np.quantile(values, rank)) if n else 0.0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bins, "_SELECT_FROM", 1)
        got = bins.median_below(values, centre)
    copy = less_than(values, centre)
    if copy.size == 0:
        assert got is None
    else:
        want = median(copy)
        assert type(got) is type(want) and got == want
        if kind != "signs":
            assert got.tobytes() == want.tobytes()


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 3000), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["normal", "ties", "signs", "crowded"]),
       q=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=4),
       cuts=st.lists(st.integers(0, 3000), max_size=6), seed=st.integers(0, 2**16))
def test_percentiles_of_parts_equal_numpys_on_the_joined_parts(n, dtype, kind, q, cuts,
                                                                 seed) -> None:
    """Any split into parts (empty ones included), each part made anew on each call, with
    the compiled selection (``_SELECT_FROM`` lowered to 1) and NumPy's (few values)."""
    values = _values(seed, n, dtype, kind)
    bounds = [0, *sorted(min(c, n) for c in cuts), n]
    calls = []

    def parts():
        calls.append(1)
        return (values[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:], strict=True))

    want = np.percentile(values, q)
    for select_from in (1, bins._SELECT_FROM):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bins, "_SELECT_FROM", select_from)
            patch.setattr(bins, "_SORT_UP_TO", 4 if seed % 2 else bins._SORT_UP_TO)
            calls.clear()
            got = bins.percentiles_of_parts(parts, q)
            assert got.dtype == want.dtype and (got == want).all()
            if kind != "signs":
                assert got.tobytes() == want.tobytes()
            assert len(calls) == 2  # (counted, then gathered or joined: never kept)


def test_percentiles_of_many_parts_equal_numpys() -> None:
    values = _values(5, 300_001, np.float64, "normal")
    got = bins.percentiles_of_parts(lambda: np.array_split(values, 9), [1, 50, 90, 99])
    assert got.tobytes() == np.percentile(values, [1, 50, 90, 99]).tobytes()


def test_percentiles_of_parts_with_nan_are_numpys(monkeypatch) -> None:
    monkeypatch.setattr(bins, "_SELECT_FROM", 1)
    parts = [np.array([1.0, 2.0]), np.array([np.nan, 3.0])]
    assert np.isnan(bins.percentiles_of_parts(lambda: iter(parts), [50])).all()
