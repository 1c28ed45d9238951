"""bgsub: fast, exact and dtype-safe background subtraction for microscopy images."""
