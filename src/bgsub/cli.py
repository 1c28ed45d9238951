"""The ``bgsub`` command line: ``run``, ``info``, ``methods`` and ``demo``.

A thin face over :mod:`bgsub.batch` (planning and running) and :mod:`bgsub.io`
(files); see ``docs/cli.md`` for every option.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

import bgsub
from bgsub._dtypes import OUTPUT_DTYPES
from bgsub.api import subtract_background
from bgsub.config import (
    OUTPUT_FORMATS,
    ConfigError,
    Settings,
    load_config,
    parse_chunks,
    parse_option,
    settings_from_imagej,
)
from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS, get_method, is_auto_radius
from bgsub.methods.imagej import DEFAULT_IMAGEJ_VERSION, IMAGEJ_VERSIONS
from bgsub.plot import SWEEP_METHODS
from bgsub.shading.commands import shading_group


class _OneLineGroup(click.Group):
    """Usage errors as one ``bgsub: error:`` line naming the fix, not click's usage block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line; print a usage error on one line and exit 2."""
        kwargs["standalone_mode"] = False
        _escape_undecodable_names()
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.Abort:  # Ctrl-C outside `bgsub run`, which has its own
            _fail("interrupted by SIGINT", 128 + signal.SIGINT)
        except click.exceptions.NoArgsIsHelpError as exc:  # plain `bgsub`: the help
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "bgsub"
            _fail(f"{_unquote(exc.format_message())}; see {command} -h", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _escape_undecodable_names() -> None:
    """Print a file name with bytes that are not UTF-8 (``a\\xffb.tif``) escaped.

    Python decodes such bytes to lone surrogates, which a UTF-8 stream refuses
    to print (``UnicodeEncodeError``): one odd name would end the batch.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")


def _unquote(message: str) -> str:
    """Click's message without its trailing full stop, on one line."""
    return " ".join(message.split()).rstrip(".")


@click.group(cls=_OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(bgsub.__version__, prog_name="bgsub")
def main() -> None:
    """Remove uneven background from microscopy images."""
    # tifffile logs every oddity of a damaged file; bgsub reports one line per file instead.
    logging.getLogger("tifffile").setLevel(logging.ERROR)
    # a background that may be wrong: one "bgsub: warning:" line naming the file, for each
    # file and warning (a stack's planes, an image's channels, warn alike: counted, not shown)
    warnings.simplefilter("always", bgsub.BackgroundWarning)
    warnings.showwarning = _show_warning
    _SHOWN.clear()


class _Shown:
    """The warnings shown in this run: each file's each warning once, its numbers aside (a
    stack's planes and an image's channels say the same with other figures); the rest
    counted. Files are run on worker threads, hence the lock."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.repeats = 0

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self.repeats = 0

    def first(self, where: Path, text: str) -> bool:
        """Whether ``text`` (about the file ``where``) is the first of its kind; counted
        as a repeat otherwise."""
        key = (str(where), re.sub(r"\d+(?:\.\d+)?", "#", text))
        with self._lock:
            if key in self._seen:
                self.repeats += 1
                return False
            self._seen.add(key)
            return True


_SHOWN = _Shown()


def _report_repeats() -> None:
    """At the end of a command: how many warnings :class:`_Shown` counted and did not show."""
    if _SHOWN.repeats:
        more = _SHOWN.repeats
        click.echo(f"bgsub: {more} more warning{'s' if more > 1 else ''} like those above (the "
                   "same file's other planes, channels or settings) not shown", err=True)


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None) -> None:
    """Python's warnings as one ``bgsub: warning: FILE: message`` line on stderr, each
    file's each warning once (:class:`_Shown`)."""
    from bgsub.batch import current_input

    where = current_input()  # (None outside a file's work -- shading: every one shown)
    if where is None or _SHOWN.first(where, " ".join(str(message).split())):
        _echo_warning(message, where)


def _echo_warning(message: Warning | str, where: Path | None) -> None:
    """One ``bgsub: warning: FILE: message`` line on stderr (``where``: the file, if any)."""
    prefix = f"{where}: " if where is not None else ""
    click.echo(f"bgsub: warning: {prefix}{' '.join(str(message).split())}", err=True)


main.add_command(shading_group)


@main.command("methods")
def methods_command() -> None:
    """List the background methods and their options."""
    for method in bgsub.list_methods():
        aliases = f" (alias: {', '.join(method.aliases)})" if method.aliases else ""
        default = " [default]" if method.name == DEFAULT_METHOD else ""
        click.echo(f"{method.name}{aliases}{default}: {method.summary}")
        for p in method.parameters:
            choices = f" [{'|'.join(map(str, p.choices))}]" if p.choices else ""
            click.echo(f"    {p.name}={p.default!r}{choices}: {p.doc}")


@main.command("demo")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True, help="Folder for the results.")
@click.option("--method", default=DEFAULT_METHOD, show_default=True,
              help="Method; the default is the recommended noise-aware one.")
@click.option("--radius", default="auto", show_default=True,
              help="Radius in pixels, or 'auto' to measure it from the objects.")
def demo_command(outdir: Path, method: str, radius: str) -> None:
    """Correct the bundled sample image and write the result and a comparison figure."""
    from bgsub import io, provenance
    from bgsub.auto import suggest_radius
    from bgsub.data import sample_path
    from bgsub.plot import compare

    image, meta = io.read_image(sample_path())
    try:
        size = suggest_radius(image).radius if is_auto_radius(radius) else float(radius)
    except ValueError:
        _fail(f"--radius {radius!r} is not a number; give pixels or 'auto'", 2)
    try:
        foreground, background = subtract_background(image, method, size,
                                                     return_background=True)
        tif = _demo_target(outdir / "sample_nuclei_foreground.tif", outdir, figure=False)
        png = _demo_target(outdir / "sample_nuclei_comparison.png", outdir, figure=True)
    except (TypeError, ValueError) as exc:
        _fail(str(exc), 2)
    outdir.mkdir(parents=True, exist_ok=True)
    # (with its provenance, as bgsub run writes: a rerun knows the file for its own)
    record = provenance.embedded_record({"method": method, "radius": size},
                                        provenance.input_record(Path(sample_path()), None),
                                        "foreground")
    io.write_image(tif, foreground, meta, record, format="tiff")
    figure = compare(image, background, foreground,
                     title=f"bgsub demo: {method}, radius {size:.1f}")
    io.write_figure(figure, png)
    click.echo(f"input      : bundled sample {image.shape} {image.dtype}, "
               f"range {int(image.min())}-{int(image.max())}")
    click.echo(f"background : {method}, radius {size:.1f} ({radius}); "
               f"range {float(np.min(background)):.0f}-{float(np.max(background)):.0f}")
    click.echo(f"wrote      : {tif}")
    click.echo(f"wrote      : {png}")


def _demo_target(path: Path, outdir: Path, *, figure: bool) -> Path:
    """``path`` inside ``outdir``, and not a file of the user's that the demo would replace."""
    from bgsub import paths

    return paths.check_not_replacing(paths.check_inside(path, outdir),
                                     "choose another --output", figure=figure)


# -- bgsub run ----------------------------------------------------------------------------

def _chunks_option(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> tuple[int, ...] | None:
    try:
        return None if value is None else parse_chunks(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--chunks "), ctx, param) from None


def _streaming(ctx: click.Context, jobs: int | None) -> Any:
    """``--chunks``, ``--scheduler`` and ``--jobs`` as :class:`bgsub.stream.Streaming`."""
    from bgsub.stream import StreamError, Streaming, connect

    given = ctx.get_parameter_source("chunks") == click.core.ParameterSource.COMMANDLINE
    address = ctx.params.get("scheduler")
    try:
        client = connect(address) if address else None
    except StreamError as exc:
        _fail(str(exc), 2)
    return Streaming(chunks=ctx.params.get("chunks"), threads=jobs,
                     always=given or client is not None, client=client)


# click parameter name -> Settings field, for values given on the command line
_SETTING_PARAMS = {
    "method": "method", "radius": "radius", "light_background": "light_background",
    "presmooth": "presmooth", "true_3d": "true_3d", "axes": "axes", "spacing": "spacing",
    "offset": "offset", "missing": "missing", "output_dtype": "output_dtype",
    "save_background": "save_background",
    "fmt": "format", "suffix": "suffix", "series": "series",
    "figure": "figure", "figure_plane": "figure_plane", "pyramid": "pyramid",
    "flatfield": "flatfield", "darkfield": "darkfield",
}


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@main.command("run")
@click.argument("inputs", nargs=-1)
@click.option("-o", "--output", "outdir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the results (created if needed).")
@click.option("-m", "--method", default=DEFAULT_METHOD, show_default=True,
              help="Background method (see `bgsub methods`).")
@click.option("--radius", default=f"{DEFAULT_RADIUS:g}", show_default=True,
              help="Neighbourhood radius in pixels; or one per spatial axis, Z,Y,X.")
@click.option("--light/--dark", "light_background", default=False,
              help="Bright background with dark objects (bright field).  [default: dark]")
@click.option("--presmooth", default=None, metavar="KIND:SIZE",
              help="Smooth before estimating: mean:1, median:1, gaussian:1 (or none).")
@click.option("--3d/--per-slice", "true_3d", default=False,
              help="True 3D neighbourhood over Z, Y, X, or each Z plane alone.  "
                   "[default: per-slice]")
@click.option("--axes", default=None, metavar="TZCYX",
              help="Override the file's axes, one letter per array axis.")
@click.option("--spacing", default="auto", show_default=True, metavar="auto|none|Z,Y,X",
              help="Pixel sizes that scale a scalar radius per axis; auto: from the file.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A method option, e.g. -O footprint=box (repeatable).")
@click.option("--offset", type=float, default=0.0, show_default=True,
              help="Added before rounding, to keep slightly negative values.")
@click.option("--missing", type=float, default=None, metavar="VALUE",
              help="Pixels of this value are not data (a mosaic's padding, e.g. 0): they "
              "weigh on no background and keep their value.")
@click.option("--output-dtype", type=click.Choice(OUTPUT_DTYPES),
              default="same", show_default=True, help="Pixel type of the result.")
@click.option("--save-background", is_flag=True,
              help="Also write the background (float32) as <name>_background.")
@click.option("--figure/--no-figure", default=False,
              help="Also write raw | background | foreground with a line profile as "
                   "<name>_comparison.png.  [default: no-figure]")
@click.option("--figure-plane", default="middle", show_default=True, metavar="middle|max|N",
              help="The plane of a stack that --figure shows: the middle one, the maximum "
                   "projection, or plane N.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="same",
              show_default=True, help="Output format (same: as the input; JPEG -> PNG).")
@click.option("--pyramid", type=click.Choice(["auto", "on", "off"]), default="auto",
              show_default=True, help="Tiled sub-resolutions in TIFF/OME-TIFF outputs; auto: "
              "when the input had them or a plane is over 8192 px a side.")
@click.option("--suffix", default="", help="Added to output file names, e.g. _bgsub.")
@click.option("--series", default="all", show_default=True, metavar="all|N",
              help="Which series of multi-series files.")
@click.option("--imagej", default=None, metavar="OPTIONS",
              help='ImageJ "Subtract Background" options, e.g. "rolling=50 light".')
@click.option("--imagej-version", type=click.Choice(IMAGEJ_VERSIONS), default=None,
              help=f"The ImageJ release the imagej method reproduces.  "
                   f"[default: {DEFAULT_IMAGEJ_VERSION}, today's Fiji]")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Settings file (TOML/YAML) or a provenance record (.bgsub.json).")
@click.option("--pipeline", default=None, help="Named pipeline of the --config file.")
@click.option("-j", "--jobs", type=click.IntRange(min=1, max=256), default=None,
              help="Files processed at once (threads); for a streamed input, its threads.  "
                   "[default: one file per core where every file is at most 32 MiB, else "
                   "1; streamed: one thread per core]")
@click.option("--chunks", default=None, metavar="auto|Y,X|Z,Y,X", callback=_chunks_option,
              help="Stream TIFF and Zarr inputs in chunks of this many pixels (-1: whole axis); "
                   "Zarr and TIFFs over 1 GiB are streamed anyway.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Stream inputs on this dask.distributed scheduler, e.g. tcp://host:8786.")
@click.option("--flatfield", default=None, metavar="FILE", help="Divide by this flat-field "
              "first: a `bgsub shading estimate` profile or a flat-field image.")
@click.option("--darkfield", default=None, metavar="FILE",
              help="Subtract this dark-field (a dark-frame image) before --flatfield. Give "
                   "the same file to `bgsub shading estimate --dark-frame` when estimating "
                   "the profile, or the flat-field's contrast falls short by offset / level.")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders (and **).")
@click.option("--overwrite", is_flag=True,
              help="Allow an output to replace its own input (-o the input folder).")
@click.option("--force", is_flag=True, help="Redo outputs that are up to date.")
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be done; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True,
              help="Print every file and full tracebacks of errors.")
@click.pass_context
def run_command(ctx: click.Context, inputs: tuple[str, ...], outdir: Path, config: Path | None,
                pipeline: str | None, imagej: str | None, options: tuple[str, ...],
                jobs: int | None,
                recursive: bool, overwrite: bool, force: bool, dry_run: bool, quiet: bool,
                verbose: bool, **_: Any) -> None:
    """Subtract the background of every INPUT (files, folders or glob patterns).

    \b
    Examples:
      bgsub run cells.tif -o corrected
      bgsub run raw/ -r -o corrected --method tophat --radius 30 -O footprint=box
      bgsub run "raw/*.ome.tif" -o corrected --config lab.toml --pipeline nuclei
      bgsub run --config corrected/cells.tif.bgsub.json -o again   # reproduce
    """
    started = time.perf_counter()
    _install_signal_handlers()
    try:
        _run_command(ctx, inputs, outdir, config, pipeline, imagej, options, jobs, recursive,
                     overwrite, force, dry_run, quiet, verbose, started)
    except KeyboardInterrupt as exc:  # before any output was started
        signum = getattr(exc, "signum", signal.SIGINT)
        _fail(f"interrupted by {signal.Signals(signum).name} before anything was written",
              128 + signum)


def _run_command(ctx: click.Context, inputs: tuple[str, ...], outdir: Path,
                 config: Path | None, pipeline: str | None, imagej: str | None,
                 options: tuple[str, ...], jobs: int | None, recursive: bool, overwrite: bool,
                 force: bool, dry_run: bool, quiet: bool, verbose: bool, started: float
                 ) -> NoReturn:
    from bgsub import batch

    named = bool(inputs)  # (INPUT given: the record's own input is not read)
    try:
        settings, inputs = _settings(ctx, inputs, config, pipeline, imagej, options)
    except ConfigError as exc:
        _fail(str(exc), 2)
    if config is not None:
        _warn_if_record_input_changed(config, with_input=not named)
    if not inputs:
        _fail("no INPUT given; name files, folders or patterns (or a provenance --config)", 2)
    sources, problems = batch.expand_inputs(inputs, recursive)
    try:
        jobs_planned, plan_problems = batch.plan_jobs(sources, outdir, settings,
                                                      overwrite=overwrite, force=force)
    except batch.PlanError as exc:
        _fail(str(exc), 2)
    problems += plan_problems
    problems += [batch.Result(j.source.path, "failed", j.reason, j)
                 for j in jobs_planned if j.action == "refuse"]
    todo = [j for j in jobs_planned if j.action == "run"]
    skipped = [batch.Result(j.source.path, "skipped", j.reason, j)
               for j in jobs_planned if j.action == "skip"]
    out = _Printer(quiet, verbose)
    for problem in problems:
        out.result(problem)
    if dry_run:
        _dry_run(out, todo, skipped, problems)
    streaming = _streaming(ctx, jobs)
    for result in skipped:
        out.result(result)
    if todo:
        try:
            batch.prepare_folders(todo)
        except batch.PlanError as exc:
            _fail(str(exc), 1)
    try:
        results = _run(out, todo, settings, jobs or batch.default_workers(todo), streaming)
    finally:
        if streaming.client is not None:
            streaming.client.close()
    code = out.summary(results + skipped + problems, time.perf_counter() - started)
    sys.exit(code)


def _settings(ctx: click.Context, inputs: tuple[str, ...], config: Path | None,
              pipeline: str | None, imagej: str | None, options: tuple[str, ...]
              ) -> tuple[Settings, list[str]]:
    """Defaults < config file < --imagej < options given on the command line; a method named
    later leaves the options of the method named before behind."""
    settings = Settings()
    found: list[str] = []
    named = None  # (the method named so far: its options go where another replaces it)
    if config is not None:
        values, found = load_config(config, pipeline)
        settings, named = settings.updated(values), values.get("method")
    elif pipeline is not None:
        raise ConfigError("--pipeline needs --config FILE; add the config file or drop "
                          "--pipeline")
    if imagej is not None:
        values = settings_from_imagej(imagej)
        settings, named = settings.updated(values, named), values.get("method")
    explicit: dict[str, Any] = {}
    for param, name in _SETTING_PARAMS.items():
        if ctx.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE:
            explicit[name] = ctx.params[param]
    explicit["options"] = dict(parse_option(text) for text in options)
    if imagej is not None and "method" in explicit:
        _check_imagej_method(imagej, explicit["method"])
    settings = settings.updated(explicit, named).validated()
    version = ctx.params.get("imagej_version")
    if version is not None:
        if settings.method != "imagej":
            raise ConfigError(f"--imagej-version applies to the imagej method, not "
                              f"{settings.method!r}; add --imagej OPTIONS or --method imagej")
        settings = settings.updated({"options": {"imagej_version": version}}).validated()
    return settings, list(inputs) or found


def _check_imagej_method(imagej: str, method: str) -> None:
    """``--imagej`` runs the imagej method: a ``--method`` naming another contradicts it (its
    ImageJ options would reach a method that has none of them)."""
    try:
        name = get_method(method).name
    except (TypeError, ValueError):
        return  # (the settings' validation names the unknown method)
    if name != "imagej":
        raise ConfigError(f"--imagej {imagej!r} runs the imagej method, but --method {method} "
                          f"asks for another; drop --method to reproduce ImageJ, or drop "
                          f"--imagej and set {method} with --radius, --light and -O")


def _warn_if_record_input_changed(config: Path, with_input: bool = True) -> None:
    """``--config RECORD``: say so when the input the record names (where it is the one read:
    ``with_input``) or a shading file it was corrected with is not what it was made from."""
    from bgsub import provenance

    record = provenance.read_sidecar(config)
    why = provenance.input_mismatch(record, with_input) if record is not None else None
    if why:
        click.echo(f"bgsub: warning: {config}: {why}", err=True)


def _dry_run(out: _Printer, todo: list, skipped: list, problems: list) -> NoReturn:
    for job in todo:
        why = f" ({job.reason})" if job.reason else ""
        out.always(f"would write {job.output}  <- {job.source.path}{_series(job)}{why}")
        if job.background is not None:
            out.always(f"would write {job.background}")
        if job.figure is not None:
            out.always(f"would write {job.figure}")
    for result in skipped:
        out.always(f"would skip  {result.job.output} ({result.message})")
    out.always(f"dry run: {len(todo)} to do, {len(skipped)} up to date, "
               f"{len(problems)} failed; nothing written")
    sys.exit(1 if problems else 0)


def _series(job: Any) -> str:
    return f" [series {job.series}]" if job.series is not None else ""


def _run(out: _Printer, todo: list, settings: Settings, workers: int, streaming: Any = None
         ) -> list:
    from bgsub import batch, io
    from bgsub.progress import Task

    cancel = threading.Event()
    # a bar on a terminal, a log line per file elsewhere (docs/cli.md)
    files = (out.progress.task(len(todo), unit="file", interval=0) if len(todo) >= 2
             else Task(len(todo)))

    def on_result(result: batch.Result) -> None:
        out.result(result, files)
        files.advance()

    stack = _stack_bar(out.progress) if not out.quiet else None  # for jobs run one at a time
    try:
        results = batch.run_batch(todo, settings, workers=workers, on_result=on_result,
                                  cancel=cancel, stack_progress=stack, streaming=streaming)
        _ignore_late_signals()  # inside the try: no signal can land between the two
        return results
    except KeyboardInterrupt as exc:
        cancel.set()
        io.cleanup_live_temp_files()
        files.close()
        signum = getattr(exc, "signum", signal.SIGINT)
        # (no count: a write the interrupt unwound through removed its own partial file
        # already, and "removed 0" then read as if nothing had been cleaned)
        out.error(f"interrupted by {signal.Signals(signum).name}: {out.count('done')} done, "
                  "the rest not written (partial files removed); run the same command again "
                  "to resume")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)  # do not wait for worker threads still computing
    finally:
        files.close()


def _install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    A SIGINT that is ignored (a background job of a script, ``nohup``) stays ignored.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise_interrupted)


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _ignore_late_signals() -> None:
    """Every output is written: a SIGINT/SIGTERM now changes nothing, so the summary and
    the exit code stay those of the finished batch (not "interrupted before anything
    was written")."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is _raise_interrupted:
            signal.signal(signum, lambda *_: None)


def _stack_bar(reporter: Any) -> Callable[[Any, int], Callable[[int], Any] | None]:
    """``batch.StackProgress``: a task of the planes (or streamed chunks) of one large file,
    below the files' bar on a terminal; log lines at most every 10 s elsewhere."""

    def make(job: Any, total: int, unit: str = "plane") -> Callable[[int], Any] | None:
        if total < 2:
            return None
        task = reporter.task(total, job.source.path.name, unit, position=1, leave=False)

        def update(n: int) -> None:
            task.advance(n)
            if task.done >= total:
                task.close()

        return update

    return make


class _Printer:
    """Per-file lines (verbose), errors (always), the summary (unless quiet)."""

    def __init__(self, quiet: bool, verbose: bool) -> None:
        from bgsub.progress import Reporter

        self.quiet, self.verbose = quiet, verbose
        self.counts: dict[str, int] = {}
        self.progress = Reporter(quiet=quiet)

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    def always(self, text: str) -> None:
        click.echo(text)

    def error(self, text: str) -> None:
        click.echo(f"bgsub: {text}", err=True)

    def result(self, result: Any, task: Any = None) -> None:
        self.counts[result.status] = self.count(result.status) + 1
        series = _series(result.job) if result.job is not None else ""
        if result.status == "failed":
            line = f"error: {result.path}{series}: {result.message}"
            if self.verbose and result.details:
                line += "\n" + result.details.rstrip()
            _write(line, task, err=True)
        elif self.verbose and result.status == "done":
            from bgsub.provenance import radius_text

            measured = ("" if result.radius is None else
                        f"radius auto: {radius_text(result.radius)} px, ")
            _write(f"done: {result.path}{series} -> {result.message} "
                   f"({measured}{result.seconds:.1f} s)", task)
        elif self.verbose and result.status == "skipped":
            _write(f"skip: {result.job.output} ({result.message})", task)

    def summary(self, results: list, seconds: float) -> int:
        failed = sum(r.status == "failed" for r in results)
        done = sum(r.status == "done" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        if not self.quiet or failed:
            click.echo(f"bgsub: {done} done, {skipped} skipped (up to date), {failed} failed "
                       f"in {seconds:.1f} s", err=bool(failed))
        _report_repeats()
        return 1 if failed else 0


def _write(text: str, task: Any = None, err: bool = False) -> None:
    """A line that does not break a progress bar being drawn."""
    if task is not None:
        task.write(text, err)
    else:
        click.echo(text, err=err)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"bgsub: error: {message}", err=True)
    if code > 128:
        # an interrupted read can leave a coroutine (zarr's async I/O) never awaited; its
        # RuntimeWarning at shutdown would break the promise of one error line
        warnings.simplefilter("ignore")
    sys.exit(code)


# -- bgsub info ---------------------------------------------------------------------------


@main.command("info")
@click.argument("files", nargs=-1, required=True)
@click.option("--series", default=None, type=click.IntRange(min=0),
              help="Only this series (default: every series).")
def info_command(files: tuple[str, ...], series: int | None) -> None:
    """Print shape, axes, dtype, pixel size, channels and value range of image FILES."""
    from bgsub import io
    from bgsub.batch import one_line

    failed = 0
    for name in files:
        try:
            fmt, count = io.probe(name)
            click.echo(f"{name}: {fmt}, {count} series")
            for index in [series] if series is not None else range(count):
                with _lazy_image(name, index) as (image, meta):
                    _print_series(image, meta, count)
            if fmt == "png" and io.is_bgsub_figure(name):
                click.echo("  bgsub      : a figure bgsub wrote (a picture, not data to process)")
        except BrokenPipeError:  # (`bgsub info *.tif | head`: click ends quietly)
            raise
        except Exception as exc:
            click.echo(f"bgsub: error: {name}: {one_line(exc)}", err=True)
            failed += 1
    sys.exit(1 if failed else 0)


@contextlib.contextmanager
def _lazy_image(path: str | Path, series: int) -> Iterator[tuple[Any, Any]]:
    """A file's image as a Dask array of Y-X planes (bands of rows when a plane is large),
    the file closed when the block ends (left to the garbage collector, an open TIFF's
    ResourceWarning came at a random later moment).

    TIFF and Zarr stay on disk until a chunk is computed; what reads them
    holds a few planes at a time.
    """
    from bgsub import io

    array, meta = io.open_image(path, series)
    try:
        yield _planes_of(array, meta), meta
    finally:
        if hasattr(array, "close"):
            array.close()


def _planes_of(array: Any, meta: Any) -> Any:
    """``array`` (a file's lazily read image) as a Dask array of Y-X planes."""
    import dask.array as da

    itemsize = np.dtype(array.dtype).itemsize
    chunks = []
    for axis, size in zip(meta.axes, array.shape, strict=True):
        chunks.append(size if axis in "YXS" else 1)
    if "Y" in meta.axes:
        row_bytes = int(np.prod([n for a, n in zip(meta.axes, array.shape, strict=True)
                                 if a in "XS"])) * itemsize
        y = meta.axes.index("Y")
        chunks[y] = max(1, min(array.shape[y], (64 * 2**20) // max(row_bytes, 1)))
    return da.from_array(array, chunks=tuple(chunks), lock=False, asarray=True,
                         meta=np.empty((0,) * array.ndim, dtype=array.dtype))


def _middle_plane(image: Any, axes: str) -> tuple[np.ndarray, str]:
    """The middle entry of every axis but Y, X and S, read: the plane figures show."""
    index = tuple(slice(None) if a in "YXS" else n // 2
                  for a, n in zip(axes, image.shape, strict=True))
    return np.asarray(image[index]), "".join(a for a in axes if a in "YXS")


def _samples_note(meta: Any) -> str:
    """How ``bgsub run`` reads the samples of a file whose samples are channels (a grey TIFF
    of several samples per pixel), which ``info`` shows as the file stores them."""
    processed = meta.samples_as_channels().axes
    return f" (samples are channels: processed as {processed})" if processed != meta.axes else ""


def _print_series(image: Any, meta: Any, count: int) -> None:
    indent = "  "
    if count > 1:
        click.echo(f"  series {meta.series}:")
        indent = "    "
    click.echo(f"{indent}shape      : {image.shape}")
    click.echo(f"{indent}axes       : {meta.axes}{_samples_note(meta)}")
    click.echo(f"{indent}dtype      : {image.dtype}")
    sizes = ", ".join(f"{a} {meta.spacing[a]:g} {meta.units.get(a, '')}".rstrip()
                      for a in meta.axes if a in meta.spacing)
    click.echo(f"{indent}pixel size : {sizes or 'unknown'}")
    if meta.channel_names:
        click.echo(f"{indent}channels   : {', '.join(meta.channel_names)}")
    if meta.name:
        click.echo(f"{indent}name       : {meta.name}")
    if image.size and np.issubdtype(image.dtype, np.number):
        import dask
        import dask.array as da

        if image.dtype.kind == "f":
            low, high = dask.compute(da.nanmin(image), da.nanmax(image))
        else:
            low, high = dask.compute(image.min(), image.max())
        click.echo(f"{indent}range      : {low} - {high}")
    made = _made_by_bgsub(meta.provenance)
    if made:
        click.echo(f"{indent}bgsub      : {made}")


def _made_by_bgsub(record: dict[str, Any] | None) -> str | None:
    """What ``bgsub info`` says of a file bgsub wrote: a background's foreground or
    background, a shading profile, a shading correction (None: not bgsub's)."""
    from bgsub.provenance import radius_text
    from bgsub.shading.profile import CORRECTION_KIND, PROFILE_KIND

    if not isinstance(record, dict):
        return None
    kind = record.get("kind")
    if "parameters" in record:
        params, source = record["parameters"], record.get("input")
        name = source.get("name") if isinstance(source, dict) else source
        measured = record.get("measured_radius")
        measured = (f" (measured: {radius_text(measured, 'g')} px)"
                    if isinstance(measured, list) and measured else "")
        return (f"{kind or 'output'} of {name}, {params.get('method')} radius "
                f"{params.get('radius')}{measured} (bgsub {record.get('bgsub_version')})")
    if kind == PROFILE_KIND:
        tiles = (record.get("options") or {}).get("tiles")
        dark = ", dark-field estimated" if record.get("darkfield_estimated") else ""
        return (f"shading profile, {record.get('method')}, {tiles} tiles{dark} "
                f"(bgsub {record.get('bgsub')})")
    if kind == CORRECTION_KIND:
        dark = f", dark-field {record['darkfield']}" if record.get("darkfield") else ""
        return (f"shading correction of {record.get('input')}, flat-field "
                f"{record.get('flatfield')}{dark} (bgsub {record.get('bgsub')})")
    return None


def _finite_missing(ctx: click.Context, param: click.Parameter, value: float | None
                    ) -> float | None:
    """``--missing``'s value, checked as the API checks ``missing=``: a usage error (exit 2)
    before any file is read."""
    from bgsub.engine import check_missing

    try:
        return check_missing(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("suggest")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--light/--dark", "light_background", default=False,
              help="Bright background, dark objects.")
@click.option("--missing", type=float, default=None, metavar="VALUE", callback=_finite_missing,
              help="Pixels of this value are not data (a mosaic's padding, e.g. 0).")
@click.option("--series", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def suggest_command(file: Path, light_background: bool, missing: float | None, series: int,
                    quiet: bool) -> None:
    """Estimate the objects' size in FILE and print the radius bgsub would choose, and why."""
    from bgsub.auto import findings, suggest_radius
    from bgsub.batch import one_line
    from bgsub.progress import Reporter

    progress = Reporter(quiet=quiet).callback(file.name, "plane", leave=False)
    try:
        with _lazy_image(file, series) as (image, meta):  # (only the planes measured read)
            found = suggest_radius(image, meta.axes, light_background=light_background,
                                   progress=progress, missing=missing)
    except Exception as exc:
        _fail(f"{file}: {one_line(exc)}", 1)
    click.echo(f"object radius : {found.object_radius:.1f} px")
    if math.isfinite(found.contrast):
        faint = f" (faint: the radius {found.faint:.2g}x wider)" if found.faint > 1.0 else ""
        click.echo(f"contrast      : {found.contrast:.2g} noise sds{faint}")
    click.echo(f"radius        : {found.radius:.1f} px")
    click.echo(f"why           : {found.reason}")
    for finding in findings(found):  # (what radius="auto" warns of, as `bgsub run` says it)
        _echo_warning(finding, file)


#: Most columns (radii) and cells (methods x radii) a sweep montage may have.
MAX_SWEEP_RADII = 50
MAX_SWEEP_CELLS = 200


def _radius_range(text: str) -> list[float]:
    """``10:100:10`` (start:stop:step, stop included) or ``10,20,40``; at most 50 finite radii > 0.

    The count is checked before the list is made: ``1:100000:1`` is refused, not built.
    """
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if not (step > 0 and stop >= start and np.isfinite([start, stop, step]).all()):
                raise ValueError
            count = math.floor((stop - start) / step + 0.5) + 1
            if count > MAX_SWEEP_RADII:
                raise click.BadParameter(
                    f"{text!r} gives {count} radii; a montage shows at most {MAX_SWEEP_RADII}, "
                    "use a larger step, e.g. 10:100:10")
            radii = [start + i * step for i in range(count)]
        else:
            radii = [float(v) for v in text.split(",")]
        if len(radii) > MAX_SWEEP_RADII:
            raise click.BadParameter(f"{len(radii)} radii; a montage shows at most "
                                     f"{MAX_SWEEP_RADII}")
        if not all(np.isfinite(r) and r > 0 for r in radii):
            raise ValueError
        return radii
    except ValueError:
        raise click.BadParameter(f"{text!r}: use START:STOP:STEP (e.g. 10:100:10) or 10,20,40, "
                                 "with radii > 0") from None


@main.command("sweep")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-m", "--method", "methods", default=",".join(SWEEP_METHODS),
              show_default=True, help="Comma-separated methods, one montage row each.")
@click.option("--radius", "radii", default="10:50:10", show_default=True,
              help="Radii: START:STOP:STEP or a comma list, one montage column each.")
@click.option("--min-size", default=None, help="Erosion radii of the min-then-max top-hat.")
@click.option("--max-size", default=None, help="Dilation radii of the min-then-max top-hat.")
@click.option("--show", type=click.Choice(["foreground", "background"]), default="foreground",
              show_default=True)
@click.option("--light/--dark", "light_background", default=False)
@click.option("--missing", type=float, default=None, metavar="VALUE", callback=_finite_missing,
              help="Pixels of this value are not data (a mosaic's padding, e.g. 0): they "
              "weigh on no background and no score.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="PNG of the montage (default: FILE stem + _sweep.png).")
@click.option("--series", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def sweep_command(file: Path, methods: str, radii: str, min_size: str | None,
                  max_size: str | None, show: str, light_background: bool,
                  missing: float | None, out: Path | None, series: int, quiet: bool) -> None:
    """Montage of FILE's foreground over methods x radii, with a table of quality scores."""
    from bgsub import batch, io
    from bgsub.batch import one_line, processing
    from bgsub.plot import sweep
    from bgsub.progress import Reporter

    out = out or file.with_name(f"{io.split_name(file.name)[0]}_sweep.png")
    chosen = _sweep_methods(methods)
    columns = _radius_range(radii)
    mins = _radius_range(min_size) if min_size else None
    maxs = _radius_range(max_size) if max_size else None
    _check_sweep_cells(chosen, (radii, columns), (min_size, mins), (max_size, maxs))
    _check_sweep_output(out, file)
    try:  # (created as `run` creates -o, before anything is computed)
        batch.make_writable_folder(out.parent)
    except batch.PlanError as exc:
        _fail(str(exc), 1)
    try:
        # the montage shows one plane: only that plane is read and swept (samples that
        # `run` processes as channels are a C axis, of which the middle channel is shown)
        with _lazy_image(file, series) as (lazy, meta):
            image, axes = _middle_plane(lazy, meta.samples_as_channels().axes)
        with processing(file):  # (its warnings name the file, once each)
            result = sweep(image, chosen, columns, show=show, min_sizes=mins, max_sizes=maxs,
                           axes=axes, light_background=light_background, missing=missing,
                           progress=Reporter(quiet=quiet).callback(file.name, "cell",
                                                                   leave=False))
    except click.BadParameter:
        raise
    except Exception as exc:
        _fail(f"{file}: {one_line(exc)}", 1)
    try:
        io.write_figure(result.figure, out, dpi=100)
    except Exception as exc:  # (the montage, not the input, could not be written)
        _fail(f"{out}: {one_line(exc)}", 1)
    click.echo(result.table())
    click.echo(f"wrote {out}")
    _report_repeats()


def _sweep_methods(text: str) -> list[str]:
    """``-m``'s methods, each known (a usage error, exit 2, before the image is read)."""
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    if not chosen:
        _fail(f"-m {text!r} names no method; give e.g. -m tophat,median", 2)
    for name in chosen:
        try:
            get_method(name)
        except ValueError as exc:
            _fail(f"-m: {exc}", 2)
    return chosen


def _check_sweep_cells(methods: list[str], radii: tuple[str, list[float]],
                       mins: tuple[str | None, list[float] | None],
                       maxs: tuple[str | None, list[float] | None]) -> None:
    """Refuse, before reading the image, a montage of more than :data:`MAX_SWEEP_CELLS`
    cells: methods x radii, or with ``--min-size`` / ``--max-size`` minimum x maximum sizes
    (the methods and radii unused; one of the two alone is both), naming a larger step."""
    if mins[1] is None and maxs[1] is None:
        lists = {"--radius": radii}
        rows, what = len(methods), f"{len(methods)} methods x {len(radii[1])} radii"
    else:
        lists = {flag: given for flag, given in (("--min-size", mins), ("--max-size", maxs))
                 if given[1] is not None}
        rows = len((mins[1] or maxs[1]) or ())
        what = f"{rows} minimum x {len((maxs[1] or mins[1]) or ())} maximum sizes"
    columns = len((maxs[1] or mins[1] or radii[1]) or ())
    cells = rows * columns
    if cells <= MAX_SWEEP_CELLS:
        return
    steps = _larger_steps(lists, rows if len(lists) == 1 and "--radius" in lists else None)
    fix = ", ".join(f"{flag} {text}" for flag, text in steps.items())
    _fail(f"the montage would have {cells} cells ({what}); it shows at most "
          f"{MAX_SWEEP_CELLS}: " + (f"use a larger step, e.g. {fix}" if fix else
                                    "give fewer methods"), 2)


def _larger_steps(lists: dict[str, tuple[str | None, list[float] | None]], rows: int | None
                  ) -> dict[str, str]:
    """The ranges of ``lists`` (flag: its text and values) with their steps multiplied by the
    least factor that leaves at most :data:`MAX_SWEEP_CELLS` cells: ``rows`` rows (methods)
    times the one list's values, or the lists' values multiplied (one list alone: squared)."""
    counts = [len(values or ()) for _, values in lists.values()]
    for factor in range(1, max(counts) + 1):
        thinned = [-(-n // factor) for n in counts]
        cells = rows * thinned[0] if rows is not None else (
            thinned[0] * (thinned[1] if len(thinned) > 1 else thinned[0]))
        if cells <= MAX_SWEEP_CELLS:
            break
    else:
        return {}  # (rows alone exceed the cap: fewer methods)
    steps = {}
    for flag, (text, _) in lists.items():
        parts = (text or "").split(":")
        if len(parts) == 3:
            start, stop, step = (float(v) for v in parts)
            steps[flag] = f"{start:g}:{stop:g}:{step * factor:g}"
        else:
            steps[flag] = "with fewer values" if factor > 1 else text
    return steps


def _check_sweep_output(out: Path, file: Path) -> None:
    """Refuse a montage path that is the input, not a PNG's, a folder, or a file other than
    a figure bgsub wrote (a user's image or figure of that name would be lost)."""
    from bgsub import paths

    try:
        paths.check_not_input(out, [file], "choose another -o, e.g. montage.png")
        paths.check_name(out, "montage")
    except ValueError as exc:
        _fail(str(exc), 2)
    if out.is_dir():
        _fail(f"{out} is a folder; give the montage's file name with -o, e.g. montage.png", 2)
    if out.suffix.lower() != ".png":
        # (a .tif or .jpg montage carried no mark: a rerun refused it, `run` read it as data)
        _fail(f"{out}: a montage is a PNG, the format bgsub marks as its figure (a rerun "
              "replaces it, a run on its folder leaves it out); give -o "
              f"{out.with_suffix('.png')}", 2)
    try:
        paths.check_not_replacing(out, "choose another -o, e.g. montage.png", figure=True)
    except ValueError as exc:
        _fail(str(exc), 2)
