"""Completion log-probabilities with each distinct prompt run once: GRPO's policy and reference passes.

GRPO scores every completion of a group against the same prompt, and TRL runs the whole
prompt + completion sequence for every row: with a group of 5 the prompt (image tokens, chat
template, question) is computed 5 times, in the policy's forward and backward and in the
reference model's forward. On the toy world a prompt is 60-85 tokens and a completion 20-45, so
most of that arithmetic is repeated prompt work.

Here the prompt pass is HF's own backbone (image features, 3D rope positions, left padding),
run once per distinct prompt with its key/value cache kept; the cache is copied to each row of
the prompt (`index_select`, so gradients of all rows flow back into the one prompt pass), and
the completion tokens run through the decoder's own modules (norms, projections, MLPs, rotary
embedding) attending to that cache. A completion token at text position `p` sees exactly what
it sees in the full pass (the prompt's keys and values, then earlier completion tokens), so the
log-probabilities are the full pass's up to float rounding; tests/models/test_shared_prompt.py
compares them, their gradients and the entropies with TRL's own pass.

The log-probabilities come from the tempered logits as TRL's fused head computes them
(`log_softmax(logits / temperature)`), with padding positions set to 0. The logits of a
completion are materialised, (rows, completion length, vocabulary): cheap for a small
vocabulary, too large for a 150k one on long completions, which is one reason this path is
meant for CPUs (`wanted`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from seethink.models.fastgen import (
    Decoder,
    base_model,
    cache_tensors,
    rotate_half,
    shared_prompts,
    unsupported,
)

# Inputs the prompt pass knows how to slice per prompt; anything else sends a call to TRL's own pass.
_KNOWN = ("pixel_values", "image_grid_thw", "mm_token_type_ids", "num_images")


def why_not(model: Any, inputs: dict[str, Any]) -> str | None:
    """Why this pass cannot score `model` on these inputs (None when it can)."""
    if hasattr(model, "module") and not hasattr(model, "config"):
        # DDP and the like synchronise gradients through their own forward, which this bypasses.
        return f"a distributed wrapper ({type(model).__name__})"
    reason = unsupported(model)
    if reason is not None:
        return reason
    base = base_model(model)
    text = base.config.get_text_config()
    checkpointing = getattr(base, "is_activation_checkpointing", None)
    if checkpointing is None:  # transformers before the rename
        checkpointing = getattr(base, "is_gradient_checkpointing", False)
    if getattr(text, "final_logit_softcapping", None) or checkpointing:
        return "logit softcapping or gradient checkpointing"
    other = sorted(k for k, v in inputs.items() if v is not None and k not in _KNOWN)
    if other:
        return f"inputs {', '.join(other)}"
    return None


def _prompt_pass(base: Any, ids: torch.Tensor, mask: torch.Tensor, images: dict[str, Any]) -> tuple[Any, ...]:
    """HF's backbone over the distinct prompts: (sel (U,), inv (B,), last hidden (U, D), cache
    tensors [(U, Hkv, P, hd) x 2 per layer], text position of each prompt's first new token (U,))."""
    sel, inv, kwargs = shared_prompts(base.config, ids, mask, images)
    # Deltas kept from the last generation describe that call's rows (all B of them when HF's
    # `generate` ran, U under the lean loop), not these prompts: cleared, the backbone computes
    # them afresh for image prompts and leaves None (plain positions) for text-only ones.
    base.model.rope_deltas = None
    if kwargs.get("image_grid_thw") is None:
        # Text-only prompts: positions count real tokens only, as in generation, so that the
        # completion (from `start` below) continues them. Left alone, the backbone numbers a
        # left-padded row's tokens from its first pad, and the completion would then overlap
        # the prompt's positions by the pad count.
        m = mask[sel].long()
        text_pos = (m.cumsum(-1) - 1).masked_fill(m == 0, 1)  # (U, P)
        kwargs = dict(kwargs, position_ids=text_pos[None].expand(3, -1, -1))
    out = base.model(input_ids=ids[sel], attention_mask=mask[sel], use_cache=True, return_dict=True, **kwargs)
    deltas = base.model.rope_deltas
    if deltas is None:
        deltas = torch.zeros(sel.shape[0], 1, dtype=torch.long, device=ids.device)
    start = mask[sel].long().sum(-1) + deltas.view(-1).to(ids.device)  # (U,)
    return sel, inv, out.last_hidden_state[:, -1], cache_tensors(out.past_key_values), start


def _completion_pass(base: Any, tokens: torch.Tensor, pos: torch.Tensor, prefix: list[tuple[torch.Tensor, torch.Tensor]],
                     attend: torch.Tensor) -> torch.Tensor:
    """Hidden states (B, C, D) after the final norm of the completion tokens `tokens` (B, C) at text
    positions `pos` (B, C), attending to the per-row prompt cache `prefix` and to themselves
    causally; `attend` (B, 1, C, P + C) is True where a query may look."""
    dec = Decoder(base)
    b, c = tokens.shape
    hd = dec.head_dim
    h = dec.lm.embed_tokens(tokens)  # (B, C, D)
    cos, sin = dec.lm.rotary_emb(h, pos[None].expand(3, b, c))  # (B, C, hd) each
    cos, sin = cos[:, None], sin[:, None]  # (B, 1, C, hd): broadcast over heads
    for i, layer in enumerate(dec.layers):
        x = layer.input_layernorm(h)
        q, k, v = dec.qkv(i, x)
        q = q.view(b, c, -1, hd).transpose(1, 2)  # (B, H, C, hd)
        k = k.view(b, c, -1, hd).transpose(1, 2)  # (B, Hkv, C, hd)
        v = v.view(b, c, -1, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        pk, pv = prefix[i]  # (B, Hkv, P, hd)
        o = F.scaled_dot_product_attention(q, torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2),
                                           attn_mask=attend, scale=dec.scaling, enable_gqa=dec.gqa)
        h = h + layer.self_attn.o_proj(o.transpose(1, 2).reshape(b, c, -1))
        h = h + layer.mlp(layer.post_attention_layernorm(h))
    return dec.lm.norm(h)


def completion_logps(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int, *,
                     temperature: float = 1.0, compute_entropy: bool = False,
                     **images: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probabilities (B, C) of the last `logits_to_keep` tokens of each row of
    `input_ids` (B, P + C: left-padded prompt, right-padded completion), and their entropies when
    asked; 0 where the completion is padding. `images`: pixel_values / image_grid_thw /
    mm_token_type_ids of the prompts, as the processor gave them."""
    base = base_model(model)
    p = input_ids.shape[1] - logits_to_keep
    ids, mask = input_ids[:, :p], attention_mask[:, :p]
    images = {k: v for k, v in images.items() if v is not None and k != "num_images"}
    if "mm_token_type_ids" in images:
        images["mm_token_type_ids"] = images["mm_token_type_ids"][:, :p]
    sel, inv, last, cache, start = _prompt_pass(base, ids, mask, images)
    tokens = input_ids[:, p:]  # (B, C)
    c = tokens.shape[1]
    pos = start[inv][:, None] + torch.arange(c, device=tokens.device)  # (B, C)
    prefix = [(k.index_select(0, inv), v.index_select(0, inv)) for k, v in cache]
    causal = torch.ones(c, c, dtype=torch.bool, device=tokens.device).tril()  # (C, C)
    attend = torch.cat([mask.bool()[:, None, :].expand(-1, c, -1),
                        causal[None] & attention_mask[:, None, p:].bool()], dim=2)[:, None]  # (B, 1, C, P+C)
    h = _completion_pass(base, tokens, pos, prefix, attend)  # (B, C, D)
    # Token t of the completion is predicted from the position before it: the prompt's last for t=0.
    h = torch.cat([last.index_select(0, inv)[:, None], h[:, :-1]], dim=1)  # (B, C, D)
    logits = base.lm_head(h).float() / temperature  # (B, C, V)
    logp_all = logits.log_softmax(-1)
    keep = attention_mask[:, p:].bool()
    logps = logp_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).masked_fill(~keep, 0.0)
    entropy = None
    if compute_entropy:
        entropy = -(logp_all.exp() * logp_all).sum(-1).masked_fill(~keep, 0.0)
    return logps, entropy


def wanted(setting: bool | None, model: Any) -> bool:
    """Whether to score GRPO completions with this pass: `setting` when given, else on a CPU only
    (the logits it materialises are small there; on a GPU TRL's fused head keeps them tiled)."""
    if setting is not None:
        return setting
    return next(base_model(model).parameters()).device.type == "cpu"


def install(trainer: Any) -> str | None:
    """Route a TRL GRPOTrainer's log-probability passes (policy and reference) through
    `completion_logps` where it applies, TRL's own pass elsewhere; returns why not when the
    policy model is not covered at all."""
    reason = why_not(trainer.model, {})
    if reason is not None:
        return reason
    original = trainer._get_per_token_logps_and_entropies

    def per_token(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int,
                  batch_size: int | None = None, compute_entropy: bool = False, compute_aux_loss: bool = False,
                  **inputs: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        if compute_aux_loss or why_not(model, inputs) is not None:
            return original(model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                            compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **inputs)
        with trainer.accelerator.autocast():
            logps, entropy = completion_logps(model, input_ids, attention_mask, logits_to_keep,
                                              temperature=trainer.temperature, compute_entropy=compute_entropy,
                                              **inputs)
        return logps, entropy, None

    trainer._get_per_token_logps_and_entropies = per_token
    return None
