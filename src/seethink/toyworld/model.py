"""The toy world's embedded default model: a tiny Qwen2-VL built from a config, random init.

Shape (defaults): text 128 wide x 4 layers, vision tower depth 3 x 96 wide, patch 14,
merge 2, 112 px images -> 8x8 patches -> 4x4 = 16 image tokens, vocabulary 512,
about 1.6M parameters. Nothing is downloaded: the tokenizer is trained here on
toy-world text.
"""

from __future__ import annotations

from pathlib import Path

from transformers import Qwen2VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from seethink.config import ToyModelSpec, ToyWorldSpec
from seethink.data.prompts import render_prompt
from seethink.models.processor import shim_class
from seethink.models.qwen2vl import build_model
from seethink.models.tokenizer import chat_template, train_tokenizer
from seethink.toyworld import generate_items


def tokenizer_corpus(world: ToyWorldSpec) -> list[str]:
    texts = []
    for cap in ("perception", "text", "visual"):
        for item in generate_items(cap, 1500, "train", 0, grid=world.grid):
            texts += [render_prompt(item), item["solution"], item["caption"]]
    if list(world.shapes) != list(ToyWorldSpec().shapes) or world.sizes:
        # The world's own shape and size words, so they get tokens of their own; the default
        # world's corpus (and so the shipped base's tokenizer) stays as it was.
        for cap in ("perception", "visual"):
            for item in generate_items(cap, 500, "train", 1, world):
                texts += [render_prompt(item), item["solution"], item["caption"]]
    return texts


def build_processor(spec: ToyModelSpec, world: ToyWorldSpec) -> Qwen2VLProcessor:
    tok = train_tokenizer(tokenizer_corpus(world), vocab_size=spec.vocab_size)
    if spec.image_after_text:
        tok.chat_template = chat_template(image_after_text=True)
    side = world.grid * world.cell_px
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": side * side, "longest_edge": side * side},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    # No video processor: it needs torchvision, which these machines cannot import.
    processor: Qwen2VLProcessor = shim_class(Qwen2VLProcessor)(
        image_processor=image_processor, tokenizer=tok, chat_template=tok.chat_template
    )
    return processor


def build_toy(out_dir: str | Path, spec: ToyModelSpec | None = None, world: ToyWorldSpec | None = None,
              seed: int = 0) -> Path:
    """Build, save (safetensors) and return the directory of a fresh random tiny VLM."""
    import torch

    spec, world = spec or ToyModelSpec(), world or ToyWorldSpec()
    torch.manual_seed(seed)
    processor = build_processor(spec, world)
    model = build_model(spec, processor)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out
