"""Check the import structure of ``src/bgsub``: no cycles, no reaching into private names.

Rules (see ``docs/architecture.md``):

* the graph of imports between bgsub's modules -- every ``import``, at module level or
  inside a function -- has no cycle (a package's ``__init__`` is the package's module,
  and importing a submodule is not counted as importing its parent package);
* no ``from module import _name`` of another module's private name;
* a private module (``bgsub.io._tiff``) is imported only from inside its own package
  (``bgsub.io`` and below).

Run ``python tools/check_imports.py`` (exit status 1 and one line per problem) or call
:func:`problems` from a test.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "bgsub"
ROOT = Path(__file__).resolve().parent.parent / "src"


def module_name(path: Path, root: Path = ROOT) -> str:
    """``src/bgsub/io/_tiff.py`` -> ``bgsub.io._tiff``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every Python module of the package, by dotted name."""
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def importable(root: Path = ROOT) -> dict[str, Path]:
    """The Python modules and the compiled ones (``kernels/_ball.pyx`` -> ``bgsub.kernels._ball``).

    Compiled modules are import targets only: their imports are not parsed (Cython is not Python).
    """
    compiled = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.pyx"))}
    return {**compiled, **modules(root)}


def _imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """``(imported module, names taken from it, line)`` for each bgsub import of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            names = []
            for alias in node.names:
                if f"{target}.{alias.name}" in known:  # ``from bgsub import io``: a module
                    found.append((f"{target}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((target, names, node.lineno))
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the bgsub modules it imports."""
    known = importable(root)
    return {name: {target for target, _, _ in _imports(name, path, known)
                   if target in known and target != name}
            for name, path in modules(root).items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _private_module(target: str) -> str | None:
    """The package owning ``target``'s first private part (``bgsub.io`` for ``bgsub.io._tiff``)."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _private_attributes(path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """``io._zarr`` and the like: a private name read off an imported bgsub module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and alias.asname:
                    aliases[alias.asname] = alias.name
                elif alias.name.split(".")[0] == PACKAGE:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append((f"{aliases[node.value.id]}.{node.attr}", node.lineno))
    return found


def problems(root: Path = ROOT) -> list[str]:
    """One line per cycle and per import of another module's private name or private module."""
    known = importable(root)
    lines = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph(root))]
    for name, path in modules(root).items():
        where = path.relative_to(root.parent) if root.parent in path.parents else path
        for target, names, line in _imports(name, path, known):
            owner = _private_module(target)
            if owner is not None and not (name == owner or name.startswith(owner + ".")):
                lines.append(f"{where}:{line}: imports {target}, private to {owner}")
            for taken in names:
                if taken.startswith("_") and not taken.startswith("__"):
                    lines.append(f"{where}:{line}: imports private name {taken} from {target}")
        for target, line in _private_attributes(path, known):
            lines.append(f"{where}:{line}: uses private name {target}")
    return lines


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
