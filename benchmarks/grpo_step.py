"""Where a toy GRPO step spends its time, and how step time grows with the group, batch and length.

    .venv/bin/python benchmarks/grpo_step.py                 # the warm toy base, visual stage
    .venv/bin/python benchmarks/grpo_step.py --steps 40 --no-scaling

One stage of the shipped settings (4 prompts x 5 samples, up to 80 new tokens, one torch
thread) runs through `seethink.training.stage.run_stage` with timers around TRL's phases:
generation (`_generate_single_turn`: the rollouts), reward (`_calculate_rewards`), scoring
(the rest of `_generate_and_score_completions`: the reference model's and, when needed, the
old policy's log-probs), policy forward + backward (the rest of `training_step`), optimizer
(`optimizer.step` and the scheduler), and other (data loading, logging, callbacks). The first
steps warm up and are left out of the split. Three paths run, alternating, in one run: TRL as
it comes (transformers' `generate`, TRL's log-probability pass), seethink's lean decode loop
(`trainer.fast_generation`; `seethink.models.fastgen`), and the lean loop with shared prompt
passes for the policy's and reference's log-probabilities (`trainer.shared_prompt`;
`seethink.models.shared_prompt`), the last two on by default on a CPU. First, checks of the same
math: greedy tokens identical on a toy batch, and the loss and gradient norm TRL logs at the
first steps equal on every path (same seed, so same rollouts).

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
LOSSES: list[tuple[float, float]] = []  # (loss, grad_norm) per logged step
PATHS = {"TRL as is": (False, False), "lean decoding": (True, False), "+ shared prompt": (True, True)}


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

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                LOSSES.append((float(logs["loss"]), float(logs.get("grad_norm", float("nan")))))

    return StepTimer()


def run(model: Path, steps: int, batch: int, group: int, length: int, timer: Any,
        path: tuple[bool, bool] = (True, True)) -> tuple[float, dict[str, float]]:
    """Mean seconds per step after the warm-up steps, and the split of those steps (s per step)."""
    from unittest import mock

    from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec
    from seethink.data.tasks import get_task
    from seethink.training import stage

    items = get_task("toy_visual").generate(max(64, steps * batch), "train", 0, ToyWorldSpec())
    t = TrainerSpec(max_steps=steps, batch_size=batch, group_size=group, learning_rate=2e-5, beta=0.1,
                    max_completion_length=length, save_steps=0, bf16=False, fast_generation=path[0],
                    shared_prompt=path[1])
    warm = min(3, steps - 1)
    TIMES.clear()
    STEP_TIMES.clear()
    LOSSES.clear()
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


ROWS = ("generation", "reward", "reference/old log-probs (scoring)", "policy forward + backward", "optimizer",
        "other")


def _rows(per_step: float, split: dict[str, float]) -> dict[str, float]:
    gen, reward = split.get("generation", 0.0), split.get("reward", 0.0)
    rows = {"generation": gen, "reward": reward,
            "reference/old log-probs (scoring)": split.get("rollout+scoring", 0.0) - gen - reward,
            "policy forward + backward": split.get("training_step", 0.0) - split.get("rollout+scoring", 0.0),
            "optimizer": split.get("optimizer", 0.0)}
    rows["other"] = per_step - sum(rows.values())
    return rows


def same_math(model: Path, timer: Any) -> tuple[bool, dict[str, list[tuple[float, float]]]]:
    """Greedy tokens identical on a toy batch; TRL's logged (loss, grad norm) of 3 steps on each path."""
    import torch

    from seethink.config import ToyWorldSpec
    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.data.tasks import get_task
    from seethink.eval.engine import _with_placeholders
    from seethink.models import fastgen
    from seethink.models.load import load_model

    m, processor = load_model(model)
    items = get_task("toy_visual").generate(8, "test", 5, ToyWorldSpec())
    texts = [processor.apply_chat_template(_with_placeholders([{"role": "user", "content": render_prompt(it)}], 1),
                                           add_generation_prompt=True, tokenize=False) for it in items]
    processor.tokenizer.padding_side = "left"
    enc = processor(text=texts, images=[item_images(it) for it in items], padding=True, return_tensors="pt")
    with torch.inference_mode():
        ref = type(m).generate(m, **enc, max_new_tokens=80, do_sample=False)
        lean = fastgen.generate(m, **enc, max_new_tokens=80, do_sample=False)
    greedy_same = ref.shape == lean.shape and bool(torch.equal(ref, lean))
    logged = {}
    for name, path in PATHS.items():
        run(model, 4, 4, 5, 80, timer, path=path)
        logged[name] = list(LOSSES[:3])
    return greedy_same, logged


def _agree(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= 1e-6 + 1e-3 * abs(x) for pa, pb in zip(a, b, strict=True)
                                    for x, y in zip(pa, pb, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy", help="model directory, or toy (the warm base)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=2, help="alternating repetitions of each path")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    args = parser.parse_args()

    from seethink.config import load_recipe
    from seethink.models.resolve import resolve_model
    from seethink.utils import pin_threads

    pin_threads(args.threads)
    model = Path(resolve_model(args.model, load_recipe(None, [])))
    timer = instrument()
    greedy_same, logged = same_math(model, timer)
    per: dict[str, list[float]] = {name: [] for name in PATHS}
    splits: dict[str, dict[str, float]] = {name: defaultdict(float) for name in PATHS}
    for _ in range(args.reps):
        for name, path in PATHS.items():
            s, split = run(model, args.steps, 4, 5, 80, timer, path=path)
            per[name].append(s)
            for k, v in _rows(s, split).items():
                splits[name][k] += v / args.reps
    mean = {name: sum(v) / args.reps for name, v in per.items()}
    print(f"\nGRPO step, 4 prompts x 5 samples, <= 80 new tokens, {args.threads} thread(s), {args.steps} steps "
          f"({min(3, args.steps - 1)} warm-up left out), {args.reps} alternating repetitions per path")
    print(f"{'phase (s/step)':<36}" + "".join(f"{name:>17}" for name in PATHS))
    for k in ROWS:
        print(f"{k:<36}" + "".join(f"{splits[name][k]:17.3f}" for name in PATHS))
    print(f"{'step':<36}" + "".join(f"{mean[name]:17.3f}" for name in PATHS))
    first = next(iter(PATHS))
    for name in list(PATHS)[1:]:
        reps = ", ".join(f"{a / b:.2f}" for a, b in zip(per[first], per[name], strict=True))
        print(f"step ratio ({first} / {name}): {mean[first] / mean[name]:.2f}x (per repetition: {reps})")
    print(f"generation ratio ({first} / lean decoding): "
          f"{splits[first]['generation'] / splits['lean decoding']['generation']:.2f}x")
    print(f"greedy tokens identical: {greedy_same}")
    for name, got in logged.items():
        shown = "; ".join(f"{loss:.4g}, {gn:.6g}" for loss, gn in got)
        verdict = "" if name == first else (" (same)" if _agree(logged[first], got) else " (DIFFERENT)")
        print(f"(loss, grad norm) of steps 1-3, {name}: {shown}{verdict}")
    if args.no_scaling:
        return
    print("\nseconds per step, lean decoding and shared prompts (8 steps each, 3 warm-up):")
    print(f"{'prompts':>7} {'group':>5} {'max tokens':>10} {'s/step':>8}")
    for batch, group, length in ((4, 5, 80), (2, 5, 80), (8, 5, 80), (4, 2, 80), (4, 8, 80), (4, 5, 40), (4, 5, 160)):
        s, _ = run(model, 8, batch, group, length, timer)
        print(f"{batch:7d} {group:5d} {length:10d} {s:8.3f}")


if __name__ == "__main__":
    main()
