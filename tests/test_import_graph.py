"""Issue 25: medbench's modules form no import circle. Every import counts -- at the top, inside a
function, or under ``TYPE_CHECKING`` -- because each is a dependency a reader must follow and a change
can break. The scan reads the source (AST), so it needs no import to succeed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import medbench

ROOT = Path(medbench.__file__).parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The medbench module an imported name lives in (``medbench.a.b`` -> itself or its package)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in ROOT.rglob("*.py") if "_plugins" not in p.parts}
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                found = _resolve(target, modules)
                # a package's __init__ is not a dependency of the modules inside it (Python runs it anyway)
                if found and found != module and not module.startswith(found + "."):
                    graph[module].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_finds_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_medbench_imports_itself_back_through_another():
    assert cycles(import_graph()) == []


# ---- Issue 37: packages that show the architecture --------------------------------------------------


def declared_imports() -> dict[str, set[str]]:
    """Each package's ``May import:`` line (its ``__init__`` docstring): the packages it may use."""
    out = {}
    for init in sorted(ROOT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        found = re.search(r"May import: (.*?)\.$", doc, re.S | re.M)
        assert found, f"{init}: its docstring declares no 'May import:' line"
        said = " ".join(found.group(1).split()).removesuffix(" (medbench's packages)")
        out[init.parent.name] = set() if said == "nothing of medbench" else set(said.split(", "))
    return out


def upward_imports(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    """Every import (top-level or in a function) from one package into one it does not declare."""
    wrong = []
    for module, targets in sorted(graph.items()):
        own = module.split(".")[1] if module.count(".") else None
        for target in sorted(targets):
            other = target.split(".")[1] if target.count(".") else None
            if own in allowed and other in allowed and other != own and other not in allowed[own]:
                wrong.append(f"{module} -> {target}")
    return wrong


def test_medbench_has_at_most_twenty_modules_at_its_top():
    assert len([p for p in ROOT.glob("*.py")]) <= 20


def test_every_package_imports_only_what_its_docstring_declares():
    allowed = declared_imports()
    assert set(allowed) == {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert cycles({name: deps & set(allowed) for name, deps in allowed.items()}) == []
    assert all(deps <= set(allowed) for deps in allowed.values())
    assert upward_imports(import_graph(), allowed) == []


def test_the_direction_check_catches_an_upward_import_in_a_function():
    graph = {"medbench.core.paths": {"medbench.run.runner"}, "medbench.run.runner": {"medbench.core.paths"}}
    allowed = {"core": set(), "run": {"core"}}
    assert upward_imports(graph, allowed) == ["medbench.core.paths -> medbench.run.runner"]
