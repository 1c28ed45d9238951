"""Install the requirements of bgsub's optional extras without rebuilding bgsub itself.

    python tools/install_extras.py test napari-test

``pip install -e ".[test]"`` would compile the Cython kernels again (about 80 s on two cores)
though ``make``'s first step has just installed them; the extras' own requirements are all that
is missing. They are read from ``pyproject.toml``, the one place they are defined, and an extra
that names ``bgsub[...]`` brings those extras' requirements in turn. bgsub's own requirements are
passed too, so that pip resolves the extras within them, as it would for ``.[test]``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_SELF = re.compile(r"^\s*bgsub\s*\[(?P<extras>[^\]]*)\]\s*$")


def requirements(extras: list[str], table: dict[str, list[str]]) -> list[str]:
    """The requirements of ``extras``, those of ``bgsub[...]`` self-references included."""
    found: list[str] = []
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in table:
            sys.exit(f"install_extras: no extra {extra!r} in pyproject.toml "
                     f"(it has {', '.join(sorted(table))})")
        seen.add(extra)
        for requirement in table[extra]:
            match = _SELF.match(requirement)
            if match:
                todo.extend(name.strip() for name in match["extras"].split(","))
            elif requirement not in found:
                found.append(requirement)
    return found


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit("usage: python tools/install_extras.py EXTRA [EXTRA ...]")
    with PYPROJECT.open("rb") as file:
        project = tomllib.load(file)["project"]
    wanted = project["dependencies"] + requirements(argv, project["optional-dependencies"])
    command = [sys.executable, "-m", "pip", "install", "--quiet", *wanted]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
