"""Packaged recipes (presets) selectable by name: `seethink demo --preset quick`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PRESETS = ("smoke", "fast", "quick")
# Old names still accepted, so commands in older notes and run logs keep working.
ALIASES = {"gentle": "quick"}


def preset_names() -> tuple[str, ...]:
    """Every name `preset_path` accepts: the presets, then their aliases."""
    return PRESETS + tuple(ALIASES)


def preset_path(name: str) -> Path:
    name = ALIASES.get(name, name)
    return Path(str(resources.files("seethink.recipes").joinpath(f"{name}.yaml")))
