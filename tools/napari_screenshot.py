"""Make docs/images/napari_widget.png: the plugin's widget docked beside the sample.

``make screenshot`` runs it on a virtual display (``xvfb-run -a -s "-screen 0
1600x1000x24" python tools/napari_screenshot.py [OUTPUT]``; needs
``pip install -e ".[napari]"`` and ``tools/system-deps.sh napari``). It drives
the running plugin as a user would: napari's *Plugins* entry docks the widget,
which opens on bgsub's default method and radius; *Auto* sets the radius from
the objects and the live preview shows the foreground next to the raw sample.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
import numpy as np
from PIL import Image as PILImage
from qtpy.QtWidgets import QApplication

from bgsub.data import sample

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "napari_widget.png"
WINDOW_SIZE = (1560, 760)
TIMEOUT_S = 300.0


def _wait(condition, what: str, timeout: float = TIMEOUT_S) -> None:
    """Process Qt events until ``condition()`` holds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"napari_screenshot: {what} did not happen in {timeout:.0f} s")
        _pump(0.02)


def _pump(seconds: float) -> None:
    """Process Qt events for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def main(output: Path = OUTPUT) -> None:
    """Dock the widget next to the sample, press *Auto*, and save the window."""
    viewer = napari.Viewer(title="bgsub in napari")
    viewer.window.resize(*WINDOW_SIZE)
    viewer.add_image(sample(), name="sample nuclei", colormap="gray")
    _, widget = viewer.window.add_plugin_dock_widget("bgsub", "Background subtraction")
    settled = lambda: widget.preview_settings == widget.settings() and not widget.is_busy()  # noqa: E731
    _wait(settled, "the first preview")
    if widget.auto_button.isEnabled():
        widget.auto_button.click()  # busy from here until the new preview is shown
        _wait(settled, "the preview at the suggested radius")
    viewer.layers["bgsub preview: background"].visible = False  # show raw | foreground
    viewer.layers.selection.active = viewer.layers["bgsub preview: foreground"]
    grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid  # napari < 0.9
    grid.enabled = True
    viewer.reset_view()
    _pump(0.5)
    image = np.asarray(viewer.screenshot(canvas_only=False, flash=False))
    output.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(image).save(output)
    print(f"wrote {output} {image.shape[1]}x{image.shape[0]}: method "
          f"{widget.settings().method}, radius {widget.radius.text()}")
    print(f"status line: {widget.message.text()!r}")
    viewer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
