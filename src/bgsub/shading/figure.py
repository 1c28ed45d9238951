"""The shading figure: the fields, and a mosaic of neighbouring tiles before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bgsub.shading.api import correct_shading
from bgsub.shading.profile import ShadingProfile

__all__ = ["mosaic", "profile_figure"]


def mosaic(tiles: np.ndarray, columns: int) -> np.ndarray:
    """Tiles (N, Y, X) side by side, row-major, ``columns`` per row (missing ones are NaN).

    Examples
    --------
    >>> mosaic(np.zeros((3, 2, 2)), 2).shape
    (4, 4)
    """
    n, ny, nx = tiles.shape
    rows = -(-n // columns)
    canvas = np.full((rows * ny, columns * nx), np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[r * ny:(r + 1) * ny, c * nx:(c + 1) * nx] = tile
    return canvas


def profile_figure(profile: ShadingProfile, tiles: np.ndarray | None = None, columns: int = 3,
                   title: str | None = None, path: Path | str | None = None) -> Any:
    """Flat-field and dark-field (first channel), and tiles before | after correction.

    Parameters
    ----------
    profile : ShadingProfile
        The fields to show.
    tiles : ndarray, optional
        Neighbouring tiles (N, Y, X) of one channel, in row-major mosaic order.
    columns : int
        Tiles per mosaic row.
    title : str, optional
        The figure's title.
    path : path-like, optional
        Where to save a PNG; the figure is returned either way.

    Examples
    --------
    >>> import numpy as np
    >>> p = ShadingProfile(np.ones((8, 8), np.float32), np.zeros((8, 8), np.float32))
    >>> [ax.get_title() for ax in profile_figure(p, np.ones((4, 8, 8))).axes[::2]]
    ['flat-field (mean 1)', 'dark-field', 'before', 'after']
    """
    from matplotlib.figure import Figure

    flat = profile.flatfield[0] if profile.channel_axis else profile.flatfield
    dark = profile.darkfield[0] if profile.channel_axis else profile.darkfield
    panels = 4 if tiles is not None else 2
    fig = Figure(figsize=(4.2 * panels, 4.4), layout="constrained")
    for i, (name, field) in enumerate((("flat-field (mean 1)", flat), ("dark-field", dark))):
        ax = fig.add_subplot(1, panels, i + 1)
        image = ax.imshow(field, cmap="magma", interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(name)
        ax.set_axis_off()
    if tiles is not None:
        single = ShadingProfile(flat, dark)
        after = correct_shading(np.asarray(tiles), single, output_dtype="float64")
        before = mosaic(np.asarray(tiles, dtype=np.float64), columns)
        after = mosaic(after, columns)
        low, high = np.nanpercentile(after, (0.5, 99.5))
        for i, (name, image) in enumerate((("before", before), ("after", after))):
            ax = fig.add_subplot(1, panels, 3 + i)
            ax.imshow(image, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
            ax.set_title(name)
            ax.set_axis_off()
            ax.figure.colorbar(ax.images[0], ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    if path is not None:
        from bgsub import io

        io.write_figure(fig, path, dpi=110)
    return fig
