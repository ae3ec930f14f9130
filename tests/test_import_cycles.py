"""Packages of kraken_tui depend on each other in one direction only.

A cycle between two packages means neither can be understood, tested or replaced without
the other. The graph is read from the source with `ast`, counting every import: at module
top, inside functions (a deferred import still ties the two packages together) and under
`TYPE_CHECKING`. A package is a first-level name under kraken_tui (`engine`, `sandbox`, ...)
or a top-level module (`cli`, `runtime`, `settings`, ...).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import kraken_tui

ROOT = Path(kraken_tui.__file__).parent
ROOT_PACKAGE = "kraken_tui"


@dataclass(frozen=True, slots=True)
class ImportSite:
    module: str
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line}"


Graph = Mapping[str, Mapping[str, list[ImportSite]]]
"""package -> package it imports -> where it does so."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(module: str) -> str:
    """`kraken_tui.engine.risk` -> `engine`; `kraken_tui.cli` -> `cli`; the root itself ->
    `kraken_tui`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT_PACKAGE


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Absolute names of the kraken_tui modules a module imports, with their line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = ".".join(anchor[: len(anchor) - drop])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target == ROOT_PACKAGE:
                # `from kraken_tui import cli` names a module; `import __version__` the root.
                for alias in node.names:
                    submodule = f"{ROOT_PACKAGE}.{alias.name}"
                    named = (ROOT / alias.name).is_dir() or (ROOT / f"{alias.name}.py").exists()
                    yield submodule if named else ROOT_PACKAGE, node.lineno
            else:
                yield target, node.lineno


def package_graph() -> Graph:
    graph: dict[str, dict[str, list[ImportSite]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        source = _package_of(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported, line in _imported_modules(tree, module, path.name == "__init__.py"):
            if imported != ROOT_PACKAGE and not imported.startswith(f"{ROOT_PACKAGE}."):
                continue
            target = _package_of(imported)
            if target != source:
                graph[source][target].append(ImportSite(module, line))
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm: groups of packages that all reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [group for group in groups if len(group) > 1]


def describe_cycles(graph: Graph, groups: list[list[str]]) -> str:
    """Each tangled group with every import that ties its packages together."""
    lines = []
    for group in groups:
        lines.append(" <-> ".join(group))
        for source in group:
            for target in sorted(set(graph[source]) & set(group)):
                sites = ", ".join(str(site) for site in graph[source][target])
                lines.append(f"  {source} -> {target}: {sites}")
    return "\n".join(lines)


def test_cycle_finder_reports_a_cycle_with_the_imports_that_make_it() -> None:
    a_to_b = [ImportSite("kraken_tui.a.x", 3)]
    b_to_a = [ImportSite("kraken_tui.b.y", 7)]
    graph = {"a": {"b": a_to_b, "c": []}, "b": {"a": b_to_a}, "c": {}}
    groups = strongly_connected(graph)
    assert groups == [["a", "b"]]
    assert describe_cycles(graph, groups) == (
        "a <-> b\n  a -> b: kraken_tui.a.x:3\n  b -> a: kraken_tui.b.y:7"
    )


def test_package_graph_counts_imports_made_inside_functions() -> None:
    graph = package_graph()
    assert "domain" in graph["engine"]
    assert all(site.module.startswith("kraken_tui.") for site in graph["engine"]["domain"])


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    groups = strongly_connected(graph)
    assert groups == [], "import cycles between packages:\n" + describe_cycles(graph, groups)
