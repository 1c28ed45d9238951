"""A screen for napari's tests, set up before Qt starts.

napari draws its canvas with OpenGL, which Qt's ``offscreen`` platform does
not offer; the tests therefore run on a private Xvfb display (``xcb``
platform, Mesa's software OpenGL), started here and stopped at exit. Where
Xvfb is missing (``tools/system-deps.sh napari`` installs it), Qt is set to
``offscreen`` and the tests that need a canvas are skipped.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import select
import shutil
import subprocess

import pytest

XVFB_SCREEN = "1600x1000x24"
XVFB_START_TIMEOUT_S = 60.0  # a hang guard: a busy machine may take seconds


def _start_xvfb() -> str | None:
    """Start Xvfb on a free display; return ``":N"``, or None where it cannot run."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", XVFB_SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    atexit.register(_stop, process, read_end)
    number = _read_line(read_end, XVFB_START_TIMEOUT_S)
    if not number.isdigit():
        return None
    return f":{number}"


def _read_line(fd: int, timeout: float) -> str:
    """Read up to a newline; Xvfb writes its display number and then a newline."""
    text = b""
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        chunk = os.read(fd, 32) if ready else b""
        if not chunk:
            break
        text += chunk
    return text.decode().strip()


def _stop(process: subprocess.Popen, fd: int) -> None:
    os.close(fd)
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


def _set_up_screen() -> bool:
    """Point Qt at a display with OpenGL; True when there is one."""
    display = _start_xvfb() or os.environ.get("DISPLAY")
    if display:
        os.environ["DISPLAY"] = display
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return True
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return False


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


# "napari.viewer", not "napari": with tests/ on sys.path, a bare "napari" finds
# this folder as a namespace package when the real napari is not installed.
HAVE_NAPARI = _have("napari.viewer")
HAVE_SCREEN = _set_up_screen() if HAVE_NAPARI else False


@pytest.fixture
def need_screen() -> None:
    """Skip a test that draws napari's canvas when no X display could be started."""
    if not HAVE_SCREEN:
        pytest.skip("napari's canvas needs OpenGL on an X display: install Xvfb "
                    "(tools/system-deps.sh napari)")
