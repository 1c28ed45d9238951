"""Regenerate the README's figures from the bundled sample image: ``make figures``.

    python docs/images/make_figures.py [OUTDIR]      # default: this folder

Writes ``compare.png`` (the recommended setting: noise-aware ``robust`` method,
automatic radius), ``sweep.png`` (three methods x four radii) and
``sweep_minmax.png`` (the min-then-max top-hat's two sizes). The figures are
drawn by :mod:`bgsub.plot`, as ``bgsub run --figure`` and ``bgsub sweep`` draw
them, then stored as 256-colour PNGs to keep each under 300 KB.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

import bgsub
from bgsub.auto import suggest_radius
from bgsub.data import sample
from bgsub.plot import compare, sweep

HERE = Path(__file__).resolve().parent


def save(figure, path: Path, dpi: int) -> None:
    """The figure as a palette PNG (grey images and a few line colours fit in 256)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(256)
    image.save(path, format="png", optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB, {image.size[0]}x{image.size[1]})")


def main(outdir: Path = HERE) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    image = sample()
    radius = suggest_radius(image).radius
    foreground, background = bgsub.subtract_background(image, "robust", radius,
                                                       return_background=True)
    save(compare(image, background, foreground,
                 title=f"sample_nuclei.tif: robust, radius auto ({radius:.0f} px)"),
         outdir / "compare.png", dpi=90)
    save(sweep(image, ["rolling_ball", "tophat", "robust"], [8, 16, 32, 64]).figure,
         outdir / "sweep.png", dpi=70)
    save(sweep(image, min_sizes=[8, 16, 32], max_sizes=[8, 16, 32]).figure,
         outdir / "sweep_minmax.png", dpi=70)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
