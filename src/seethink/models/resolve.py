"""Model names the CLI accepts: a local directory, or `toy` (the embedded warm-started base)."""

from __future__ import annotations

from pathlib import Path

from seethink.config import Recipe
from seethink.errors import UserError


def resolve_model(name: str, recipe: Recipe | None = None) -> Path:
    if name == "toy":
        from seethink.training.warmstart import ensure_toy_base

        return ensure_toy_base(recipe or Recipe())
    p = Path(name).expanduser()
    if not p.is_dir():
        raise UserError(f"model path not found: {name} (give a local model directory, or 'toy')")
    return p
