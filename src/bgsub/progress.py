"""Progress of long waits on the command line: a bar on a terminal, log lines elsewhere.

On a terminal a task is a tqdm bar that redraws itself in place. Anywhere
else (a log file, ``nohup``, a CI job) carriage returns would make one
unreadable line, so a task writes plain, complete lines instead::

    bgsub: cells.tif: 0/40 planes
    bgsub: cells.tif: 16/40 planes, 1.6 planes/s, 00:15 left
    bgsub: cells.tif: 40/40 planes, 1.6 planes/s, 00:25 elapsed

one when it starts, one when it ends, and between them one at most every
``interval`` seconds (:data:`LOG_INTERVAL` for the planes of a long file; 0,
a line per step, for the files of a batch). ``quiet`` silences both.

The engine, :func:`bgsub.plot.sweep` and :func:`bgsub.auto.suggest_radius`
report ``progress(done, total)``; :meth:`Reporter.callback` gives such a
callback, making its task when the total is first known.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["LOG_INTERVAL", "Reporter", "Task"]

#: Seconds between two log lines of one task (its first and last line always show).
LOG_INTERVAL = 10.0


class Task:
    """A task of ``total`` steps that shows nothing (``--quiet``); the base of the others.

    Attributes
    ----------
    total : int
        Steps in all.
    done : int
        Steps done so far.
    """

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.done = 0
        self._lock = threading.Lock()  # streamed chunks report from Dask's threads

    def advance(self, steps: int = 1) -> None:
        """``steps`` more are done (safe from several threads at once)."""
        with self._lock:
            self.done += int(steps)
            self._show()

    def reach(self, done: int) -> None:
        """``done`` steps are done in all."""
        with self._lock:
            self.done = int(done)
            self._show()

    def write(self, text: str, err: bool = False) -> None:
        """Print ``text`` on its own line (stdout, or stderr with ``err``), bar or not."""
        _line_to(sys.stderr if err else sys.stdout, text)

    def close(self) -> None:
        """The task is over (finished or not)."""

    def _show(self) -> None:
        pass


class _Bar(Task):
    """A tqdm bar (terminals)."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO, position: int,
                 leave: bool) -> None:
        from tqdm import tqdm

        super().__init__(total)
        self._bar = tqdm(total=total, desc=desc or "bgsub", unit=unit, file=stream,
                         position=position, leave=leave, dynamic_ncols=True)

    def _show(self) -> None:
        self._bar.update(self.done - self._bar.n)

    def write(self, text: str, err: bool = False) -> None:
        self._bar.write(text, file=sys.stderr if err else sys.stdout)

    def close(self) -> None:
        self._bar.close()


class _Lines(Task):
    """Plain log lines (anything but a terminal): first, last, and every ``interval`` s."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO, interval: float,
                 clock: Callable[[], float]) -> None:
        super().__init__(total)
        self._prefix = f"bgsub: {desc}: " if desc else "bgsub: "
        self._unit, self._stream, self._interval, self._clock = unit, stream, interval, clock
        self._start = self._last = clock()
        self._shown = -1
        self._line(self._start)

    def _show(self) -> None:
        if self.done == self._shown:
            return
        now = self._clock()
        if self.done >= self.total or now - self._last >= self._interval:
            self._line(now)

    def close(self) -> None:
        if self.done != self._shown:  # stopped between two lines: say where
            self._line(self._clock())

    def _line(self, now: float) -> None:
        from tqdm import tqdm

        elapsed = now - self._start
        units = self._unit if self.total == 1 else self._unit + "s"
        text = f"{self._prefix}{self.done}/{self.total} {units}"
        if self.done > 0 and elapsed > 0:
            rate = self.done / elapsed
            text += f", {_rate(rate, self._unit)}, " + (
                f"{tqdm.format_interval(elapsed)} elapsed" if self.done >= self.total else
                f"{tqdm.format_interval((self.total - self.done) / rate)} left")
        _line_to(self._stream, text)
        self._last, self._shown = now, self.done


def _line_to(stream: TextIO, text: str) -> None:
    """``text`` and its newline in one write: ``print`` writes them apart, and a warning from
    another file's thread could land between them (``bgsub: 1/2 files, ... leftbgsub:
    warning: ...``, seen on a loaded machine)."""
    stream.write(text + "\n")
    stream.flush()


def _rate(per_second: float, unit: str) -> str:
    """``1.6 planes/s``, or ``12 s/plane`` when slower than one a second.

    Examples
    --------
    >>> [_rate(r, "file") for r in (250.0, 24.4, 1.6, 0.5, 0.04)]
    ['250 files/s', '24 files/s', '1.6 files/s', '2 s/file', '25 s/file']
    """
    if per_second >= 1:
        return f"{_number(per_second)} {unit}s/s"
    return f"{_number(1 / per_second)} s/{unit}"


def _number(value: float) -> str:
    """Two significant digits below 10, whole numbers above (never an exponent)."""
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


class Reporter:
    """Makes the progress tasks of one command: bars on a terminal, lines elsewhere.

    Parameters
    ----------
    quiet : bool
        Show nothing.
    stream : file, optional
        Where progress goes (default: ``sys.stderr`` at the time of writing).
    terminal : bool, optional
        Bars (True) or lines (False); default: whether ``stream`` is a terminal.
    clock : callable
        Seconds, for the rate and the time left (tests pass their own).

    Examples
    --------
    >>> import io
    >>> log = io.StringIO()
    >>> ticks = iter(range(0, 100, 2))
    >>> reporter = Reporter(stream=log, terminal=False, clock=lambda: float(next(ticks)))
    >>> progress = reporter.callback("cells.tif", "plane", interval=0)
    >>> for done in range(3):
    ...     progress(done, 2)
    >>> print(log.getvalue(), end="")
    bgsub: cells.tif: 0/2 planes
    bgsub: cells.tif: 1/2 planes, 2 s/plane, 00:02 left
    bgsub: cells.tif: 2/2 planes, 2 s/plane, 00:04 elapsed
    """

    def __init__(self, quiet: bool = False, stream: TextIO | None = None,
                 terminal: bool | None = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.quiet = quiet
        self._stream = stream
        self._terminal = terminal
        self._clock = clock

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._stream is None else self._stream

    @property
    def terminal(self) -> bool:
        """Whether tasks are bars (the stream is a terminal)."""
        if self._terminal is not None:
            return self._terminal
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def task(self, total: int, desc: str = "", unit: str = "step", *,
             interval: float | None = None, position: int = 0, leave: bool = True) -> Task:
        """A task of ``total`` steps of ``unit`` (singular), named ``desc``.

        ``interval``: seconds between log lines (default :data:`LOG_INTERVAL`);
        ``position`` and ``leave``:
        the bar's row, and whether it stays once closed (terminals only).
        """
        if self.quiet:
            return Task(total)
        if self.terminal:
            return _Bar(total, desc, unit, self.stream, position, leave)
        interval = LOG_INTERVAL if interval is None else interval
        return _Lines(total, desc, unit, self.stream, interval, self._clock)

    def callback(self, desc: str = "", unit: str = "step", **options: Any
                 ) -> Callable[[int, int], None]:
        """``progress(done, total)``, as the engine calls it: the task is made at the first
        call and closed when ``done`` reaches ``total``; ``options`` as for :meth:`task`."""
        task: Task | None = None

        def progress(done: int, total: int) -> None:
            nonlocal task
            if task is None or task.total != total:
                if task is not None:
                    task.close()
                task = self.task(total, desc, unit, **options)
            task.reach(done)
            if done >= total:
                task.close()
                task = None

        return progress
