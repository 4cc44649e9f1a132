"""One training stage over TRL: items in, checkpoint out.

We own the data, the reward adapters, the metrics file and freezing; TRL's
GRPOTrainer (or SFTTrainer) does the optimisation. Reward parts are handed to TRL as
separate reward functions with their weights (default 0.9 accuracy + 0.1 format), so
TRL's own logs carry each part and their weighted sum is the GRPO reward.

Every logged step also goes to TensorBoard by default (`report_to`), one event folder per
stage: `<stage out_dir>/tensorboard/` (view a run with `tensorboard --logdir runs/NAME/stages`).
"""

from __future__ import annotations

import importlib.util
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
    optimizer_kwargs,
    per_device_batch,
    policy_loss_kwargs,
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


# Experiment trackers a stage can log to (`report_to`): name -> (module, how to install it).
REPORTERS = {
    "tensorboard": ("tensorboard", "pip install tensorboard"),
    "wandb": ("wandb", "pip install wandb"),
    "mlflow": ("mlflow", "pip install mlflow"),
}
DEFAULT_REPORT_TO = ("tensorboard",)
TENSORBOARD_DIR = "tensorboard"  # inside the stage's folder


def report_to_list(names: list[str] | tuple[str, ...]) -> list[str]:
    """The trackers to log to, checked: known names, installed; [] (or ["none"]) logs to none."""
    out: list[str] = []
    for raw in names:
        name = str(raw).strip().lower()
        if name == "none":
            continue
        if name not in REPORTERS:
            raise UserError(f"logging.report_to: unknown tracker {raw!r}; choose from {', '.join(REPORTERS)} "
                            "(an empty list logs to none)")
        module, install = REPORTERS[name]
        if importlib.util.find_spec(module) is None:
            raise UserError(f"logging.report_to: {name!r} is not installed; install it with `{install}` "
                            f"(or remove {name!r} from logging.report_to)")
        if name not in out:
            out.append(name)
    return out


def _tensorboard_callback(log_dir: Path, purge_step: int | None) -> Any:
    """transformers' TensorBoardCallback writing to `log_dir` (its default is inside the trainer's
    output_dir, which a finished stage deletes; transformers 5 has no `logging_dir` argument).

    `purge_step`: after a resume from checkpoint-N, N + 1: TensorBoard then hides the events a
    killed run logged past the checkpoint, as the pipeline drops those rows from metrics.jsonl.
    """
    from transformers.integrations import TensorBoardCallback

    class StageTensorBoard(TensorBoardCallback):
        def __init__(self) -> None:
            super().__init__()
            self.logging_dir = str(log_dir)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.is_world_process_zero and self.tb_writer is None:  # only the main process writes
                from torch.utils.tensorboard import SummaryWriter

                self.tb_writer = SummaryWriter(log_dir=self.logging_dir, purge_step=purge_step)
            super().on_train_begin(args, state, control, **kw)

    return StageTensorBoard()


def _reporting(report_to: list[str], out_dir: Path, resume_from: Path | None) -> tuple[list[str], list[Any]]:
    """(the trainer config's `report_to`, extra callbacks): TensorBoard goes through our own
    callback (to choose its folder), the other trackers through transformers' integrations."""
    others = [n for n in report_to if n != "tensorboard"]
    if "tensorboard" not in report_to:
        return others, []
    purge = checkpoint_step(resume_from) + 1 if resume_from is not None else None
    return others, [_tensorboard_callback(out_dir / TENSORBOARD_DIR, purge)]


def _finish_wandb_run() -> None:
    """One W&B run per stage: transformers' WandbCallback leaves its run open at train end, and the
    next stage (its steps counting from 1 again) would log into it and have its rows dropped."""
    import wandb

    if wandb.run is not None:
        wandb.finish()


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


# Image inputs of a forward pass; a chunk of text-only rows gets them empty (0 images).
_IMAGE_KWARGS = ("pixel_values", "image_grid_thw", "image_sizes", "pixel_attention_mask", "spatial_shapes",
                 "image_position_ids")


def drop_empty_image_inputs(model: Any) -> None:
    """Let a forward pass over text-only rows of a mixed batch run as text: TRL slices a generation
    batch into micro-batches (gradient accumulation, rollout_batch_size > batch_size) and hands a
    slice with no image empty `pixel_values` and `image_grid_thw`, on which the vision tower fails
    (`torch.cat(): expected a non-empty list`). A pre-hook on the model and on its backbone (TRL's
    fused loss calls the backbone directly) drops empty image inputs."""

    def hook(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        pv = kwargs.get("pixel_values")
        if pv is not None and hasattr(pv, "numel") and pv.numel() == 0:
            kwargs = {k: v for k, v in kwargs.items() if k not in _IMAGE_KWARGS}
        return args, kwargs

    seen: set[int] = set()
    for module in (model, getattr(model, "model", None), getattr(model, "base_model", None)):
        if module is not None and hasattr(module, "register_forward_pre_hook") and id(module) not in seen:
            seen.add(id(module))
            module.register_forward_pre_hook(hook, with_kwargs=True)


def grpo_config(t: TrainerSpec, out_dir: Path, seed: int, **extra: Any) -> Any:
    import torch
    from trl import GRPOConfig

    # bf16 and checkpointing always explicit: TRL's own defaults turn both on. No trackers
    # unless asked (run_stage passes them: TensorBoard by default).
    extra = {"report_to": [], **precision_kwargs(t, GRPOConfig), **vllm_kwargs(t), **extra}
    return GRPOConfig(
        output_dir=str(out_dir / "trainer"),
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a fraction < 1 is read as a ratio
        optim=t.optim,
        adam_epsilon=t.adam_epsilon,
        # TRL counts completions per device micro-step: batch_size prompts x group_size samples
        # per optimizer step for the whole job, split over the launched processes and the
        # gradient accumulation steps; one generation feeds rollout_batch_size / batch_size
        # optimizer steps (steps_per_generation, in micro-steps).
        per_device_train_batch_size=per_device_batch(t),
        **optimizer_kwargs(t),
        **policy_loss_kwargs(t),
        num_generations=t.group_size,
        beta=t.beta,
        loss_type=t.loss_type,
        temperature=t.temperature,
        top_p=t.top_p,
        max_completion_length=t.max_completion_length,
        shuffle_dataset=t.shuffle,
        logging_steps=t.logging_steps,
        **checkpoint_args(t.save_steps),  # resumable: trainer/checkpoint-N, newest only
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
    trust_remote_code: bool = False,
    dtype: str = "float32",
    log: Any = print,
    resume: bool = False,
    report_to: list[str] | None = None,
) -> dict:
    """Train one stage from `model_path`; the checkpoint lands in `out_dir/checkpoint`.

    `resume=True` (the pipeline): continue from the newest complete `out_dir/trainer/checkpoint-N`
    a killed run left, after dropping this stage's metrics rows logged past it, and keep
    `out_dir/trainer` (the caller removes it once the stage is recorded as finished).

    `report_to`: experiment trackers (`report_to_list`); None = TensorBoard, whose event files
    land in `out_dir/tensorboard/`; [] logs to metrics.jsonl only.
    """
    from seethink.training.callbacks import StopOnNonFinite

    out_dir = Path(out_dir)
    check_runtime(trainer)
    trackers = report_to_list(list(DEFAULT_REPORT_TO) if report_to is None else report_to)
    resume_from = _resume_point(out_dir, resume, metrics_path, variant, stage, log)
    if resume_from is None and dist.is_main_process():  # a stage trained from its start logs afresh
        shutil.rmtree(out_dir / TENSORBOARD_DIR, ignore_errors=True)
    report_args, report_callbacks = _reporting(trackers, out_dir, resume_from)
    model, processor = _stage_model(model_path, resume_from, trainer, trust_remote_code=trust_remote_code, dtype=dtype)
    items = drop_long_prompts(items, processor, trainer.max_prompt_length, log=log, stage=stage)
    loggers = [_metrics_callback(Path(metrics_path), stage, variant), *report_callbacks]
    guard = StopOnNonFinite(stage, variant)
    t0 = time.time()
    tr, combined = _trainer(model, processor, items, trainer, reward, out_dir, seed=seed, guard=guard, loggers=loggers,
                            report_to=report_args, run_name=f"{variant}/{stage}")
    _install_fast_paths(tr, trainer, log, f"{variant}/{stage}")
    result = _train(tr, guard, resume_from, combined, trackers)
    faults = combined.faults if combined is not None else None
    if faults is not None and faults.summary():
        log(f"[{variant}/{stage}] " + faults.summary().replace("\n", f"\n[{variant}/{stage}] "))
    _save_stage(tr, processor, out_dir, model_path, trainer, trust_remote_code=trust_remote_code, dtype=dtype)
    if dist.is_main_process() and not resume:
        shutil.rmtree(out_dir / "trainer", ignore_errors=True)
    return {"seconds": time.time() - t0, "world_size": int(tr.accelerator.num_processes), "lora_r": trainer.lora_r,
            "train_loss": logged_train_loss(tr.state, result.training_loss), "items": len(items),
            "steps": int(result.global_step), **(faults.totals() if faults is not None else {})}


def _install_fast_paths(tr: Any, trainer: TrainerSpec, log: Any, tag: str) -> None:
    """seethink's lean decode loop for rollouts and shared prompt passes for log-probabilities,
    where the settings and the model allow (each says why when it cannot)."""
    from seethink.models import fastgen, shared_prompt

    if trainer.kind != "grpo":
        return
    if not trainer.use_vllm and fastgen.wanted(trainer.fast_generation, tr.model):
        why = fastgen.install(tr.model)
        if why is not None:
            log(f"[{tag}] rollouts through transformers' generate (lean decoding does not cover {why})")
    if shared_prompt.wanted(trainer.shared_prompt, tr.model):
        why = shared_prompt.install(tr)
        if why is not None:
            log(f"[{tag}] log-probabilities through TRL's own pass (shared prompt passes do not cover {why})")


def _stage_model(model_path: str | Path, resume_from: Path | None, trainer: TrainerSpec, *,
                 trust_remote_code: bool, dtype: str) -> tuple[Any, Any]:
    """(model, processor) ready to train: the resumed checkpoint's weights, vision tower frozen or
    not, text-only micro-batches of a mixed batch running as text."""
    from seethink.models.load import load_model

    model, processor = load_model(model_path, trust_remote_code=trust_remote_code, dtype=dtype)
    if resume_from is not None:
        restore_weights(model, resume_from, trust_remote_code=trust_remote_code)
    set_vision_frozen(model, trainer.freeze_vision)
    drop_empty_image_inputs(model)
    return model, processor


def _trainer(model: Any, processor: Any, items: list[dict], trainer: TrainerSpec, reward: RewardSpec, out_dir: Path,
             *, seed: int, guard: Any, loggers: list[Any], **report: Any) -> tuple[Any, Reward | None]:
    """The TRL trainer of the stage's kind and, for GRPO, the combined reward (its faults; closed
    after training). `loggers`: the metrics file's callback and the trackers' callbacks."""
    from seethink.training.callbacks import RewardFaultsToLogs
    from seethink.training.datasets import grpo_dataset

    if trainer.kind != "grpo":
        return _sft_trainer(model, processor, items, trainer, out_dir, seed,
                            [guard, *loggers, ResumeExactly()], **report), None
    from trl import GRPOTrainer

    funcs, weights, combined = reward_functions(reward)
    # An honest loss in the logs: the default filter hides NaN steps from StopOnNonFinite.
    args = grpo_config(trainer, out_dir, seed, reward_weights=weights, logging_nan_inf_filter=False, **report)
    tr = GRPOTrainer(
        model=model, reward_funcs=funcs, args=args, train_dataset=grpo_dataset(items),
        processing_class=processor, peft_config=lora_config(trainer),
        callbacks=[guard, RewardFaultsToLogs(combined.faults), *loggers, ResumeExactly()],
    )
    return tr, combined


def _train(tr: Any, guard: Any, resume_from: Path | None, combined: Reward | None, trackers: list[str]) -> Any:
    """TRL's training result; the reward's workers and a W&B run are closed however it ends."""
    from seethink.training.callbacks import train_checked

    try:
        return train_checked(tr, guard, resume_from_checkpoint=str(resume_from) if resume_from else None)
    finally:
        if combined is not None:
            combined.close()
        if "wandb" in trackers:
            _finish_wandb_run()


def _save_stage(tr: Any, processor: Any, out_dir: Path, model_path: str | Path, trainer: TrainerSpec, *,
                trust_remote_code: bool, dtype: str) -> None:
    """The trained model into `out_dir/checkpoint`, written whole or not at all (no pickles)."""
    ckpt = out_dir / "checkpoint"
    with disk_errors(ckpt), atomic_dir(ckpt, writer=dist.is_main_process()) as tmp:
        save_checkpoint(tr, processor, tmp, base_path=model_path, lora=trainer.lora_r > 0, dtype=dtype,
                        trust_remote_code=trust_remote_code)
        if dist.is_main_process():
            strip_pickles(tmp)


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
                 callbacks: list[Any], **extra: Any) -> Any:
    """A supervised stage on the items' `solution` as the assistant's answer: worked solutions,
    or captions (caption SFT, the ablation of perception RL: `toy_caption`, `seethink data captions`)."""
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
        **optimizer_kwargs(t),
        logging_steps=t.logging_steps,
        **checkpoint_args(t.save_steps),
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        max_length=None,
        completion_only_loss=True,
        **precision_kwargs(t, SFTConfig),
        shuffle_dataset=t.shuffle,
        logging_nan_inf_filter=False,
        **{"report_to": [], **extra},
    )
    return SFTTrainer(model=model, args=args, train_dataset=sft_dataset(items),
                      peft_config=lora_config(t),
                      processing_class=processor, callbacks=callbacks)
