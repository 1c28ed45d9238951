"""Gaussian blur as background, and the difference of Gaussians (a feature enhancer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bgsub._arrays import without_overflow
from bgsub.methods._registry import Extent, Method, Parameter, register

TRUNCATE = 4.0


def gaussian_background(
    image: np.ndarray, radius: tuple[float, ...], *, sigma: float | None = None
) -> np.ndarray:
    """Background as a Gaussian blur (``sigma`` defaults to ``radius``).

    Equals ``scipy.ndimage.gaussian_filter(image, sigma, mode="reflect")``.

    Examples
    --------
    >>> import numpy as np
    >>> float(gaussian_background(np.full((8, 8), 2.0), (3.0, 3.0))[0, 0])
    2.0
    """
    from bgsub.kernels.gaussian import gaussian_filter  # scipy.fft: imported when first used

    sigmas = _sigmas(radius, sigma)
    return without_overflow(lambda values: gaussian_filter(values, sigmas, TRUNCATE),
                            image).astype(image.dtype, copy=False)


def dog_background(
    image: np.ndarray,
    radius: tuple[float, ...],
    *,
    low_sigma: float = 1.0,
    high_sigma: float | None = None,
) -> np.ndarray:
    """The "background" whose subtraction leaves the difference of Gaussians.

    The difference of Gaussians ``G(low_sigma) - G(high_sigma)`` is a
    band-pass *feature enhancer*, not a model of the illumination: the
    foreground it leaves is smoothed and has negative lobes around objects.
    This returns ``image - DoG`` so that ``subtract_background`` yields the
    DoG (``high_sigma`` defaults to ``radius``). ``low_sigma`` must be below
    ``high_sigma``, as in ``skimage.filters.difference_of_gaussians``: the
    engine refuses it otherwise (:func:`_check_sigmas`).

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((16, 16), 5.0)
    >>> float(abs(flat - dog_background(flat, (4.0, 4.0))).max()) < 1e-9
    True
    """
    from bgsub.kernels.gaussian import gaussian_filter

    def difference(values: np.ndarray) -> np.ndarray:
        low = gaussian_filter(values, _sigmas(radius, low_sigma), TRUNCATE)
        high = gaussian_filter(values, _sigmas(radius, high_sigma), TRUNCATE)
        return values - low + high

    return without_overflow(difference, image).astype(image.dtype, copy=False)


def _sigmas(radius: tuple[float, ...], sigma: float | None) -> tuple[float, ...]:
    if sigma is None:
        return tuple(radius)
    # a scalar sigma is in X pixels; keep the per-axis anisotropy of radius
    return tuple(float(sigma) * r / radius[-1] for r in radius)


def _check_sigmas(radius: tuple[float, ...], options: Mapping[str, Any]) -> None:
    """Refuse ``low_sigma`` at or above ``high_sigma`` (in X pixels; the radius by default),
    as ``skimage.filters.difference_of_gaussians`` does: the difference would be inverted
    (a band-stop with the objects negative) or, at equal sigmas, zero everywhere.

    Examples
    --------
    >>> _check_sigmas((5.0, 5.0), {"low_sigma": 8.0, "high_sigma": None})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: dog: low_sigma=8 must be below high_sigma (default: the radius, 5), ...
    """
    low, high = float(options["low_sigma"]), options.get("high_sigma")
    if low < (radius[-1] if high is None else float(high)):
        return
    if high is None:
        wider, fix = f"high_sigma (default: the radius, {radius[-1]:g})", f"a radius above {low:g}"
    else:
        wider, fix = f"high_sigma={float(high):g}", f"a high_sigma above {low:g}"
    raise ValueError(f"dog: low_sigma={low:g} must be below {wider}, or the difference of "
                     f"Gaussians is inverted (zero where equal); give {fix} or a smaller "
                     "low_sigma")


def _gauss_halo(sigma: float | None, radius: tuple[float, ...]) -> tuple[int, ...]:
    return tuple(int(TRUNCATE * s + 0.5) for s in _sigmas(radius, sigma))


def _halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
          ) -> tuple[int, ...]:
    return _gauss_halo(options.get("sigma"), radius)


def _dog_halo(radius: tuple[float, ...], options: Mapping[str, Any], extent: Extent
              ) -> tuple[int, ...]:
    low = _gauss_halo(options.get("low_sigma", 1.0), radius)
    high = _gauss_halo(options.get("high_sigma"), radius)
    return tuple(max(a, b) for a, b in zip(low, high, strict=True))


register(
    Method(
        name="gaussian",
        summary="Gaussian blur with sigma (default: the radius)",
        estimate=gaussian_background,
        parameters=(Parameter("sigma", None, "Gaussian sigma in pixels (default: radius)",
                              minimum=0.0),),
        halo=_halo,
        reference="scipy.ndimage.gaussian_filter",
    )
)
register(
    Method(
        name="dog",
        summary="Difference of Gaussians (feature enhancer, not a background model)",
        estimate=dog_background,
        parameters=(
            Parameter("low_sigma", 1.0, "sigma of the small (denoising) Gaussian, below "
                      "high_sigma", minimum=0.0,
                      allow_none=False),
            Parameter("high_sigma", None, "sigma of the large (background) Gaussian "
                      "(default: radius)", minimum=0.0),
        ),
        halo=_dog_halo,
        check=_check_sigmas,
        background_model=False,
        reference="skimage.filters.difference_of_gaussians",
    )
)
