"""Batches: expand inputs, plan outputs, skip what is up to date, run the rest.

Nothing here knows a background method: a job reads an image with
:mod:`bgsub.io`, hands it to :func:`bgsub.subtract_background` and writes the
result with its provenance. The planning step reports every problem that
would lose data (two inputs mapping to one output, an input about to be
overwritten, a folder that cannot be written) before anything is written.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import errno
import glob
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgsub import io, provenance
from bgsub import stream as _stream
from bgsub.api import subtract_background
from bgsub.config import Settings

__all__ = ["Job", "PlanError", "Result", "Source", "expand_inputs", "plan_jobs",
           "prepare_folders", "resolve_parameters", "run_batch", "run_job"]

#: Stacks at least this large get their own progress bar (when bars are shown).
STACK_PROGRESS_BYTES = 64 * 2**20
_FLOAT_ONLY = ("png",)
#: Name of the comparison figure (``--figure``), after the output's stem and suffix.
FIGURE_SUFFIX = "_comparison.png"
FIGURE_DPI = 110
# Matplotlib's text and font caches are not thread safe: one figure is drawn at a time.
_FIGURE_LOCK = threading.Lock()


class PlanError(Exception):
    """The batch cannot start without losing data; nothing was written."""


class Cancelled(Exception):
    """The batch was interrupted before this job finished."""


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


# -- inputs -------------------------------------------------------------------------------


def expand_inputs(patterns: Sequence[str], recursive: bool = False
                  ) -> tuple[list[Source], list[Result]]:
    """Files, folders and glob patterns -> image sources (deduplicated) and problems."""
    sources: list[Source] = []
    problems: list[Result] = []
    seen: set[str] = set()
    for pattern in patterns:
        found = _expand_one(pattern, recursive)
        if not found:
            problems.append(Result(Path(pattern), "failed",
                                   "no such file or folder, and no file matches it; "
                                   "check the path or quote the pattern"))
        for source in found:
            key = _key(source.path)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return sources, problems


def _expand_one(pattern: str, recursive: bool) -> list[Source]:
    path = Path(pattern)
    if path.is_dir() and not io._zarr.is_zarr(path):
        found = [Source(p, p.relative_to(path)) for p in _walk(path, recursive)]
    elif path.exists():
        return [Source(path, Path(path.name))]  # named explicitly: always taken
    elif not glob.has_magic(pattern):
        return []
    else:
        root = _static_root(pattern)
        found = [Source(Path(m), Path(m).relative_to(root))
                 for m in sorted(glob.glob(pattern, recursive=recursive))
                 if _is_image_candidate(Path(m))]
    outputs = _outputs_recorded_near(s.path.parent for s in found)
    return [s for s in found if _key(s.path) not in outputs]


def _outputs_recorded_near(folders: Iterable[Path]) -> set[str]:
    """Outputs of earlier runs written into these folders (so that they are not re-processed).

    An output written over its own input (``--overwrite``) stays an input.
    """
    outputs: set[str] = set()
    for folder in set(folders):
        for sidecar in folder.glob(f"*{provenance.SIDECAR_SUFFIX}"):
            record = provenance.read_sidecar(sidecar) or {}
            source = record.get("input", {}).get("path", "")
            for entry in record.get("outputs", {}).values():
                path = entry.get("path", "")
                if path and path != source:
                    outputs.add(_key(Path(path)))
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
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not io._zarr.is_zarr(entry):
            if recursive:
                yield from _walk(entry, recursive)
        elif _is_image_candidate(entry):
            yield entry


def _is_image_candidate(path: Path) -> bool:
    if path.name.startswith(".") or path.name.endswith(provenance.SIDECAR_SUFFIX):
        return False
    if path.is_dir():
        return io._zarr.is_zarr(path)
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
        Two jobs would write the same file, or an input would be overwritten.
    """
    jobs: list[Job] = []
    problems: list[Result] = []
    for source in sources:
        try:
            jobs.extend(_jobs_for(source, outdir, settings))
        except Exception as exc:  # a bad file is reported, the batch goes on
            problems.append(Result(source.path, "failed", one_line(exc),
                                   details=traceback.format_exc()))
    check_collisions(jobs, [s.path for s in sources], overwrite)
    for job in jobs:
        _decide(job, settings, force)
    return jobs, problems


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
    stem, _ = io.split_name(source.relative.name)
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
    if force:
        job.reason = "--force" if job.output.exists() else ""
        return
    if not job.output.exists():
        return
    record = provenance.read_sidecar(job.sidecar)
    ok, reason = provenance.up_to_date(record, settings.request(), job.source.path,
                                       job.outputs(), job.in_place)
    if ok:
        job.action, job.reason = "skip", "up to date"
        return
    if job.in_place or not job.output.exists() or record is not None:
        job.reason = reason
        return
    if _written_by_bgsub(job.output):
        job.reason = "incomplete earlier run"
        return
    job.action = "refuse"
    job.reason = (f"{job.output} exists and was not written by bgsub; "
                  "pass --force to replace it")


def _written_by_bgsub(path: Path) -> bool:
    try:
        return io.read_provenance(path) is not None
    except Exception:
        return False


def prepare_folders(jobs: Sequence[Job]) -> None:
    """Create the output folders, check they are writable, remove stale temporary files.

    Raises
    ------
    PlanError
        A folder cannot be created or written.
    """
    folders = sorted({job.output.parent for job in jobs if job.action == "run"}, key=str)
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = io._atomic.temp_path_for(folder / "write-probe")
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise PlanError(f"cannot write to output folder {folder}: {reason}; "
                            "choose a writable folder with -o") from None
        io.remove_stale_temp_files(folder)


# -- running ------------------------------------------------------------------------------


def resolve_parameters(settings: Settings, meta: io.ImageMetadata, shape: tuple[int, ...]
                       ) -> dict[str, Any]:
    """The exact keyword arguments for :func:`bgsub.subtract_background` for one image.

    ``axes`` come from ``--axes`` or the file; ``spacing="auto"`` uses the
    file's pixel sizes in 3D, and in 2D only when Y and X sizes differ.
    """
    axes = settings.axes or meta.axes
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
        "options": dict(settings.options),
    }


def _spacing_for(settings: Settings, meta: io.ImageMetadata, axes: str) -> list[float] | None:
    if isinstance(settings.spacing, tuple):
        return list(settings.spacing)
    if settings.spacing == "none" or isinstance(settings.radius, tuple):
        return None
    letters = "ZYX" if settings.true_3d else "YX"
    sizes = meta.spatial_spacing(letters) if all(a in axes for a in letters) else None
    if sizes is None or len({meta.units.get(a) for a in letters}) != 1:
        return None
    if not settings.true_3d and np.isclose(sizes[0], sizes[1], rtol=1e-6, atol=0):
        return None
    return list(sizes)


def process(
    image: np.ndarray,
    parameters: dict[str, Any],
    save_background: bool,
    progress: Callable[[int], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Foreground (and background) of ``image``; block by block when ``progress`` is given.

    The API processes each independent 2D/3D block on its own, so calling it
    per block gives the same pixels; ``progress(n)`` is called after each.
    """
    kwargs = {k: v for k, v in parameters.items() if k != "options"}
    kwargs.update(parameters["options"])
    if kwargs["spacing"] is not None:
        kwargs["spacing"] = tuple(kwargs["spacing"])
    axes = kwargs["axes"]
    spatial = "ZYX" if kwargs["true_3d"] else "YX"
    loop = [i for i, a in enumerate(axes) if a not in spatial]
    if progress is None or not loop:
        result = subtract_background(image, return_background=save_background, **kwargs)
        return result if save_background else (result, None)
    kwargs["axes"] = "".join(a for a in axes if a in spatial)
    foreground = background = None
    for index in np.ndindex(*(image.shape[i] for i in loop)):
        selector: list[Any] = [slice(None)] * image.ndim
        for axis, i in zip(loop, index, strict=True):
            selector[axis] = i
        out = subtract_background(image[tuple(selector)], return_background=True, **kwargs)
        if foreground is None:
            foreground = np.empty(image.shape, dtype=out[0].dtype)
            background = np.empty(image.shape, dtype=out[1].dtype) if save_background else None
        foreground[tuple(selector)] = out[0]
        if background is not None:
            background[tuple(selector)] = out[1]
        progress(1)
    return foreground, background


def block_count(shape: tuple[int, ...], parameters: dict[str, Any]) -> int:
    """How many independent blocks :func:`process` goes through."""
    spatial = "ZYX" if parameters["true_3d"] else "YX"
    return int(np.prod([n for a, n in zip(parameters["axes"], shape, strict=True)
                        if a not in spatial]))


def run_job(
    job: Job,
    settings: Settings,
    *,
    cancel: threading.Event | None = None,
    stack_progress: Callable[[Job, int], Callable[[int], Any] | None] | None = None,
    streaming: _stream.Streaming | None = None,
) -> Result:
    """Read, process and write one job; a failure becomes a ``failed`` result.

    With ``streaming``, a job it wants (a Zarr store, a large TIFF) is
    streamed chunk by chunk instead (:func:`bgsub.stream.run_job`).
    """
    start = time.perf_counter()
    try:
        _check(cancel)
        source = provenance.input_record(job.source.path, job.series)
        if streaming is not None and streaming.wants(job, settings):
            _run_streamed(job, settings, streaming, source, stack_progress)
            return Result(job.source.path, "done", str(job.output), job,
                          seconds=time.perf_counter() - start)
        image, meta = io.read_image(job.source.path, job.series)
        parameters = resolve_parameters(settings, meta, image.shape)
        progress = None
        if stack_progress is not None and image.nbytes >= STACK_PROGRESS_BYTES:
            progress = stack_progress(job, block_count(image.shape, parameters))
        _check(cancel)
        foreground, background = process(image, parameters, settings.save_background or
                                          job.figure is not None, progress)
        planes = _figure_planes(job, settings, parameters, image, background, foreground)
        del image
        _check(cancel)
        _write_outputs(job, settings, meta, parameters, source, foreground, background, planes)
    except Cancelled:
        return Result(job.source.path, "cancelled", "interrupted", job)
    except Exception as exc:  # one bad file must not stop the batch
        return Result(job.source.path, "failed", one_line(exc), job,
                      traceback.format_exc(), time.perf_counter() - start)
    return Result(job.source.path, "done", str(job.output), job,
                  seconds=time.perf_counter() - start)


def _write_outputs(job: Job, settings: Settings, meta: io.ImageMetadata,
                   parameters: dict[str, Any], source: dict[str, Any],
                   foreground: np.ndarray, background: np.ndarray | None,
                   planes: tuple[tuple[np.ndarray, ...], str] | None = None) -> None:
    out_meta = dataclasses.replace(meta, provenance=None)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(job.output, foreground, out_meta,
                   provenance.embedded_record(parameters, source, "foreground"),
                   format=job.output_format, pyramid=settings.pyramid)
    outputs = {"image": (job.output, job.output_format)}
    if background is not None and job.background is not None:
        io.write_image(job.background, background.astype(np.float32), out_meta,
                       provenance.embedded_record(parameters, source, "background"),
                       format=job.background_format, pyramid=settings.pyramid)
        outputs["background"] = (job.background, job.background_format or job.output_format)
    if job.figure is not None and planes is not None:
        _write_figure(job, meta, parameters, *planes)
        outputs["figure"] = (job.figure, "png")
    _write_sidecar(job, settings, parameters, source, outputs)


def _write_sidecar(job: Job, settings: Settings, parameters: dict[str, Any],
                   source: dict[str, Any], outputs: dict[str, tuple[Path, str]]) -> None:
    run_settings = {"format": job.output_format, "save_background": settings.save_background,
                    "suffix": settings.suffix}
    if settings.figure:
        run_settings.update(figure=True, figure_plane=settings.figure_plane)
    io.write_json(job.sidecar, provenance.sidecar_record(
        parameters, source, settings.request(), run_settings, outputs))


def _run_streamed(job: Job, settings: Settings, streaming: _stream.Streaming,
                  source: dict[str, Any],
                  stack_progress: Callable[..., Callable[[int], Any] | None] | None) -> None:
    """Stream one job (read, subtract, write chunk by chunk), then its figure and sidecar."""
    progress = None if stack_progress is None else (
        lambda total: stack_progress(job, total, "chunk"))
    done = _stream.run_job(job, settings, streaming, source, progress)
    outputs = {"image": (job.output, job.output_format)}
    if job.background is not None:
        outputs["background"] = (job.background, job.background_format or job.output_format)
    if job.figure is not None and done.figure is not None:
        _write_figure(job, done.metadata, done.parameters, *done.figure)
        outputs["figure"] = (job.figure, "png")
    _write_sidecar(job, settings, done.parameters, source, outputs)


def _figure_planes(job: Job, settings: Settings, parameters: dict[str, Any],
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


def _write_figure(job: Job, meta: io.ImageMetadata, parameters: dict[str, Any],
                  planes: tuple[np.ndarray, ...], shown: str) -> None:
    """raw | background | foreground with a line profile, as :func:`bgsub.plot.compare`,
    drawn with matplotlib's Agg canvas (no pyplot) and written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bgsub.plot import compare

    radius = parameters["radius"]
    radius = ",".join(f"{r:g}" for r in radius) if isinstance(radius, list) else (
        f"{radius:g}" if isinstance(radius, float) else str(radius))
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
        with io.atomic_target(job.figure) as tmp:
            figure.savefig(tmp, format="png", dpi=FIGURE_DPI)


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
    stack_progress: Callable[[Job, int], Callable[[int], Any] | None] | None = None,
    streaming: _stream.Streaming | None = None,
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
                           streaming=streaming))

    if workers <= 1:
        one_at_a_time(jobs)
        return results
    streamed = [job for job in jobs if streaming is not None and streaming.wants(job, settings)]
    jobs = [job for job in jobs if not any(job is other for other in streamed)]
    cancel = cancel or threading.Event()
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bgsub")
    futures = [pool.submit(run_job, job, settings, cancel=cancel) for job in jobs]
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
