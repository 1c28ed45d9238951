"""The core never imports napari or Qt: they are the optional ``bgsub[napari]`` extra."""

from __future__ import annotations

import subprocess
import sys

GUI_MODULES = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")

SCRIPT = f"""
import sys
import numpy as np
import bgsub
import bgsub.napari
bgsub.subtract_background(np.ones((16, 16), np.uint16), "rolling_ball", radius=3)
bgsub.subtract_background(np.ones((16, 16), np.uint16), "gaussian", radius=3)
print(",".join(m for m in {GUI_MODULES!r} if m in sys.modules))
"""


def test_core_does_not_import_napari_or_qt():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"
