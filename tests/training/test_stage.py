import json
from pathlib import Path

import pytest

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


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_grpo_stage_logs_to_tensorboard_by_default(tiny_model_dir: Path, tmp_path: Path):
    trainer = TrainerSpec(max_steps=2, batch_size=2, group_size=2, learning_rate=1e-3, beta=0.0,
                          max_completion_length=8, save_steps=0)
    items = get_task("toy_perception").generate(2, "train", 0, ToyWorldSpec())
    metrics = tmp_path / "metrics.jsonl"
    run_stage(tiny_model_dir, items, trainer, RewardSpec(), tmp_path / "s", stage="perception",
              variant="staged", metrics_path=metrics)
    tb = tmp_path / "s" / "tensorboard"
    assert list(tb.glob("events.out.tfevents.*")), sorted(p.name for p in (tmp_path / "s").iterdir())
    scalars = _scalars(tb)
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [s for s, _ in scalars["train/reward"]] == [1, 2]
    assert [v for _, v in scalars["train/reward"]] == pytest.approx([r["reward"] for r in rows])
    assert "train/rewards/accuracy/mean" in scalars and "train/loss" in scalars


def test_tensorboard_resume_hides_steps_past_the_checkpoint(tmp_path: Path):
    """After a resume from checkpoint-2 the killed run's steps 3+ are purged, as in metrics.jsonl."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from seethink.training.stage import _reporting

    tb = tmp_path / "s" / "tensorboard"
    killed = SummaryWriter(log_dir=str(tb))
    for step in (1, 2, 3, 4):
        killed.add_scalar("train/reward", 0.0, step)
    killed.close()
    report_to, (cb,) = _reporting(["tensorboard", "wandb"], tmp_path / "s", tmp_path / "s" / "trainer" / "checkpoint-2")
    assert report_to == ["wandb"]  # TensorBoard goes through our callback, the others through transformers
    args, state, control = TrainingArguments(output_dir=str(tmp_path / "t"), report_to=[]), TrainerState(), TrainerControl()
    cb.on_train_begin(args, state, control)
    for step in (3, 4):
        state.global_step = step
        cb.on_log(args, state, control, logs={"reward": 1.0})
    cb.on_train_end(args, state, control)
    assert _scalars(tb)["train/reward"] == [(1, 0.0), (2, 0.0), (3, 1.0), (4, 1.0)]


def test_report_to_list_checks_names_and_installs(monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    from seethink.errors import UserError
    from seethink.training.stage import report_to_list

    assert report_to_list(["tensorboard", "TensorBoard"]) == ["tensorboard"]
    assert report_to_list([]) == [] and report_to_list(["none"]) == []
    with pytest.raises(UserError, match="unknown tracker 'tensorbord'; choose from tensorboard, wandb, mlflow"):
        report_to_list(["tensorbord"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(UserError, match="'wandb' is not installed; install it with `pip install wandb`"):
        report_to_list(["tensorboard", "wandb"])


def test_accumulation_rollout_batch_and_loss_knobs_run_through_trl(tiny_model_dir: Path, tmp_path: Path):
    """Four optimizer steps of 2 prompts, each over 2 micro-steps, fed by generations of 4 prompts:
    two generations in all (16 completions scored, not 32), with the GSPO / clip / scaling knobs on."""
    counter = tmp_path / "scored.txt"
    (tmp_path / "count.py").write_text(
        "def count(completion, item):\n"
        f"    with open({str(counter)!r}, 'a') as f:\n"
        "        f.write('x\\n')\n"
        "    return {'overall': 0.0}\n")
    trainer = TrainerSpec(max_steps=4, batch_size=2, group_size=2, gradient_accumulation_steps=2, rollout_batch_size=4,
                          importance_sampling_level="sequence", epsilon=0.2, epsilon_high=0.28, scale_rewards="batch",
                          mask_truncated_completions=True, weight_decay=0.01, max_grad_norm=0.5, learning_rate=1e-3,
                          beta=0.0, max_completion_length=8, save_steps=0)
    reward = RewardSpec(extra=[f"{tmp_path / 'count.py'}:count"], extra_weights=[0.0])
    metrics = tmp_path / "metrics.jsonl"
    info = run_stage(tiny_model_dir, _mixed_items(), trainer, reward, tmp_path / "s", stage="s", variant="staged",
                     metrics_path=metrics)
    assert info["steps"] == 4
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [1, 2, 3, 4]
    assert len(counter.read_text().splitlines()) == 2 * 4 * 2  # generations x prompts x group


def _both_ways(tmp_path: Path, switch: str, task: str = "toy_visual") -> dict[bool, list[dict]]:
    """The same stage from the warm toy base, same seed, with `switch` off and on: the metrics
    each logged, step by step."""
    from seethink.toyworld.warmstart import shipped_base

    items = get_task(task).generate(12, "train", 3, ToyWorldSpec())
    logs = {}
    for on in (False, True):
        # float32 on every machine: the paths agree to float rounding, and bf16 autocast (the
        # default where the CPU computes bf16) would compare them at bf16's rounding instead
        trainer = TrainerSpec(max_steps=3, batch_size=2, group_size=3, learning_rate=2e-5, beta=0.1,
                              max_completion_length=48, temperature=1.0, save_steps=0, bf16=False,
                              **{switch: on})
        metrics = tmp_path / f"metrics-{on}.jsonl"
        run_stage(shipped_base(), items, trainer, RewardSpec(), tmp_path / f"s-{on}", stage=task.removeprefix("toy_"),
                  variant="v", metrics_path=metrics, report_to=[], seed=5)
        logs[on] = [json.loads(line) for line in metrics.read_text().splitlines()]
    keys = ("reward", "accuracy", "format", "completion_length")  # the same rollouts both ways
    assert [[r[k] for k in keys] for r in logs[True]] == [[r[k] for k in keys] for r in logs[False]]
    return logs


def test_lean_decoding_trains_the_same_as_transformers_generate(tmp_path: Path):
    """Both decode loops: the same completions step after step, so the same logged rewards,
    lengths and losses (the warm toy base: a model that ends its answers)."""
    logs = _both_ways(tmp_path, "fast_generation")
    assert [r["loss"] for r in logs[True]] == pytest.approx([r["loss"] for r in logs[False]], rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("task", ["toy_visual", "toy_text"])
def test_shared_prompt_passes_train_the_same_as_trls_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str):
    """Log-probabilities from TRL's full pass or from shared prompt passes: the same rollouts, and
    the same losses, gradient norms, KL and entropies up to float rounding; on image prompts and
    on text-only ones (left-padded to the batch's longest, with no image to set positions)."""
    from seethink.models import shared_prompt

    calls = []
    original = shared_prompt.completion_logps
    monkeypatch.setattr(shared_prompt, "completion_logps", lambda *a, **k: calls.append(1) or original(*a, **k))
    logs = _both_ways(tmp_path, "shared_prompt", task)
    assert logs[True][-1]["kl"] > 0  # the reference pass ran and the policy moved
    assert len(calls) == 2 * 3  # the shared run's policy and reference passes, every step; none in the other
    for k in ("loss", "grad_norm", "kl", "entropy"):
        assert [r[k] for r in logs[True]] == pytest.approx([r[k] for r in logs[False]], rel=1e-3, abs=1e-6), k
