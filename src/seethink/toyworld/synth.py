"""Perception data synthesis for the toy world: templated questions, a caption filter, splits.

1. `synthesize`: sample scenes and template multiple-choice questions from their facts
   (counts by colour and by shape, the colour of a unique shape, the shape of a unique
   colour, one present and one absent colour-shape pair). Every item keeps the scene's caption.
2. `caption_filter`: keep the items a filter model gets wrong from the image but right
   when the caption is given as text instead of the image: questions whose difficulty is
   perception, not reasoning. With several filter models an item must pass every one
   (intersection).
3. `split_items` / `write_splits`: a deterministic 85/5/10 train/val/test split by a hash
   of the item id (content-addressed), so re-synthesising never moves an item.

Filters are `(model, processor)` pairs or callables `fn(items, with_image) -> responses`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seethink.toyworld.generators import COUNT_OPTIONS
from seethink.toyworld.scenes import COLORS, SHAPES, Scene, sample_scene

LETTERS = "ABCDEFGHIJ"
YES_NO = ["yes", "no"]
SPLITS = (("train", 85), ("val", 5), ("test", 10))  # percent
CAPTION_PREFIX = "Description of the image: "

Answerer = Callable[[list[dict], bool], list[str]]


def _mc(question: str, options: list[str], correct: str, family: str) -> dict:
    return {"question": question, "options": list(options), "answer": LETTERS[options.index(correct)],
            "family": family}


def template_questions(scene: Scene, rng: random.Random | None = None) -> list[dict]:
    """Every templated multiple-choice question the scene's facts answer unambiguously."""
    rng = rng or random.Random(0)
    qs = []
    # The option list is the toy tasks' (so a toy model reads it as it was taught), but
    # zero counts are not asked: every absent colour and shape would add one, swamping the set.
    for c in COLORS:
        n = scene.count(color=c)
        if 1 <= n <= 4:
            qs.append(_mc(f"How many {c} shapes are there?", COUNT_OPTIONS, str(n), "count_color"))
        if n == 1:
            o = next(o for o in scene.objects if o.color == c)
            qs.append(_mc(f"What shape is the {c} one?", list(SHAPES), o.shape, "shape_of"))
    for s in SHAPES:
        n = scene.count(shape=s)
        if 1 <= n <= 4:
            qs.append(_mc(f"How many {s}s are there?", COUNT_OPTIONS, str(n), "count_shape"))
        if n == 1:
            o = next(o for o in scene.objects if o.shape == s)
            qs.append(_mc(f"What colour is the {s}?", list(COLORS), o.color, "color_of"))
    # One present and one absent pair, so "yes" and "no" are equally common answers.
    o = rng.choice(scene.objects)
    qs.append(_mc(f"Is there a {o.color} {o.shape}?", YES_NO, "yes", "exists"))
    absent = [(c, s) for c in COLORS for s in SHAPES if not scene.count(color=c, shape=s)]
    if absent:
        c, s = rng.choice(absent)
        qs.append(_mc(f"Is there a {c} {s}?", YES_NO, "no", "exists"))
    return qs


def split_of(key: str) -> str:
    """train / val / test, 85 / 5 / 10 percent, by a hash of `key`."""
    h = int(hashlib.sha1(f"synth-split:{key}".encode()).hexdigest()[:8], 16) % 100
    edge = 0
    for name, pct in SPLITS:
        edge += pct
        if h < edge:
            return name
    return SPLITS[-1][0]


def synthesize(n_scenes: int, seed: int = 0, *, grid: int = 4, min_shapes: int = 2, max_shapes: int = 6,
               per_scene: int | None = None) -> list[dict]:
    """Distinct perception items from `n_scenes` sampled scenes (at most `per_scene` each)."""
    rng = random.Random(f"synth:{seed}")
    items: list[dict] = []
    seen: set[str] = set()
    for _ in range(n_scenes):
        scene = sample_scene(rng, grid, min_shapes, max_shapes)
        qs = template_questions(scene, rng)
        if per_scene is not None and len(qs) > per_scene:
            qs = rng.sample(qs, per_scene)
        for q in qs:
            key = q["question"] + "|" + scene.key()
            if key in seen:
                continue
            seen.add(key)
            digest = hashlib.sha1(key.encode()).hexdigest()[:10]
            items.append({
                "id": f"synth_perception-{digest}",
                "task": "synth_perception",
                "capability": "perception",
                "question": q["question"],
                "options": q["options"],
                "answer": q["answer"],
                "images": [],
                "caption": scene.caption(),
                "facts": {"family": q["family"], **scene.to_facts()},
                "subquestions": [],
            })
    return items


def caption_item(item: dict) -> dict:
    """The item with its caption as text in place of the image (no image, no scene to render)."""
    out = {k: v for k, v in item.items() if k not in ("images", "facts")}
    out["images"] = []
    out["question"] = f"{CAPTION_PREFIX}{item.get('caption', '')}\n{item['question']}"
    return out


def model_answerer(model: Any, processor: Any, *, base_dir: str | Path | None = None, max_new_tokens: int = 64,
                   batch_size: int = 16) -> Answerer:
    """A greedy filter from a loaded HF model."""

    def answer(items: list[dict], with_image: bool) -> list[str]:
        from seethink.data.images import item_images
        from seethink.data.prompts import render_prompt
        from seethink.eval.engine import generate

        convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
        imgs = [item_images(it, base_dir) if with_image else [] for it in items]
        outs = generate(model, processor, convs, imgs, max_new_tokens=max_new_tokens, batch_size=batch_size)
        return [o[0] for o in outs]

    return answer


def caption_filter(items: list[dict], filters: Sequence[Answerer | tuple[Any, Any]], *,
                   reward: Callable[[str, dict], dict[str, float]] | None = None,
                   base_dir: str | Path | None = None, max_new_tokens: int = 64,
                   batch_size: int = 16) -> tuple[list[dict], dict[str, Any]]:
    """Items every filter answers wrongly from the image and correctly from the caption."""
    from seethink.errors import UserError
    from seethink.rewards.core import build_reward

    if not filters:
        raise UserError("caption filter needs at least one filter model")
    reward = reward or build_reward()
    keep = [True] * len(items)
    per_filter = []
    as_text = [caption_item(it) for it in items]

    def correct(resps: list[str], its: list[dict]) -> list[bool]:
        return [reward(r, it).get("accuracy", 0.0) >= 1.0 for r, it in zip(resps, its, strict=True)]

    for f in filters:
        fn = f if callable(f) else model_answerer(f[0], f[1], base_dir=base_dir, max_new_tokens=max_new_tokens,
                                                  batch_size=batch_size)
        img_ok = correct(fn(items, True), items)
        cap_ok = correct(fn(as_text, False), as_text)
        passed = [(not a) and b for a, b in zip(img_ok, cap_ok, strict=True)]
        keep = [k and p for k, p in zip(keep, passed, strict=True)]
        n = max(1, len(items))
        per_filter.append({"image_accuracy": sum(img_ok) / n, "caption_accuracy": sum(cap_ok) / n,
                           "passed": sum(passed)})
    kept = [it for it, k in zip(items, keep, strict=True) if k]
    return kept, {"items": len(items), "kept": len(kept), "filters": per_filter}


def split_items(items: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name, _ in SPLITS}
    for it in items:
        out[split_of(it["id"])].append(it)
    return out


def write_splits(items: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """OUT/train.jsonl, val.jsonl, test.jsonl with rendered images beside them."""
    from seethink.data.export import write_items

    out = Path(out_dir)
    return {name: write_items(rows, out / f"{name}.jsonl")
            for name, rows in split_items(items).items()}
