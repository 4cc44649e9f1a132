"""The data pipeline end to end through the CLI: toy data -> pass@K -> curriculum -> training in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_toy_data_passk_curriculum_run(cli, tiny_model_dir: Path, tmp_path: Path, monkeypatch):
    import torch

    monkeypatch.setenv("SEETHINK_THREADS", "1")
    torch.set_num_threads(1)
    data = tmp_path / "data"
    inputs = []
    for cap in ("perception", "text", "visual"):
        raw = data / f"{cap}.jsonl"
        code, _, err = cli(["data", "toy", "--capability", cap, "--n", "4", "--out", str(raw)])
        assert code == 0, err
        scored = data / f"{cap}.passk.jsonl"
        code, _, err = cli(["data", "passk", "--model", str(tiny_model_dir), "--input", str(raw), "--k", "2",
                            "--out", str(scored), "--max-new-tokens", "6"])
        assert code == 0, err
        rows = [json.loads(line) for line in scored.read_text().splitlines()]
        assert all(len(r["predictions"]) == 2 and 0.0 <= r["pass_rate"] <= 1.0 for r in rows)
        inputs.append(f"{cap}={scored}")

    for mode in ("none", "difficulty", "capability", "capability_x_difficulty"):
        out = tmp_path / "cur" / mode
        args = ["data", "curriculum", "--mode", mode, "--out", str(out), "--order", "perception,text,visual"]
        for spec in inputs:
            args += ["--input", spec]
        code, _, err = cli(args)
        assert code == 0, err
        n_stages = 3 if mode.startswith("capability") else 1
        assert sorted(p.name for p in out.glob("stage*.jsonl")) == [f"stage{i}.jsonl" for i in range(1, n_stages + 1)]

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: flow\n"
        f"model: {{path: {tiny_model_dir}}}\n"
        "variants: [staged]\n"
        "curriculum:\n  mode: capability_x_difficulty\n  order: [text, perception, visual]\n  inputs:\n"
        + "".join(f"    {s.split('=')[0]}: {s.split('=')[1]}\n" for s in inputs)
        + "trainer: {max_steps: 1, batch_size: 2, group_size: 2, max_completion_length: 6}\n"
        "eval: {items_per_capability: 2, max_new_tokens: 6, ablation: false}\n"
    )
    run = tmp_path / "run"
    code, stdout, err = cli(["run", str(recipe), "--out", str(run)])
    assert code == 0, err
    stages = sorted(p.name for p in (run / "stages" / "staged").iterdir())
    assert stages == ["01-text", "02-perception", "03-visual"]
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["staged"]["by_capability"]) == {"perception", "text", "visual"}
