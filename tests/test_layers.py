"""The import structure (issue 24): no import runs up the layer order documented in the package docstring,
and no modules import each other in a circle. Reads the source with ``ast``: every import counts, at module
level or inside a function, except those under ``if TYPE_CHECKING:`` (type hints only). Importing
``a.b.c`` also imports the packages ``a.b`` and ``a`` (their ``__init__``), so those edges count too."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import robustbench_match

PACKAGE = Path(robustbench_match.__file__).resolve().parent
NAME = "robustbench_match"


def documented_layers() -> dict[str, int]:
    """``{top-level module or subpackage: layer}`` from the numbered list in the package docstring."""
    layers = {}
    for number, names in re.findall(r"^(\d+)\. (.+)$", robustbench_match.__doc__, re.M):
        for name in names.split(","):
            layers[name.strip()] = int(number)
    return layers


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _exists(module: str) -> bool:
    path = PACKAGE.parent / module.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports() -> dict[str, set[str]]:
    """module -> the package modules it imports (with the packages those imply)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        mod = module_name(path)
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hints = _type_checking_lines(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in hints:
                continue
            found = []
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[:len(pkg.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
                found.append(target)
                found += [f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")]
            elif isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            for target in found:
                if target == NAME or target.startswith(NAME + "."):
                    parts = target.split(".")
                    targets.update(".".join(parts[:i]) for i in range(2, len(parts) + 1) if _exists(".".join(parts[:i])))
        targets.discard(mod)
        graph[mod] = {t for t in targets if not mod.startswith(t + ".")}  # a module's own parent package is
        # imported before it anyway (that is not an edge the module chose)
    return graph


def layer_of(module: str, layers: dict[str, int]) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    assert top in layers, f"{module}: its top-level name {top!r} is not in the documented layer list"
    return layers[top]


def test_no_import_runs_up_the_layers():
    layers = documented_layers()
    assert len(layers) > 20
    upward = []
    for mod, targets in imports().items():
        for target in targets:
            if layer_of(target, layers) > layer_of(mod, layers):
                upward.append(f"{mod} (layer {layer_of(mod, layers)}) imports {target} "
                              f"(layer {layer_of(target, layers)})")
    assert not upward, "\n".join(sorted(upward))


def test_no_modules_import_each_other_in_a_circle():
    graph = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
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
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, circles


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The check can fail: a planted upward import (data -> runner) is reported."""
    planted = PACKAGE / "data.py"
    source = planted.read_text(encoding="utf-8")
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: (
        source + "\n\ndef _planted():\n    from .runner import plan_suite\n" if self == planted
        else Path.__dict__["read_bytes"](self).decode(encoding or "utf-8")))
    layers = documented_layers()
    graph = imports()
    assert "robustbench_match.runner" in graph["robustbench_match.data"]
    assert layer_of("robustbench_match.runner", layers) > layer_of("robustbench_match.data", layers)
