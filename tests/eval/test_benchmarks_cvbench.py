"""CV-Bench: the raw release (test.jsonl + img/) and test.parquet, letter extraction, and the
README's per-source / 2D / 3D / combined aggregation on a constructed set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, load, score_file

# (idx, type, task, source, choices, answer, response)
ROWS = [
    (1, "2D", "Count", "ADE20K", ["0", "1", "2", "3"], "(B)", "(B)"),  # right
    (2, "2D", "Count", "ADE20K", ["0", "1", "2", "3"], "(D)", "The answer is (D)."),  # right
    (3, "2D", "Relation", "COCO", ["left", "right"], "(A)", "\\boxed{A}"),  # right
    (4, "2D", "Relation", "COCO", ["left", "right"], "(B)", "A. left"),  # wrong
    (5, "3D", "Depth", "Omni3D", ["the lamp", "the chair"], "(A)", "The lamp is closer."),  # right (option text)
    (6, "3D", "Depth", "Omni3D", ["the lamp", "the chair"], "(B)", "I am not sure."),  # no answer
    (7, "3D", "Distance", "Omni3D", ["the table", "the sofa"], "(A)", "B"),  # wrong
]  # fmt: skip


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 0, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _row(r: tuple) -> dict:
    idx, kind, task, source, choices, answer, _ = r
    question = f"Question {idx}?"
    options = " ".join(f"({'ABCD'[i]}) {c}" for i, c in enumerate(choices))
    return {
        "idx": idx,
        "type": kind,
        "task": task,
        "question": question,
        "choices": choices,
        "answer": answer,
        "prompt": f"{question} Select from the following choices.\n{options}",
        "filename": f"img/{kind}/{task.lower()}/{source.lower()}_{idx}.png",
        "source": source,
        "source_dataset": f"{source} Validation Set",
        "source_filename": f"{source.lower()}_{idx}.jpg",
        "target_class": None,
        "target_size": None,
        "bbox": None,
    }


def _official(tmp_path: Path) -> Path:
    root = tmp_path / "cvbench"
    for r in ROWS:
        p = root / _row(r)["filename"]
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(p)
    (root / "test.jsonl").write_text("".join(json.dumps(_row(r)) + "\n" for r in ROWS))
    return root


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "cv_results.jsonl"
    path.write_text("".join(json.dumps({"id": r[0], "response": r[6]}) + "\n" for r in ROWS))
    return path


def _check(m: dict) -> None:
    """Rule seethink (our letter reading)."""
    assert m["rule"] == "seethink"
    assert (m["correct"], m["total"], m["accuracy"]) == (4, 7, 57.14)
    src = m["breakdown"]["source"]
    assert (src["ADE20K"]["accuracy"], src["COCO"]["accuracy"], src["Omni3D"]["accuracy"]) == (
        100.0,
        50.0,
        33.33,
    )
    # 2D = (1 + 0.5) / 2, 3D = 1/3, combined = (0.75 + 1/3) / 2 = 0.541666...
    assert (m["accuracy_2d"], m["accuracy_3d"], m["cv_bench"]) == (75.0, 33.33, 54.17)
    assert m["unanswered"] == 1
    assert m["breakdown"]["task"]["Depth"] == {"correct": 1, "total": 2, "accuracy": 50.0}


def test_official_jsonl(tmp_path: Path) -> None:
    root = _official(tmp_path)
    items = load("cvbench", root)
    assert len(items) == 7
    first = items[0]
    assert (first["id"], first["answer"], first["answer_raw"], first["options"]) == (
        "1",
        "B",
        "(B)",
        ["0", "1", "2", "3"],
    )
    assert first["images"] == [str(root / "img/2D/count/ade20k_1.png")]
    assert [it["id"] for it in load("cvbench", root, split="3D")] == ["5", "6", "7"]
    _check(score_file("cvbench", _results(tmp_path), root, rule="seethink"))
    verdicts = judge_file("cvbench", _results(tmp_path), root, rule="seethink")
    assert [v["prediction"] for v in verdicts] == ["B", "D", "A", "A", "A", None, "B"]
    # the default, Cambrian's extract_mcq_answer: the first character after "answer is" / "answer:"
    m = score_file("cvbench", _results(tmp_path), root)
    assert (m["rule"], m["correct"], m["total"]) == ("cambrian", 2, 7)
    verdicts = judge_file("cvbench", _results(tmp_path), root)
    assert [v["prediction"] for v in verdicts] == ["b", "d", "\\", "a", "t", "i", "b"]
    assert m["official"]["sources"]["ADE20K"] == {"accuracy": 1.0, "total_count": 2,
                                                  "Count": {"accuracy": 1.0, "total": 2}}
    assert m["official"]["cv_bench"] == ((1.0 + 0.0) / 2 + 0.0) / 2


def test_hf_parquet(tmp_path: Path) -> None:
    import datasets

    rows = [{**_row(r), "image": {"bytes": _png(), "path": None}} for r in ROWS]
    root = tmp_path / "hf"
    root.mkdir()
    ds = datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
    ds.to_parquet(str(root / "test.parquet"))
    items = load("cvbench", root)
    assert len(items) == 7 and items[0]["images"] == [] and len(items[0]["image_bytes"]) == 1
    _check(score_file("cvbench", _results(tmp_path), root, rule="seethink"))


def test_bad_inputs(tmp_path: Path) -> None:
    root = _official(tmp_path)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"idx": 99, "response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"r.jsonl: row 1: field 'id': '99' is not an item"):
        score_file("cvbench", results, root)
    results.write_text(json.dumps({"response": "A"}) + "\n")
    with pytest.raises(UserError, match=r"row 1: missing field 'id'"):
        score_file("cvbench", results, root)
    rows = [_row(r) for r in ROWS]
    rows[3]["answer"] = "(E)"
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"test.jsonl: row 4: field 'answer' should be an option letter"):
        load("cvbench", root)
