"""The toy world's rewards, registered into `seethink.rewards.core.REWARDS` as its plugin."""

from __future__ import annotations

from typing import Any

from seethink.rewards.core import REWARDS, _text
from seethink.toyworld.generators import inventory_read_right


def inventory_reward(completion: Any, item: dict) -> dict[str, float]:
    """1 when the `<think>` opens with exactly the scene's inventory (toy items whose worked
    solutions have one, `toy.inventory`), else 0: a verifiable reward for reading the image
    right, beside `accuracy` for answering right. Items without an inventory score 0.
    """
    score = 1.0 if inventory_read_right(item, _text(completion)) else 0.0
    return {"overall": score, "inventory": score}


REWARDS.add("inventory", inventory_reward)
