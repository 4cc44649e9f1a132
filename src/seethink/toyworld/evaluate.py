"""Held-out evaluation on the toy world, with the image-ablation control.

For each capability: accuracy, mean response length (tokens; whole response and the
`<think>` part) and the majority-answer baseline. With ablation on, image items are
scored again with blank images and with images shuffled across items: a model that
really looks at its image falls toward the baseline there. Where the worked solutions open
with a scene inventory (`toy.inventory`), `inventory_accuracy` is the share of image items
whose response opens with exactly the right one: how often the image was read right,
whatever happened to the answer after that.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from seethink.data.images import item_images
from seethink.data.prompts import render_prompt
from seethink.eval.engine import count_tokens, generate
from seethink.eval.evaluators import EVALUATORS, Evaluator
from seethink.rewards.core import RewardFn
from seethink.toyworld.generators import inventory_read_right
from seethink.toyworld.scenes import blank_like
from seethink.utils import append_jsonl, read_appended_jsonl

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def majority_baseline(items: list[dict]) -> float:
    if not items:
        return 0.0
    return 100.0 * Counter(str(it["answer"]) for it in items).most_common(1)[0][1] / len(items)


def _images(items: list[dict], mode: str, seed: int = 0) -> list[list]:
    imgs = [item_images(it) for it in items]
    if mode == "blank":
        return [[blank_like(im) for im in ims] for ims in imgs]
    if mode == "shuffled":
        with_img = [i for i, ims in enumerate(imgs) if ims]
        perm = with_img[:]
        random.Random(seed).shuffle(perm)
        out = list(imgs)
        for src, dst in zip(perm, with_img, strict=True):
            out[dst] = imgs[src]
        return out
    return imgs


def _prediction(it: dict, resp: str, reward: RewardFn, processor: Any) -> dict:
    """The predictions.jsonl row of one greedy response."""
    r = reward(resp, it)
    m = _THINK.search(resp)
    pred: dict[str, Any] = {
        "id": it["id"],
        "capability": it["capability"],
        "answer": it["answer"],
        "response": resp,
        "correct": bool(r.get("accuracy", 0.0) >= 1.0),
        "format": float(r.get("format", 0.0)),
        "response_tokens": count_tokens(processor, resp),
        "think_tokens": count_tokens(processor, m.group(1)) if m else 0,
    }
    read = inventory_read_right(it, resp)
    if read is not None:
        pred["inventory_correct"] = read
    return pred


def evaluate_items(
    model: Any,
    processor: Any,
    items: list[dict],
    reward: RewardFn,
    *,
    mode: str = "real",
    max_new_tokens: int = 64,
    batch_size: int = 32,
    desc: str = "eval",
    resume_file: Path | None = None,
    samples: int = 0,
    temperature: float = 0.6,
    top_p: float = 0.95,
    seed: int = 0,
    fast: bool | None = None,
) -> tuple[dict, list[dict]]:
    """Greedy answers for `items`; returns (metrics, predictions).

    With `samples` > 0 each item is also answered `samples` times at `temperature` / `top_p`
    (the reference recipe's protocol) and scored by its fraction of correct samples.

    With `resume_file`, each generated batch's responses are appended there as they come and
    batches already there are not generated again (an interrupted evaluation continues).
    """
    convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
    imgs = _images(items, mode)
    cached, save = _resume_hooks(resume_file, items, mode)
    with tqdm(total=len(items), desc=desc, leave=False) as bar:
        outs = generate(
            model, processor, convs, imgs, max_new_tokens=max_new_tokens, batch_size=batch_size,
            progress=bar.update, cached=cached, on_batch=save, fast=fast,
        )
    preds = [_prediction(it, resp, reward, processor) for it, (resp,) in zip(items, outs, strict=True)]
    if samples > 0:
        cached, save = _resume_hooks(resume_file, items, f"{mode}-sampled")
        with tqdm(total=len(items), desc=f"{desc} ({samples} samples)", leave=False) as bar:
            souts = generate(
                model, processor, convs, imgs, max_new_tokens=max_new_tokens, batch_size=batch_size,
                temperature=temperature, top_p=top_p, num_return_sequences=samples, seed=seed,
                progress=bar.update, cached=cached, on_batch=save, fast=fast,
            )
        for it, pred, responses in zip(items, preds, souts, strict=True):
            hits = [reward(resp, it).get("accuracy", 0.0) >= 1.0 for resp in responses]
            pred["sampled_correct"] = sum(hits) / max(1, len(hits))
    return summarize(preds, items), preds


def _resume_hooks(path: Path | None, items: list[dict], mode: str) -> tuple[dict[int, list[str]] | None, Any]:
    """Responses saved by an interrupted run of this pass (by position and id), and the saver."""
    if path is None:
        return None, None
    cached = {
        r["i"]: r["responses"] for r in read_appended_jsonl(path)
        if r.get("mode") == mode and isinstance(r.get("i"), int) and 0 <= r["i"] < len(items)
        and r.get("id") == items[r["i"]]["id"]
    }

    def save(idx: list[int], outs: list[list[str]]) -> None:
        for i, responses in zip(idx, outs, strict=True):
            append_jsonl(path, {"mode": mode, "i": i, "id": items[i]["id"], "responses": responses})

    return cached, save


def summarize(preds: list[dict], items: list[dict]) -> dict:
    def block(ps: list[dict], its: list[dict]) -> dict:
        n = max(1, len(ps))
        b: dict[str, Any] = {
            "n": len(ps),
            "accuracy": 100.0 * sum(p["correct"] for p in ps) / n,
            "format": 100.0 * sum(p["format"] for p in ps) / n,
            "mean_response_tokens": sum(p["response_tokens"] for p in ps) / n,
            "mean_think_tokens": sum(p["think_tokens"] for p in ps) / n,
            "majority_baseline": majority_baseline(its),
        }
        graded = [p["inventory_correct"] for p in ps if "inventory_correct" in p]
        if graded:  # items whose worked solution opens with a scene inventory (toy.inventory)
            b["inventory_accuracy"] = 100.0 * sum(graded) / len(graded)
        if ps and all("sampled_correct" in p for p in ps):
            b["sampled_accuracy"] = 100.0 * sum(p["sampled_correct"] for p in ps) / n
        return b

    caps = sorted({p["capability"] for p in preds})
    out = block(preds, items)
    out["by_capability"] = {
        c: block([p for p in preds if p["capability"] == c], [i for i in items if i["capability"] == c])
        for c in caps
    }
    return out


def evaluate_model(
    model: Any,
    processor: Any,
    items: list[dict],
    reward: RewardFn,
    *,
    ablation: bool = True,
    max_new_tokens: int = 64,
    batch_size: int = 32,
    name: str = "model",
    resume_file: Path | None = None,
    samples: int = 0,
    temperature: float = 0.6,
    top_p: float = 0.95,
    seed: int = 0,
    fast: bool | None = None,
) -> tuple[dict, list[dict]]:
    """Real-image metrics (greedy, and sampled when `samples` > 0), plus `ablation` (blank /
    shuffled, greedy) accuracy on image items."""
    metrics, preds = evaluate_items(
        model, processor, items, reward, max_new_tokens=max_new_tokens, batch_size=batch_size,
        desc=f"eval {name}", resume_file=resume_file, samples=samples,
        temperature=temperature, top_p=top_p, seed=seed, fast=fast,
    )
    if ablation:
        img_items = [it for it in items if it.get("images") or (it.get("facts") or {}).get("objects")]
        metrics["ablation"] = {}
        for mode in ("blank", "shuffled"):
            m, _ = evaluate_items(
                model, processor, img_items, reward, mode=mode, max_new_tokens=max_new_tokens,
                batch_size=batch_size, desc=f"eval {name} ({mode} images)",
                resume_file=resume_file, fast=fast,
            )
            metrics["ablation"][mode] = {c: v["accuracy"] for c, v in m["by_capability"].items()}
    return metrics, preds


def _evaluate(*args: Any, **kwargs: Any) -> tuple[dict, list[dict]]:
    return evaluate_model(*args, **kwargs)  # looked up per call, so the module's function can be swapped


def _summarize(preds: list[dict], items: list[dict]) -> dict:
    return summarize(preds, items)


EVALUATORS.add("toy", Evaluator(evaluate=_evaluate, summarize=_summarize))
