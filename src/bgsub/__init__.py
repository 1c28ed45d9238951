"""bgsub: fast, exact and dtype-safe background subtraction for microscopy images."""

from bgsub import data
from bgsub.api import estimate_background, subtract_background
from bgsub.methods import get_method, list_methods

__version__ = "0.1.0"

__all__ = ["__version__", "data", "estimate_background", "get_method", "list_methods",
           "subtract_background"]
