"""Batched generation with Hugging Face models (CPU or GPU).

Prompts are sorted by length so each batch pads little, generated in batches with the
KV cache on, and returned in the caller's order. Left padding, as decoder-only
generation needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PIL import Image


def _tokenizer(processor: Any) -> Any:
    return getattr(processor, "tokenizer", processor)


def generate(
    model: Any,
    processor: Any,
    conversations: Sequence[list[dict]],
    images: Sequence[list[Image.Image]],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 32,
    temperature: float = 0.0,
    top_p: float = 1.0,
    num_return_sequences: int = 1,
    progress: Callable[[int], None] | None = None,
    cached: Mapping[int, list[str]] | None = None,
    on_batch: Callable[[list[int], list[list[str]]], None] | None = None,
    seed: int = 0,
    fast: bool | None = None,
) -> list[list[str]]:
    """For each conversation, `num_return_sequences` decoded completions (special tokens dropped).

    `conversations[i]` holds plain-string user content; `images[i]` its images (may be
    empty) which are inserted as placeholders before the text.

    Resuming: `on_batch(indices, outputs)` is called after each generated batch (to save it)
    and a batch whose every index is in `cached` is taken from there instead of generated.
    Batches depend only on the inputs, so a resumed call forms the same batches (and,
    greedy, gets the same outputs) as an uninterrupted one. Sampling reseeds the generator
    per batch from `seed` and the batch's position, so sampled outputs resume identically too.

    `fast`: decode with `seethink.models.fastgen` (same tokens as HF's `generate`, less time per
    token) where it supports the model; None = on a CPU only (`fastgen.wanted`); HF's `generate`
    otherwise or when false.
    """
    tok = _tokenizer(processor)
    tok.padding_side = "left"
    texts = [processor.apply_chat_template(_with_placeholders(conv, len(imgs)), add_generation_prompt=True,
                                           tokenize=False)
             for conv, imgs in zip(conversations, images, strict=True)]
    lengths = [len(tok(t)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    out: list[list[str]] = [[] for _ in texts]
    device = next(model.parameters()).device
    model.eval()
    gen_kwargs = _generation_kwargs(max_new_tokens, temperature, top_p, num_return_sequences)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if cached is not None and all(i in cached for i in idx):
            for i in idx:
                out[i] = list(cached[i])
        else:
            decoded = _decode_batch(model, processor, [texts[i] for i in idx], [images[i] for i in idx], device,
                                    gen_kwargs, seed=seed + start if temperature > 0 else None, fast=fast)
            for j, i in enumerate(idx):
                out[i] = decoded[j * num_return_sequences : (j + 1) * num_return_sequences]
            if on_batch:
                on_batch(idx, [out[i] for i in idx])
        if progress:
            progress(len(idx))
    return out


def _generation_kwargs(max_new_tokens: int, temperature: float, top_p: float,
                       num_return_sequences: int) -> dict[str, Any]:
    """`generate` keywords: greedy at temperature 0, else sampling."""
    gen_kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "use_cache": True}
    if temperature > 0:
        gen_kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
    else:
        gen_kwargs.update(do_sample=False)
    gen_kwargs["num_return_sequences"] = num_return_sequences
    return gen_kwargs


def _decode_batch(model: Any, processor: Any, texts: list[str], batch_imgs: list[list[Image.Image]], device: Any,
                  gen_kwargs: dict[str, Any], *, seed: int | None, fast: bool | None) -> list[str]:
    """One padded batch generated and decoded: num_return_sequences completions per prompt, in a row.
    `seed` reseeds the sampler first (None: greedy, nothing to seed)."""
    import torch

    from seethink.models import fastgen

    flat = [im for ims in batch_imgs for im in ims]
    enc = processor(
        text=texts,
        images=[ims for ims in batch_imgs] if flat else None,
        padding=True,
        return_tensors="pt",
    )
    enc = {k: v.to(device) if hasattr(v, "to") else v for k, v in enc.items()}
    if seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode():
        lean = fastgen.wanted(fast, model)
        seqs = fastgen.generate(model, **enc, **gen_kwargs) if lean else model.generate(**enc, **gen_kwargs)
    new = seqs[:, enc["input_ids"].shape[1] :]  # (B * n, new_tokens)
    return _tokenizer(processor).batch_decode(new, skip_special_tokens=True)


def _with_placeholders(conv: list[dict], n_images: int) -> list[dict]:
    msgs = []
    placed = False
    for m in conv:
        content = m["content"]
        if m["role"] == "user" and isinstance(content, str) and not placed:
            content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": content}]
            placed = True
        msgs.append({"role": m["role"], "content": content})
    return msgs


def count_tokens(processor: Any, text: str) -> int:
    return len(_tokenizer(processor)(text, add_special_tokens=False)["input_ids"])
