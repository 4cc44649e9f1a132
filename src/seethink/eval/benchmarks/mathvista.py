"""MathVista (testmini): loader, the official scorer, and a rule-based answer extractor.

Results format (official `output_*.json`): a JSON object mapping pid -> row with `response` and
`extraction` (other official fields such as `prediction`/`true_false` are ignored and recomputed).
Gold answers, answer types, precision and choices come from `testmini.json`; the breakdown labels
come from the row's own `metadata` when it has one (as in the official script), else from
`testmini.json`. When no `testmini.json` is found (beside the file or one level up) and none is
given, the file is scored from its own rows, as `calculate_score.py` does: each row must carry
`question_type`, `answer_type`, `choices`, `precision`, `answer` and `metadata`, as the official
output files do.

Scoring follows the official `evaluation/calculate_score.py` (lupantech/MathVista):
* multiple choice: the extraction is stripped; a letter in parentheses "(B)" is taken as the
  letter; a letter A, B, ... maps to that option's text; anything else maps to the option with the
  smallest Levenshtein distance (ties: the first option). Correct when that text equals the answer.
* integer: str(int(float(extraction))); float: str(round(float(extraction), precision));
  list: str(extraction). Anything that does not convert is wrong. Correct when equal to the
  answer string.
Breakdowns follow the official scores file: question_type, answer_type, and the metadata fields
language, source, category, task, context, grade and skills (an item counts once per skill).

The official pipeline extracts answers with GPT-4. When a row has no `extraction` field we use
`extract_answer` instead: documented rules, no model (see its docstring).
"""

from __future__ import annotations

import re
from pathlib import Path

from seethink.errors import UserError
from seethink.utils import write_json

from ._choice import last_boxed
from ._common import Benchmark, image_paths, need, percent, read_json, tally

SPLITS = ("testmini",)
MARKERS = ("testmini.json",)
BREAKDOWN_KEYS = (
    "question_type",
    "answer_type",
    "language",
    "source",
    "category",
    "task",
    "context",
    "grade",
    "skills",
)
_META_KEYS = BREAKDOWN_KEYS[2:]

# ------------------------------------------------------------------ normalisation + scoring


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute; all cost 1) over code points."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalize_extraction(extraction: object, item: dict) -> str | None:
    """The official `prediction` for an extraction: an option text, a number string, or None."""
    if item["question_type"] == "multi_choice":
        choices: list[str] = item["choices"]
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        letter = re.findall(r"\(([a-zA-Z])\)", text)
        if letter:
            text = letter[0].upper()
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        if text in letters:
            return choices[letters.index(text)]
        dists = [levenshtein(text, c) for c in choices]
        return choices[dists.index(min(dists))]
    kind = item["answer_type"]
    try:
        if kind == "integer":
            return str(int(float(extraction)))  # type: ignore[arg-type]
        if kind == "float":
            return str(round(float(extraction), int(item["precision"])))  # type: ignore[arg-type]
        if kind == "list":
            return str(extraction)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def is_correct(prediction: str | None, item: dict) -> bool:
    return prediction is not None and prediction == item["answer"]


# ------------------------------------------------------------------ rule-based extraction

_ANSWER_IS = re.compile(
    r"(?:final answer|answer)\s*(?:is|:)\s*(?:\$|\*\*|\\\(|\s)*(.+?)\s*(?:\$|\*\*|\\\))?\s*(?:\.\s|\.?$|\n)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def extract_answer(response: str, item: dict) -> str:
    """A rule-based stand-in for the official GPT-4 extraction (used only without `extraction`).

    In order: empty response -> ""; the response is exactly an option, an integer or a float ->
    itself (the official quick rules); `The answer is "X".` -> X (the official quick_extract);
    the last \\boxed{...}; the text after the last "answer is" / "answer:"; then, for multiple
    choice, the last option letter written as "(B)" or as a lone capital, else the last option
    text mentioned; for numeric answers, the last number in the response (commas dropped).
    """
    text = response.strip()
    if not text:
        return ""
    choices = item.get("choices") or []
    mc = item["question_type"] == "multi_choice"
    if mc and text in choices:
        return text
    if item["answer_type"] in ("integer", "float"):
        try:
            return str(int(text)) if item["answer_type"] == "integer" else str(float(text))
        except ValueError:
            pass
    quoted = re.search(r'The answer is "(.*)"\.', text)
    if quoted:
        return quoted.group(1)
    found = last_boxed(text)
    if found is None:
        hits = _ANSWER_IS.findall(text)
        found = hits[-1].strip() if hits else None
    if mc:
        return _choice_from(found, choices) or _choice_from(text, choices) or (found or text)
    source = found if found is not None else text
    nums = _NUMBER.findall(source) or _NUMBER.findall(text)
    return nums[-1].replace(",", "") if nums else (found or "")


def _choice_from(text: str | None, choices: list[str]) -> str | None:
    if not text:
        return None
    letters = "".join(chr(ord("A") + i) for i in range(len(choices)))
    paren = re.findall(rf"\(([{letters}])\)", text)
    if paren:
        return f"({paren[-1]})"
    bare = re.findall(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text)
    if bare:
        return bare[-1]
    mentioned = [(text.rfind(c), c) for c in choices if c and c in text]
    return max(mentioned)[1] if mentioned else None


# ------------------------------------------------------------------ data


def _load(data_dir: Path, split: str | None = None) -> list[dict]:
    split = split or "testmini"
    if split not in SPLITS:
        raise UserError(f"mathvista: unknown split {split!r} (known: {', '.join(SPLITS)})")
    path = Path(data_dir) / f"{split}.json"
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object pid -> item")
    items = []
    for pid, row in raw.items():
        where = f"{path}: item {pid}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: not a JSON object")
        qtype = need(row, "question_type", where, str)
        choices = need(row, "choices", where, (list, type(None))) or []
        if qtype == "multi_choice" and not choices:
            raise UserError(f"{where}: multi_choice item without choices")
        atype = need(row, "answer_type", where, str)
        if atype == "float" and not isinstance(row.get("precision"), (int, float)):
            raise UserError(f"{where}: float answer without a numeric 'precision'")
        meta = need(row, "metadata", where, dict)
        for key in _META_KEYS:
            need(meta, key, f"{where} metadata")
        items.append(
            {
                "id": str(pid),
                "question": need(row, "question", where, str),
                "options": [str(c) for c in choices],
                "choices": [str(c) for c in choices],
                "answer": str(need(row, "answer", where)),
                "images": image_paths(Path(data_dir), [row.get("image")]),
                "image": row.get("image"),
                "question_type": qtype,
                "answer_type": atype,
                "precision": row.get("precision"),
                "unit": row.get("unit"),
                "metadata": meta,
            }
        )
    return items


def _row_item(pid: str, row: dict, where: str) -> dict:
    """The gold fields `calculate_score.py` reads from the results row itself."""
    hint = " (no testmini.json found near the results file; pass --data DIR, or use the official output rows)"
    for key in ("question_type", "answer_type", "choices", "precision", "answer", "metadata"):
        if key not in row:
            raise UserError(f"{where}: missing field {key!r}{hint}")
    qtype, atype = row["question_type"], row["answer_type"]
    if not isinstance(qtype, str) or not isinstance(atype, str):
        raise UserError(f"{where}: fields 'question_type' and 'answer_type' should be str{hint}")
    choices = row["choices"]
    if qtype == "multi_choice" and (not isinstance(choices, list) or not choices):
        raise UserError(f"{where}: field 'choices' should be a non-empty list for a multi_choice item")
    precision = row["precision"]
    if atype == "float" and (not isinstance(precision, (int, float)) or isinstance(precision, bool)
                             or precision != precision or abs(precision) > 1e6):
        raise UserError(f"{where}: field 'precision' should be a number for a float item, got {precision!r}")
    if not isinstance(row["metadata"], dict):
        raise UserError(f"{where}: field 'metadata' should be an object")
    return {
        "id": str(pid),
        "question_type": qtype,
        "answer_type": atype,
        "choices": [str(c) for c in choices] if qtype == "multi_choice" else choices,
        "precision": precision,
        "answer": row["answer"],
        "metadata": row["metadata"],
    }


def judge(results_path: Path, data_dir: Path | None) -> list[dict]:
    """One verdict per results row: id, extraction, prediction, correct, extracted_by. Without
    `data_dir` the gold fields come from the rows themselves (see the module docstring)."""
    gold = {it["id"]: it for it in _load(data_dir)} if data_dir is not None else None
    results = read_json(results_path)
    if not isinstance(results, dict):
        raise UserError(f"{results_path}: expected a JSON object pid -> row (the official output format)")
    verdicts = []
    for pid, row in results.items():
        where = f"{results_path}: row {pid}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: not a JSON object")
        if gold is None:
            item = _row_item(str(pid), row, where)
        elif str(pid) not in gold:
            raise UserError(f"{where}: pid {pid!r} is not in {Path(str(data_dir)) / 'testmini.json'}")
        else:
            item = gold[str(pid)]
        if "extraction" in row:
            extraction, by = row["extraction"], "file"
        else:
            extraction, by = extract_answer(str(need(row, "response", where, str)), item), "rules"
        prediction = normalize_extraction(extraction, item)
        # Breakdowns use the row's own metadata when it has one, as the official script does
        # (older runs carry older labels, e.g. grade "daily life", now "not applicable").
        own = row.get("metadata")
        meta: dict = own if isinstance(own, dict) else item["metadata"]
        for key in _META_KEYS:
            value = need(meta, key, f"{where} metadata")
            ok = (isinstance(value, list) and all(isinstance(x, str) for x in value)) if key == "skills" else (
                isinstance(value, (str, int, float)) and not isinstance(value, bool))
            if not ok:
                want = "a list of strings" if key == "skills" else "a string"
                raise UserError(f"{where}: field 'metadata.{key}' should be {want}, got {value!r}")
        verdicts.append(
            {
                "id": str(pid),
                "extraction": extraction,
                "prediction": prediction,
                "correct": is_correct(prediction, item),
                "extracted_by": by,
                "groups": {
                    "question_type": [item["question_type"]],
                    "answer_type": [item["answer_type"]],
                    **{k: list(meta[k]) if k == "skills" else [meta[k]] for k in _META_KEYS},
                },
            }
        )
    return verdicts


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    total = len(verdicts)
    breakdown = {
        key: tally((g, v["correct"]) for v in verdicts for g in v["groups"][key]) for key in BREAKDOWN_KEYS
    }
    return {
        "benchmark": "mathvista",
        "correct": correct,
        "total": total,
        "accuracy": percent(correct, total),
        "extracted_by_rules": sum(v["extracted_by"] == "rules" for v in verdicts),
        "breakdown": breakdown,
    }


def write_results(items: list[dict], responses: list[str], path: str | Path) -> Path:
    """The official output format: a JSON object pid -> the testmini fields plus `response`.
    No `extraction` is written, so scoring extracts with the documented rules (`extract_answer`);
    the official GPT-4 extraction can be run on this file and fills `extraction` in."""
    out: dict[str, dict] = {}
    for it, r in zip(items, responses, strict=True):
        out[it["id"]] = {
            "pid": it["id"],
            "question": it["question"],
            "image": it.get("image"),
            "choices": it.get("choices") or None,
            "unit": it.get("unit"),
            "precision": it.get("precision"),
            "answer": it["answer"],
            "question_type": it["question_type"],
            "answer_type": it["answer_type"],
            "metadata": it["metadata"],
            "response": r,
        }
    write_json(path, out)
    return Path(path)


BENCHMARK = Benchmark(
    name="mathvista",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="MathVista testmini: 1,000 items, official calculate_score rules",
    data_optional=True,
    results_file="results.json",
    write_results=write_results,
)
