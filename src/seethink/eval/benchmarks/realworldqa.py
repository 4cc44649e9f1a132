"""RealWorldQA (xAI): loader and exact-match scoring as lmms-eval does it.

Data: the HF release (xai-org/RealworldQA, also lmms-lab/RealWorldQA) as parquet files
(`data/test-0000N-of-0000M.parquet`) or `save_to_disk`: columns `image`, `question` (options
inside, one per line as "A. ..."), `answer` (a letter for multiple choice, else a word or
number). xAI publishes no other format and no scorer. The release has no ids: item `id` is the
row's position (0, 1, ...) over the files in name order. Images are kept as encoded bytes.

Results: one row per item with `id` and the model's text in `prediction` or `response`.

Scoring (lmms-eval `realworldqa`: exact match after its filters, case- and
punctuation-insensitive):
* multiple choice (the gold answer is one of the option letters parsed from the question): the
  letter from `extract_letter` (final `\\boxed{}`/"answer is" span, a leading "(B)"/"B.", a
  single letter token, else a single option text) must equal it;
* otherwise: the final-answer span (else the whole text) is lower-cased, stripped, a trailing
  "." removed, a number word zero..ten becomes its digits, and it must equal the lower-cased
  gold answer (also compared with punctuation removed from both).
"""

from __future__ import annotations

import re
from pathlib import Path

from seethink.errors import UserError

from ._choice import after_think, extract_letter, final_answer_span, parse_option_lines
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

MARKERS = HF_MARKERS
NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    )
}


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    groups = hf_splits(root)
    if not groups:
        raise UserError(f"realworldqa: {root} has no HF parquet/save_to_disk data")
    base = root if root.is_dir() else root.parent
    items = []
    for n, (where, row) in enumerate(
        read_hf(pick_split(groups, split, "realworldqa", root), drop=() if images else ("image",))
    ):
        question = need(row, "question", where, str)
        answer = str(need(row, "answer", where, (str, int))).strip()
        options = parse_option_lines(question)
        paths, blobs = image_cells(row.get("image"), base, where, "image") if images else ([], [])
        items.append(
            {
                "id": str(n),
                "question": question,
                "options": list(options.values()),
                "option_letters": list(options),
                "answer": answer,
                "answer_type": "multiple_choice" if answer in options else "free_form",
                "images": paths,
                "image_bytes": blobs,
            }
        )
    return items


def load(data_dir: Path, split: str | None = None) -> list[dict]:
    return _load(Path(data_dir), split)


def _norm(text: str) -> str:
    t = text.strip().lower().rstrip(".").strip()
    return NUMBER_WORDS.get(t, t)


def free_form_prediction(text: str) -> str:
    span = final_answer_span(text)
    return _norm(span if span is not None else after_think(text))


def _no_punct(text: str) -> str:
    return re.sub(r"[^\w\s]", "", text).strip()


def free_form_correct(prediction: str, answer: str) -> bool:
    gold = answer.strip().lower()
    return prediction == gold or _no_punct(prediction) == _no_punct(gold)


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, prediction, answer, correct, answer_type."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, f"RealWorldQA in {data_dir}"):
        _, text = text_field(row, where)
        if item["answer_type"] == "multiple_choice":
            letters = "".join(item["option_letters"])
            pred: str | None = extract_letter(text, letters, dict(zip(letters, item["options"], strict=True)))
            ok = pred == item["answer"]
        else:
            pred = free_form_prediction(text)
            ok = free_form_correct(pred, item["answer"])
        verdicts.append(
            {
                "id": item["id"],
                "prediction": pred,
                "answer": item["answer"],
                "correct": ok,
                "answer_type": item["answer_type"],
            }
        )
    return verdicts


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    return {
        "benchmark": "realworldqa",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "breakdown": {"answer_type": tally((v["answer_type"], v["correct"]) for v in verdicts)},
    }


def score(results_path: Path, data_dir: Path) -> dict:
    return aggregate(judge(results_path, data_dir))


BENCHMARK = Benchmark(
    name="realworldqa",
    load=load,
    judge=judge,
    score=score,
    markers=MARKERS,
    description="RealWorldQA: 765 real-world images; lmms-eval exact match (letters or short answers)",
)
