"""CellProfiler-style illumination functions computed from all tiles at once.

Following the descriptions of CellProfiler's CorrectIlluminationCalculate module
(Carpenter et al., Genome Biology 7, R100 (2006); the module's manual): an
illumination function is made from every image of a set, either by averaging the
images and smoothing the average (Gaussian, median, polynomial or spline fit), or
by taking each image's block minimum ("background" intensity) and smoothing the
average of those. Sizes are fractions of the tile's shorter side, so a method
means the same on the working grid as at full size. None of these estimate a
dark-field.
"""

from __future__ import annotations

import numpy as np

from bgsub._lazy import lazy_module
from bgsub.kernels.bins import MAD_TO_SD
from bgsub.methods import Parameter
from bgsub.shading._fields import fit_smooth
from bgsub.shading._registry import FieldEstimate, ShadingMethod, register_shading

ndimage = lazy_module("scipy.ndimage")  # imported on first use, not on import bgsub

_SOURCE = Parameter("source", "mean", "how the tiles are combined before smoothing",
                    choices=("mean", "median"), allow_none=False)


def _combined(stack: np.ndarray, source: str) -> np.ndarray:
    return stack.mean(axis=0) if source == "mean" else np.median(stack, axis=0)


def _pixels(fraction: float, shape: tuple[int, ...]) -> float:
    return max(fraction * min(shape[-2:]), 1.0)


def gaussian(stack: np.ndarray, darkfield: bool, *, size: float = 0.1,
             source: str = "mean", **_: object) -> FieldEstimate:
    """The combined tile smoothed with a Gaussian of sigma ``size`` (fraction of the side)."""
    return FieldEstimate(ndimage.gaussian_filter(_combined(stack, source),
                                                 _pixels(size, stack.shape), mode="nearest"))


def median(stack: np.ndarray, darkfield: bool, *, size: float = 0.2,
           source: str = "mean", **_: object) -> FieldEstimate:
    """The combined tile smoothed with a median filter ``size`` (fraction of the side) wide."""
    width = int(round(_pixels(size, stack.shape))) | 1
    return FieldEstimate(ndimage.median_filter(_combined(stack, source), size=width,
                                               mode="nearest"))


def block_minimum(stack: np.ndarray, darkfield: bool, *, block: float = 0.05,
                  size: float = 0.1, **_: object) -> FieldEstimate:
    """Each tile's minimum per block, averaged over tiles, then Gaussian-smoothed."""
    width = max(int(round(_pixels(block, stack.shape))), 1)
    minima = ndimage.minimum_filter(stack, size=(1, width, width), mode="nearest")
    return FieldEstimate(ndimage.gaussian_filter(minima.mean(axis=0), _pixels(size, stack.shape),
                                                 mode="nearest"))


def polynomial(stack: np.ndarray, darkfield: bool, *, degree: int = 2,
               source: str = "mean", **_: object) -> FieldEstimate:
    """A least-squares polynomial surface of total ``degree`` through the combined tile."""
    image = _combined(stack, source)
    y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in image.shape), indexing="ij")
    columns = [y**i * x**j for i in range(degree + 1) for j in range(degree + 1 - i)]
    design = np.stack([c.ravel() for c in columns], axis=1)
    coefficients = np.linalg.lstsq(design, image.ravel(), rcond=None)[0]
    return FieldEstimate((design @ coefficients).reshape(image.shape))


def spline(stack: np.ndarray, darkfield: bool, *, points: int = 5, rejection: float = 2.5,
           iterations: int = 10, source: str = "mean", **_: object) -> FieldEstimate:
    """A cubic B-spline surface with ``points`` knots per axis, refitted without outliers."""
    image = _combined(stack, source)
    bases = [(_bspline_design(image.shape[0], points), _bspline_design(image.shape[1], points))]
    weights = np.ones_like(image)
    # noise-free tiles (a synthetic check, a smooth slide in floats) leave residuals of the
    # arithmetic's rounding, whose spread would reject half the bins in every round
    floor = max(_LEAST_SPREAD * float(np.median(np.abs(image))), 1e-12)
    for _ in range(iterations):
        (fitted,) = fit_smooth([[weights]], [weights * image], bases, 0.0)
        residual = image - fitted
        spread = max(MAD_TO_SD * float(np.median(np.abs(residual[weights > 0]))), floor)
        new = (np.abs(residual) <= rejection * spread).astype(np.float64)
        if np.array_equal(new, weights):
            break
        weights = new
    return FieldEstimate(fitted)


_LEAST_SPREAD = 1e-6  # the spline's rejection spread, at least this share of the tiles' level


def _bspline_design(n: int, points: int, order: int = 3) -> np.ndarray:
    """Cubic B-spline design matrix on ``n`` samples with ``points`` evenly spaced knots."""
    from scipy.interpolate import BSpline  # lazily: keeps `import bgsub` light

    inner = np.linspace(0.0, 1.0, max(points, 2))
    knots = np.concatenate([[0.0] * order, inner, [1.0] * order])
    u = (np.arange(n) + 0.5) / n
    return BSpline.design_matrix(u, knots, order).toarray()


_SIZE = Parameter("size", 0.1, "smoothing scale, as a fraction of the tile's shorter side",
                  minimum=0, allow_none=False)

for _method in (
    ShadingMethod("gaussian", "mean of all tiles, Gaussian-smoothed (CellProfiler-style)",
                  gaussian, (_SIZE, _SOURCE)),
    ShadingMethod("median", "mean of all tiles, median-filtered (CellProfiler-style)", median,
                  (Parameter("size", 0.2, "median filter width, as a fraction of the tile's "
                             "shorter side", minimum=0, allow_none=False), _SOURCE)),
    ShadingMethod("block_minimum", "per-tile block minimum, averaged and Gaussian-smoothed "
                  "(CellProfiler's 'Background')", block_minimum,
                  (Parameter("block", 0.05, "block size, as a fraction of the tile's shorter "
                             "side", minimum=0, allow_none=False), _SIZE)),
    ShadingMethod("polynomial", "polynomial surface through the mean of all tiles "
                  "(CellProfiler-style)", polynomial,
                  (Parameter("degree", 2, "total degree of the polynomial", minimum=0,
                             exclusive=False, allow_none=False), _SOURCE)),
    ShadingMethod("spline", "B-spline surface through the mean of all tiles, foreground "
                  "rejected (CellProfiler-style)", spline,
                  (Parameter("points", 5, "knots per axis", minimum=2, exclusive=False,
                             allow_none=False),
                   Parameter("rejection", 2.5, "pixels beyond this many robust SDs are "
                             "ignored", minimum=0, allow_none=False),
                   Parameter("iterations", 10, "most refits", minimum=1, exclusive=False,
                             allow_none=False), _SOURCE)),
):
    register_shading(_method)
