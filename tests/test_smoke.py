"""The smoke preset end to end on CPU: warm start, staged + merged GRPO, eval, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seethink.config import load_recipe
    from seethink.recipes import preset_path
    from seethink.training.pipeline import run_recipe

    out = tmp_path_factory.mktemp("runs") / "smoke"
    run_recipe(load_recipe(preset_path("smoke")), out)
    return out


def test_run_directory_is_complete(smoke_run: Path):
    for rel in ("config.yaml", "metrics.jsonl", "summary.json", "report.md", "plots/reward_curves.png",
                "plots/accuracy.png", "plots/response_length.png"):
        assert (smoke_run / rel).is_file(), rel
    for variant, stages in (("staged", ["01-perception", "02-text", "03-visual"]), ("merged", ["01-merged"])):
        for s in stages:
            assert (smoke_run / "stages" / variant / s / "checkpoint" / "model.safetensors").is_file()
    for model in ("base", "staged@perception", "staged@text", "staged", "merged"):
        preds = [json.loads(x) for x in (smoke_run / "eval" / model / "predictions.jsonl").read_text().splitlines()]
        assert len(preds) == 36
        assert all(p["sampled_correct"] in (0.0, 0.5, 1.0) for p in preds)  # 2 samples per item


def test_summary_has_every_model_and_capability(smoke_run: Path):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for model in ("base", "staged", "merged"):
        s = summary[model]
        assert 0 <= s["accuracy"] <= 100 and s["mean_response_tokens"] > 0
        assert set(s["by_capability"]) == {"perception", "text", "visual"}
        assert set(s["ablation"]) == {"blank", "shuffled"}
    assert summary["meta"]["stages"] == ["perception", "text", "visual"]
    if summary["meta"]["workers"] > 1:  # 2+ cores: staged and merged ran side by side (`parallel`)
        assert (smoke_run / "logs" / "staged.log").is_file() and (smoke_run / "logs" / "merged.log").is_file()
    chain = summary["meta"]["chains"]["staged"]
    assert [(c["before"], c["after"], c["capabilities"]) for c in chain] == [
        ("base", "staged@perception", ["perception"]),
        ("staged@perception", "staged@text", ["text"]),
        ("staged@text", "staged", ["visual"]),
    ]
    assert "sampled_accuracy" in summary["staged"]["by_capability"]["visual"]


def test_metrics_cover_every_stage_without_duplicates(smoke_run: Path):
    rows = [json.loads(line) for line in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["variant"], r["stage"], r["step"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {(v, s) for v, s, _ in keys} == {("staged", "perception"), ("staged", "text"), ("staged", "visual"),
                                            ("merged", "merged")}
    merged_steps = [k[2] for k in keys if k[0] == "merged"]
    assert max(merged_steps) == 6  # same total steps as the three staged stages


def test_report_names_models_and_ablation(smoke_run: Path):
    text = (smoke_run / "report.md").read_text()
    for word in ("| base |", "| staged |", "| merged |", "blank / shuffled", "reward_curves.png",
                 "## Sampled accuracy", "## Effects with 95% intervals", "| staged: stage 'visual' | visual |"):
        assert word in text


def test_rerun_resumes_without_retraining(smoke_run: Path, cli):
    before = (smoke_run / "metrics.jsonl").read_text()
    code, out, _ = cli(["run", str(smoke_run / "config.yaml"), "--out", str(smoke_run)])
    assert code == 0
    assert "already trained, skipping" in out and "already evaluated" in out
    assert (smoke_run / "metrics.jsonl").read_text() == before
