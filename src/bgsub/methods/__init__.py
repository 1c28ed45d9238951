"""Background-estimation methods, one module each, behind one small registry.

Adding a method is adding a module that calls :func:`register` and importing it
below.
"""

from bgsub.methods import (  # noqa: F401
    gaussian,
    imagej,
    morphology,
    paraboloid,
    rank,
    robust,
    rolling_ball,
)
from bgsub.methods._registry import (
    AUTO_RADIUS,
    DEFAULT_METHOD,
    DEFAULT_RADIUS,
    Extent,
    Method,
    Parameter,
    Registry,
    get_method,
    is_auto_radius,
    list_methods,
    register,
    resolve_options,
)

__all__ = ["AUTO_RADIUS", "DEFAULT_METHOD", "DEFAULT_RADIUS", "Extent", "Method", "Parameter",
           "Registry", "get_method", "is_auto_radius", "list_methods", "register",
           "resolve_options"]
