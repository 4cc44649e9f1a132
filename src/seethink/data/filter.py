"""The caption filter over any perception items: keep what the filter models cannot see.

`seethink data filter` keeps an item only where EVERY filter model answers it wrong from the
image and right when the image's caption is given as text in place of the image (the
`filter_caption` prompt template): questions that are hard to perceive, not hard to reason
about. Then the kept items are split 85/5/10 (or as `--split` says) into train / val / test by
a hash of the item id, so an item never changes split when the pool grows.

The models are local directories (or `toy`), loaded one at a time and answered greedily in
batches: on vLLM when it is installed and a GPU is present (`backend: auto`), else Hugging Face
generation on the chosen device (`auto`: the GPU when there is one, in bfloat16 there). The
filter cascades: a model is asked only the items every earlier model let through, and from the
caption only the items it got wrong from the image (the verdict is the same as asking all).

Resume: every answer is appended to a per-model cache file
(`OUT.filter_cache/<model>-<fingerprint>.jsonl`) keyed by the item's content, so a rerun asks
only what is missing and loads no model whose answers are all cached. The fingerprint covers
the model path, both prompt templates and the token budget; change one and that model is asked
again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seethink.data.row_fields import read_item_file
from seethink.errors import UserError
from seethink.eval.judge import fill_prompt, load_cache_rows, load_prompt, prompt_digest
from seethink.utils import append_jsonl, write_json

CAPTION_TEMPLATE = "filter_caption"
SPLIT_NAMES = ("train", "val", "test")
DEFAULT_SPLIT = (85.0, 5.0, 10.0)

# answer(conversations, images) -> one response per conversation
Answerer = Callable[[list[list[dict]], list[list[Any]]], list[str]]


# ---------------------------------------------------------------- splits


def parse_split(text: str | None) -> tuple[float, float, float] | None:
    """'85,5,10' -> (85, 5, 10); 'none' -> None (no split files)."""
    if text is None:
        return DEFAULT_SPLIT
    if text.strip().lower() in ("none", "no", "off", ""):
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise UserError(f"--split {text!r}: expected three numbers TRAIN,VAL,TEST such as 85,5,10") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise UserError(f"--split {text!r}: expected three non-negative numbers TRAIN,VAL,TEST such as 85,5,10")
    return parts  # type: ignore[return-value]


def split_of(item_id: str, weights: Sequence[float] = DEFAULT_SPLIT) -> str:
    """train / val / test for an item id, by a hash of the id (deterministic, stable as the pool grows)."""
    h = int(hashlib.sha256(f"seethink-split:{item_id}".encode()).hexdigest()[:12], 16) / float(16 ** 12)
    total = float(sum(weights))
    edge = 0.0
    for name, w in zip(SPLIT_NAMES, weights, strict=True):
        edge += w / total
        if h < edge:
            return name
    return [n for n, w in zip(SPLIT_NAMES, weights, strict=True) if w > 0][-1]  # float rounding at the top


def split_paths(out: Path) -> dict[str, Path]:
    return {name: out.with_name(f"{out.stem}_{name}{out.suffix or '.jsonl'}") for name in SPLIT_NAMES}


# ---------------------------------------------------------------- items and prompts


def read_items(path: str | Path) -> list[dict]:
    """Items of a seethink JSONL file, image paths made absolute; each needs a caption."""
    p = Path(path).expanduser()
    rows = read_item_file(p, "item file", ("id", "question", "answer"))
    ids: set[str] = set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row.get("caption"), str) or not row["caption"].strip():
            raise UserError(f"{p}, row {n}, field 'caption': missing (the filter gives the caption in place "
                            "of the image)")
        if row["id"] in ids:
            raise UserError(f"{p}, row {n}, field 'id': {row['id']!r} repeats an earlier row")
        ids.add(row["id"])
    return rows


def caption_prompt(item: dict, template: str) -> str:
    from seethink.data.prompts import format_options

    return fill_prompt(template, {"caption": item["caption"].strip(), "question": item["question"].strip(),
                                  "options": format_options(item.get("options") or [])})


def item_key(item: dict) -> str:
    """What an answer depends on: question, options, answer, caption and images."""
    raw = json.dumps([item["id"], item["question"], item.get("options") or [], item["answer"], item["caption"],
                      [Path(p).name for p in item.get("images") or []], item.get("prompt_template")])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[-60:] or "model"


# ---------------------------------------------------------------- answering


class ModelAnswerer:
    """Greedy answers from a local model directory, loaded on first use: vLLM or HF generation."""

    def __init__(self, path: str | Path, *, backend: str = "auto", device: str = "auto", dtype: str = "auto",
                 batch_size: int = 16, max_new_tokens: int = 256, trust_remote_code: bool = False,
                 log: Callable[[str], Any] | None = None) -> None:
        self.path = Path(path)
        self.backend, self.device, self.dtype = backend, device, dtype
        self.batch_size, self.max_new_tokens, self.trust_remote_code = batch_size, max_new_tokens, trust_remote_code
        self.log = log
        self._gen: Callable[[list[list[dict]], list[list[Any]]], list[list[str]]] | None = None
        self._hold: list[Any] = []
        self.placed: dict[str, str] = {}

    def _load(self, max_images: int) -> None:
        from seethink.eval.vllm_engine import choose_backend

        chosen = choose_backend(self.backend)
        if chosen == "vllm":
            from seethink.eval.vllm_engine import VLLMEngine
            from seethink.models.load import load_processor

            engine = VLLMEngine(self.path, load_processor(self.path, self.trust_remote_code),
                                max_images=max(1, max_images), trust_remote_code=self.trust_remote_code)
            self._gen = lambda c, i: engine.generate(c, i, max_new_tokens=self.max_new_tokens)
            self._hold = [engine]
            self.placed = {"backend": "vllm", "device": "cuda"}
        else:
            model, processor, dev, dt = _load_hf(self.path, self.device, self.dtype, self.trust_remote_code)
            from seethink.eval.engine import generate

            self._gen = lambda c, i: generate(model, processor, c, i, max_new_tokens=self.max_new_tokens,
                                              batch_size=self.batch_size)
            self._hold = [model, processor]
            self.placed = {"backend": "hf", "device": dev, "dtype": dt}
        if self.log:
            self.log(f"[filter] {self.path.name}: " + ", ".join(f"{k} {v}" for k, v in self.placed.items()))

    def __call__(self, convs: list[list[dict]], imgs: list[list[Any]]) -> list[str]:
        if self._gen is None:
            self._load(max((len(i) for i in imgs), default=1))
        assert self._gen is not None
        return [o[0] if o else "" for o in self._gen(convs, imgs)]

    def close(self) -> None:
        self._gen, self._hold = None, []
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass


def _load_hf(path: Path, device: str, dtype: str, trust_remote_code: bool) -> tuple[Any, Any, str, str]:
    """(model, processor, device, dtype): loaded in the chosen dtype on the chosen device."""
    from seethink.eval.device import load_for_eval

    return load_for_eval(path, device=device, dtype=dtype, trust_remote_code=trust_remote_code)


# ---------------------------------------------------------------- the filter


def _ask(answer: Answerer, items: list[dict], mode: str, template: str, cache_path: Path,
         cached: dict[tuple[str, str], dict], reward: Callable[[str, dict], dict], chunk: int) -> None:
    """Answer `items` in `mode` (image / caption) where the cache has no answer; append each chunk."""
    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt

    todo = [it for it in items if (item_key(it), mode) not in cached]
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        if mode == "image":
            convs = [[{"role": "user", "content": render_prompt(it)}] for it in part]
            imgs = [item_images(it) for it in part]
        else:
            convs = [[{"role": "user", "content": caption_prompt(it, template)}] for it in part]
            imgs = [[] for _ in part]
        responses = answer(convs, imgs)
        if len(responses) != len(part):
            raise RuntimeError(f"filter model returned {len(responses)} answers for {len(part)} prompts")
        for it, resp in zip(part, responses, strict=True):
            row = {"key": item_key(it), "id": it["id"], "mode": mode, "response": resp,
                   "correct": bool(reward(resp, it).get("accuracy", 0.0) >= 1.0)}
            append_jsonl(cache_path, row)
            cached[(row["key"], mode)] = row


def caption_filter_items(
    items: list[dict],
    filters: Sequence[tuple[str, str, Answerer]],
    cache_dir: str | Path,
    *,
    caption_template: str | Path = CAPTION_TEMPLATE,
    chunk: int = 256,
    reward: Callable[[str, dict], dict] | None = None,
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(kept items, per-filter stats). `filters`: (name, fingerprint, answerer), asked in order."""
    from seethink.rewards.core import build_reward

    if not filters:
        raise UserError("the caption filter needs at least one filter model (--model)")
    template = load_prompt(caption_template, required=("caption", "question"))
    reward = reward or build_reward()
    cache_dir = Path(cache_dir)
    candidates = list(items)
    stats = []
    for name, fingerprint, answer in filters:
        fp = hashlib.sha256(f"{fingerprint}|{prompt_digest(template)}".encode()).hexdigest()[:12]
        cache_path = cache_dir / f"{_slug(name)}-{fp}.jsonl"
        cached = {(r["key"], r["mode"]): r for r in load_cache_rows(cache_path) if "key" in r and "mode" in r}
        before = len(cached)
        _ask(answer, candidates, "image", template, cache_path, cached, reward, chunk)
        img_wrong = [it for it in candidates if not cached[(item_key(it), "image")]["correct"]]
        _ask(answer, img_wrong, "caption", template, cache_path, cached, reward, chunk)
        passed = [it for it in img_wrong if cached[(item_key(it), "caption")]["correct"]]
        close = getattr(answer, "close", None)
        if close is not None:
            close()
        s = {"model": name, "cache": str(cache_path), "asked": len(candidates),
             "image_right": len(candidates) - len(img_wrong), "caption_asked": len(img_wrong),
             "caption_right": len(passed), "passed": len(passed), "new_answers": len(cached) - before}
        stats.append(s)
        if log:
            log(f"[filter] {name}: {s['asked']} asked, {s['image_right']} right from the image, "
                f"{s['caption_right']} of the rest right from the caption -> {s['passed']} pass "
                f"({s['new_answers']} new answers)")
        candidates = passed
    return candidates, stats


def filter_file(
    input_path: str | Path,
    out: str | Path,
    models: Sequence[str],
    *,
    split: str | None = "85,5,10",
    backend: str = "auto",
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    caption_template: str | Path = CAPTION_TEMPLATE,
    trust_remote_code: bool = False,
    answerers: Sequence[tuple[str, str, Answerer]] | None = None,
    log: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Filter `input_path` with every model, write OUT (kept items) and OUT_STEM_{train,val,test}."""
    from seethink.data.loaders import write_items_jsonl
    from seethink.models.resolve import resolve_model

    weights = parse_split(split)
    out = Path(out)
    items = read_items(input_path)
    if answerers is None:
        if not models:
            raise UserError("give at least one filter model with --model DIR")
        answerers = []
        for m in models:
            path = resolve_model(m)
            fingerprint = f"{path.resolve()}|{max_new_tokens}"
            answerers.append((path.name if m != "toy" else "toy", fingerprint,
                              ModelAnswerer(path, backend=backend, device=device, dtype=dtype, batch_size=batch_size,
                                            max_new_tokens=max_new_tokens, trust_remote_code=trust_remote_code,
                                            log=log)))
    cache_dir = out.with_name(out.name + ".filter_cache")
    kept, per_model = caption_filter_items(items, answerers, cache_dir, caption_template=caption_template,
                                           chunk=max(1, batch_size) * 8, log=log)
    write_items_jsonl(kept, out)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    if weights is not None:
        parts: dict[str, list[dict]] = {n: [] for n in SPLIT_NAMES}
        for it in kept:
            parts[split_of(it["id"], weights)].append(it)
        for name, path in split_paths(out).items():
            write_items_jsonl(parts[name], path)
            files[name], counts[name] = str(path), len(parts[name])
    summary = {"input": str(input_path), "output": str(out), "items": len(items), "kept": len(kept),
               "filters": per_model, "split": list(weights) if weights else None, "split_files": files,
               "split_counts": counts}
    write_json(out.with_name(out.name + ".filter.json"), summary)
    return summary
