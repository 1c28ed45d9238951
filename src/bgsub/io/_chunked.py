"""Writing lazily computed (Dask) images chunk by chunk: Zarr stores, and TIFFs page by page.

Used by streaming (:mod:`bgsub.stream`) through :func:`bgsub.io.write_chunked`;
the scheduler that computes the chunks is the caller's (:class:`Runner`).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bgsub.io import _tiff, _zarr
from bgsub.io._atomic import atomic_target
from bgsub.io._metadata import ImageMetadata, check_channels

TIFF_FORMATS = ("tiff", "ome-tiff", "imagej")
ZARR_FORMATS = ("zarr", "ome-zarr")
Progress = Callable[[int], Any]


class Runner(Protocol):
    """Computes Dask graphs: ``workers`` threads in all, ``compute`` and ``store``."""

    workers: int

    def compute(self, *arrays: Any) -> tuple[np.ndarray, ...]: ...

    def store(self, sources: list[Any], targets: list[Any],
              update: Progress | None = None) -> None: ...


@dataclass
class ChunkedOutput:
    """One output to write: where, in which format, the lazy pixels (image order), the
    metadata and the provenance record embedded in it."""

    path: Path
    fmt: str
    data: Any
    meta: ImageMetadata
    record: dict[str, Any]
    pyramid: str = "auto"  # TIFF sub-resolutions: see bgsub.io._tiff.pyramid_shapes


def write_chunked(outputs: Sequence[ChunkedOutput], open_runner: Callable[[], Any],
                  update: Progress | None = None) -> None:
    """Write every output at once (their pixels computed once), each to a temporary path
    renamed when complete: Zarr stores one task per Zarr chunk (pyramids rebuilt level by
    level), TIFFs page by page in file order, a few chunks at a time (a plane chunked in
    rows a row of chunks at a time, never whole).

    Parameters
    ----------
    outputs : sequence of ChunkedOutput
        All Zarr or all TIFF.
    open_runner : callable
        Returns a context manager giving a :class:`Runner`: the scheduler that computes
        the Dask graphs. It is left (its running tasks finished) before the temporary
        paths are removed on an error or interrupt.
    update : callable, optional
        ``update(n)`` as ``n`` more chunks are written.
    """
    for target in outputs:
        check_channels(target.data.shape, target.meta)
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_target(t.path)) for t in outputs]
        with open_runner() as runner:
            if all(t.fmt in ZARR_FORMATS for t in outputs):
                _write_zarr(outputs, tmps, runner, update)
            else:
                _write_tiff(outputs, tmps, runner, update)


def pages_fit(shape: tuple[int, ...], dtype: np.dtype, meta: ImageMetadata, fmt: str) -> bool:
    """Whether an image of ``shape`` and ``dtype`` (in ``meta``'s axes) can be written to a
    ``fmt`` TIFF page by page (its pages are the last axes); True for other formats and for
    what the writer itself refuses (it reports why, before anything is computed).

    Examples
    --------
    >>> pages_fit((4, 16, 16), np.dtype("uint16"), ImageMetadata("ZYX"), "tiff")
    True
    """
    if fmt not in TIFF_FORMATS:
        return True
    try:
        order, stored = _tiff.output_order(meta, dtype, fmt, tuple(shape))
    except ValueError:
        return True
    return _tiff.page_ndim(tuple(shape[i] for i in order), dtype, stored.axes) is not None


# --- Zarr ------------------------------------------------------------------------------------


def _write_zarr(targets: Sequence[ChunkedOutput], tmps: list[Path], runner: Runner,
                update: Progress | None) -> None:
    """Level 0 of every target in one graph (one task per Zarr chunk), then each pyramid."""
    stores, sources = [], []
    for target, tmp in zip(targets, tmps, strict=True):
        chunks = tuple(sizes[0] for sizes in target.data.chunks)
        store = _zarr.create(tmp, target.data.shape, target.data.dtype, target.meta,
                             target.fmt, target.record, chunks)
        stores.append(store)
        sources.append(target.data.transpose(store.order))
    runner.store(sources, [store.arrays[0] for store in stores], update)
    for store in stores:
        for above, below, level in zip(store.arrays, store.arrays[1:], store.levels,
                                       strict=False):
            runner.store([_downsampled(above, level, below.chunks)], [below])


def _downsampled(above: Any, level: _zarr.Level, chunks: tuple[int, ...]) -> Any:
    """The level below ``above`` (a Zarr array), lazily, in chunks aligned with ``chunks``."""
    import dask.array as da

    source = da.from_array(above, chunks=tuple(c * f for c, f in zip(chunks, level.factors,
                                                                     strict=True)),
                           lock=False, name=False, asarray=True)
    reduced = tuple(tuple(-(-n // f) for n in sizes)
                    for sizes, f in zip(source.chunks, level.factors, strict=True))
    down = source.map_blocks(_zarr.downsample, factors=level.factors, scheme=level.scheme,
                             chunks=reduced, dtype=above.dtype,
                             meta=np.empty((0,) * above.ndim, dtype=above.dtype))
    return down[level.crop]


# --- TIFF ------------------------------------------------------------------------------------


def _write_tiff(targets: Sequence[ChunkedOutput], tmps: list[Path], runner: Runner,
                update: Progress | None) -> None:
    """Every target page by page (or a page's row of chunks at a time), in file order; a
    window of a few chunks computed at a time.

    The first target is written in this thread, the others each in a thread
    of its own fed through a short queue, so that their pixels are computed
    together.
    """
    stored, writers = [], []
    for target, tmp in zip(targets, tmps, strict=True):
        order, meta = _tiff.output_order(target.meta, target.data.dtype, target.fmt,
                                          target.data.shape)
        data = target.data.transpose(order)
        ndim = _tiff.page_ndim(data.shape, data.dtype, meta.axes)
        if ndim is None:
            raise ValueError(f"cannot write axes {meta.axes!r} page by page; "
                             "use --format zarr")
        stored.append(data)
        writers.append(PageWriter(tmp, data.shape, data.dtype, meta, target.fmt,
                                   target.record, ndim, target.pyramid))
    slabs = _slabs(stored[0].chunks, writers[0].page_ndim)
    per_slab = math.prod(stored[0].numblocks) // len(slabs)
    size = max(1, math.ceil(runner.workers / per_slab))

    def first_slabs() -> Iterator[np.ndarray]:
        """Compute window after window; the first target's slabs, the others' queued."""
        for start in range(0, len(slabs), size):
            window = slabs[start:start + size]
            computed = runner.compute(*(data[region] for data in stored for region in window))
            if update is not None:
                update(per_slab * len(window))
            count = len(window)
            for i, writer in enumerate(writers[1:], start=1):
                writer.put(computed[i * count:(i + 1) * count])
            yield from computed[:count]

    for writer in writers[1:]:
        writer.start()
    try:
        writers[0].write(first_slabs())
    finally:
        for writer in writers[1:]:
            writer.finish()
    for writer in writers[1:]:
        writer.raise_error()


def _slabs(chunks: tuple[tuple[int, ...], ...], page_ndim: int) -> list[tuple[slice, ...]]:
    """Regions of consecutive pages, or bands of rows of one page, in file order, each a
    whole number of chunks.

    The leading (non-page) axes are stepped one index at a time up to the
    first one chunked more than one deep, which is stepped a chunk at a
    time, with every later axis whole: each region's pages follow the
    previous region's in C order. Where each region is one page and the
    page's rows are in several chunks, each page is given a row of chunks
    at a time (bands), so that a large plane is never whole in memory.

    Examples
    --------
    T, Z, Y, X chunked (1, 2, whole, whole): one time point and two planes at a time.

    >>> [(t.start, z.start, z.stop) for t, z, y, x in _slabs(((1, 1), (2, 2), (3,), (4,)), 2)]
    [(0, 0, 2), (0, 2, 4), (1, 0, 2), (1, 2, 4)]

    C, Y, X chunked (1, 2, whole): each plane in two bands of rows.

    >>> [(c.start, y.start, y.stop) for c, y, x in _slabs(((1, 1), (2, 2), (4,)), 2)]
    [(0, 0, 2), (0, 2, 4), (1, 0, 2), (1, 2, 4)]
    """
    leading = chunks[:len(chunks) - page_ndim]
    if all(max(sizes) == 1 for sizes in leading) and len(chunks[len(leading)]) > 1:
        bounds = np.cumsum((0, *chunks[len(leading)]))
        return [(*(slice(i, i + 1) for i in index), slice(int(start), int(stop)),
                 *(slice(None),) * (page_ndim - 1))
                for index in np.ndindex(*(len(sizes) for sizes in leading))
                for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    rest = (slice(None),) * page_ndim
    if not leading:
        return [rest]
    deep = next((i for i, sizes in enumerate(leading) if max(sizes) > 1), len(leading) - 1)
    bounds = np.cumsum((0, *leading[deep]))
    regions = []
    for index in np.ndindex(*(sum(sizes) for sizes in leading[:deep])):
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            regions.append((*(slice(i, i + 1) for i in index), slice(int(start), int(stop)),
                            *(slice(None),) * (len(leading) - deep - 1), *rest))
    return regions


_END = object()


class PageWriter:
    """A TIFF written page by page from slabs (blocks of consecutive pages).

    :meth:`write` writes in the calling thread; :meth:`start` writes in a
    thread of its own, fed with :meth:`put` and ended with :meth:`finish`.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype,
                 meta: ImageMetadata, fmt: str, record: dict[str, Any], page_ndim: int,
                 pyramid: str = "auto") -> None:
        self.path, self.shape, self.dtype, self.pyramid = path, shape, dtype, pyramid
        self.meta, self.fmt, self.record, self.page_ndim = meta, fmt, record, page_ndim
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, slabs: Iterable[np.ndarray]) -> None:
        """Write the whole file from ``slabs``, in this thread."""
        _tiff.write_pages(self.path, self._pages(slabs), self.shape, self.dtype, self.meta,
                          self.fmt, self.record, self.pyramid)

    def _pages(self, slabs: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pages, or bands of one page's rows, from slabs of whole pages or of rows."""
        page_shape = self.shape[len(self.shape) - self.page_ndim:]
        for slab in slabs:
            slab = np.asarray(slab)
            if slab.shape[slab.ndim - self.page_ndim] == page_shape[0]:
                yield from slab.reshape(-1, *page_shape)
            else:
                yield slab.reshape(-1, *page_shape[1:])

    def start(self) -> None:
        """Write from the slabs given to :meth:`put`, in a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="bgsub-tiff-writer",
                                        daemon=True)
        self._thread.start()

    def put(self, slabs: Sequence[np.ndarray]) -> None:
        """Queue ``slabs`` for the writing thread; raise its error if it failed."""
        self.raise_error()
        self._queue.put(slabs)

    def finish(self) -> None:
        """End the input and wait for the writing thread."""
        if self._thread is None:
            return
        self._queue.put(_END)
        self._thread.join()

    def raise_error(self) -> None:
        """Raise what the writing thread failed with, if it did."""
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            self.write(slab for slabs in iter(self._queue.get, _END) for slab in slabs)
        except BaseException as exc:  # reported by put() or raise_error() in the caller
            self._error = exc
            while self._queue.get() is not _END:  # keep the producer from blocking
                pass
