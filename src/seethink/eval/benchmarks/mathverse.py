"""MathVerse (testmini): loader, a rule-based stand-in for the official GPT judge, and the
official aggregation (ZrrSkywalker/MathVerse `evaluation/score_answer_s2.py`).

Data, either of:
* the official files `testmini.json` (3,940 items: 788 problems x 5 versions) and
  `testmini_text_only.json` (788), lists of rows `sample_index`, `problem_index`,
  `problem_version`, `question`, `image` (a path such as `images_version_1-4/image_685.png`,
  looked up in the data folder and `images/`), `answer`, `question_type` (multi-choice /
  free-form), `metadata` (`split`, `source`, `subject`, `subfield`), `query_wo`, `query_cot`,
  `question_for_eval`;
* the HF release (AI4Math/MathVerse, configs testmini / testmini_text_only) as parquet or
  `save_to_disk`, the same columns with `image` embedded.
Splits: `testmini` (default), `testmini_text_only`.

Results: one row per item with `id` (or `sample_index`) and `response` (`model_answer`, the
official output field, is accepted too); the official step-1 output (`extraction` added) and
step-2 output (`judgement` 0/1 added), JSON lists of the template's rows, are read as they are.
`prediction` is taken as an extracted answer as well.

Judging. The official pipeline extracts the answer with GPT-4 (`extract_answer_s1.py`) and asks
GPT-4 whether it matches (`score_answer_s2.py`); with `--quick_match` step 2 is rule-based:
correct when `answer == extraction`, exact string equality. Rules (`rule=`):
* `official` (default): a row's `judgement` (0/1, step 2's output, or `seethink judge
  mathverse`'s) decides; else its `extraction` is compared with the answer by the official
  quick match (exact, unstripped; the row's own `answer` when it has one, as step 2 reads it);
  a row without `extraction` is extracted by rules first (GPT-4's step 1 stand-in, counted in
  `extracted_by_rules`: for multiple choice the letter `extract_letter` reads from the
  rule-based extraction below, else that extraction without a trailing period), then
  quick-matched.
* `seethink`: `judgement` decides as above; otherwise the rule-based extraction (or the row's
  `extraction`) is judged leniently: multiple choice (`question_type` multi-choice, gold a
  letter) by the letter `extract_letter` reads from it (options parsed from the "Choices:" block:
  "A:2", "B:2√{3}", ...); free-form equal to the gold answer after stripping spaces and `$`,
  case-insensitive, or equivalent under `seethink.rewards.math_equal` (numbers, fractions and
  LaTeX via math-verify).
The rule-based extraction: the final-answer span (after any `</think>`: the last `\\boxed{...}`,
else the text after the last "answer is" / "answer:" up to the end of its line); without one,
for multiple choice the whole response, for free-form the last number (when the gold answer is
a number) or else the last non-empty line.
With `seethink judge mathverse` an OpenAI-compatible LLM fills `extraction` and a 0/1
`judgement` (the official two steps).
Aggregation, as `score_answer_s2.py` prints it: overall accuracy and accuracy per
`problem_version`, per `subject` and per subject-subfield group (`Plane Geometry-Length` and
`Solid Geometry-Length` are different groups), in percent (2 decimals); `official` holds the
printed lines' values (`<subject>-<subfield> Acc`, `<subject> Acc`, `Total Acc`, `<version> Acc`,
`Acc`) as unrounded fractions (the script prints them with 3 decimals).
"""

from __future__ import annotations

import re
from pathlib import Path

from seethink.errors import UserError

from ._choice import after_think, extract_letter, final_answer_span, parse_option_lines
from ._common import Benchmark, image_paths, need, percent, read_json, tally, unique_items
from ._formats import (
    HF_MARKERS,
    hf_splits,
    image_cells,
    match_results,
    pick_split,
    read_hf,
    read_results,
    row_id,
)

SPLITS = ("testmini", "testmini_text_only")
MARKERS = ("testmini.json", "testmini_text_only.json", *HF_MARKERS)
BREAKDOWN_KEYS = ("problem_version", "subject", "subject_subfield", "question_type")
RULES = ("official", "seethink")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def parse_choices(question: str) -> dict[str, str]:
    """The options of the "Choices:" block ("A:2", "B:2√{3}", ...); {} without one."""
    at = question.rfind("Choices:")
    return parse_option_lines(question[at:]) if at >= 0 else {}


def _item(row: dict, where: str, base: Path, images: bool, hf: bool) -> dict:
    meta = need(row, "metadata", where, dict)
    for key in ("subject", "subfield"):
        need(meta, key, f"{where} metadata", str)
    question = need(row, "question", where, str)
    for_eval = row.get("question_for_eval") or question
    choices = parse_choices(for_eval) or parse_choices(question)
    paths: list[str] = []
    blobs: list[bytes] = []
    if images:
        if hf:
            paths, blobs = image_cells(row.get("image"), base, where, "image")
        elif isinstance(row.get("image"), str) and row["image"]:
            paths = image_paths(base, [row["image"]]) or image_paths(base / "images", [row["image"]])
    return {
        "id": str(need(row, "sample_index", where, (str, int))),
        "question": question,
        "options": list(choices.values()),
        "option_letters": list(choices),
        "answer": str(need(row, "answer", where, (str, int, float))).strip(),
        "answer_raw": row["answer"],
        "images": paths,
        **({"image_bytes": blobs} if hf else {}),
        "question_type": need(row, "question_type", where, str),
        "problem_version": need(row, "problem_version", where, str),
        "problem_index": str(row.get("problem_index", "")),
        "metadata": meta,
        "query_wo": row.get("query_wo"),
        "query_cot": row.get("query_cot"),
        "question_for_eval": for_eval,
    }


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    split = split or "testmini"
    if split not in SPLITS:
        raise UserError(f"mathverse: unknown split {split!r} (known: {', '.join(SPLITS)})")
    base = root if root.is_dir() else root.parent
    official = base / f"{split}.json"
    if root.is_dir() and official.is_file():
        raw = read_json(official)
        if not isinstance(raw, list):
            raise UserError(f"{official}: expected a JSON list of items")
        entries = []
        for n, row in enumerate(raw, 1):
            where = f"{official}: row {n}"
            if not isinstance(row, dict):
                raise UserError(f"{where}: not a JSON object")
            entries.append((where, _item(row, where, base, images, hf=False)))
    else:
        groups = hf_splits(root)
        if not groups:
            raise UserError(f"mathverse: {root} has neither {split}.json nor HF parquet/save_to_disk data")
        sources = pick_split(groups, split, "mathverse", root)
        drop = () if images else ("image",)
        entries = [(where, _item(row, where, base, images, hf=True)) for where, row in read_hf(sources, drop)]
    return unique_items(entries, "sample_index")


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?", text.strip()))


def extract_answer(response: str, item: dict) -> str:
    """The rule-based extraction (see the module docstring)."""
    span = final_answer_span(response)
    if span is not None:
        return span
    text = after_think(response).strip()
    if item["question_type"] == "multi-choice":
        return text
    if _is_number(item["answer"]):
        nums = _NUMBER.findall(text)
        if nums:
            return nums[-1].replace(",", "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("$", "")).lower().rstrip(".")


def is_correct(extraction: str, item: dict) -> tuple[bool, str | None]:
    """(correct, letter read for multiple choice)."""
    gold = item["answer"]
    if item["question_type"] == "multi-choice" and len(gold) == 1 and gold.isalpha():
        letters = "".join(item["option_letters"]) or "ABCDE"
        options = dict(zip(item["option_letters"], item["options"], strict=True))
        letter = extract_letter(extraction, letters, options)
        return letter == gold.upper(), letter
    if not extraction.strip():
        return False, None
    if _squash(extraction) == _squash(gold):
        return True, None
    from seethink.rewards.mathcheck import math_equal

    return math_equal(extraction, gold), None


def standin_extraction(response: str, item: dict) -> str:
    """What step 1 (GPT-4) is asked to copy out, by rules: for multiple choice the option letter
    (`extract_letter` on the rule-based extraction), else the rule-based extraction without a
    trailing period."""
    extraction = extract_answer(response, item)
    gold = item["answer"]
    if item["question_type"] == "multi-choice" and len(gold) == 1 and gold.isalpha():
        letters = "".join(item["option_letters"]) or "ABCDE"
        letter = extract_letter(extraction, letters, dict(zip(item["option_letters"], item["options"], strict=True)))
        return letter or extraction
    return extraction.strip().rstrip(".").strip()


def quick_match(answer: object, extraction: object) -> bool:
    """`score_answer_s2.py --quick_match`: `inst['answer'] == inst['extraction']`."""
    return answer == extraction


def judge(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, extraction, letter, correct, extracted_by, groups."""
    gold = _gold(Path(data_dir))
    gold_desc = f"MathVerse testmini in {data_dir}"
    verdicts = []
    rows = read_results(results_path)
    for where, row, item in match_results(rows, gold, gold_desc, _result_key):
        if isinstance(row.get("extraction"), str):
            extraction, by = row["extraction"], "file"
        elif isinstance(row.get("prediction"), str):
            extraction, by = row["prediction"], "file"
        else:
            response = row.get("response", row.get("model_answer"))
            if response is None:
                raise UserError(f"{where}: missing field 'response' (or 'model_answer' / 'extraction')")
            if not isinstance(response, str):
                raise UserError(f"{where}: field 'response' should be str, got {type(response).__name__}")
            if rule == "official":
                extraction = standin_extraction(response, item)
            else:
                extraction = extract_answer(response, item)
            by = "rules"
        letter = None
        if rule == "official":
            answer = row["answer"] if isinstance(row.get("answer"), str) else item["answer_raw"]
            ok = quick_match(answer, extraction)
        else:
            ok, letter = is_correct(extraction, item)
        if row.get("judgement") in (0, 1, "0", "1"):  # step 2's verdict (official GPT-4 or `seethink judge`)
            ok, by = str(row["judgement"]) == "1", "judge"
        meta = item["metadata"]
        verdicts.append(
            {
                "id": item["id"],
                "extraction": extraction,
                "letter": letter,
                "answer": item["answer"],
                "correct": ok,
                "extracted_by": by,
                "groups": {
                    "problem_version": item["problem_version"],
                    "subject": meta["subject"],
                    "subfield": meta["subfield"],
                    "subject_subfield": f"{meta['subject']}-{meta['subfield']}",
                    "question_type": item["question_type"],
                },
            }
        )
    return verdicts


def official_lines(verdicts: list[dict]) -> dict[str, float]:
    """The values `score_answer_s2.py` prints, unrounded, keyed by its labels."""
    out: dict[str, float] = {}
    by_subject: dict[str, dict[str, list[bool]]] = {}
    by_version: dict[str, list[bool]] = {}
    for v in verdicts:
        g = v["groups"]
        by_subject.setdefault(g["subject"], {}).setdefault(g["subfield"], []).append(v["correct"])
        by_version.setdefault(g["problem_version"], []).append(v["correct"])
    right = total = 0
    for subject, fields in by_subject.items():
        s_right = s_total = 0
        for subfield, oks in fields.items():
            out[f"{subject}-{subfield} Acc"] = sum(oks) / len(oks)
            s_right += sum(oks)
            s_total += len(oks)
        out[f"{subject} Acc"] = s_right / s_total
        right += s_right
        total += s_total
    if total:
        out["Total Acc"] = right / total
    for version, oks in by_version.items():
        out[f"{version} Acc"] = sum(oks) / len(oks)
    if total:
        out["Acc"] = right / total
    return out


def _result_key(row: dict, where: str) -> str:
    return row_id(row, where, ("id", "sample_index", "index"))


def _gold(root: Path) -> dict[str, dict]:
    """testmini, plus testmini_text_only when the folder has it and its ids are distinct."""
    gold = {it["id"]: it for it in _load(root, "testmini", images=False)}
    try:
        text_only = _load(root, "testmini_text_only", images=False)
    except UserError:
        return gold
    if not any(it["id"] in gold for it in text_only):
        gold.update((it["id"], it) for it in text_only)
    return gold


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    return {
        "benchmark": "mathverse",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "extracted_by_rules": sum(v["extracted_by"] == "rules" for v in verdicts),
        "breakdown": {k: tally((v["groups"][k], v["correct"]) for v in verdicts) for k in BREAKDOWN_KEYS},
        "official": official_lines(verdicts),
    }


BENCHMARK = Benchmark(
    name="mathverse",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="MathVerse testmini: 3,940 items in 5 versions; official quick match, rule-based stand-in for GPT-4",
    rules=RULES,
)
