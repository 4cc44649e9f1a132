"""Validation during training: benchmark accuracy of the policy every N optimizer steps.

`eval.during_training: {every: N, benchmarks: [...], limit: M}` (benchmarks default to
`eval.benchmarks`; limit 0 = every item). Every N steps the policy model itself (no copy, no
reload) answers the first M items of each benchmark greedily, in eval mode, with the protocol's
prompt; train mode is restored afterwards. Answers are scored by the official scorers
(`seethink.eval.bench_items`, the same verdicts as `seethink score`) and logged:
* to metrics.jsonl, one row per validation: `variant`, `stage`, `step`, `eval/NAME` (accuracy, %);
* to TensorBoard (the stage's `tensorboard/` folder), tag `eval/NAME`.
Under a multi-process launch every process answers its share of the items (rank files in the
stage folder's `validation.tmp/`, removed after scoring) and the main process logs.
ZeRO-3 / FSDP shard the policy's weights over processes, and generating from a shard is not
supported here: validate with DDP or ZeRO-1/2.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from seethink.config import Recipe


def _tb_writer(trainer: Any) -> Any:
    for cb in getattr(getattr(trainer, "callback_handler", None), "callbacks", []):
        writer = getattr(cb, "tb_writer", None)
        if writer is not None:
            return writer
    return None


def validate_model(recipe: Recipe, model: Any, processor: Any, folder: Path, log: Any = None) -> dict[str, float]:
    """{NAME: accuracy %} of `model` (greedy) on eval.during_training's benchmarks and limit."""
    from seethink.eval.bench_run import evaluate_benchmarks

    e, d = recipe.eval, recipe.eval.during_training
    was_training = bool(getattr(model, "training", False))
    model.eval()  # no dropout; generation switches too, but say it here
    try:
        res = evaluate_benchmarks(
            None, list(d.benchmarks or e.benchmarks), data_root=Path(e.data_root), limit=d.limit or None,
            out_dir=folder, max_new_tokens=e.benchmark_max_new_tokens, batch_size=e.batch_size,
            model_and_processor=(model, processor), protocol=e.protocol, is_base=False,
            system_prompt=e.paper_system_prompt, log=log or (lambda *_: None),
        )
    finally:
        if was_training:
            model.train()
    return {name: float(m["accuracy"]) for name, m in res.items()}


class ValidateDuringTraining:
    """A transformers TrainerCallback (built by `validation_factory`)."""

    def __init__(self, trainer: Any, recipe: Recipe, stage_dir: Path, stage: str, variant: str,
                 metrics_path: Path, log: Any = None) -> None:
        self.trainer, self.recipe = trainer, recipe
        self.stage_dir, self.stage, self.variant = stage_dir, stage, variant
        self.metrics_path, self.log = metrics_path, log
        self.every = recipe.eval.during_training.every

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        from seethink import dist
        from seethink.utils import append_jsonl, file_lock

        step = int(state.global_step)
        if not self.every or step % self.every:
            return
        policy = model if model is not None else self.trainer.model
        processor = getattr(self.trainer, "processing_class", None) or kw.get("processing_class")
        folder = self.stage_dir / "validation.tmp" / f"step-{step}"
        scores = validate_model(self.recipe, policy, processor, folder, self.log)
        if not dist.is_main_process():
            return
        shutil.rmtree(self.stage_dir / "validation.tmp", ignore_errors=True)
        row: dict[str, Any] = {"variant": self.variant, "stage": self.stage, "step": step}
        row.update({f"eval/{name}": acc for name, acc in scores.items() if math.isfinite(acc)})
        with file_lock(self.metrics_path):
            append_jsonl(self.metrics_path, row)
        writer = _tb_writer(self.trainer)
        if writer is not None:
            for name, acc in scores.items():
                writer.add_scalar(f"eval/{name}", acc, step)
            writer.flush()
        if self.log is not None:
            self.log(f"[{self.variant}/{self.stage}] step {step}: "
                     + ", ".join(f"{n} {a:.1f}%" for n, a in scores.items()))


def validation_factory(recipe: Recipe, stage_dir: Path, stage: str, variant: str, metrics_path: Path,
                       log: Any = None) -> Any:
    """A factory for `seethink.training.callbacks.stage_callbacks` (None when validation is off)."""
    if not recipe.eval.during_training.every:
        return None
    from transformers import TrainerCallback

    class _Callback(ValidateDuringTraining, TrainerCallback):
        pass

    def make(trainer: Any) -> Any:
        return _Callback(trainer, recipe, stage_dir, stage, variant, metrics_path, log)

    return make


__all__ = ["ValidateDuringTraining", "validate_model", "validation_factory"]
