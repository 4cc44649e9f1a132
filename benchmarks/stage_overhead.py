"""Wall time of one seethink stage vs a bare TRL GRPOTrainer script, side by side.

Same tiny model, same items, same GRPO settings and steps; each side loads the model,
trains and saves a checkpoint. Runs alternate (A B A B ...) so drift on a shared
machine hits both; the ratio of the medians is printed. Target: <= 1.05.

    python benchmarks/stage_overhead.py [--steps 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def bare_trl(model_dir: Path, items: list[dict], steps: int, out: Path) -> None:
    """What a user would write by hand with TRL: dataset, reward functions, trainer."""
    import torch
    from datasets import Dataset, Features, Image, List, Value
    from transformers import AutoModelForImageTextToText
    from trl import GRPOConfig, GRPOTrainer

    from seethink.data.images import item_images
    from seethink.models.load import load_processor  # AutoProcessor cannot build it without torchvision
    from seethink.rewards import accuracy_reward, format_reward
    from seethink.training.scaling import native_bf16

    model = AutoModelForImageTextToText.from_pretrained(model_dir, local_files_only=True)
    processor = load_processor(model_dir)
    rows = []
    for it in items:
        opts = "".join(f"\n{chr(65 + i)}. {o}" for i, o in enumerate(it["options"]))
        text = f"{it['question']}{opts}\nThink in <think></think>, then answer in \\boxed{{}}."
        rows.append({"prompt": [{"role": "user", "content": text}], "images": item_images(it),
                     "answer": it["answer"], "options": it["options"]})
    feats = Features({"prompt": List({"role": Value("string"), "content": Value("string")}),
                      "images": List(Image()), "answer": Value("string"), "options": List(Value("string"))})
    ds = Dataset.from_list(rows, features=feats)

    def accuracy(prompts, completions, answer, options, **_):
        return [accuracy_reward(c, {"answer": a, "options": o})["accuracy"]
                for c, a, o in zip(completions, answer, options, strict=True)]

    def fmt(prompts, completions, **_):
        return [format_reward(c)["format"] for c in completions]

    args = GRPOConfig(output_dir=str(out / "trainer"), max_steps=steps, learning_rate=1e-5,
                      per_device_train_batch_size=4 * 5, num_generations=5, gradient_accumulation_steps=1,
                      steps_per_generation=1, beta=0.01, max_completion_length=48, logging_steps=1,
                      save_strategy="no", report_to=[], seed=0, use_cpu=not torch.cuda.is_available(),
                      reward_weights=[0.9, 0.1],
                      # seethink's stage defaults, so only the wrapper's overhead is compared
                      # (TRL's own defaults would also turn on gradient checkpointing; bf16
                      # only where the hardware has it natively, as seethink's unset default).
                      bf16=native_bf16(), gradient_checkpointing=False)
    tr = GRPOTrainer(model=model, reward_funcs=[accuracy, fmt], args=args, train_dataset=ds,
                     processing_class=processor)
    tr.train()
    tr.save_model(str(out / "checkpoint"))
    processor.save_pretrained(out / "checkpoint")


def seethink_stage(model_dir: Path, items: list[dict], steps: int, out: Path) -> None:
    from seethink.config import RewardSpec, TrainerSpec
    from seethink.training.stage import run_stage

    t = TrainerSpec(max_steps=steps, batch_size=4, group_size=5, learning_rate=1e-5, beta=0.01,
                    max_completion_length=48)
    run_stage(model_dir, items, t, RewardSpec(), out, stage="bench", variant="bench", report_to=[],
              metrics_path=out / "metrics.jsonl", log=lambda *a: None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="model dir (default: a fresh random tiny VLM)")
    args = ap.parse_args()

    from seethink.toyworld import generate_items
    from seethink.toyworld.model import build_toy
    from seethink.utils import pin_threads, seed_everything

    pin_threads()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = Path(args.model) if args.model else build_toy(root / "model")
        items = generate_items("perception", 64, "train", seed=0)
        times: dict[str, list[float]] = {"seethink": [], "bare_trl": []}
        for r in range(args.repeats):
            for name, fn in (("seethink", seethink_stage), ("bare_trl", bare_trl)):
                seed_everything(0)
                t0 = time.perf_counter()
                fn(model_dir, items, args.steps, root / f"{name}{r}")
                times[name].append(time.perf_counter() - t0)
                print(f"run {r + 1}/{args.repeats} {name:9s} {times[name][-1]:7.2f}s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["seethink"] / med["bare_trl"]
        print(json.dumps({"steps": args.steps, "median_seconds": med, "ratio_seethink_over_bare_trl": round(ratio, 3),
                          "target": 1.05, "meets_target": ratio <= 1.05}, indent=2))


if __name__ == "__main__":
    main()
