"""bgsub: fast, exact and dtype-safe background subtraction for microscopy images."""

from bgsub import data
from bgsub._version import __version__
from bgsub._warnings import BackgroundWarning
from bgsub.api import estimate_background, subtract_background
from bgsub.methods import get_method, list_methods
from bgsub.methods.imagej import from_imagej
from bgsub.shading import ShadingProfile, correct_shading, estimate_shading

__all__ = ["BackgroundWarning", "ShadingProfile", "__version__", "correct_shading", "data",
           "estimate_background", "estimate_shading", "from_imagej", "get_method", "list_methods",
           "subtract_background"]


def __getattr__(name: str):
    """``bgsub.io`` (and the batch modules) on first use, keeping ``import bgsub`` light."""
    if name in ("io", "batch", "config", "provenance"):
        import importlib

        return importlib.import_module(f"bgsub.{name}")
    raise AttributeError(f"module 'bgsub' has no attribute {name!r}")
