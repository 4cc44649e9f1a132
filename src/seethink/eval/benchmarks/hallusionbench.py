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
`prediction`, `response` or `model_prediction` (the official output field).

Judging. The official evaluation asks GPT-4 whether the answer is correct / incorrect / unclear.
Here the text is read with VLMEvalKit's yes/no rule instead: lower-cased, punctuation turned into
spaces, split into words; "yes" without "no" is yes, "no" without "yes" is no, anything else is
unclear. Then the official `assign_correctness`: correct when yes/no equals `gt_answer`; for a
VS question without a figure (figure_id "0") "unclear" also counts as correct.

With `seethink judge hallusionbench` an OpenAI-compatible LLM reads each answer instead and
writes `judgement` ("1" yes, "0" no, "2" unclear), which the scoring then uses.

Metrics, as the official `evaluation.py` / `utils.py` define them (percent, 4 decimals like its
tables):
* aAcc: correct questions / questions;
* fAcc: figures whose questions are all correct / figures, a figure being
  (category, subcategory, set_id, figure_id); VS figure "0" (no figure) is left out;
* qAcc: question groups all correct / groups, a group being (category, subcategory, set_id,
  question_id), i.e. the same question asked over the figures of a set;
* easy_qAcc / hard_qAcc: qAcc over the original figures (figure_id "0") / the edited ones.
Also per category (VD, VS) and per subcategory. VLMEvalKit groups fAcc/qAcc by subcategory only
and keeps VS figure "0" in fAcc; the official grouping is used here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from seethink.errors import UserError

from ._common import Benchmark, image_paths, need, read_json, tally
from ._formats import (
    HF_MARKERS,
    hf_splits,
    image_cells,
    match_results,
    read_hf,
    read_results,
    row_id,
    text_field,
)

SPLITS = ("image", "non_image")
MARKERS = ("HallusionBench.json", *HF_MARKERS)
KEY_FIELDS = ("category", "subcategory", "set_id", "figure_id", "question_id")


def pct4(correct: int, total: int) -> float:
    """Percent as the official tables print it: round(100 * c / t, 4)."""
    return round(100 * correct / total, 4) if total else 0.0


def yes_no(text: str) -> str:
    """VLMEvalKit's yes/no rule: "1" yes, "0" no, "2" unclear."""
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
    items = []
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
            items.append(_item(row, where, base, images, hf=False))
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
            items.append(_item(row, where, base, images, hf=True))
    seen: set[str] = set()
    for it in items:
        if it["id"] in seen:
            raise UserError(f"hallusionbench: question {it['id']!r} appears twice in {root}")
        seen.add(it["id"])
    return items


def load(data_dir: Path, split: str | None = None) -> list[dict]:
    return _load(Path(data_dir), split)


def _result_key(row: dict, where: str) -> str:
    if all(k in row for k in KEY_FIELDS):
        return "_".join(str(row[k]) for k in KEY_FIELDS)
    return row_id(row, where)


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, key fields, prediction ("1"/"0"/"2"), correct."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    verdicts = []
    for where, row, item in match_results(
        read_results(results_path), gold, f"HallusionBench in {data_dir}", _result_key
    ):
        _, text = text_field(row, where, ("prediction", "response", "model_prediction"))
        pred = yes_no(text)
        if row.get("judgement") in ("0", "1", "2"):  # the LLM judge's reading (`seethink judge hallusionbench`)
            pred = row["judgement"]
        no_figure_vs = item["category"] == "VS" and item["figure_id"] == "0"
        correct = pred == item["gt_answer"] or (pred == "2" and no_figure_vs)
        verdicts.append(
            {
                "id": item["id"],
                **{k: item[k] for k in KEY_FIELDS},
                "prediction": pred,
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


def _accs(verdicts: list[dict]) -> dict:
    figs = [v for v in verdicts if not (v["category"] == "VS" and v["figure_id"] == "0")]
    fc, ft = _all_correct(figs, ("category", "subcategory", "set_id", "figure_id"))
    q_fields = ("category", "subcategory", "set_id", "question_id")
    qc, qt = _all_correct(verdicts, q_fields)
    ec, et = _all_correct([v for v in verdicts if v["figure_id"] == "0"], q_fields)
    hc, ht = _all_correct([v for v in verdicts if v["figure_id"] != "0"], q_fields)
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
        "unclear": sum(v["prediction"] == "2" for v in verdicts),
        "by_category": by["category"],
        "by_subcategory": by["subcategory"],
        "breakdown": {
            key: tally((v[key], v["correct"]) for v in verdicts) for key in ("category", "subcategory")
        },
    }


def score(results_path: Path, data_dir: Path) -> dict:
    return aggregate(judge(results_path, data_dir))


BENCHMARK = Benchmark(
    name="hallusionbench",
    load=load,
    judge=judge,
    score=score,
    markers=MARKERS,
    splits=SPLITS,
    description="HallusionBench: 1,129 yes/no questions; official aAcc/fAcc/qAcc grouping, rule-based yes/no",
)
