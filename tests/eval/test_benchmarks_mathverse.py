"""MathVerse testmini: the official testmini.json (+ images) and the HF parquet release, the
rule-based fallback for the GPT extraction/judge, and the per-version / subject / subfield
aggregation on a constructed set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.mathverse import extract_answer, parse_choices

MC_Q = "As shown in the figure, circle O has a radius 1.0, if angle BAC = 60.0, then the length of BC is ()"
CHOICES = "Choices:\nA:2\nB:2√{3}\nC:√{3}\nD:2√{2}"
# (sample_index, version, question, answer, type, subject, subfield, results row, correct)
ROWS = [
    ("1", "Text Dominant", f"{MC_Q}\n{CHOICES}", "C", "multi-choice", "Plane Geometry", "Length",
     {"response": "BC = √3, so the answer is C."}, True),
    ("2", "Vision Only", "", "C", "multi-choice", "Plane Geometry", "Length", {"response": "\\boxed{B}"}, False),
    ("3", "Text Lite", "Find L, rounded down to the nearest cm.", "14", "free-form", "Solid Geometry", "Length",
     {"response": "L ≈ 14.32, which rounded down gives 14 cm"}, True),
    ("4", "Vision Intensive", "Find the slope.", "\\frac{1}{2}", "free-form", "Functions", "Coordinate",
     {"response": "The slope is rise over run. The answer is 0.5"}, True),
    ("5", "Vision Dominant", "Find the equation.", "y=2x+1", "free-form", "Functions", "Expression",
     {"model_answer": "Final answer: $y = 2x + 1$"}, True),
    ("6", "Text Dominant", "Find d to one decimal place.", "22.3", "free-form", "Plane Geometry", "Length",
     {"response": "d = 22.3", "extraction": "22.4"}, False),
]  # fmt: skip


def _row(r: tuple) -> dict:
    idx, version, question, answer, qtype, subject, subfield, _, _ = r
    for_eval = question or f"{MC_Q}\n{CHOICES}"
    return {
        "sample_index": idx,
        "problem_index": "685",
        "problem_version": version,
        "question": question,
        "image": f"images_version_1-4/image_{idx}.png",
        "answer": answer,
        "question_type": qtype,
        "metadata": {"split": "testmini", "source": "GeoQA", "subject": subject, "subfield": subfield},
        "query_wo": f"Please directly answer the question.\nQuestion: {question}",
        "query_cot": f"Please first conduct reasoning.\nQuestion: {question}",
        "question_for_eval": for_eval,
    }


def _official(tmp_path: Path) -> Path:
    root = tmp_path / "mathverse"
    (root / "images" / "images_version_1-4").mkdir(parents=True)
    for r in ROWS:
        Image.new("RGB", (4, 4)).save(root / "images" / "images_version_1-4" / f"image_{r[0]}.png")
    (root / "testmini.json").write_text(json.dumps([_row(r) for r in ROWS], ensure_ascii=False))
    return root


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "mv.jsonl"
    path.write_text("".join(json.dumps({"id": r[0], **r[7]}) + "\n" for r in ROWS))
    return path


def test_parse_choices() -> None:
    assert parse_choices(f"{MC_Q}\n{CHOICES}") == {"A": "2", "B": "2√{3}", "C": "√{3}", "D": "2√{2}"}
    assert parse_choices("Find L.") == {}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("so x = \\boxed{\\frac{3}{4}} units", "\\frac{3}{4}"),
        ("<think>maybe 3</think>The answer is 5.", "5."),
        ("Area: 12.5 and perimeter 14", "14"),  # numeric gold: last number
        ("", ""),
    ],
)
def test_extract_answer_free_form(response: str, expected: str) -> None:
    item = {"question_type": "free-form", "answer": "14"}
    assert extract_answer(response, item) == expected


def _check(m: dict) -> None:
    assert (m["correct"], m["total"], m["accuracy"]) == (4, 6, 66.67)
    assert m["extracted_by_rules"] == 5
    b = m["breakdown"]
    assert b["problem_version"]["Text Dominant"] == {"correct": 1, "total": 2, "accuracy": 50.0}
    assert b["problem_version"]["Vision Only"]["correct"] == 0
    assert b["subject"] == {
        "Plane Geometry": {"correct": 1, "total": 3, "accuracy": 33.33},
        "Solid Geometry": {"correct": 1, "total": 1, "accuracy": 100.0},
        "Functions": {"correct": 2, "total": 2, "accuracy": 100.0},
    }
    # subject-subfield groups, as score_answer_s2.py prints them: "Length" is not merged across subjects
    assert b["subject_subfield"]["Plane Geometry-Length"] == {"correct": 1, "total": 3, "accuracy": 33.33}
    assert b["subject_subfield"]["Solid Geometry-Length"] == {"correct": 1, "total": 1, "accuracy": 100.0}
    assert "subfield" not in b
    assert m["official"]["Plane Geometry-Length Acc"] == 1 / 3 and m["official"]["Total Acc"] == 4 / 6


def test_official_json(tmp_path: Path) -> None:
    root = _official(tmp_path)
    items = load("mathverse", root)
    assert len(items) == 6
    assert items[0]["options"] == ["2", "2√{3}", "√{3}", "2√{2}"] and items[0]["option_letters"] == list(
        "ABCD"
    )
    assert items[1]["question"] == "" and items[1]["options"] == items[0]["options"]  # from question_for_eval
    assert items[0]["images"] == [str(root / "images" / "images_version_1-4" / "image_1.png")]
    _check(score_file("mathverse", _results(tmp_path), root, rule="seethink"))
    verdicts = judge_file("mathverse", _results(tmp_path), root, rule="seethink")
    assert [v["correct"] for v in verdicts] == [r[8] for r in ROWS]
    assert [v["letter"] for v in verdicts[:2]] == ["C", "B"]
    assert verdicts[2]["extraction"] == "14" and verdicts[5]["extracted_by"] == "file"
    # the official quick match: the (stand-in) extraction must equal the answer exactly
    verdicts = judge_file("mathverse", _results(tmp_path), root)
    assert [v["extraction"] for v in verdicts] == ["C", "B", "14", "0.5", "$y = 2x + 1$", "22.4"]
    assert [v["correct"] for v in verdicts] == [True, False, True, False, False, False]
    m = score_file("mathverse", _results(tmp_path), root)
    assert (m["rule"], m["correct"], m["extracted_by_rules"]) == ("official", 2, 5)


def test_hf_parquet(tmp_path: Path) -> None:
    import datasets

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    rows = [{**_row(r), "image": {"bytes": buf.getvalue(), "path": None}} for r in ROWS]
    root = tmp_path / "hf"
    root.mkdir()
    datasets.Dataset.from_list(rows).cast_column("image", datasets.Image()).to_parquet(
        str(root / "testmini.parquet")
    )
    items = load("mathverse", root)
    assert len(items) == 6 and items[0]["images"] == [] and len(items[0]["image_bytes"]) == 1
    _check(score_file("mathverse", _results(tmp_path), root, rule="seethink"))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _official(tmp_path)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"sample_index": "99", "response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': '99' is not an item"):
        score_file("mathverse", path, root)
    path.write_text(json.dumps({"id": "1"}) + "\n")
    with pytest.raises(UserError, match=r"row 1: missing field 'response'"):
        score_file("mathverse", path, root)
    rows = [_row(r) for r in ROWS]
    del rows[2]["metadata"]
    (root / "testmini.json").write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"testmini.json: row 3: missing field 'metadata'"):
        load("mathverse", root)
    with pytest.raises(UserError, match="unknown split"):
        load("mathverse", root, split="test")
