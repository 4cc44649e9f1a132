"""A-OKVQA: the official aokvqa_v1p0_val.json (+ COCO images) and the HF parquet release, the
official multiple-choice accuracy and direct-answer soft accuracy min(1, matches / 3)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file
from seethink.eval.benchmarks.aokvqa import da_score


def _rows() -> list[dict]:
    def row(qid: str, choices: list[str], idx: int, das: list[str], difficult: bool) -> dict:
        return {
            "split": "val",
            "image_id": 42,
            "question_id": qid,
            "question": f"Question {qid}?",
            "choices": choices,
            "correct_choice_idx": idx,
            "direct_answers": das,
            "difficult_direct_answer": difficult,
            "rationales": ["because", "since", "as"],
        }

    return [
        row("q1", ["cat", "dog", "bird", "fish"], 1, ["dog"] * 4 + ["puppy"] * 3 + ["animal"] * 3, False),
        row("q2", ["red", "blue", "green", "pink"], 0, ["red"] * 2 + ["crimson"] * 8, False),
        row("q3", ["bus", "car", "train", "boat"], 2, ["train"] * 10, True),
        row("q4", ["one", "two", "three", "four"], 3, ["four"] * 10, False),
    ]


def _official(tmp_path: Path) -> Path:
    root = tmp_path / "aokvqa"
    (root / "val2017").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "val2017" / "000000000042.jpg")
    (root / "aokvqa_v1p0_val.json").write_text(json.dumps(_rows()))
    return root


def _official_predictions(tmp_path: Path) -> Path:
    preds = {
        "q1": {"multiple_choice": "dog", "direct_answer": "puppy"},  # MC right; DA 3 matches -> 1
        "q2": {"multiple_choice": "blue", "direct_answer": "red"},  # MC wrong; DA 2 matches -> 2/3
        "q3": {"multiple_choice": "train", "direct_answer": "x"},  # MC right; difficult: not in DA
    }  # q4 has no prediction: 0 in both settings
    path = tmp_path / "predictions_val.json"
    path.write_text(json.dumps(preds))
    return path


def test_da_score() -> None:
    das = ["dog"] * 4 + ["puppy"] * 2 + ["Dog"] * 4
    assert da_score("dog", das) == 1.0
    assert da_score("puppy", das) == pytest.approx(2 / 3)
    assert da_score("DOG", das) == 0.0  # exact string equality, as the official script


def _check(m: dict) -> None:
    assert (m["correct"], m["total"], m["accuracy"], m["answered"]) == (2, 4, 50.0, 3)
    # DA over the 3 non-difficult questions: (1 + 2/3 + 0) / 3
    assert m["direct_answer"] == {"score": 1.6667, "total": 3, "accuracy": 55.56}
    assert m["breakdown"]["difficult_direct_answer"] == {
        "false": {"correct": 1, "total": 3, "accuracy": 33.33},
        "true": {"correct": 1, "total": 1, "accuracy": 100.0},
    }


def test_official_files(tmp_path: Path) -> None:
    root = _official(tmp_path)
    items = load("aokvqa", root)
    assert len(items) == 4
    q1 = items[0]
    assert (q1["id"], q1["answer"], q1["answer_letter"], q1["split"]) == ("q1", "dog", "B", "val")
    assert q1["images"] == [str(root / "val2017" / "000000000042.jpg")] and len(q1["direct_answers"]) == 10
    _check(score_file("aokvqa", _official_predictions(tmp_path), root))


def test_free_text_rows(tmp_path: Path) -> None:
    root = _official(tmp_path)
    path = tmp_path / "rows.jsonl"
    rows = [
        {"id": "q1", "response": "B"},
        {"id": "q2", "response": "The answer is (A) red."},
        {"id": "q3", "response": "car"},  # equals a choice: taken as it is
        {"id": "q4", "response": "I cannot tell."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # rule seethink (ours): free text is read for a letter or a choice text
    m = score_file("aokvqa", path, root, rule="seethink")
    assert (m["correct"], m["total"], m["rule"]) == (2, 4, "seethink") and "direct_answer" not in m
    assert [v["mc_prediction"] for v in judge_file("aokvqa", path, root, rule="seethink")] == [
        "dog", "red", "car", None]
    # the official rule compares the text itself with the choice: only an exact choice text scores
    m = score_file("aokvqa", path, root)
    assert (m["correct"], m["rule"], m["official"]) == (0, "official", {"MC": 0.0})
    assert [v["mc_prediction"] for v in judge_file("aokvqa", path, root)] == [r["response"] for r in rows]
    path.write_text(json.dumps({"id": "q2", "response": "red"}) + "\n")
    assert score_file("aokvqa", path, root)["correct"] == 1


def test_missing_predictions_count_wrong(tmp_path: Path) -> None:
    """prepare_predictions.py writes {} for a question without a prediction; eval_predictions.py
    counts it wrong (strict=False). Non-string predictions just never match."""
    root = _official(tmp_path)
    path = tmp_path / "predictions_val.json"
    path.write_text(json.dumps({"q1": {"multiple_choice": "dog"}, "q2": {}, "q3": {"multiple_choice": None},
                                "q4": {"multiple_choice": 3, "direct_answer": ["four"]}}))
    m = score_file("aokvqa", path, root)
    assert (m["correct"], m["total"], m["answered"]) == (1, 4, 3)
    assert m["official"] == {"MC": 25.0, "DA": 0.0}
    path.write_text(json.dumps({"q1": {}, "q2": {}}))
    assert score_file("aokvqa", path, root)["official"] == {}


def test_hf_parquet(tmp_path: Path) -> None:
    import datasets

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    rows = [{**r, "image": {"bytes": buf.getvalue(), "path": None}} for r in _rows()]
    for r in rows:
        del r["split"]
    root = tmp_path / "hf"
    (root / "data").mkdir(parents=True)
    ds = datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
    ds.to_parquet(str(root / "data" / "validation-00000-of-00001.parquet"))
    ds.select(range(2)).to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    items = load("aokvqa", root)  # default split val = "validation"
    assert len(items) == 4 and len(items[0]["image_bytes"]) == 1
    assert len(load("aokvqa", root, split="train")) == 2
    _check(score_file("aokvqa", _official_predictions(tmp_path), root))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _official(tmp_path)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "q9", "response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': 'q9' is not an item of A-OKVQA val"):
        score_file("aokvqa", path, root)
    with pytest.raises(UserError, match=r"aokvqa: unknown rule 'loose'; choose from official, seethink"):
        score_file("aokvqa", path, root, rule="loose")
    rows = _rows()
    rows[1]["correct_choice_idx"] = 7
    (root / "aokvqa_v1p0_val.json").write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"aokvqa_v1p0_val.json: row 2: field 'correct_choice_idx'"):
        load("aokvqa", root)
    test_rows = [{**r, "correct_choice_idx": None, "direct_answers": None} for r in _rows()]
    (root / "aokvqa_v1p0_val.json").unlink()
    (root / "aokvqa_v1p0_test.json").write_text(json.dumps(test_rows))
    path.write_text(json.dumps({"id": "q1", "response": "A"}) + "\n")
    with pytest.raises(UserError, match="test split has no answers"):
        score_file("aokvqa", path, root)
