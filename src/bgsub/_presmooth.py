"""Optional smoothing of the image before its background is estimated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRESMOOTH_KINDS = ("mean", "gaussian", "median")
TRUNCATE = 4.0


@dataclass(frozen=True)
class Presmooth:
    """A pre-smoothing step: ``kind`` with ``size`` (box radius or sigma) in pixels."""

    kind: str
    size: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.size:g}"

    @property
    def moving_sum(self) -> bool:
        """Adds values up in an order that depends on where the block starts (the box mean):
        exact on a window of the block only for integer values."""
        return self.kind == "mean"

    @property
    def keeps_integers(self) -> bool:
        """Integer values come out as integers (the median of an odd box is one of them)."""
        return self.kind == "median"

    def apply(self, image: np.ndarray, scale: tuple[float, ...]) -> np.ndarray:
        """Smooth ``image``; ``scale`` stretches ``size`` per axis like the radius."""
        from bgsub.kernels.gaussian import gaussian_filter
        from bgsub.kernels.rank import mean_filter, median_filter

        size = self._sizes(scale)
        if self.kind == "gaussian":
            return gaussian_filter(image, size, TRUNCATE).astype(image.dtype, copy=False)
        if self.kind == "mean":
            return mean_filter(image, size, "box").astype(image.dtype, copy=False)
        return median_filter(image, size, "box").astype(image.dtype, copy=False)

    def halo(self, scale: tuple[float, ...]) -> tuple[int, ...]:
        """Pixels of context per axis that :meth:`apply` reads around each pixel.

        Examples
        --------
        >>> Presmooth("median", 1.5).halo((1.0, 1.0))
        (1, 1)
        >>> Presmooth("gaussian", 1.0).halo((2.0, 1.0))
        (8, 4)
        """
        size = self._sizes(scale)
        if self.kind == "gaussian":
            return tuple(int(TRUNCATE * s + 0.5) for s in size)
        return tuple(int(np.floor(s)) for s in size)

    def _sizes(self, scale: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(self.size * s for s in scale)


def parse_presmooth(value: object) -> Presmooth | None:
    """Read ``presmooth``: None, ``"gaussian"``, ``"gaussian:1.5"`` or ``("median", 1)``.

    A bare kind uses size 1 (a 3x3 box for mean/median -- ImageJ's default
    smoothing -- or sigma 1 for gaussian).

    ``"none"`` (any case) is None.

    Examples
    --------
    >>> parse_presmooth("median:2"), parse_presmooth("NONE")
    (Presmooth(kind='median', size=2.0), None)
    """
    if value is None or value is False or (isinstance(value, str)
                                           and value.strip().lower() == "none"):
        return None
    if isinstance(value, Presmooth):
        return value
    if isinstance(value, str):
        kind, _, size_text = value.partition(":")
        size: object = size_text or 1.0
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        kind, size = value
    else:
        raise TypeError(
            f"presmooth={value!r} is not understood; use e.g. 'gaussian:1', "
            "('median', 1) or None"
        )
    kind = str(kind).strip().lower()
    if kind not in PRESMOOTH_KINDS:
        raise ValueError(
            f"presmooth kind {kind!r} is not known; use one of {', '.join(PRESMOOTH_KINDS)}"
        )
    try:
        number = float(size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"presmooth size {size!r} is not a number; use e.g. '{kind}:1'") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"presmooth size {size!r} is out of range; use a number > 0")
    return Presmooth(kind, number)
