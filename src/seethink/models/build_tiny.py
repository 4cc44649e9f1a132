"""Tiny random versions of real VLM architectures, built from their transformers configs.

`build_tiny(arch, out_dir)` writes a directory that `load_model` reads like any
downloaded checkpoint: config, safetensors weights, tokenizer, image processor,
chat template. Nothing comes from a hub: the tokenizer is our locally trained one
(given, or trained here) with the special tokens the architecture's processor needs,
and the image processor is the architecture's own (PIL backend) with small sizes.

Architectures (the `model_type` of their configs):

| arch | model class | image tokens for a 112 px toy scene |
|---|---|---|
| `qwen2_vl` | Qwen2VLForConditionalGeneration | 16 (patch 14, merge 2) |
| `qwen2_5_vl` | Qwen2_5_VLForConditionalGeneration (window attention) | 16 (patch 14, merge 2) |
| `qwen3_vl` | Qwen3VLForConditionalGeneration (deepstack) | 16 (patch 16, merge 2, resized to 128 px) |
| `internvl` | InternVLForConditionalGeneration (the `-hf` format) | 16 (one 112 px tile, patch 14, pixel shuffle 0.5) |

They exist to check that training, LoRA, checkpointing and reloading work on each
architecture's real code paths on a CPU; they are far too small to learn anything.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

from seethink.config import ToyModelSpec, ToyWorldSpec
from seethink.models.qwen2vl import rope, text_common

ARCHS = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "internvl")

# The text our chat template writes for one image, per architecture family.
_QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
_INTERNVL_IMAGE = "<IMG_CONTEXT>\n"
# InternVL-hf tokenizers name these four tokens; its processor reads them as attributes.
_INTERNVL_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}

# Where a tokenizer is not given, one is trained on the toy world's text (the embedded toy
# model's corpus), named here and imported on first use so that models do not import the world.
_DEFAULT_CORPUS = "seethink.toyworld.model:tokenizer_corpus"

# A smaller shape than the embedded toy model: these models only have to run.
TINY_SPEC = ToyModelSpec(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=128,
                         vision_depth=2, vision_width=64, vision_heads=4)


def _base_tokenizer(tokenizer: Any, world: ToyWorldSpec, vocab_size: int) -> Any:
    """A copy of the given tokenizer (object or directory), or a freshly trained one."""
    if tokenizer is None:
        from seethink.models.tokenizer import train_tokenizer

        module, attr = _DEFAULT_CORPUS.split(":")
        return train_tokenizer(getattr(importlib.import_module(module), attr)(world), vocab_size=vocab_size)
    if isinstance(tokenizer, (str, Path)):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    return copy.deepcopy(tokenizer)


def _internvl_tokenizer(tok: Any) -> Any:
    """Add InternVL's image tokens as special tokens and name them for its processor."""
    from transformers import PreTrainedTokenizerFast

    missing = [t for t in _INTERNVL_TOKENS.values() if t not in tok.get_vocab()]
    backend = copy.deepcopy(tok.backend_tokenizer)
    out = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=tok.eos_token,
        pad_token=tok.pad_token,
        unk_token=None,
        padding_side=tok.padding_side,
        extra_special_tokens=dict(_INTERNVL_TOKENS),
    )
    if missing:
        out.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    out.chat_template = tok.chat_template.replace(_QWEN_IMAGE, _INTERNVL_IMAGE)
    return out


def _qwen_ids(tok: Any) -> dict[str, Any]:
    return {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }


def _qwen_image_processor(side: int, patch: int) -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    # A fixed pixel budget of one toy scene (rounded to whole merged patches by the processor).
    factor = patch * 2
    px = max(factor, round(side / factor) * factor) ** 2
    return Qwen2VLImageProcessorPil(size={"shortest_edge": px, "longest_edge": px}, patch_size=patch, merge_size=2,
                                    temporal_patch_size=2)


def _build_qwen2_5_vl(spec: ToyModelSpec, tok: Any, side: int) -> tuple[Any, Any, Any]:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    head_dim = spec.hidden_size // spec.num_heads
    config = Qwen2_5_VLConfig(
        text_config={**text_common(spec, tok), "rope_parameters": rope(head_dim, 10000.0)},
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_width,
            "intermediate_size": 2 * spec.vision_width,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,  # 2 x 2 merged tokens per window: a 112 px scene has 4 windows
            "fullatt_block_indexes": [spec.vision_depth - 1],
        },
        **_qwen_ids(tok),
        tie_word_embeddings=spec.tie_embeddings,
    )
    return Qwen2_5_VLForConditionalGeneration(config), Qwen2_5_VLProcessor, _qwen_image_processor(side, 14)


def _build_qwen3_vl(spec: ToyModelSpec, tok: Any, side: int) -> tuple[Any, Any, Any]:
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    head_dim = spec.hidden_size // spec.num_heads
    config = Qwen3VLConfig(
        text_config={**text_common(spec, tok), "head_dim": head_dim,
                     "rope_parameters": rope(head_dim, 10000.0, mrope_interleaved=True)},
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_width,
            "intermediate_size": 2 * spec.vision_width,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 64,  # a learned 8 x 8 grid, interpolated to the image
            "deepstack_visual_indexes": list(range(min(spec.vision_depth, spec.num_layers))),
        },
        **_qwen_ids(tok),
        tie_word_embeddings=spec.tie_embeddings,
    )
    return Qwen3VLForConditionalGeneration(config), Qwen3VLProcessor, _qwen_image_processor(side, 16)


def _build_internvl(spec: ToyModelSpec, tok: Any, side: int) -> tuple[Any, Any, Any]:
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    patch = 14
    tile = (side // patch) * patch
    config = InternVLConfig(
        text_config={**text_common(spec, tok), "model_type": "qwen2", "rope_parameters":
                     {"rope_type": "default", "rope_theta": 10000.0}},
        vision_config={
            "hidden_size": spec.vision_width,
            "num_hidden_layers": spec.vision_depth,
            "num_attention_heads": spec.vision_heads,
            "intermediate_size": 2 * spec.vision_width,
            "image_size": tile,
            "patch_size": patch,
        },
        image_token_id=tok.convert_tokens_to_ids(_INTERNVL_TOKENS["context_image_token"]),
        image_seq_length=(tile // patch) ** 2 // 4,
        downsample_ratio=0.5,
        tie_word_embeddings=spec.tie_embeddings,
    )
    image_processor = GotOcr2ImageProcessorPil(size={"height": tile, "width": tile}, crop_to_patches=False,
                                               image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    return InternVLForConditionalGeneration(config), InternVLProcessor, image_processor


def build_tiny(arch: str, out_dir: str | Path, *, tokenizer: Any = None, spec: ToyModelSpec | None = None,
               world: ToyWorldSpec | None = None, seed: int = 0) -> Path:
    """Build, save and return a random tiny model of `arch` (see ARCHS)."""
    import torch

    from seethink.models.processor import shim_class

    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHS}")
    spec, world = spec or TINY_SPEC, world or ToyWorldSpec()
    side = world.grid * world.cell_px
    torch.manual_seed(seed)
    tok = _base_tokenizer(tokenizer, world, spec.vocab_size)
    if arch == "qwen2_vl":
        from transformers import Qwen2VLProcessor

        from seethink.models.qwen2vl import build_model

        proc_cls, ip = Qwen2VLProcessor, _qwen_image_processor(side, 14)
        processor = shim_class(proc_cls)(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)
        model = build_model(spec, processor)
    else:
        if arch == "internvl":
            tok = _internvl_tokenizer(tok)
        builder = {"qwen2_5_vl": _build_qwen2_5_vl, "qwen3_vl": _build_qwen3_vl, "internvl": _build_internvl}[arch]
        model, proc_cls, ip = builder(spec, tok, side)
        kwargs = {"image_seq_length": model.config.image_seq_length} if arch == "internvl" else {}
        processor = shim_class(proc_cls)(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template, **kwargs)
        gen = model.generation_config
        gen.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
        gen.pad_token_id = tok.pad_token_id
        gen.bos_token_id = tok.convert_tokens_to_ids("<|endoftext|>")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out
