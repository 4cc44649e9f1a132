"""Model names the CLI accepts: a local directory, or a named base such as `toy` (the embedded
warm-started base).

A named base is built by a layer above this one (the toy base by the toy world's warm start),
so this module names its builder as "module:function" and imports it only when the base is
asked for, like a plugin: models never import the toy world or training. `register_base` adds
more names. A training run resolves a named base through its run builder where it has one
(`run_base`: the toy base's refuses to warm-start under a multi-process launch).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seethink.errors import UserError

if TYPE_CHECKING:
    from seethink.config import Recipe

_BASES: dict[str, Callable[[Recipe], Path]] = {}
# Built-in named bases, imported on first use.
_BUILTIN = {"toy": "seethink.toyworld.bases:toy_base"}
# Built-in builders a training run uses instead (they take `log`), imported on first use.
_BUILTIN_RUN = {"toy": "seethink.toyworld.bases:toy_base_for_run"}


def register_base(name: str, build: Callable[[Recipe], Path]) -> None:
    """Make `name` resolve to the directory `build(recipe)` returns (building it if needed)."""
    _BASES[name] = build


def _builder(name: str) -> Callable[[Recipe], Path] | None:
    if name not in _BASES and name in _BUILTIN:
        module, attr = _BUILTIN[name].split(":")
        _BASES[name] = getattr(importlib.import_module(module), attr)
    return _BASES.get(name)


def run_base(name: str, recipe: Recipe, log: Any = print) -> Path | None:
    """The directory of the built-in named base `name` for a training run (built if needed),
    or None where `name` is not one."""
    if name not in _BUILTIN_RUN:
        return None
    module, attr = _BUILTIN_RUN[name].split(":")
    path: Path = getattr(importlib.import_module(module), attr)(recipe, log=log)
    return path


def resolve_model(name: str, recipe: Recipe | None = None) -> Path:
    build = _builder(name)
    if build is not None:
        from seethink.config import Recipe

        return build(recipe or Recipe())
    p = Path(name).expanduser()
    if not p.is_dir():
        named = " or ".join(repr(n) for n in sorted({*_BASES, *_BUILTIN}))
        raise UserError(f"model path not found: {name} (give a local model directory, or {named})")
    return p
