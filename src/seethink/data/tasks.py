"""Tasks: a named source of items together with the reward that scores them.

A task owns its data and its reward (after nanochat's Task). Stages name tasks;
users register more with `TASKS.add(...)` or point at `file.py:make_task`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seethink.config import ToyWorldSpec
from seethink.data.toyworld import caption_items, generate_items
from seethink.data.toyworld.attribution import READINGS, classify, subquestion_items
from seethink.registry import Registry
from seethink.rewards.core import RewardFn, build_reward


@dataclass
class Task:
    name: str
    capability: str  # perception | text | visual | caption
    # generate(n, split, seed, world) -> items
    generate: Callable[[int, str, int, ToyWorldSpec], list[dict]]
    reward: RewardFn | None = None  # None: the recipe's combined reward
    # Perception-error attribution (seethink.eval.attribution), where the task can tell:
    # subitems(item) -> perception sub-questions to ask the model on their own (with the image);
    # readings: name -> (item, response) -> True (perception failed) / False / None (cannot tell);
    # classify(item, response) -> saw_wrong | misread_description | reasoned_wrong | undecided.
    subitems: Callable[[dict], list[dict]] | None = None
    readings: dict[str, Callable[[dict, str], bool | None]] | None = None
    classify: Callable[[dict, str], str] | None = None


TASKS: Registry[Task] = Registry("task")


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


def get_task(name: str) -> Task:
    obj = TASKS.get(name)
    if callable(obj) and not isinstance(obj, Task):  # user factory `file.py:make_task`
        obj = obj()
    if not isinstance(obj, Task):
        from seethink.errors import UserError

        raise UserError(f"task {name!r} did not resolve to a seethink Task")
    return obj


def task_reward(task: Task, default: RewardFn | None = None) -> RewardFn:
    return task.reward or default or build_reward()
