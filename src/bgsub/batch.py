"""Batches: expand inputs, plan outputs, skip what is up to date, run the rest.

Nothing here knows a background method: a job reads an image with
:mod:`bgsub.io`, hands it to :func:`bgsub.subtract_background` and writes the
result with its provenance. The planning step reports every problem that
would lose data (two inputs mapping to one output, an input about to be
overwritten, a folder that cannot be written) before anything is written.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import dataclasses
import errno
import glob
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgsub import io, paths, provenance
from bgsub import stream as _stream
from bgsub._lazy import import_before_threads
from bgsub.api import subtract_background
from bgsub.config import Settings
from bgsub.engine import Cancelled, Progress, measured_radii
from bgsub.jobs import api_keywords, figure_planes, image_outputs, resolve_parameters
from bgsub.kernels.threads import limit_threads, max_threads
from bgsub.shading.files import apply_to_image, fields_identity, load_fields

__all__ = ["Cancelled", "Job", "PlanError", "Result", "Source", "expand_inputs", "plan_jobs",
           "prepare_folders", "resolve_parameters", "run_batch", "run_job"]

#: Stacks at least this large get their own progress bar (when bars are shown).
STACK_PROGRESS_BYTES = 64 * 2**20
#: ``stack_progress(job, total[, unit])``: an ``update(n)`` for a bar of ``total`` steps, or None.
StackProgress = Callable[..., Callable[[int], Any] | None]
_FLOAT_ONLY = ("png",)
#: Name of the comparison figure (``--figure``), after the output's stem and suffix.
FIGURE_SUFFIX = "_comparison.png"
FIGURE_DPI = 110
# Matplotlib's text and font caches are not thread safe: one figure is drawn at a time.
_FIGURE_LOCK = threading.Lock()


class PlanError(Exception):
    """The batch cannot start without losing data; nothing was written."""


@dataclass(frozen=True)
class Source:
    """An input file and where its outputs go, relative to the output folder."""

    path: Path
    relative: Path


@dataclass
class Job:
    """One series of one input, with its planned outputs."""

    source: Source
    series: int | None
    input_format: str
    output: Path
    output_format: str
    background: Path | None = None
    background_format: str | None = None
    figure: Path | None = None
    action: str = "run"
    reason: str = ""

    @property
    def sidecar(self) -> Path:
        return provenance.sidecar_path(self.output)

    @property
    def in_place(self) -> bool:
        return _same_path(self.output, self.source.path)

    def outputs(self) -> dict[str, Path]:
        paths = {"image": self.output}
        if self.background is not None:
            paths["background"] = self.background
        if self.figure is not None:
            paths["figure"] = self.figure
        return paths


@dataclass
class Result:
    """What happened to one input (or one series of it)."""

    path: Path
    status: str
    message: str = ""
    job: Job | None = None
    details: str = ""
    seconds: float = 0.0
    #: the radius ``radius="auto"`` measured (pixels per spatial axis); None for one given
    radius: tuple[float, ...] | None = None


# -- inputs -------------------------------------------------------------------------------


def expand_inputs(patterns: Sequence[str], recursive: bool = False
                  ) -> tuple[list[Source], list[Result]]:
    """Files, folders and glob patterns -> image sources (deduplicated) and problems."""
    sources: list[Source] = []
    problems: list[Result] = []
    seen: set[str] = set()
    for pattern in patterns:
        found, earlier = _expand_one(pattern, recursive)
        if not found:
            problems.append(Result(Path(pattern), "failed",
                                   _nothing_found(pattern, recursive, earlier)))
        for source in found:
            key = _key(source.path)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return sources, problems


def _expand_one(pattern: str, recursive: bool) -> tuple[list[Source], int]:
    """The image sources ``pattern`` names, and how many images it found that earlier runs
    wrote (left out)."""
    path = Path(pattern)
    if path.is_dir() and not io.is_zarr(path):
        found = [Source(p, p.relative_to(path)) for p in _walk(path, recursive)]
    elif path.exists():
        return [Source(path, Path(path.name))], 0  # named explicitly: always taken
    elif not glob.has_magic(pattern):
        return [], 0
    else:
        root = _static_root(pattern)
        found = [Source(Path(m), Path(m).relative_to(root))
                 for m in paths.glob_once(pattern, root, recursive, io.is_zarr)
                 if _is_image_candidate(Path(m))]
    outputs = _outputs_recorded_near(s.path.parent for s in found)
    # (a figure bgsub drew -- a sweep's montage beside its input -- is a picture, not data)
    kept = [s for s in found if _key(s.path) not in outputs and not io.is_bgsub_figure(s.path)]
    return kept, len(found) - len(kept)


def _nothing_found(pattern: str, recursive: bool, earlier: int) -> str:
    """Why ``pattern`` gave no input, and what to do: a missing path, a folder without
    images (or with them only in subfolders), or only earlier runs' outputs."""
    path = Path(pattern)
    if earlier:
        found = "the image found is an output" if earlier == 1 else (
            f"all {earlier} images found are outputs")
        return (f"{found} of an earlier bgsub run (recorded in the .bgsub.json beside it, "
                f"or a figure it drew), not processed again; give the original images, or "
                f"name an output file itself to process it")
    if path.is_dir():
        below = not recursive and any(True for _ in _walk(path, True))
        return ("no image files in this folder, only in its subfolders; add -r to include "
                "them" if below else
                "no image files in this folder (TIFF, PNG, JPEG or Zarr); check the path")
    if glob.has_magic(pattern):
        return "no image file matches this pattern; check it"
    return "no such file or folder; check the path, or quote a glob pattern"


def _outputs_recorded_near(folders: Iterable[Path]) -> set[str]:
    """Outputs of earlier runs written into these folders (so that they are not re-processed).

    An output written over its own input (``--overwrite``) stays an input.
    """
    outputs: set[str] = set()
    for folder in set(folders):
        for sidecar in folder.glob(f"*{provenance.SIDECAR_SUFFIX}"):
            outputs.update(_key(p) for p in provenance.recorded_outputs(sidecar))
    return outputs


def _static_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    static: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def _walk(folder: Path, recursive: bool) -> Iterable[Path]:
    for entry in paths.walk_once(folder, recursive, io.is_zarr):
        if _is_image_candidate(entry):
            yield entry


def _is_image_candidate(path: Path) -> bool:
    if path.name.startswith(".") or path.name.endswith(provenance.SIDECAR_SUFFIX):
        return False
    if path.is_dir():
        return io.is_zarr(path)
    return path.suffix.lower() in io.IMAGE_SUFFIXES


# -- planning -----------------------------------------------------------------------------


def plan_jobs(
    sources: Sequence[Source],
    outdir: Path,
    settings: Settings,
    *,
    overwrite: bool = False,
    force: bool = False,
) -> tuple[list[Job], list[Result]]:
    """One job per selected series of each source, with skip decisions; and problems.

    Raises
    ------
    PlanError
        Two jobs would write the same file, an input would be overwritten, or the
        ``--flatfield`` / ``--darkfield`` files cannot be read or are not valid fields.
    """
    _check_shading_fields(settings)
    jobs: list[Job] = []
    problems: list[Result] = []
    for source in sources:
        try:
            jobs.extend(check_names(_jobs_for(source, outdir, settings)))
        except Exception as exc:  # a bad file is reported, the batch goes on
            problems.append(Result(source.path, "failed", one_line(exc),
                                   details=traceback.format_exc()))
    check_inside_output(jobs, outdir)
    check_collisions(jobs, [s.path for s in sources], overwrite)
    for job in jobs:
        _decide(job, settings, force)
    _skip_dataset_members(jobs, sources)
    return jobs, problems


def _companions(path: Path, series: int | None) -> list[Path]:
    """The other files ``path``'s image is read from (a multi-file OME-TIFF's)."""
    return [p for p in io.dataset_files(path, series) if _key(p) != _key(path)]


def _skip_dataset_members(jobs: Sequence[Job], sources: Sequence[Source]) -> None:
    """Skip the jobs of a multi-file OME-TIFF's other files where the file of its first
    plane is an input too: tifffile reads the whole dataset from any of them, so each
    would be processed (and written) once more as the whole."""
    inputs = {_key(s.path) for s in sources}
    for job in jobs:
        if job.action != "run":
            continue
        first = io.dataset_files(job.source.path, job.series)[0]  # (only OME-TIFFs opened)
        if _key(first) != _key(job.source.path) and _key(first) in inputs:
            job.action = "skip"
            job.reason = (f"a file of the multi-file OME-TIFF dataset read whole from "
                          f"{first.name}, processed once from it")


def _check_shading_fields(settings: Settings) -> None:
    """Load the batch's shading fields once: a missing, unreadable or invalid field is
    one error before anything runs, not the same failure for every file. (Whether a
    field's shape fits is per image, and stays a per-file failure.)"""
    if settings.flatfield is None and settings.darkfield is None:
        return
    try:
        load_fields(settings.flatfield, settings.darkfield)
    except (OSError, ValueError) as exc:
        raise PlanError(f"--flatfield / --darkfield: {one_line(exc)}") from exc


def _jobs_for(source: Source, outdir: Path, settings: Settings) -> list[Job]:
    fmt, count = io.probe(source.path)
    if settings.series == "all":
        indices = list(range(count))
    elif settings.series < count:
        indices = [int(settings.series)]
    else:
        raise ValueError(f"series {settings.series} does not exist (the file has {count}); "
                         f"use --series 0 to {count - 1} or --series all")
    out_fmt = _output_format(fmt, settings)
    stem = io.hcs_field_stem(source.path) or io.split_name(source.relative.name)[0]
    folder = outdir / source.relative.parent
    jobs = []
    for index in indices:
        tag = f"{settings.suffix}_s{index}" if count > 1 else settings.suffix
        ext = io.extension_for(out_fmt, source.relative.name)
        job = Job(source, index if count > 1 else None, fmt, folder / f"{stem}{tag}{ext}",
                  out_fmt)
        if settings.save_background:
            bg_fmt = "tiff" if out_fmt in _FLOAT_ONLY else out_fmt
            bg_ext = io.extension_for(bg_fmt, source.relative.name)
            job.background, job.background_format = folder / f"{stem}{tag}_background{bg_ext}", \
                bg_fmt
        if settings.figure:
            job.figure = folder / f"{stem}{tag}{FIGURE_SUFFIX}"
        jobs.append(job)
    return jobs


def _output_format(input_format: str, settings: Settings) -> str:
    fmt = settings.format
    if fmt == "same":
        fmt = "png" if input_format == "jpeg" else input_format
        if fmt == "png" and settings.output_dtype != "same":
            fmt = "tiff"  # PNG holds no floats
    return fmt


def check_names(jobs: list[Job]) -> list[Job]:
    """``jobs``, once every file name they write fits the file system (ValueError if not)."""
    for job in jobs:
        for path in (*job.outputs().values(), job.sidecar):
            paths.check_name(path)
    return jobs


def check_inside_output(jobs: Sequence[Job], outdir: Path) -> None:
    """Refuse (PlanError) any output, sidecar or figure that resolves outside ``outdir``."""
    for job in jobs:
        if job.source.path.is_dir() and paths.is_inside(outdir, job.source.path):
            raise PlanError(f"the output folder {outdir} lies inside the input store "
                            f"{job.source.path}; choose an output folder outside it")
        for path in (*job.outputs().values(), job.sidecar):
            try:
                paths.check_inside(path, outdir)
            except paths.OutsideOutputError as exc:
                raise PlanError(str(exc)) from None


def check_collisions(jobs: Sequence[Job], inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse two jobs writing one path, and any output landing on an input."""
    owners: dict[str, Job] = {}
    input_keys = {_key(p): p for p in inputs}
    for job in jobs:
        for path in (*job.outputs().values(), job.sidecar):
            key = _key(path)
            other = owners.get(key)
            if other is not None:
                raise PlanError(
                    f"{other.source.path} and {job.source.path} would both write {path}; "
                    "rename one, use --suffix, or process them into separate folders")
            owners[key] = job
            if key in input_keys and not (overwrite and path == job.output and job.in_place):
                hint = ("pass --overwrite to replace inputs in place"
                        if path == job.output and job.in_place
                        else "choose another output folder with -o")
                raise PlanError(f"{path} is an input and would be overwritten; {hint}")


def _decide(job: Job, settings: Settings, force: bool) -> None:
    """Run, skip (up to date) or refuse ``job``: refused where one of its outputs exists
    and bgsub did not write it (a user's file of that name), unless ``force``."""
    if force:
        job.reason = "--force" if job.output.exists() else ""
        return
    if job.output.exists():
        record = provenance.read_sidecar(job.sidecar)
        ok, reason = provenance.up_to_date(record, _request(settings), job.source.path,
                                           job.outputs(), job.in_place)
        if ok:
            job.action, job.reason = "skip", "up to date"
            return
        if job.in_place or record is not None:
            job.reason = reason
        elif io.written_by_bgsub(job.output):
            job.reason = "incomplete earlier run"
        else:
            _refuse(job, job.output)
            return
    foreign = _foreign_output(job)
    if foreign is not None:
        _refuse(job, foreign)


def _refuse(job: Job, path: Path) -> None:
    job.action = "refuse"
    job.reason = f"{path} exists and was not written by bgsub; pass --force to replace it"


def _foreign_output(job: Job) -> Path | None:
    """The first of ``job``'s other outputs (its background, its figure) that exists and
    was not written by bgsub: neither recorded in the job's sidecar as written by an earlier
    run nor carrying bgsub's own mark (a user's ``cells_comparison.png`` would be lost)."""
    recorded = None
    for role, path in job.outputs().items():
        if role == "image" or not (path.exists() or path.is_symlink()):
            continue
        if recorded is None:
            recorded = {_key(p) for p in provenance.recorded_outputs(job.sidecar)}
        if _key(path) not in recorded and paths.replaces_foreign_file(
                path, figure=role == "figure"):
            return path
    return None


def prepare_folders(jobs: Sequence[Job]) -> None:
    """Create the output folders, check they are writable, remove stale temporary files.

    Raises
    ------
    PlanError
        A folder cannot be created or written.
    """
    folders = sorted({job.output.parent for job in jobs if job.action == "run"}, key=str)
    for folder in folders:
        make_writable_folder(folder)
        io.remove_stale_temp_files(folder)


def make_writable_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) where it is missing, and check a file can be
    written in it: an output folder of ``run``, the folder of ``sweep``'s montage.

    Raises
    ------
    PlanError
        The folder cannot be created (a file of that name is in the way) or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = io.temp_path_for(folder / "write-probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PlanError(f"cannot write to output folder {folder}: {reason}; "
                        "choose a writable folder with -o") from None


# -- running ------------------------------------------------------------------------------


def process(
    image: np.ndarray,
    parameters: dict[str, Any],
    save_background: bool,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Foreground (and background) of ``image``: :func:`bgsub.subtract_background` with
    ``parameters`` (as :func:`resolve_parameters` gives them) and its progress.

    ``cancel`` is checked between planes (raising :class:`Cancelled`); unlike the API's
    ``cancel=``, planes are not cut into tiles, so a batch keeps its throughput.
    """
    if cancel is not None:
        progress = _stopping(cancel, progress)
    result = subtract_background(image, return_background=save_background, progress=progress,
                                 **api_keywords(parameters))
    return result if save_background else (result, None)


def _stopping(cancel: threading.Event, progress: Progress | None) -> Progress:
    """``progress`` that raises :class:`Cancelled` once ``cancel`` is set."""

    def check(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        _check(cancel)

    return check


def _bar(job: Job, stack_progress: StackProgress) -> Progress:
    """``progress(done, total)`` for the API, feeding the ``update(n)`` that
    ``stack_progress(job, total)`` makes once the total is known."""
    update: Callable[[int], Any] | None = None
    reported = 0

    def progress(done: int, total: int) -> None:
        nonlocal update, reported
        if update is None and done == 0:
            update = stack_progress(job, total)
        elif update is not None:
            update(done - reported)
        reported = done

    return progress


def run_job(
    job: Job,
    settings: Settings,
    *,
    cancel: threading.Event | None = None,
    stack_progress: StackProgress | None = None,
    streaming: _stream.Streaming | None = None,
    progress_bytes: int = STACK_PROGRESS_BYTES,
) -> Result:
    """Read, process and write one job; a failure becomes a ``failed`` result.

    With ``streaming``, a job it wants (a Zarr store, a large TIFF) is
    streamed chunk by chunk instead (:func:`bgsub.stream.run_job`). An image
    of at least ``progress_bytes`` reports its blocks to ``stack_progress``.
    """
    start = time.perf_counter()
    # for the warnings' one line (bgsub.cli); a context variable, so that the threads that
    # run the image's planes (copies of this context) name the file too
    with processing(job.source.path):
        try:
            _check(cancel)
            source = provenance.input_record(job.source.path, job.series,
                                             _companions(job.source.path, job.series))
            shaded = settings.flatfield is not None or settings.darkfield is not None
            if streaming is not None and not shaded and streaming.wants(job, settings):
                measured = _run_streamed(job, settings, streaming, source, stack_progress)
                return Result(job.source.path, "done", str(job.output), job,
                              seconds=time.perf_counter() - start, radius=measured)
            image, meta = io.read_image(job.source.path, job.series)
            parameters = resolve_parameters(settings, meta, image.shape)
            if settings.axes is not None:  # (written with the axes it was processed with)
                meta = meta.with_axes(parameters["axes"])
            if shaded:  # shading correction first (docs/shading.md), on the axes --axes names
                # (in floats where the output is: what passes an integer dtype's top is kept)
                image = apply_to_image(image, parameters["axes"],
                                       load_fields(settings.flatfield, settings.darkfield),
                                       "same" if settings.output_dtype == "same" else "float")
            _check_writable(job, settings, meta, image)
            progress = None
            if stack_progress is not None and image.nbytes >= progress_bytes:
                progress = _bar(job, stack_progress)
            _check(cancel)
            with measured_radii() as radii:
                foreground, background = process(image, parameters, settings.save_background
                                                  or job.figure is not None, progress, cancel)
            planes = figure_planes(job, settings, parameters, image, background, foreground)
            del image
            _check(cancel)
            measured = radii[0] if radii else None
            _write_outputs(job, settings, meta, parameters, source, foreground, background, planes,
                           measured)
        except Cancelled:
            return Result(job.source.path, "cancelled", "interrupted", job)
        except Exception as exc:  # one bad file must not stop the batch
            return Result(job.source.path, "failed", one_line(exc), job,
                          traceback.format_exc(), time.perf_counter() - start)
    return Result(job.source.path, "done", str(job.output), job,
                  seconds=time.perf_counter() - start, radius=measured)


_current_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "bgsub_current_input", default=None)


def current_input() -> Path | None:
    """The input file the calling thread is processing in :func:`run_job` (or inside
    :func:`processing`), if any (also on the threads that run its planes)."""
    return _current_path.get()


@contextlib.contextmanager
def processing(path: Path) -> Iterator[None]:
    """Within: :func:`current_input` is ``path``, on this thread and on the threads it starts
    with a copy of its context (a face working on one file: ``bgsub sweep``)."""
    token = _current_path.set(path)
    try:
        yield
    finally:
        _current_path.reset(token)


def _check_writable(job: Job, settings: Settings, meta: io.ImageMetadata,
                    image: np.ndarray) -> None:
    """The error writing the outputs would raise (a PNG of floats, an ImageJ hyperstack of
    float64), before the image is computed rather than after."""
    # (in native byte order: the API's results are)
    for fmt, dtype in image_outputs(job, settings, image.dtype.newbyteorder("=")):
        io.check_writable(image.shape, dtype, meta, fmt, settings.pyramid)


def _write_outputs(job: Job, settings: Settings, meta: io.ImageMetadata,
                   parameters: dict[str, Any], source: dict[str, Any],
                   foreground: np.ndarray, background: np.ndarray | None,
                   planes: tuple[tuple[np.ndarray, ...], str] | None = None,
                   measured: tuple[float, ...] | None = None) -> None:
    """Write the foreground (and background, figure) and the sidecar; ``measured``: the radius
    ``radius="auto"`` measured, recorded beside the parameters (:mod:`bgsub.provenance`)."""
    out_meta = dataclasses.replace(meta, provenance=None)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(job.output, foreground, out_meta,
                   provenance.embedded_record(parameters, source, "foreground", measured),
                   format=job.output_format, pyramid=settings.pyramid)
    outputs = {"image": (job.output, job.output_format)}
    if background is not None and job.background is not None:
        io.write_image(job.background, background.astype(np.float32), out_meta,
                       provenance.embedded_record(parameters, source, "background", measured),
                       format=job.background_format, pyramid=settings.pyramid)
        outputs["background"] = (job.background, job.background_format or job.output_format)
    if job.figure is not None and planes is not None:
        _write_figure(job, meta, parameters, *planes, measured=measured)
        outputs["figure"] = (job.figure, "png")
    _write_sidecar(job, settings, parameters, source, outputs, measured)


def _write_sidecar(job: Job, settings: Settings, parameters: dict[str, Any],
                   source: dict[str, Any], outputs: dict[str, tuple[Path, str]],
                   measured: tuple[float, ...] | None = None) -> None:
    run_settings = {"format": job.output_format, "save_background": settings.save_background,
                    "suffix": settings.suffix, "pyramid": settings.pyramid}
    if settings.figure:
        run_settings.update(figure=True, figure_plane=settings.figure_plane)
    # (resolved: --config RECORD, run from another folder, finds the same files)
    run_settings.update({role: str(Path(name).resolve()) for role, name in
                         (("flatfield", settings.flatfield), ("darkfield", settings.darkfield))
                         if name is not None})
    io.write_json(job.sidecar, provenance.sidecar_record(
        parameters, source, _request(settings), run_settings, outputs, measured))


def _request(settings: Settings) -> dict[str, Any]:
    """The settings a sidecar records, with the content hashes of the shading files they name:
    a profile changed in place makes the outputs corrected with the old one stale."""
    return {**settings.request(), **fields_identity(settings.flatfield, settings.darkfield)}


def _run_streamed(job: Job, settings: Settings, streaming: _stream.Streaming,
                  source: dict[str, Any], stack_progress: StackProgress | None
                  ) -> tuple[float, ...] | None:
    """Stream one job (read, subtract, write chunk by chunk), then its figure and sidecar;
    the radius ``radius="auto"`` measured (None for one given)."""
    progress = None if stack_progress is None else (
        lambda total: stack_progress(job, total, "chunk"))
    done = _stream.run_job(job, settings, streaming, source, progress)
    outputs = {"image": (job.output, job.output_format)}
    if job.background is not None:
        outputs["background"] = (job.background, job.background_format or job.output_format)
    if job.figure is not None and done.figure is not None:
        _write_figure(job, done.metadata, done.parameters, *done.figure, measured=done.measured)
        outputs["figure"] = (job.figure, "png")
    _write_sidecar(job, settings, done.parameters, source, outputs, done.measured)
    return done.measured


def _write_figure(job: Job, meta: io.ImageMetadata, parameters: dict[str, Any],
                  planes: tuple[np.ndarray, ...], shown: str,
                  measured: tuple[float, ...] | None = None) -> None:
    """raw | background | foreground with a line profile, as :func:`bgsub.plot.compare`,
    drawn with matplotlib's Agg canvas (no pyplot) and written atomically; the title names
    the radius, and the one ``radius="auto"`` ``measured``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bgsub.plot import compare

    radius = parameters["radius"]
    radius = ",".join(f"{r:g}" for r in radius) if isinstance(radius, list) else (
        f"{radius:g}" if isinstance(radius, float) else str(radius))
    if measured is not None:
        radius += f" ({provenance.radius_text(measured)} px)"
    series = f" [series {job.series}]" if job.series is not None else ""
    title = f"{job.source.path.name}{series}: {parameters['method']}, radius {radius}"
    if shown:
        title += f" ({shown})"
    size, unit = meta.spacing.get("X"), meta.units.get("X")
    with _FIGURE_LOCK:
        figure = compare(*planes, title=title, pixel_size=size if unit else None,
                         unit=unit or "", axes="CYX" if planes[0].ndim == 3 else None,
                         channel_names=meta.channel_names)
        FigureCanvasAgg(figure)
        io.write_figure(figure, job.figure, dpi=FIGURE_DPI)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled


def run_batch(
    jobs: Sequence[Job],
    settings: Settings,
    *,
    workers: int = 1,
    on_result: Callable[[Result], Any] | None = None,
    cancel: threading.Event | None = None,
    stack_progress: StackProgress | None = None,
    streaming: _stream.Streaming | None = None,
    progress_bytes: int = STACK_PROGRESS_BYTES,
) -> list[Result]:
    """Run ``jobs`` (one at a time, or on ``workers`` threads); report each result.

    With one worker everything runs in the calling thread, so an interrupt
    (``KeyboardInterrupt``) stops the batch at once and removes the temporary
    file being written. With several, the caller sets ``cancel`` on interrupt.
    Jobs that ``streaming`` streams run one at a time in the calling thread,
    after the others, each on the scheduler's threads (``streaming.threads``).
    """
    results: list[Result] = []

    def report(result: Result) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    def one_at_a_time(todo: Iterable[Job]) -> None:
        for job in todo:
            report(run_job(job, settings, cancel=cancel, stack_progress=stack_progress,
                           streaming=streaming, progress_bytes=progress_bytes))

    if workers <= 1:
        one_at_a_time(jobs)
        return results
    streamed = [job for job in jobs if streaming is not None and streaming.wants(job, settings)]
    jobs = [job for job in jobs if not any(job is other for other in streamed)]
    cancel = cancel or threading.Event()
    # what every job imports on first use (the reader, the radius's planner with SciPy)
    import_before_threads("tifffile", "bgsub.auto")
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bgsub")
    share = kernel_threads_per_worker(workers)
    futures = [pool.submit(_run_job_with_threads, share, job, settings, cancel)
               for job in jobs]
    try:
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=futures.index):
                report(future.result())
    except BaseException:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    one_at_a_time(streamed)
    return results


# -- helpers ------------------------------------------------------------------------------


#: ``bgsub run`` without ``--jobs`` runs files side by side only where each is at most this
#: big on disk (a 4096x4096 uint16 plane): a larger file, a stack, already keeps the cores
#: busy with its own planes (the engine runs them side by side), and several at once would
#: multiply the memory.
SMALL_FILE_BYTES = 32 * 2**20


def default_workers(jobs: Sequence[Job]) -> int:
    """Files run at once without ``--jobs``: one per core (at most one per file) where every
    file is small (``SMALL_FILE_BYTES`` on disk, not a folder such as a Zarr store), else 1.

    Examples
    --------
    >>> default_workers([])
    1
    """
    def small(job: Job) -> bool:
        try:
            return job.source.path.is_file() and job.source.path.stat().st_size <= \
                SMALL_FILE_BYTES
        except OSError:
            return False

    if len(jobs) < 2 or not all(small(job) for job in jobs):
        return 1
    return min(len(jobs), max_threads())


def kernel_threads_per_worker(workers: int) -> int:
    """Kernel threads for each of ``workers`` files run at once: the cores shared out.

    ``workers`` files each running kernels on every core would oversubscribe the
    machine (``workers`` x cores threads); results do not depend on the thread count.

    Examples
    --------
    >>> kernel_threads_per_worker(1) == max_threads()
    True
    >>> kernel_threads_per_worker(10 * max_threads())
    1
    """
    return max(1, max_threads() // max(1, workers))


def _run_job_with_threads(threads: int, job: Job, settings: Settings,
                          cancel: threading.Event) -> Result:
    with limit_threads(threads):
        return run_job(job, settings, cancel=cancel)


#: What to do about an operating-system error, by errno.
_OS_HINTS = {
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.ENOSPC: "free some space, or choose another output folder with -o",
    errno.EDQUOT: "free some space (disk quota), or choose another output folder with -o",
    errno.EROFS: "choose a writable output folder with -o",
    errno.EIO: "the disk or network share failed; check it and run again",
    errno.ENAMETOOLONG: "use a shorter name or folder",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.ENOENT: "check the path",
}


def one_line(exc: BaseException) -> str:
    """A one-line reason for ``exc``, without a traceback; OS errors name the fix.

    Examples
    --------
    >>> one_line(OSError(errno.ENOSPC, "No space left on device", "out/a.tif"))
    'No space left on device (out/a.tif); free some space, or choose another output folder with -o'
    """
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        hint = _OS_HINTS.get(exc.errno or 0)
        return f"{exc.strerror}{where}" + (f"; {hint}" if hint else "")
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    name = type(exc).__name__
    if not message:
        return name
    if isinstance(exc, (ValueError, TypeError, FileNotFoundError)) and not name.endswith(
            "Warning"):
        return message
    return f"{name}: {message}"


def _key(path: Path) -> str:
    """One spelling per file: symbolic links resolved, so that an output folder that is a
    link to an input folder is seen to overwrite its inputs."""
    return os.path.normcase(os.path.realpath(path))


def _same_path(a: Path, b: Path) -> bool:
    return _key(a) == _key(b)
