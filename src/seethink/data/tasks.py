"""Tasks: a named source of items together with the reward that scores them.

A task owns its data and its reward (after nanochat's Task). Stages name tasks;
users register more with `TASKS.add(...)` or point at `file.py:make_task`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seethink.config import ToyWorldSpec
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


# The toy world plugs in as user code would: its module registers its tasks when first asked for.
TASKS: Registry[Task] = Registry("task", plugins=("seethink.toyworld.tasks",))


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
