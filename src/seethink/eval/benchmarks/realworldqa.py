"""RealWorldQA (xAI): loader and exact-match scoring as lmms-eval does it.

Data: the HF release (xai-org/RealworldQA, also lmms-lab/RealWorldQA) as parquet files
(`data/test-0000N-of-0000M.parquet`) or `save_to_disk`: columns `image`, `question` (options
inside, one per line as "A. ..."), `answer` (a letter for multiple choice, else a word or
number). xAI publishes no other format and no scorer. The release has no ids: item `id` is the
row's position (0, 1, ...) over the files in name order. Images are kept as encoded bytes.

Results: one row per item with `id` and the model's text in `prediction` or `response`; an
lmms-eval samples file (`doc_id`, `resps`: the raw generations, `doc_id` being the same row
position) is read as well.

xAI publishes no scorer. Rules (`rule=`):
* `lmms-eval` (default): lmms-eval's `realworldqa` task at EvolvingLMMs-Lab/lmms-eval
  1be834ece1ce764ce4bec7c0eef102503046137f (2025-12-02; the last commit with the filter chain
  that was the field standard from 2024-04 to 2026-04), reproduced exactly: the "flexible-extract"
  filters (`NumberWordsToDigitsFilter`: a response that is exactly a number word zero..ten, any
  case, becomes its digits; `MultiChoiceRegexFilter.apply`: the option texts are every
  `\\b([A-Z])\\.\\s+([^\\n]*)` match of the question, lettered A, B, ... in order; the response
  with every non-word, non-space character deleted and stripped; the first option text found in
  it gives that option's letter, else the cleaned response stays), then `exact_match` with
  `ignore_case` and `ignore_punctuation` (numpy lower-casing and ASCII punctuation deletion of
  both sides) against the gold answer, for letters and free-form answers alike.
* `seethink`: our reading. Multiple choice (the gold answer is one of the option letters parsed
  from the question): the letter from `extract_letter` (final `\\boxed{}`/"answer is" span, a
  leading "(B)"/"B.", a single letter token, else a single option text) must equal it;
  otherwise the final-answer span (else the whole text, after `</think>`) is lower-cased,
  stripped, a trailing "." removed, a number word zero..ten becomes its digits, and it must equal
  the lower-cased gold answer (also compared with punctuation removed from both).
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
    row_id,
    text_field,
)

MARKERS = HF_MARKERS
RULES = ("lmms-eval", "seethink")
LMMS_EVAL_COMMIT = "1be834ece1ce764ce4bec7c0eef102503046137f"
_CHOICE_RE = re.compile(r"\b([A-Z])\.\s+([^\n]*)")
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
                "answer_raw": str(row["answer"]),  # lmms-eval compares the answer unstripped
                "answer_type": "multiple_choice" if answer in options else "free_form",
                "images": paths,
                "image_bytes": blobs,
            }
        )
    return items


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


def lmms_eval_filter(response: str, question: str) -> str:
    """lmms-eval's flexible-extract filter chain (NumberWordsToDigitsFilter, then
    MultiChoiceRegexFilter.apply) for one response, at the pinned commit."""
    response = NUMBER_WORDS.get(response.lower(), response)
    fallback_regexes = []
    choice_to_alpha = {}
    next_alpha = "A"
    for m in _CHOICE_RE.findall(question):
        choice_text = m[1].strip()
        fallback_regexes.append(f"{re.escape(choice_text)}")
        choice_to_alpha[choice_text] = next_alpha
        next_alpha = chr(ord(next_alpha) + 1)
    fallback_regex = re.compile("|".join(fallback_regexes))
    cleaned_resp = re.sub(r"[^\w\s]", "", response).strip()
    match = fallback_regex.search(cleaned_resp)
    if match and match.group() in choice_to_alpha:
        return choice_to_alpha[match.group()]
    return cleaned_resp


def lmms_eval_exact_match(filtered: str, gold: str) -> bool:
    """`Task.process_results` (the result stripped) and `exact_match_hf_evaluate` with
    ignore_case and ignore_punctuation, through numpy as lmms-eval runs it."""
    import string

    import numpy as np

    predictions = np.char.lower(np.asarray([filtered.strip()]))
    references = np.char.lower(np.asarray([gold]))
    table = string.punctuation.maketrans("", "", string.punctuation)
    predictions = np.char.translate(predictions, table=table)  # type: ignore[call-overload]
    references = np.char.translate(references, table=table)  # type: ignore[call-overload]
    return bool((predictions == references)[0])


def _result_key(row: dict, where: str) -> str:
    return row_id(row, where, ("id", "doc_id", "index"))


def _text(row: dict, where: str) -> str:
    """`prediction` / `response`, else the first generation of an lmms-eval sample (`resps`)."""
    if not any(k in row and row[k] is not None for k in ("prediction", "response")) and "resps" in row:
        resps = row["resps"]
        first = resps[0] if isinstance(resps, list) and resps else None
        first = first[0] if isinstance(first, list) and first else first
        if not isinstance(first, str):
            raise UserError(f"{where}: field 'resps' should hold the generated text ([[TEXT]])")
        return first
    return text_field(row, where)[1]


def judge(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, prediction, answer, correct, answer_type."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    verdicts = []
    for where, row, item in match_results(
        read_results(results_path), gold, f"RealWorldQA in {data_dir}", _result_key
    ):
        text = _text(row, where)
        pred: str | None
        if rule == "lmms-eval":
            pred = lmms_eval_filter(text, item["question"])
            ok = lmms_eval_exact_match(pred, item.get("answer_raw", item["answer"]))
        elif item["answer_type"] == "multiple_choice":
            letters = "".join(item["option_letters"])
            pred = extract_letter(text, letters, dict(zip(letters, item["options"], strict=True)))
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


BENCHMARK = Benchmark(
    name="realworldqa",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    description="RealWorldQA: 765 real-world images; lmms-eval's filters and exact match (pinned commit)",
    rules=RULES,
)
