"""Hot loops (numba) behind the methods; no validation happens here."""
