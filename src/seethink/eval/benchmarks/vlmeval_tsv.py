"""Any VLMEvalKit-style multiple-choice TSV (MMBench, MMStar, SEEDBench, AI2D, ... as
VLMEvalKit distributes them): loader and letter scoring.

Data: a `.tsv` file (the data path itself, or `split=STEM` naming `STEM.tsv` in the data folder,
or the only `.tsv` there) with columns `index`, `question`, `answer` (the gold letter), option
columns `A`..`Z` where filled, `image` (base64; a short cell holding another row's index reuses
that row's image, and a `['...', '...']` list holds several images, as VLMEvalKit reads them),
and optional `image_path`, `hint`, `category`, `l2-category`, `split`. Images are decoded and
checked with PIL and kept as encoded bytes in `image_bytes` (`save_images` writes them out);
`images` lists `image_path` files that exist next to the TSV.

Results: one row per item with `id` (or `index`) and the model's text in `prediction` or
`response`: JSONL, JSON, or the `.xlsx` / `.tsv` predictions file VLMEvalKit writes.

Rules (`rule=`):
* `vlmevalkit` (default): VLMEvalKit's `exact_matching` evaluation of a plain (not circular)
  multiple-choice set, at the commit pinned in `_vlmevalkit.py`: `can_infer(str(prediction),
  choices)` on the whole prediction, where the choices are the row's own `A`..`Z` cells when the
  file has them (VLMEvalKit's predictions files do) and else the data TSV's, both as pandas reads
  them; no letter counts as "Z", which is wrong.
* `seethink`: our reading for reasoning outputs: the long-standing `can_infer` (without the
  last-four-tokens and length limits VLMEvalKit added in 2025) on the final-answer span (last
  `\\boxed{}` or text after "answer is" / "answer:", after any `</think>`) when it gives a letter,
  else on the whole text. A text holding "Failed to obtain answer via API" gives no letter.
Correct when the letter equals `answer`. Breakdowns, like VLMEvalKit's `report_acc`: `split`,
`category` and `l2-category` when the TSV has them; `official` gives `report_acc`'s table
(fractions per split: `Overall`, then each l2-category and category, MMBench names abbreviated).
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

from seethink.errors import UserError

from . import _vlmevalkit as vk
from ._choice import after_think, can_infer, final_answer_span
from ._common import Benchmark, need, percent, tally, unique_items
from ._formats import decode_base64_image, match_results, read_results, read_tsv, table_text

MARKERS = ("*.tsv",)
LETTERS = string.ascii_uppercase
GROUP_KEYS = ("split", "category", "l2-category")
RULES = ("vlmevalkit", "seethink")
MMB_ABBRS = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C",
    "logic_reasoning": "LR",
    "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}


def tsv_path(root: Path, split: str | None) -> Path:
    if root.is_file():
        return root
    if split:
        path = root / f"{split}.tsv"
        if not path.is_file():
            raise UserError(f"vlmeval_tsv: {path} not found")
        return path
    found = sorted(root.glob("*.tsv"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"vlmeval_tsv: no .tsv file in {root}")
    raise UserError(
        f"vlmeval_tsv: several .tsv files in {root} ({', '.join(p.stem for p in found)}); name one with split=STEM"
    )


def _image_list(cell: str, where: str) -> list[str]:
    cell = cell.strip()
    if cell.startswith("[") and cell.endswith("]"):
        try:
            value = ast.literal_eval(cell)
        except (ValueError, SyntaxError) as exc:
            raise UserError(f"{where}: field 'image' looks like a list but is not one ({exc})") from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: field 'image' should be a list of base64 strings")
        return value
    return [cell] if cell else []


def items_from_tsv(path: Path, images: bool = True) -> list[dict]:
    rows = read_tsv(path)
    raw_images = {row.get("index", ""): row.get("image", "") for _, row in rows}
    entries = []
    for where, row in rows:
        idx = need(row, "index", where, str).strip()
        if not idx:
            raise UserError(f"{where}: empty field 'index'")
        options = {c: row[c] for c in LETTERS if row.get(c, "") != ""}
        blobs: list[bytes] = []
        if images:
            for cell in _image_list(row.get("image", ""), where):
                if len(cell) <= 64:  # a reference to another row's image
                    ref = raw_images.get(cell)
                    if not ref or len(ref) <= 64:
                        raise UserError(
                            f"{where}: field 'image' refers to row index {cell!r}, which has no image"
                        )
                    cell = ref
                blobs.append(decode_base64_image(cell, where, "image"))
        paths = []
        for ref in _image_list(row.get("image_path", ""), where) if images else []:
            p = path.parent / ref
            if p.is_file():
                paths.append(str(p.resolve()))
        item = {
            "id": idx,
            "question": need(row, "question", where, str),
            "options": list(options.values()),
            "option_letters": list(options),
            "answer": need(row, "answer", where, str).strip(),
            "images": paths,
            "image_bytes": blobs,
            "hint": row.get("hint") or None,
        }
        for key in ("category", "l2-category", "split", "l2_category", "bench"):
            if row.get(key):
                item[key] = row[key]
        entries.append((where, item))
    return unique_items(entries, "index")


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    return items_from_tsv(tsv_path(root, split), images)


def choose(text: str, options: dict[str, str]) -> str | None:
    """The letter `text` picks under the `seethink` rule (see the module docstring), "Z" for a
    refusal, or None."""
    span = final_answer_span(text)
    hit = can_infer(span, options) if span else None
    return hit or can_infer(after_think(text), options)


def _is_nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def pandas_options(path: Path) -> dict[str, dict[str, object]]:
    """{index: {letter: cell}} of the option columns as VLMEvalKit's `load` reads the TSV (pandas:
    a numeric column with an empty cell is float, so "3" reads as 3.0); empty cells left out."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t", usecols=lambda c: c == "index" or (len(c) == 1 and c in LETTERS))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: pandas cannot read it as VLMEvalKit does ({exc})") from exc
    out: dict[str, dict[str, object]] = {}
    for rec in frame.to_dict("records"):
        idx = rec.pop("index", None)
        out[str(idx)] = {c: rec[c] for c in LETTERS if c in rec and not _is_nan(rec[c])}
    return out


def official_letter(row: dict, where: str, choices: dict[str, object]) -> str | None:
    """VLMEvalKit's exact-matching reading of one predictions row: the letter, "Z" or None."""
    for key in ("prediction", "response"):
        if key in row:
            hit = vk.can_infer(vk.as_prediction(row[key]), choices)  # type: ignore[arg-type]
            return hit if isinstance(hit, str) and hit else None
    raise UserError(f"{where}: missing field 'prediction' (or 'response')")


def _row_choices(row: dict) -> dict[str, object]:
    return {c: row[c] for c in LETTERS if c in row and not _is_nan(row[c])}


def judge(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, prediction (letter, "Z" or None), answer, correct, groups."""
    path = tsv_path(Path(data_dir), None)
    items = items_from_tsv(path, images=False)
    gold = {it["id"]: it for it in items}
    by_index: dict[str, dict[str, object]] = {}
    if rule == "vlmevalkit":
        by_index = pandas_options(path)
        if set(by_index) != set(gold):  # indexes pandas reads as numbers ("007" -> 7): go by position
            read = list(by_index.values())
            if len(read) != len(items):
                raise UserError(f"{path}: pandas and the TSV reader disagree on the number of rows")
            by_index = {it["id"]: opts for it, opts in zip(items, read, strict=True)}
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, str(path)):
        if not item["options"]:
            raise UserError(f"{where}: item {item['id']!r} has no option columns (A, B, ...) in {path}")
        if rule == "vlmevalkit":
            letter = official_letter(row, where, _row_choices(row) or by_index[item["id"]])
        else:
            _, text = table_text(row, where)
            letter = choose(text, dict(zip(item["option_letters"], item["options"], strict=True)))
        verdicts.append(
            {
                "id": item["id"],
                "prediction": letter,
                "answer": item["answer"],
                "correct": letter == item["answer"],
                "groups": {k: item[k] for k in GROUP_KEYS if k in item},
            }
        )
    return verdicts


def report_acc(verdicts: list[dict]) -> dict[str, dict[str, float | None]]:
    """VLMEvalKit's `report_acc` table: per split, `Overall` then each l2-category and category
    (sorted, MMBench names abbreviated), as fractions; None where a split has none of a group
    (VLMEvalKit's NaN)."""
    splits = dict.fromkeys(v["groups"].get("split", "none") for v in verdicts)
    out: dict[str, dict[str, float | None]] = {}
    for sp in splits:
        rows = [v for v in verdicts if v["groups"].get("split", "none") == sp]
        table: dict[str, float | None] = {"Overall": sum(v["correct"] for v in rows) / len(rows)}
        for group in ("l2-category", "category"):
            if not any(group in v["groups"] for v in verdicts):
                continue
            for ab in sorted({str(v["groups"].get(group)) for v in verdicts}):
                sub = [v for v in rows if str(v["groups"].get(group)) == ab]
                table[MMB_ABBRS.get(ab, ab)] = sum(v["correct"] for v in sub) / len(sub) if sub else None
        out[sp] = table
    return out


def aggregate(verdicts: list[dict], name: str = "vlmeval_tsv") -> dict:
    correct = sum(v["correct"] for v in verdicts)
    keys = [k for k in GROUP_KEYS if any(k in v["groups"] for v in verdicts)]
    return {
        "benchmark": name,
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "unanswered": sum(v["prediction"] in (None, "Z") for v in verdicts),
        "breakdown": {
            k: tally((v["groups"][k], v["correct"]) for v in verdicts if k in v["groups"]) for k in keys
        },
        "official": report_acc(verdicts) if verdicts else {},
    }


BENCHMARK = Benchmark(
    name="vlmeval_tsv",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    description="any VLMEvalKit multiple-choice TSV; letters by VLMEvalKit's exact-matching can_infer",
    rules=RULES,
)
