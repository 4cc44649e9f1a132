"""The toy world's named base, which `seethink.models.resolve` names and imports on first use:
`toy`, the warm-started toy base (`seethink.toyworld.warmstart`).

Importing this is cheap: the warm start and its libraries load only when a base is resolved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seethink.config import Recipe


def toy_base(recipe: Recipe, log: Any = print) -> Path:
    from seethink.toyworld.warmstart import ensure_toy_base

    return ensure_toy_base(recipe, log=log)


def toy_base_for_run(recipe: Recipe, log: Any = print) -> Path:
    """The toy base of a training run. The warm start runs in one process, so a multi-process
    launch (accelerate) stops with an error unless it is cached already."""
    from seethink import dist
    from seethink.errors import UserError
    from seethink.toyworld.warmstart import cached_base

    if dist.world_size() > 1 and not (cached_base(recipe) / "warmstart.json").is_file():
        raise UserError(
            "model.path=toy: the toy warm start runs in one process and is not cached yet; build it first "
            "without accelerate (e.g. `seethink eval --model toy --n 1 --no-ablation` with the same "
            "toy/toy_model/warmstart settings), then launch again"
        )
    return toy_base(recipe, log=log)
