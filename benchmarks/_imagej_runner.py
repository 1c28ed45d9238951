"""Run ImageJ 1.x's own "Subtract Background" (rolling ball) headless, for comparison.

A ten-line Java program is compiled against ``ij.jar`` on first use (into a
temporary folder) and called once per image with every radius to try, so the
JVM starts once per image. Needs ``java``, ``javac`` and ``/usr/share/java/ij.jar``
(``tools/system-deps.sh imagej`` installs them).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

IJ_JAR = Path("/usr/share/java/ij.jar")

_SOURCE = r"""
import ij.plugin.filter.BackgroundSubtracter;
import ij.process.FloatProcessor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Paths;

public class RollingBallRunner {
    // args: width height planes paraboloid(true|false) radii(comma list) input output
    public static void main(String[] args) throws Exception {
        int w = Integer.parseInt(args[0]), h = Integer.parseInt(args[1]);
        int planes = Integer.parseInt(args[2]);
        boolean paraboloid = Boolean.parseBoolean(args[3]);
        String[] radii = args[4].split(",");
        FloatBuffer in = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[5])))
            .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        ByteBuffer out = ByteBuffer.allocate(4 * w * h * planes * radii.length)
            .order(ByteOrder.LITTLE_ENDIAN);
        for (String radius : radii) {
            for (int p = 0; p < planes; p++) {
                float[] pixels = new float[w * h];
                in.position(p * w * h);
                in.get(pixels);
                FloatProcessor fp = new FloatProcessor(w, h, pixels);
                new BackgroundSubtracter().rollingBallBackground(
                    fp, Double.parseDouble(radius), true, false, paraboloid, true, true);
                for (float v : (float[]) fp.getPixels()) out.putFloat(v);
            }
        }
        Files.write(Paths.get(args[6]), out.array());
    }
}
"""


def available() -> bool:
    """Whether ImageJ and a JDK are installed."""
    return IJ_JAR.exists() and shutil.which("java") is not None and shutil.which("javac") \
        is not None


@functools.cache
def compile_class(name: str, source: str) -> Path:
    """Compile the Java class ``name`` from ``source`` against ``ij.jar``; its folder.

    Compiled once per process, into a temporary folder (put it on the class path
    next to ``ij.jar``).
    """
    folder = Path(tempfile.mkdtemp(prefix="bgsub-imagej-"))
    (folder / f"{name}.java").write_text(source)
    subprocess.run(["javac", "-cp", str(IJ_JAR), f"{name}.java"], cwd=folder,
                   check=True, capture_output=True)
    return folder


def _compiled() -> Path:
    return compile_class("RollingBallRunner", _SOURCE)


def imagej_backgrounds(
    image: np.ndarray, radii: Sequence[float], *, paraboloid: bool = False
) -> list[np.ndarray]:
    """ImageJ's rolling-ball background of a 2D image or a Z stack, for each radius.

    As Process > Subtract Background... with "Create background", smoothing
    and corner correction on (ImageJ's defaults); a stack is processed plane
    by plane, as ImageJ does.
    """
    stack = np.asarray(image, dtype="<f4")
    stack = stack[np.newaxis] if stack.ndim == 2 else stack
    planes, height, width = stack.shape
    folder = _compiled()
    with tempfile.TemporaryDirectory(prefix="bgsub-ij-") as tmp:
        source, result = Path(tmp) / "in.raw", Path(tmp) / "out.raw"
        source.write_bytes(np.ascontiguousarray(stack).tobytes())
        subprocess.run(
            ["java", "-Djava.awt.headless=true", "-cp", f"{IJ_JAR}:{folder}",
             "RollingBallRunner", str(width), str(height), str(planes), str(paraboloid).lower(),
             ",".join(f"{r:g}" for r in radii), str(source), str(result)],
            check=True, capture_output=True,
        )
        out = np.frombuffer(result.read_bytes(), dtype="<f4").reshape(len(radii), *stack.shape)
    return [b.reshape(np.shape(image)).astype(np.float64) for b in out]
