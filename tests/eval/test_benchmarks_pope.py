"""POPE: the official JSONL files and the HF parquet / save_to_disk release, the official yes/no
normalisation, and accuracy / precision / recall / F1 / yes-ratio on a constructed set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, save_images, score_file
from seethink.eval.benchmarks.pope import yes_no

IMG = "COCO_val2014_000000000042.jpg"
LABELS = {"random": ["yes", "yes", "yes", "no", "no", "no"], "adversarial": ["yes", "no", "no", "no"]}
OBJECTS = ["dog", "cat", "bird", "car", "bus", "tie"]

# random: TP 2, FN 1 ("No."), FP 1 ("Nope..." has no exact no/No/not word), TN 2
RANDOM = [
    "Yes, there is a dog in the image.",
    "yes",
    "No.",
    "Nope, I see nothing",
    "There is not a bus.",
    "no",
]
# adversarial: TP 1, FP 2 ("Sure. No ..." keeps only the first sentence), TN 1
ADVERSARIAL = ["Yes", "I think so", "Sure. No cat here.", "No, there is no bird."]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 128, 255)).save(buf, format="PNG")
    return buf.getvalue()


def _official(tmp_path: Path) -> Path:
    root = tmp_path / "pope"
    (root / "val2014").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "val2014" / IMG)
    for split, labels in LABELS.items():
        rows = [
            {
                "question_id": i + 1,
                "image": IMG,
                "image_id": 42,
                "text": f"Is there a {OBJECTS[i]} in the image?",
                "label": lab,
            }
            for i, lab in enumerate(labels)
        ]
        (root / f"coco_pope_{split}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _hf_rows(with_category: bool = True) -> list[dict]:
    rows = []
    n = 0
    for split, labels in LABELS.items():
        for i, lab in enumerate(labels):
            row = {
                "id": str(n),
                "question_id": str(i + 1),
                "question": f"Is there a {OBJECTS[i]} in the image?",
                "answer": lab,
                "image_source": IMG[:-4],
                "image": {"bytes": _png(), "path": None},
                "category": split,
            }
            if not with_category:
                del row["category"]
            rows.append(row)
            n += 1
    return rows


def _results(tmp_path: Path) -> Path:
    rows = [{"id": f"random/{i + 1}", "response": r} for i, r in enumerate(RANDOM)]
    # LLaVA-style answer rows: question_id + split, text in "text"
    rows += [{"question_id": i + 1, "split": "adversarial", "text": r} for i, r in enumerate(ADVERSARIAL)]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, there is a dog.", "yes"),
        ("No.", "no"),
        ("no", "no"),
        ("There is not a cat.", "no"),
        ("Nope", "yes"),  # only the exact words No / no / not count
        ("NO", "yes"),
        ("Yes. No other object.", "yes"),  # only the first sentence counts
        ("No, there isn't.", "no"),
        ("", "yes"),
    ],
)
def test_official_yes_no(text: str, expected: str) -> None:
    assert yes_no(text) == expected


def _check_metrics(m: dict) -> None:
    assert (m["correct"], m["total"]) == (6, 10)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (3, 3, 3, 1)
    assert m["accuracy"] == 60.0 and m["precision"] == 50.0 and m["recall"] == 75.0
    assert m["f1"] == 60.0 and m["yes_ratio"] == 60.0
    r, a = m["splits"]["random"], m["splits"]["adversarial"]
    assert (r["tp"], r["fp"], r["tn"], r["fn"]) == (2, 1, 2, 1)
    assert r["accuracy"] == r["precision"] == r["recall"] == r["f1"] == 66.67 and r["yes_ratio"] == 50.0
    assert (a["tp"], a["fp"], a["tn"], a["fn"]) == (1, 2, 1, 0)
    assert (a["accuracy"], a["precision"], a["recall"], a["f1"], a["yes_ratio"]) == (
        50.0,
        33.33,
        100.0,
        50.0,
        75.0,
    )
    # means of the unrounded split rates: acc (2/3 + 1/2) / 2, recall (2/3 + 1) / 2, ...
    assert m["split_mean"] == {
        "accuracy": 58.33,
        "precision": 50.0,
        "recall": 83.33,
        "f1": 58.33,
        "yes_ratio": 62.5,
    }
    assert m["breakdown"]["split"]["adversarial"] == {"correct": 2, "total": 4, "accuracy": 50.0}


def test_official_files(tmp_path: Path) -> None:
    root = _official(tmp_path)
    items = load("pope", root)
    assert [it["id"] for it in items[:2]] == ["adversarial/1", "adversarial/2"]
    assert len(items) == 10 and all(it["images"] == [str(root / "val2014" / IMG)] for it in items)
    assert load("pope", root, split="random")[0] == {
        "id": "random/1",
        "question": "Is there a dog in the image?",
        "options": [],
        "answer": "yes",
        "images": [str(root / "val2014" / IMG)],
        "split": "random",
        "question_id": "1",
        "image": IMG,
    }
    assert len(load("pope", root / "coco_pope_adversarial.json")) == 4  # one official file as the data path
    results = _results(tmp_path)
    _check_metrics(score_file("pope", results, root))
    verdicts = judge_file("pope", results, root)
    assert [v["prediction"] for v in verdicts[:6]] == ["yes", "yes", "no", "yes", "no", "no"]


def test_hf_parquet_and_save_to_disk(tmp_path: Path) -> None:
    import datasets

    ds = datasets.Dataset.from_list(_hf_rows()).cast_column("image", datasets.Image())
    (tmp_path / "hf" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "hf" / "data" / "test-00000-of-00001.parquet"))
    items = load("pope", tmp_path / "hf")
    assert len(items) == 10 and items[0]["id"] == "random/1" and items[0]["images"] == []
    assert Image.open(io.BytesIO(items[0]["image_bytes"][0])).size == (4, 4)
    assert [it["id"] for it in load("pope", tmp_path / "hf", split="adversarial")] == [
        f"adversarial/{i}" for i in range(1, 5)
    ]
    saved = save_images(items[:2], tmp_path / "imgs")
    assert Path(saved[0]["images"][0]).is_file() and saved[0]["images"][0].endswith("random_1_0.png")
    _check_metrics(score_file("pope", _results(tmp_path), tmp_path / "hf"))
    # a single parquet file works as the data path too
    _check_metrics(
        score_file("pope", _results(tmp_path), tmp_path / "hf" / "data" / "test-00000-of-00001.parquet")
    )

    # save_to_disk of the "Full" configuration: a DatasetDict with one split per category
    rows = _hf_rows(with_category=False)
    full = datasets.DatasetDict(
        {
            "random": datasets.Dataset.from_list(rows[:6]).cast_column("image", datasets.Image()),
            "adversarial": datasets.Dataset.from_list(rows[6:]).cast_column("image", datasets.Image()),
        }
    )
    full.save_to_disk(str(tmp_path / "disk"))
    assert len(load("pope", tmp_path / "disk")) == 10
    _check_metrics(score_file("pope", _results(tmp_path), tmp_path / "disk"))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _official(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"id": "random/99", "response": "yes"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': 'random/99' is not an item"):
        score_file("pope", results, root)
    results.write_text(json.dumps({"id": "random/1"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: missing field 'response'"):
        score_file("pope", results, root)
    results.write_text(
        json.dumps({"id": "random/1", "response": "yes"})
        + "\n"
        + json.dumps({"id": "random/1", "response": "no"})
    )
    with pytest.raises(UserError, match=r"row 2: id 'random/1' appears twice"):
        score_file("pope", results, root)
    with pytest.raises(UserError, match="unknown split"):
        load("pope", root, split="hard")
    lines = (root / "coco_pope_random.json").read_text().splitlines()
    lines[1] = json.dumps({"question_id": 2, "image": IMG, "text": "Is there a cat?", "label": "maybe"})
    (root / "coco_pope_random.json").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"coco_pope_random.json: row 2: field 'label' should be yes or no"):
        load("pope", root)
