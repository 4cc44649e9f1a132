"""MMStar: loader and the official scorer (MMStar-Benchmark/MMStar `eval/vlmeval/evaluate/mmstar.py`).

Data, either of:
* the HF release (Lin-Chen/MMStar, `mmstar.parquet`, split `val`) as parquet or `save_to_disk`:
  `index`, `question` (options inline: "Options: A: ..., B: ..."), `image`, `answer` (letter),
  `category`, `l2_category`, `meta_info` (`source`, `split`, `image_path`);
* VLMEvalKit's `MMStar.tsv` (`A`..`D` columns, `l2-category` or `l2_category`, `bench`).
Images are kept as encoded bytes (`image_bytes`).

Results: one row per item with `id` (or `index`) and the model's text in `prediction` (used
when present) or `response`: JSONL, JSON, or the `.xlsx` the official `run.py` / VLMEvalKit
write (`index`, `question`, `answer`, `category`, `l2_category`, `bench`, `prediction`). Such a
file carries its own answers and categories, so, like the official `MMStar_eval`, it is scored
without the data folder when none is found.

Rules (`rule=`):
* `official` (default), `MMStar_eval`: `str(prediction)` (an empty cell is "nan") and the answer
  are lower-cased, stripped and newlines become spaces; correct when the prediction's first
  character is the answer letter, or it starts with "(" followed by it, or with "option " /
  "the answer is " followed by it. Nothing else is extracted (pass an extracted letter as
  `prediction` for reasoning-style outputs).
* `vlmevalkit`: VLMEvalKit's exact-matching `can_infer` (pinned in `_vlmevalkit.py`) with the
  row's `A`..`D` cells, else the item's options (the TSV's columns or the inline "Options:").
Aggregation: per l2-category accuracy, per category and overall (here by the counts present).
`official` holds the official score file key for key (`final score`, `<category>`,
`<category>(<l2>)`, fractions) computed as `MMStar_eval` does: each category's count divided by
the fixed 250 and the total by 1,500, so on a partial file they are lower than `accuracy`; an
l2-category without items, where the official script divides by zero, is None.
"""

from __future__ import annotations

import re
from pathlib import Path

from seethink.errors import UserError

from . import _vlmevalkit as vk
from ._choice import parse_option_lines
from ._common import Benchmark, need, percent, tally
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
from .vlmeval_tsv import items_from_tsv

MARKERS = (*HF_MARKERS, "*.tsv")
RULES = ("official", "vlmevalkit")
# MMStar_eval's fixed table: category -> l2-categories (250 items per category, 1,500 in all)
L2 = {
    "coarse perception": ("image scene and topic", "image style & quality", "image emotion"),
    "fine-grained perception": ("object counting", "recognition", "localization"),
    "instance reasoning": ("single-instance reasoning", "cross-instance attribute reasoning",
                           "cross-instance relation reasoning"),
    "logical reasoning": ("code & sequence reasoning", "diagram reasoning", "common reasoning"),
    "science & technology": ("biology & chemistry & physics", "electronics & energy & mechanical eng.",
                             "geography & earth science & agriculture"),
    "math": ("geometry", "numeric commonsense and calculation", "statistical reasoning"),
}
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


def _text(row: dict, where: str) -> str:
    for key in ("prediction", "response"):
        if key in row:
            return vk.as_prediction(row[key])
    raise UserError(f"{where}: missing field 'prediction' (or 'response')")


def _row_items(rows: list[tuple[str, dict]]) -> dict[str, dict]:
    """Items from results rows that carry the gold fields (the official .xlsx does)."""
    items: dict[str, dict] = {}
    for where, row in rows:
        key = row_id(row, where)
        l2 = row.get("l2_category", row.get("l2-category"))
        if l2 is None:
            raise UserError(f"{where}: missing field 'l2_category' (no data folder found: the results rows must"
                            " carry answer, category and l2_category, or pass --data)")
        asked = row.get("question")
        question = asked if isinstance(asked, str) else ""
        options = parse_inline_options(question) or parse_option_lines(question[max(question.rfind("Choices:"), 0):])
        items[key] = {
            "id": key,
            "answer": str(need(row, "answer", where)).strip(),
            "category": str(need(row, "category", where)),
            "l2_category": str(l2),
            "options": list(options.values()),
            "option_letters": list(options),
        }
    return items


_UNKNOWN = "\x00"  # an option text no answer contains: the letters still count, texts never match


def _choices(row: dict, item: dict) -> dict[str, object]:
    """The options `can_infer` sees: the row's `A`..`F` cells, else the item's, else the letters
    A-D with unknown texts (a results file whose questions do not spell the options out)."""
    own = {c: row[c] for c in "ABCDEF" if c in row and not (row[c] is None or row[c] != row[c])}
    known = dict(zip(item.get("option_letters", []), item.get("options", []), strict=True))
    return own or known or dict.fromkeys("ABCD", _UNKNOWN)


def judge(results_path: Path, data_dir: Path | None, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, prediction text, letter (rule vlmevalkit), answer, correct,
    category, l2_category."""
    rows = read_results(results_path)
    if data_dir is None:
        gold, desc = _row_items(rows), f"the rows of {results_path}"
    else:
        gold, desc = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}, f"MMStar in {data_dir}"
    verdicts = []
    for where, row, item in match_results(rows, gold, desc):
        text = _text(row, where)
        letter = None
        if rule == "official":
            ok = official_correct(text, item["answer"])
        else:
            hit = vk.can_infer(text, _choices(row, item))  # type: ignore[arg-type]
            letter = hit if isinstance(hit, str) and hit else None
            ok = letter == item["answer"]
        verdicts.append(
            {
                "id": item["id"],
                "prediction": text,
                "letter": letter,
                "answer": item["answer"],
                "correct": ok,
                "category": item["category"],
                "l2_category": item["l2_category"],
            }
        )
    return verdicts


def official_scores(verdicts: list[dict]) -> dict[str, float | None]:
    """`MMStar_eval`'s score file: l2 = correct / count; category = correct / 250; final = / 1500."""
    right: dict[tuple[str, str], int] = {}
    count: dict[tuple[str, str], int] = {}
    for v in verdicts:
        key = (v["category"], v["l2_category"])
        count[key] = count.get(key, 0) + 1
        right[key] = right.get(key, 0) + bool(v["correct"])
    out: dict[str, float | None] = {"final score": 0.0}
    total = 0
    for cat, l2s in L2.items():
        cat_right = 0
        for l2 in l2s:
            n = count.get((cat, l2), 0)
            out[f"{cat}({l2})"] = right.get((cat, l2), 0) / n if n else None
            cat_right += right.get((cat, l2), 0)
        out[cat] = cat_right / 250.0
        total += cat_right
    out["final score"] = total / 1500.0
    return out


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    cats = tally((v["category"], v["correct"]) for v in verdicts)
    l2 = tally((v["l2_category"], v["correct"]) for v in verdicts)
    return {
        "benchmark": "mmstar",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "breakdown": {"category": cats, "l2_category": l2},
        "official": official_scores(verdicts),
    }


BENCHMARK = Benchmark(
    name="mmstar",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    description="MMStar: 1,500 multiple-choice items, 6 categories x 3 l2-categories; official MMStar_eval rule",
    rules=RULES,
    data_optional=True,
)
