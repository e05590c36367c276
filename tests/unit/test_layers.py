"""The package's shape, as DESIGN.md draws it: data flows one way, so imports run one way.

sources -> cluster model -> policy IR -> engine -> findings / reports -> cli. Every import in `auditor/` (also the
ones inside functions) is read from the source text; the tests fail on an import that runs up the layers, on any
import cycle between modules, and on an underscore name imported from another module (private means private).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "auditor"

# What each part may import (besides itself). Lower layers never import higher ones.
ALLOWED = {
    "sets": set(),  # value types: intervals, ports, addresses
    "model": {"sets"},
    "policy": {"model", "sets"},
    "sources": {"model", "sets", "auditor"},  # `auditor`: the package's __version__ only
    "engine": {"policy", "model", "sets"},
    "dns": {"engine", "policy", "model", "sets"},
    "findings": {"dns", "engine", "policy", "model", "sets"},
    "probe": {"dns", "engine", "policy", "sources", "model", "sets"},
    "analysis": {"engine", "policy", "sources", "model", "sets"},
    "report": {"findings", "dns", "probe", "engine", "policy", "model", "sets", "auditor"},
    "cli": {"analysis", "report", "findings", "dns", "probe", "engine", "policy", "sources", "model", "sets",
            "auditor"},
    "auditor": set(),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, str, int]]]:
    """module -> [(imported module, imported name or '', line)] for every import of an `auditor` module."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found: dict[str, list[tuple[str, str, int]]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = found.setdefault(name, [])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("auditor"):
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in modules:
                        edges.append((submodule, "", node.lineno))
                    else:
                        edges.append((target, alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                edges.extend((a.name, "", node.lineno) for a in node.names if a.name.startswith("auditor"))
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "auditor"


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m in _imports()}
    assert parts <= set(ALLOWED), f"new part(s) {sorted(parts - set(ALLOWED))}: give them a place in ALLOWED"


def test_imports_never_run_up_the_layers():
    wrong = []
    for module, edges in _imports().items():
        for target, _, line in edges:
            if _part(target) != _part(module) and _part(target) not in ALLOWED[_part(module)]:
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "imports against the data flow:\n  " + "\n  ".join(wrong)


def test_no_import_cycles_between_modules():
    graph = {m: {t for t, _, _ in edges if t != m} for m, edges in _imports().items()}
    # Tarjan's strongly connected components: any component with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_is_imported_from_another_module():
    wrong = [f"{module}:{line} imports {name} from {target}"
             for module, edges in _imports().items() for target, name, line in edges
             if name.startswith("_") and not name.startswith("__")]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_wrong_import():
    # The tests above pass on an empty graph too: prove they read real edges.
    edges = _imports()
    assert ("auditor.sets.ports", "PortSet") in {(t, n) for t, n, _ in edges["auditor.engine.evaluate"]}
    assert any(t == "auditor.cli.common" for t, _, _ in edges["auditor.cli.matrix"])
