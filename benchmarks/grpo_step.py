"""Where a toy GRPO step spends its time, and how step time grows with the group, batch and length.

    .venv/bin/python benchmarks/grpo_step.py                 # the warm toy base, visual stage
    .venv/bin/python benchmarks/grpo_step.py --steps 40 --no-scaling

One stage of the shipped settings (4 prompts x 5 samples, up to 80 new tokens, one torch
thread) runs through `seethink.training.stage.run_stage` with timers around TRL's phases:
generation (`_generate_single_turn`: the rollouts), reward (`_calculate_rewards`), scoring
(the rest of `_generate_and_score_completions`: the reference model's and, when needed, the
old policy's log-probs), policy forward + backward (the rest of `training_step`), optimizer
(`optimizer.step` and the scheduler), and other (data loading, logging, callbacks). The first
steps warm up and are left out of the split.

The scaling table times a few steps at other group sizes, prompts per step and completion
lengths, so a run's length can be predicted from its settings. Run it on an idle machine:
another busy process on a 2-core machine slows a one-thread run unevenly.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TIMES: dict[str, float] = defaultdict(float)
STEP_TIMES: list[float] = []


@contextlib.contextmanager
def _timed(key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        TIMES[key] += time.perf_counter() - t0


def _wrap(cls: Any, name: str, key: str) -> None:
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _timed(key):
            return original(self, *args, **kwargs)

    setattr(cls, name, wrapper)


def instrument() -> Any:
    """Timers around GRPOTrainer's phases; returns a callback that times whole steps."""
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    _wrap(GRPOTrainer, "_generate_single_turn", "generation")
    _wrap(GRPOTrainer, "_calculate_rewards", "reward")
    _wrap(GRPOTrainer, "_generate_and_score_completions", "rollout+scoring")
    _wrap(GRPOTrainer, "training_step", "training_step")

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t_opt = time.perf_counter()

        def on_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            TIMES["optimizer"] += time.perf_counter() - self.t_opt

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            STEP_TIMES.append(time.perf_counter() - self.t0)

    return StepTimer()


def run(model: Path, steps: int, batch: int, group: int, length: int, timer: Any) -> tuple[float, dict[str, float]]:
    """Mean seconds per step after the warm-up steps, and the split of those steps (s per step)."""
    from unittest import mock

    from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec
    from seethink.data.tasks import get_task
    from seethink.training import stage

    items = get_task("toy_visual").generate(max(64, steps * batch), "train", 0, ToyWorldSpec())
    t = TrainerSpec(max_steps=steps, batch_size=batch, group_size=group, learning_rate=2e-5, beta=0.1,
                    max_completion_length=length, save_steps=0, bf16=False)
    warm = min(3, steps - 1)
    TIMES.clear()
    STEP_TIMES.clear()
    marks: list[dict[str, float]] = []

    original = timer.on_step_end

    def on_step_end(*a: Any, **k: Any) -> None:
        original(*a, **k)
        if len(STEP_TIMES) == warm and not marks:  # snapshot the timers when the warm-up ends
            marks.append(dict(TIMES))

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(timer, "on_step_end", on_step_end), \
            mock.patch.object(stage, "_metrics_callback", lambda *a, **k: timer):
        stage.run_stage(model, items, t, RewardSpec(), Path(tmp), stage="bench", variant="bench", report_to=[],
                        metrics_path=Path(tmp) / "metrics.jsonl", log=lambda *a: None)
    n = len(STEP_TIMES) - warm
    base = marks[0] if marks else {}
    split = {k: (TIMES[k] - base.get(k, 0.0)) / n for k in TIMES}
    return sum(STEP_TIMES[warm:]) / n, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy", help="model directory, or toy (the warm base)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    args = parser.parse_args()

    from seethink.config import load_recipe
    from seethink.models.resolve import resolve_model
    from seethink.utils import pin_threads

    pin_threads(args.threads)
    model = Path(resolve_model(args.model, load_recipe(None, [])))
    timer = instrument()
    per_step, split = run(model, args.steps, 4, 5, 80, timer)
    gen, reward = split.get("generation", 0.0), split.get("reward", 0.0)
    scoring = split.get("rollout+scoring", 0.0) - gen - reward
    policy = split.get("training_step", 0.0) - split.get("rollout+scoring", 0.0)
    rows = {"generation": gen, "reward": reward, "reference/old log-probs (scoring)": scoring,
            "policy forward + backward": policy, "optimizer": split.get("optimizer", 0.0)}
    rows["other"] = per_step - sum(rows.values())
    print(f"\nGRPO step, 4 prompts x 5 samples, <= 80 new tokens, {args.threads} thread(s), "
          f"{args.steps} steps ({min(3, args.steps - 1)} warm-up left out): {per_step:.3f} s per step")
    print(f"{'phase':<36} {'s/step':>8} {'share':>7}")
    for k, v in rows.items():
        print(f"{k:<36} {v:8.3f} {100 * v / per_step:6.1f}%")
    if args.no_scaling:
        return
    print("\nseconds per step (8 steps each, 3 warm-up):")
    print(f"{'prompts':>7} {'group':>5} {'max tokens':>10} {'s/step':>8}")
    for batch, group, length in ((4, 5, 80), (2, 5, 80), (8, 5, 80), (4, 2, 80), (4, 8, 80), (4, 5, 40), (4, 5, 160)):
        s, _ = run(model, 8, batch, group, length, timer)
        print(f"{batch:7d} {group:5d} {length:10d} {s:8.3f}")


if __name__ == "__main__":
    main()
