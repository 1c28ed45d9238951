"""Installed size of bgsub with its required dependencies, from the current environment.

Reads bgsub's ``Requires-Dist`` (no extras) and follows every required distribution's
own requirements (their markers evaluated for this interpreter, extras such as
``dask[array]`` included), then sums the files each installed distribution lists in its
``RECORD`` (compiled ``.pyc`` files included, as pip installs them). bgsub itself is
counted from its package folder. The figure is what ``pip install bgsub`` puts in a
clean virtual environment's site-packages, without pip and setuptools.

Usage::

    python tools/installed_size.py                       # total and the largest distributions
    python tools/installed_size.py --without numba       # as if bgsub no longer required numba
    python tools/installed_size.py --without matplotlib --without dask

``--without NAME`` drops one of bgsub's direct requirements, and with it every
distribution only it brought in.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MB = 1e6


def requirements_of(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    """The requirements of ``dist`` that apply here, with ``extras`` of it requested."""
    found = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None:
            found.append(requirement)
            continue
        for extra in extras | {""}:
            if requirement.marker.evaluate({**default_environment(), "extra": extra}):
                found.append(requirement)
                break
    return found


def closure(roots: list[Requirement]) -> dict[str, metadata.Distribution]:
    """Every installed distribution ``roots`` need, by canonical name."""
    seen: dict[str, metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in seen and extras <= extras_seen[name]:
            continue
        try:
            dist = seen.get(name) or metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            print(f"warning: {requirement.name} is required but not installed", file=sys.stderr)
            continue
        seen[name] = dist
        extras_seen[name] = extras_seen.get(name, set()) | extras
        pending.extend(requirements_of(dist, extras_seen[name]))
    return seen


def distribution_bytes(dist: metadata.Distribution) -> int:
    """Bytes of the files ``dist`` installed (those still present)."""
    total = 0
    for file in dist.files or []:
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def package_bytes(name: str) -> int:
    """Bytes of an importable package's folder (bgsub itself, editable or not)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return 0
    folder = Path(next(iter(spec.submodule_search_locations)))
    # what a wheel holds: sources and built extensions, not caches or Cython's C output
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and not p.name.endswith((".c", ".pyx", ".h")))


def sizes(without: set[str]) -> dict[str, int]:
    """Bytes per distribution: bgsub and its required dependencies."""
    bgsub = metadata.distribution("bgsub")
    roots = [r for r in requirements_of(bgsub, set())
             if canonicalize_name(r.name) not in without]
    found = {name: distribution_bytes(dist) for name, dist in closure(roots).items()}
    found["bgsub"] = package_bytes("bgsub")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="leave out one of bgsub's direct requirements (repeatable)")
    parser.add_argument("--top", type=int, default=15, help="largest distributions listed")
    args = parser.parse_args(argv)
    without = {canonicalize_name(n) for n in args.without}
    found = sizes(without)
    total = sum(found.values())
    label = f" without {', '.join(sorted(without))}" if without else ""
    print(f"bgsub with its required dependencies{label}: {total / MB:.0f} MB in "
          f"{len(found)} distributions")
    for name, size in sorted(found.items(), key=lambda item: -item[1])[:args.top]:
        print(f"  {name:<28} {size / MB:8.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
