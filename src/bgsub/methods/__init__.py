"""Background-estimation methods, one module each, behind one small registry.

Adding a method is adding a module that calls :func:`register` and importing it
below.
"""

from bgsub.methods import gaussian, morphology, paraboloid, rank, rolling_ball  # noqa: F401
from bgsub.methods._registry import Method, Parameter, get_method, list_methods, register

__all__ = ["Method", "Parameter", "get_method", "list_methods", "register"]
