"""A random Qwen2-VL of a `ToyModelSpec` shape around a given processor (its tokenizer sets the
vocabulary and the special token ids): the embedded toy model and the `qwen2_vl` tiny model."""

from __future__ import annotations

from typing import Any

from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

from seethink.config import ToyModelSpec


def mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) as Qwen2-VL does (1:1.5:1.5)."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def rope(head_dim: int, theta: float, **extra: Any) -> dict[str, Any]:
    """Rotary settings with Qwen2-VL's 3D split of the frequencies."""
    return {"rope_type": "default", "rope_theta": theta, "mrope_section": mrope_section(head_dim), **extra}


def text_common(spec: ToyModelSpec, tok: Any) -> dict[str, Any]:
    """The text decoder's settings every tiny architecture shares (shape, vocabulary, special ids)."""
    return {
        "vocab_size": len(tok),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads,
        "num_key_value_heads": spec.num_kv_heads,
        "max_position_embeddings": 2048,
        "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tok.pad_token_id,
        "tie_word_embeddings": spec.tie_embeddings,
    }


def build_model(spec: ToyModelSpec, processor: Qwen2VLProcessor) -> Qwen2VLForConditionalGeneration:
    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")}
    config = Qwen2VLConfig(
        text_config={**text_common(spec, tok), "rope_parameters": rope(spec.hidden_size // spec.num_heads, 10000.0)},
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
