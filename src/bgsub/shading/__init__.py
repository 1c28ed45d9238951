"""Shading correction across many tiles: a flat-field and dark-field shared by a set of images.

``bgsub.estimate_shading`` fits the fields from the tiles themselves (a list,
stack, folder, Zarr store or Dask array, read one tile at a time) with one of the
registered shading methods; ``bgsub.correct_shading`` applies them, dtype-safe,
in memory or chunk by chunk on Dask. Adding a method is adding a module that
calls :func:`register_shading` and importing it below. See ``docs/shading.md``.
"""

from bgsub.shading import cellprofiler, lowrank  # noqa: F401
from bgsub.shading._registry import (
    FieldEstimate,
    ShadingMethod,
    get_shading_method,
    list_shading_methods,
    register_shading,
)
from bgsub.shading.api import (
    DEFAULT_SHADING_METHOD,
    DEFAULT_WORKING_SIZE,
    correct_shading,
    estimate_shading,
)
from bgsub.shading.profile import ShadingProfile

__all__ = ["DEFAULT_SHADING_METHOD", "DEFAULT_WORKING_SIZE", "FieldEstimate", "ShadingMethod",
           "ShadingProfile", "correct_shading", "estimate_shading", "get_shading_method",
           "list_shading_methods", "register_shading"]
