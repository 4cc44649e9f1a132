"""Scaling knobs mapped onto TRL/accelerate/PEFT: fast checks, no training."""

import dataclasses
import inspect
from pathlib import Path

import pytest

from seethink import dist
from seethink.config import TrainerSpec, load_recipe
from seethink.errors import UserError
from seethink.training.scaling import (
    LM_PROJECTIONS,
    check_runtime,
    lora_config,
    lora_target_pattern,
    optimizer_kwargs,
    per_device_batch,
    policy_loss_kwargs,
    steps_per_generation,
    vllm_kwargs,
)
from seethink.training.stage import grpo_config

REPO = Path(__file__).resolve().parents[2]
ACCELERATE_CONFIGS = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))


def _grpo_fields() -> set[str]:
    from trl import GRPOConfig

    return set(inspect.signature(GRPOConfig).parameters)


def test_vllm_off_passes_nothing():
    assert vllm_kwargs(TrainerSpec()) == {}


def test_vllm_server_mode_maps_to_real_grpo_config_fields(tmp_path: Path):
    t = TrainerSpec(use_vllm=True, vllm_mode="server", vllm_server_host="10.0.0.5", vllm_server_port=8001,
                    vllm_server_timeout=60.0, vllm_server_base_url="http://10.0.0.5:8001", batch_size=2,
                    group_size=2)
    kw = vllm_kwargs(t)
    assert set(kw) <= _grpo_fields()
    cfg = grpo_config(t, tmp_path, 0)  # vllm itself is only needed once the trainer starts
    assert (cfg.use_vllm, cfg.vllm_mode) == (True, "server")
    assert (cfg.vllm_server_host, cfg.vllm_server_port, cfg.vllm_server_timeout) == ("10.0.0.5", 8001, 60.0)
    assert cfg.vllm_server_base_url == "http://10.0.0.5:8001"


def test_vllm_colocate_mode_maps_to_real_grpo_config_fields(tmp_path: Path):
    t = TrainerSpec(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.45,
                    vllm_tensor_parallel_size=2, vllm_max_model_length=4096, vllm_enable_sleep_mode=True,
                    batch_size=2, group_size=2)
    kw = vllm_kwargs(t)
    assert set(kw) <= _grpo_fields()
    assert "vllm_server_host" not in kw  # server settings are not sent in colocate mode
    cfg = grpo_config(t, tmp_path, 0)
    assert (cfg.use_vllm, cfg.vllm_mode) == (True, "colocate")
    assert (cfg.vllm_gpu_memory_utilization, cfg.vllm_tensor_parallel_size) == (0.45, 2)
    assert (cfg.vllm_max_model_length, cfg.vllm_enable_sleep_mode) == (4096, True)


def test_vllm_without_vllm_or_gpu_is_a_clear_error():
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is not None and torch.cuda.is_available():
        pytest.skip("vLLM and a GPU are present here")
    with pytest.raises(UserError, match="trainer.use_vllm"):
        check_runtime(TrainerSpec(use_vllm=True))


def test_precision_and_checkpointing_are_explicit(tmp_path: Path):
    """TRL's own defaults turn bf16 and gradient checkpointing on; the recipe decides instead."""
    off = grpo_config(TrainerSpec(bf16=False, gradient_checkpointing=False, batch_size=2, group_size=2), tmp_path, 0)
    assert off.bf16 is False and off.gradient_checkpointing is False
    on = grpo_config(TrainerSpec(bf16=True, gradient_checkpointing=True, batch_size=2, group_size=2), tmp_path, 0)
    assert on.bf16 is True and on.gradient_checkpointing is True


def test_unset_bf16_follows_the_hardware(tmp_path: Path, monkeypatch):
    """Unset bf16 is on only where bf16 is native: emulated bf16 on an AVX2 CPU is ~7x slower."""
    from seethink.training import scaling

    assert isinstance(scaling.native_bf16(), bool)  # the real check runs on this machine
    for native in (True, False):
        monkeypatch.setattr(scaling, "native_bf16", lambda native=native: native)
        assert grpo_config(TrainerSpec(batch_size=2, group_size=2), tmp_path, 0).bf16 is native
    assert load_recipe(None, ["trainer.bf16=null"]).trainer.bf16 is None


def test_batch_is_split_over_processes():
    """batch_size stays the prompts per optimizer step of the whole job, whatever the process count."""
    t = TrainerSpec(batch_size=4, group_size=3)
    assert per_device_batch(t, 1) == 12 and per_device_batch(t, 2) == 6 and per_device_batch(t, 4) == 3
    with pytest.raises(UserError, match="multiple of 8"):
        per_device_batch(t, 8)
    assert per_device_batch(dataclasses.replace(t, kind="sft", batch_size=4), 2) == 2


def test_rank_helpers_read_the_launcher_environment(monkeypatch: pytest.MonkeyPatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert (dist.rank(), dist.world_size(), dist.is_main_process()) == (0, 1, True)
    dist.barrier()  # a no-op in one process
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert (dist.rank(), dist.world_size(), dist.local_world_size(), dist.is_main_process()) == (3, 8, 4, False)


def test_lora_targets_the_language_model_only():
    import re

    assert lora_config(TrainerSpec()) is None
    cfg = lora_config(TrainerSpec(lora_r=8, lora_alpha=16, lora_dropout=0.05))
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout) == (8, 16, 0.05)
    pattern = lora_target_pattern(LM_PROJECTIONS)
    assert re.fullmatch(pattern, "model.language_model.layers.0.self_attn.q_proj")
    assert re.fullmatch(pattern, "model.language_model.layers.3.mlp.down_proj")
    # Qwen2.5-VL's vision MLP and InternVL's vision attention reuse these names: never adapted.
    assert not re.fullmatch(pattern, "model.visual.blocks.0.mlp.gate_proj")
    assert not re.fullmatch(pattern, "model.vision_tower.encoder.layer.0.attention.q_proj")
    assert not re.fullmatch(pattern, "model.language_model.layers.0.self_attn.q_proj.lora_A")
    only_q = lora_target_pattern(["q_proj"])
    assert re.fullmatch(only_q, "model.language_model.layers.0.self_attn.q_proj")
    assert not re.fullmatch(only_q, "model.language_model.layers.0.self_attn.k_proj")


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.vllm_mode=remote", "trainer.vllm_mode"),
        ("trainer.lora_r=-1", "trainer.lora_r"),
        ("trainer.lora_dropout=1.5", "trainer.lora_dropout"),
        ("trainer.vllm_gpu_memory_utilization=0", "trainer.vllm_gpu_memory_utilization"),
        ("trainer.vllm_server_port=70000", "trainer.vllm_server_port"),
        ("stages.0.trainer.vllm_tensor_parallel_size=0", "stages.0.trainer.vllm_tensor_parallel_size"),
    ],
)
def test_bad_scaling_values_name_their_key(override: str, key: str):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        load_recipe(None, [override])


def test_scaling_keys_load_from_overrides():
    r = load_recipe(None, ["trainer.lora_r=16", "trainer.lora_target_modules=q_proj,v_proj", "trainer.bf16=false",
                           "trainer.use_vllm=true", "trainer.vllm_mode=server", "trainer.vllm_server_port=8010"])
    t = r.trainer
    assert (t.lora_r, t.lora_target_modules, t.bf16, t.use_vllm, t.vllm_server_port) == (
        16, ["q_proj", "v_proj"], False, True, 8010)


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_configs_parse_and_pick_the_right_launcher(path: Path):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    cfg = load_config_from_file(str(path))
    assert cfg.compute_environment.value == "LOCAL_MACHINE"
    args = launch_command_parser().parse_args(["--config_file", str(path), "-m", "seethink.cli", "run", "r.yaml"])
    args, _, _ = _validate_launch_command(args)
    expected = {
        "cpu_2proc.yaml": ("multi_gpu", 2),
        "deepspeed_zero2.yaml": ("use_deepspeed", 8),
        "deepspeed_zero3.yaml": ("use_deepspeed", 8),
        "fsdp.yaml": ("use_fsdp", 8),
    }[path.name]
    launcher, n = expected
    assert getattr(args, launcher) and args.num_processes == n
    if path.name == "cpu_2proc.yaml":
        # The multi-process launcher on CPUs: `--cpu` would pick the one-process launcher instead.
        assert args.use_cpu and not args.cpu
    if path.name.startswith("deepspeed"):
        assert cfg.deepspeed_config["zero_stage"] == int(path.stem[-1])
    if path.name == "fsdp.yaml":
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_every_shipped_config_is_tested():
    assert {p.name for p in ACCELERATE_CONFIGS} == {"cpu_2proc.yaml", "deepspeed_zero2.yaml",
                                                    "deepspeed_zero3.yaml", "fsdp.yaml"}


def test_optimizer_choice_reaches_the_trainer(tmp_path: Path):
    """trainer.optim / adam_epsilon become the TrainingArguments TRL builds its optimizer from."""
    cfg = grpo_config(TrainerSpec(optim="sgd", adam_epsilon=1e-4, batch_size=2, group_size=2), tmp_path, 0)
    assert getattr(cfg.optim, "value", cfg.optim) == "sgd" and cfg.adam_epsilon == 1e-4
    default = grpo_config(TrainerSpec(batch_size=2, group_size=2), tmp_path, 0).optim
    assert getattr(default, "value", default) == "adamw_torch"


# ---------------------------------------------------------------- trainer knobs TRL already has


def test_trainer_knobs_reach_trls_grpo_config(tmp_path: Path):
    """Each knob lands in GRPOConfig under TRL's own name (after TRL's own post-init)."""
    t = TrainerSpec(batch_size=4, group_size=2, gradient_accumulation_steps=2, rollout_batch_size=8,
                    num_iterations=2, importance_sampling_level="sequence", epsilon=3e-4, epsilon_high=4e-4,
                    scale_rewards="batch", mask_truncated_completions=True, weight_decay=1e-2, max_grad_norm=0.5)
    cfg = grpo_config(t, tmp_path, 0)
    assert cfg.gradient_accumulation_steps == 2
    assert cfg.per_device_train_batch_size == 4  # 4 prompts x 2 samples over 1 process x 2 micro-steps
    assert cfg.steps_per_generation == 4  # 8 prompts per generation = 2 optimizer steps x 2 micro-steps
    assert cfg.generation_batch_size == 16  # completions: rollout_batch_size x group_size
    assert (cfg.num_iterations, cfg.importance_sampling_level) == (2, "sequence")
    assert (cfg.epsilon, cfg.epsilon_high, cfg.scale_rewards) == (3e-4, 4e-4, "batch")
    assert cfg.mask_truncated_completions is True
    assert (cfg.weight_decay, cfg.max_grad_norm) == (1e-2, 0.5)
    assert set(policy_loss_kwargs(t)) | set(optimizer_kwargs(t)) <= _grpo_fields()


def test_trainer_knob_defaults_are_todays_behaviour(tmp_path: Path):
    """Unset, the knobs give what grpo_config passed before they existed: no accumulation, one
    generation per optimizer step, and TRL's own defaults for everything else."""
    from trl import GRPOConfig

    cfg = grpo_config(TrainerSpec(batch_size=2, group_size=2), tmp_path, 0)
    ref = GRPOConfig(output_dir=str(tmp_path / "ref"), per_device_train_batch_size=4, num_generations=2,
                     gradient_accumulation_steps=1, steps_per_generation=1, use_cpu=True, report_to=[])
    for key in ("gradient_accumulation_steps", "steps_per_generation", "generation_batch_size", "num_iterations",
                "importance_sampling_level", "epsilon", "epsilon_high", "scale_rewards",
                "mask_truncated_completions", "weight_decay", "max_grad_norm", "per_device_train_batch_size"):
        assert getattr(cfg, key) == getattr(ref, key), key


def test_sft_gets_accumulation_weight_decay_and_clipping():
    from trl import SFTConfig

    t = TrainerSpec(kind="sft", batch_size=8, gradient_accumulation_steps=4, weight_decay=0.1, max_grad_norm=0.0)
    assert set(optimizer_kwargs(t)) <= set(inspect.signature(SFTConfig).parameters)
    assert per_device_batch(t, 1) == 2  # 8 items per optimizer step over 4 micro-steps


def test_batch_size_stays_prompts_per_optimizer_step_with_accumulation():
    """batch_size prompts per optimizer step for the whole job: processes x accumulation steps x
    per-device micro-batch = batch_size x group_size completions, whatever the split."""
    t = TrainerSpec(batch_size=128, group_size=5, gradient_accumulation_steps=16, rollout_batch_size=512)
    for world in (1, 2, 4, 8):
        assert per_device_batch(t, world) * world * t.gradient_accumulation_steps == 128 * 5
    assert per_device_batch(t, 8) == 5
    # The paper's rollout batch 512 and global batch 128: 4 optimizer steps per generation, each of
    # 16 micro-steps; TRL's generation batch is then 5 x 8 x 64 = 2560 completions = 512 x 5.
    assert steps_per_generation(t) == 64
    assert per_device_batch(t, 8) * 8 * steps_per_generation(t) == 512 * 5
    with pytest.raises(UserError, match=r"8 processes x 32 accumulation steps; make it a multiple of 256"):
        per_device_batch(dataclasses.replace(t, gradient_accumulation_steps=32), 8)


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.gradient_accumulation_steps=0", "trainer.gradient_accumulation_steps"),
        ("trainer.rollout_batch_size=6", "trainer.rollout_batch_size"),  # batch_size 4
        ("trainer.num_iterations=0", "trainer.num_iterations"),
        ("trainer.importance_sampling_level=seq", "trainer.importance_sampling_level"),
        ("trainer.epsilon=0", "trainer.epsilon"),
        ("trainer.epsilon_high=-0.1", "trainer.epsilon_high"),
        ("trainer.scale_rewards=std", "trainer.scale_rewards"),
        ("trainer.weight_decay=-1", "trainer.weight_decay"),
        ("trainer.max_grad_norm=-1", "trainer.max_grad_norm"),
        ("stages.2.trainer.epsilon=1.5", "stages.2.trainer.epsilon"),
    ],
)
def test_bad_trainer_knobs_name_their_key(override: str, key: str):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        load_recipe(None, [override])


def test_trainer_knobs_load_per_stage():
    r = load_recipe(None, ["trainer.importance_sampling_level=sequence", "trainer.epsilon_high=0.28",
                           "trainer.rollout_batch_size=16", "stages.1.trainer.max_grad_norm=0.5",
                           "stages.1.trainer.epsilon=0.15", "trainer.scale_rewards=none"])
    from seethink.config import stage_trainer

    t0, t1 = (stage_trainer(r, s) for s in r.stages[:2])
    assert (t0.importance_sampling_level, t0.epsilon_high, t0.rollout_batch_size, t0.scale_rewards) == (
        "sequence", 0.28, 16, "none")
    assert (t0.max_grad_norm, t0.epsilon, t1.max_grad_norm, t1.epsilon) == (1.0, 0.2, 0.5, 0.15)
    assert load_recipe(None, ["trainer.epsilon_high=null"]).trainer.epsilon_high is None
