"""A lean decode loop for Qwen2-VL-family models: HF's math, without HF's per-token bookkeeping.

On a small model much of a `model.generate` decode step is Python: mask construction, 3D rope
positions, cache objects and the attention-interface lookup in `forward`, and `generate`'s own
loop around it (about 9 ms per step for 20 rows of the toy model on one CPU thread, against
about 6 ms here, most of it now the matrix products and attention). This module keeps HF for
everything that is not per token and replaces only the loop:

- the prompt pass is HF's own `generate` with one new token, so image features, 3D rope
  positions and left padding are HF's; it runs once per distinct prompt (GRPO asks for each
  prompt's group as repeated rows, evaluation for several samples per prompt) and the cache is
  copied to every row of that prompt;
- the logits processors (temperature, top-k, top-p, suppressed tokens, repetition penalty, ...)
  are the list HF builds for the same generation config, applied to the same float32 logits, and
  every token, the first included, is drawn over all rows with the same `torch.multinomial` call
  (`argmax` when greedy), so the random stream is consumed exactly as in HF's loop;
- each later token runs the decoder with the HF modules' own weights (norms, MLPs, rotary
  embedding; q/k/v fused into one matrix product when they are plain linear layers) against a
  preallocated key/value buffer; rows that have ended are dropped from the computation (their
  draws become padding, as in HF) and the loop stops when every row has ended.

Greedy output is token-identical to `model.generate` and sampling with the same seed draws the
same tokens (tests/models/test_fastgen.py), up to float rounding in attention reductions.
Anything this loop does not cover (other architectures, beam search, sliding windows, streamers,
assistant decoding, caller-supplied processors) goes to `model.generate` unchanged.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

SUPPORTED = ("qwen2_vl", "qwen2_5_vl")
_ORIGINAL = "_seethink_hf_generate"


def base_model(model: Any) -> Any:
    """The transformers model under a PEFT wrapper, if any."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def unsupported(model: Any) -> str | None:
    """Why the lean loop cannot run this model, or None when it can."""
    base = base_model(model)
    cfg = base.config
    if getattr(cfg, "model_type", None) not in SUPPORTED:
        return f"model type {getattr(cfg, 'model_type', None)!r} (supported: {', '.join(SUPPORTED)})"
    text = cfg.get_text_config()
    if getattr(text, "use_sliding_window", False):
        return "sliding-window attention"
    if getattr(text, "_attn_implementation", "sdpa") not in ("sdpa", "eager", None):
        return f"attention implementation {text._attn_implementation!r}"
    lm = getattr(getattr(base, "model", None), "language_model", None)
    if lm is None or not hasattr(base, "lm_head"):
        return "no language_model / lm_head"
    return None


def autocast_forward(model: Any) -> bool:
    """Whether the model's forward runs under mixed precision (accelerate wraps it in autocast for
    `bf16`/`fp16` training, or the caller holds an autocast context). The lean loop calls the
    layers, not that forward, so it would decode in another precision than the prompt pass
    (whose cache then mixes float and bf16); such models keep `generate`."""
    wrapped = any("_original_forward" in getattr(m, "__dict__", {}) for m in (model, base_model(model)))
    device = next(base_model(model).parameters()).device.type
    return wrapped or torch.is_autocast_enabled(device)


def _unsupported_call(gc: Any, kwargs: dict) -> str | None:
    if (gc.num_beams or 1) > 1 or getattr(gc, "assistant_model", None) is not None \
            or kwargs.get("streamer") is not None or kwargs.get("assistant_model") is not None:
        return "beam search, assisted decoding or a streamer"
    if kwargs.get("inputs_embeds") is not None or kwargs.get("past_key_values") is not None:
        return "inputs_embeds or a given cache"
    if kwargs.get("logits_processor") or kwargs.get("stopping_criteria"):
        return "caller-supplied processors or stopping criteria"
    if gc.return_dict_in_generate or (gc.max_new_tokens is None):
        return "return_dict_in_generate or no max_new_tokens"
    if getattr(gc, "stop_strings", None) or getattr(gc, "max_time", None) is not None \
            or getattr(gc, "watermarking_config", None) is not None:
        return "stop strings, max_time or watermarking"
    return None


def _config(model: Any, generation_config: Any, kwargs: dict) -> tuple[Any, dict]:
    """HF's own merge of the model's defaults, the given config and keyword overrides."""
    gc, model_kwargs = model._prepare_generation_config(copy.deepcopy(generation_config), **kwargs)
    return gc, model_kwargs


class Decoder:
    """The text decoder's weights, read once per `generate` call (the policy changes between calls)."""

    def __init__(self, model: Any):
        base = base_model(model)
        self.lm = base.model.language_model
        self.head = base.lm_head
        self.layers = list(self.lm.layers)
        attn = self.layers[0].self_attn
        self.head_dim = attn.head_dim
        self.scaling = attn.scaling
        self.gqa = attn.num_key_value_groups > 1
        self.kv_heads = attn.num_key_value_heads
        self.fused = [self._fuse(layer.self_attn) for layer in self.layers]

    @staticmethod
    def _fuse(a: Any) -> tuple[torch.Tensor, torch.Tensor | None, list[int]] | None:
        """q, k and v as one matrix product, when all three are plain (bias-carrying or not) linears."""
        projs = (a.q_proj, a.k_proj, a.v_proj)
        if not all(type(p) is torch.nn.Linear for p in projs):
            return None  # e.g. LoRA-wrapped: call the modules so the adapters apply
        w = torch.cat([p.weight for p in projs])  # (q+k+v out, D)
        biases = [p.bias for p in projs]
        b = torch.cat(biases) if all(x is not None for x in biases) else None  # type: ignore[misc]
        return w, b, [p.out_features for p in projs]

    def qkv(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fused = self.fused[i]
        if fused is None:
            a = self.layers[i].self_attn
            return a.q_proj(x), a.k_proj(x), a.v_proj(x)
        w, b, sizes = fused
        q, k, v = F.linear(x, w, b).split(sizes, dim=-1)
        return q, k, v

    def step(self, tok: torch.Tensor, pos: torch.Tensor, c: int, keys: list[torch.Tensor],
             values: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) for one new token per row at text position `pos` (B,), cache slot `c`.
        `mask` (B, slots) is additive: 0 where a row attends, -inf where it does not."""
        b, hd = tok.shape[0], self.head_dim
        h = self.lm.embed_tokens(tok[:, None])  # (B, 1, D)
        cos, sin = self.lm.rotary_emb(h, pos.view(1, b, 1).expand(3, b, 1))  # (B, 1, hd) each
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, 1, hd): broadcast over heads
        attend = mask[:, None, None, : c + 1]  # (B, 1, 1, c+1), added to the scores
        for i, layer in enumerate(self.layers):
            x = layer.input_layernorm(h)
            q, k, v = self.qkv(i, x)
            q = q.view(b, 1, -1, hd).transpose(1, 2)  # (B, H, 1, hd)
            k = k.view(b, 1, -1, hd).transpose(1, 2)  # (B, Hkv, 1, hd)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            keys[i][:, :, c] = k[:, :, 0]
            values[i][:, :, c] = v.view(b, -1, hd)
            o = F.scaled_dot_product_attention(q, keys[i][:, :, : c + 1], values[i][:, :, : c + 1],
                                               attn_mask=attend, scale=self.scaling, enable_gqa=self.gqa)
            h = h + layer.self_attn.o_proj(o.transpose(1, 2).reshape(b, 1, -1))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return self.head(self.lm.norm(h))[:, -1]  # (B, V)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def cache_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers]
    return [(cache.key_cache[i], cache.value_cache[i]) for i in range(len(cache.key_cache))]


def generate(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
             generation_config: Any = None, hf_generate: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Drop-in for `model.generate(input_ids=..., attention_mask=..., ...)` returning the sequences."""
    hf = hf_generate or getattr(model, _ORIGINAL, None) or type(model).generate.__get__(model)
    call = dict(kwargs, input_ids=input_ids, attention_mask=attention_mask, generation_config=generation_config)
    if unsupported(model) is not None or autocast_forward(model):
        return hf(**call)
    base = base_model(model)  # HF's generation helpers live on the transformers model, not on a PEFT wrapper
    gc, model_kwargs = _config(base, generation_config, kwargs)
    if _unsupported_call(gc, kwargs) is not None:
        return hf(**call)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    n = gc.num_return_sequences or 1
    sel, inv, prompt_kwargs = shared_prompts(base.config, input_ids, attention_mask, model_kwargs)
    first = copy.deepcopy(gc)  # HF's prompt pass: the cache and the first token's raw logits
    first.max_new_tokens, first.min_new_tokens, first.max_length = 1, None, None
    first.num_return_sequences, first.do_sample = 1, False
    first.return_dict_in_generate, first.output_logits = True, True
    out = hf(**dict(prompt_kwargs, input_ids=input_ids[sel], attention_mask=attention_mask[sel],
                    generation_config=first))
    rows = inv.repeat_interleave(n)  # (B*n,): each output row's prompt among the ones computed
    base._prepare_special_tokens(gc, True, device=input_ids.device, batch_size=input_ids.shape[0])
    processors = base._get_logits_processor(
        generation_config=gc, input_ids_seq_length=input_ids.shape[1], encoder_input_ids=input_ids,
        prefix_allowed_tokens_fn=None, logits_processor=None, device=input_ids.device, model_kwargs={})
    live = _prefill_state(model, out, attention_mask[sel], rows, gc.max_new_tokens)
    return _decode(model, input_ids[sel][rows], out.logits[0][rows].float(), live, gc, processors)


def _image_slices(config: Any, input_ids: torch.Tensor, kwargs: dict) -> list[tuple[int, int, int, int]] | None:
    """Per prompt row: (first image, images, first patch, patches) in pixel_values / image_grid_thw."""
    grid = kwargs.get("image_grid_thw")
    if kwargs.get("pixel_values") is None or grid is None:
        return [(0, 0, 0, 0)] * input_ids.shape[0]
    per_row = (input_ids == config.vision_start_token_id).sum(-1).tolist()
    if sum(per_row) != grid.shape[0]:
        return None
    patches = grid.prod(-1).tolist()
    out, img, patch = [], 0, 0
    for k in per_row:
        size = int(sum(patches[img: img + k]))
        out.append((img, k, patch, size))
        img, patch = img + k, patch + size
    return out


def shared_prompts(config: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    kwargs: dict) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Which rows to run the prompt pass on: one per distinct prompt (text, padding and images).

    GRPO asks for each prompt's group as repeated rows, and sampled evaluation for several
    completions per prompt; computing a prompt once and copying its cache gives the same keys
    and values. Returns (selected rows (U,), each row's index among them (B,), the selected rows'
    inputs); every row is its own when some input is of a kind this does not know how to slice.
    """
    b = input_ids.shape[0]
    everything = torch.arange(b, device=input_ids.device)
    known = {"pixel_values", "image_grid_thw"}
    sliceable = all(k in known or not torch.is_tensor(v) or (v.dim() >= 1 and v.shape[0] == b)
                    for k, v in kwargs.items())
    slices = _image_slices(config, input_ids, kwargs) if sliceable else None
    if slices is None:
        return everything, everything, kwargs
    pixels = kwargs.get("pixel_values")
    keys: dict[bytes, int] = {}
    first: list[int] = []
    inv: list[int] = []
    for r in range(b):
        h = hashlib.blake2b(_bytes(input_ids[r]) + _bytes(attention_mask[r]))
        _, _, p0, pn = slices[r]
        if pn:
            h.update(_bytes(pixels[p0: p0 + pn]))  # type: ignore[index]
        key = h.digest()
        if key not in keys:
            keys[key] = len(first)
            first.append(r)
        inv.append(keys[key])
    if len(first) == b:
        return everything, everything, kwargs
    sel = torch.tensor(first, device=input_ids.device)
    out = {k: (v[sel] if torch.is_tensor(v) and k not in known else v) for k, v in kwargs.items()}
    if pixels is not None:
        grid = kwargs["image_grid_thw"]
        out["pixel_values"] = torch.cat([pixels[slices[r][2]: slices[r][2] + slices[r][3]] for r in first])
        out["image_grid_thw"] = torch.cat([grid[slices[r][0]: slices[r][0] + slices[r][1]] for r in first])
    return sel, torch.tensor(inv, device=input_ids.device), out


def _bytes(t: torch.Tensor) -> bytes:
    """A tensor's raw bytes, whatever its dtype (numpy has no bfloat16) or device."""
    return t.detach().contiguous().view(-1).view(torch.uint8).cpu().numpy().tobytes()


class _Live:
    """The rows still generating, packed: their key/value buffers, masks, positions and last tokens.

    A row that has ended only ever emits padding, so its decoder work is wasted; once a quarter of
    the packed rows have ended they are dropped from every buffer (one copy), and later steps
    compute only the rest. `rows` maps packed rows back to the batch.
    """

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], mask: torch.Tensor,
                 pos: torch.Tensor):
        self.keys, self.values, self.mask, self.pos = keys, values, mask, pos
        self.rows = torch.arange(pos.shape[0], device=pos.device)
        self.tok = torch.zeros_like(pos)

    def pack(self, unfinished: torch.Tensor) -> None:
        keep = unfinished[self.rows]  # (packed,)
        kept = int(keep.sum())
        if kept == 0 or kept > 0.75 * keep.shape[0]:
            return
        sel = keep.nonzero().squeeze(1)
        self.keys = [k.index_select(0, sel) for k in self.keys]
        self.values = [v.index_select(0, sel) for v in self.values]
        self.mask, self.pos, self.rows = (t.index_select(0, sel) for t in (self.mask, self.pos, self.rows))


def _prefill_state(model: Any, first: Any, attention_mask: torch.Tensor, rows: torch.Tensor,
                   max_new_tokens: int) -> _Live:
    """HF's prompt cache copied, row `i` from prompt `rows[i]`, into buffers with room for every
    new token; the attention mask and the text position of the first new token."""
    l0 = attention_mask.shape[1]
    total = l0 + max_new_tokens
    cache = getattr(first, "cache", None) or getattr(first, "past_key_values", None)
    keys, values = [], []
    for k, v in cache_tensors(cache):  # (U, Hkv, L0, hd) each
        kb = k.new_empty(rows.shape[0], k.shape[1], total, k.shape[3])
        vb = v.new_empty(rows.shape[0], v.shape[1], total, v.shape[3])
        kb[:, :, :l0], vb[:, :, :l0] = k[rows], v[rows]
        keys.append(kb)
        values.append(vb)
    # Additive, in the cache's dtype: SDPA would turn a boolean mask into this in every layer of
    # every step (a fifth or more of its time on a CPU), for the same scores.
    mask = keys[0].new_zeros(rows.shape[0], total)  # (B, slots)
    mask[:, :l0].masked_fill_(~attention_mask.bool()[rows], float("-inf"))
    deltas = base_model(model).model.rope_deltas
    if deltas is None:
        deltas = torch.zeros(attention_mask.shape[0], 1, dtype=torch.long, device=attention_mask.device)
    pos = attention_mask.long().sum(-1) + deltas.view(-1).to(attention_mask.device)  # (U,)
    return _Live(keys, values, mask, pos[rows])


@torch.no_grad()
def _decode(model: Any, prompts: torch.Tensor, logits: torch.Tensor, live: _Live, gc: Any,
            processors: Any) -> torch.Tensor:
    """Draw token after token as HF's sampling loop does; `logits` (B*n, V) are the first token's."""
    rows, l0 = prompts.shape
    total = l0 + gc.max_new_tokens
    dec = Decoder(model)
    ids = prompts.new_empty(rows, total)
    ids[:, :l0] = prompts
    eos = gc._eos_token_tensor.to(prompts.device) if gc._eos_token_tensor is not None else None
    pad = gc._pad_token_tensor
    unfinished = torch.ones(rows, dtype=torch.bool, device=prompts.device)
    cur = l0
    while True:
        scores = processors(ids[:, :cur], logits)
        if gc.do_sample:
            nxt = torch.multinomial(F.softmax(scores, dim=-1), num_samples=1).squeeze(1)
        else:
            nxt = torch.argmax(scores, dim=-1)
        if eos is not None and pad is not None:
            nxt = torch.where(unfinished, nxt, pad.to(nxt.device))
        ids[:, cur] = nxt
        cur += 1
        if eos is not None:
            unfinished = unfinished & ~torch.isin(nxt, eos)
        if cur >= total or not bool(unfinished.any()):
            return ids[:, :cur]
        if eos is not None and pad is not None:
            live.pack(unfinished)
        live.tok = nxt[live.rows]
        packed = dec.step(live.tok, live.pos, cur - 1, live.keys, live.values, live.mask).float()  # (packed, V)
        live.pos = live.pos + 1
        # Every row is drawn, ended ones from zero logits, so the random stream advances exactly
        # as in HF's loop (which keeps computing them); their draws are replaced by padding.
        logits = packed.new_zeros(rows, packed.shape[1])
        logits[live.rows] = packed


def wanted(setting: bool | None, model: Any) -> bool:
    """Whether to decode with the lean loop: `setting` when given, else on a CPU only.

    On a CPU a tiny model's decode step is Python dispatch, which the loop removes (generation
    1.4x faster); on an H200 at the 7B shape the step is arithmetic and `generate` was faster
    (docs/performance.md), so GPUs keep `generate` unless asked.
    """
    if setting is not None:
        return setting
    return next(base_model(model).parameters()).device.type == "cpu"


def install(model: Any) -> str | None:
    """Route `model.generate` through the lean loop; returns why not (and leaves HF's) if unsupported.

    The instance attribute shadows the class's `generate`, so callers that hold the model (TRL's
    rollouts, our evaluation) take the lean loop without knowing; `uninstall` restores HF's.
    """
    reason = unsupported(model)
    if reason is not None:
        return reason
    hf = type(model).generate.__get__(model)
    object.__setattr__(model, _ORIGINAL, hf)

    def fast(*args: Any, **kwargs: Any) -> Any:
        if args:  # positional input_ids, as some callers pass them
            kwargs["input_ids"] = args[0]
        return generate(model, hf_generate=hf, **kwargs)

    object.__setattr__(model, "generate", fast)
    return None


def uninstall(model: Any) -> None:
    for name in ("generate", _ORIGINAL):
        model.__dict__.pop(name, None)
