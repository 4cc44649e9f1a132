"""Scaling knobs of a stage, mapped onto TRL/transformers/PEFT arguments.

* precision: `trainer.bf16` (bf16 autocast; unset = where the hardware has native bf16)
  and `trainer.gradient_checkpointing`, always passed explicitly (TRL's own defaults
  turn both on);
* processes and accumulation: `trainer.batch_size` stays the number of prompts per
  optimizer step for the whole job, split over the launched processes and over
  `trainer.gradient_accumulation_steps` micro-steps in each (`per_device_batch`);
  `trainer.rollout_batch_size` prompts are generated at once and feed
  rollout_batch_size / batch_size optimizer steps (`generation_kwargs`);
* LoRA: `trainer.lora_r > 0` trains PEFT adapters on the language model's projections,
  and the stage checkpoint is saved merged (a plain model for the next stage and eval);
* vLLM: `trainer.use_vllm` and the `vllm_*` settings, passed to TRL's GRPOConfig.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import TrainerSpec
from seethink.errors import UserError
from seethink.hardware import native_bf16

# Linear layers of the language model's attention and MLP blocks (Qwen2/Qwen3/Llama naming).
LM_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def use_bf16(t: TrainerSpec) -> bool:
    """`trainer.bf16` as set, or, when unset, whether the hardware has native bf16."""
    return native_bf16() if t.bf16 is None else t.bf16


def precision_kwargs(t: TrainerSpec, config_cls: Any) -> dict[str, Any]:
    """bf16 and activation checkpointing, named as this transformers version names them."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    bf16 = use_bf16(t)
    out: dict[str, Any] = {"bf16": bf16}
    if bf16:
        out["fp16"] = False
    key = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    out[key] = t.gradient_checkpointing
    return out


def per_device_batch(t: TrainerSpec, world: int | None = None) -> int:
    """Completions (SFT: items) per process per micro-step: batch_size prompts x group_size for
    one optimizer step of the whole job, split over the processes and the accumulation steps."""
    world = world or dist.world_size()
    total = t.batch_size * t.group_size if t.kind == "grpo" else t.batch_size
    parts = world * t.gradient_accumulation_steps
    if total % parts:
        what = "batch_size x group_size" if t.kind == "grpo" else "batch_size"
        split = f"{world} processes" + (f" x {t.gradient_accumulation_steps} accumulation steps"
                                        if t.gradient_accumulation_steps > 1 else "")
        raise UserError(f"config key 'trainer.batch_size': {what} = {total} completions per step cannot be "
                        f"split evenly over {split}; make it a multiple of {parts}")
    return total // parts


def steps_per_generation(t: TrainerSpec) -> int:
    """TRL's steps_per_generation: micro-steps fed by one generation (the rollout batch)."""
    rollout = t.rollout_batch_size or t.batch_size
    return t.gradient_accumulation_steps * rollout // t.batch_size


def optimizer_kwargs(t: TrainerSpec) -> dict[str, Any]:
    """Accumulation, weight decay and gradient clipping (TrainingArguments' names; GRPO and SFT)."""
    return {"gradient_accumulation_steps": t.gradient_accumulation_steps, "weight_decay": t.weight_decay,
            "max_grad_norm": t.max_grad_norm}


def policy_loss_kwargs(t: TrainerSpec) -> dict[str, Any]:
    """GRPOConfig's policy-loss settings, under TRL's own names."""
    return {"num_iterations": t.num_iterations, "importance_sampling_level": t.importance_sampling_level,
            "epsilon": t.epsilon, "epsilon_high": t.epsilon_high, "scale_rewards": t.scale_rewards,
            "mask_truncated_completions": t.mask_truncated_completions,
            "steps_per_generation": steps_per_generation(t)}


def vllm_kwargs(t: TrainerSpec) -> dict[str, Any]:
    """GRPOConfig arguments for vLLM rollouts ({} when vLLM is off)."""
    if not t.use_vllm:
        return {}
    out: dict[str, Any] = {"use_vllm": True, "vllm_mode": t.vllm_mode}
    if t.vllm_mode == "server":
        out.update(vllm_server_host=t.vllm_server_host, vllm_server_port=t.vllm_server_port,
                   vllm_server_timeout=t.vllm_server_timeout)
        if t.vllm_server_base_url:
            out["vllm_server_base_url"] = t.vllm_server_base_url
    else:  # colocate: one vLLM engine inside each training process
        out.update(vllm_gpu_memory_utilization=t.vllm_gpu_memory_utilization,
                   vllm_tensor_parallel_size=t.vllm_tensor_parallel_size,
                   vllm_enable_sleep_mode=t.vllm_enable_sleep_mode)
        if t.vllm_max_model_length:
            out["vllm_max_model_length"] = t.vllm_max_model_length
    return out


def check_runtime(t: TrainerSpec) -> None:
    """Fail before loading a model when a knob needs something this machine lacks."""
    if t.use_vllm:
        import torch

        if importlib.util.find_spec("vllm") is None:
            raise UserError("config key 'trainer.use_vllm': vLLM is not installed; pip install 'seethink[vllm]' "
                            "(needs a GPU), or set trainer.use_vllm=false")
        if not torch.cuda.is_available():
            raise UserError("config key 'trainer.use_vllm': vLLM rollouts need a GPU; none is visible")
    if t.lora_r > 0 and importlib.util.find_spec("peft") is None:
        raise UserError("config key 'trainer.lora_r': LoRA needs the peft package (pip install peft)")


def lora_target_pattern(names: list[str] | tuple[str, ...]) -> str:
    """A PEFT target regex: the named linear layers inside the language model only (never the vision tower)."""
    alts = "|".join(re.escape(n) for n in names)
    return rf".*language_model\..*\.({alts})"


def lora_config(t: TrainerSpec) -> Any:
    """A peft LoraConfig for the stage, or None when trainer.lora_r is 0."""
    if t.lora_r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout, bias="none",
                      target_modules=lora_target_pattern(t.lora_target_modules or LM_PROJECTIONS))


def save_checkpoint(tr: Any, processor: Any, ckpt: Path, *, base_path: str | Path, lora: bool, dtype: str,
                    trust_remote_code: bool = False) -> None:
    """Save the trained model (LoRA merged into the base weights) and its processor.

    Every process calls this (saving may gather sharded weights); only the main process
    writes. LoRA adapters are saved through the trainer first, which handles ZeRO-3 and
    FSDP gathering, then merged into a fresh copy of the stage's starting model, so the
    checkpoint is a plain model for the next stage and for evaluation.
    """
    if not lora:
        tr.save_model(str(ckpt))
    else:
        adapter = ckpt.parent / "lora-adapter"
        tr.save_model(str(adapter))
        if dist.is_main_process():
            merge_adapter(base_path, adapter, ckpt, dtype=dtype, trust_remote_code=trust_remote_code)
            shutil.rmtree(adapter, ignore_errors=True)
    if dist.is_main_process():
        processor.save_pretrained(ckpt)
    tr.accelerator.wait_for_everyone()


def merge_adapter(base_path: str | Path, adapter: str | Path, out: str | Path, *, dtype: str = "float32",
                  trust_remote_code: bool = False) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    base = AutoModelForImageTextToText.from_pretrained(
        base_path, dtype=torch_dtype, trust_remote_code=trust_remote_code, local_files_only=True
    )
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
