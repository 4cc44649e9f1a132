"""Held-out evaluators by name: how a world's items are answered and summarised.

An evaluator's `evaluate(model, processor, items, reward, **settings)` returns (metrics,
prediction rows) and its `summarize(preds, items)` the metrics of prediction rows (the toy rows'
schema is shared by benchmark rows, so one summary covers both). The toy world's evaluator plugs
in as `toy` (`seethink.toyworld.evaluate`), imported the first time an evaluator is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seethink.registry import Registry


@dataclass(frozen=True)
class Evaluator:
    evaluate: Callable[..., tuple[dict, list[dict]]]
    summarize: Callable[[list[dict], list[dict]], dict]


EVALUATORS: Registry[Evaluator] = Registry("evaluator", plugins=("seethink.toyworld.evaluate",))


def get_evaluator(name: str = "toy") -> Evaluator:
    return EVALUATORS.get(name)


__all__ = ["EVALUATORS", "Evaluator", "get_evaluator"]
