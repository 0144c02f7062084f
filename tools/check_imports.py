#!/usr/bin/env python3
"""Function-level imports that hide an import cycle.

An `import` inside a function runs late, so a cycle it closes never fails at start-up and is easy
to miss: `a` imports `b` at the top, and `b` imports `a` inside a function. This check finds every
function-level import of a module that imports the importer, directly or through other modules
(imports under `if TYPE_CHECKING:` are not run and do not count). A lazy import for speed that
closes no cycle is fine.

The known violations are the `ignore_imports` of the import-linter contracts in pyproject.toml, so
they are listed once; import-linter fails when one of them no longer matches an import.

    tools/check_imports.py [SRC_DIR] [--package dockyard]
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def modules(src: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    """The modules of ours that ``node`` imports (a name imported from a package may be a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parent = module.split(".")[: None if is_package else -1]
            parent = parent[: len(parent) - (node.level - 1)]
            base = ".".join(parent + ([node.module] if node.module else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    targets = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            targets.append(name)
    return targets


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    is_package = path.name == "__init__.py"

    def walk(nodes: Iterable[ast.AST], in_function: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(ast.iter_child_nodes(node), True)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse, in_function)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, is_package, known):
                    if target != module:
                        yield Import(module, target, node.lineno, in_function)
            else:
                yield from walk(ast.iter_child_nodes(node), in_function)

    yield from walk(ast.parse(path.read_text(), str(path)).body, False)


def hidden_cycles(src: Path, package: str, known: Set[tuple[str, str]] = frozenset()) -> list[tuple[Import, list[str]]]:
    """Each function-level import that closes a cycle, with the path back from the imported module
    to the importer. Imports listed in ``known`` are left out of the graph."""
    found = modules(src, package)
    edges = [i for name, path in found.items() for i in imports_of(name, path, found)
             if (i.importer, i.imported) not in known]
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)

    def path_between(start: str, goal: str) -> list[str] | None:
        previous: dict[str, str | None] = {start: None}
        queue = [start]
        for node in queue:
            if node == goal:
                chain = [node]
                while (step := previous[chain[-1]]) is not None:
                    chain.append(step)
                return chain[::-1]
            for nxt in sorted(graph.get(node, ())):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append(nxt)
        return None

    violations = []
    for edge in edges:
        if edge.in_function and (chain := path_between(edge.imported, edge.importer)):
            violations.append((edge, chain))
    return violations


def known_violations(pyproject: Path) -> set[tuple[str, str]]:
    """The ignore_imports of every import-linter contract, as (importer, imported) pairs."""
    config = tomllib.loads(pyproject.read_text())
    pairs = set()
    for contract in config["tool"]["importlinter"]["contracts"]:
        for entry in contract.get("ignore_imports", []):
            importer, _, imported = (part.strip() for part in entry.partition("->"))
            pairs.add((importer, imported))
    return pairs


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=root / "src")
    parser.add_argument("--package", default="dockyard")
    parser.add_argument("--pyproject", type=Path, default=root / "pyproject.toml")
    args = parser.parse_args(argv)
    violations = hidden_cycles(args.src, args.package, known_violations(args.pyproject))
    for edge, chain in violations:
        print(f"{edge.importer}:{edge.line}: a function-level import of {edge.imported} hides the cycle "
              f"{' -> '.join(chain)} -> {edge.imported}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
