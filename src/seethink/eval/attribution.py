"""Perception-error attribution: of the wrong answers, how many started with a misread image?

The reference paper attributes 86.9% of a VLM's wrong answers to perception. Here several
*readings* each decide, per answer, whether perception failed (True), did not (False), or
cannot tell (None). A reading is either a function `(item, response) -> bool | None` (it grades
what the response itself says: a scene inventory, the facts its trace states, or later an LLM
judge's verdict) or a *probe*: the model is asked the item's perception sub-questions on their
own (`probe_subquestions`) and a wrong sub-answer flags the item. Nothing here knows a dataset:
the toy world's readings live in `seethink.toyworld.attribution` (READINGS, PROBES).

`attribute` reports each reading's flag rate on wrong answers AND on right answers. The second
is the calibration check: a reading that flags most right answers too is not measuring the cause
of the wrong ones, and "X% of errors are perception errors" means little unless the rate on
right answers is clearly lower.

Which reading the claims table uses (`primary_reading`): `misseen_facts` where items carry
scene inventories, then `inventory`, else `subquestions`. Both inventory readings grade what the
model reported seeing in the same response, before it reasoned, against the scene's ground
truth: no second generation, no judge. `inventory` alone flags every wrong inventory, also one
the answer never used: a model that writes a wrong inventory and then reads the question's counts
from the image anyway (some toy models do) gets its right answers flagged about as often as its
wrong ones, and the share then says nothing. `misseen_facts` flags a wrong inventory only when
the counts the answer went on to reason with are wrong too, so a misread counts when it reached
the answer; where the model reasons from its inventory the two agree. The sub-question probe
needs no inventory, so it is the fallback anywhere, but it asks a different question in a
different context (a lone count question, not the model's own reading within its answer), so
it measures perception ability on the item rather than what went wrong in that response.
Caveat: the toy inventory readings judge the whole scene, so a misread object the question does
not need also counts for `inventory`; `inventory_groups` (only the question's groups) is the
tighter causal reading and worth showing beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from seethink.data.images import item_images
from seethink.data.prompts import render_prompt
from seethink.eval.engine import generate

ReadingFn = Callable[[dict, str], bool | None]

# Preferred readings for the claims table, best first (see the module docstring).
PRIMARY_ORDER = ("misseen_facts", "inventory", "subquestions")

# Where a wrong answer went wrong, as a task's `classify` places it: it saw the scene wrong (its
# own account of the image is not the image), it saw right but misread its own description (the
# facts it then states disagree with that account), or its facts were right and it reasoned
# wrong; undecided when the response has nothing to grade. With their labels for reports.
CATEGORIES = {
    "saw_wrong": "saw the scene wrong",
    "misread_description": "misread its own description",
    "reasoned_wrong": "reasoned wrong on right facts",
    "undecided": "undecided",
}


def primary_reading(available: Sequence[str], order: Sequence[str] = PRIMARY_ORDER) -> str:
    """The reading the claims table should use among `available` (readings with decided answers,
    e.g. `available_readings(result)`): the first of `order` present."""
    for name in order:
        if name in available:
            return name
    raise ValueError(f"none of the preferred readings {list(order)} is available (have {list(available)})")


def available_readings(result: dict) -> list[str]:
    """Readings of an `attribute` result that decided at least one wrong answer."""
    return [name for name, r in result["readings"].items() if r["wrong_n"] - r["undecided_wrong"] > 0]


def probe_flag(correct: Sequence[bool] | None) -> bool | None:
    """A probe's perception flag: some sub-question answered wrong; None when there were none."""
    if not correct:
        return None
    return not all(correct)


def probe_subquestions(
    model: Any,
    processor: Any,
    items: Sequence[dict],
    reward: Callable[[str, dict], dict[str, float]],
    make_subitems: Callable[[dict], list[dict]],
    *,
    batch_size: int = 32,
    max_new_tokens: int = 64,
) -> dict[str, list[bool]]:
    """Ask the model each item's perception sub-items (greedy, with their images) and grade them.

    Returns item id -> one bool per sub-item (answered right), in `make_subitems` order; items
    with no sub-items map to []. Probe right and wrong answers alike, so the reading's rate
    on right answers (its calibration) can be reported.
    """
    owners: list[str] = []
    subs: list[dict] = []
    out: dict[str, list[bool]] = {}
    for it in items:
        out[it["id"]] = []
        for sub in make_subitems(it):
            owners.append(it["id"])
            subs.append(sub)
    if not subs:
        return out
    convs = [[{"role": "user", "content": render_prompt(s)}] for s in subs]
    imgs = [item_images(s) for s in subs]
    outs = generate(model, processor, convs, imgs, max_new_tokens=max_new_tokens, batch_size=batch_size)
    for owner, sub, (resp,) in zip(owners, subs, outs, strict=True):
        out[owner].append(bool(reward(resp, sub).get("accuracy", 0.0) >= 1.0))
    return out


def _share(flagged: int, decided: int) -> float | None:
    return 100.0 * flagged / decided if decided else None


def _attributed_rows(preds: Iterable[dict], by_id: Mapping[str, dict], readings: Mapping[str, ReadingFn],
                     probes: Mapping[str, Mapping[str, Sequence[bool]]], capability: str,
                     classify: Callable[[dict, str], str] | None) -> list[dict]:
    """One row per prediction of `capability`: its id, whether it was right, every reading's flag,
    and (wrong rows, with classify) its category."""
    rows: list[dict] = []
    for p in preds:
        if p.get("capability") != capability:
            continue
        item = by_id.get(p["id"])
        if item is None:
            raise ValueError(f"prediction {p['id']!r} has no item among the given items")
        resp = str(p.get("response") or "")
        row: dict[str, Any] = {"id": p["id"], "correct": bool(p["correct"])}
        for name, fn in readings.items():
            row[name] = fn(item, resp)
        for name, table in probes.items():
            row[name] = probe_flag(table.get(p["id"]))
        if classify is not None and not row["correct"]:
            row["category"] = classify(item, resp)
        rows.append(row)
    return rows


def _reading_stats(rows: list[dict], name: str) -> dict[str, Any]:
    """One reading's counts and flag shares on the wrong and on the right rows."""
    s: dict[str, Any] = {}
    for side, correct in (("wrong", False), ("right", True)):
        flags = [r[name] for r in rows if r["correct"] is correct]
        flagged = sum(1 for f in flags if f is True)
        undecided = sum(1 for f in flags if f is None)
        s[f"{side}_n"] = len(flags)
        s[f"{side}_flagged"] = flagged
        s[f"{side}_share"] = _share(flagged, len(flags) - undecided)
        s[f"undecided_{side}"] = undecided
    return s


def _categories(rows: list[dict], n_wrong: int) -> dict[str, dict]:
    cats: dict[str, int] = {}
    for r in rows:
        if "category" in r:
            cats[r["category"]] = cats.get(r["category"], 0) + 1
    return {c: {"n": k, "share": _share(k, n_wrong)} for c, k in sorted(cats.items())}


def attribute(
    preds: Iterable[dict],
    items: Iterable[dict] | Mapping[str, dict],
    readings: Mapping[str, ReadingFn],
    probes: Mapping[str, Mapping[str, Sequence[bool]]] | None = None,
    *,
    capability: str = "visual",
    classify: Callable[[dict, str], str] | None = None,
) -> dict:
    """Each reading's perception flags on the wrong and on the right answers of `capability`.

    preds: rows as eval/toy.py writes them to predictions.jsonl ({id, capability, response,
    correct, ...}); rows of other capabilities are ignored. items: the evaluated items (a list,
    or id -> item); every attributed row's id must be there. readings: name -> (item, response)
    -> True / False / None. probes: name -> (item id -> sub-answers right), as
    `probe_subquestions` returns; a row's probe flag is `probe_flag` of its entry (None if absent).
    classify: optional (item, response) -> category, applied to wrong answers.

    Returns {
      "capability", "n", "wrong", "right",
      "readings": {name: {wrong_n, wrong_flagged, wrong_share, undecided_wrong,
                          right_n, right_flagged, right_share, undecided_right}},
      "items": [{"id", "correct", <name>: flag, ..., "category" (wrong rows, with classify)}],
      "categories": {category: {"n", "share"}}  (wrong answers; only with classify),
    }
    wrong_n / right_n count all wrong / right answers; shares are percentages of the DECIDED
    ones (wrong_n - undecided_wrong), None when none was decided; undecided counts give coverage.
    Category shares are of ALL wrong answers (what `classify` cannot place is its own category).
    """
    probes = dict(probes or {})
    clash = set(readings) & set(probes)
    if clash:
        raise ValueError(f"readings and probes share names: {sorted(clash)}")
    by_id = dict(items) if isinstance(items, Mapping) else {it["id"]: it for it in items}
    rows = _attributed_rows(preds, by_id, readings, probes, capability, classify)
    n_wrong = sum(1 for r in rows if not r["correct"])
    out: dict[str, Any] = {
        "capability": capability,
        "n": len(rows),
        "wrong": n_wrong,
        "right": len(rows) - n_wrong,
        "readings": {name: _reading_stats(rows, name) for name in [*readings, *probes]},
        "items": rows,
    }
    if classify is not None:
        out["categories"] = _categories(rows, n_wrong)
    return out
