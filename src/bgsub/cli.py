"""The ``bgsub`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

import bgsub
from bgsub.api import subtract_background


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(bgsub.__version__, prog_name="bgsub")
def main() -> None:
    """Remove uneven background from microscopy images."""


@main.command("methods")
def methods_command() -> None:
    """List the background methods and their options."""
    for method in bgsub.list_methods():
        aliases = f" (alias: {', '.join(method.aliases)})" if method.aliases else ""
        click.echo(f"{method.name}{aliases}: {method.summary}")
        for p in method.parameters:
            choices = f" [{'|'.join(map(str, p.choices))}]" if p.choices else ""
            click.echo(f"    {p.name}={p.default!r}{choices}: {p.doc}")


@main.command("demo")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True, help="Folder for the results.")
@click.option("--method", default="rolling_ball", show_default=True)
@click.option("--radius", type=float, default=30.0, show_default=True)
def demo_command(outdir: Path, method: str, radius: float) -> None:
    """Correct the bundled sample image and write the result and a comparison figure."""
    import tifffile

    from bgsub.data import sample
    from bgsub.plot import compare

    image = sample()
    foreground, background = subtract_background(image, method, radius, return_background=True)
    outdir.mkdir(parents=True, exist_ok=True)
    tif = outdir / "sample_nuclei_foreground.tif"
    png = outdir / "sample_nuclei_comparison.png"
    _atomic_tiff(tif, foreground, tifffile)
    compare(image, background, foreground, title=f"bgsub demo: {method}, radius {radius:g}",
            path=png)
    click.echo(f"input      : bundled sample {image.shape} {image.dtype}, "
               f"range {int(image.min())}-{int(image.max())}")
    click.echo(f"background : {method}, radius {radius:g}; "
               f"range {float(np.min(background)):.0f}-{float(np.max(background)):.0f}")
    click.echo(f"wrote      : {tif}")
    click.echo(f"wrote      : {png}")


def _atomic_tiff(path: Path, data: np.ndarray, tifffile) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tifffile.imwrite(tmp, data, compression="zlib")
    tmp.replace(path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
