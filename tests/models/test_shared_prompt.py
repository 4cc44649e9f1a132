"""Completion log-probabilities with shared prompt passes against the model's own full pass.

The reference is what TRL computes: the whole prompt + completion sequence through the model,
log-softmax of the tempered logits at the positions before each completion token, 0 on padding.
Checked on the shipped warm toy base (Qwen2-VL) and a tiny random Qwen2.5-VL: values, entropies
and parameter gradients, with groups of repeated prompts, text-only rows, a row whose image
differs under the same text, and a LoRA-wrapped model; and the trainer hook's fallback.
"""

from __future__ import annotations

import contextlib
import types

import pytest
import torch
from toy_prompts import encode_toy_prompts  # tests/models/toy_prompts.py

from seethink.config import ToyWorldSpec
from seethink.data.tasks import get_task
from seethink.models import shared_prompt
from seethink.models.load import load_model
from seethink.toyworld.warmstart import shipped_base

TEMPERATURE = 0.7


@pytest.fixture(scope="module")
def base():
    model, processor = load_model(shipped_base())
    return model, processor


def _grouped(processor, model, group=3, n_visual=3, n_text=2, seed=5, completion=12):
    """A GRPO-shaped batch: each prompt repeated `group` times, completions sampled from the
    model (right-padded after their end), as TRL builds it: (input_ids, attention_mask, C, images)."""
    items = get_task("toy_visual").generate(n_visual, "test", seed, ToyWorldSpec())
    items += get_task("toy_text").generate(n_text, "test", seed, ToyWorldSpec())
    enc = encode_toy_prompts(processor, items, repeat=group)
    torch.manual_seed(0)
    with torch.no_grad():
        seqs = type(model).generate(model, **enc, max_new_tokens=completion, do_sample=True)
    comp = seqs[:, enc["input_ids"].shape[1]:]
    eos = model.generation_config.eos_token_id
    eos = torch.tensor(eos if isinstance(eos, list) else [eos])
    ended = torch.isin(comp, eos).int().cumsum(-1)
    comp_mask = ((ended - torch.isin(comp, eos).int()) == 0).long()  # up to and including the end token
    ids = torch.cat([enc["input_ids"], comp], 1)
    mask = torch.cat([enc["attention_mask"], comp_mask], 1)
    images = {k: enc[k] for k in ("pixel_values", "image_grid_thw", "mm_token_type_ids") if k in enc}
    return ids, mask, comp.shape[1], images


def _full_pass(model, ids, mask, c, images):
    kw = dict(images)
    if "mm_token_type_ids" in kw:  # the processor's ids cover the prompt; completions are text (0)
        kw["mm_token_type_ids"] = torch.cat([kw["mm_token_type_ids"], kw["mm_token_type_ids"].new_zeros(ids.shape[0], c)], 1)
    logits = model(input_ids=ids, attention_mask=mask, **kw).logits[:, -c - 1:-1].float() / TEMPERATURE
    logp = logits.log_softmax(-1)
    keep = mask[:, -c:].bool()
    logps = logp.gather(-1, ids[:, -c:, None]).squeeze(-1).masked_fill(~keep, 0)
    entropy = -(logp.exp() * logp).sum(-1).masked_fill(~keep, 0)
    return logps, entropy


def _grads(model, logps):
    model.zero_grad()
    (logps.sum()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _compare(model, ids, mask, c, images):
    ref, ref_ent = _full_pass(model, ids, mask, c, images)
    g_ref = _grads(model, ref)
    got, got_ent = shared_prompt.completion_logps(model, ids, mask, c, temperature=TEMPERATURE, compute_entropy=True,
                                                  **images)
    g_got = _grads(model, got)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=2e-5), (got - ref).abs().max()
    assert torch.allclose(got_ent, ref_ent, atol=2e-5), (got_ent - ref_ent).abs().max()
    assert set(g_got) == set(g_ref)
    for name, g in g_ref.items():
        assert torch.allclose(g_got[name], g, atol=1e-4, rtol=1e-3), (name, (g_got[name] - g).abs().max())


def test_matches_the_full_pass_values_entropies_and_gradients(base):
    model, processor = base
    ids, mask, c, images = _grouped(processor, model, completion=40)
    assert (mask[:, -c:] == 0).any(), "the batch should hold completions that ended early"
    _compare(model, ids, mask, c, images)


def test_same_text_other_image_is_scored_with_its_own_image(base):
    model, processor = base
    ids, mask, c, images = _grouped(processor, model, group=2, n_visual=2, n_text=0)
    # Give the second copy of the first prompt the other prompt's image: same text, other pixels.
    grid = images["image_grid_thw"]
    per = int(grid[0].prod())
    pv = images["pixel_values"].clone()
    pv[per:2 * per] = images["pixel_values"][2 * per:3 * per]
    images = dict(images, pixel_values=pv)
    _compare(model, ids, mask, c, images)


def test_qwen2_5_vl_matches(tmp_path):
    from seethink.models.build_tiny import build_tiny

    path = build_tiny("qwen2_5_vl", tmp_path / "tiny25")
    model, processor = load_model(path)
    ids, mask, c, images = _grouped(processor, model, group=2, n_visual=2, n_text=1, completion=6)
    _compare(model, ids, mask, c, images)


def test_lora_wrapped_model_matches(base):
    from peft import LoraConfig, get_peft_model

    model, processor = load_model(shipped_base())
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():  # move the adapters off zero so they count
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    ids, mask, c, images = _grouped(processor, peft_model, group=2, n_visual=2, n_text=1, completion=8)
    _compare(peft_model, ids, mask, c, images)


def test_install_falls_back_for_inputs_it_does_not_know(base):
    model, _ = base
    calls = []

    def original(m, input_ids, attention_mask, logits_to_keep, **kw):
        calls.append(sorted(k for k, v in kw.items() if v is not None and not k.startswith(("compute_", "batch_"))))
        return "trl", None, None

    trainer = types.SimpleNamespace(model=model, temperature=1.0, _get_per_token_logps_and_entropies=original,
                                    accelerator=types.SimpleNamespace(autocast=contextlib.nullcontext))
    assert shared_prompt.install(trainer) is None
    ids = torch.ones(2, 4, dtype=torch.long)
    out = trainer._get_per_token_logps_and_entropies(model, ids, torch.ones_like(ids), 2, image_sizes=torch.ones(2))
    assert out[0] == "trl" and calls == [["image_sizes"]]
    out = trainer._get_per_token_logps_and_entropies(model, ids, torch.ones_like(ids), 2, compute_aux_loss=True)
    assert out[0] == "trl"
    assert shared_prompt.why_not(model, {"pixel_values": None}) is None
    # Under DDP the policy arrives wrapped: its own forward syncs gradients, so TRL's pass runs.
    wrapped = types.SimpleNamespace(module=model)
    assert "distributed wrapper" in (shared_prompt.why_not(wrapped, {}) or "")
    out = trainer._get_per_token_logps_and_entropies(wrapped, ids, torch.ones_like(ids), 2)
    assert out[0] == "trl"


def test_on_by_default_on_a_cpu_only(base):
    model, _ = base
    assert shared_prompt.wanted(None, model) is True
    assert shared_prompt.wanted(False, model) is False


def test_text_only_batch_after_a_generate_over_every_row(base):
    """HF's `generate` over all B rows leaves rope deltas for B rows on the model, which a
    text-only prompt pass (no image: the backbone does not recompute them) must not read."""
    model, processor = base
    ids, mask, c, images = _grouped(processor, model, n_visual=0, n_text=3)
    assert "pixel_values" not in images and model.model.rope_deltas.shape[0] == ids.shape[0]
    _compare(model, ids, mask, c, images)
