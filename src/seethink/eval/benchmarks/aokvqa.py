"""A-OKVQA: loader and the official scorer (allenai/aokvqa `evaluation/eval_predictions.py`).

Data, either of:
* the official files `aokvqa_v1p0_{train,val,test}.json`: a list of rows `split`, `image_id`,
  `question_id`, `question`, `choices`, `correct_choice_idx`, `direct_answers` (10 answers),
  `difficult_direct_answer`, `rationales`; COCO 2017 images are looked up as
  `{split}2017/{image_id:012}.jpg` in the data folder, `coco/` or `images/`;
* the HF release (HuggingFaceM4/A-OKVQA: splits train / validation / test) as parquet or
  `save_to_disk`, the same columns plus `image`.
Default split: `val` (`validation` in the HF release). The test split has no answers.

Results, either the official predictions file (a JSON object question_id ->
{"multiple_choice": CHOICE_TEXT, "direct_answer": TEXT}) or rows with `id` and any of
`multiple_choice` (choice text, used verbatim), `direct_answer` (used verbatim), `prediction` /
`response` (free text: its option letter from `extract_letter`, or a text equal to a choice,
gives the multiple-choice prediction).

Scoring, the official rules, over the whole split (an item without a prediction scores 0, as the
official script does with strict=False):
* multiple choice: 1 when the prediction equals `choices[correct_choice_idx]`, over all items;
* direct answer: min(1, #direct_answers equal to the prediction / 3), exact string equality,
  over the items whose `difficult_direct_answer` is false; reported only when the results file
  has `direct_answer` fields.
`correct` / `total` / `accuracy` are the multiple-choice numbers (percent, 2 decimals).
"""

from __future__ import annotations

import ast
from pathlib import Path

from seethink.errors import UserError

from ._choice import extract_letter
from ._common import Benchmark, need, percent, read_json, tally
from ._formats import HF_MARKERS, hf_splits, image_cells, match_results, pick_split, read_hf, read_results

SPLITS = ("val", "train", "test")
MARKERS = tuple(f"aokvqa_v1p0_{s}.json" for s in SPLITS) + HF_MARKERS
LETTERS = "ABCDEFGH"


def _list_of_str(value: object, where: str, field: str) -> list[str]:
    if isinstance(value, str):  # some conversions store the list as its Python repr
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise UserError(f"{where}: field {field!r} should be a list of strings") from exc
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: field {field!r} should be a list of strings")
    return value


def _coco_image(base: Path, split: str, image_id: object) -> list[str]:
    if not isinstance(image_id, int):
        return []
    name = f"{image_id:012}.jpg"
    for folder in (base / f"{split}2017", base / "coco" / f"{split}2017", base / "images"):
        if (folder / name).is_file():
            return [str((folder / name).resolve())]
    return []


def _item(row: dict, where: str, split: str, base: Path, images: bool, hf: bool) -> dict:
    choices = _list_of_str(need(row, "choices", where), where, "choices")
    idx = row.get("correct_choice_idx")
    if idx is not None and (not isinstance(idx, int) or not 0 <= idx < len(choices)):
        raise UserError(f"{where}: field 'correct_choice_idx' should index 'choices', got {idx!r}")
    paths: list[str] = []
    blobs: list[bytes] = []
    if images:
        if hf:
            paths, blobs = image_cells(row.get("image"), base, where, "image")
        if not paths and not blobs:
            paths = _coco_image(base, split, row.get("image_id"))
    return {
        "id": str(need(row, "question_id", where, (str, int))),
        "question": need(row, "question", where, str),
        "options": choices,
        "answer": choices[idx] if idx is not None else None,
        "answer_letter": LETTERS[idx] if idx is not None else None,
        "correct_choice_idx": idx,
        "direct_answers": _list_of_str(row.get("direct_answers"), where, "direct_answers"),
        "difficult_direct_answer": bool(row.get("difficult_direct_answer", False)),
        "rationales": row.get("rationales"),
        "image_id": row.get("image_id"),
        "split": split,
        "images": paths,
        **({"image_bytes": blobs} if hf else {}),
    }


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    if split is not None and split not in SPLITS:
        raise UserError(f"aokvqa: unknown split {split!r} (known: {', '.join(SPLITS)})")
    base = root if root.is_dir() else root.parent
    present = [s for s in SPLITS if (base / f"aokvqa_v1p0_{s}.json").is_file()] if root.is_dir() else []
    items = []
    if present:
        chosen = split or ("val" if "val" in present else present[0])
        path = base / f"aokvqa_v1p0_{chosen}.json"
        raw = read_json(path)
        if not isinstance(raw, list):
            raise UserError(f"{path}: expected a JSON list of questions")
        for n, row in enumerate(raw, 1):
            if not isinstance(row, dict):
                raise UserError(f"{path}: row {n}: not a JSON object")
            items.append(_item(row, f"{path}: row {n}", chosen, base, images, hf=False))
    else:
        groups = hf_splits(root)
        if not groups:
            raise UserError(
                f"aokvqa: {root} has neither aokvqa_v1p0_{{split}}.json nor HF parquet/save_to_disk data"
            )
        chosen = split or "val"
        sources = pick_split(groups, chosen, "aokvqa", root, {"val": "validation"})
        drop = () if images else ("image",)
        items = [
            _item(row, where, chosen, base, images, hf=True) for where, row in read_hf(sources, drop=drop)
        ]
    return items


def load(data_dir: Path, split: str | None = None) -> list[dict]:
    return _load(Path(data_dir), split)


def mc_prediction(row: dict, where: str, item: dict) -> str | None:
    """The multiple-choice prediction (a choice text) a results row gives, or None."""
    if row.get("multiple_choice") is not None:
        value = row["multiple_choice"]
        if not isinstance(value, str):
            raise UserError(f"{where}: field 'multiple_choice' should be str, got {type(value).__name__}")
        return value
    for key in ("prediction", "response"):
        value = row.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise UserError(f"{where}: field {key!r} should be str, got {type(value).__name__}")
        if value.strip() in item["options"]:
            return value.strip()
        letters = LETTERS[: len(item["options"])]
        letter = extract_letter(value, letters, dict(zip(letters, item["options"], strict=True)))
        return item["options"][letters.index(letter)] if letter else None
    return None


def da_score(prediction: str, direct_answers: list[str]) -> float:
    """The official soft accuracy: min(1, matches / 3)."""
    return min(1.0, sum(prediction == da for da in direct_answers) / 3.0)


def judge(results_path: Path, data_dir: Path, items: list[dict] | None = None) -> list[dict]:
    """One verdict per results row: id, mc_prediction, correct (multiple choice), da_prediction,
    da_score (None without a direct answer), difficult_direct_answer."""
    if items is None:
        items = _load(Path(data_dir), None, images=False)
    if items and items[0]["answer"] is None:
        raise UserError(f"aokvqa: the {items[0]['split']} split has no answers to score against")
    gold = {it["id"]: it for it in items}
    split = items[0]["split"] if items else "val"
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, f"A-OKVQA {split} in {data_dir}"):
        if not any(k in row for k in ("multiple_choice", "direct_answer", "prediction", "response")):
            raise UserError(f"{where}: missing field 'response' (or 'multiple_choice' / 'direct_answer')")
        mc = mc_prediction(row, where, item)
        da = row.get("direct_answer")
        if da is not None and not isinstance(da, str):
            raise UserError(f"{where}: field 'direct_answer' should be str, got {type(da).__name__}")
        verdicts.append(
            {
                "id": item["id"],
                "mc_prediction": mc,
                "answer": item["answer"],
                "correct": mc is not None and mc == item["answer"],
                "da_prediction": da,
                "da_score": None if da is None else da_score(da, item["direct_answers"]),
                "difficult_direct_answer": item["difficult_direct_answer"],
            }
        )
    return verdicts


def aggregate(verdicts: list[dict], items: list[dict]) -> dict:
    by_id = {v["id"]: v for v in verdicts}
    correct = sum(v["correct"] for v in verdicts)
    total = len(items)
    out = {
        "benchmark": "aokvqa",
        "split": items[0]["split"] if items else None,
        "correct": correct,
        "total": total,
        "accuracy": percent(correct, total),
        "answered": len(verdicts),
        "breakdown": {
            "difficult_direct_answer": tally(
                (str(it["difficult_direct_answer"]).lower(), by_id.get(it["id"], {}).get("correct", False))
                for it in items
            )
        },
    }
    if any(v["da_score"] is not None for v in verdicts):
        da_items = [it for it in items if not it["difficult_direct_answer"]]
        da_sum = sum(by_id[it["id"]]["da_score"] or 0.0 for it in da_items if it["id"] in by_id)
        out["direct_answer"] = {
            "score": round(da_sum, 4),
            "total": len(da_items),
            "accuracy": round(da_sum / len(da_items) * 100, 2) if da_items else 0.0,
        }
    return out


def score(results_path: Path, data_dir: Path) -> dict:
    items = _load(Path(data_dir), None, images=False)
    return aggregate(judge(results_path, data_dir, items), items)


BENCHMARK = Benchmark(
    name="aokvqa",
    load=load,
    judge=judge,
    score=score,
    markers=MARKERS,
    splits=SPLITS,
    description="A-OKVQA (val 1,145): official multiple-choice accuracy and direct-answer soft accuracy",
)
