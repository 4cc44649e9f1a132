"""Evaluate one checkpoint on toy held-out items (the `toy` evaluator of
`seethink.eval.evaluators`), writing predictions and metrics.

The model is loaded in `eval.dtype` and moved to `eval.device` (`seethink.eval.device`: auto =
a CUDA GPU in bf16 where it has native bf16, else the CPU in `model.dtype`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seethink.config import Recipe
from seethink.rewards.core import build_reward
from seethink.utils import read_jsonl, write_json, write_jsonl


def evaluate_checkpoint(model_path: str | Path, items: list[dict], recipe: Recipe, out_dir: str | Path,
                        log: Any = print) -> dict:
    """Metrics of a checkpoint (cached in out_dir/metrics.json once complete).

    Generated responses are appended to out_dir/responses.partial.jsonl batch by batch, so an
    interrupted evaluation of the same model, items and settings continues where it stopped.
    """
    import hashlib
    import json

    from seethink.eval.device import load_for_eval, placement
    from seethink.eval.evaluators import get_evaluator

    out = Path(out_dir)
    done = out / "metrics.json"
    # What was evaluated: reuse a finished evaluation only for the same model and items.
    key = {"model": str(Path(model_path).resolve()),
           "items": hashlib.sha1("|".join(it["id"] for it in items).encode()).hexdigest()[:16],
           "ablation": recipe.eval.ablation, "max_new_tokens": recipe.eval.max_new_tokens,
           "samples": recipe.eval.samples, "temperature": recipe.eval.temperature, "top_p": recipe.eval.top_p}
    device, dtype = placement(recipe.eval.device, recipe.eval.dtype, recipe.model.dtype)
    if (device, dtype) != ("cpu", "float32"):  # keys of CPU float32 evaluations stay as they were
        key["placement"] = [device, dtype]
    key_file = out / "eval_key.json"
    partial = out / "responses.partial.jsonl"
    same = key_file.is_file() and json.loads(key_file.read_text()) == key
    if done.is_file() and same:
        log(f"[eval] {out} already evaluated, reusing")
        return json.loads(done.read_text())
    if not same:  # what is on disk belongs to another evaluation
        done.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        write_json(key_file, key)
    elif partial.is_file():
        log(f"[eval] {out}: continuing an interrupted evaluation")
    model, processor, _, _ = load_for_eval(model_path, device=device, dtype=dtype, load_dtype=recipe.model.dtype,
                                           trust_remote_code=recipe.model.trust_remote_code, log=log)
    r = recipe.reward
    reward = build_reward(r.accuracy_weight, r.format_weight, r.extra, r.extra_weights, timeout_s=r.timeout_s)
    metrics, preds = get_evaluator("toy").evaluate(
        model, processor, items, reward, ablation=recipe.eval.ablation, max_new_tokens=recipe.eval.max_new_tokens,
        batch_size=recipe.eval.batch_size, name=out.name, resume_file=partial,
        samples=recipe.eval.samples, temperature=recipe.eval.temperature, top_p=recipe.eval.top_p,
        seed=recipe.eval.seed, fast=recipe.eval.fast_generation,
    )
    write_jsonl(out / "predictions.jsonl", preds)
    write_json(done, metrics)  # written last: its presence means the evaluation finished
    partial.unlink(missing_ok=True)
    return metrics


def load_predictions(out_dir: str | Path) -> list[dict]:
    return read_jsonl(Path(out_dir) / "predictions.jsonl")
