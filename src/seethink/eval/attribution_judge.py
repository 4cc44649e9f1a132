"""Perception-error attribution on any benchmark through an LLM judge, and its calibration.

The toy world's readings (`seethink.data.toyworld.attribution`) grade what a response says
about the scene against the scene's facts; real benchmarks have no such facts. Here an LLM
behind an OpenAI-compatible endpoint (`seethink.eval.judge.Judge`; the key read from a named
environment variable, never written) reads a wrong answer with its question, options, reference
answer and, when the item has one, the image's caption or description, and labels it
`perception` (it misread the image) or `reasoning` (it read the image right and went wrong
later), with a one-sentence reason. The prompt is the packaged file
`seethink/data/prompts/attribution_judge.txt` (or `--template FILE`); the reply must be one JSON
object `{"label": ..., "reason": ...}` and nothing else (a code fence around it is tolerated).
A reply that does not parse is asked again once with the problem named; then the row is
undecided (None).

Caching: every verdict is appended to a JSONL cache keyed by (judge model, prompt template text,
the row: id, question, options, reference, response, description), so a rerun, or the same row
in another run, costs no call, and an interrupted run resumes.

`judge_reading(judge, cache)` is a reading for `seethink.eval.attribution.attribute`:
(item, response) -> True (perception error) / False (reasoning error) / None (undecided, or a
right answer: the judge is asked about wrong answers only, so its right-answer row in the
calibration table stays undecided; its calibration is the agreement below instead).

Calibration: `TOY_CALIBRATION` is a hand-labelled set of 30 wrong answers to toy-world visual
items (written for this purpose; the items are `generate_items("visual", 30, "test", 0,
inventory=True)`). `calibrate(judge)` reports the judge's agreement (accuracy and Cohen's kappa)
with the hand labels and with the exact toy attribution (`classify`, scope "question":
saw_wrong = perception; misread_description and reasoned_wrong = reasoning).
`seethink judge attribution toy ...` runs it from the command line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.eval.judge import Judge, fill_prompt, load_cache_rows, load_prompt, prompt_digest
from seethink.utils import append_jsonl, read_jsonl, write_json

TEMPLATE = "attribution_judge"
LABELS = ("perception", "reasoning")
MAX_REASON = 300
RETRY_NOTE = ('\n\nYour previous reply could not be used: {problem}. Reply with exactly one JSON object '
              '{"label": "perception" or "reasoning", "reason": "..."} and nothing else.')
NO_DESCRIPTION = "No description of the image is available: judge from the question and the response."
RESPONSE_FIELDS = ("response", "prediction", "model_answer", "output")

Grade = Callable[[str, dict], bool]


class VerdictError(ValueError):
    """A judge reply that is not one label and a short reason."""


# ---------------------------------------------------------------- prompt and reply


def describe(item: dict) -> str:
    text = item.get("description") or item.get("caption") or ""
    if isinstance(text, str) and text.strip():
        return f"Description of the image (written by someone who saw it): {text.strip()}"
    return NO_DESCRIPTION


def judge_row(item: dict, response: str) -> dict:
    """What a verdict depends on (and is cached by)."""
    from seethink.data.prompts import format_options

    return {"id": str(item.get("id", "")), "question": str(item.get("question", "")).strip(),
            "options": format_options(item.get("options") or []), "gold": str(item.get("answer", "")).strip(),
            "response": response, "description": describe(item)}


def build_prompt(template: str, row: dict) -> str:
    return fill_prompt(template, {k: row[k] for k in ("question", "options", "gold", "response", "description")})


def parse_verdict(reply: str) -> tuple[str, str]:
    """(label, reason) from a reply that is exactly one JSON object with those two keys."""
    text = reply.strip()
    if text.startswith("```"):
        text = text.strip("`").strip()
        if text.lower().startswith("json"):
            text = text[4:].strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise VerdictError("the reply is not one JSON object") from None
    if not isinstance(data, dict) or set(data) != {"label", "reason"}:
        raise VerdictError('the object must have exactly the keys "label" and "reason"')
    label = data["label"]
    if not isinstance(label, str) or label.strip().lower() not in LABELS:
        raise VerdictError('"label" must be "perception" or "reasoning"')
    reason = data["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise VerdictError('"reason" must be a non-empty sentence')
    if len(reason) > MAX_REASON:
        raise VerdictError(f'"reason" must be short (at most {MAX_REASON} characters)')
    return label.strip().lower(), reason.strip()


# ---------------------------------------------------------------- the cache


class VerdictCache:
    """Verdicts on disk (append-only JSONL) and in memory, keyed by model + template + row."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.rows: dict[str, dict] = {}
        if self.path is not None:
            for r in load_cache_rows(self.path):
                if "key" in r:
                    self.rows[r["key"]] = r

    @staticmethod
    def key(model: str, template: str, row: dict) -> str:
        raw = json.dumps([model, prompt_digest(template), row], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, key: str, verdict: dict) -> None:
        entry = {"key": key, **verdict}
        self.rows[key] = entry
        if self.path is not None:
            append_jsonl(self.path, entry)


def _as_cache(cache: VerdictCache | str | Path | None) -> VerdictCache:
    return cache if isinstance(cache, VerdictCache) else VerdictCache(cache)


def judge_one(judge: Judge, template: str, item: dict, response: str, cache: VerdictCache,
              max_attempts: int = 2) -> dict:
    """{"label": perception | reasoning | None, "reason", "error", "attempts", "cached"} for one answer."""
    row = judge_row(item, response)
    key = VerdictCache.key(judge.model, template, row)
    hit = cache.get(key)
    if hit is not None:
        return {k: hit.get(k) for k in ("label", "reason", "error", "attempts")} | {"cached": True}
    prompt = build_prompt(template, row)
    problem = ""
    reply = ""
    for attempt in range(1, max_attempts + 1):
        text = prompt if attempt == 1 else prompt + fill_prompt(RETRY_NOTE, {"problem": problem})
        reply = judge.ask(text)
        try:
            label, reason = parse_verdict(reply)
        except VerdictError as exc:
            problem = str(exc)
            continue
        verdict = {"id": row["id"], "label": label, "reason": reason, "error": None, "attempts": attempt}
        cache.put(key, verdict)
        return verdict | {"cached": False}
    verdict = {"id": row["id"], "label": None, "reason": "", "error": f"{problem}; last reply: {reply[:200]!r}",
               "attempts": max_attempts}
    cache.put(key, verdict)
    return verdict | {"cached": False}


def default_grade() -> Grade:
    """Right or wrong by the accuracy part of the recipe's default reward."""
    from seethink.rewards.core import build_reward

    reward = build_reward()
    return lambda response, item: bool(reward(response, item).get("accuracy", 0.0) >= 1.0)


def judge_reading(judge: Judge, cache: VerdictCache | str | Path | None = None, *,
                  template: str | Path = TEMPLATE, grade: Grade | None = None,
                  max_attempts: int = 2) -> Callable[[dict, str], bool | None]:
    """A reading for `attribute`: True perception error, False reasoning error, None undecided.

    Right answers (by `grade`, default the recipe reward's accuracy) are not sent to the judge
    and read None."""
    text = load_prompt(template, required=("question", "response"))
    vcache = _as_cache(cache)
    grader = grade or default_grade()

    def reading(item: dict, response: str) -> bool | None:
        if grader(response, item):
            return None
        label = judge_one(judge, text, item, response, vcache, max_attempts)["label"]
        return None if label is None else label == "perception"

    return reading


# ---------------------------------------------------------------- agreement


def agreement(labels: Sequence[str | None], reference: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy and Cohen's kappa of `labels` against `reference`, over the pairs both decide.

    kappa = (p_o - p_e) / (1 - p_e), p_e from the two label distributions; None when p_e is 1
    (both sides use one label only) or nothing is decided."""
    if len(labels) != len(reference):
        raise ValueError("labels and reference differ in length")
    pairs = [(a, b) for a, b in zip(labels, reference, strict=True) if a is not None and b is not None]
    n = len(pairs)
    confusion = {f"{a}/{b}": sum(1 for x, y in pairs if (x, y) == (a, b)) for a in LABELS for b in LABELS}
    out: dict[str, Any] = {"n": n, "undecided": len(labels) - n, "confusion": confusion,
                           "accuracy": None, "kappa": None}
    if n == 0:
        return out
    p_o = sum(1 for a, b in pairs if a == b) / n
    p_e = sum((sum(1 for a, _ in pairs if a == c) / n) * (sum(1 for _, b in pairs if b == c) / n) for c in LABELS)
    out["accuracy"] = p_o
    out["kappa"] = None if p_e >= 1.0 else (p_o - p_e) / (1.0 - p_e)
    return out


# ---------------------------------------------------------------- the toy calibration set

# Hand-labelled wrong answers to generate_items("visual", 30, "test", 0, inventory=True), one per
# item, in that order: (item id, response, label, what went wrong). Labels say where the answer
# went wrong causally: "perception" when the facts the answer needs are misread from the image,
# "reasoning" when they are read right (an unneeded object misread, or the response's own notes
# misread, does not make it a perception error). Items 26 and 27 have no scene inventory.
TOY_CALIBRATION: tuple[tuple[str, str, str, str], ...] = (
    ("toy_visual-3e8f8d0973",
     "<think> red: triangle, circle. blue: circle. yellow: square. yellow shapes: 1 square. squares: 1 yellow. 1*1=1.</think> \\boxed{1}",
     "perception", "the yellow circle read as a square"),
    ("toy_visual-c9e89d2352",
     "<think> red: square, square. green: circle. yellow: square, circle. squares: 1 red, 2 red, 3 yellow. yellow shapes: 1 square, 2 circle. 3-2=2.</think> \\boxed{2}",
     "reasoning", "3-2 computed as 2"),
    ("toy_visual-10453e990e",
     "<think> blue: circle. red: triangle. blue shapes: 1 circle. red shapes: 1 triangle. 1-1=0.</think> \\boxed{0}",
     "perception", "the blue triangle read as red"),
    ("toy_visual-3f6ae72354",
     "<think> red: square. green: circle, triangle, triangle. blue: square, triangle. blue shapes: 1 square, 2 triangle. circles: 1 green. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-77318a4a71",
     "<think> blue: circle, square, triangle. circles: 1 blue. squares: 1 blue. 1+1=2.</think> \\boxed{2}",
     "perception", "a blue triangle read as a circle"),
    ("toy_visual-1e300a9dd1",
     "<think> red: triangle. blue: square. yellow: square. squares: 1 blue, 2 yellow. blue shapes: 1 square. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question subtracts"),
    ("toy_visual-c466f1a62d",
     "<think> red: triangle, triangle. yellow: triangle. red shapes: 1 triangle, 2 triangle. circles: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "2*0 computed as 2; the yellow square read as a triangle, which the answer does not need"),
    ("toy_visual-294c792ac3",
     "<think> red: circle. green: square. yellow: square, triangle, circle. green shapes: 1 square. circles: 1 red, 2 yellow. 1*2=2.</think> \\boxed{2}",
     "perception", "the blue square read as green"),
    ("toy_visual-f58566ff69",
     "<think> red: circle, circle, triangle. red shapes: 1 circle, 2 circle, 3 triangle. yellow shapes: none. 3-0=3.</think> \\boxed{3}",
     "perception", "one red triangle missed"),
    ("toy_visual-593fc20e10",
     "<think> green: triangle. blue: square. blue shapes: 1 square. red shapes: none. 1*0=1.</think> \\boxed{1}",
     "reasoning", "1*0 computed as 1"),
    ("toy_visual-6d56bf9f61",
     "<think> red: triangle. blue: circle. yellow: triangle, circle. triangles: 1 red. squares: none. 1+0=1.</think> \\boxed{1}",
     "reasoning", "the inventory is right; the triangle listing skips the yellow one it wrote down"),
    ("toy_visual-70297c9e08",
     "<think> blue: square. red: circle. circles: 1 red. red shapes: 1 circle. 1+1=2.</think> \\boxed{2}",
     "perception", "the yellow circle read as red"),
    ("toy_visual-c052c42d84",
     "<think> red: circle. green: circle, square. blue: triangle. yellow: square. yellow shapes: 1 square. triangles: 1 blue. 1+1=2.</think> \\boxed{2}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-3f49039773",
     "<think> red: square. green: circle. blue: circle, circle. yellow: square. green shapes: 1 circle. squares: 1 red, 2 yellow. 1+2=3.</think> \\boxed{3}",
     "perception", "a blue circle read as green"),
    ("toy_visual-3920b66dac",
     "<think> red: circle. green: square. blue: square. squares: 1 green, 2 blue. yellow shapes: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "2*0 computed as 2"),
    ("toy_visual-c8d926877a",
     "<think> blue: square. yellow: circle, circle. squares: 1 blue. blue shapes: 1 square. 1+1=2.</think> \\boxed{2}",
     "perception", "the red square missed"),
    ("toy_visual-3d1f946ef6",
     "<think> red: circle, square. yellow: square. squares: 1 red, 2 yellow. blue shapes: none. 2-0=0.</think> \\boxed{0}",
     "reasoning", "2-0 computed as 0"),
    ("toy_visual-6e074f54ea",
     "<think> green: circle. blue: square, circle. yellow: circle, triangle. yellow shapes: 1 circle, 2 triangle. green shapes: 1 circle. 2*1=3.</think> \\boxed{3}",
     "reasoning", "2*1 computed as 3; the blue triangle read as a circle, which the answer does not need"),
    ("toy_visual-8ba6bd79e9",
     "<think> red: square. green: circle. blue: triangle. triangles: 1 blue. blue shapes: 1 triangle. 1*1=1.</think> \\boxed{1}",
     "perception", "a blue triangle seen where there is none"),
    ("toy_visual-b25c37d7ed",
     "<think> red: triangle, circle. blue: square. yellow: square, circle. circles: 1 red, 2 yellow. green shapes: none. 2-0=1.</think> \\boxed{1}",
     "reasoning", "2-0 computed as 1"),
    ("toy_visual-2bf28f2529",
     "<think> red: circle, circle. blue: circle. yellow: triangle, triangle, triangle. circles: 1 red, 2 red, 3 blue. squares: none. 3-0=3.</think> \\boxed{3}",
     "perception", "the red square read as a circle"),
    ("toy_visual-aaa630836f",
     "<think> red: square. green: triangle, square. blue: triangle. yellow: triangle. red shapes: 1 square. blue shapes: 1 triangle. 1-1=1.</think> \\boxed{1}",
     "reasoning", "1-1 computed as 1"),
    ("toy_visual-e60d762748",
     "<think> red: circle, circle. blue: circle, circle. yellow: circle. yellow shapes: 1 circle. blue shapes: 1 circle, 2 circle. 1*2=2.</think> \\boxed{2}",
     "perception", "a red circle read as blue"),
    ("toy_visual-f23096875f",
     "<think> red: square. green: triangle. blue: square, square. yellow: triangle, square. yellow shapes: 1 triangle, 2 square. green shapes: 1 triangle. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-6d97855218",
     "<think> blue: circle. yellow: triangle, triangle. triangles: 1 yellow, 2 yellow. red shapes: none. 2-0=2.</think> \\boxed{2}",
     "perception", "the yellow circle read as a triangle"),
    ("toy_visual-a947514a26",
     "<think> green: triangle. blue: triangle, circle. circles: 1 blue. blue shapes: 1 circle. 1*1=1.</think> \\boxed{1}",
     "reasoning", "the inventory is right; the blue listing drops the triangle it wrote down"),
    ("toy_visual-940343e82c",
     "<think> circles: 1 red, 2 blue. triangles: 1 yellow. 2-1=1.</think> \\boxed{1}",
     "perception", "no inventory; it lists a blue circle the image does not have"),
    ("toy_visual-c09090e645",
     "<think> squares: 1 green, 2 yellow. red shapes: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "no inventory; the counts are right and 2*0 is computed as 2"),
    ("toy_visual-a40c19a4f1",
     "<think> red: triangle. green: circle, square. yellow: triangle. yellow shapes: 1 triangle. green shapes: 1 circle, 2 square. 1-2=-1.</think> \\boxed{-1}",
     "perception", "the yellow square read as green"),
    ("toy_visual-ed8a2413be",
     "<think> green: triangle. blue: triangle. yellow shapes: none. blue shapes: 1 triangle. 0+1=1.</think> \\boxed{1}",
     "reasoning", "added where the question multiplies"),
)

EXACT_BINARY = {"saw_wrong": "perception", "misread_description": "reasoning", "reasoned_wrong": "reasoning",
                "undecided": None}


def exact_label(item: dict, response: str, scope: str = "question") -> str | None:
    """The exact toy attribution as a binary label (None where it cannot tell)."""
    from seethink.data.toyworld.attribution import classify

    return EXACT_BINARY[classify(item, response, scope=scope)]


def toy_calibration_set(scope: str = "question") -> tuple[list[dict], list[dict]]:
    """(items, prediction rows with hand_label, exact_label and note) of TOY_CALIBRATION."""
    from seethink.data.toyworld.generators import generate_items

    items = generate_items("visual", len(TOY_CALIBRATION), "test", 0, inventory=True)
    preds = []
    for it, (item_id, response, label, note) in zip(items, TOY_CALIBRATION, strict=True):
        if it["id"] != item_id:  # the toy generator changed: the hand labels no longer fit
            raise RuntimeError(f"toy calibration item {item_id} is now {it['id']}; relabel TOY_CALIBRATION")
        preds.append({"id": item_id, "capability": "visual", "response": response, "correct": False,
                      "hand_label": label, "exact_label": exact_label(it, response, scope), "note": note})
    return items, preds


# ---------------------------------------------------------------- predictions files


def _response(row: dict) -> str | None:
    for f in RESPONSE_FIELDS:
        if isinstance(row.get(f), str):
            return row[f]
    return None


def _correct(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false", "True", "False"):
        return str(value).lower() in ("1", "true")
    return None


def _wrong_predictions(preds: Iterable[dict], by_id: Mapping[str, dict], grade: Grade | None,
                       source: str) -> tuple[list[tuple[dict, dict, str]], int, int]:
    """The wrong predictions as (row, item, response); how many rows there were; how many were right."""
    grader = grade
    wrong: list[tuple[dict, dict, str]] = []
    n = n_right = 0
    for k, p in enumerate(preds, 1):
        n += 1
        pid = str(p.get("id", ""))
        item = by_id.get(pid)
        if item is None:
            raise UserError(f"{source}, row {k}, field 'id': {pid!r} is not among the items")
        resp = _response(p)
        if resp is None:
            raise UserError(f"{source}, row {k}, field 'response': missing (tried {', '.join(RESPONSE_FIELDS)})")
        ok = _correct(p.get("correct"))
        if ok is None:
            grader = grader or default_grade()
            ok = grader(resp, item)
        if ok:
            n_right += 1
            continue
        wrong.append((p, item, resp))
    return wrong, n, n_right


def _judge_all(judge: Judge, text: str, wrong: list[tuple[dict, dict, str]], vcache: VerdictCache, *,
               max_attempts: int, workers: int) -> list[dict]:
    """One labelled row per wrong prediction, in their order (the reference labels carried along)."""

    def work(entry: tuple[dict, dict, str]) -> dict:
        p, item, resp = entry
        v = judge_one(judge, text, item, resp, vcache, max_attempts)
        row = {"id": str(p["id"]), "label": v["label"], "reason": v["reason"], "error": v["error"],
               "cached": v["cached"]}
        for extra in ("hand_label", "exact_label", "note"):
            if extra in p:
                row[extra] = p[extra]
        return row

    if workers <= 1:
        return [work(e) for e in wrong]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, wrong))


def judge_predictions(preds: Iterable[dict], items: Iterable[dict] | Mapping[str, dict], judge: Judge, *,
                      cache: VerdictCache | str | Path | None = None, template: str | Path = TEMPLATE,
                      grade: Grade | None = None, workers: int = 4, max_attempts: int = 2,
                      source: str = "predictions") -> dict[str, Any]:
    """Label every wrong prediction; {"summary": shares and agreement, "rows": per-row labels}.

    A prediction row needs `id` and a response (`response` / `prediction` / `model_answer` /
    `output`); `correct` (bool or 0/1) says whether it was right, else `grade` decides. Rows
    may carry `hand_label` / `exact_label` (perception | reasoning): agreement with them is
    reported."""
    text = load_prompt(template, required=("question", "response"))
    vcache = _as_cache(cache)
    by_id = dict(items) if isinstance(items, Mapping) else {str(it["id"]): it for it in items}
    wrong, n, n_right = _wrong_predictions(preds, by_id, grade, source)
    rows = _judge_all(judge, text, wrong, vcache, max_attempts=max_attempts, workers=workers)
    labels = [r["label"] for r in rows]
    decided = [x for x in labels if x is not None]
    summary: dict[str, Any] = {
        "judge_model": judge.model, "predictions": n, "right": n_right, "wrong": len(rows),
        "perception": labels.count("perception"), "reasoning": labels.count("reasoning"),
        "undecided": labels.count(None), "new_calls": sum(1 for r in rows if not r["cached"]),
        "perception_share": 100.0 * labels.count("perception") / len(decided) if decided else None,
        "reasoning_share": 100.0 * labels.count("reasoning") / len(decided) if decided else None,
    }
    for ref in ("hand_label", "exact_label"):
        if any(ref in r for r in rows):
            summary[f"agreement_{ref.removesuffix('_label')}"] = agreement(labels, [r.get(ref) for r in rows])
    return {"summary": summary, "rows": rows}


def calibrate(judge: Judge, cache: VerdictCache | str | Path | None = None, *, template: str | Path = TEMPLATE,
              scope: str = "question", workers: int = 4) -> dict[str, Any]:
    """The judge on TOY_CALIBRATION: its agreement with the hand labels and the exact attribution
    (and, for reference, the hand labels' agreement with the exact attribution)."""
    items, preds = toy_calibration_set(scope)
    result = judge_predictions(preds, items, judge, cache=cache, template=template, workers=workers,
                               source="toy calibration")
    result["summary"]["agreement_hand_vs_exact"] = agreement([p["hand_label"] for p in preds],
                                                             [p["exact_label"] for p in preds])
    result["summary"]["calibration_set"] = f"TOY_CALIBRATION ({len(preds)} hand-labelled wrong answers)"
    return result


def attribution_command(predictions: str, items_path: Path | None, out: Path, judge: Judge, *,
                        cache: Path | None = None, template: str | None = None,
                        workers: int = 4) -> dict[str, Any]:
    """`seethink judge attribution PREDICTIONS --items ITEMS --out FILE`; PREDICTIONS `toy` = calibration."""
    cache_path = cache or out.with_name(out.name + ".verdicts.jsonl")
    tmpl = template or TEMPLATE
    if predictions == "toy":
        result = calibrate(judge, cache_path, template=tmpl, workers=workers)
    else:
        if items_path is None:
            raise UserError("judge attribution needs --items ITEMS.jsonl (the evaluated items: question, "
                            "options, answer, and caption/description when there is one)")
        result = judge_predictions(read_jsonl(predictions), read_jsonl(items_path), judge, cache=cache_path,
                                   template=tmpl, workers=workers, source=str(predictions))
    result["summary"]["cache"] = str(cache_path)
    write_json(out, result)
    return result["summary"]


def format_summary(s: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}%"

    lines = [f"{s['wrong']} wrong of {s['predictions']} answers: perception {s['perception']} "
             f"({pct(s['perception_share'])}), reasoning {s['reasoning']} ({pct(s['reasoning_share'])}), "
             f"undecided {s['undecided']}; {s['new_calls']} new judge calls"]
    for key, name in (("agreement_hand", "hand labels"), ("agreement_exact", "exact toy attribution"),
                      ("agreement_hand_vs_exact", "hand vs exact")):
        a = s.get(key)
        if a:
            acc = "-" if a["accuracy"] is None else f"{a['accuracy']:.3f}"
            kap = "-" if a["kappa"] is None else f"{a['kappa']:.3f}"
            lines.append(f"  agreement with {name}: accuracy {acc}, kappa {kap} on {a['n']} decided pairs")
    return "\n".join(lines)
