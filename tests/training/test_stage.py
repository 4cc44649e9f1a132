import json
from pathlib import Path

from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec
from seethink.data.tasks import get_task
from seethink.training.datasets import grpo_dataset
from seethink.training.stage import run_stage


def _mixed_items():
    w = ToyWorldSpec()
    return get_task("toy_perception").generate(4, "train", 0, w) + get_task("toy_text").generate(4, "train", 0, w)


def test_text_rows_stay_text_only():
    ds = grpo_dataset(_mixed_items())
    kinds = [(json.loads(r["item"])["capability"], len(r["images"])) for r in ds]
    assert ("text", 0) in kinds and ("perception", 1) in kinds
    assert all(n == 0 for cap, n in kinds if cap == "text")


def test_grpo_trains_on_a_mixed_image_and_text_batch(tiny_model_dir: Path, tmp_path: Path):
    """TRL hands None for text rows of a mixed batch; the shim keeps the merged stage working."""
    from safetensors.torch import load_file

    trainer = TrainerSpec(max_steps=2, batch_size=4, group_size=2, learning_rate=1e-3, beta=0.0,
                          max_completion_length=12, shuffle=False, temperature=1.0)
    metrics = tmp_path / "metrics.jsonl"
    info = run_stage(tiny_model_dir, _mixed_items(), trainer, RewardSpec(), tmp_path / "s", stage="merged",
                     variant="merged", metrics_path=metrics)
    assert info["steps"] == 2
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert {"reward", "accuracy", "format", "completion_length", "entropy"} <= set(rows[0])
    ckpt = tmp_path / "s" / "checkpoint"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "processor_config.json").is_file()
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(ckpt / "model.safetensors"))
    assert set(before) == set(after)


def test_frozen_vision_tower_does_not_change(tiny_model_dir: Path, tmp_path: Path):
    import torch
    from safetensors.torch import load_file

    # A length reward gives every group reward variance, so the language model does get gradients.
    f = tmp_path / "length_reward.py"
    f.write_text("def length(completion, item):\n    return {'overall': len(completion) / 50}\n")
    items = get_task("toy_perception").generate(4, "train", 1, ToyWorldSpec())
    trainer = TrainerSpec(max_steps=1, batch_size=2, group_size=4, learning_rate=1e-2, beta=0.0,
                          max_completion_length=8, freeze_vision=True)
    run_stage(tiny_model_dir, items, trainer, RewardSpec(extra=[f"{f}:length"]), tmp_path / "s", stage="p",
              variant="staged", metrics_path=tmp_path / "m.jsonl")
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "s" / "checkpoint" / "model.safetensors"))
    vis = [k for k in before if k.startswith("visual.") or ".visual." in k]
    assert vis and all(torch.equal(before[k], after[k]) for k in vis)
    text = [k for k in before if k not in vis]
    assert any(not torch.equal(before[k], after[k]) for k in text), "the language model should have moved"
