"""Make docs/images/napari_widget.png: the plugin's widget docked beside the sample.

Run on a display with OpenGL, e.g. ``xvfb-run -s "-screen 0 1600x1000x24"
python tools/napari_screenshot.py`` (needs ``pip install -e ".[napari]"`` and
``tools/system-deps.sh napari``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from bgsub.data import sample

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "napari_widget.png"
WINDOW_SIZE = (1560, 700)
TIMEOUT_S = 120.0


def _wait(condition, timeout: float = TIMEOUT_S) -> None:
    """Process Qt events until ``condition()`` holds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the widget did not settle")
        _pump(0.02)


def _pump(seconds: float) -> None:
    """Process Qt events for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def main(output: Path = OUTPUT) -> None:
    """Dock the widget next to the sample, preview a top-hat, and save the window."""
    viewer = napari.Viewer(title="bgsub in napari")
    viewer.window.resize(*WINDOW_SIZE)
    viewer.add_image(sample(), name="sample nuclei", colormap="gray")
    _, widget = viewer.window.add_plugin_dock_widget("bgsub", "Background subtraction")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("tophat"))
    widget.radius.setValue(20)
    widget.presmooth_combo.setCurrentText("median")
    _wait(lambda: widget.preview_settings == widget.settings() and not widget.is_busy())
    viewer.layers.remove("bgsub preview: background")  # show raw | foreground
    viewer.layers.selection.active = viewer.layers["bgsub preview: foreground"]
    grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid  # napari < 0.9
    grid.enabled = True
    viewer.reset_view()
    _pump(0.5)
    image = viewer.screenshot(canvas_only=False, flash=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    from skimage.io import imsave

    imsave(output, np.asarray(image), check_contrast=False)
    print(f"wrote {output} {image.shape}")
    viewer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
