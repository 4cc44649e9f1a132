"""MMStar: the HF parquet release and VLMEvalKit's MMStar.tsv, the official MMStar_eval matching
rule, and per-category / l2-category aggregation on a constructed set."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.mmstar import official_correct, parse_inline_options

OPTS = ["The suitcase is on the book.", "The suitcase is beneath the cat.", "3, 4", "None of them"]
# (index, answer, category, l2_category, results row)
ROWS = [
    (0, "A", "coarse perception", "image scene and topic", {"response": "A"}),  # right
    (1, "B", "coarse perception", "image scene and topic", {"response": "(B) the cat"}),  # right
    (2, "C", "coarse perception", "image emotion", {"response": "Option C"}),  # right
    (3, "D", "math", "geometry", {"response": "The answer is D."}),  # right
    (4, "A", "math", "geometry", {"response": "I think the answer is A"}),  # wrong: official rule
    (5, "B", "math", "statistical reasoning", {"prediction": "C", "response": "B"}),  # wrong: prediction wins
]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _question(i: int) -> str:
    opts = ", ".join(f"{letter}: {text}" for letter, text in zip("ABCD", OPTS, strict=True))
    return f"Question {i}: which option describes the image?\nOptions: {opts}"


def _parquet(tmp_path: Path) -> Path:
    import datasets

    rows = [
        {
            "index": i,
            "question": _question(i),
            "image": {"bytes": _png(), "path": None},
            "answer": ans,
            "category": cat,
            "l2_category": l2,
            "meta_info": {"source": "MMBench", "split": "val", "image_path": f"images/{i}.png"},
        }
        for i, ans, cat, l2, _ in ROWS
    ]
    root = tmp_path / "mmstar"
    root.mkdir()
    datasets.Dataset.from_list(rows).cast_column("image", datasets.Image()).to_parquet(
        str(root / "mmstar.parquet")
    )
    return root


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "mmstar_results.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), **res}) + "\n" for i, *_, res in ROWS))
    return path


def test_parse_inline_options() -> None:
    assert parse_inline_options(_question(0)) == dict(zip("ABCD", OPTS, strict=True))
    assert parse_inline_options("no options here") == {}


@pytest.mark.parametrize(
    ("prediction", "answer", "expected"),
    [
        ("A", "A", True),
        ("a. cat", "A", True),
        ("(b)", "B", True),
        ("Option C", "C", True),
        ("The answer is D", "D", True),
        ("\nB\n", "B", True),
        ("The answer: B", "B", False),
        ("I choose B", "B", False),
        ("", "A", False),
        ("(", "A", False),
    ],
)
def test_official_rule(prediction: str, answer: str, expected: bool) -> None:
    assert official_correct(prediction, answer) is expected


def _check(m: dict) -> None:
    assert (m["correct"], m["total"], m["accuracy"]) == (4, 6, 66.67)
    assert m["breakdown"]["category"] == {
        "coarse perception": {"correct": 3, "total": 3, "accuracy": 100.0},
        "math": {"correct": 1, "total": 3, "accuracy": 33.33},
    }
    assert m["breakdown"]["l2_category"]["geometry"] == {"correct": 1, "total": 2, "accuracy": 50.0}
    assert m["breakdown"]["l2_category"]["statistical reasoning"]["correct"] == 0
    official = m["official"]  # MMStar_eval divides categories by a fixed 250 and the total by 1,500
    assert official["final score"] == 4 / 1500
    assert official["coarse perception"] == 3 / 250 and official["math"] == 1 / 250
    assert official["math(geometry)"] == 0.5 and official["coarse perception(image emotion)"] == 1.0
    assert official["logical reasoning(diagram reasoning)"] is None  # no items: the official script divides by 0


def test_hf_parquet(tmp_path: Path) -> None:
    root = _parquet(tmp_path)
    items = load("mmstar", root)
    assert len(items) == 6
    assert items[0]["options"] == OPTS and items[0]["option_letters"] == list("ABCD")
    assert items[0]["l2_category"] == "image scene and topic" and items[0]["meta_info"]["source"] == "MMBench"
    assert Image.open(io.BytesIO(items[0]["image_bytes"][0])).size == (4, 4)
    _check(score_file("mmstar", _results(tmp_path), root))
    verdicts = judge_file("mmstar", _results(tmp_path), root)
    assert [v["correct"] for v in verdicts] == [True, True, True, True, False, False]
    assert verdicts[5]["prediction"] == "C"


def test_vlmevalkit_tsv(tmp_path: Path) -> None:
    root = tmp_path / "lmu"
    root.mkdir()
    b64 = base64.b64encode(_png()).decode()
    with open(root / "MMStar.tsv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(
            ["index", "question", "A", "B", "C", "D", "answer", "category", "l2-category", "bench", "image"]
        )
        for i, ans, cat, l2, _ in ROWS:
            w.writerow([i, f"Question {i}?", *OPTS, ans, cat, l2, "MMBench", b64])
    items = load("mmstar", root / "MMStar.tsv")
    assert items[2]["l2_category"] == "image emotion" and items[2]["options"] == OPTS
    _check(score_file("mmstar", _results(tmp_path), root))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _parquet(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"index": 77, "response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': '77' is not an item"):
        score_file("mmstar", results, root)
    results.write_text(json.dumps({"id": 1, "response": 3}) + "\n")  # str(prediction), as MMStar_eval
    assert score_file("mmstar", results, root)["correct"] == 0
    results.write_text(json.dumps({"id": 1, "answer": "B"}) + "\n")
    with pytest.raises(UserError, match=r"row 1: missing field 'prediction' \(or 'response'\)"):
        score_file("mmstar", results, root)
    lone = tmp_path / "alone" / "here" / "r.jsonl"  # no data folder near it: the rows carry the gold fields
    lone.parent.mkdir(parents=True)
    lone.write_text(json.dumps({"index": 1, "prediction": "B", "answer": "B", "category": "math"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: missing field 'l2_category'"):
        score_file("mmstar", lone)
    import datasets

    bad = tmp_path / "bad"
    bad.mkdir()
    datasets.Dataset.from_list([{"index": 0, "question": "q", "answer": "A", "category": "math"}]).to_parquet(
        str(bad / "mmstar.parquet")
    )
    with pytest.raises(UserError, match=r"mmstar.parquet: row 1: missing field 'l2_category'"):
        load("mmstar", bad)
