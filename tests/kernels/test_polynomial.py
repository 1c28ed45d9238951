"""A polynomial's terms summed over a plane (`bgsub.kernels.polynomial`): NumPy's values bit
for bit, on any number of threads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgsub.kernels import polynomial
from bgsub.kernels.polynomial import plane_of_terms


def _numpy(terms, y_size, x):
    """The definition: each broadcast term added to zeros, in order."""
    plane = np.zeros((y_size, x.size))
    for value, times, column in terms:
        if column:
            term = np.asarray(value, np.float64)[:, None]
            if times:
                term = term * x
                for _ in range(times - 1):
                    term = term * x
            plane += term
        else:
            plane += value
    return plane


@st.composite
def _terms(draw):
    y_size, x_size = draw(st.integers(1, 40)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = np.linspace(-1.0, 1.0, x_size) * rng.uniform(0.5, 3.0)
    terms = []
    for _ in range(draw(st.integers(0, 12))):
        scale = 10.0 ** rng.uniform(-6, 6)
        kind = draw(st.sampled_from(["column", "row", "scalar"]))
        if kind == "column":
            value = rng.normal(size=y_size) * scale
            value[rng.random(y_size) < 0.2] = -0.0
            terms.append((value, draw(st.integers(0, 11)), True))
        elif kind == "row":
            terms.append((rng.normal(size=x_size) * scale, 0, False))
        else:
            terms.append((draw(st.sampled_from([-0.0, 0.0, float(rng.normal() * scale)])),
                          0, False))
    return terms, y_size, x


@settings(max_examples=200, deadline=None)
@given(case=_terms(), per_thread=st.sampled_from([1, polynomial._TERM_CELLS_PER_THREAD]))
def test_plane_of_terms_equals_numpys_broadcast_sum(case, per_thread) -> None:
    """Every degree (the unrolled ones and beyond), signed zeros, one thread or two."""
    terms, y_size, x = case
    want = _numpy(terms, y_size, x)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(polynomial, "_TERM_CELLS_PER_THREAD", per_thread)
        got = plane_of_terms(terms, y_size, x)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


def test_plane_of_terms_needs_a_row_of_coordinates() -> None:
    with pytest.raises(ValueError, match="one row of coordinates"):
        plane_of_terms([(1.0, 0, False)], 3, np.zeros((2, 2)))
