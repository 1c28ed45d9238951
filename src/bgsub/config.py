"""Processing settings: defaults, configuration files, ImageJ option strings.

A configuration file is TOML (``.toml``), YAML (``.yaml``/``.yml``, needs
PyYAML) or a bgsub provenance record (``<output>.bgsub.json``). It holds one
pipeline (the settings at the top level) or several named ones::

    default = "nuclei"

    [pipelines.nuclei]
    method = "rolling_ball"
    radius = 30
    presmooth = "gaussian:1"

    [pipelines.nuclei.options]
    envelope = true

Keys are the long command-line options (``light``, ``true_3d``/``3d``,
``save_background``, ``figure``, ...); see ``docs/cli.md``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgsub._arrays import plain
from bgsub._dtypes import output_dtype_for
from bgsub._presmooth import parse_presmooth
from bgsub.methods import AUTO_RADIUS, DEFAULT_METHOD, DEFAULT_RADIUS, get_method, is_auto_radius
from bgsub.methods.imagej import UNVERSIONED_IMAGEJ_VERSION

__all__ = ["ConfigError", "Settings", "load_config", "parse_chunks", "settings_from_imagej"]

OUTPUT_FORMATS = ("same", "tiff", "ome-tiff", "imagej", "png", "zarr", "ome-zarr")
PYRAMID_CHOICES = ("auto", "on", "off")
_API_KEYS = ("method", "radius", "axes", "true_3d", "spacing", "light_background",
             "presmooth", "output_dtype", "offset", "missing")
_ALIASES = {"light": "light_background", "3d": "true_3d", "output-dtype": "output_dtype",
            "save-background": "save_background", "light-background": "light_background",
            "true-3d": "true_3d", "option": "options"}
_IGNORED = ("description", "name")


class ConfigError(ValueError):
    """A configuration file or a setting is invalid."""


@dataclass
class Settings:
    """Everything that decides what an output contains.

    Attributes
    ----------
    method, radius, axes, true_3d, light_background, presmooth, output_dtype, offset, missing
        As for :func:`bgsub.subtract_background`; ``axes=None`` takes each
        file's own axes.
    spacing : "auto", "none" or tuple of float
        ``"auto"`` uses the file's physical pixel sizes (see ``docs/cli.md``).
    options : dict
        The method's own options.
    save_background : bool
        Also write the background (float32) next to each output.
    format : str
        Output format, or ``"same"`` as the input (JPEG is written as PNG).
    series : "all" or int
        Which series of multi-series files to process.
    suffix : str
        Added to each output's file name before its extension.
    figure : bool
        Also write a comparison figure (raw | background | foreground, with a
        line profile) next to each output, ``<name>_comparison.png``.
    figure_plane : "middle", "max" or int
        Which plane of a stack the figure shows: the middle one, the maximum
        projection (over Z, each channel on its own), or plane N (the leading
        axes other than C counted in file order).
    flatfield, darkfield : str, optional
        Shading correction applied first: a profile from ``bgsub shading
        estimate`` or a flat-field image, and a dark-frame image (docs/shading.md).
    pyramid : "auto", "on" or "off"
        Sub-resolutions in TIFF and OME-TIFF outputs (tiled): ``auto`` when
        the input had a pyramid or a plane is larger than 8192 pixels a side.
    """

    method: str = DEFAULT_METHOD
    radius: float | tuple[float, ...] = DEFAULT_RADIUS
    axes: str | None = None
    true_3d: bool = False
    spacing: str | tuple[float, ...] = "auto"
    light_background: bool = False
    presmooth: str | None = None
    output_dtype: str = "same"
    offset: float = 0.0
    missing: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    save_background: bool = False
    format: str = "same"
    series: str | int = "all"
    suffix: str = ""
    figure: bool = False
    figure_plane: str | int = "middle"
    flatfield: str | None = None
    darkfield: str | None = None
    pyramid: str = "auto"

    def updated(self, values: Mapping[str, Any], named: str | None = None) -> Settings:
        """A copy with ``values`` (setting names or aliases) applied; options are merged.

        ``named``: the method these settings were given with (a config file's ``method``,
        ``--imagej``'s; None where none was named, the default's). Where ``values`` names
        another, this one's options are left behind: they belong to the method replaced (a
        provenance record holds every option of its method), and only the options given
        with ``values`` apply.

        Examples
        --------
        >>> record = Settings().updated({"method": "tophat", "options": {"footprint": "box"}})
        >>> record.updated({"method": "rolling_ball"}, named="tophat").options
        {}
        >>> record.updated({"method": "opening"}, named="tophat").options
        {'footprint': 'box'}
        """
        values = normalise_keys(values)
        kept = self.options
        if named is not None and "method" in values and not _same_method(named,
                                                                         values["method"]):
            kept = {}
        options = {**kept, **_options_table(values.pop("options", None), "options")}
        return dataclasses.replace(self, **values, options=options)

    def validated(self) -> Settings:
        """A copy in canonical form (method name, full options, numbers); raise ConfigError."""
        try:
            method = get_method(self.method)
            options = method.resolve_options(self.options, spell=as_written)
            radius = _radius(self.radius)
            if method.check is not None and radius != AUTO_RADIUS:  # (auto: when planning a file)
                method.check(tuple(np.atleast_1d(radius)), options)
            presmooth = parse_presmooth(self.presmooth)
            output_dtype_for(np.dtype(np.uint16), self.output_dtype)
        except ConfigError:
            raise
        except Exception as exc:  # any value a config file can hold gets one line
            raise ConfigError(str(exc).splitlines()[0] if str(exc) else
                              f"{type(exc).__name__} in the settings") from None
        return dataclasses.replace(
            self, method=method.name, options=options, radius=radius,
            spacing=_spacing(self.spacing), presmooth=None if presmooth is None else str(
                presmooth), axes=_axes(self.axes), format=_choice(self.format, OUTPUT_FORMATS,
                                                                  "format"),
            series=_series(self.series), output_dtype=str(self.output_dtype),
            suffix=_suffix(self.suffix),
            offset=_number(self.offset, "offset"), true_3d=_flag(self.true_3d, "true_3d"),
            missing=None if self.missing is None else _number(self.missing, "missing"),
            light_background=_flag(self.light_background, "light"),
            save_background=_flag(self.save_background, "save_background"),
            figure=_flag(self.figure, "figure"), figure_plane=_figure_plane(self.figure_plane),
            pyramid=_choice(self.pyramid, PYRAMID_CHOICES, "pyramid"),
            flatfield=_file_name(self.flatfield, "flatfield"),
            darkfield=_file_name(self.darkfield, "darkfield"))

    def request(self) -> dict[str, Any]:
        """The settings that decide an output's content, as JSON-friendly values."""
        record = dataclasses.asdict(self)
        for key in ("radius", "spacing"):
            if isinstance(record[key], tuple):
                record[key] = list(record[key])
        return record


def _same_method(first: Any, second: Any) -> bool:
    """Whether two method names (or aliases, any case) name one method; an unknown name is
    only itself (the settings' validation names it)."""
    try:
        return get_method(first).name == get_method(second).name
    except (TypeError, ValueError):
        return first == second


def normalise_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Map aliases (``light``, ``3d``, dashes) to setting names; reject unknown keys."""
    known = {f.name for f in dataclasses.fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key)
        name = _ALIASES.get(key, key.replace("-", "_"))
        if name in _IGNORED:
            continue
        if name not in known:
            raise ConfigError(f"unknown setting {key!r}; use one of "
                              f"{', '.join(sorted(known | set(_ALIASES)))}")
        out[name] = value
    return out


def _radius(value: Any) -> float | tuple[float, ...] | str:
    if is_auto_radius(value):
        return AUTO_RADIUS
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, (list, tuple)):
        radii = tuple(_number(v, "radius", positive=True) for v in value)
        if not radii:
            raise ConfigError("radius is empty; give one radius or one per axis, e.g. 2,20,20")
        return radii[0] if len(radii) == 1 else radii
    return _number(value, "radius", positive=True)


def _spacing(value: Any) -> str | tuple[float, ...]:
    if value is None:
        return "none"
    if isinstance(value, str) and value.lower() in ("auto", "none"):
        return value.lower()
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, (list, tuple)):
        return tuple(_number(v, "spacing", positive=True) for v in value)
    raise ConfigError(f"spacing={value!r} is not understood; use auto, none or e.g. 2,0.5,0.5")


def _axes(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.isalpha():
        raise ConfigError(f"axes={value!r} must be letters, one per axis, e.g. TZCYX")
    return value.upper()


def _options_table(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a table of method options; ``None`` is none. ConfigError otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} = {value!r} must be a table of method options; write e.g. "
                          "options = {sigma = 2} (TOML) or options: {sigma: 2} (YAML)")
    return {str(key): option for key, option in value.items()}


def _file_name(value: Any, key: str) -> str | None:
    """A file setting (``flatfield``, ``darkfield``): a path as text, or None.

    Examples
    --------
    >>> _file_name(5, "flatfield")
    Traceback (most recent call last):
    ...
    bgsub.config.ConfigError: flatfield=5 must be a file name, e.g. flatfield = "profile.ome.tif"
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}={value!r} must be a file name, e.g. "
                          f'{key} = "profile.ome.tif"')
    return value


def _suffix(value: Any) -> str:
    """``--suffix``: text added to a file name, never a path (``/``, ``..``) or a control byte.

    Examples
    --------
    >>> _suffix("_bgsub")
    '_bgsub'
    >>> _suffix("/../../escaped")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bgsub.config.ConfigError: suffix='/../../escaped' must be part of a file name, without / ...
    """
    if value is None:
        return ""
    bad = not isinstance(value, str) or any(
        ch in "/\\" or ord(ch) < 32 or ch == "\x7f" for ch in value)
    if bad or len(str(value)) > 100:
        raise ConfigError(f"suffix={value!r} must be part of a file name, without / or \\ or "
                          "control characters; use e.g. _bgsub")
    return value


def _series(value: Any) -> str | int:
    if isinstance(value, str) and value.lower() == "all":
        return "all"
    index = _whole_number(value)
    if index is None:
        raise ConfigError(f"series={value!r} is not understood; use all or a whole number "
                          "0, 1, ...")
    if index < 0:
        raise ConfigError(f"series={value!r} is out of range; use all or a number 0, 1, ...")
    return index


def _figure_plane(value: Any) -> str | int:
    if isinstance(value, str) and value.strip().lower() in ("middle", "max"):
        return value.strip().lower()
    index = _whole_number(value)
    if index is None or index < 0:
        raise ConfigError(f"figure_plane={value!r} is not understood; use middle, max or a "
                          "plane number 0, 1, ...")
    return index


def _whole_number(value: Any) -> int | None:
    """``value`` as the whole number it is written as (``3``, ``"3"``), or None: ``int()``
    alone would take ``1.7`` as 1, and ``true`` as 1.

    Examples
    --------
    >>> _whole_number(" 3"), _whole_number(-1), _whole_number(1.7), _whole_number(True)
    (3, -1, None, None)
    """
    try:
        index = int(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool) or str(index) != str(value).strip():
        return None
    return index


def _number(value: Any, name: str, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` when ``positive``), else a ConfigError."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be a number; use e.g. {name}=30")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} must be a number; use e.g. {name}=30") from None
    if not np.isfinite(number) or (positive and number <= 0):
        wanted = "a finite number > 0" if positive else "a finite number"
        raise ConfigError(f"{name}={value!r} is out of range; use {wanted}")
    return number


def as_written(value: Any) -> str:
    """``value`` as a config file (TOML, YAML) and ``-O`` write it, for messages about them:
    ``true``/``false``, ``none``, text in double quotes, numbers as they are.

    Examples
    --------
    >>> as_written(True), as_written("true"), as_written(None), as_written(2.5)
    ('true', '"true"', 'none', '2.5')
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return json.dumps(value)
    return plain(value)


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ConfigError(f"{name}={value!r} must be true or false; use true, false, yes or no")


def _choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    text = str(value).lower()
    if text not in choices:
        raise ConfigError(f"{name}={value!r} is not known; use one of {', '.join(choices)}")
    return text


def parse_option(text: str) -> tuple[str, Any]:
    """``"footprint=box"`` -> ``("footprint", "box")``; values are JSON-ish typed, and what
    Python reads as a float (``nan``, ``inf``, ``.5``) is that float, so that the method's
    check says what is wrong with the number.

    Examples
    --------
    >>> parse_option("envelope=true"), parse_option("height=20"), parse_option("sigma=nan")
    (('envelope', True), ('height', 20), ('sigma', nan))
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"option {text!r} is not KEY=VALUE; write e.g. footprint=box")
    raw = raw.strip()
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    if lowered in ("none", "null"):
        return key.strip(), None
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        pass
    try:
        return key.strip(), float(raw)
    except ValueError:
        return key.strip(), raw


def parse_chunks(text: str) -> tuple[int, ...] | None:
    """``--chunks``: ``auto`` -> None, else chunk sizes per Z, Y, X (Y, X with two values).

    ``-1`` takes the whole axis.

    Raises
    ------
    ConfigError
        Not ``auto`` nor two or three whole numbers >= 1 (or -1).

    Examples
    --------
    >>> parse_chunks("auto"), parse_chunks("1,1024,1024"), parse_chunks("512 -1")
    (None, (1, 1024, 1024), (512, -1))
    """
    if text.strip().lower() == "auto":
        return None
    parts = [part for part in text.replace(",", " ").split() if part]
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        sizes = ()
    if len(sizes) not in (2, 3) or any(size < 1 and size != -1 for size in sizes):
        raise ConfigError(f"--chunks {text!r} is not understood; give auto, or chunk sizes in "
                          "pixels per Y,X or Z,Y,X (-1: the whole axis), e.g. 1,1024,1024")
    return sizes


def settings_from_imagej(options: str) -> dict[str, Any]:
    """Settings from an ImageJ "Subtract Background" option string, via ``bgsub.from_imagej``."""
    import bgsub

    convert = getattr(bgsub, "from_imagej", None)
    if convert is None:
        raise ConfigError("this bgsub has no ImageJ option support (bgsub.from_imagej); "
                          "give --method and --radius instead")
    try:
        kwargs = dict(convert(options))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--imagej {options!r}: {exc}") from None
    values: dict[str, Any] = {"options": {}}
    if kwargs.pop("return_background", False):
        values["save_background"] = True
    for key, value in kwargs.items():
        if key in _API_KEYS:
            values[key] = value
        else:
            values["options"][key] = value
    return values


def load_config(path: Path | str, pipeline: str | None = None
                ) -> tuple[dict[str, Any], list[str]]:
    """Read the settings of ``pipeline`` (or the only/default one) from a configuration file.

    Returns
    -------
    values : dict
        Settings as found in the file (apply with :meth:`Settings.updated`).
    inputs : list of str
        The input path of a provenance record, else empty.
    """
    path = Path(path)
    data = _read_file(path)
    try:
        if "bgsub_provenance" in data:
            values = _from_provenance(data)
            source = _table(data, "input").get("path")
            inputs = [source] if isinstance(source, str) and source else []
        else:
            values, inputs = _from_settings(_pick_pipeline(data, pipeline, path)), []
        # every value but the method's options (checked with the final method) on its own
        Settings().updated({k: v for k, v in values.items() if k != "options"}).validated()
    except ConfigError as exc:
        named = str(exc).startswith(f"config {path}")
        raise ConfigError(str(exc) if named else f"config {path}: {exc}") from None
    return values, inputs


def _from_settings(values: dict[str, Any]) -> dict[str, Any]:
    imagej = values.pop("imagej", None)
    if imagej is not None and not isinstance(imagej, str):
        raise ConfigError(f"imagej = {imagej!r} must be text; write e.g. imagej = "
                          '"rolling=50 light"')
    merged = settings_from_imagej(imagej) if imagej else {}
    method = values.get("method")
    if imagej and method is not None and not _same_method(method, merged.get("method")):
        raise ConfigError(f"imagej = {imagej!r} runs the imagej method, but method = "
                          f"{method!r} asks for another; keep one of them")
    options = {**merged.pop("options", {}), **_options_table(values.pop("options", None),
                                                             "options")}
    merged.update(normalise_keys(values))
    merged["options"] = options
    return merged


def _table(record: dict[str, Any], key: str) -> dict[str, Any]:
    """``record[key]`` if it is a table, else ConfigError naming the key (None: empty)."""
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} = {value!r} must be a table; copy the record bgsub wrote "
                          "again, or write the settings as a TOML config")
    return value


#: A settings file is a few lines; anything larger is not one (or /dev/zero).
MAX_CONFIG_BYTES = 2**20


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = _read_text(path)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                          f"at position {exc.start}); save it as UTF-8") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = _yaml(text)
        else:
            data = _toml(text)
    except ConfigError:
        raise
    except Exception as exc:  # each parser has its own error type
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"config {path} is not valid {suffix.lstrip('.') or 'TOML'}: "
                          f"{first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a table of settings; see docs/cli.md for "
                          "the format")
    return data


def _read_text(path: Path) -> str:
    """The file's text, refusing what is not a regular file of at most MAX_CONFIG_BYTES."""
    import stat

    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise ConfigError(f"config {path} is not a regular file; give a TOML, YAML or "
                          ".bgsub.json file")
    with open(path, "rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES // 2**20} MiB; "
                          "a settings file is a few lines, check the path")
    return data.decode("utf-8")


def _toml(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


def _yaml(text: str) -> Any:
    try:
        import yaml
    except ModuleNotFoundError:
        raise ConfigError("YAML configs need PyYAML (pip install pyyaml); "
                          "or write the config as TOML") from None
    return yaml.safe_load(text)


def _pick_pipeline(data: dict[str, Any], pipeline: str | None, path: Path) -> dict[str, Any]:
    pipelines = data.get("pipelines", data.get("pipeline"))
    if pipelines is None:
        if pipeline is not None:
            raise ConfigError(f"config {path} holds a single pipeline; drop --pipeline "
                              f"{pipeline}")
        return dict(data)
    if not isinstance(pipelines, dict) or not pipelines:
        raise ConfigError(f"config {path}: [pipelines] must hold named tables; write e.g. "
                          "[pipelines.nuclei]")
    name = pipeline or data.get("default")
    if name is None and len(pipelines) == 1:
        name = next(iter(pipelines))
    if name is None:
        raise ConfigError(f"config {path} holds pipelines {', '.join(pipelines)}; "
                          "choose one with --pipeline NAME")
    if name not in pipelines:
        raise ConfigError(f"config {path} has no pipeline {name!r}; "
                          f"choose one of {', '.join(map(str, pipelines))}")
    if not isinstance(pipelines[name], dict):
        raise ConfigError(f"config {path}: pipeline {name!r} = {pipelines[name]!r} must be a "
                          f"table of settings; write e.g. [pipelines.{name}]")
    return dict(pipelines[name])


def _from_provenance(record: dict[str, Any]) -> dict[str, Any]:
    """Settings that reproduce the output a provenance record describes."""
    params = _table(record, "parameters")
    values = {key: params[key] for key in _API_KEYS if key in params}
    values["options"] = _options_table(params.get("options"), "parameters.options")
    if values.get("method") == "imagej":  # a record from before imagej_version existed
        values["options"].setdefault("imagej_version", UNVERSIONED_IMAGEJ_VERSION)
    if values.get("spacing") is None:
        values["spacing"] = "none"
    settings = _table(record, "settings")
    for key in ("save_background", "format", "suffix", "figure", "figure_plane", "flatfield",
                "darkfield", "pyramid"):
        if key in settings:
            values[key] = settings[key]
    series = _table(record, "input").get("series")
    values["series"] = "all" if series is None else series
    return values
