"""Curriculum orderings for every mode, drop options, image paths and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seethink.data.commands import register
from seethink.data.curriculum import build_curriculum, parse_inputs
from seethink.data.export import write_toy_items
from seethink.data.images import item_images
from seethink.errors import UserError
from seethink.utils import read_jsonl, write_jsonl

RATES = {
    "perception": [0.0, 1.0, 0.5, 1.0],
    "text": [0.25, 0.75, 0.75],
    "visual": [1.0, 0.0, 0.5],
}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """One pass@K-annotated JSONL per capability, in its own folder (images beside it)."""
    out = {}
    for cap, rates in RATES.items():
        path = write_toy_items(cap, len(rates), "train", 0, tmp_path / "in" / cap / f"{cap}.jsonl")
        rows = read_jsonl(path)
        for r, rate in zip(rows, rates, strict=True):
            r["pass_rate"] = rate
        write_jsonl(path, rows)
        out[cap] = path
    return out


def _rates(path: Path) -> list[float]:
    return [r["pass_rate"] for r in read_jsonl(path)]


def _caps(path: Path) -> list[str]:
    return [r["capability"] for r in read_jsonl(path)]


ORDER = ["perception", "text", "visual"]


def test_none_is_a_seeded_shuffle(tmp_path: Path, inputs):
    build_curriculum(inputs, "none", tmp_path / "a", seed=3)
    build_curriculum(inputs, "none", tmp_path / "b", seed=3)
    build_curriculum(inputs, "none", tmp_path / "c", seed=4)
    a = read_jsonl(tmp_path / "a" / "stage1.jsonl")
    assert len(a) == 10 and sorted(r["id"] for r in a) == sorted(
        r["id"] for p in inputs.values() for r in read_jsonl(p))
    assert a == read_jsonl(tmp_path / "b" / "stage1.jsonl")
    assert [r["id"] for r in a] != [r["id"] for r in read_jsonl(tmp_path / "c" / "stage1.jsonl")]
    assert not (tmp_path / "a" / "stage2.jsonl").exists()


def test_difficulty_sorts_everything_easy_to_hard_with_stable_ties(tmp_path: Path, inputs):
    m = build_curriculum(inputs, "difficulty", tmp_path / "d", order=ORDER)
    rows = read_jsonl(tmp_path / "d" / "stage1.jsonl")
    assert [r["pass_rate"] for r in rows] == [1.0, 1.0, 1.0, 0.75, 0.75, 0.5, 0.5, 0.25, 0.0, 0.0]
    # Ties keep input order: perception's two 1.0 items first, then visual's.
    assert [r["capability"] for r in rows[:3]] == ["perception", "perception", "visual"]
    assert [r["capability"] for r in rows[5:7]] == ["perception", "visual"]
    assert len(m["stages"]) == 1 and m["stages"][0]["items"] == 10


def test_capability_one_stage_per_input_in_order(tmp_path: Path, inputs):
    m = build_curriculum(inputs, "capability", tmp_path / "c", order=["visual", "perception", "text"])
    assert [s["inputs"] for s in m["stages"]] == [["visual"], ["perception"], ["text"]]
    assert set(_caps(tmp_path / "c" / "stage1.jsonl")) == {"visual"}
    assert set(_caps(tmp_path / "c" / "stage2.jsonl")) == {"perception"}
    assert set(_caps(tmp_path / "c" / "stage3.jsonl")) == {"text"}
    assert sorted(_rates(tmp_path / "c" / "stage2.jsonl")) == sorted(RATES["perception"])
    assert json.loads((tmp_path / "c" / "curriculum.json").read_text())["mode"] == "capability"


def test_capability_x_difficulty_sorts_within_stages_and_drops(tmp_path: Path, inputs):
    out = tmp_path / "cd"
    build_curriculum(inputs, "capability_x_difficulty", out, order=ORDER)
    assert _rates(out / "stage1.jsonl") == [1.0, 1.0, 0.5, 0.0]
    assert _rates(out / "stage2.jsonl") == [0.75, 0.75, 0.25]
    assert _rates(out / "stage3.jsonl") == [1.0, 0.5, 0.0]
    m = build_curriculum(inputs, "capability_x_difficulty", out, order=ORDER, drop_solved=True)
    assert _rates(out / "stage1.jsonl") == [0.5, 0.0] and _rates(out / "stage3.jsonl") == [0.5, 0.0]
    assert m["dropped"] == {"solved": 3, "unsolved": 0}
    m = build_curriculum(inputs, "capability_x_difficulty", out, order=ORDER, drop_solved=True, drop_unsolved=True)
    assert _rates(out / "stage1.jsonl") == [0.5] and m["dropped"] == {"solved": 3, "unsolved": 2}


def test_image_paths_resolve_from_the_output(tmp_path: Path, inputs):
    out = tmp_path / "elsewhere" / "cur"
    build_curriculum(inputs, "difficulty", out)
    rows = read_jsonl(out / "stage1.jsonl")
    with_images = [r for r in rows if r["images"]]
    assert len(with_images) == 7  # perception + visual
    for r in with_images:
        assert not Path(r["images"][0]).is_absolute()
        assert item_images(r, out)[0].size[0] > 0


def test_stale_stages_removed_and_errors(tmp_path: Path, inputs):
    out = tmp_path / "o"
    build_curriculum(inputs, "capability", out)
    assert (out / "stage3.jsonl").exists()
    build_curriculum(inputs, "difficulty", out)
    assert sorted(p.name for p in out.glob("stage*.jsonl")) == ["stage1.jsonl"]
    with pytest.raises(UserError, match="--order names 'audio'"):
        build_curriculum(inputs, "capability", out, order=["audio", *ORDER])
    with pytest.raises(UserError, match="'visual' is missing"):
        build_curriculum(inputs, "capability", out, order=["perception", "text"])
    with pytest.raises(UserError, match="--mode must be one of"):
        build_curriculum(inputs, "random", out)
    raw = tmp_path / "raw.jsonl"
    write_jsonl(raw, [{"id": "x", "question": "q", "answer": "1"}])
    with pytest.raises(UserError, match=r"raw\.jsonl, row 1, field 'pass_rate': missing"):
        build_curriculum({"text": raw}, "difficulty", out)
    build_curriculum({"text": raw}, "capability", out)  # no pass_rate needed
    with pytest.raises(UserError, match="expected NAME=FILE"):
        parse_inputs(["perception.jsonl"])


def test_cli_curriculum(tmp_path: Path, inputs):
    app, data = typer.Typer(), typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    args = ["data", "curriculum", "--mode", "capability_x_difficulty"]
    for cap in ("perception", "text", "visual"):
        args += ["--input", f"{cap}={inputs[cap]}"]
    args += ["--order", "text,visual,perception", "--out", str(tmp_path / "cli"), "--drop-solved", "--seed", "1"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "stage1.jsonl: 3 items from text" in r.output and "dropped 3 solved" in r.output
    assert set(_caps(tmp_path / "cli" / "stage3.jsonl")) == {"perception"}
