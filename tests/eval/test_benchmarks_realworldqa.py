"""RealWorldQA: the HF parquet and save_to_disk release (image, question, answer), and
lmms-eval-style exact matching for letters and short answers on a constructed set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file

MC_TAIL = "Please answer directly with only the letter of the correct option and nothing else."
FF_TAIL = "Please answer directly with a single word or number."
# (question, answer, response, correct)
ROWS = [
    (f"Which way is the car facing?\nA. Left\nB. Right\nC. Forward\n{MC_TAIL}", "B", "B", True),
    (f"Where is the bus?\nA. Left\nB. Right\nC. Ahead\n{MC_TAIL}", "A", "The bus is on the left.", True),
    (f"Is the light red?\nA. Yes\nB. No\nC. Off\n{MC_TAIL}", "C", "A", False),
    (f"How many pedestrians are there? {FF_TAIL}", "2", "Two.", True),
    (f"Is the road wet? {FF_TAIL}", "No", "no", True),
    (f"How many cars are parked? {FF_TAIL}", "3", "There are 3 cars.", False),
]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (90, 90, 90)).save(buf, format="PNG")
    return buf.getvalue()


def _dataset():  # type: ignore[no-untyped-def]
    import datasets

    rows = [{"image": {"bytes": _png(), "path": None}, "question": q, "answer": a} for q, a, _, _ in ROWS]
    return datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())


def _parquet(tmp_path: Path) -> Path:
    root = tmp_path / "rwqa"
    (root / "data").mkdir(parents=True)
    ds = _dataset()
    ds.select(range(4)).to_parquet(str(root / "data" / "test-00000-of-00002.parquet"))
    ds.select(range(4, 6)).to_parquet(str(root / "data" / "test-00001-of-00002.parquet"))
    return root


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "rwqa.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "response": r[2]}) + "\n" for i, r in enumerate(ROWS)))
    return path


def _check(m: dict) -> None:
    """Rule seethink (our reading)."""
    assert m["rule"] == "seethink"
    assert (m["correct"], m["total"], m["accuracy"]) == (4, 6, 66.67)
    assert m["breakdown"]["answer_type"] == {
        "multiple_choice": {"correct": 2, "total": 3, "accuracy": 66.67},
        "free_form": {"correct": 2, "total": 3, "accuracy": 66.67},
    }


def test_hf_parquet_shards(tmp_path: Path) -> None:
    root = _parquet(tmp_path)
    items = load("realworldqa", root)
    assert [it["id"] for it in items] == [str(i) for i in range(6)]  # position over the shards in order
    assert (
        items[0]["options"] == ["Left", "Right", "Forward"] and items[0]["answer_type"] == "multiple_choice"
    )
    assert items[3]["options"] == [] and items[3]["answer_type"] == "free_form"
    assert Image.open(io.BytesIO(items[5]["image_bytes"][0])).size == (4, 4)
    _check(score_file("realworldqa", _results(tmp_path), root, rule="seethink"))
    verdicts = judge_file("realworldqa", _results(tmp_path), root, rule="seethink")
    assert [v["correct"] for v in verdicts] == [r[3] for r in ROWS]
    assert [v["prediction"] for v in verdicts] == ["B", "A", "A", "2", "no", "there are 3 cars"]
    # the default, lmms-eval's filters + exact match: option texts match case-sensitively, "Two." is
    # not a bare number word, and only the whole cleaned response can equal the answer
    verdicts = judge_file("realworldqa", _results(tmp_path), root)
    assert [v["prediction"] for v in verdicts] == ["B", "The bus is on the left", "A", "Two", "no",
                                                   "There are 3 cars"]
    assert [v["correct"] for v in verdicts] == [True, False, False, False, True, False]
    assert score_file("realworldqa", _results(tmp_path), root)["rule"] == "lmms-eval"


def test_save_to_disk(tmp_path: Path) -> None:
    _dataset().save_to_disk(str(tmp_path / "disk"))
    assert len(load("realworldqa", tmp_path / "disk")) == 6
    _check(score_file("realworldqa", _results(tmp_path), tmp_path / "disk", rule="seethink"))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _parquet(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"id": "6", "response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': '6' is not an item"):
        score_file("realworldqa", results, root)
    results.write_text("{not json\n")
    with pytest.raises(UserError, match=r"r.jsonl, row 1: not valid JSON"):
        score_file("realworldqa", results, root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="has none of"):
        load("realworldqa", empty)
    _dataset().remove_columns("answer").to_parquet(str(empty / "test.parquet"))
    with pytest.raises(UserError, match=r"test.parquet: row 1: missing field 'answer'"):
        load("realworldqa", empty)
