"""A-OKVQA: loader and the official scorer (allenai/aokvqa `evaluation/eval_predictions.py`).

Data, either of:
* the official files `aokvqa_v1p0_{train,val,test}.json`: a list of rows `split`, `image_id`,
  `question_id`, `question`, `choices`, `correct_choice_idx`, `direct_answers` (10 answers),
  `difficult_direct_answer`, `rationales`; COCO 2017 images are looked up as
  `{split}2017/{image_id:012}.jpg` in the data folder, `coco/` or `images/`;
* the HF release (HuggingFaceM4/A-OKVQA: splits train / validation / test) as parquet or
  `save_to_disk`, the same columns plus `image`.
Default split: `val` (`validation` in the HF release). The test split has no answers.

Results, either the official predictions file written by `evaluation/prepare_predictions.py`
(a JSON object question_id -> {"multiple_choice": CHOICE_TEXT, "direct_answer": TEXT}, with `{}`
for a question without a prediction), or rows with `id` and any of `multiple_choice`,
`direct_answer`, `prediction` / `response`.

Rules (`rule=`), for the multiple-choice prediction:
* `official` (default): `multiple_choice` verbatim, else `prediction` / `response` verbatim (the
  official scorer compares the prediction with the choice text as it is); a row with neither
  has no prediction;
* `seethink`: `multiple_choice` verbatim, else `prediction` / `response` read as free text: a
  text equal to a choice (after stripping) is that choice, otherwise the choice of the letter
  `extract_letter` finds.
`direct_answer` is always used verbatim.

Scoring, the official `eval_aokvqa` with strict=False, over the whole split (an item without a
prediction scores 0); any JSON value is accepted and only an equal string scores:
* multiple choice: 1 when the prediction equals `choices[correct_choice_idx]`, over all items;
* direct answer: min(1, #direct_answers equal to the prediction / 3), exact string equality,
  over the items whose `difficult_direct_answer` is false; reported only when the results file
  has `direct_answer` fields.
`correct` / `total` / `accuracy` are the multiple-choice numbers (percent, 2 decimals);
`official` holds what `eval_predictions.py` prints (`MC`, `DA`: unrounded percent), each only
when some row gives that setting.
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


RULES = ("official", "seethink")
_TEXT_KEYS = ("prediction", "response")


def mc_prediction(row: dict, where: str, item: dict, rule: str = "seethink") -> object:
    """The multiple-choice prediction a results row gives (compared with the choice text by
    equality), or None."""
    if "multiple_choice" in row and (rule == "official" or row["multiple_choice"] is not None):
        return row["multiple_choice"]
    for key in _TEXT_KEYS:
        if key not in row or row[key] is None:
            continue
        value = row[key]
        if rule == "official" or not isinstance(value, str):
            return value
        if value.strip() in item["options"]:
            return value.strip()
        letters = LETTERS[: len(item["options"])]
        letter = extract_letter(value, letters, dict(zip(letters, item["options"], strict=True)))
        return item["options"][letters.index(letter)] if letter else None
    return None


def da_score(prediction: object, direct_answers: list[str]) -> float:
    """The official soft accuracy: min(1, matches / 3)."""
    return min(1.0, sum(prediction == da for da in direct_answers) / 3.0)


def judge(results_path: Path, data_dir: Path, items: list[dict] | None = None, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, mc_prediction, correct (multiple choice), da_prediction,
    da_score (None without a direct answer), difficult_direct_answer, and which settings the row
    gives (`has_mc`, `has_da`)."""
    if items is None:
        items = _load(Path(data_dir), None, images=False)
    if items and items[0]["answer"] is None:
        raise UserError(f"aokvqa: the {items[0]['split']} split has no answers to score against")
    gold = {it["id"]: it for it in items}
    split = items[0]["split"] if items else "val"
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, f"A-OKVQA {split} in {data_dir}"):
        mc = mc_prediction(row, where, item, rule)
        has_da = "direct_answer" in row
        da = row.get("direct_answer")
        verdicts.append(
            {
                "id": item["id"],
                "mc_prediction": mc,
                "answer": item["answer"],
                "correct": mc == item["answer"],
                "da_prediction": da,
                "da_score": da_score(da, item["direct_answers"]) if has_da else None,
                "difficult_direct_answer": item["difficult_direct_answer"],
                "has_mc": "multiple_choice" in row or any(row.get(k) is not None for k in _TEXT_KEYS),
                "has_da": has_da,
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
        "answered": sum(v["has_mc"] for v in verdicts),
        "breakdown": {
            "difficult_direct_answer": tally(
                (str(it["difficult_direct_answer"]).lower(), by_id.get(it["id"], {}).get("correct", False))
                for it in items
            )
        },
    }
    official: dict[str, float | None] = {}
    if any(v["has_mc"] for v in verdicts):
        official["MC"] = sum(float(v["correct"]) for v in verdicts) / total * 100 if total else None
    if any(v["has_da"] for v in verdicts):
        da_items = [it for it in items if not it["difficult_direct_answer"]]
        da_sum = sum(by_id[it["id"]]["da_score"] or 0.0 for it in da_items if it["id"] in by_id)
        out["direct_answer"] = {
            "score": round(da_sum, 4),
            "total": len(da_items),
            "accuracy": round(da_sum / len(da_items) * 100, 2) if da_items else 0.0,
        }
        # the official sum runs in dataset order; keep that order for bit-equal floats
        acc = [by_id[it["id"]]["da_score"] or 0.0 if it["id"] in by_id else 0.0 for it in da_items]
        official["DA"] = sum(acc) / len(acc) * 100 if acc else None
    out["official"] = official
    return out


def _score(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> dict:
    """The metrics over the whole split (an item without a results row counts as wrong)."""
    items = _load(Path(data_dir), None, images=False)
    return aggregate(judge(results_path, data_dir, items, rule), items)


BENCHMARK = Benchmark(
    name="aokvqa",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="A-OKVQA (val 1,145): official multiple-choice accuracy and direct-answer soft accuracy",
    rules=RULES,
    scorer=_score,
)
