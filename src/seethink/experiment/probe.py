"""Perception-error attribution inside an experiment: probes at evaluation, readings at report time.

A task may own attribution: `Task.subitems(item)` (perception sub-questions asked of the model
on their own, with the image) and `Task.readings` (name -> (item, response) -> flag). The
toy tasks have both; a task without them is simply not attributed (a judge for real
benchmarks can join as another reading).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seethink.config import Recipe
from seethink.utils import read_jsonl, write_jsonl


def _subitems_of(item: dict) -> list[dict]:
    from seethink.data.tasks import TASKS, get_task

    name = str(item.get("task", ""))
    if name not in TASKS:
        return []
    make = getattr(get_task(name), "subitems", None)
    return make(item) if make is not None else []


def probe_model(recipe: Recipe, model_path: str | Path, items: list[dict], out: Path, log: Any = print) -> Path | None:
    """Ask the model every evaluated item's sub-questions (greedy); out/subquestions.jsonl."""
    from seethink.eval.attribution import probe_subquestions
    from seethink.eval.device import load_for_eval
    from seethink.rewards.core import build_reward

    path = out / "subquestions.jsonl"
    key = out / "subquestions.key.json"
    want = {"items": [it["id"] for it in items], "model": str(Path(model_path).resolve())}
    if path.is_file() and key.is_file() and json.loads(key.read_text()) == want:
        return path
    todo = [it for it in items if _subitems_of(it)]
    if not todo:
        return None
    log(f"[attribution] asking {sum(len(_subitems_of(it)) for it in todo)} sub-questions of {len(todo)} items")
    model, processor, _, _ = load_for_eval(model_path, device=recipe.eval.device, dtype=recipe.eval.dtype,
                                           load_dtype=recipe.model.dtype,
                                           trust_remote_code=recipe.model.trust_remote_code)
    r = recipe.reward
    reward = build_reward(r.accuracy_weight, r.format_weight, r.extra, r.extra_weights, timeout_s=r.timeout_s)
    answers = probe_subquestions(model, processor, todo, reward, _subitems_of, batch_size=recipe.eval.batch_size,
                                 max_new_tokens=recipe.eval.max_new_tokens)
    write_jsonl(path, [{"id": i, "correct": a} for i, a in answers.items()])
    key.write_text(json.dumps(want))
    return path


def readings_for(items: list[dict]) -> dict[str, Any]:
    """The response readings the items' tasks define (name -> function), merged over tasks."""
    from seethink.data.tasks import TASKS, get_task

    out: dict[str, Any] = {}
    for name in sorted({str(it.get("task", "")) for it in items}):
        if name in TASKS:
            out.update(getattr(get_task(name), "readings", None) or {})
    return out


def classifier_for(items: list[dict]) -> Any:
    from seethink.data.tasks import TASKS, get_task

    for name in sorted({str(it.get("task", "")) for it in items}):
        if name in TASKS and getattr(get_task(name), "classify", None) is not None:
            return get_task(name).classify
    return None


def load_probe(out: Path) -> dict[str, list[bool]]:
    path = out / "subquestions.jsonl"
    return {r["id"]: [bool(x) for x in r["correct"]] for r in read_jsonl(path)} if path.is_file() else {}
