"""Real architectures on CPU: tiny random Qwen2-VL, Qwen2.5-VL, Qwen3-VL and InternVL (-hf),
built from their transformers configs, each trained for two GRPO steps on mixed image and
text items, then reloaded. Plus LoRA (saved merged) with gradient checkpointing."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec
from seethink.data.images import item_images
from seethink.data.prompts import to_messages
from seethink.data.tasks import get_task
from seethink.models.build_tiny import ARCHS, build_tiny
from seethink.models.load import load_model
from seethink.training.scaling import LM_PROJECTIONS, lora_config
from seethink.training.stage import run_stage, set_vision_frozen

MODEL_CLASS = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
    "internvl": "InternVLForConditionalGeneration",
}


@pytest.fixture(scope="module")
def arch_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """build(arch) -> directory of a tiny random model, built once per module, our toy tokenizer."""
    built: dict[str, Path] = {}

    def build(arch: str) -> Path:
        if arch not in built:
            built[arch] = build_tiny(arch, tmp_path_factory.mktemp(f"tiny-{arch}"), tokenizer=tiny_model_dir)
        return built[arch]

    return build


def _mixed_items() -> list[dict]:
    """Each step of batch 2 (unshuffled) holds one image item and one text-only item."""
    w = ToyWorldSpec()
    p = get_task("toy_perception").generate(2, "train", 0, w)
    t = get_task("toy_text").generate(2, "train", 0, w)
    return [p[0], t[0], p[1], t[1]]


def _length_reward(tmp_path: Path) -> RewardSpec:
    """A reward with variance inside every group, so each step really moves the weights."""
    f = tmp_path / "length_reward.py"
    f.write_text("def length(completion, item):\n    return {'overall': len(completion) / 50}\n")
    return RewardSpec(extra=[f"{f}:length"])


def _is_vision(key: str) -> bool:
    return any(part in ("visual", "vision_tower") for part in key.split(".")[:2])


def _changed(before: Path, after: Path) -> tuple[set[str], set[str]]:
    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    assert set(a) == set(b)
    return set(a), {k for k in a if not torch.equal(a[k], b[k])}


@pytest.mark.parametrize("arch", ARCHS)
def test_two_grpo_steps_then_reload(arch: str, arch_dir, tmp_path: Path):
    base = arch_dir(arch)
    trainer = TrainerSpec(max_steps=2, batch_size=2, group_size=2, learning_rate=1e-2, beta=0.0,
                          max_completion_length=8, shuffle=False, freeze_vision=True)
    metrics = tmp_path / "metrics.jsonl"
    info = run_stage(base, _mixed_items(), trainer, _length_reward(tmp_path), tmp_path / "s", stage="mixed",
                     variant="staged", metrics_path=metrics)
    assert info["steps"] == 2 and info["world_size"] == 1
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["reward"] > 0 for r in rows)

    ckpt = tmp_path / "s" / "checkpoint"
    keys, changed = _changed(base, ckpt)
    vision = {k for k in keys if _is_vision(k)}
    assert vision and not (changed & vision), "freeze_vision must keep the vision tower as it was"
    assert changed - vision, "the language model should have moved"

    model, processor = load_model(ckpt)
    assert type(model).__name__ == MODEL_CLASS[arch]
    assert set_vision_frozen(model, True) > 0
    # The reloaded model still reads an image end to end.
    item = _mixed_items()[0]
    msgs = to_messages(item, 1)
    msgs[0]["content"][0]["image"] = item_images(item)[0]
    enc = processor.apply_chat_template([msgs], add_generation_prompt=True, tokenize=True, return_dict=True,
                                        return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=2, min_new_tokens=2, do_sample=False)  # random weights may stop at once
    assert out.shape[1] == enc["input_ids"].shape[1] + 2
    # LoRA's default targets exist in every architecture and stay out of the vision tower.
    from peft import get_peft_model

    targeted = get_peft_model(model, lora_config(TrainerSpec(lora_r=2))).targeted_module_names
    n_layers = model.config.get_text_config().num_hidden_layers
    assert len(targeted) == len(LM_PROJECTIONS) * n_layers
    assert all("language_model" in name for name in targeted)


def test_lora_with_gradient_checkpointing_saves_a_merged_plain_model(arch_dir, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """Qwen2.5-VL's vision MLP reuses the LM's projection names: LoRA must still skip it."""
    import transformers.modeling_utils as mu

    calls = []
    real_checkpoint = mu.checkpoint

    def counting_checkpoint(*args, **kwargs):
        calls.append(1)
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(mu, "checkpoint", counting_checkpoint)
    base = arch_dir("qwen2_5_vl")
    trainer = TrainerSpec(max_steps=2, batch_size=2, group_size=2, learning_rate=5e-2, beta=0.0,
                          max_completion_length=8, shuffle=False, lora_r=4, lora_alpha=8,
                          gradient_checkpointing=True, bf16=False)
    info = run_stage(base, _mixed_items(), trainer, _length_reward(tmp_path), tmp_path / "s", stage="lora",
                     variant="staged", metrics_path=tmp_path / "m.jsonl")
    assert info["lora_r"] == 4 and info["steps"] == 2
    assert calls, "gradient checkpointing was asked for but never used"

    ckpt = tmp_path / "s" / "checkpoint"
    assert not (ckpt / "adapter_config.json").exists() and not (tmp_path / "s" / "lora-adapter").exists()
    keys, changed = _changed(base, ckpt)
    assert changed, "the merged adapters should have changed the weights"
    for key in changed:
        assert not _is_vision(key) and key.split(".")[-2] in LM_PROJECTIONS, key
    model, _ = load_model(ckpt)  # a plain model: the next stage and the evaluation load it as is
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert not any("lora" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize("arch", ["qwen3_vl", "internvl"])
def test_accumulation_with_text_only_micro_batches(arch: str, arch_dir, tmp_path: Path):
    """Gradient accumulation and a rollout batch larger than the optimizer step slice each generation
    into micro-batches of one completion: text-only ones get empty image inputs from TRL, which the
    stage drops (grid-indexed images in Qwen3-VL, tile-indexed in InternVL)."""
    trainer = TrainerSpec(max_steps=2, batch_size=2, group_size=2, gradient_accumulation_steps=4, rollout_batch_size=4,
                          learning_rate=1e-2, beta=0.0, max_completion_length=8, shuffle=False, save_steps=0)
    metrics = tmp_path / "metrics.jsonl"
    info = run_stage(arch_dir(arch), _mixed_items(), trainer, _length_reward(tmp_path), tmp_path / "s", stage="mixed",
                     variant="merged", metrics_path=metrics)
    assert info["steps"] == 2
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [1, 2]
