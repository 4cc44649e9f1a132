"""vlmeval_tsv: VLMEvalKit multiple-choice TSV files (base64 images, image references, image
lists), VLMEvalKit's can_infer letter matching, and category / l2-category / split breakdowns."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, save_images, score_file
from seethink.eval.benchmarks._choice import can_infer
from seethink.eval.benchmarks.vlmeval_tsv import choose

HEADER = [
    "index",
    "question",
    "hint",
    "A",
    "B",
    "C",
    "D",
    "answer",
    "category",
    "l2-category",
    "split",
    "image",
]


def _b64(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _write(path: Path, rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def _tsv(tmp_path: Path) -> Path:
    red, blue = _b64((255, 0, 0)), _b64((0, 0, 255))
    rows = [
        [1, "What color is it?", "", "red", "blue", "green", "black", "A", "color", "perception", "dev", red],
        [2, "Which shape?", "a hint", "circle", "square", "triangle", "", "C", "shape", "perception", "dev", "1"],
        [3, "Which is bigger?", "", "the cat", "the dog", "the cow", "the ant", "B", "size", "reasoning", "test", str([red, blue])],
        [4, "How many?", "", "1", "2", "3", "4", "D", "count", "reasoning", "test", blue],
        [5, "Odd one?", "", "apple", "pear", "stone", "plum", "C", "logic", "reasoning", "test", blue],
    ]  # fmt: skip
    return _write(tmp_path / "LMUData" / "MyBench.tsv", rows)


def _results(tmp_path: Path) -> Path:
    rows = [
        {"index": 1, "prediction": "A"},  # right
        {"index": 2, "response": "The answer is C. Because three sides."},  # right: span "C. Because ..."
        {"index": 3, "response": "I am torn between A and B."},  # two letters, no option text: none
        {"index": 4, "response": "<think>maybe A</think>\\boxed{D}"},  # right
        {"index": 5, "response": "Cannot determine the answer"},  # refusal: Z
    ]
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", "B"),
        ("(C) triangle", "C"),
        ("The answer is B.", "B"),
        ("A or B", None),
        ("It is a square", "B"),  # one option text contained
        ("circle or square", None),
        ("Cannot determine the answer", "Z"),
        ("Z", "Z"),
    ],
)
def test_can_infer(text: str, expected: str | None) -> None:
    assert can_infer(text, {"A": "circle", "B": "square", "C": "triangle"}) == expected


def test_choose_prefers_the_final_span() -> None:
    opts = {"A": "circle", "B": "square", "C": "triangle"}
    assert choose("A looks odd, B too. Final answer: C", opts) == "C"
    assert choose("Answer: none of them, but A", opts) == "A"


def test_load_images(tmp_path: Path) -> None:
    path = _tsv(tmp_path)
    items = load("vlmeval_tsv", path)  # the file itself
    assert [it["id"] for it in items] == ["1", "2", "3", "4", "5"]
    assert items[1]["options"] == ["circle", "square", "triangle"] and items[1]["option_letters"] == list(
        "ABC"
    )
    assert (
        items[1]["hint"] == "a hint"
        and items[1]["l2-category"] == "perception"
        and items[1]["split"] == "dev"
    )
    assert items[1]["image_bytes"] == items[0]["image_bytes"]  # "1" refers to row 1's image
    assert len(items[2]["image_bytes"]) == 2
    assert Image.open(io.BytesIO(items[0]["image_bytes"][0])).getpixel((0, 0)) == (255, 0, 0)
    saved = save_images(items, tmp_path / "run" / "images")
    assert len(saved[2]["images"]) == 2 and all(Path(p).is_file() for p in saved[2]["images"])
    # a folder with one TSV, or split=STEM naming it
    assert len(load("vlmeval_tsv", path.parent)) == 5
    _write(path.parent / "Other.tsv", [])
    assert len(load("vlmeval_tsv", path.parent, split="MyBench")) == 5
    with pytest.raises(UserError, match="several .tsv files"):
        load("vlmeval_tsv", path.parent)


def test_scoring(tmp_path: Path) -> None:
    path = _tsv(tmp_path)
    m = score_file("vlmeval_tsv", _results(tmp_path), path)
    # no letter and the refusal letter "Z" both count as unanswered
    assert (m["correct"], m["total"], m["accuracy"], m["unanswered"], m["rule"]) == (3, 5, 60.0, 2, "vlmevalkit")
    assert m["breakdown"]["split"] == {
        "dev": {"correct": 2, "total": 2, "accuracy": 100.0},
        "test": {"correct": 1, "total": 3, "accuracy": 33.33},
    }
    assert m["breakdown"]["l2-category"]["reasoning"] == {"correct": 1, "total": 3, "accuracy": 33.33}
    assert m["breakdown"]["category"]["count"]["correct"] == 1
    verdicts = judge_file("vlmeval_tsv", _results(tmp_path), path)
    assert [v["prediction"] for v in verdicts] == ["A", "C", None, "D", "Z"]
    verdicts = judge_file("vlmeval_tsv", _results(tmp_path), path, rule="seethink")
    assert [v["prediction"] for v in verdicts] == ["A", "C", None, "D", "Z"]
    assert m["official"] == {
        "dev": {"Overall": 1.0, "color": 1.0, "count": None, "logic": None, "shape": 1.0, "size": None,
                "perception": 1.0, "reasoning": None},
        "test": {"Overall": 1 / 3, "color": None, "count": 1.0, "logic": 0.0, "shape": None, "size": 0.0,
                 "perception": None, "reasoning": 1 / 3},
    }


def test_bad_inputs(tmp_path: Path) -> None:
    junk = base64.b64encode(b"not an image " * 10).decode()  # longer than 64: not a row reference
    path = _write(tmp_path / "d" / "Bad.tsv", [[1, "q", "", "x", "y", "", "", "A", "", "", "", junk]])
    with pytest.raises(UserError, match=r"Bad.tsv: row 1: field 'image' is not a readable image"):
        load("vlmeval_tsv", path)
    path = _write(tmp_path / "d" / "Bad.tsv", [[1, "q", "", "x", "y", "", "", "A", "", "", "", "7"]])
    with pytest.raises(UserError, match=r"row 1: field 'image' refers to row index '7'"):
        load("vlmeval_tsv", path)
    good = _tsv(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"index": 9, "prediction": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': '9' is not an item of .*MyBench.tsv"):
        score_file("vlmeval_tsv", results, good)
    with pytest.raises(UserError, match="data folder not found"):
        score_file("vlmeval_tsv", results, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"has none of \*\.tsv"):
        score_file("vlmeval_tsv", results, tmp_path / "empty")


@pytest.mark.parametrize(
    ("text", "pinned", "ours"),
    [
        ("B", "B", "B"),
        ("Failed to obtain answer via API. B", False, None),  # an API error is never an answer
        ("Cannot determine the answer", "Z", "Z"),
        ("B is right because the ball on the left is red", False, "B"),  # pinned: letter not in the last 4 tokens
        ("I think the answer is **C** here, clearly", "C", "C"),
        ("A or B", False, None),
    ],
)
def test_can_infer_option_forms(text: str, pinned: object, ours: object) -> None:
    from seethink.eval.benchmarks import _vlmevalkit
    from seethink.eval.benchmarks._choice import can_infer_option

    choices = {"A": "red", "B": "blue", "C": "green", "D": "black"}
    assert _vlmevalkit.can_infer_option(text, choices) == pinned
    assert can_infer_option(text, "ABCD") == ours
