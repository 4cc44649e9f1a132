"""Rewards: pure functions `fn(completion, item) -> {"overall": ..., ...parts}` (docs/rewards.md)."""

from seethink.rewards.core import REWARDS, accuracy_reward, build_reward, format_reward
from seethink.rewards.extract import extract_boxed, final_boxed, match_choice
from seethink.rewards.mathcheck import judge, math_equal

__all__ = [
    "REWARDS",
    "accuracy_reward",
    "build_reward",
    "extract_boxed",
    "final_boxed",
    "format_reward",
    "judge",
    "match_choice",
    "math_equal",
]
