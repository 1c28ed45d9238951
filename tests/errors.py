"""The background error the accuracy tests bound, shared by them."""

from __future__ import annotations

import numpy as np


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square difference of ``estimate`` (any dtype) from ``truth``, in float64."""
    return float(np.sqrt(np.mean((np.asarray(estimate, np.float64) - truth) ** 2)))
