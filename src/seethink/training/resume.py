"""Mid-stage checkpoints and resuming from them, exactly.

A stage (and the warm-start SFT) saves a full trainer checkpoint (weights, optimizer,
scheduler, RNG states, trainer state) every `save_steps` optimizer steps into
`trainer/checkpoint-N`, keeping only the newest. A killed run, re-run, continues from the
newest *complete* checkpoint: transformers writes `trainer_state.json` last, so a folder
without a readable one was cut off while saving and is deleted.

What makes the continuation equal to an uninterrupted run (same weights, same log rows):

* transformers restores the optimizer, scheduler and RNG states and skips the batches
  already trained in the current epoch;
* TRL's GRPO sampler draws a fresh permutation from its own generator every epoch and a
  resumed trainer would start that generator from its seed again, so `ResumeExactly`
  fast-forwards it by the epochs already trained;
* log rows written after the checkpoint are dropped from metrics.jsonl before training
  continues (`drop_metrics_after`), so each step appears exactly once.

With `logging_steps` > 1 and `save_steps` not a multiple of it, the first logged row after
a resume averages fewer steps than the uninterrupted run's (the trainer keeps no running
sums in a checkpoint); the weights are still the same.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from seethink.utils import file_lock, read_appended_jsonl, write_jsonl

_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_args(save_steps: int) -> dict[str, Any]:
    """TrainingArguments for periodic resumable checkpoints (0: none)."""
    if save_steps <= 0:
        return {"save_strategy": "no"}
    return {"save_strategy": "steps", "save_steps": save_steps, "save_total_limit": 1}


def checkpoint_step(path: Path) -> int:
    m = _CKPT.match(path.name)
    return int(m.group(1)) if m else 0


def last_checkpoint(trainer_dir: str | Path, tidy: bool = True) -> Path | None:
    """The newest complete `checkpoint-N` in `trainer_dir`; with `tidy`, every other one is deleted."""
    root = Path(trainer_dir)
    if not root.is_dir():
        return None
    complete: list[tuple[int, Path]] = []
    for d in root.iterdir():
        step = checkpoint_step(d)
        if not step or not d.is_dir():
            continue
        try:
            ok = json.loads((d / "trainer_state.json").read_text()).get("global_step") == step
        except (OSError, ValueError):
            ok = False
        if ok:
            complete.append((step, d))
        elif tidy:
            shutil.rmtree(d, ignore_errors=True)  # cut off while saving
    complete.sort()
    for _, d in complete[:-1] if tidy else []:
        shutil.rmtree(d, ignore_errors=True)
    return complete[-1][1] if complete else None


_LOAD_WARNINGS = ("There were missing keys in the checkpoint model loaded",
                  "There were unexpected keys in the checkpoint model loaded")


class _QuietNameMismatch(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_LOAD_WARNINGS)


def restore_weights(model: Any, ckpt: Path, trust_remote_code: bool = False) -> bool:
    """Put a trainer checkpoint's weights into `model`, in place, when the trainer cannot.

    transformers' Trainer restores weights by plain state-dict names. Models whose saved names
    differ from their module names (Qwen2-VL in transformers 5 saves the original hub layout,
    `model.layers.*` for `model.language_model.layers.*`) would silently resume from the
    stage's starting weights; `from_pretrained` knows the renaming, so we load through it and
    copy the values over (the optimizer keeps its references to the same tensors). The
    trainer's then pointless name-mismatch warning is silenced. Returns True when it did this.
    LoRA checkpoints hold adapters only, which the trainer restores correctly.
    """
    import safetensors
    from transformers import AutoModelForImageTextToText

    files = sorted(ckpt.glob("model*.safetensors"))
    if not files:
        return False
    saved: set[str] = set()
    for f in files:
        with safetensors.safe_open(str(f), framework="pt") as fh:
            saved.update(fh.keys())
    if saved <= set(model.state_dict()):
        return False  # names match: the trainer's own loading is right
    dtype = next(model.parameters()).dtype
    loaded = AutoModelForImageTextToText.from_pretrained(
        ckpt, dtype=dtype, trust_remote_code=trust_remote_code, local_files_only=True
    )
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    logging.getLogger("transformers.trainer").addFilter(_QuietNameMismatch())
    return True


def logged_train_loss(state: Any, fallback: float) -> float:
    """Mean training loss over the whole stage, from the trainer's log history.

    The trainer's own figure covers only the steps of the last `train()` call, so after a
    resume it would describe the resumed part alone; the log history survives in checkpoints.
    """
    points = sorted((h["step"], h["loss"]) for h in getattr(state, "log_history", [])
                    if isinstance(h.get("loss"), (int, float)) and isinstance(h.get("step"), int))
    total, prev, n = 0.0, 0, 0
    for step, loss in points:
        if step > prev:
            total += loss * (step - prev)
            n += step - prev
            prev = step
    return total / n if n else float(fallback)


def drop_metrics_after(path: str | Path, variant: str, stage: str, step: int) -> int:
    """Forget the rows of (variant, stage) after `step` (0: all of them). Returns how many went."""
    path = Path(path)
    if not path.is_file():
        return 0
    with file_lock(path):  # another variant's process may be appending
        rows = read_appended_jsonl(path)
        kept = [r for r in rows if not (r.get("variant") == variant and r.get("stage") == stage
                                        and int(r.get("step", 0)) > step)]
        text = path.read_text(encoding="utf-8")
        if len(kept) != len(rows) or (text and not text.endswith("\n")):
            write_jsonl(path, kept)
    return len(rows) - len(kept)


def _repeat_sampler(loader: Any) -> Any:
    """TRL's RepeatSampler behind a (possibly accelerate-wrapped) dataloader, if any."""
    try:
        from trl.trainer.utils import RepeatSampler
    except ImportError:  # pragma: no cover - layout of another TRL version
        return None
    todo, seen = [loader], 0
    while todo and seen < 16:
        obj = todo.pop()
        seen += 1
        if isinstance(obj, RepeatSampler):
            return obj
        for attr in ("batch_sampler", "sampler"):
            sub = getattr(obj, attr, None)
            if sub is not None:
                todo.append(sub)
    return None


class ResumeExactly(TrainerCallback):
    """Resume bookkeeping the trainer does not do itself (see the module docstring).

    It also skips the trainer's own end-of-training checkpoint: the stage saves its final
    model itself, and a full checkpoint (optimizer included) of a large model is costly.
    """

    def on_train_begin(self, args: Any, state: Any, control: Any, train_dataloader: Any = None, **kw: Any) -> None:
        if not state.global_step or train_dataloader is None:
            return
        sampler = _repeat_sampler(train_dataloader)
        if sampler is None or not getattr(sampler, "shuffle", False):
            return
        n = len(train_dataloader)
        per_epoch = max(n // args.gradient_accumulation_steps + int(n % args.gradient_accumulation_steps > 0), 1)
        for _ in range(state.global_step // per_epoch):
            next(iter(sampler), None)  # each epoch's first draw is one permutation

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_save = False
