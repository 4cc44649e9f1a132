"""Perception-error attribution on any benchmark through an LLM judge, and its calibration.

The toy world's readings (`seethink.toyworld.attribution`) grade what a response says
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

Calibration: a calibration set in `CALIBRATIONS` runs the judge on predictions with known labels;
the toy world's (`seethink.toyworld.judge_calibration`: 30 hand-labelled wrong answers to
toy-world visual items) reports the judge's agreement (accuracy and Cohen's kappa) with the hand
labels and with the exact toy attribution. `seethink judge attribution toy ...` runs it from the
command line.
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
from seethink.registry import Registry
from seethink.utils import append_jsonl, read_jsonl, write_json

TEMPLATE = "attribution_judge"
LABELS = ("perception", "reasoning")
MAX_REASON = 300
RETRY_NOTE = ('\n\nYour previous reply could not be used: {problem}. Reply with exactly one JSON object '
              '{"label": "perception" or "reasoning", "reason": "..."} and nothing else.')
NO_DESCRIPTION = "No description of the image is available: judge from the question and the response."
RESPONSE_FIELDS = ("response", "prediction", "model_answer", "output")

Grade = Callable[[str, dict], bool]
# Calibration sets by name: judge, cache, template=..., workers=... -> judge_predictions' result.
# The toy world's hand-labelled set plugs in as `toy` (`seethink.toyworld.judge_calibration`).
CALIBRATIONS: Registry[Callable[..., dict[str, Any]]] = Registry(
    "calibration set", plugins=("seethink.toyworld.judge_calibration",))


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


def attribution_command(predictions: str, items_path: Path | None, out: Path, judge: Judge, *,
                        cache: Path | None = None, template: str | None = None,
                        workers: int = 4) -> dict[str, Any]:
    """`seethink judge attribution PREDICTIONS --items ITEMS --out FILE`; PREDICTIONS the name of a
    calibration set (`toy`) = that calibration."""
    cache_path = cache or out.with_name(out.name + ".verdicts.jsonl")
    tmpl = template or TEMPLATE
    if predictions in CALIBRATIONS:
        result = CALIBRATIONS.get(predictions)(judge, cache_path, template=tmpl, workers=workers)
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
