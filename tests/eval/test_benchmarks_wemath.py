"""We-Math: loader, official answer extraction and the four-dimensional metrics on a constructed
results file whose expected numbers are worked out by hand below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.wemath import extract_answer, parse_options

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
ROOT = SHARED / "wemath"

needs_data = pytest.mark.skipif(
    not (ROOT / "testmini.json").is_file(), reason=f"shared We-Math files not found at {ROOT}"
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Answer: B.", "B"),
        ("<Answer>: C", "C"),
        ("Answer . E", "E"),
        ("Answer:\n\nD because ...", "D"),
        ("A", "A"),
        ("A. 45 then ... Answer: C", "C"),  # the last "Answer" counts
        ("Answer: F", "F"),  # any of A-H, even if not an option
        ("The answer is C", None),  # "Answer" is case-sensitive: the text starts with "T"
        ("Answer: b", None),
        ("Answer: (A)", None),
        ("", None),
    ],
)
def test_extract_answer(response: str, expected: str | None) -> None:
    assert extract_answer(response) == expected


def test_parse_options() -> None:
    assert parse_options("A. 300, 400;B. 400, 300;C. 3000; E. No correct answer") == (
        ["300, 400", "400, 300", "3000", "No correct answer"],
        ["A", "B", "C", "E"],
    )
    # a figure named ";C.;" inside an option is not a label
    texts, letters = parse_options(
        "A. move to get shape ;C.; B. turn to get shape ;C.; C. No.; D. No correct answer"
    )
    assert letters == ["A", "B", "C", "D"] and texts[0] == "move to get shape ;C."


@needs_data
def test_load_counts_and_images() -> None:
    from PIL import Image

    items = load("wemath", ROOT)
    assert len(items) == 1740
    groups = {it["group"] for it in items}
    assert len(groups) == 525
    assert sum(g.startswith("2steps") for g in groups) == 360
    assert all(len(it["images"]) == 1 for it in items)
    assert all(it["answer"] in it["option_letters"] for it in items)
    for it in items[::290]:
        with Image.open(it["images"][0]) as im:
            im.load()
            assert im.size[0] > 0


def _results(tmp_path: Path, right: dict[str, set[str]], only: set[str] | None = None) -> Path:
    """Every row answered wrongly, except the (group -> suffixes) listed in `right`."""
    rows = json.loads((ROOT / "testmini.json").read_text())
    out = []
    for r in rows:
        if only is not None and r["ID"] not in only:
            continue
        suffix = r["key"].rsplit("_", 1)[-1]
        ok = suffix in right.get(r["ID"], set())
        wrong = "A" if r["answer"] != "A" else "B"
        out.append({**r, "response": f"Reasoning...\nAnswer: {r['answer'] if ok else wrong}."})
    path = tmp_path / "wemath_results.json"
    path.write_text(json.dumps(out))
    return path


@needs_data
def test_four_dimensional_metrics(tmp_path: Path) -> None:
    right = {
        "2steps_1": {"1", "2", "multi"},  # CM strict and loose
        "2steps_2": {"1", "multi"},  # CM loose, RM strict
        "2steps_3": {"multi"},  # RM strict and loose
        "2steps_4": {"1", "2"},  # IG
        "3steps_1": {"1", "2", "3", "multi"},  # CM strict and loose
        "3steps_2": {"1", "2", "3"},  # IG
    }  # the other 519 groups: all wrong -> IK
    m = score_file("wemath", _results(tmp_path, right), ROOT)
    assert (m["IK"], m["IG"], m["CM_strict"], m["CM_loose"], m["RM_strict"], m["RM_loose"]) == (
        519,
        2,
        2,
        3,
        2,
        1,
    )
    assert m["groups"] == 525
    assert m["score_strict"] == 0.57  # (525 - 0.5*2 - 2 - 519) / 525 = 3/525
    assert m["score_loose"] == 0.76  # (525 - 0.5*2 - 1 - 519) / 525 = 4/525
    assert m["one_step_acc"] == 0.91  # 2+1+0+2+3+3 = 11 of 1215 sub-problems
    assert m["two_step_acc"] == 0.83  # 3 of 360
    assert m["three_step_acc"] == 0.61  # 1 of 165
    assert (m["correct"], m["total"], m["accuracy"]) == (15, 1740, 0.86)
    assert m["rates"]["RM_strict"] == 50.0 and m["rates"]["RM_loose"] == 25.0  # RM / (CM + RM)
    domains = m["breakdown"]["knowledge_domain"]
    assert len(domains) == 12 and sum(d["total"] for d in domains.values()) == 1215
    json.dumps(m)  # serialisable


@needs_data
def test_all_right_and_subset(tmp_path: Path) -> None:
    everything = {g: {"1", "2", "3", "multi"} for g in {it["group"] for it in load("wemath", ROOT)}}
    m = score_file("wemath", _results(tmp_path, everything), ROOT)
    assert (m["CM_strict"], m["IK"], m["score_strict"], m["score_loose"]) == (525, 0, 100.0, 100.0)
    # A subset of complete groups is scored over the groups it holds.
    m = score_file("wemath", _results(tmp_path, {"2steps_1": {"multi"}}, only={"2steps_1", "3steps_1"}), ROOT)
    assert (m["groups"], m["RM_strict"], m["IK"], m["score_strict"]) == (2, 1, 1, 0.0)
    verdicts = judge_file("wemath", tmp_path / "wemath_results.json", ROOT)
    assert len(verdicts) == 7 and sum(v["correct"] for v in verdicts) == 1


@needs_data
def test_malformed_results(tmp_path: Path) -> None:
    rows = json.loads((ROOT / "testmini.json").read_text())[:3]
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{**r, "response": "Answer: A"} for r in rows]))
    with pytest.raises(UserError, match="group 2steps_1 is incomplete"):
        score_file("wemath", path, ROOT)
    path.write_text(json.dumps([rows[0]]))
    with pytest.raises(UserError, match=r"r.json: row 1: missing field 'response'"):
        score_file("wemath", path, ROOT)
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(UserError, match="expected a JSON list"):
        score_file("wemath", path, ROOT)
