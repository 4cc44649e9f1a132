"""HallusionBench: loader, rule-based yes/no judging and the official aAcc / fAcc / qAcc.

Data, either of:
* the official `HallusionBench.json` (tianyi-lab/HallusionBench): a list of rows `category`
  (VD visual-dependent / VS visual-supplement), `subcategory`, `visual_input` ("0" no image,
  "1" original, "2" edited), `set_id`, `figure_id`, `sample_note`, `question_id`, `question`,
  `gt_answer_details`, `gt_answer` ("1" yes / "0" no), `filename` (`./hallusion_bench/...png`,
  relative to the data folder; null without image);
* the HF release (lmms-lab/HallusionBench) as parquet or `save_to_disk`: the same columns plus
  `image`, in splits `image` and `non_image` (both are read unless `split` names one).

Item id: `CATEGORY_SUBCATEGORY_SETID_FIGUREID_QUESTIONID`, the official per-question key.

Results: one row per question with `id` (or the five key fields) and the model's text in
`prediction`, `response` or `model_prediction` (the official output field): our JSONL, or the
official `HallusionBench_result.json` (a JSON list of the data rows plus `model_prediction`).

Judging. The official evaluation asks GPT-4 whether each answer is correct / incorrect / unclear
against `gt_answer_details`, stores "1" / "0" / "2" in `gpt4v_output_gpt_check` and then applies
`assign_correctness`. Without GPT-4 the answer is read as yes / no / unclear and turned into
that code (agrees with `gt_answer`: "1"; the other answer: "0"; unclear: "2"). Rules:
* `vlmevalkit` (default): VLMEvalKit's `YOrN_Extraction` (pinned commit in `_vlmevalkit.py`):
  lower-case, `process_punctuation` (its fixed list; periods deleted, at most 32), split on
  whitespace; "yes" without "no" is yes, "no" without "yes" is no, else unclear. So `**Yes**`,
  `yes:`, `'Yes'`, `Yes.It is.`, `Yes—definitely`, `Yes…` and `No:` are unclear.
* `seethink`: every non-word character becomes a space before splitting, so those forms read
  as yes / no.
A row that carries the official `gpt4v_output_gpt_check` ("0", "1", "2") is judged by it, and a
row with `judgement` (yes "1" / no "0" / unclear "2", from `seethink judge hallusionbench`) is
read by it, under either rule. Then the official `assign_correctness`: correct when the code is
"1"; for a VS question without a figure (figure_id "0") "2" (unclear) also counts as correct.

Metrics, as the official `evaluation.py` / `utils.py` compute them (percent, 4 decimals like its
tables):
* aAcc: correct questions / questions;
* fAcc: figures whose questions are all correct / figures, a figure being
  (category, subcategory, set_id, figure_id); VS figure "0" (no figure) is left out;
* qAcc: question groups all correct / groups, a group being (category, subcategory, set_id,
  question_id), i.e. the same question asked over the figures of a set;
* easy_qAcc / hard_qAcc: qAcc over the questions with `visual_input` other than "2" / equal to
  "2" (edited figures); the official code tests `visual_input`, its `figure_id` test is
  commented out, so a VS figure-1 original image is easy;
* `official`: the official tables key for key (leaderboard, per question, per question pair
  easy / hard / total, per figure correct / wrong / score, yes/no bias), None where the
  official code would divide by zero. The LH / VI / Mixed analysis needs GPT-4's "same"
  judgement and is not reproduced.
Also per category (VD, VS) and per subcategory. VLMEvalKit groups fAcc/qAcc by subcategory only
and keeps VS figure "0" in fAcc; the official grouping is used here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from seethink.errors import UserError

from . import _vlmevalkit as vk
from ._common import Benchmark, image_paths, need, read_json, tally, unique_items
from ._formats import (
    HF_MARKERS,
    hf_splits,
    image_cells,
    match_results,
    read_hf,
    read_results,
    row_id,
    table_text,
)

SPLITS = ("image", "non_image")
MARKERS = ("HallusionBench.json", *HF_MARKERS)
KEY_FIELDS = ("category", "subcategory", "set_id", "figure_id", "question_id")
RULES = ("vlmevalkit", "seethink")
GPT_CHECK = "gpt4v_output_gpt_check"  # the official correctness entry (evaluation.py)
_YORN = {"Yes": "1", "No": "0", "Unknown": "2"}


def pct4(correct: int, total: int) -> float:
    """Percent as the official tables print it: round(100 * c / t, 4)."""
    return round(100 * correct / total, 4) if total else 0.0


def pct4_or_none(correct: int, total: int) -> float | None:
    return round(100 * correct / total, 4) if total else None


def yes_no_vlmevalkit(text: str) -> str:
    """VLMEvalKit's `YOrN_Extraction`: "1" yes, "0" no, "2" unclear."""
    return _YORN[vk.yorn_extraction(text)]


def yes_no(text: str) -> str:
    """The `seethink` reading: every non-word character becomes a space; "1" yes, "0" no,
    "2" unclear."""
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    if "yes" in words and "no" not in words:
        return "1"
    if "no" in words and "yes" not in words:
        return "0"
    return "2"


def _item(row: dict, where: str, base: Path, with_images: bool, hf: bool) -> dict:
    key = {k: str(need(row, k, where, (str, int))) for k in KEY_FIELDS}
    gt = str(need(row, "gt_answer", where, (str, int)))
    if gt not in ("0", "1"):
        raise UserError(f'{where}: field \'gt_answer\' should be "0" or "1", got {gt!r}')
    if key["category"] not in ("VD", "VS"):
        raise UserError(f"{where}: field 'category' should be VD or VS, got {key['category']!r}")
    filename = row.get("filename")
    paths: list[str] = []
    blobs: list[bytes] = []
    if with_images:
        if hf:
            paths, blobs = image_cells(row.get("image"), base, where, "image")
        if not paths and not blobs and isinstance(filename, str):
            paths = image_paths(base, [filename])
    return {
        "id": "_".join(key[k] for k in KEY_FIELDS),
        "question": need(row, "question", where, str),
        "options": [],
        "answer": "yes" if gt == "1" else "no",
        "gt_answer": gt,
        "gt_answer_details": row.get("gt_answer_details"),
        "images": paths,
        **({"image_bytes": blobs} if hf else {}),
        "visual_input": str(row.get("visual_input", "")),
        "sample_note": row.get("sample_note"),
        "filename": filename,
        **key,
    }


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    if split is not None and split not in SPLITS:
        raise UserError(f"hallusionbench: unknown split {split!r} (known: {', '.join(SPLITS)})")
    base = root if root.is_dir() else root.parent
    official = base / "HallusionBench.json"
    entries = []
    if root.is_dir() and official.is_file():
        raw = read_json(official)
        if not isinstance(raw, list):
            raise UserError(f"{official}: expected a JSON list of questions")
        for n, row in enumerate(raw, 1):
            where = f"{official}: row {n}"
            if not isinstance(row, dict):
                raise UserError(f"{where}: not a JSON object")
            has_image = str(row.get("visual_input", "1")) != "0"
            if split is not None and (split == "image") != has_image:
                continue
            entries.append((where, _item(row, where, base, images, hf=False)))
    else:
        groups = hf_splits(root)
        if not groups:
            raise UserError(
                f"hallusionbench: {root} has neither HallusionBench.json nor HF parquet/save_to_disk data"
            )
        names = [split] if split else sorted(groups)
        missing = [s for s in names if s not in groups]
        if missing:
            raise UserError(
                f"hallusionbench: no {missing[0]!r} split in {root} (found: {', '.join(sorted(groups))})"
            )
        sources = [src for s in names for src in groups[s]]
        for where, row in read_hf(sources, drop=() if images else ("image",)):
            entries.append((where, _item(row, where, base, images, hf=True)))
    return unique_items(entries, "question")


def _result_key(row: dict, where: str) -> str:
    if all(k in row for k in KEY_FIELDS):
        return "_".join(str(row[k]) for k in KEY_FIELDS)
    return row_id(row, where)


def _code(value: object) -> str | None:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    return text if text in ("0", "1", "2") else None


def judge(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, key fields, visual_input, prediction ("1" yes / "0" no /
    "2" unclear; None when the row only carries the official correctness code), correctness
    ("1" / "0" / "2" as the official GPT check), correct (`assign_correctness`)."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    read = yes_no_vlmevalkit if rule == "vlmevalkit" else yes_no
    verdicts = []
    for where, row, item in match_results(
        read_results(results_path), gold, f"HallusionBench in {data_dir}", _result_key
    ):
        official = _code(row.get(GPT_CHECK))
        pred: str | None = None
        if official is None:
            judged = _code(row.get("judgement"))  # the LLM judge's reading (`seethink judge hallusionbench`)
            if judged is not None:
                pred = judged
            else:
                _, text = table_text(row, where, ("prediction", "response", "model_prediction"))
                pred = read(text)
            code = "2" if pred == "2" else ("1" if pred == item["gt_answer"] else "0")
        else:
            code = official
        no_figure_vs = item["category"] == "VS" and item["figure_id"] == "0"
        correct = code == "1" or (code == "2" and no_figure_vs)
        verdicts.append(
            {
                "id": item["id"],
                **{k: item[k] for k in KEY_FIELDS},
                "visual_input": item["visual_input"],
                "prediction": pred,
                "correctness": code,
                "answer": item["gt_answer"],
                "correct": correct,
            }
        )
    return verdicts


def _all_correct(verdicts: Iterable[dict], fields: tuple[str, ...]) -> tuple[int, int]:
    groups: dict[tuple, bool] = {}
    for v in verdicts:
        key = tuple(v[f] for f in fields)
        groups[key] = groups.get(key, True) and v["correct"]
    return sum(groups.values()), len(groups)


Q_FIELDS = ("category", "subcategory", "set_id", "question_id")
F_FIELDS = ("category", "subcategory", "set_id", "figure_id")


def _figures(verdicts: list[dict]) -> dict:
    """`get_eval_fig`: figures all right / all wrong / mixed, and the mean share right."""
    groups: dict[tuple, list[int]] = {}
    for v in verdicts:
        if v["category"] == "VS" and v["figure_id"] == "0":
            continue
        c = groups.setdefault(tuple(v[f] for f in F_FIELDS), [0, 0])
        c[0] += v["correct"]
        c[1] += 1
    total = len(groups)
    right = sum(c == t for c, t in groups.values())
    wrong = sum(c == 0 for c, t in groups.values() if c != t)
    share = sum(c / t for c, t in groups.values())
    return {"total": total, "correct": right, "wrong": wrong, "inconsistent": total - right - wrong,
            "score": share / total if total else None}


def _accs(verdicts: list[dict]) -> dict:
    figs = [v for v in verdicts if not (v["category"] == "VS" and v["figure_id"] == "0")]
    fc, ft = _all_correct(figs, F_FIELDS)
    qc, qt = _all_correct(verdicts, Q_FIELDS)
    ec, et = _all_correct([v for v in verdicts if v["visual_input"] != "2"], Q_FIELDS)
    hc, ht = _all_correct([v for v in verdicts if v["visual_input"] == "2"], Q_FIELDS)
    c = sum(v["correct"] for v in verdicts)
    return {
        "aAcc": pct4(c, len(verdicts)),
        "fAcc": pct4(fc, ft),
        "qAcc": pct4(qc, qt),
        "easy_qAcc": pct4(ec, et),
        "hard_qAcc": pct4(hc, ht),
        "questions": {"correct": c, "total": len(verdicts)},
        "figures": {"correct": fc, "total": ft},
        "question_groups": {"correct": qc, "total": qt},
        "easy_question_groups": {"correct": ec, "total": et},
        "hard_question_groups": {"correct": hc, "total": ht},
    }


def official_tables(verdicts: list[dict]) -> dict:
    """The official evaluation.py tables, from `assign_correctness`'s verdicts; None where the
    official code divides by zero."""
    parts = {"VD": [v for v in verdicts if v["category"] == "VD"],
             "VS": [v for v in verdicts if v["category"] == "VS"], "Overall": verdicts}
    accs = {k: _accs(vs) for k, vs in parts.items()}

    def pair(k: str, which: str) -> float | None:
        g = accs[k][which]
        return pct4_or_none(g["correct"], g["total"])

    def fig(k: str) -> dict[str, float | None]:
        f = _figures(parts[k])
        t = f["total"]
        if not t:
            return {"Correct": None, "Wrong": None, "Score": None}
        return {
            "Correct": round(100 * f["correct"] / t, 4),
            "Wrong": round(100 * f["inconsistent"] / t, 4) + round(100 * f["wrong"] / t, 4),
            "Score": round(f["score"], 4),
        }

    wrong_gt = [int(v["answer"]) for v in verdicts if not v["correct"]]
    n = len(verdicts)
    return {
        "leaderboard": {
            "qAcc": pair("Overall", "question_groups"),
            "fAcc": fig("Overall")["Correct"],
            "easy_aAcc": pair("Overall", "easy_question_groups"),
            "hard_aAcc": pair("Overall", "hard_question_groups"),
            "aAcc": pair("Overall", "questions"),
        },
        "per_question": {k: pair(k, "questions") for k in parts},
        "per_pair": {k: {"Easy": pair(k, "easy_question_groups"), "Hard": pair(k, "hard_question_groups"),
                         "Total": pair(k, "question_groups")} for k in parts},
        "per_figure": {k: fig(k) for k in parts},
        "yes_no_bias": {
            "pct_diff": (sum(int(v["correct"]) == int(v["answer"]) for v in verdicts) / n
                         - sum(int(v["answer"]) for v in verdicts) / n) if n else None,
            "fp_ratio": (len(wrong_gt) - sum(wrong_gt)) / len(wrong_gt) if wrong_gt else None,
        },
        "question_stats": {
            "easy": [sum(v["visual_input"] != "2" for v in parts[k]) for k in ("VD", "VS")],
            "hard": [sum(v["visual_input"] == "2" for v in parts[k]) for k in ("VD", "VS")],
            "total": n,
        },
    }


def aggregate(verdicts: list[dict]) -> dict:
    overall = _accs(verdicts)
    by = {
        key: {g: _accs([v for v in verdicts if v[key] == g]) for g in dict.fromkeys(v[key] for v in verdicts)}
        for key in ("category", "subcategory")
    }
    return {
        "benchmark": "hallusionbench",
        "correct": overall["questions"]["correct"],
        "total": overall["questions"]["total"],
        "accuracy": overall["aAcc"],
        **overall,
        "figure_score": _figures(verdicts)["score"],
        "unclear": sum(v["correctness"] == "2" for v in verdicts),
        "official": official_tables(verdicts),
        "by_category": by["category"],
        "by_subcategory": by["subcategory"],
        "breakdown": {
            key: tally((v[key], v["correct"]) for v in verdicts) for key in ("category", "subcategory")
        },
    }


BENCHMARK = Benchmark(
    name="hallusionbench",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="HallusionBench: 1,129 yes/no questions; official aAcc/fAcc/qAcc, VLMEvalKit's yes/no reading",
    rules=RULES,
)
