"""Figures: raw | background | foreground side by side, with a line profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compare"]


def compare(
    image: np.ndarray,
    background: np.ndarray,
    foreground: np.ndarray,
    *,
    title: str = "",
    path: str | Path | None = None,
    profile_row: int | None = None,
) -> Any:
    """Figure of raw, background and foreground with a line profile across them.

    Parameters
    ----------
    image, background, foreground : ndarray
        2D arrays of the same shape (pass a plane or a projection of a stack).
    title : str
        Figure title (e.g. the method and radius).
    path : str or Path, optional
        Where to save a PNG; the figure is returned either way.
    profile_row : int, optional
        Row of the line profile; the middle row by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((32, 32))
    >>> fig = compare(img, img * 0, img)
    >>> len(fig.axes)
    4
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    row = image.shape[0] // 2 if profile_row is None else int(profile_row)
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    grid = fig.add_gridspec(2, 3, height_ratios=(3, 1.4))
    low, high = np.nanpercentile(image, (0.5, 99.8))
    panels = (("raw", image, (low, high)), ("background", background, (low, high)),
              ("foreground", foreground, tuple(np.nanpercentile(foreground, (0.5, 99.8)))))
    for col, (name, data, (vmin, vmax)) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(data, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.axhline(row, color="tab:orange", lw=0.8, alpha=0.7)
        ax.set_title(name)
        ax.set_axis_off()
    ax = fig.add_subplot(grid[1, :])
    ax.plot(image[row], lw=0.8, color="0.4", label="raw")
    ax.plot(background[row], lw=1.6, color="tab:blue", label="background")
    ax.plot(foreground[row], lw=0.8, color="tab:green", label="foreground")
    ax.set_xlabel(f"x (pixels), row {row}")
    ax.set_ylabel("intensity")
    ax.legend(loc="upper right", ncols=3, fontsize="small")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
