"""Rank and averaging filters as background: median and mean."""

from __future__ import annotations

import numpy as np

from bgsub._arrays import without_overflow
from bgsub.kernels.flat import FOOTPRINT_SHAPES
from bgsub.methods._registry import Method, Parameter, register


def median_background(
    image: np.ndarray, radius: tuple[float, ...], *, footprint: str = "disk"
) -> np.ndarray:
    """Background as the median over a disk (ball in 3D) or box neighbourhood.

    Equals ``scipy.ndimage.median_filter(image, footprint=..., mode="reflect")``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((15, 15), 7.0); img[7, 7] = 100.0
    >>> float(median_background(img, (2.0, 2.0))[7, 7])
    7.0
    """
    from bgsub.kernels.rank import median_filter  # scipy.ndimage: imported when first used

    return median_filter(image, radius, footprint).astype(image.dtype, copy=False)


def mean_background(
    image: np.ndarray, radius: tuple[float, ...], *, footprint: str = "disk"
) -> np.ndarray:
    """Background as the mean over a disk (ball in 3D) or box neighbourhood.

    Equals ``scipy.ndimage.correlate`` with the normalised footprint,
    ``mode="reflect"``. A poor background model next to bright objects (their
    light is averaged in); use it for sparse, small objects.

    Examples
    --------
    >>> import numpy as np
    >>> float(mean_background(np.full((9, 9), 3.0), (2.0, 2.0))[4, 4])
    3.0
    """
    from bgsub.kernels.rank import mean_filter

    return without_overflow(lambda values: mean_filter(values, radius, footprint),
                            image).astype(image.dtype, copy=False)


_FOOTPRINT = Parameter("footprint", "disk", "neighbourhood shape", choices=FOOTPRINT_SHAPES,
                       allow_none=False)

register(
    Method(
        name="median",
        summary="Median over a disk/ball or box of the given radius",
        estimate=median_background,
        parameters=(_FOOTPRINT,),
        reference="scipy.ndimage.median_filter",
    )
)
register(
    Method(
        name="mean",
        summary="Mean over a disk/ball or box of the given radius",
        estimate=mean_background,
        parameters=(_FOOTPRINT,),
        reference="scipy.ndimage.correlate",
        moving_sum=True,  # the kernel's prefix sums start where the block starts
    )
)
