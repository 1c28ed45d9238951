"""Numba kernels: flat morphology and rank filters used by the background methods."""
