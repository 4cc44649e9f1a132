"""Packaged recipes (presets) selectable by name: `seethink demo --preset quick`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PRESETS = ("smoke", "quick", "gentle")


def preset_path(name: str) -> Path:
    return Path(str(resources.files("seethink.recipes").joinpath(f"{name}.yaml")))
