"""MathVista: loader, the official calculate_score rules reproduced on the official GPT-4 run,
and the rule-based extractor used when a results row has no `extraction`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.mathvista import extract_answer, levenshtein, normalize_extraction

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
ROOT = SHARED / "mathvista"
RUN = ROOT / "outputs" / "output_gpt4_2shot_solution.json"
SCORES = ROOT / "outputs" / "scores_gpt4_2shot_solution.json"

needs_data = pytest.mark.skipif(not RUN.is_file(), reason=f"shared MathVista files not found at {ROOT}")

MC = {
    "question_type": "multi_choice",
    "answer_type": "text",
    "choices": ["hong kong", "osaka", "shanghai", "tokyo"],
}
INT = {"question_type": "free_form", "answer_type": "integer", "choices": [], "precision": None}
FLOAT = {"question_type": "free_form", "answer_type": "float", "choices": [], "precision": 1.0}
LIST = {"question_type": "free_form", "answer_type": "list", "choices": [], "precision": None}


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("same", "same") == 0


@pytest.mark.parametrize(
    ("extraction", "item", "expected"),
    [
        ("D", MC, "tokyo"),
        (" (B) osaka ", MC, "osaka"),  # a parenthesised letter wins
        ("(b)", MC, "osaka"),
        ("Tokio", MC, "tokyo"),  # nearest option by edit distance
        ("N/A", MC, "osaka"),  # still nearest (ties: first): the official rule never abstains
        ("E", MC, "osaka"),  # not a valid letter -> edit distance (5 to osaka and tokyo: first)
        ("3.7", INT, "3"),
        ("1,000", INT, None),  # float() rejects commas
        ("N/A", INT, None),
        ("1.25", FLOAT, "1.2"),  # Python rounding of the binary value
        ("2", FLOAT, "2.0"),
        ("[1, 2]", LIST, "[1, 2]"),
        (None, INT, None),
    ],
)
def test_normalize_extraction(extraction: object, item: dict, expected: str | None) -> None:
    assert normalize_extraction(extraction, item) == expected


@pytest.mark.parametrize(
    ("response", "item", "expected"),
    [
        ("", MC, ""),
        ("tokyo", MC, "tokyo"),
        ("12", INT, "12"),
        ('The answer is "osaka".', MC, "osaka"),
        ("Japan's largest city is Tokyo, so the answer is (D).", MC, "(D)"),
        ("Thus, the answer is D (tokyo).", MC, "D"),
        ("I pick B", MC, "B"),
        ("The largest is shanghai here", MC, "shanghai"),
        ("Total: 4 + 9 = 13. The answer is 13.", INT, "13"),
        ("so x = \\boxed{1,200} dollars", INT, "1200"),
        ("It is 3.5 and then 4.25 m", FLOAT, "4.25"),
    ],
)
def test_extract_answer(response: str, item: dict, expected: str) -> None:
    assert extract_answer(response, item) == expected


@needs_data
def test_load_counts() -> None:
    items = load("mathvista", ROOT)
    assert len(items) == 1000
    mc = [it for it in items if it["question_type"] == "multi_choice"]
    assert len(mc) == 540 and all(it["options"] for it in mc)
    # The GitHub release has annotations only: no image files, so no image paths.
    assert all(it["images"] == [] for it in items)
    assert {it["answer_type"] for it in items} == {"text", "integer", "float", "list"}


@needs_data
def test_reproduces_official_scores() -> None:
    official = json.loads(SCORES.read_text())
    metrics = score_file("mathvista", RUN)
    assert (metrics["correct"], metrics["total"]) == (
        official["average"]["correct"],
        official["average"]["total"],
    )
    assert metrics["accuracy"] == pytest.approx(float(official["average"]["accuracy"]))
    for key, groups in official.items():
        if key == "average":
            continue
        ours = metrics["breakdown"][key]
        assert set(ours) == set(groups), key
        for name, row in groups.items():
            assert (ours[name]["correct"], ours[name]["total"]) == (row["correct"], row["total"]), (key, name)
            assert ours[name]["accuracy"] == pytest.approx(float(row["accuracy"])), (key, name)


@needs_data
def test_reproduces_official_items() -> None:
    rows = json.loads(RUN.read_text())
    verdicts = judge_file("mathvista", RUN, ROOT)
    assert len(verdicts) == len(rows) == 1000
    for v in verdicts:
        assert v["prediction"] == rows[v["id"]]["prediction"], v["id"]
        assert v["correct"] == rows[v["id"]]["true_false"], v["id"]


@needs_data
def test_rows_without_extraction_use_rules(tmp_path: Path) -> None:
    results = {
        "2": {"response": "The answer is (B)."},  # multi_choice item
        "1": {"response": "d = 0.013 m = 1.2 cm"},  # float item, gold 1.2
    }
    path = tmp_path / "out.json"
    path.write_text(json.dumps(results))
    metrics = score_file("mathvista", path, ROOT)
    assert metrics["extracted_by_rules"] == 2 and metrics["total"] == 2
    verdicts = {v["id"]: v for v in judge_file("mathvista", path, ROOT)}
    assert verdicts["1"]["prediction"] == "1.2" and verdicts["1"]["correct"]


@needs_data
def test_malformed_results(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps([{"response": "x"}]))
    with pytest.raises(UserError, match="pid -> row"):
        score_file("mathvista", path, ROOT)
    path.write_text(json.dumps({"1": {"answer": "3"}}))
    with pytest.raises(UserError, match=r"out.json: row 1: missing field 'response'"):
        score_file("mathvista", path, ROOT)
    path.write_text(json.dumps({"99999": {"response": "3"}}))
    with pytest.raises(UserError, match="pid '99999' is not in"):
        score_file("mathvista", path, ROOT)
