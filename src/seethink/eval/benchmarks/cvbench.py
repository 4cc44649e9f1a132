"""CV-Bench (Cambrian vision-centric benchmark): loader, letter extraction and the official
aggregation from the dataset README (nyu-visionx/CV-Bench).

Data, either of:
* the raw release: `test.jsonl` (rows `idx`, `type` 2D/3D, `task` Count/Relation/Depth/Distance,
  `question`, `choices`, `answer` "(C)", `prompt`, `filename` under `img/`, `source`
  ADE20K/COCO/Omni3D, `source_dataset`, `source_filename`, `target_class`, `target_size`,
  `bbox`) with the `img/` folder;
* the HF files (`test.parquet`, or `test_2d` / `test_3d` parquet files, or `save_to_disk`) with
  the same columns plus `image`.
`split` may be `test` (default: everything), `2D` or `3D`.

Item: `id` = idx, `answer` the bare letter ("C"), `answer_raw` "(C)", `options` = choices.

Results: one row per item with `id` (or `idx`) and the model's text in `prediction` or
`response`.

Rules (`rule=`). CV-Bench's dataset card defines only the combined score; its authors' reading
is in the Cambrian-1 evaluation scripts (cambrian-mllm/cambrian
539ffc3254bba004e5d012b65c0ad6cb308897c5, `eval/eval/{ade,coco,omni}/*_test.py`, one per source):
* `cambrian` (default): `extract_mcq_answer`: lower-case and strip; cut after the last of
  "answer is", "answer is:", "answer:" (each in turn, when present); strip, drop trailing "."
  (Omni3D: any of ".:,"), a leading "(" and a trailing ")"; keep the first character. Correct
  when it is the gold letter (lower-cased), or, for Omni3D only, when it equals the gold
  option's text (so only a one-character option text can match).
* `seethink`: the letter from `extract_letter` (documented in docs/benchmarks.md: final
  `\\boxed{}` / "answer is" span, a leading "(B)"/"B.", a single letter token, else a single
  option text).

Aggregation (the dataset card's formula, as lmms-eval's `cv_bench_default_aggregate_results`
writes it): accuracy per source; 2D = mean(ADE20K, COCO); 3D = Omni3D; CV-Bench = mean(2D, 3D),
in percent (2 decimals). With a source or a type absent the means run over those present (the
formula itself needs all three). `official` holds, per source, what the Cambrian script records
(`accuracy`, `total_count`, and per task `accuracy` / `total`) and the three means unrounded.
"""

from __future__ import annotations

from pathlib import Path

from seethink.errors import UserError

from ._choice import extract_letter
from ._common import Benchmark, image_paths, need, percent, read_jsonl, tally, unique_items
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

SPLITS = ("test", "2D", "3D")
MARKERS = ("test.jsonl", *HF_MARKERS)
LETTERS = "ABCDEF"
RULES = ("cambrian", "seethink")


def _item(row: dict, where: str, base: Path, images: bool, hf: bool) -> dict:
    raw = need(row, "answer", where, str).strip()
    letter = raw.strip("() ")
    choices = need(row, "choices", where, list)
    if len(letter) != 1 or letter not in LETTERS[: len(choices)]:
        raise UserError(f"{where}: field 'answer' should be an option letter like \"(A)\", got {raw!r}")
    source = need(row, "source", where, str)
    kind = need(row, "type", where, str)
    paths: list[str] = []
    blobs: list[bytes] = []
    if images:
        if hf:
            paths, blobs = image_cells(row.get("image"), base, where, "image")
        if not paths and not blobs:
            paths = image_paths(base, [row.get("filename")])
    return {
        "id": str(need(row, "idx", where, (int, str))),
        "question": need(row, "question", where, str),
        "prompt": row.get("prompt"),
        "options": [str(c) for c in choices],
        "answer": letter,
        "answer_raw": raw,
        "images": paths,
        **({"image_bytes": blobs} if hf else {}),
        "type": kind,
        "task": need(row, "task", where, str),
        "source": source,
        "filename": row.get("filename"),
    }


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    if split is not None and split not in SPLITS:
        raise UserError(f"cvbench: unknown split {split!r} (known: {', '.join(SPLITS)})")
    base = root if root.is_dir() else root.parent
    official = base / "test.jsonl"
    hf = not (root.is_dir() and official.is_file())
    if not hf:
        rows = [(f"{official}: row {n}", row) for n, row in enumerate(read_jsonl(official), 1)]
    else:
        groups = hf_splits(root)
        if not groups:
            raise UserError(f"cvbench: {root} has neither test.jsonl nor HF parquet/save_to_disk data")
        sources = groups["test"] if "test" in groups else [s for srcs in groups.values() for s in srcs]
        rows = read_hf(sources, drop=() if images else ("image",))
    entries = [(where, _item(row, where, base, images, hf=hf)) for where, row in rows]
    if split in ("2D", "3D"):
        entries = [(where, it) for where, it in entries if it["type"] == split]
    return unique_items(entries, "idx")


def cambrian_extract(text: str, source: str) -> str:
    """`extract_mcq_answer` of the Cambrian test script for the item's source."""
    text = text.lower().strip()
    for answer_keyword in ("answer is", "answer is:", "answer:"):
        if answer_keyword in text:
            text = text.split(answer_keyword)[-1]
    text = text.strip().rstrip(".:," if source == "Omni3D" else ".").lstrip("(").rstrip(")")
    if len(text) > 1:
        text = text[0]
    return text


def cambrian_correct(answer: str, item: dict) -> bool:
    gt = item["answer_raw"].lower()[1] if len(item["answer_raw"]) > 1 else item["answer"].lower()
    if answer == gt:
        return True
    if item["source"] == "Omni3D":
        pos = ord(gt) - ord("a")
        return 0 <= pos < len(item["options"]) and answer == item["options"][pos]
    return False


def judge(results_path: Path, data_dir: Path, rule: str = RULES[0]) -> list[dict]:
    """One verdict per results row: id, prediction (letter or None; the extracted character under
    `cambrian`), answer, correct, groups."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    verdicts = []
    for where, row, item in match_results(
        read_results(results_path),
        gold,
        f"CV-Bench in {data_dir}",
        lambda r, w: row_id(r, w, ("id", "idx", "index")),
    ):
        _, text = text_field(row, where)
        letter: str | None
        if rule == "cambrian":
            letter = cambrian_extract(text, item["source"])
            ok = cambrian_correct(letter, item)
            letter = letter or None
        else:
            letters = LETTERS[: len(item["options"])]
            letter = extract_letter(text, letters, dict(zip(letters, item["options"], strict=True)))
            ok = letter == item["answer"]
        verdicts.append(
            {
                "id": item["id"],
                "prediction": letter,
                "answer": item["answer"],
                "correct": ok,
                "source": item["source"],
                "type": item["type"],
                "task": item["task"],
            }
        )
    return verdicts


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    by_source = tally((v["source"], v["correct"]) for v in verdicts)
    frac = {s: row["correct"] / row["total"] for s, row in by_source.items()}
    two_d = [frac[s] for s in ("ADE20K", "COCO") if s in frac]
    three_d = [frac[s] for s in ("Omni3D",) if s in frac]
    acc_2d, acc_3d = _mean(two_d), _mean(three_d)
    combined = _mean([a for a, present in ((acc_2d, two_d), (acc_3d, three_d)) if present])
    official: dict = {"sources": {}}
    for src, row in by_source.items():
        tasks = tally((v["task"], v["correct"]) for v in verdicts if v["source"] == src)
        official["sources"][src] = {
            "accuracy": row["correct"] / row["total"],
            "total_count": row["total"],
            **{t: {"accuracy": r["correct"] / r["total"], "total": r["total"]} for t, r in tasks.items()},
        }
    official.update({"accuracy_2d": acc_2d if two_d else None, "accuracy_3d": acc_3d if three_d else None,
                     "cv_bench": combined if two_d or three_d else None})
    return {
        "benchmark": "cvbench",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        "cv_bench": round(combined * 100, 2),
        "accuracy_2d": round(acc_2d * 100, 2),
        "accuracy_3d": round(acc_3d * 100, 2),
        "unanswered": sum(v["prediction"] is None for v in verdicts),
        "breakdown": {
            "source": by_source,
            "type": tally((v["type"], v["correct"]) for v in verdicts),
            "task": tally((v["task"], v["correct"]) for v in verdicts),
        },
        "official": official,
    }


BENCHMARK = Benchmark(
    name="cvbench",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="CV-Bench: 2,638 items (2D ADE20K/COCO, 3D Omni3D); Cambrian's reading, README's combined score",
    rules=RULES,
)
