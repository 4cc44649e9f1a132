"""Reward functions and their combination.

Every reward is `fn(completion: str, item: dict) -> dict[str, float]` with at least
`overall`; the parts (`accuracy`, `format`) are kept so training can log them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from seethink.registry import Registry
from seethink.rewards.extract import extract_boxed, match_choice
from seethink.rewards.mathcheck import math_equal

RewardFn = Callable[[str, dict], dict[str, float]]
REWARDS: Registry[RewardFn] = Registry("reward")

# One <think> block, then an answer that contains a box; nothing else may open a second think.
_NO_TAG = r"(?:(?!</?think>).)*"
_FORMAT = re.compile(rf"^\s*<think>{_NO_TAG}</think>{_NO_TAG}\\boxed\{{{_NO_TAG}\}}{_NO_TAG}$", re.DOTALL)


def _text(completion: Any) -> str:
    """TRL passes conversational completions as message lists; accept both shapes."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") if isinstance(m, dict) else str(m) for m in completion)
    return str(completion)


def format_reward(completion: Any, item: dict | None = None) -> dict[str, float]:
    ok = bool(_FORMAT.match(_text(completion))) and extract_boxed(_text(completion)) is not None
    return {"overall": float(ok), "format": float(ok)}


def accuracy_reward(completion: Any, item: dict, timeout_s: float = 5.0) -> dict[str, float]:
    """Multiple choice: the boxed letter (or option text); otherwise math equivalence."""
    boxed = extract_boxed(_text(completion))
    options = item.get("options") or []
    if options:
        ok = match_choice(boxed, options) == str(item["answer"]).strip().upper()
    else:
        ok = math_equal(boxed, str(item["answer"]), timeout_s=timeout_s)
    return {"overall": float(ok), "accuracy": float(ok)}


REWARDS.add("format", format_reward)
REWARDS.add("accuracy", accuracy_reward)


def part_name(spec: str) -> str:
    """Log name of a user reward: `fn` for `path/file.py:fn`, else the registered name."""
    return spec.rsplit(":", 1)[-1] if ".py:" in spec else spec


def build_reward(
    accuracy_weight: float = 0.9,
    format_weight: float = 0.1,
    extra: list[str] | None = None,
    extra_weights: list[float] | None = None,
    timeout_s: float = 5.0,
) -> RewardFn:
    """The weighted sum (default 0.9 accuracy + 0.1 format) plus any user rewards."""
    extras = [(part_name(name), REWARDS.get(name)) for name in (extra or [])]
    weights = list(extra_weights or [1.0] * len(extras))

    def reward(completion: Any, item: dict) -> dict[str, float]:
        acc = accuracy_reward(completion, item, timeout_s=timeout_s)["accuracy"]
        fmt = format_reward(completion)["format"]
        parts = {"accuracy": acc, "format": fmt}
        total = accuracy_weight * acc + format_weight * fmt
        for (name, fn), w in zip(extras, weights, strict=True):
            out = fn(_text(completion), item)
            value = float(out["overall"] if isinstance(out, dict) else out)
            parts[name] = value
            total += w * value
        return {"overall": total, **parts}

    return reward
