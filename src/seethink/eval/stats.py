"""Paired effect sizes with bootstrap intervals: did training really move accuracy?

Two checkpoints are scored on the same held-out items, so the question is about the
per-item difference d_i = score_i(after) - score_i(before), where a score is 0/1 under
greedy decoding or the fraction of correct samples under sampled evaluation. Runs with
different seeds give one such vector each. The interval resamples seeds and then items
(the same items for every drawn seed), so it reflects both sources of variation: which
items happened to be held out, and how a training run happened to go.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def paired_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per-item differences on the items both score dicts share (item id -> score)."""
    return {k: after[k] - before[k] for k in before if k in after}


def bootstrap_ci(
    runs: Sequence[dict[str, float]], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean per-item delta (in points) over runs, with a two-level bootstrap interval.

    `runs` holds one item-id -> delta dict per seed; only items present in every run count.
    """
    if not runs:
        raise ValueError("no runs to summarise")
    items = sorted(set.intersection(*(set(r) for r in runs)))
    if not items:
        raise ValueError("the runs share no items")
    table = [[r[i] for i in items] for r in runs]  # (seeds, items)
    n_runs, n_items = len(table), len(items)

    def mean_of(run_idx: Sequence[int], item_idx: Sequence[int]) -> float:
        return sum(table[s][i] for s in run_idx for i in item_idx) / (len(run_idx) * len(item_idx))

    rng = random.Random(seed)
    point = mean_of(range(n_runs), range(n_items))
    draws = []
    for _ in range(n_boot):
        rs = [rng.randrange(n_runs) for _ in range(n_runs)]
        its = [rng.randrange(n_items) for _ in range(n_items)]
        draws.append(mean_of(rs, its))
    draws.sort()
    lo = draws[int((1 - level) / 2 * n_boot)]
    hi = draws[min(n_boot - 1, int((1 + level) / 2 * n_boot))]
    per_run = [sum(row) / n_items for row in table]
    return {
        "delta": 100.0 * point,
        "ci_low": 100.0 * lo,
        "ci_high": 100.0 * hi,
        "level": level,
        "runs": n_runs,
        "items": n_items,
        "per_run": [100.0 * x for x in per_run],
    }
