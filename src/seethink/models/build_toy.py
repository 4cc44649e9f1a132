"""The embedded default model: a tiny Qwen2-VL built from a config, random init.

Shape (defaults): text 128 wide x 4 layers, vision tower depth 3 x 96 wide, patch 14,
merge 2, 112 px images -> 8x8 patches -> 4x4 = 16 image tokens, vocabulary 512,
about 1.6M parameters. Nothing is downloaded: the tokenizer is trained here on
toy-world text.
"""

from __future__ import annotations

from pathlib import Path

from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from seethink.config import ToyModelSpec, ToyWorldSpec
from seethink.data.prompts import render_prompt
from seethink.data.toyworld import generate_items
from seethink.models.processor import shim_class
from seethink.models.tokenizer import chat_template, train_tokenizer


def _corpus(world: ToyWorldSpec) -> list[str]:
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
    tok = train_tokenizer(_corpus(world), vocab_size=spec.vocab_size)
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


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) as Qwen2-VL does (1:1.5:1.5)."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def build_model(spec: ToyModelSpec, processor: Qwen2VLProcessor) -> Qwen2VLForConditionalGeneration:
    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")}
    vocab = len(tok)
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": vocab,
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_layers,
            "num_attention_heads": spec.num_heads,
            "num_key_value_heads": spec.num_kv_heads,
            "max_position_embeddings": 2048,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": _mrope_section(spec.hidden_size // spec.num_heads)},
            "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
            "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
            "pad_token_id": tok.pad_token_id,
            "tie_word_embeddings": spec.tie_embeddings,
        },
        vision_config={
            "depth": spec.vision_depth,
            "embed_dim": spec.vision_width,
            "hidden_size": spec.hidden_size,
            "num_heads": spec.vision_heads,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=spec.tie_embeddings,
    )
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.convert_tokens_to_ids("<|endoftext|>")
    return model


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
