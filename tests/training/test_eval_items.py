"""Which held-out toy items a recipe is scored on: only where it trains toy tasks, or asks."""

from __future__ import annotations

from pathlib import Path

from seethink.config import load_recipe
from seethink.data.plan import eval_items
from seethink.training.pipeline import eval_meta


def _caps(items: list[dict]) -> set[str]:
    return {it["capability"] for it in items}


def test_toy_evaluation_follows_what_the_recipe_trains(tmp_path: Path) -> None:
    small = ["eval.items_per_capability=2"]
    assert _caps(eval_items(load_recipe(None, small))) == {"perception", "text", "visual"}
    assert eval_items(load_recipe(None, [*small, "eval.toy=false"])) == []
    one = load_recipe(None, [*small, "stages=[{name: t, tasks: [toy_text]}]"])
    assert _caps(eval_items(one)) == {"text"} and eval_meta(one)["toy"] is True

    real = tmp_path / "real.jsonl"  # real data: no toy capability in its rows
    real.write_text('{"id": "a", "question": "2+2?", "answer": "4", "capability": "reasoning"}\n')
    r = load_recipe(None, [*small, f"stages=[{{name: s, data: {real}}}]"])
    assert eval_items(r) == [] and eval_meta(r)["toy"] is False
    r.eval.toy = True  # asked for: every toy capability
    assert _caps(eval_items(r)) == {"perception", "text", "visual"} and eval_meta(r)["toy"] is True

    toyish = tmp_path / "toy.jsonl"  # a data file of toy perception items: perception held out
    toyish.write_text('{"id": "b", "question": "q", "answer": "A", "capability": "perception"}\n')
    r = load_recipe(None, [*small, f"stages=[{{name: s, data: {toyish}}}]"])
    assert _caps(eval_items(r)) == {"perception"}


def test_eval_meta_names_protocol_and_placement(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = load_recipe(None, ["eval.benchmarks=[mathvista]", "eval.data_root=x", "eval.protocol=paper",
                           "eval.judge_base_url=http://127.0.0.1:9/v1", "eval.judge_model=j"])
    meta = eval_meta(r)
    assert meta["benchmarks"] == ["MathVista_MINI"] and meta["protocol"] == "paper"
    assert (meta["device"], meta["dtype"]) == ("cpu", "float32")


def test_a_missing_benchmark_folder_fails_before_training(tmp_path: Path) -> None:
    import pytest

    from seethink.errors import UserError
    from seethink.training.pipeline import run_recipe

    r = load_recipe(None, [f"model.path={tmp_path / 'no-model'}", "eval.benchmarks=[wemath]",
                           f"eval.data_root={tmp_path / 'no-data'}"])
    with pytest.raises(UserError, match="wemath: data folder not found"):
        run_recipe(r, tmp_path / "run", log=lambda *_: None)
    assert not (tmp_path / "run" / "stages").exists()
