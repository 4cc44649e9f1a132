"""The package's shape, checked so it does not drift: imports flow one way (no cycle; `data`,
`models` and `eval` never import `training`), the toy world is reached only through registries
(nothing below the command line imports `seethink.toyworld`), and no function runs past 60
lines. Imports inside functions count too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "seethink"
# The command line layer may name the toy world's commands.
TOY_IMPORTERS = {"seethink.cli", "seethink.data.commands"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _target(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield _target(mod, path.name == "__init__.py", node)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def owner(name: str) -> str | None:  # the module an imported name lives in
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        targets = {owner(t) for t in _imports(mod, path) if t.startswith("seethink")}
        graph[mod] = {t for t in targets if t and t != mod}
    return graph


def _layer(mod: str) -> str:
    return mod.split(".")[1] if "." in mod else mod


def test_no_import_cycle() -> None:
    graph, done, cycles = _graph(), set(), []

    def visit(mod: str, path: list[str]) -> None:
        for nxt in sorted(graph[mod]):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(mod)

    for mod in sorted(graph):
        if mod not in done:
            visit(mod, [mod])
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_data_models_and_eval_never_import_training() -> None:
    bad = [f"{m} -> {t}" for m, ts in _graph().items() for t in ts
           if _layer(m) in ("data", "models", "eval") and _layer(t) == "training"]
    assert not bad, "imports against the flow config -> data -> training -> eval:\n" + "\n".join(bad)


def test_only_the_command_line_imports_the_toy_world() -> None:
    bad = [f"{m} -> {t}" for m, ts in _graph().items() for t in ts
           if _layer(t) == "toyworld" and _layer(m) != "toyworld" and m not in TOY_IMPORTERS]
    assert not bad, "generic code importing the toy world (use a registry plugin):\n" + "\n".join(bad)


def test_no_function_over_60_lines() -> None:
    long = []
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 60:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 60 lines (split them into named steps):\n" + "\n".join(long)
