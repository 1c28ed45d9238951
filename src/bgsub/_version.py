"""bgsub's version, defined once (modules below the package import it from here)."""

__version__ = "0.1.0"
