"""POPE (object-hallucination yes/no probing on COCO): loader and the official scorer.

Data, either of:
* the official files (AoiDragon/POPE `output/coco/`): `coco_pope_{adversarial,popular,random}.json`,
  JSONL despite the name, rows `question_id`, `image`, `text`, `label` (`image_id` in newer
  files); the COCO val2014 images are looked up as IMAGE in the data folder, `val2014/`,
  `images/` or `coco/val2014/`. Other `*_pope_{split}.json` files (A-OKVQA, GQA) are used when
  there is no COCO file.
* the HF release (lmms-lab/POPE) as parquet or `save_to_disk`: `id`, `question_id`, `question`,
  `answer`, `image_source`, `image`, `category` (the split). Its `Full/{split}/` files are used
  when present, else `data/test-*` split by `category`.

Item ids are `SPLIT/QUESTION_ID` (question ids restart in every split).

Results, any of:
* the official answer file (one per split, the README's format): JSONL rows `question`, `answer`
  in the order of the label file's questions, no ids; they are matched by position, as
  `evaluate.py` zips answers with labels. The split comes from the row's `split` / `category`,
  else from the file name (`..._random...`), else from the data when it holds one split;
* LLaVA's answer file (`question_id`, `text`; one per split, the split found the same way);
* rows with `id` ("random/17"), or `question_id` plus `split` (or `category`).
The model's text is the first present of `prediction`, `response`, `answer` (POPE answer files)
and `text` (LLaVA answer files).

Scoring follows the official `evaluate.py` (AoiDragon/POPE, also LLaVA's `eval_pope.py`):
the text is cut at its first "." (first sentence), commas are removed, it is split on single
spaces, and it is "no" when one of the words is exactly `No`, `not` or `no`, else "yes".
Positive = yes: accuracy, precision TP/(TP+FP), recall TP/(TP+FN), F1 and yes-ratio (share of
"yes" predictions), per split and pooled, in percent (2 decimals). A zero denominator gives 0
(the official script divides by zero). `splits.<name>.official` holds what `evaluate.py`
prints for that split (unrounded fractions; None where it would divide by zero).
"""

from __future__ import annotations

from pathlib import Path

from seethink.errors import UserError

from ._common import Benchmark, need, read_jsonl, tally, unique_items
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

SPLITS = ("adversarial", "popular", "random")
MARKERS = (
    tuple(f"coco_pope_{s}.json" for s in SPLITS) + tuple(f"*_pope_{s}.json" for s in SPLITS) + HF_MARKERS
)
_IMAGE_DIRS = (".", "val2014", "images", "coco/val2014")


def yes_no(text: str) -> str:
    """The official POPE normalisation of an answer text to "yes" / "no"."""
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def _official_file(base: Path, split: str) -> Path | None:
    coco = base / f"coco_pope_{split}.json"
    if coco.is_file():
        return coco
    others = sorted(base.glob(f"*_pope_{split}.json"))
    if len(others) > 1:
        raise UserError(
            f"pope: several {split} files in {base} ({', '.join(p.name for p in others)}); keep one"
        )
    return others[0] if others else None


def _gold_label(value: object, where: str, field: str) -> str:
    label = str(value).strip().lower()
    if label not in ("yes", "no"):
        raise UserError(f"{where}: field {field!r} should be yes or no, got {value!r}")
    return label


def _load(root: Path, split: str | None, images: bool = True) -> list[dict]:
    if split is not None and split not in SPLITS:
        raise UserError(f"pope: unknown split {split!r} (known: {', '.join(SPLITS)})")
    base = root if root.is_dir() else root.parent
    wanted = [split] if split else list(SPLITS)
    official: dict[str, Path] = {}
    if root.is_dir():
        official = {s: f for s in wanted if (f := _official_file(base, s)) is not None}
    elif root.suffix == ".json":  # one official file given as the data path
        official = {s: root for s in wanted if root.name.endswith(f"_pope_{s}.json")}
    if official:
        return unique_items(_official_entries(official, base, images))
    return unique_items(_hf_entries(root, base, split, images))


def _official_entries(files: dict[str, Path], base: Path, images: bool) -> list[tuple[str, dict]]:
    """(where, item) of the official label files, split -> file."""
    entries = []
    for s, path in files.items():
        for n, row in enumerate(read_jsonl(path), 1):
            where = f"{path}: row {n}"
            qid = need(row, "question_id", where, (int, str))
            image = need(row, "image", where, str)
            paths = [str(p) for d in _IMAGE_DIRS if (p := (base / d / image)).is_file()][:1] if images else []
            item = {
                "id": f"{s}/{qid}",
                "question": need(row, "text", where, str),
                "options": [],
                "answer": _gold_label(need(row, "label", where), where, "label"),
                "images": paths,
                "split": s,
                "question_id": str(qid),
                "image": image,
            }
            entries.append((where, item))
    return entries


def _hf_entries(root: Path, base: Path, split: str | None, images: bool) -> list[tuple[str, dict]]:
    """(where, item) of the HF release: its per-split files when it has them, else every row
    with the split taken from `category`."""
    groups = hf_splits(root)
    if not groups:
        raise UserError(
            f"pope: {root} has neither coco_pope_{{split}}.json files nor HF parquet/save_to_disk data"
        )
    per_split = {s: groups[s] for s in SPLITS if s in groups}
    if per_split:
        sources = [src for s in ([split] if split else SPLITS) for src in per_split.get(s, [])]
    else:
        sources = [src for srcs in groups.values() for src in srcs]
    entries = []
    for where, row in read_hf(sources, drop=() if images else ("image",)):
        s = str(row.get("category") or "")
        if not s:
            s = next(
                (g for g, srcs in per_split.items() if any(where.startswith(f"{x.path}:") for x in srcs)), ""
            )
        if s not in SPLITS:
            raise UserError(f"{where}: field 'category' should be one of {', '.join(SPLITS)}, got {s!r}")
        if split is not None and s != split:
            continue
        qid = need(row, "question_id", where, (int, str))
        paths, blobs = image_cells(row.get("image"), base, where, "image") if images else ([], [])
        item = {
            "id": f"{s}/{qid}",
            "question": need(row, "question", where, str),
            "options": [],
            "answer": _gold_label(need(row, "answer", where), where, "answer"),
            "images": paths,
            "image_bytes": blobs,
            "split": s,
            "question_id": str(qid),
            "image": row.get("image_source"),
        }
        entries.append((where, item))
    return entries


_TEXT_KEYS = ("prediction", "response", "answer", "text")


def _split_from_name(path: Path) -> str | None:
    hits = [sp for sp in SPLITS if sp in path.name]
    return hits[0] if len(hits) == 1 else None


def _keys(rows: list[tuple[str, dict]], path: Path, gold: dict[str, dict]) -> list[str]:
    """The item id of each results row: `id` / `index`; `question_id` within the row's split
    (or the file's); else the next question of that split, in order (official answer files)."""
    present = sorted({it["split"] for it in gold.values()}, key=SPLITS.index)
    by_split = {sp: [k for k, it in gold.items() if it["split"] == sp] for sp in present}
    file_split = _split_from_name(path)
    position = dict.fromkeys(present, 0)
    out = []
    for where, row in rows:
        if row.get("id") not in (None, "") or row.get("index") not in (None, ""):
            out.append(row_id(row, where))
            continue
        split = row.get("split", row.get("category"))
        if split is None:
            split = file_split or (present[0] if len(present) == 1 else None)
        if not isinstance(split, str) or split not in SPLITS:
            raise UserError(
                f"{where}: cannot tell the POPE split of this row (no 'split' / 'category' field, and the file"
                f" name names none of {', '.join(SPLITS)}); give ids like 'random/17'"
            )
        if row.get("question_id") not in (None, ""):
            out.append(f"{split}/{row_id(row, where, ('question_id',))}")
            continue
        items = by_split.get(split, [])
        n = position.get(split, 0)
        if n >= len(items):
            raise UserError(f"{where}: more answers than the {len(items)} {split} questions in the data")
        position[split] = n + 1
        out.append(items[n])
    return out


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, split, prediction (yes/no), answer, correct."""
    gold = {it["id"]: it for it in _load(Path(data_dir), None, images=False)}
    rows = read_results(results_path)
    keys = iter(_keys(rows, results_path, gold))
    verdicts = []
    for where, row, item in match_results(rows, gold, f"POPE in {data_dir}", lambda r, w: next(keys)):
        _, text = text_field(row, where, _TEXT_KEYS)
        pred = yes_no(text)
        verdicts.append(
            {
                "id": item["id"],
                "split": item["split"],
                "prediction": pred,
                "answer": item["answer"],
                "correct": pred == item["answer"],
            }
        )
    return verdicts


def _rates(pairs: list[tuple[str, str]]) -> dict:
    tp = sum(p == "yes" and g == "yes" for p, g in pairs)
    fp = sum(p == "yes" and g == "no" for p, g in pairs)
    tn = sum(p == "no" and g == "no" for p, g in pairs)
    fn = sum(p == "no" and g == "yes" for p, g in pairs)
    n = len(pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "counts": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "yes_ratio": (tp + fp) / n if n else 0.0,
    }


_RATES = ("accuracy", "precision", "recall", "f1", "yes_ratio")


def official_print(pairs: list[tuple[str, str]]) -> dict:
    """What the official evaluate.py prints for one split (None where it divides by zero)."""
    r = _rates(pairs)["counts"]
    tp, fp, tn, fn = r["tp"], r["fp"], r["tn"], r["fn"]
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall else None)
    n = len(pairs)
    return {"TP": tp, "FP": fp, "TN": tn, "FN": fn, "Accuracy": (tp + tn) / n if n else None,
            "Precision": precision, "Recall": recall, "F1 score": f1, "Yes ratio": (tp + fp) / n if n else None}


def binary_metrics(pairs: list[tuple[str, str]]) -> dict:
    """Official POPE numbers from (prediction, label) pairs, yes = positive, in percent."""
    r = _rates(pairs)
    c = r["counts"]
    return {
        "correct": c["tp"] + c["tn"],
        "total": len(pairs),
        **{k: round(r[k] * 100, 2) for k in _RATES},
        **c,
    }


def aggregate(verdicts: list[dict]) -> dict:
    pairs = {
        s: [(v["prediction"], v["answer"]) for v in verdicts if v["split"] == s]
        for s in SPLITS
        if any(v["split"] == s for v in verdicts)
    }
    raw = [_rates(p) for p in pairs.values()]
    return {
        "benchmark": "pope",
        **binary_metrics([(v["prediction"], v["answer"]) for v in verdicts]),
        "splits": {s: {**binary_metrics(p), "official": official_print(p)} for s, p in pairs.items()},
        # the mean over the splits present, of the unrounded rates (papers quote the F1 mean)
        "split_mean": {k: round(sum(r[k] for r in raw) / len(raw) * 100, 2) if raw else 0.0 for k in _RATES},
        "breakdown": {"split": tally((v["split"], v["correct"]) for v in verdicts)},
    }


BENCHMARK = Benchmark(
    name="pope",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="POPE (COCO): adversarial / popular / random, 3,000 yes/no questions each; official evaluate.py",
)
