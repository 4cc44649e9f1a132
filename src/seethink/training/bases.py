"""The named bases training builds, which `seethink.models.resolve` names and imports on first
use: `toy`, the warm-started toy base (`seethink.training.warmstart`).

Importing this is cheap: the warm start and its libraries load only when a base is resolved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seethink.config import Recipe


def toy_base(recipe: Recipe) -> Path:
    from seethink.training.warmstart import ensure_toy_base

    return ensure_toy_base(recipe)

