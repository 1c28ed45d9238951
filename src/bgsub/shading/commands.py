"""``bgsub shading``: estimate a profile from a folder or store, apply one to images."""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path
from typing import Any

import click
import numpy as np

from bgsub._dtypes import OUTPUT_DTYPES
from bgsub.shading._registry import get_shading_method, list_shading_methods
from bgsub.shading.api import DEFAULT_SHADING_METHOD, DEFAULT_WORKING_SIZE, estimate_shading

__all__ = ["shading_group"]


def _parse_options(values: tuple[str, ...]) -> dict[str, Any]:
    from bgsub.config import parse_option

    return dict(parse_option(text) for text in values)


@click.group("shading")
def shading_group() -> None:
    """Flat-field and dark-field shared by many tiles (see docs/shading.md)."""


@shading_group.command("methods")
def methods_command() -> None:
    """List the shading methods and their options."""
    for method in list_shading_methods():
        dark = " (+dark-field)" if method.darkfield else ""
        click.echo(f"{method.name}{dark}: {method.summary}")
        for p in method.parameters:
            click.echo(f"    {p.name}={p.default!r}  {p.doc}")


@shading_group.command("estimate")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The profile to write, e.g. profile.ome.tif (OME-TIFF).")
@click.option("-m", "--method", default=DEFAULT_SHADING_METHOD, show_default=True,
              type=click.Choice([m.name for m in list_shading_methods()]),
              help="Shading method.")
@click.option("--darkfield/--no-darkfield", default=False, show_default=True,
              help="Also estimate the dark-field (lowrank only).")
@click.option("--dark-frame", default=None, metavar="FILE",
              help="A measured dark frame (camera offset; e.g. the mean of frames taken with "
                   "the shutter closed): subtracted from every tile before the fit, and saved "
                   "as the profile's dark-field. Instead of --darkfield.")
@click.option("--dark-offset", default=None, type=float, metavar="COUNTS",
              help="A flat camera offset in the tiles' units, used like --dark-frame (e.g. "
                   "the offset in the camera's specification). Instead of --darkfield.")
@click.option("--baseline", is_flag=True, help="Also estimate each tile's baseline (drift).")
@click.option("--working-size", default=DEFAULT_WORKING_SIZE, show_default=True,
              type=click.IntRange(min=4),
              help="Tiles are binned to at most this many pixels per axis.")
@click.option("--sample", default=1000, show_default=True, type=click.IntRange(min=2),
              help="Fit on at most this many tiles, evenly spaced.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A method option, e.g. -O terms=10 (repeatable).")
@click.option("--figure/--no-figure", default=False, show_default=True,
              help="Also write <output>.png: the fields and a before/after mosaic.")
@click.option("--grid", "columns", default=3, show_default=True, type=click.IntRange(min=1),
              help="Tiles per row of the figure's mosaic (the first rows are shown).")
def estimate_command(sources: tuple[str, ...], output: Path, method: str, darkfield: bool,
                     dark_frame: str | None, dark_offset: float | None, baseline: bool,
                     working_size: int, sample: int,
                     options: tuple[str, ...], figure: bool, columns: int) -> None:
    """Estimate the shading of the tiles in SOURCE (a folder of images, a quoted glob pattern
    of image files, a stack file or a Zarr store; or several image files) and save it as an
    OME-TIFF profile for `bgsub run --flatfield`.

    \b
    Examples:
      bgsub shading estimate tiles/ -o profile.ome.tif --figure
      bgsub shading estimate "plate/*_w1.tif" -o w1.ome.tif
      bgsub shading estimate plate.zarr -o profile.ome.tif --darkfield
      bgsub shading estimate tiles/ -o profile.ome.tif --dark-frame dark.tif
      bgsub shading estimate tiles/ -o profile.ome.tif --dark-offset 100
    """
    # (several arguments: files, the shell's expansion of an unquoted pattern among them)
    source: str | list[str] = sources[0] if len(sources) == 1 else list(sources)
    png = output.with_name(output.name.split(".")[0] + ".png") if figure else None
    try:
        _check_profile_paths(source, output, png)
        given = [name for name, on in (("--darkfield", darkfield),
                                       ("--dark-frame", dark_frame is not None),
                                       ("--dark-offset", dark_offset is not None)) if on]
        if len(given) > 1:
            raise ValueError(f"give one of {' and '.join(given)}, not both: --darkfield "
                             "estimates the dark-field, --dark-frame FILE or --dark-offset "
                             "COUNTS is a measured one")
        if darkfield and not get_shading_method(method).darkfield:
            # (the API's own message names its keywords: darkfield=FRAME)
            raise ValueError(f"-m {method} does not estimate a dark-field; use -m lowrank for "
                             "--darkfield, or give a measured one with --dark-frame FILE or "
                             "--dark-offset COUNTS")
        if dark_frame is not None:
            from bgsub.shading.files import load_fields

            darkfield = load_fields(None, dark_frame).darkfield
        elif dark_offset is not None:
            darkfield = float(dark_offset)  # a float: never read as True / False
        profile = estimate_shading(source, method, darkfield, baseline=baseline,
                                   working_size=working_size, sample=sample,
                                   **_parse_options(options))
    except (TypeError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    profile.save(output)
    flat = profile.flatfield
    fitted = profile.options.get("tiles_fitted", profile.options["tiles"])
    click.echo(f"profile    : {method}, {profile.options['tiles']} tiles "
               + (f"({fitted} fitted, --sample) " if fitted < profile.options["tiles"] else "")
               + f"{profile.shape[0]}x{profile.shape[1]}; flat-field "
               f"{float(flat.min()):.3f}-{float(flat.max()):.3f}"
               + (f"; dark-field mean {float(profile.darkfield.mean()):.1f}"
                  if profile.darkfield_estimated else ""))
    click.echo(f"wrote      : {output}")
    if png is not None:
        tiles = _first_tiles(source, columns * min(columns, 3))
        from bgsub import io
        from bgsub.shading.figure import profile_figure

        io.write_figure(profile_figure(profile, tiles, columns,
                                       title=f"bgsub shading: {method}"), png, dpi=110)
        click.echo(f"wrote      : {png}")


def _check_profile_paths(source: str | list[str], output: Path, figure: Path | None) -> None:
    """Refuse, before anything is read, a profile name that is not a TIFF's, and a profile
    or figure that would replace one of the tiles (or the stack) of ``source`` or land in
    the tiles' folder (or match their pattern), where the next estimate would read the
    profile as a tile."""
    from bgsub import io
    from bgsub.paths import check_not_input, check_not_replacing, is_inside, real
    from bgsub.shading.profile import check_profile_name

    check_profile_name(output)
    hint = "choose another -o"
    paths = [Path(s) for s in ([source] if isinstance(source, str) else source)]
    source_path = paths[0]
    folder = len(paths) == 1 and source_path.is_dir() and not io.is_zarr(source_path)
    pattern = len(paths) == 1 and not source_path.exists() and glob.has_magic(str(source_path))
    inputs = [*paths, *(source_path.iterdir() if folder else ()),
              *(Path(p) for p in glob.glob(str(source_path), recursive=True) if pattern)]
    for path in (output, figure):
        if path is not None:
            check_not_input(path, inputs, hint)
    if folder:
        if real(output).parent == real(source_path):
            raise ValueError(f"the profile {output} would be written among the tiles of "
                             f"{source}, where the next estimate would read it as a tile; "
                             f"{hint} outside that folder")
    elif pattern:
        if _matches(output, str(source_path)):
            raise ValueError(f"the profile {output} matches the tiles' pattern {source}, so "
                             f"the next estimate would read it as a tile; {hint}")
    elif len(paths) == 1 and is_inside(output, source_path):
        raise ValueError(f"the profile {output} would be written inside {source}; {hint} "
                         "outside it")
    if figure is not None and real(figure) == real(output):
        raise ValueError(f"the figure {figure} would replace the profile {output}; name the "
                         "profile e.g. profile.ome.tif")
    _check_not_replacing_data(output)
    if figure is not None:
        check_not_replacing(figure, "choose another -o (the figure is named after it)",
                            figure=True)


def _matches(path: Path, pattern: str) -> bool:
    """Whether the glob ``pattern`` would find ``path`` (once written), both resolved: an
    absolute ``-o``, or one through ``..`` or a link, names the same file as a relative one.
    The folders the pattern's folder part matches are compared with the path's, resolved,
    and its last part with the path's name; the absolute spellings are compared as well,
    for a folder the pattern would match that does not exist yet."""
    from bgsub.paths import real

    folder, name = os.path.split(pattern)
    folders = glob.glob(folder, recursive=True) if glob.has_magic(folder) else [folder or "."]
    if fnmatch.fnmatch(path.name, name) and any(real(f) == real(path.parent) for f in folders):
        return True
    return fnmatch.fnmatch(os.path.abspath(path), os.path.abspath(pattern))


def _check_not_replacing_data(output: Path) -> None:
    """Refuse to write the profile over an existing file that is not one: an image of the
    user's, named by mistake, would be lost. An earlier profile is replaced (a rerun)."""
    from bgsub import io
    from bgsub.shading.profile import PROFILE_KIND

    if not output.exists() and not output.is_symlink():
        return
    try:
        kind = (io.read_provenance(output) or {}).get("kind")
    except (OSError, ValueError, io.UnsupportedFileError):
        kind = None
    if kind != PROFILE_KIND or not output.is_file():
        raise ValueError(f"{output} exists and is not a bgsub shading profile; choose another "
                         "-o, or move that file away first")


def _first_tiles(source: str | list[str], count: int) -> np.ndarray:
    """The first ``count`` tiles of ``source``, first channel: (count, Y, X)."""
    from bgsub.shading._sources import tile_set

    tiles = tile_set(source)
    picked = [np.asarray(tiles.read(i)) for i in range(min(count, tiles.count))]
    return np.stack([t if t.ndim == 2 else t[0] for t in picked])


@shading_group.command("apply")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for the results.")
@click.option("--flatfield", default=None, metavar="FILE",
              help="A `bgsub shading estimate` profile or a flat-field image.")
@click.option("--darkfield", default=None, metavar="FILE",
              help="A dark-frame image, subtracted before --flatfield. To fit the flat-field "
                   "with it removed, give it to `bgsub shading estimate --dark-frame` too.")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@click.option("--output-dtype", type=click.Choice(OUTPUT_DTYPES), default="same",
              show_default=True, help="Pixel type of the result (same: the input's, values "
              "past its top clipped, with a warning; float32 keeps them).")
def apply_command(inputs: tuple[str, ...], outdir: Path, flatfield: str | None,
                  darkfield: str | None, recursive: bool, overwrite: bool,
                  output_dtype: str) -> None:
    """Correct the shading of every INPUT, instead of subtracting a background (for both in
    one pass: `bgsub run ... --flatfield FILE`). Outputs keep the input's name, format,
    dtype and metadata, with a provenance record.

    \b
    Example:
      bgsub shading apply tiles/ -o flat --flatfield profile.ome.tif
    """
    import dataclasses

    from bgsub import io
    from bgsub._version import __version__
    from bgsub.batch import expand_inputs, processing
    from bgsub.paths import check_inside, real
    from bgsub.shading.files import apply_to_image, fields_identity, load_fields
    from bgsub.shading.profile import CORRECTION_KIND

    try:
        profile = load_fields(flatfield, darkfield)
    except (TypeError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    sources, problems = expand_inputs(inputs, recursive)
    failed = len(problems)
    for problem in problems:
        click.echo(f"failed     : {problem.path}: {problem.message}", err=True)
    # (the fields' own files, in the inputs' folder, are not images to correct)
    fields = {real(f) for f in (flatfield, darkfield) if f is not None}
    sources = [s for s in sources if real(s.path) not in fields]
    in_float = output_dtype != "same"
    targets = [_apply_target(outdir, source.relative, in_float) for source in sources]
    _refuse_shared_targets(sources, targets)
    record = {"kind": CORRECTION_KIND, "bgsub": __version__,
              "flatfield": flatfield, "darkfield": darkfield, "method": profile.method,
              **fields_identity(flatfield, darkfield)}
    for source, target in zip(sources, targets, strict=True):
        try:
            check_inside(target, outdir)
            if target.exists() and not overwrite:
                raise ValueError(f"{target} exists; add --overwrite or choose another -o")
            if target.resolve() == source.path.resolve():
                raise ValueError("the output would replace its input; choose another -o")
            image, meta = io.read_image(source.path)
            with processing(source.path):  # (its warnings name the file)
                corrected = apply_to_image(image, meta.axes, profile, output_dtype)
            target.parent.mkdir(parents=True, exist_ok=True)
            io.write_image(target, corrected, dataclasses.replace(meta, provenance=None),
                           {**record, "input": str(source.path)},
                           format=_written_format(corrected, meta, target))
            click.echo(f"done       : {target}")
        except (TypeError, ValueError, OSError) as exc:
            failed += 1
            click.echo(f"failed     : {source.path}: {exc}", err=True)
    if failed:
        raise click.ClickException(f"{failed} input(s) failed")


def _apply_target(outdir: Path, relative: Path, in_float: bool = False) -> Path:
    """Where ``bgsub shading apply`` writes an input's correction (JPEG, lossy, as PNG; a
    PNG or JPEG corrected ``in_float``, which they cannot hold, as TIFF)."""
    target = outdir / relative
    suffix = target.suffix.lower()
    if in_float and suffix in (".png", ".jpg", ".jpeg"):
        return target.with_suffix(".tif")
    return target.with_suffix(".png") if suffix in (".jpg", ".jpeg") else target


def _written_format(image: np.ndarray, meta: Any, target: Path) -> str | None:
    """The input's own format (None), or plain TIFF where that cannot hold the corrected
    pixels: floats from a PNG or JPEG (``target``, from :func:`_apply_target`, is then a
    ``.tif``), float64 in an ImageJ hyperstack (ImageJ reads float32 at most)."""
    from bgsub import io

    if meta.format in ("png", "jpeg") and target.suffix == ".tif":
        return "tiff"
    if meta.format == "imagej":
        try:
            io.check_writable(image.shape, image.dtype, meta)
        except ValueError:
            return "tiff"
    return None


def _refuse_shared_targets(sources: list[Any], targets: list[Path]) -> None:
    """Refuse, before anything is written, two inputs that would write one output."""
    from bgsub.paths import real

    seen: dict[Path, Any] = {}
    for source, target in zip(sources, targets, strict=True):
        first = seen.setdefault(real(target), source)
        if first is not source:
            raise click.ClickException(
                f"{first.path} and {source.path} would both write {target}; rename one, or "
                "process them into separate folders")
