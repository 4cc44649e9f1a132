"""Trainer callbacks that guard a stage: non-finite losses and reward faults.

`StopOnNonFinite` stops a stage whose loss or gradient norm turns NaN/inf: training ends
at that logging step and `raise_if_diverged()` (called before the checkpoint is saved)
raises a `TrainingDiverged` naming the stage and step. Nothing is saved for the broken
stage and the done markers of finished stages are untouched, so re-running the same
command resumes at this stage.

`RewardFaultsToLogs` adds the number of reward calls that raised or were cut off since
the previous log to the trainer's logs, so the metrics callback (registered after it)
writes them to metrics.jsonl.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

from transformers import TrainerCallback

from seethink.errors import UserError
from seethink.rewards.guard import RewardFaults

# Log keys whose non-finite value means the weights are (about to be) ruined.
WATCHED = ("loss", "grad_norm")


class TrainingDiverged(UserError):
    """The loss (or gradient norm) of a stage became NaN or infinite."""


def diverged_message(stage: str, variant: str, step: int, key: str, value: Any, lr: float | None) -> str:
    lr_s = f" (now {lr:g})" if lr is not None else ""
    return (
        f"stage '{stage}' ({variant}) diverged: {key} is {value} at step {step}. Nothing of this stage was "
        f"saved; finished stages are kept. Lower the stage's learning_rate{lr_s}, use model.dtype=float32, "
        "or check the data, then re-run the same command to resume from this stage."
    )


class StopOnNonFinite(TrainerCallback):
    def __init__(self, stage: str, variant: str) -> None:
        self.stage = stage
        self.variant = variant
        self.message: str | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if not logs or self.message is not None:
            return
        for key in WATCHED:
            value = logs.get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                self.message = diverged_message(self.stage, self.variant, state.global_step, key, value,
                                                getattr(args, "learning_rate", None))
                control.should_training_stop = True
                return

    def raise_if_diverged(self) -> None:
        if self.message is not None:
            raise TrainingDiverged(self.message)


def is_non_finite_error(exc: BaseException) -> bool:
    """Sampling from NaN weights fails inside torch before any log line shows the NaN."""
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("inf, nan" in text or "nan or inf" in text or "nan values" in text)


class RewardFaultsToLogs(TrainerCallback):
    def __init__(self, faults: RewardFaults) -> None:
        self.faults = faults
        self.seen = faults.totals()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if logs is None or "train_runtime" in logs:
            return
        now = self.faults.totals()
        for key, value in now.items():
            logs[key] = value - self.seen.get(key, 0)
        self.seen = now


# Callback factories (trainer -> callback or None) that `train_checked` adds to every stage's
# trainer while registered: how the pipeline attaches validation during training
# (`seethink.training.validation`) without every stage builder knowing about it.
_STAGE_CALLBACKS: list[Callable[[Any], Any]] = []


@contextlib.contextmanager
def stage_callbacks(*factories: Callable[[Any], Any] | None) -> Iterator[None]:
    """Within the block, every stage trainer gets the callbacks these factories make."""
    added = [f for f in factories if f is not None]
    _STAGE_CALLBACKS.extend(added)
    try:
        yield
    finally:
        for f in added:
            _STAGE_CALLBACKS.remove(f)


def train_checked(trainer: Any, guard: StopOnNonFinite, **train_kwargs: Any) -> Any:
    """`trainer.train(...)`, raising `TrainingDiverged` when the guard saw a non-finite value
    (or when sampling from already-broken weights failed before it could)."""
    for factory in list(_STAGE_CALLBACKS):
        callback = factory(trainer)
        if callback is not None:
            trainer.add_callback(callback)
    try:
        result = trainer.train(**train_kwargs)
    except RuntimeError as exc:
        if guard.message is None and not is_non_finite_error(exc):
            raise
        step = getattr(getattr(trainer, "state", None), "global_step", 0)
        raise TrainingDiverged(guard.message or diverged_message(
            guard.stage, guard.variant, step + 1, "a sampling probability", f"non-finite ({exc})",
            getattr(getattr(trainer, "args", None), "learning_rate", None))) from None
    guard.raise_if_diverged()
    return result
