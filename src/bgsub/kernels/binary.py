"""Binary morphology of 2D masks: exact Euclidean distance transform and the opening by
the 4-connected cross (and its erosion and dilation, also over a stack of planes),
compiled or on NumPy slices.

Both give :mod:`scipy.ndimage`'s values bit for bit (``distance_transform_edt`` and
``binary_opening`` with their defaults), faster: the distance transform is exact in
integer squared distances and ``sqrt`` is correctly rounded, so any exact method gives the
same doubles. Other cases (not 2D, no zero pixel) go to SciPy.
"""

from __future__ import annotations

import numpy as np

from bgsub.kernels._binary import clipped_histogram, edt_2d, edt_2d_label_max

__all__ = ["binary_dilation_cross", "binary_erosion_cross", "binary_opening_cross",
           "clipped_histogram_centres", "distance_transform_edt", "largest_distance_by_label"]


def distance_transform_edt(mask: np.ndarray) -> np.ndarray:
    """Each nonzero pixel's Euclidean distance to the nearest zero pixel of ``mask`` (0 on
    the zeros): ``scipy.ndimage.distance_transform_edt(mask)``, bit for bit.

    Examples
    --------
    >>> m = np.ones((3, 5), bool); m[1, 0] = False
    >>> distance_transform_edt(m)[1].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0 or mask.all():
        from scipy import ndimage as ndi

        return ndi.distance_transform_edt(mask)
    bits = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    out = np.empty(mask.shape, dtype=np.float64)
    edt_2d(bits, _column_scratch(mask.shape), out)
    return out


def largest_distance_by_label(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """For each label ``0..count`` of ``labels``, the largest :func:`distance_transform_edt`
    of ``mask`` over its pixels (0 for a label without pixels): ``np.maximum.at(result,
    labels, distance)``, bit for bit, without the distances as an image (``sqrt`` is
    monotone and correctly rounded: the root of the largest squared distance is the largest
    root).

    Examples
    --------
    >>> m = np.ones((3, 7), bool); m[:, 3] = False
    >>> labels = np.where(m, np.where(np.arange(7) < 3, 1, 2), 0)
    >>> largest_distance_by_label(m, labels, 2).tolist()
    [0.0, 3.0, 3.0]
    """
    mask = np.asarray(mask)
    labels = np.asarray(labels)
    if labels.shape != mask.shape:
        raise ValueError(f"labels of shape {labels.shape} do not match the mask's {mask.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > count):
        raise ValueError(f"labels must lie within 0..count ({count}), found "
                         f"{labels.min()}..{labels.max()}: pass the largest label as count")
    if mask.ndim != 2 or mask.size == 0 or mask.all() or count >= np.iinfo(np.int32).max:
        result = np.zeros(count + 1)
        np.maximum.at(result, labels.ravel(), distance_transform_edt(mask).ravel())
        return result
    best = np.zeros(count + 1, dtype=np.int64)
    edt_2d_label_max(np.ascontiguousarray(mask, dtype=bool).view(np.uint8),
                     np.ascontiguousarray(labels, dtype=np.int32),
                     _column_scratch(mask.shape), best)
    return np.sqrt(best.astype(np.float64))


def _column_scratch(shape: tuple[int, ...]) -> np.ndarray:
    """The distance transform's column distances (a NumPy buffer: counted where memory is
    traced, and half the size of 64-bit integers)."""
    return np.empty(shape, dtype=np.int32)


def binary_opening_cross(mask: np.ndarray) -> np.ndarray:
    """Erosion then dilation by the 4-connected cross, pixels outside the array 0:
    ``scipy.ndimage.binary_opening(mask)`` of a 2D mask, bit for bit.

    Examples
    --------
    >>> m = np.zeros((5, 5), bool); m[1:4, 1:4] = True
    >>> binary_opening_cross(m).astype(int)[2].tolist()
    [0, 1, 1, 1, 0]
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        from scipy import ndimage as ndi

        return ndi.binary_opening(mask)
    return binary_dilation_cross(binary_erosion_cross(mask))


def binary_erosion_cross(mask: np.ndarray) -> np.ndarray:
    """Erosion by the 4-connected cross in the last two axes, pixels outside the array 0:
    true where a pixel and its four neighbours are (never on the plane's edge).

    Examples
    --------
    >>> m = np.zeros((4, 5), bool); m[:, :4] = True
    >>> binary_erosion_cross(m).astype(int)[1].tolist()
    [0, 1, 1, 0, 0]
    """
    m = np.asarray(mask).astype(bool, copy=False)
    eroded = np.zeros(m.shape, dtype=bool)
    core = eroded[..., 1:-1, 1:-1]
    np.logical_and(m[..., 1:-1, 1:-1], m[..., :-2, 1:-1], out=core)
    core &= m[..., 2:, 1:-1]
    core &= m[..., 1:-1, :-2]
    core &= m[..., 1:-1, 2:]
    return eroded


def binary_dilation_cross(mask: np.ndarray) -> np.ndarray:
    """Dilation by the 4-connected cross in the last two axes: true where a pixel or one of
    its four neighbours is.

    Examples
    --------
    >>> m = np.zeros((3, 5), bool); m[1, 2] = True
    >>> binary_dilation_cross(m).astype(int).tolist()
    [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]
    """
    m = np.asarray(mask).astype(bool, copy=False)
    grown = m.copy()
    grown[..., 1:, :] |= m[..., :-1, :]
    grown[..., :-1, :] |= m[..., 1:, :]
    grown[..., :, 1:] |= m[..., :, :-1]
    grown[..., :, :-1] |= m[..., :, 1:]
    return grown


def clipped_histogram_centres(values: np.ndarray, low: float, high: float,
                              bins: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of ``np.clip(values, low, high)`` (``low < high``, no NaN) and its bin
    centres, over ``bins`` equal bins from ``low`` to ``high``: the counts and centres of
    ``skimage.exposure.histogram(clipped, bins, source_range="image")`` when ``low`` and
    ``high`` are the clipped values' extremes, without the clipped copy.

    Examples
    --------
    >>> counts, centres = clipped_histogram_centres(np.array([-5.0, 0.0, 0.4, 9.0]), 0.0, 1.0, 2)
    >>> counts.tolist(), centres.tolist()
    ([3, 1], [0.25, 0.75])
    """
    values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    low, high = np.float64(low), np.float64(high)
    edges = np.linspace(low, high, bins + 1, endpoint=True, dtype=np.float64)
    counts = np.empty(bins, dtype=np.int64)
    clipped_histogram(values, float(low), float(high), edges, counts)
    return counts, (edges[:-1] + edges[1:]) / 2.0
