"""What the batch runner and streaming share about one job: its API keywords and figure.

:mod:`bgsub.batch` (images read whole) and :mod:`bgsub.stream` (images
streamed chunk by chunk) both turn a file's metadata and the run's settings
into the exact keyword arguments of :func:`bgsub.subtract_background`
(:func:`resolve_parameters`, recorded in provenance as they are, and
:func:`api_keywords`), and both pick the planes a ``--figure`` shows
(:func:`figure_planes`), and what each image they write is (:func:`image_outputs`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bgsub import io
from bgsub._dtypes import output_dtype_for
from bgsub.config import Settings

__all__ = ["api_keywords", "figure_planes", "image_outputs", "resolve_parameters"]


def resolve_parameters(settings: Settings, meta: io.ImageMetadata, shape: tuple[int, ...]
                       ) -> dict[str, Any]:
    """The exact keyword arguments for :func:`bgsub.subtract_background` for one image.

    ``axes`` come from ``--axes`` or the file; ``spacing="auto"`` uses the
    file's pixel sizes in 3D, and in 2D only when Y and X sizes differ.

    Examples
    --------
    >>> settings = Settings(method="median", radius=3).validated()
    >>> parameters = resolve_parameters(settings, io.ImageMetadata("TYX"), (2, 8, 8))
    >>> parameters["method"], parameters["axes"], parameters["spacing"]
    ('median', 'TYX', None)
    """
    # (samples that the reader found to be channels as C: the last is processed, not passed
    # through as an alpha)
    axes = settings.axes or meta.samples_as_channels().axes
    if len(axes) != len(shape):
        raise ValueError(f"axes {axes!r} name {len(axes)} axes but the image has "
                         f"{len(shape)} (shape {shape}); give one letter per axis with --axes")
    if settings.true_3d and "Z" not in axes:
        raise ValueError(f"--3d needs a Z axis but the axes are {axes!r}; "
                         "name the depth axis with --axes, e.g. --axes ZYX")
    return {
        "method": settings.method,
        "radius": list(settings.radius) if isinstance(settings.radius, tuple) else
        settings.radius,
        "axes": axes,
        "true_3d": settings.true_3d,
        "spacing": _spacing_for(settings, meta, axes),
        "light_background": settings.light_background,
        "presmooth": settings.presmooth,
        "output_dtype": settings.output_dtype,
        "offset": settings.offset,
        **({} if settings.missing is None else {"missing": settings.missing}),
        "options": dict(settings.options),
    }


def image_outputs(job: Any, settings: Settings, dtype: np.dtype
                  ) -> list[tuple[str, np.dtype]]:
    """The format and dtype of each image ``job`` writes from an input of ``dtype``: the
    foreground in the run's output dtype and, where it saves one, the background in float32.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> job = SimpleNamespace(output_format="png", background="b.tif", background_format="tiff")
    >>> image_outputs(job, Settings(), np.dtype("uint16"))
    [('png', dtype('uint16')), ('tiff', dtype('float32'))]
    """
    outputs = [(job.output_format, output_dtype_for(dtype, settings.output_dtype))]
    if job.background is not None:
        outputs.append((job.background_format or job.output_format, np.dtype(np.float32)))
    return outputs


def _spacing_for(settings: Settings, meta: io.ImageMetadata, axes: str) -> list[float] | None:
    if isinstance(settings.spacing, tuple):
        return list(settings.spacing)
    if settings.spacing == "none" or isinstance(settings.radius, tuple):
        return None
    letters = "ZYX" if settings.true_3d else "YX"
    if not all(a in axes for a in letters) or meta.spatial_spacing(letters) is None:
        return None
    # (in one unit: a Z step in µm beside Y and X in nm is 1000 of theirs)
    one = meta.spacing_in_one_unit(letters)
    if one is None:
        if settings.true_3d:
            units = ", ".join(f"{a} {meta.spacing[a]:g} {meta.units.get(a) or '(no unit)'}"
                              for a in letters)
            warnings.warn(f"the pixel sizes ({units}) are not all lengths in known units, so "
                          "the voxel's shape is unknown and Z is treated as Y and X are; give "
                          "it with --spacing Z,Y,X (in one unit)", stacklevel=2)
        return None
    sizes = one[0]
    if not settings.true_3d and np.isclose(sizes[0], sizes[1], rtol=1e-6, atol=0):
        return None
    return list(sizes)


def api_keywords(parameters: dict[str, Any]) -> dict[str, Any]:
    """:func:`resolve_parameters`' record as keyword arguments of the API (options flattened).

    Examples
    --------
    >>> api_keywords({"method": "tophat", "radius": 5.0, "spacing": [2.0, 1.0],
    ...               "options": {"footprint": "box"}})
    {'method': 'tophat', 'radius': 5.0, 'spacing': (2.0, 1.0), 'footprint': 'box'}
    """
    kwargs = {k: v for k, v in parameters.items() if k != "options"}
    kwargs.update(parameters["options"])
    if kwargs.get("spacing") is not None:
        kwargs["spacing"] = tuple(kwargs["spacing"])
    return kwargs


def figure_planes(job: Any, settings: Settings, parameters: dict[str, Any],
                   image: np.ndarray, background: np.ndarray | None, foreground: np.ndarray
                   ) -> tuple[tuple[np.ndarray, ...], str] | None:
    """The 2D planes of raw, background and foreground that ``--figure`` shows, and which."""
    if job.figure is None or background is None:
        return None
    from bgsub.plot import to_plane

    choice = settings.figure_plane
    axes = parameters["axes"]
    count = int(np.prod([n for a, n in zip(axes, image.shape, strict=True)
                         if a not in "YXSC"]))
    where = {"plane": None if choice == "middle" else choice, "project": choice == "max",
             "axes": axes}
    try:
        planes = tuple(to_plane(a, **where) for a in (image, background, foreground))
    except ValueError as exc:
        raise ValueError(f"--figure-plane {choice}: {exc}, middle or max") from None
    if count < 2:
        return planes, ""
    if choice == "max":
        depth = image.shape[axes.index("Z")] if "Z" in axes else count
        return planes, f"maximum projection of {depth} planes"
    return planes, f"plane {count // 2 if choice == 'middle' else choice} of {count}"
