"""`seethink run` under `accelerate launch` with two CPU processes (gloo)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seethink.models.build_tiny import build_tiny
from seethink.models.load import load_model

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_run_trains_together_and_only_rank0_writes(tiny_model_dir: Path, tmp_path: Path):
    from safetensors.torch import load_file

    base = build_tiny("qwen2_vl", tmp_path / "base", tokenizer=tiny_model_dir)
    # Each process scores its own completions with its rank (plus a little length, so groups
    # differ and the weights move): a mean near 0.5 can only come from both ranks' rewards.
    reward = tmp_path / "rank_reward.py"
    reward.write_text("import os\n\ndef rank(completion, item):\n"
                      "    return {'overall': int(os.environ['RANK']) + len(completion) / 1000}\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""
name: two-proc
model: {{path: {base}}}
variants: [staged]
trainer: {{max_steps: 2, batch_size: 2, group_size: 2, learning_rate: 1.0e-2, beta: 0.0,
          max_completion_length: 8, shuffle: false}}
reward: {{accuracy_weight: 0.0, format_weight: 0.0, extra: ["{reward}:rank"]}}
stages:
  - {{name: mixed, tasks: [toy_perception, toy_text], items_per_task: 2}}
eval: {{items_per_capability: 2, ablation: false, max_new_tokens: 4}}
""")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEETHINK_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(REPO / "configs" / "accelerate" / "cpu_2proc.yaml"),
           "-m", "seethink.cli", "run", str(recipe), "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]

    sdir = out / "stages" / "staged" / "01-mixed"
    done = json.loads((sdir / "done.json").read_text())
    assert done["world_size"] == 2 and done["steps"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2], "one row per step: only rank 0 writes metrics"
    for r in rows:  # rank 0 alone would log < 0.1, rank 1 alone >= 1
        assert 0.5 <= r["reward"] < 0.6, r
    assert log.count("stage 1/1 'mixed'") == 1, "only rank 0 logs"
    assert len(list((sdir / "tensorboard").glob("events.out.tfevents.*"))) == 1, "only rank 0 writes TensorBoard"
    summary = json.loads((out / "summary.json").read_text())
    assert {"base", "staged"} <= set(summary)
    assert (out / "config.yaml").is_file() and (out / "report.md").is_file()

    model, _ = load_model(sdir / "checkpoint")
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    before = load_file(str(base / "model.safetensors"))
    after = load_file(str(sdir / "checkpoint" / "model.safetensors"))
    assert any(not before[k].equal(after[k]) for k in before), "two-process training should move the weights"
