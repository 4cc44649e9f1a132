"""One training stage over TRL: items in, checkpoint out.

We own the data, the reward adapters, the metrics file and freezing; TRL's
GRPOTrainer (or SFTTrainer) does the optimisation. Reward parts are handed to TRL as
separate reward functions with their weights (default 0.9 accuracy + 0.1 format), so
TRL's own logs carry each part and their weighted sum is the GRPO reward.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import RewardSpec, TrainerSpec
from seethink.errors import UserError
from seethink.rewards.core import Reward, build_reward, part_name
from seethink.storage import disk_errors, strip_pickles
from seethink.training.resume import (
    ResumeExactly,
    checkpoint_args,
    checkpoint_step,
    drop_metrics_after,
    last_checkpoint,
    logged_train_loss,
    restore_weights,
)
from seethink.training.scaling import (
    check_runtime,
    lora_config,
    per_device_batch,
    precision_kwargs,
    save_checkpoint,
    vllm_kwargs,
)
from seethink.utils import append_jsonl, atomic_dir, file_lock

# TRL log keys we keep in metrics.jsonl (renamed to short, stable names).
_KEEP = {
    "loss": "loss",
    "reward": "reward",
    "reward_std": "reward_std",
    "rewards/accuracy/mean": "accuracy",
    "rewards/format/mean": "format",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_ratio",
    "kl": "kl",
    "entropy": "entropy",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "frac_reward_zero_std": "frac_zero_std_groups",
    "reward_errors": "reward_errors",  # reward calls that raised (scored 0), from RewardFaultsToLogs
    "reward_timeouts": "reward_timeouts",  # reward calls cut off at reward.timeout_s (scored 0)
}


def _metrics_callback(path: Path, stage: str, variant: str) -> Any:
    from transformers import TrainerCallback

    class MetricsToJsonl(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if not logs or not state.is_world_process_zero or "train_runtime" in logs:
                return
            row: dict[str, Any] = {"variant": variant, "stage": stage, "step": state.global_step}
            for key, short in _KEEP.items():
                if key in logs and isinstance(logs[key], (int, float)) and math.isfinite(logs[key]):
                    row[short] = float(logs[key])
            with file_lock(path):  # variants in parallel processes share the file
                append_jsonl(path, row)

    return MetricsToJsonl()


class _SharedReward:
    """Computes the combined reward once per (completion, item) for all of TRL's part functions.

    TRL calls each reward function on the whole batch in turn; without this every part
    function would recompute every part (math-verify included).
    """

    def __init__(self, combined: Any) -> None:
        self.combined = combined
        self.items: dict[str, dict] = {}
        self.last: dict[tuple[str, str], dict[str, float]] = {}

    def parts(self, completion: Any, raw: str) -> dict[str, float]:
        key = (json.dumps(completion) if not isinstance(completion, str) else completion, raw)
        hit = self.last.get(key)
        if hit is None:
            item = self.items.get(raw)
            if item is None:
                if len(self.items) > 50_000:
                    self.items.clear()
                item = self.items[raw] = json.loads(raw)
            if len(self.last) > 4096:  # one generation batch is far smaller; keep memory bounded
                self.last.clear()
            hit = self.last[key] = self.combined(completion, item)
        return hit


def _part_reward(part: str, shared: _SharedReward) -> Any:
    """A TRL reward function returning one part of our combined reward."""

    def fn(prompts: list, completions: list, item: list[str], **_: Any) -> list[float]:
        return [float(shared.parts(c, raw).get(part, 0.0)) for c, raw in zip(completions, item, strict=True)]

    fn.__name__ = part  # TRL names the log keys after the function
    return fn


def reward_functions(spec: RewardSpec) -> tuple[list[Any], list[float], Reward]:
    """TRL reward functions (one per part), their weights, and the combined reward (faults, close)."""
    combined = build_reward(0.0, 0.0, spec.extra, spec.extra_weights, timeout_s=spec.timeout_s)
    names = ["accuracy", "format", *(part_name(e) for e in spec.extra)]
    weights = [spec.accuracy_weight, spec.format_weight, *(spec.extra_weights or [1.0] * len(spec.extra))]
    shared = _SharedReward(combined)
    return [_part_reward(n, shared) for n in names], weights, combined


def vision_tower(model: Any) -> Any:
    """The vision encoder module: `visual` (Qwen-VL family), `vision_tower` (InternVL, LLaVA), ..."""
    for owner in (getattr(model, "model", None), model):
        for name in ("visual", "vision_tower", "vision_model"):
            module = getattr(owner, name, None) if owner is not None else None
            if module is not None and hasattr(module, "parameters"):
                return module
    return None


def set_vision_frozen(model: Any, frozen: bool) -> int:
    """(Un)freeze the vision tower; returns how many parameters it holds."""
    visual = vision_tower(model)
    if visual is None:
        if frozen:
            raise UserError("freeze_vision=true but this model has no recognisable vision tower")
        return 0
    n = 0
    for p in visual.parameters():
        p.requires_grad_(not frozen)
        n += p.numel()
    return n


def grpo_config(t: TrainerSpec, out_dir: Path, seed: int, **extra: Any) -> Any:
    import torch
    from trl import GRPOConfig

    # bf16 and checkpointing always explicit: TRL's own defaults turn both on.
    extra = {**precision_kwargs(t, GRPOConfig), **vllm_kwargs(t), **extra}
    return GRPOConfig(
        output_dir=str(out_dir / "trainer"),
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a fraction < 1 is read as a ratio
        optim=t.optim,
        adam_epsilon=t.adam_epsilon,
        # TRL counts completions per device step: batch_size prompts x group_size samples per
        # optimizer step for the whole job, split over the launched processes.
        per_device_train_batch_size=per_device_batch(t),
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=t.group_size,
        beta=t.beta,
        loss_type=t.loss_type,
        temperature=t.temperature,
        top_p=t.top_p,
        max_completion_length=t.max_completion_length,
        shuffle_dataset=t.shuffle,
        logging_steps=t.logging_steps,
        **checkpoint_args(t.save_steps),  # resumable: trainer/checkpoint-N, newest only
        report_to=[],
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=False,
        **extra,
    )


def drop_long_prompts(items: list[dict], processor: Any, max_tokens: int, log: Any = print,
                      stage: str = "") -> list[dict]:
    """Drop items whose text prompt alone exceeds the limit (truncating a prompt corrupts it)."""
    from seethink.data.prompts import render_prompt

    tok = getattr(processor, "tokenizer", processor)
    kept = [it for it in items if len(tok(render_prompt(it))["input_ids"]) <= max_tokens]
    if len(kept) < len(items):
        log(f"[stage] dropped {len(items) - len(kept)} items whose prompt exceeds {max_tokens} tokens")
    if not kept:
        raise UserError(f"stage '{stage}': no training items left after the prompt-length filter: all {len(items)} "
                        f"prompts exceed trainer.max_prompt_length={max_tokens} tokens; raise it for this stage")
    return kept


def run_stage(
    model_path: str | Path,
    items: list[dict],
    trainer: TrainerSpec,
    reward: RewardSpec,
    out_dir: str | Path,
    *,
    stage: str,
    variant: str,
    metrics_path: str | Path,
    seed: int = 0,
    cell_px: int = 28,
    trust_remote_code: bool = False,
    dtype: str = "float32",
    log: Any = print,
    resume: bool = False,
) -> dict:
    """Train one stage from `model_path`; the checkpoint lands in `out_dir/checkpoint`.

    `resume=True` (the pipeline): continue from the newest complete `out_dir/trainer/checkpoint-N`
    a killed run left, after dropping this stage's metrics rows logged past it, and keep
    `out_dir/trainer` (the caller removes it once the stage is recorded as finished).
    """
    from seethink.models.load import load_model
    from seethink.training.callbacks import RewardFaultsToLogs, StopOnNonFinite, train_checked
    from seethink.training.datasets import grpo_dataset

    out_dir = Path(out_dir)
    check_runtime(trainer)
    resume_from = _resume_point(out_dir, resume, metrics_path, variant, stage, log)
    model, processor = load_model(model_path, trust_remote_code=trust_remote_code, dtype=dtype)
    if resume_from is not None:
        restore_weights(model, resume_from, trust_remote_code=trust_remote_code)
    set_vision_frozen(model, trainer.freeze_vision)
    items = drop_long_prompts(items, processor, trainer.max_prompt_length, log=log, stage=stage)
    dataset = grpo_dataset(items, cell_px=cell_px)
    callback = _metrics_callback(Path(metrics_path), stage, variant)
    guard = StopOnNonFinite(stage, variant)
    combined: Reward | None = None
    t0 = time.time()
    if trainer.kind == "grpo":
        from trl import GRPOTrainer

        funcs, weights, combined = reward_functions(reward)
        # An honest loss in the logs: the default filter hides NaN steps from StopOnNonFinite.
        args = grpo_config(trainer, out_dir, seed, reward_weights=weights, logging_nan_inf_filter=False)
        tr = GRPOTrainer(
            model=model, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processor,
            peft_config=lora_config(trainer),
            callbacks=[guard, RewardFaultsToLogs(combined.faults), callback, ResumeExactly()],
        )
    else:
        tr = _sft_trainer(model, processor, items, trainer, out_dir, seed, cell_px, [guard, callback, ResumeExactly()])
    try:
        result = train_checked(tr, guard, resume_from_checkpoint=str(resume_from) if resume_from else None)
    finally:
        if combined is not None:
            combined.close()
    faults = combined.faults if combined is not None else None
    if faults is not None and faults.summary():
        log(f"[{variant}/{stage}] " + faults.summary().replace("\n", f"\n[{variant}/{stage}] "))
    ckpt = out_dir / "checkpoint"
    with disk_errors(ckpt), atomic_dir(ckpt, writer=dist.is_main_process()) as tmp:
        save_checkpoint(tr, processor, tmp, base_path=model_path, lora=trainer.lora_r > 0, dtype=dtype,
                        trust_remote_code=trust_remote_code)
        if dist.is_main_process():
            strip_pickles(tmp)
    if dist.is_main_process() and not resume:
        shutil.rmtree(out_dir / "trainer", ignore_errors=True)
    return {"seconds": time.time() - t0, "world_size": int(tr.accelerator.num_processes), "lora_r": trainer.lora_r,
            "train_loss": logged_train_loss(tr.state, result.training_loss), "items": len(items),
            "steps": int(result.global_step), **(faults.totals() if faults is not None else {})}


def _resume_point(out_dir: Path, resume: bool, metrics_path: str | Path, variant: str, stage: str,
                  log: Any) -> Path | None:
    """The checkpoint to continue from (resume) after trimming the log; else a clean trainer folder."""
    if not dist.is_main_process():  # the main process tidies; every rank reads the same folder
        return last_checkpoint(out_dir / "trainer", tidy=False) if resume else None
    if not resume:
        shutil.rmtree(out_dir / "trainer", ignore_errors=True)
        return None
    ckpt = last_checkpoint(out_dir / "trainer")
    drop_metrics_after(metrics_path, variant, stage, checkpoint_step(ckpt) if ckpt else 0)
    if ckpt is not None:
        log(f"[{variant}/{stage}] resuming from {ckpt} (step {checkpoint_step(ckpt)})")
    return ckpt


def _sft_trainer(model: Any, processor: Any, items: list[dict], t: TrainerSpec, out_dir: Path, seed: int,
                 cell_px: int, callbacks: list[Any]) -> Any:
    """A supervised stage (e.g. caption SFT baselines) on the items' worked solutions."""
    import torch
    from trl import SFTConfig, SFTTrainer

    from seethink.training.datasets import sft_dataset

    missing = [it.get("id", "?") for it in items if not it.get("solution")]
    if missing:
        raise UserError(f"SFT stage needs a 'solution' field; missing on item {missing[0]} (+{len(missing) - 1})")
    args = SFTConfig(
        output_dir=str(out_dir / "trainer"),
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        optim=t.optim,
        adam_epsilon=t.adam_epsilon,
        per_device_train_batch_size=per_device_batch(t),
        logging_steps=t.logging_steps,
        **checkpoint_args(t.save_steps),
        report_to=[],
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        max_length=None,
        completion_only_loss=True,
        **precision_kwargs(t, SFTConfig),
        shuffle_dataset=t.shuffle,
        logging_nan_inf_filter=False,
    )
    return SFTTrainer(model=model, args=args, train_dataset=sft_dataset(items, cell_px=cell_px),
                      peft_config=lora_config(t),
                      processing_class=processor, callbacks=callbacks)
