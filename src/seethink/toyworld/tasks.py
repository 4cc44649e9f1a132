"""The toy world's tasks, registered into `seethink.data.tasks.TASKS` as its plugin.

`toy_perception`, `toy_text` and `toy_visual` (the three capabilities; `toy_visual` can
attribute its errors to perception) and `toy_caption` (caption SFT).
"""

from __future__ import annotations

from seethink.config import ToyWorldSpec
from seethink.data.tasks import TASKS, Task
from seethink.toyworld.attribution import READINGS, classify, subquestion_items
from seethink.toyworld.generators import caption_items, generate_items


def _toy(capability: str) -> Task:
    name = f"toy_{capability}"

    def gen(n: int, split: str, seed: int, world: ToyWorldSpec) -> list[dict]:
        return generate_items(capability, n, split, seed, world, task=name)  # the world travels whole

    return Task(name=name, capability=capability, generate=gen)


def _toy_caption() -> Task:
    """Caption SFT (the ablation of perception RL): image in, the scene's caption out.

    Train with `trainer.kind: sft`: the target is the plain caption, which the GRPO reward
    (a `\\boxed{}` answer) cannot score.
    """
    name = "toy_caption"

    def gen(n: int, split: str, seed: int, world: ToyWorldSpec) -> list[dict]:
        return caption_items(n, split, seed, world, task=name)

    return Task(name=name, capability="caption", generate=gen)


for _cap in ("perception", "text", "visual"):
    TASKS.add(f"toy_{_cap}", _toy(_cap))
_visual = TASKS.get("toy_visual")
_visual.subitems, _visual.readings, _visual.classify = subquestion_items, dict(READINGS), classify
TASKS.add("toy_caption", _toy_caption())
