"""Shared by the decode-loop and log-probability tests: toy items as a left-padded prompt batch."""

from __future__ import annotations

from typing import Any

from seethink.data.images import item_images
from seethink.data.prompts import render_prompt
from seethink.eval.engine import _with_placeholders


def encode_toy_prompts(processor: Any, items: list[dict], repeat: int = 1) -> Any:
    """The items' chat prompts (each `repeat` times in a row, as GRPO groups them) with their
    images, through the processor with left padding, as generation and TRL batch them."""
    texts, images = [], []
    for it in items:
        imgs = item_images(it)
        msgs = _with_placeholders([{"role": "user", "content": render_prompt(it)}], len(imgs))
        text = processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        texts += [text] * repeat
        images += [imgs] * repeat
    processor.tokenizer.padding_side = "left"
    return processor(text=texts, images=images if any(images) else None, padding=True, return_tensors="pt")
