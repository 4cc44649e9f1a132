"""MATH-Vision: loader, the official rule-based scorer reproduced on the official outputs, extractors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval.benchmarks import BENCHMARKS, judge_file, load, score_file
from seethink.eval.benchmarks._latex_value import value
from seethink.eval.benchmarks.mathvision import extract_answer, is_equivalent

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
ROOT = SHARED / "mathvision"
MODELS = ("Gemini-Pro-CoT", "InternLM-XComposer2-VL-CoT", "Qwen-VL-Max-CoT")

needs_data = pytest.mark.skipif(
    not (ROOT / "test.jsonl").is_file(), reason=f"shared MATH-Vision files not found at {ROOT}"
)


# ---------------------------------------------------------------- data-free unit tests


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Adding them up, the answer is 12.", "12"),
        ("The answer is (D).", "d"),  # ends with " (D)." -> the letter
        ("(C)\nbecause the kite ...", "c"),
        ("So the answer is B.", "b"),
        ("Thus \\boxed{A}", "a"),
        ("First \\boxed{3}, then finally \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # last box wins
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{3/4}", "\\frac{3}{4}"),
        ("\\boxed{2\\sqrt3}", "2\\sqrt{3}"),
        ("\\boxed{60^\\circ}", "60"),
        ("so x = 5", "5"),
        ("The final answer is $\\frac{3}{4}$.\nMore text", "\\frac{3}{4}"),
        # one box, then a phrase: greedy box match up to the last "}" keeps the tail
        ("\\boxed{8+2\\sqrt{2}}. The answer is: 8+2\\sqrt{2}", "8+2\\sqrt{2}}.theansweris:8+2\\sqrt{2"),
        ("A)", "a)"),
    ],
)
def test_extract_answer(response: str, expected: str) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("A", "a", True),
        ("$4 \\pi$", "4\\pi", True),  # numeric, 2 decimals
        ("1", "1:1", True),  # ":" is division
        ("5:19", "\\frac{5}{19}", True),
        ("$8+2 \\sqrt{2}$", "8+2\\sqrt{2}}.theansweris:8+2\\sqrt{2", True),  # parse stops at "}"
        ("$\\frac{1}{900}$", "\\frac{1}{300}", True),  # both round to 0.0
        ("0.16", "1/2\\pi", True),  # implicit product binds first: 1/(2*pi)
        ("(3,-4)", "(3.0,-4)", True),  # tuples compared element-wise after rounding
        ("2", "\\log_{10} 100", True),
        ("5", "5rows", True),  # "rows" is a reserved word of the grammar: parsing stops
        ("120", "5!", True),
        ("6.28", "\\tau", True),  # prints as `tau`, which math defines
        ("12", "12°", False),  # unknown character reached by the parser
        ("5", "5cm", False),  # free symbols never evaluate
        ("2", "|-2|", False),  # Abs(...) is not a math name
        ("2.72", "e", False),  # E is not a math name
        ("7.39", "e^{2}", True),
        ("1.61", "\\ln 5", False),  # prints as log(5, E)
        ("", "", False),
        ("8", "(8", False),
    ],
)
def test_is_equivalent(gold: str, pred: str, expected: bool) -> None:
    assert is_equivalent(gold, pred) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2^34", 2**34),
        ("1,000", 1000),
        ("x=5", 5),
        ("\\sqrt[3]{8}", 2.0),
        ("\\binom{5}{2}", 10),
        ("\\lfloor 2.5 \\rfloor", 2),
        ("3.0", 3),
        ("50\\%", 0.5),
        ("\\sqrt{-4}", None),
        ("\\frac{1}{0}", None),
        ("5,", None),
        ("(6,7)", None),
    ],
)
def test_latex_value(text: str, expected: object) -> None:
    got = value(text)
    assert got == expected and type(got) is type(expected)


def test_registry_suggests_names() -> None:
    assert {"mathvision", "mathvista", "wemath"} <= set(BENCHMARKS.names())
    with pytest.raises(UserError, match="did you mean 'mathvision'"):
        BENCHMARKS.get("mathvison")


def test_bad_inputs_name_file_and_row(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="results file not found"):
        score_file("mathvision", tmp_path / "nope.jsonl", tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "response": "1"}\n{oops\n')
    with pytest.raises(UserError, match="data folder not found"):
        score_file("mathvision", bad, tmp_path / "missing")
    with pytest.raises(UserError, match="pass it with --data"):
        score_file("mathvision", bad)


# ---------------------------------------------------------------- on the shared files


@needs_data
def test_load_counts_and_images() -> None:
    from PIL import Image

    mini = load("mathvision", ROOT)
    assert len(mini) == 304
    assert all(len(it["images"]) == 1 for it in mini)
    for it in mini[::38]:  # decode a spread of them fully
        with Image.open(it["images"][0]) as im:
            im.load()
            assert im.size[0] > 0
    full = load("mathvision", ROOT, split="test")
    assert len(full) == 3040
    assert sum(bool(it["options"]) for it in full) == 1532
    assert {it["id"] for it in mini} <= {it["id"] for it in full}


@needs_data
def test_malformed_results_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "response": "1"}\n{"id": "2"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl: row 2: missing field 'response'"):
        score_file("mathvision", bad, ROOT)
    bad.write_text('{"id": "999999", "response": "1"}\n')
    with pytest.raises(UserError, match="row 1: id '999999' is not in"):
        score_file("mathvision", bad, ROOT)


@needs_data
@pytest.mark.parametrize("model", MODELS)
def test_reproduces_official_results(model: str) -> None:
    results = ROOT / "outputs" / f"{model}.jsonl"
    official = json.loads((ROOT / "outputs" / f"{model}_result.json").read_text())
    metrics = score_file("mathvision", results)  # data folder found next to outputs/
    assert metrics["official"] == official  # every key, every "c/t=pct%" string
    c, t = official["-all"].split("=")[0].split("/")
    assert (metrics["correct"], metrics["total"]) == (int(c), int(t))
    assert f"{metrics['accuracy']}%" == official["-all"].split("=")[1]
    for level, row in metrics["breakdown"]["level"].items():
        assert official[f"-{level}"] == f"{row['correct']}/{row['total']}={row['accuracy']}%"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    verdicts = judge_file("mathvision", results, ROOT)
    assert [v["id"] for v in verdicts] == [r["id"] for r in rows]
    assert [v["correct"] for v in verdicts] == [r["correct"] for r in rows]
