"""Rewards: pure functions `fn(completion, item) -> {"overall": ..., ...parts}`."""

from seethink.rewards.core import REWARDS, accuracy_reward, build_reward, format_reward
from seethink.rewards.extract import extract_boxed, match_choice
from seethink.rewards.mathcheck import math_equal

__all__ = [
    "REWARDS",
    "accuracy_reward",
    "build_reward",
    "extract_boxed",
    "format_reward",
    "match_choice",
    "math_equal",
]
