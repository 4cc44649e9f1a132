"""Reward functions and their combination.

Every reward is `fn(completion: str, item: dict) -> dict[str, float]` with at least
`overall`; the parts (`accuracy`, `format`) are kept so training can log them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from seethink.errors import UserError
from seethink.registry import Registry
from seethink.rewards.extract import final_boxed, gold_choice, match_choice
from seethink.rewards.guard import GuardedRewards, RewardFaults
from seethink.rewards.mathcheck import judge

RewardFn = Callable[[str, dict], dict[str, float]]

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def _text(completion: Any) -> str:
    """TRL passes conversational completions as message lists; accept both shapes."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") if isinstance(m, dict) else str(m) for m in completion)
    return str(completion)


def format_ok(text: str) -> bool:
    """One `<think>...</think>` block opening the response, then an answer with a closed final box.

    Nothing else may open or close a think; the box the response ends on must be complete and lie
    after `</think>`. A handful of `str.find` calls: linear in the text, however many unclosed
    `\\boxed{` it repeats.
    """
    body = text.lstrip()
    if not body.startswith(_THINK_OPEN):
        return False
    if text.count(_THINK_OPEN) != 1 or text.count(_THINK_CLOSE) != 1:
        return False
    answer = body[body.find(_THINK_CLOSE) + len(_THINK_CLOSE) :]
    return "\\boxed" in answer and final_boxed(answer) is not None


def format_reward(completion: Any, item: dict | None = None) -> dict[str, float]:
    ok = format_ok(_text(completion))
    return {"overall": float(ok), "format": float(ok)}


def accuracy_reward(completion: Any, item: dict, timeout_s: float = 5.0,
                    on_timeout: Callable[[], None] | None = None) -> dict[str, float]:
    """1 when the final box holds the item's answer, else 0 (see docs/rewards.md).

    Multiple choice (`options`): the letter, the option's text, or the letter with its option's
    text. Otherwise `judge`: exact numbers, text as text, structures element by element, symbolic
    equivalence in a worker process within `timeout_s`. A check that runs out of time scores 0
    and calls `on_timeout` (the combined reward counts it in `reward_timeouts`).
    """
    answer = final_boxed(_text(completion))
    options = item.get("options") or []
    gold = item["answer"]
    if options:
        ok = answer is not None and match_choice(answer, options) == gold_choice(gold, options)
    else:
        verdict = judge(answer, str(gold), timeout_s=timeout_s)
        if verdict is None and on_timeout is not None:
            on_timeout()
        ok = verdict is True
    return {"overall": float(ok), "accuracy": float(ok)}


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip().replace(",", ""))
    except (TypeError, ValueError):
        return None


def closeness_reward(completion: Any, item: dict) -> dict[str, float]:
    """Partial credit where the answer is a number (a count, a product of counts):
    1 when exact, falling linearly to 0 at a relative error of 100%. Multiple-choice items
    count when their options are numbers (the chosen option's value against the right
    one's); other items score 0. Meant as an extra part beside `accuracy`, so that a near
    miss teaches more than a wild one.
    """
    boxed = final_boxed(_text(completion))
    options = item.get("options") or []
    if options:
        letter = match_choice(boxed, options)
        gold_letter = gold_choice(item["answer"], options)
        idx = {chr(ord("A") + i): str(o) for i, o in enumerate(options)}
        pred, gold = _number(idx.get(letter or "")), _number(idx.get(gold_letter))
    else:
        pred, gold = _number(boxed), _number(item.get("answer"))
    if pred is None or gold is None:
        return {"overall": 0.0, "closeness": 0.0}
    score = max(0.0, 1.0 - abs(pred - gold) / max(1.0, abs(gold)))
    return {"overall": score, "closeness": score}


_THINK_BODY = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def think_match_reward(completion: Any, item: dict) -> dict[str, float]:
    """Partial credit for a `<think>` that says what the item's worked solution says: the
    word-level match ratio (2 x matched words / total words, in order) of the two traces.

    In the toy world the worked trace is a function of the scene and the question ("red
    shapes: 1 square, 2 square. That is 2, B."), so each object read right earns credit,
    and a right answer reached from a wrong reading earns less than one read right. Items
    without a `solution` score 0. An extra part beside `accuracy`, not a replacement.
    """
    from difflib import SequenceMatcher

    gold = _THINK_BODY.search(str(item.get("solution") or ""))
    mine = _THINK_BODY.search(_text(completion))
    if gold is None or mine is None:
        return {"overall": 0.0, "think_match": 0.0}
    a, b = mine.group(1).split(), gold.group(1).split()
    score = SequenceMatcher(None, a, b, autojunk=False).ratio() if (a or b) else 0.0
    return {"overall": score, "think_match": score}


# The toy world plugs in as user code would: its module registers its rewards when first asked for.
REWARDS: Registry[RewardFn] = Registry(
    "reward",
    {"format": format_reward, "accuracy": accuracy_reward, "closeness": closeness_reward, "think_match": think_match_reward},
    plugins=("seethink.toyworld.rewards",),
)


def part_name(spec: str) -> str:
    """Log name of a user reward: `fn` for `path/file.py:fn`, else the registered name."""
    return spec.rsplit(":", 1)[-1] if ".py:" in spec else spec


class Reward:
    """The combined reward: `reward(completion, item) -> {"overall": ..., parts}`.

    Our accuracy and format parts run in-process; user rewards run under `GuardedRewards`
    (a time limit, faults scored 0). `faults` counts what went wrong; `close()` stops the
    reward worker (it also stops when the object is garbage collected or at exit).
    """

    def __init__(self, accuracy_weight: float, format_weight: float, extras: list[tuple[str, RewardFn | None, str | None]],
                 weights: list[float], timeout_s: float) -> None:
        self.accuracy_weight = accuracy_weight
        self.format_weight = format_weight
        self.weights = weights
        self.timeout_s = timeout_s
        self.faults = RewardFaults(timeout_s=timeout_s)
        self.extras = GuardedRewards(extras, timeout_s, self.faults)

    def _part(self, name: str, fn: Callable[[], dict[str, float]]) -> float:
        try:
            return float(fn()[name])
        except Exception as exc:  # a bad item or an extraction bug must not stop training
            self.faults.error(name, f"{type(exc).__name__}: {exc}")
            return 0.0

    def __call__(self, completion: Any, item: dict) -> dict[str, float]:
        text = _text(completion)
        acc = self._part("accuracy", lambda: accuracy_reward(text, item, timeout_s=self.timeout_s,
                                                             on_timeout=lambda: self.faults.timeout("accuracy")))
        fmt = self._part("format", lambda: format_reward(text))
        parts = {"accuracy": acc, "format": fmt}
        total = self.accuracy_weight * acc + self.format_weight * fmt
        values = self.extras(text, item) if self.extras.names else []
        for name, value, w in zip(self.extras.names, values, self.weights, strict=True):
            parts[name] = value
            total += w * value
        return {"overall": total, **parts}

    def close(self) -> None:
        self.extras.close()


def build_reward(
    accuracy_weight: float = 0.9,
    format_weight: float = 0.1,
    extra: list[str] | None = None,
    extra_weights: list[float] | None = None,
    timeout_s: float = 5.0,
) -> Reward:
    """The weighted sum (default 0.9 accuracy + 0.1 format) plus any user rewards.

    `extra` names registered rewards or user code as `path/to/file.py:function`; a user file
    is imported only in the reward worker process (see `seethink.rewards.guard`).
    """
    entries: list[tuple[str, RewardFn | None, str | None]] = []
    for name in extra or []:
        if name.rpartition(":")[0].endswith(".py"):
            entries.append((part_name(name), None, name))
        else:
            entries.append((part_name(name), REWARDS.get(name), None))
    weights = list(extra_weights or [1.0] * len(entries))
    if len(weights) != len(entries):
        raise UserError("config key 'reward.extra_weights': give one weight per reward.extra entry")
    return Reward(accuracy_weight, format_weight, entries, weights, timeout_s)
