"""HallusionBench: the official JSON and the HF parquet release, the yes/no rule, and aAcc / fAcc /
qAcc on a constructed set with figure and question groups worked out by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.hallusionbench import yes_no, yes_no_vlmevalkit

# (category, subcategory, visual_input, set_id, figure_id, question_id, gt_answer, response)
ROWS = [
    ("VD", "illusion", "1", "0", "0", "0", "1", "Yes, they are the same size."),  # right
    ("VD", "illusion", "1", "0", "0", "1", "0", "No."),  # right
    ("VD", "illusion", "1", "0", "1", "0", "0", "Yes."),  # wrong
    ("VD", "illusion", "1", "0", "1", "1", "1", "yes"),  # right
    ("VS", "chart", "0", "0", "0", "0", "1", "I cannot tell without the chart."),  # unclear: right (VS, no figure)
    ("VS", "chart", "1", "0", "1", "0", "1", "Yes, it is."),  # right
    ("VS", "chart", "2", "0", "2", "0", "0", "Yes or no? Hard to say."),  # unclear: wrong
]  # fmt: skip


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _row(r: tuple) -> dict:
    cat, sub, vis, set_id, fig, qid, gt, _ = r
    return {
        "category": cat,
        "subcategory": sub,
        "visual_input": vis,
        "set_id": set_id,
        "figure_id": fig,
        "sample_note": "circle",
        "question_id": qid,
        "question": f"Question {qid} about figure {fig}?",
        "gt_answer_details": "details",
        "gt_answer": gt,
        "filename": None if vis == "0" else f"./hallusion_bench/{cat}/{sub}/{set_id}_{fig}.png",
    }


def _official(tmp_path: Path) -> Path:
    root = tmp_path / "hb"
    for r in ROWS:
        row = _row(r)
        if row["filename"]:
            (root / row["filename"]).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4)).save(root / row["filename"])
    root.mkdir(exist_ok=True)
    (root / "HallusionBench.json").write_text(json.dumps([_row(r) for r in ROWS]))
    return root


def _results(tmp_path: Path) -> Path:
    rows = []
    for i, r in enumerate(ROWS):
        if i % 2:  # by id
            rows.append({"id": "_".join(r[i] for i in (0, 1, 3, 4, 5)), "response": r[7]})
        else:  # by the key fields, official output field name
            rows.append({**{k: v for k, v in _row(r).items() if k != "filename"}, "model_prediction": r[7]})
    path = tmp_path / "hb_results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "1"),
        ("no, it is not", "0"),
        ("Yes and no", "2"),
        ("It is unclear", "2"),
        ("YES!", "1"),
        ("Nope", "2"),
    ],
)
def test_yes_no(text: str, expected: str) -> None:
    assert yes_no(text) == expected


@pytest.mark.parametrize(
    ("text", "vlmevalkit", "seethink"),
    [
        ("Yes", "1", "1"),
        ("No.", "0", "0"),
        ("Yes, it is.", "1", "1"),
        # VLMEvalKit's process_punctuation knows only its list and deletes periods: these are unclear
        ("**Yes**", "2", "1"),
        ("yes:", "2", "1"),
        ("'Yes'", "2", "1"),
        ("Yes.It is.", "2", "1"),
        ("Yes—definitely", "2", "1"),
        ("Yes…", "2", "1"),
        ("No:", "2", "0"),
        ("Yes,1,000 of them", "2", "1"),  # a digit-comma-digit group: commas removed, "yes1000"
        ("a. " * 33 + "Yes.", "2", "1"),  # only 32 periods are deleted: the last "yes." keeps its period
        ("Yes and no", "2", "2"),
    ],
)
def test_yes_no_rules(text: str, vlmevalkit: str, seethink: str) -> None:
    assert (yes_no_vlmevalkit(text), yes_no(text)) == (vlmevalkit, seethink)


def _check(m: dict) -> None:
    assert (m["correct"], m["total"]) == (5, 7)
    assert m["aAcc"] == m["accuracy"] == 71.4286  # 5 / 7
    # figures (VS figure 0 left out): VD 0_0 right, VD 0_1 wrong, VS 0_1 right, VS 0_2 wrong
    assert m["fAcc"] == 50.0 and m["figures"] == {"correct": 2, "total": 4}
    # question groups: VD q0 (right, wrong) wrong; VD q1 right; VS q0 (right, right, wrong) wrong
    assert m["qAcc"] == 33.3333 and m["question_groups"] == {"correct": 1, "total": 3}
    # easy / hard split on visual_input, as the official code does (its figure_id test is commented
    # out): easy = visual_input "0"/"1": VD q0 (right, wrong) wrong, VD q1 right, VS q0 (right, right)
    # right; hard = visual_input "2": VS q0 figure 2, wrong
    assert m["easy_qAcc"] == 66.6667 and m["hard_qAcc"] == 0.0
    assert m["easy_question_groups"] == {"correct": 2, "total": 3}
    assert m["hard_question_groups"] == {"correct": 0, "total": 1}
    vd, vs = m["by_category"]["VD"], m["by_category"]["VS"]
    assert (vd["aAcc"], vd["fAcc"], vd["qAcc"]) == (75.0, 50.0, 50.0)
    assert (vs["aAcc"], vs["fAcc"], vs["qAcc"]) == (66.6667, 50.0, 0.0)
    assert m["unclear"] == 2
    assert m["breakdown"]["subcategory"]["chart"] == {"correct": 2, "total": 3, "accuracy": 66.67}


def test_official_json(tmp_path: Path) -> None:
    root = _official(tmp_path)
    items = load("hallusionbench", root)
    assert len(items) == 7 and items[0]["id"] == "VD_illusion_0_0_0" and items[0]["answer"] == "yes"
    assert items[0]["images"] == [str(root / "hallusion_bench/VD/illusion/0_0.png")]
    assert items[4]["images"] == [] and items[4]["visual_input"] == "0"
    assert len(load("hallusionbench", root, split="non_image")) == 1
    results = _results(tmp_path)
    _check(score_file("hallusionbench", results, root))
    verdicts = judge_file("hallusionbench", results, root)
    assert [v["prediction"] for v in verdicts] == ["1", "0", "1", "1", "2", "1", "2"]
    assert [v["correct"] for v in verdicts] == [True, True, False, True, True, True, False]


def test_hf_parquet(tmp_path: Path) -> None:
    import datasets

    data = tmp_path / "hf" / "data"
    data.mkdir(parents=True)
    for split, keep in (("image", lambda r: r[2] != "0"), ("non_image", lambda r: r[2] == "0")):
        rows = [
            {**_row(r), "image": {"bytes": _png(), "path": None} if r[2] != "0" else None}
            for r in ROWS
            if keep(r)
        ]
        ds = datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
        ds.to_parquet(str(data / f"{split}-00000-of-00001.parquet"))
    items = load("hallusionbench", tmp_path / "hf")
    assert len(items) == 7 and sum(bool(it["image_bytes"]) for it in items) == 6
    assert [it["id"] for it in load("hallusionbench", tmp_path / "hf", split="non_image")] == [
        "VS_chart_0_0_0"
    ]
    _check(score_file("hallusionbench", _results(tmp_path), tmp_path / "hf"))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _official(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"id": "VD_illusion_9_0_0", "response": "yes"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': 'VD_illusion_9_0_0' is not an item"):
        score_file("hallusionbench", results, root)
    results.write_text(json.dumps({"id": "VD_illusion_0_0_0", "answer": "yes"}) + "\n")
    with pytest.raises(
        UserError, match=r"row 1: missing field 'response' \(or 'prediction', 'model_prediction'\)"
    ):
        score_file("hallusionbench", results, root)
    rows = [_row(r) for r in ROWS]
    rows[2]["gt_answer"] = "yes"
    (root / "HallusionBench.json").write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"HallusionBench.json: row 3: field 'gt_answer'"):
        load("hallusionbench", root)
    rows[2] = dict(rows[0])
    (root / "HallusionBench.json").write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"HallusionBench.json: row 3: question '\w+' appears twice \(first at .*: row 1\)"):
        load("hallusionbench", root)
    del rows[2]["figure_id"]
    (root / "HallusionBench.json").write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"row 3: missing field 'figure_id'"):
        load("hallusionbench", root)
