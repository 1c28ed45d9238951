"""Streaming: images larger than memory, and Zarr stores, through the lazy Dask path.

``bgsub run`` hands a job here, instead of reading its image whole, when the
input is a Zarr or OME-Zarr store, a TIFF larger than :data:`STREAM_BYTES`,
or any TIFF or Zarr while ``--chunks`` or ``--scheduler`` is given
(:meth:`Streaming.wants`). Then

1. the image is opened lazily (:func:`bgsub.io.open_image`) as a Dask array
   of :func:`plan_chunks` chunks: it is read chunk by chunk, TIFFs page by
   page (or strip by strip);
2. :func:`bgsub.subtract_background` computes the foreground lazily, each
   chunk with the halo that makes it equal to the in-memory result;
3. the result is written chunk by chunk to a temporary path, renamed when
   complete (:func:`bgsub.io.write_chunked`): a Zarr store with one task per
   Zarr chunk, a TIFF page by page in file order, a few chunks at a time; an
   OME-Zarr input's pyramid is rebuilt level by level from the level written
   above it.

Memory is a few chunks per thread, whatever the size of the image. The
graphs run on local threads (``--jobs`` of them, default one per core) or on
a ``dask.distributed`` cluster (``--scheduler ADDRESS``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgsub import io, provenance
from bgsub._dtypes import work_dtype
from bgsub.api import subtract_background
from bgsub.config import Settings
from bgsub.engine import measured_radii, sampled_plane, warn_of_input
from bgsub.jobs import api_keywords, figure_planes, image_outputs, resolve_parameters
from bgsub.kernels.threads import num_threads
from bgsub.methods import is_auto_radius

__all__ = ["AUTO_CHUNK_BYTES", "STREAM_BYTES", "StreamError", "Streaming", "connect",
           "plan_chunks", "run_job"]

#: TIFFs whose pixels take more bytes than this are streamed (Zarr stores always are).
STREAM_BYTES = 2**30
#: ``--chunks auto``: largest chunk, in bytes of the float type the background is computed in.
AUTO_CHUNK_BYTES = 64 * 2**20
#: Seconds to wait for a ``--scheduler`` to answer.
CONNECT_TIMEOUT = 10

_TIFF = io.TIFF_FORMATS
_ZARR = io.ZARR_FORMATS
Progress = Callable[[int], Any]


class StreamError(ValueError):
    """``--scheduler`` cannot be used as given; the message names the fix."""


# --- options ---------------------------------------------------------------------------------


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Raises
    ------
    StreamError
        ``distributed`` is not installed, or no scheduler answers at
        ``address`` within ``timeout`` seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise StreamError("--scheduler needs dask.distributed; install it with "
                          "pip install 'bgsub[dask-distributed]'") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StreamError(f"cannot reach a Dask scheduler at {address} ({reason[:160]}); "
                          "check the address, e.g. tcp://host:8786, and that the scheduler "
                          "runs") from None


@dataclass
class Streaming:
    """Which inputs ``bgsub run`` streams, in which chunks, on which threads or cluster.

    Attributes
    ----------
    chunks : tuple of int, optional
        Chunk size per Z, Y, X (two values: Y, X), ``-1`` for a whole axis
        (:func:`bgsub.config.parse_chunks`); None chooses them (:func:`plan_chunks`).
    threads : int, optional
        Threads of the local scheduler (``--jobs``); None: one per core this process may
        use (``BGSUB_NUM_THREADS`` where set; a batch job's share of them).
    always : bool
        Stream every TIFF and Zarr input, whatever its size (``--chunks``
        or ``--scheduler`` was given).
    client : distributed.Client, optional
        Compute on this cluster instead of local threads.
    threshold : int
        TIFFs with more bytes of pixels than this are streamed.
    """

    chunks: tuple[int, ...] | None = None
    threads: int | None = None
    always: bool = False
    client: Any = None
    threshold: int = STREAM_BYTES
    _opened: dict[tuple[Path, int], tuple[Any, io.ImageMetadata]] = field(
        default_factory=dict, repr=False)

    def wants(self, job: Any, settings: Settings) -> bool:
        """Whether ``job`` is streamed: a streamable input and output, and large, Zarr or forced.

        An input that cannot be opened, or not processed, is not streamed:
        reading it whole reports its problem as usual.
        """
        outputs = {job.output_format, job.background_format or job.output_format}
        if job.input_format not in _TIFF + _ZARR or not outputs <= set(_TIFF + _ZARR):
            return False
        if len({fmt in _ZARR for fmt in outputs}) != 1:  # one writer for every output
            return False
        try:
            array, meta = self._open(job)
            nbytes = math.prod(array.shape) * np.dtype(array.dtype).itemsize
            large = job.input_format in _ZARR or self.always or nbytes > self.threshold
            return large and _pages_fit(job, settings, array, meta)
        except Exception:
            return False

    def open(self, job: Any) -> tuple[Any, io.ImageMetadata]:
        """The lazily opened image of ``job`` (the one :meth:`wants` opened, if any)."""
        array, meta = self._open(job)
        self._opened.pop(_key(job), None)
        return array, meta

    def _open(self, job: Any) -> tuple[Any, io.ImageMetadata]:
        key = _key(job)
        if key not in self._opened:
            # (absolute: a dask.distributed worker reads it from its own working folder,
            # where a relative path found no chunk, and Zarr gave its fill value, zeros)
            self._opened[key] = io.open_image(job.source.path.absolute(), job.series)
        return self._opened[key]


def _key(job: Any) -> tuple[Path, int]:
    return job.source.path, job.series or 0


def _pages_fit(job: Any, settings: Settings, array: Any, meta: io.ImageMetadata) -> bool:
    """A TIFF output can be written page by page (its pages are the last axes)."""
    return all(io.pages_fit(array.shape, dtype, meta, fmt)
               for fmt, dtype in image_outputs(job, settings, array.dtype))


# --- chunks ----------------------------------------------------------------------------------


#: More chunks than this would take Dask longer to plan (and more memory) than to compute.
MAX_CHUNKS = 2**18


def plan_chunks(
    shape: tuple[int, ...],
    dtype: np.dtype,
    axes: str,
    true_3d: bool = False,
    chunks: Sequence[int] | None = None,
    native: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Chunk shape for processing an image lazily.

    Parameters
    ----------
    shape, dtype, axes
        The image's; ``axes`` one letter per array axis.
    true_3d : bool
        Z is filtered with Y and X (else each Z plane is independent).
    chunks : sequence of int, optional
        Sizes per Z, Y, X, or Y, X (``--chunks``); ``-1`` is the whole
        axis; Z is ignored for an image without one. Other axes (T, C, ...)
        get 1, RGB samples ``S`` the whole axis.
    native : sequence of int, optional
        The file's own chunks (pages, tiles, Zarr chunks); automatic tiles
        are rounded to multiples of them.

    Returns
    -------
    tuple of int
        Without ``chunks``: independent planes (volumes in 3D) whole when
        they take at most :data:`AUTO_CHUNK_BYTES` in the working float
        type, else split into near-square (cubic) tiles that do.

    Examples
    --------
    >>> plan_chunks((256, 2048, 4096), np.dtype("uint16"), "ZYX")
    (1, 2048, 4096)
    >>> plan_chunks((2, 50000, 50000), np.dtype("uint16"), "CYX")
    (1, 3847, 3847)
    >>> plan_chunks((40, 512, 512, 3), np.dtype("uint8"), "TYXS", chunks=(256, 256))
    (1, 256, 256, 3)
    """
    spatial = "ZYX" if true_3d else "YX"
    given = dict(zip("ZYX"[-len(chunks):], chunks, strict=True)) if chunks else {}
    sizes = dict(zip(axes, shape, strict=True))
    out = {}
    for letter, n in sizes.items():
        if letter in given:
            out[letter] = n if given[letter] == -1 else min(given[letter], n)
        elif letter == "S":
            out[letter] = n
        elif letter not in spatial:
            out[letter] = 1
    auto = [letter for letter in spatial if letter in sizes and letter not in out]
    budget = AUTO_CHUNK_BYTES // work_dtype(dtype).itemsize
    budget //= math.prod(out.get(letter, 1) for letter in spatial if letter in sizes) or 1
    out.update(_tiles({letter: sizes[letter] for letter in auto}, max(budget, 1)))
    native_of = dict(zip(axes, native, strict=True)) if native else {}
    for letter in auto:
        step = int(native_of.get(letter, 1))
        if 1 < step < out[letter] < sizes[letter]:
            out[letter] = max(step, round(out[letter] / step) * step)
    planned = tuple(int(out[letter]) for letter in axes)
    count = math.prod(math.ceil(n / c) for n, c in zip(shape, planned, strict=True))
    if count > MAX_CHUNKS:
        raise ValueError(f"chunks of {'x'.join(map(str, planned))} cut this image into {count} "
                         f"pieces, more than {MAX_CHUNKS} tasks to plan; use larger --chunks "
                         "or --chunks auto")
    return planned


def _tiles(extents: dict[str, int], budget: int) -> dict[str, int]:
    """Near-cubic tile sizes over ``extents`` with at most about ``budget`` pixels.

    Axes shorter than the tile's side are taken whole and their share of the
    budget goes to the others; the rest are cut into equal chunks.
    """
    tiles: dict[str, int] = {}
    left = dict(extents)
    while left:
        side = budget ** (1 / len(left))
        short = {a: n for a, n in left.items() if n <= side}
        if not short:
            for letter, n in left.items():
                pieces = math.ceil(n / max(1, int(side)))
                tiles[letter] = math.ceil(n / pieces)
            break
        for letter, n in short.items():
            tiles[letter] = n
            budget = max(1, budget // n)
            del left[letter]
    return tiles


# --- one job ---------------------------------------------------------------------------------


@dataclass
class Streamed:
    """What :func:`run_job` did: the parameters used, the input's metadata, the figure's planes.

    Attributes
    ----------
    parameters : dict
        The keyword arguments given to :func:`bgsub.subtract_background`.
    metadata : ImageMetadata
        The input's.
    figure : tuple, optional
        ``((raw, background, foreground), caption)``: the planes ``--figure``
        shows, computed after the outputs were written; None without ``--figure``.
    measured : tuple of float, optional
        The radius ``radius="auto"`` measured (pixels per spatial axis); None for a radius
        given.
    """

    parameters: dict[str, Any]
    metadata: io.ImageMetadata
    figure: tuple[tuple[np.ndarray, ...], str] | None = None
    measured: tuple[float, ...] | None = None


def run_job(
    job: Any,
    settings: Settings,
    streaming: Streaming,
    source: dict[str, Any],
    progress: Callable[[int], Progress | None] | None = None,
) -> Streamed:
    """Stream one job: read lazily, subtract, write each output chunk by chunk, atomically.

    Parameters
    ----------
    job : bgsub.batch.Job
        What to read and where to write.
    settings : Settings
        The batch's settings.
    streaming : Streaming
        Chunks and scheduler.
    source : dict
        The input's provenance record (:func:`bgsub.provenance.input_record`).
    progress : callable, optional
        ``progress(total)`` -> an ``update(n)`` called as chunks are written
        (``total`` chunks), or None.

    Returns
    -------
    Streamed
        The parameters (as :func:`bgsub.jobs.resolve_parameters` gives them),
        the input's metadata and, for ``--figure``, the planes to show: the
        chosen plane is computed again (the whole stack, for a maximum
        projection), from the input.
    """
    import dask.array as da

    array, meta = streaming.open(job)
    try:
        parameters = resolve_parameters(settings, meta, array.shape)
        if settings.axes is not None:  # (written with the axes it was processed with)
            meta = meta.with_axes(parameters["axes"])
        chunks = plan_chunks(array.shape, array.dtype, parameters["axes"],
                             parameters["true_3d"], streaming.chunks,
                             getattr(array, "chunks", None))
        name = "bgsub-read-" + _token(job, source)
        image = da.from_array(array, chunks=chunks, name=name, lock=False, asarray=True,
                              meta=np.empty((0,) * array.ndim, dtype=array.dtype))
        if not is_auto_radius(parameters["radius"]):  # (the automatic radius reads planes)
            # (planning reads nothing of a Dask array: a file is read here, as one in memory
            # is looked at before it is processed)
            warn_of_input(sampled_plane(image, parameters["axes"], parameters["true_3d"]),
                          parameters["method"], parameters["light_background"],
                          missing=parameters.get("missing"))
        with_background = settings.save_background or job.figure is not None
        with measured_radii() as radii:  # (a Dask array's plan is made here, its radius too)
            result = subtract_background(image, return_background=with_background,
                                         **api_keywords(parameters))
        measured = radii[0] if radii else None
        foreground, background = result if with_background else (result, None)
        out_meta = dataclasses.replace(meta, provenance=None)
        # (absolute, as the input: a worker writes Zarr chunks from its own working folder)
        targets = [io.ChunkedOutput(
            job.output.absolute(), job.output_format, foreground, out_meta,
            provenance.embedded_record(parameters, source, "foreground", measured),
            settings.pyramid)]
        if background is not None and job.background is not None:
            targets.append(io.ChunkedOutput(
                job.background.absolute(), job.background_format or job.output_format,
                background.astype(np.float32), out_meta,
                provenance.embedded_record(parameters, source, "background", measured),
                settings.pyramid))
        update = progress(math.prod(foreground.numblocks)) if progress else None
        io.write_chunked(targets, lambda: _Runner(streaming), update)
        figure = figure_planes(job, settings, parameters, image, background, foreground)
    finally:
        if hasattr(array, "close"):
            array.close()
    return Streamed(parameters, meta, figure, measured)


def _token(job: Any, source: dict[str, Any]) -> str:
    from dask.base import tokenize

    return tokenize(str(job.source.path), job.series, source.get("size"),
                    source.get("mtime_ns"), source.get("sha256"))


# --- schedulers ------------------------------------------------------------------------------


class _Runner:
    """Computes Dask graphs on local threads (a pool of its own) or a distributed client.

    On an interrupt or error the local pool is drained (its running tasks
    finish, no new ones start) before the temporary outputs are removed.
    """

    def __init__(self, streaming: Streaming) -> None:
        self.client = streaming.client
        if self.client is not None:
            self.workers = max(1, sum(self.client.nthreads().values()))
            self._pool = None
        else:
            # (bgsub's one thread count: BGSUB_NUM_THREADS, the usable cores, or a batch
            # job's share of them -- not os.cpu_count(), which counts cores it may not use)
            self.workers = streaming.threads or num_threads()
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="bgsub-dask")

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _options(self) -> dict[str, Any]:
        if self.client is not None:
            return {"scheduler": self.client}
        return {"scheduler": "threads", "pool": self._pool, "num_workers": self.workers}

    def compute(self, *arrays: Any) -> tuple[np.ndarray, ...]:
        """``dask.compute(*arrays)`` on this runner's scheduler."""
        import dask

        return dask.compute(*arrays, **self._options())

    def store(self, sources: list[Any], targets: list[Any], update: Progress | None = None
              ) -> None:
        """``dask.array.store`` (no lock: each task writes its own Zarr chunks).

        ``update(1)`` is called as each chunk is stored (local threads; on a
        cluster, once for all of them at the end).
        """
        import dask
        import dask.array as da

        graph = da.store(sources, targets, lock=False, compute=False)
        local = update is not None and self.client is None
        with _store_progress(update) if local else contextlib.nullcontext():
            dask.compute(graph, **self._options())
        if update is not None and self.client is not None:
            update(math.prod(sources[0].numblocks))


def _store_progress(update: Progress) -> Any:
    """A Dask callback calling ``update(1)`` as each chunk of one source is stored."""
    from dask.callbacks import Callback

    class StoreProgress(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.layer: str | None = None  # the first store layer seen: one per source

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any
                      ) -> None:
            name = key[0] if isinstance(key, tuple) else key
            if isinstance(name, str) and name.startswith("store-map"):
                self.layer = self.layer or name
                if name == self.layer:
                    update(1)

    return StoreProgress()
