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
`response`.

Scoring: the letter is VLMEvalKit's exact-matching `can_infer` (see `_choice.py`), applied to the
final-answer span of the text (last `\\boxed{}` or text after "answer is"/"answer:", after any
`</think>`) when there is one and it gives a letter, else to the whole text. Correct when the
letter equals `answer`. Breakdowns, like VLMEvalKit's `report_acc`: `split`, `category` and
`l2-category` when the TSV has them.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

from seethink.errors import UserError

from ._choice import after_think, can_infer, final_answer_span
from ._common import Benchmark, need, percent, tally
from ._formats import decode_base64_image, match_results, read_results, read_tsv, text_field

MARKERS = ("*.tsv",)
LETTERS = string.ascii_uppercase
GROUP_KEYS = ("split", "category", "l2-category")


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
    items = []
    seen: set[str] = set()
    for where, row in rows:
        idx = need(row, "index", where, str).strip()
        if not idx:
            raise UserError(f"{where}: empty field 'index'")
        if idx in seen:
            raise UserError(f"{where}: index {idx!r} appears twice")
        seen.add(idx)
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
        items.append(item)
    return items


def load(data_dir: Path, split: str | None = None) -> list[dict]:
    return items_from_tsv(tsv_path(Path(data_dir), split))


def choose(text: str, options: dict[str, str]) -> str | None:
    """The letter `text` picks (see the module docstring), "Z" for a refusal, or None."""
    span = final_answer_span(text)
    hit = can_infer(span, options) if span else None
    return hit or can_infer(after_think(text), options)


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, prediction (letter or None), answer, correct, groups."""
    path = tsv_path(Path(data_dir), None)
    gold = {it["id"]: it for it in items_from_tsv(path, images=False)}
    verdicts = []
    for where, row, item in match_results(read_results(results_path), gold, str(path)):
        _, text = text_field(row, where)
        if not item["options"]:
            raise UserError(f"{where}: item {item['id']!r} has no option columns (A, B, ...) in {path}")
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


def aggregate(verdicts: list[dict], name: str = "vlmeval_tsv") -> dict:
    correct = sum(v["correct"] for v in verdicts)
    keys = [k for k in GROUP_KEYS if any(k in v["groups"] for v in verdicts)]
    return {
        "benchmark": name,
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "unanswered": sum(v["prediction"] is None for v in verdicts),
        "breakdown": {
            k: tally((v["groups"][k], v["correct"]) for v in verdicts if k in v["groups"]) for k in keys
        },
    }


def score(results_path: Path, data_dir: Path) -> dict:
    return aggregate(judge(results_path, data_dir))


BENCHMARK = Benchmark(
    name="vlmeval_tsv",
    load=load,
    judge=judge,
    score=score,
    markers=MARKERS,
    description="any VLMEvalKit multiple-choice TSV; letters by VLMEvalKit's exact-matching can_infer",
)
