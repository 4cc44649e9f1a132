"""MMStar: loader and the official scorer (MMStar-Benchmark/MMStar `eval/vlmeval/evaluate/mmstar.py`).

Data, either of:
* the HF release (Lin-Chen/MMStar, `mmstar.parquet`, split `val`) as parquet or `save_to_disk`:
  `index`, `question` (options inline: "Options: A: ..., B: ..."), `image`, `answer` (letter),
  `category`, `l2_category`, `meta_info` (`source`, `split`, `image_path`);
* VLMEvalKit's `MMStar.tsv` (`A`..`D` columns, `l2-category` or `l2_category`, `bench`).
Images are kept as encoded bytes (`image_bytes`).

Results: one row per item with `id` (or `index`) and the model's text in `prediction` (used
verbatim when present) or `response`.

Scoring, the official rule: answer and prediction are lower-cased, stripped and newlines become
spaces; correct when the prediction's first character is the answer letter, or it starts with
"(" followed by it, or with "option " / "the answer is " followed by it. Nothing else is
extracted (pass an extracted letter as `prediction` for reasoning-style outputs).
Aggregation: per l2-category accuracy, per category and overall (the official script divides
by its fixed 250 per category and 1,500 in all; here by the counts present, which is the same
on a complete results file). `official` holds the official score file's keys as fractions.
"""

from __future__ import annotations

import re
from pathlib import Path

from seethink.errors import UserError

from ._common import Benchmark, need, percent, tally
from ._formats import (
    HF_MARKERS,
    hf_splits,
    image_cells,
    match_results,
    pick_split,
    read_hf,
    read_results,
    text_field,
)
from .vlmeval_tsv import items_from_tsv

MARKERS = (*HF_MARKERS, "*.tsv")
_INLINE = re.compile(r"(?:^|[\s,;])([A-F]):\s")


def parse_inline_options(question: str) -> dict[str, str]:
    """Options written inline after "Options:" as "A: x, B: y, ..." (letters in order)."""
    at = question.rfind("Options:")
    if at < 0:
        return {}
    text = question[at + len("Options:") :]
    marks: list[tuple[str, int, int]] = []
    for m in _INLINE.finditer(text):
        if len(marks) < 6 and m.group(1) == "ABCDEF"[len(marks)]:
            marks.append((m.group(1), m.start(1), m.end()))
    out = {}
    for k, (letter, _, end) in enumerate(marks):
        stop = marks[k + 1][1] if k + 1 < len(marks) else len(text)
        out[letter] = text[end:stop].strip().rstrip(",").strip()
    return out


def official_correct(prediction: str, answer: str) -> bool:
    a = answer.lower().strip().replace("\n", " ")
    p = prediction.lower().strip().replace("\n", " ")
    if not p:
        return False
    if a == p[0]:
        return True
    if p[0] == "(" and len(p) > 1 and a == p[1]:
        return True
    if p[:7] == "option " and len(p) > 7 and a == p[7]:
        return True
    return p[:14] == "the answer is " and len(p) > 14 and a == p[14]


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    base = root if root.is_dir() else root.parent
    groups = hf_splits(root)
    if not groups:
        tsvs = [root] if root.suffix == ".tsv" else sorted(base.glob("*.tsv")) if root.is_dir() else []
        if len(tsvs) != 1:
            raise UserError(
                f"mmstar: {root} has no HF parquet/save_to_disk data and not exactly one .tsv file"
            )
        items = items_from_tsv(tsvs[0], images=images)
        for it in items:
            it["l2_category"] = it.pop("l2-category", it.get("l2_category"))
            if "category" not in it or not it["l2_category"]:
                raise UserError(f"{tsvs[0]}: index {it['id']}: missing field 'category' or 'l2-category'")
        return items
    items = []
    for where, row in read_hf(pick_split(groups, split, "mmstar", root), drop=() if images else ("image",)):
        question = need(row, "question", where, str)
        options = parse_inline_options(question)
        paths, blobs = image_cells(row.get("image"), base, where, "image") if images else ([], [])
        items.append(
            {
                "id": str(need(row, "index", where, (int, str))),
                "question": question,
                "options": list(options.values()),
                "option_letters": list(options),
                "answer": need(row, "answer", where, str).strip(),
                "images": paths,
                "image_bytes": blobs,
                "category": need(row, "category", where, str),
                "l2_category": need(row, "l2_category", where, str),
                "meta_info": row.get("meta_info"),
            }
        )
    return items


def load(data_dir: Path, split: str | None = None) -> list[dict]:
    return _load(Path(data_dir), split)


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, prediction text, answer, correct, category, l2_category."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, f"MMStar in {data_dir}"):
        _, text = text_field(row, where)
        verdicts.append(
            {
                "id": item["id"],
                "prediction": text,
                "answer": item["answer"],
                "correct": official_correct(text, item["answer"]),
                "category": item["category"],
                "l2_category": item["l2_category"],
            }
        )
    return verdicts


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    cats = tally((v["category"], v["correct"]) for v in verdicts)
    l2 = tally((v["l2_category"], v["correct"]) for v in verdicts)
    official: dict[str, float] = {"final score": correct / len(verdicts) if verdicts else 0.0}
    for cat, row in cats.items():
        official[cat] = row["correct"] / row["total"]
        for v_l2 in dict.fromkeys(v["l2_category"] for v in verdicts if v["category"] == cat):
            sub = [v for v in verdicts if v["category"] == cat and v["l2_category"] == v_l2]
            official[f"{cat}({v_l2})"] = sum(v["correct"] for v in sub) / len(sub)
    return {
        "benchmark": "mmstar",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "breakdown": {"category": cats, "l2_category": l2},
        "official": official,
    }


def score(results_path: Path, data_dir: Path) -> dict:
    return aggregate(judge(results_path, data_dir))


BENCHMARK = Benchmark(
    name="mmstar",
    load=load,
    judge=judge,
    score=score,
    markers=MARKERS,
    description="MMStar: 1,500 multiple-choice items, 6 categories x 3 l2-categories; official MMStar_eval rule",
)
