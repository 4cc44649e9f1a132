"""A small byte-level BPE tokenizer trained locally with `tokenizers` (no hub).

Byte-level so any text encodes; a small vocabulary because the LM head dominates a
tiny model's step time. Digits are split one per token so arithmetic is learnable.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Single tokens (not special, so decoding keeps them) for the reasoning format.
FORMAT_TOKENS = ["<think>", "</think>", "\\boxed{"]


def chat_template(image_after_text: bool = False) -> str:
    name = "chat_template_image_last.jinja" if image_after_text else "chat_template.jinja"
    return resources.files("seethink.models").joinpath(name).read_text()


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        padding_side="left",
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
    )
    fast.add_tokens(FORMAT_TOKENS)
    fast.chat_template = chat_template()
    return fast
