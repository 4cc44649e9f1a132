"""Perception-error attribution across a study's arms: the evaluated items rebuilt from the
saved recipe, and per reading the flagged share of each arm's wrong and right answers.

Used by the study report and by the sweep report (the base's share per setting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seethink.eval import stats
from seethink.experiment.results import Study


def study_items(study: Study) -> list[dict] | None:
    """The evaluated items (with their facts), rebuilt from the saved recipe."""
    import tempfile

    import yaml

    from seethink.config import load_recipe
    from seethink.data.plan import eval_items
    from seethink.errors import UserError

    cfg = dict(study.config)
    cfg.pop("experiment", None)  # arms and seeds do not change the items
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(cfg, f)
    try:
        return eval_items(load_recipe(f.name))
    except UserError:
        return None
    finally:
        Path(f.name).unlink(missing_ok=True)


def attribution_rows(study: Study, items: list[dict]) -> tuple[list[str], dict[str, list[dict]]]:
    """Per reading: one row per arm with the flagged share of wrong and right answers over seeds."""
    from seethink.eval.attribution import attribute
    from seethink.experiment.probe import readings_for

    readings = readings_for(items)
    per_reading: dict[str, list[dict]] = {}
    names: list[str] = []
    for arm in ["base", *study.arms]:
        seeds = [None] if arm == "base" else study.arm_seeds(arm)
        flags: dict[str, dict[str, list[np.ndarray]]] = {}
        for s in seeds:
            probes = {"subquestions": study.probes[(arm, s)]} if (arm, s) in study.probes else {}
            res = attribute(study.pred(arm, s).values(), items, readings, probes)
            for name in res["readings"]:
                if name not in names:
                    names.append(name)
                for side, ok in (("wrong", False), ("right", True)):
                    got = [r[name] for r in res["items"] if r["correct"] is ok and r.get(name) is not None]
                    flags.setdefault(name, {}).setdefault(side, []).append(np.array(got, dtype=float))
        for name, sides in flags.items():
            row: dict[str, Any] = {"arm": arm}
            for side, arrays in sides.items():
                row[side] = stats.share_ci(arrays) if sum(a.size for a in arrays) else None
            per_reading.setdefault(name, []).append(row)
    return names, per_reading


def category_rows(study: Study, items: list[dict]) -> list[dict]:
    """Per arm: the share of its wrong answers in each `CATEGORIES` place (the items' task's
    `classify`), mean over seeds with a 95% interval; [] when no task classifies its errors."""
    from seethink.eval.attribution import CATEGORIES, attribute
    from seethink.experiment.probe import classifier_for

    classify = classifier_for(items)
    if classify is None:
        return []
    rows = []
    for arm in ["base", *study.arms]:
        seeds = [None] if arm == "base" else study.arm_seeds(arm)
        per: dict[str, list[np.ndarray]] = {c: [] for c in CATEGORIES}
        for s in seeds:
            res = attribute(study.pred(arm, s).values(), items, {}, classify=classify)
            placed = [r["category"] for r in res["items"] if "category" in r]
            for c in CATEGORIES:
                per[c].append(np.array([p == c for p in placed], dtype=float))
        row: dict[str, Any] = {"arm": arm}
        for c, arrays in per.items():
            row[c] = stats.share_ci(arrays) if sum(a.size for a in arrays) else None
        rows.append(row)
    return rows
