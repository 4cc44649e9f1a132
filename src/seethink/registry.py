"""Name -> object registries (rewards, tasks, benchmarks) and user code given as `file.py:name`."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from seethink.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> objects of one kind.

    `items` are the built-ins of the module that owns the registry. `plugins` are modules that
    register their objects here when imported (the toy world's tasks and rewards plug in as user
    code would). They are imported once, the first time the registry is asked anything (an `add`
    included, so that a user cannot shadow one of their names), so generic code that merely
    imports the registry does not import them.
    """

    def __init__(self, kind: str, items: Mapping[str, T] | None = None, plugins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.plugins = tuple(plugins)
        self._items: dict[str, T] = dict(items or {})
        self._plugins_state = "pending" if self.plugins else "loaded"  # pending | loading | loaded

    def _load_plugins(self) -> None:
        # A plugin calls `add` (and may `get`) on this registry while it loads: those calls
        # must not import the plugins again, hence "loading" before the first import.
        if self._plugins_state != "pending":
            return
        self._plugins_state = "loading"
        try:
            for module in self.plugins:
                importlib.import_module(module)
        finally:
            self._plugins_state = "loaded"

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        self._load_plugins()
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        """A registered name, or `path/to/file.py:attr` for user code."""
        self._load_plugins()
        if name in self._items:
            return self._items[name]
        if ":" in name and name.split(":", 1)[0].endswith(".py"):
            return load_user_object(name)
        near = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise UserError(f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(self._items))})")

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self._load_plugins()
        return iter(sorted(self._items))


def load_user_object(spec: str) -> Any:
    """Import `attr` from a Python file the user named explicitly (never from a search path)."""
    path_s, _, attr = spec.rpartition(":")
    path = Path(path_s).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"user code file not found: {path_s} (from {spec!r})")
    mod_name = f"seethink_user_{abs(hash(str(path)))}"
    if mod_name in sys.modules:
        module = sys.modules[mod_name]
    else:
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise UserError(f"cannot import {path_s}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[mod_name]
            raise UserError(f"{path_s}: importing it failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, attr):
        raise UserError(f"{path_s} has no attribute {attr!r}")
    return getattr(module, attr)
