"""The lean decode loop against HF's own `generate` on the shipped warm toy base.

Greedy: the same tokens. Sampling: with the same seed, the same tokens (the loop draws with the
same processors and the same multinomial call, so the random stream is consumed identically);
a statistical check would be weaker than this. Also: prompts with and without images in one
left-padded batch, several samples per prompt, LoRA-wrapped models, and the fallback.
"""

from __future__ import annotations

import pytest
import torch
from toy_prompts import encode_toy_prompts  # tests/models/toy_prompts.py

from seethink.config import ToyWorldSpec
from seethink.data.tasks import get_task
from seethink.models import fastgen
from seethink.models.load import load_model
from seethink.toyworld.warmstart import shipped_base


@pytest.fixture(scope="module")
def base():
    model, processor = load_model(shipped_base())
    model.eval()
    return model, processor


def _batch(processor, n_visual=5, n_text=3, seed=3):
    items = get_task("toy_visual").generate(n_visual, "test", seed, ToyWorldSpec())
    items += get_task("toy_text").generate(n_text, "test", seed, ToyWorldSpec())
    return encode_toy_prompts(processor, items)


def _mixed(processor):
    """Visual prompts (with images) and text-only prompts in one padded batch."""
    enc_v = _batch(processor, n_visual=4, n_text=0)
    enc_t = _batch(processor, n_visual=0, n_text=3)
    return enc_v, enc_t


def _both(model, enc, seed=0, **kw):
    torch.manual_seed(seed)
    with torch.inference_mode():
        ref = type(model).generate(model, **enc, **kw)
    torch.manual_seed(seed)
    with torch.inference_mode():
        fast = fastgen.generate(model, **enc, **kw)
    return ref, fast


def test_supported_and_reasons(base):
    model, _ = base
    assert fastgen.unsupported(model) is None


@pytest.mark.parametrize("which", ["visual", "text"])
def test_greedy_tokens_identical(base, which):
    model, processor = base
    enc_v, enc_t = _mixed(processor)
    enc = enc_v if which == "visual" else enc_t
    ref, fast = _both(model, enc, max_new_tokens=80, do_sample=False)
    assert ref.shape == fast.shape
    assert torch.equal(ref, fast)


def test_sampling_same_seed_same_tokens(base):
    model, processor = base
    enc = _batch(processor, n_visual=6, n_text=0)
    same = 0
    for seed in range(3):
        ref, fast = _both(model, enc, seed=seed, max_new_tokens=80, do_sample=True, temperature=1.0, top_p=0.95,
                          top_k=0, num_return_sequences=3, suppress_tokens=[model.config.image_token_id])
        assert ref.shape[0] == fast.shape[0] == 18
        width = min(ref.shape[1], fast.shape[1])
        same += int(torch.equal(ref[:, :width], fast[:, :width]) and ref.shape == fast.shape)
    # Float rounding in attention may flip a near-tie draw once in a long while; all 3 x 18 rows
    # of 80 tokens agreeing in at least two of three batches is far beyond chance.
    assert same >= 2


def test_trl_style_generation_config(base):
    """TRL passes a full GenerationConfig (eos list, pad, suppressed image token, top_k None)."""
    from transformers import GenerationConfig

    model, processor = base
    enc = _batch(processor, n_visual=4, n_text=0)
    tok = processor.tokenizer
    gc = GenerationConfig(max_new_tokens=40, do_sample=True, pad_token_id=tok.pad_token_id,
                          eos_token_id=[model.generation_config.eos_token_id], temperature=1.0, top_p=1.0,
                          top_k=None, min_p=None, repetition_penalty=1.0,
                          suppress_tokens=[model.config.image_token_id], disable_compile=True)
    ref, fast = _both(model, enc, seed=7, generation_config=gc)
    assert torch.equal(ref, fast)


def test_install_routes_generate_and_uninstall_restores(base):
    model, processor = base
    enc = _batch(processor, n_visual=3, n_text=0)
    calls = []
    real = fastgen._decode

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    assert fastgen.install(model) is None
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(fastgen, "_decode", spy)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=20, do_sample=False)
        assert calls and out.shape[0] == 3
    finally:
        fastgen.uninstall(model)
    assert "generate" not in model.__dict__


def test_lora_wrapped_model_matches(base):
    from peft import LoraConfig, get_peft_model

    model, processor = base
    import copy

    wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                               init_lora_weights=False))
    wrapped.eval()
    enc = _batch(processor, n_visual=3, n_text=0)
    ref, fast = _both(wrapped, enc, max_new_tokens=30, do_sample=False)
    assert torch.equal(ref, fast)


def test_falls_back_for_beam_search(base):
    model, processor = base
    enc = _batch(processor, n_visual=2, n_text=0)
    ref, fast = _both(model, enc, max_new_tokens=10, do_sample=False, num_beams=2)
    assert torch.equal(ref, fast)


def test_qwen2_5_vl_greedy_and_sampled_identical(tmp_path):
    """The other supported architecture (window attention in its vision tower, the same decoder)."""
    from seethink.models.build_tiny import build_tiny

    model, processor = load_model(build_tiny("qwen2_5_vl", tmp_path / "m"))
    model.eval()
    assert fastgen.unsupported(model) is None
    enc = _batch(processor, n_visual=3, n_text=0)
    ref, fast = _both(model, enc, max_new_tokens=24, do_sample=False)
    assert torch.equal(ref, fast)
    ref, fast = _both(model, enc, seed=2, max_new_tokens=24, do_sample=True, temperature=1.0,
                      num_return_sequences=2)
    assert torch.equal(ref, fast)


def test_other_architectures_are_named_and_fall_back(tmp_path):
    from seethink.models.build_tiny import build_tiny

    model, processor = load_model(build_tiny("internvl", tmp_path / "m"))
    assert "internvl" in (fastgen.unsupported(model) or "")
    assert fastgen.install(model) is not None and "generate" not in model.__dict__


def _repeat_rows(enc, times):
    """Each prompt's row repeated `times` times in a row, as TRL asks for a GRPO group."""
    b = enc["input_ids"].shape[0]
    idx = torch.arange(b).repeat_interleave(times)
    out = {k: v[idx] for k, v in enc.items() if k not in ("pixel_values", "image_grid_thw")}
    patches = enc["image_grid_thw"].prod(-1)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), patches.cumsum(0)[:-1]])
    out["pixel_values"] = torch.cat([enc["pixel_values"][starts[i]: starts[i] + patches[i]] for i in idx])
    out["image_grid_thw"] = enc["image_grid_thw"][idx]
    return out


def test_repeated_prompts_computed_once_same_tokens(base):
    """A GRPO batch (4 prompts x 5 rows): the prompt pass runs on 4 rows, the draws match HF's on 20."""
    model, processor = base
    enc = _repeat_rows(_batch(processor, n_visual=4, n_text=0), 5)
    sel, inv, sub = fastgen.shared_prompts(model.config, enc["input_ids"], enc["attention_mask"],
                                            {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask")})
    assert sel.tolist() == [0, 5, 10, 15] and inv.tolist() == [i // 5 for i in range(20)]
    assert sub["pixel_values"].shape[0] == enc["pixel_values"].shape[0] // 5
    for seed in (0, 1):
        ref, fast = _both(model, enc, seed=seed, max_new_tokens=80, do_sample=True, temperature=1.0,
                          suppress_tokens=[model.config.image_token_id])
        assert torch.equal(ref, fast)


def test_same_text_other_image_is_not_shared(base):
    """Two rows with the same prompt text but different scenes keep their own prompt pass."""
    model, processor = base
    enc = _batch(processor, n_visual=2, n_text=0)
    same_text = {k: v.clone() for k, v in enc.items()}
    same_text["input_ids"][1] = same_text["input_ids"][0]
    same_text["attention_mask"][1] = same_text["attention_mask"][0]
    sel, inv, _ = fastgen.shared_prompts(model.config, same_text["input_ids"], same_text["attention_mask"],
                                          {k: v for k, v in same_text.items()
                                           if k not in ("input_ids", "attention_mask")})
    assert sel.tolist() == [0, 1] and inv.tolist() == [0, 1]


def test_prompt_keys_read_bfloat16_pixels():
    """Pixel values in bfloat16 (a GPU evaluation) are compared by their bytes too."""
    t = torch.randn(4, 6).to(torch.bfloat16)
    assert fastgen._bytes(t) == fastgen._bytes(t.clone()) and fastgen._bytes(t) != fastgen._bytes(t + 1)
    assert len(fastgen._bytes(t)) == 4 * 6 * 2


def test_lean_loop_is_the_default_on_a_cpu_only():
    """Unset, the lean loop runs where it was measured faster (a CPU); a setting always wins."""
    cpu = torch.nn.Linear(2, 2)
    elsewhere = torch.nn.Linear(2, 2, device="meta")  # stands in for a GPU: any device but the CPU
    assert fastgen.wanted(None, cpu) is True
    assert fastgen.wanted(None, elsewhere) is False
    assert fastgen.wanted(True, elsewhere) is True
    assert fastgen.wanted(False, cpu) is False


def test_mixed_precision_keeps_generate(base):
    """Under autocast (ambient, or accelerate's wrapped forward for bf16 training) the prompt
    pass would leave a cache of mixed float and bf16 tensors that the loop's own attention
    cannot read: such calls go to HF's `generate`, with its tokens."""
    model, processor = base
    enc = _batch(processor, n_visual=2, n_text=1)
    assert not fastgen.autocast_forward(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fastgen.autocast_forward(model)
        ref, fast = _both(model, enc, max_new_tokens=8, do_sample=False)
    assert torch.equal(ref, fast)
    model.__dict__["_original_forward"] = model.forward  # how accelerate marks a wrapped forward
    try:
        assert fastgen.autocast_forward(model)
    finally:
        del model.__dict__["_original_forward"]
