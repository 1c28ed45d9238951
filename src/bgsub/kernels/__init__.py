"""Numeric kernels (numba-compiled morphology and filters) used by bgsub."""
