"""Does `torch.compile` of the lean decode step pay on this machine? Eager against compiled, one run.

    .venv/bin/python benchmarks/compiled_decode.py                  # 96 toy items, greedy and 4 samples
    .venv/bin/python benchmarks/compiled_decode.py --items 48 --reps 1

The lean loop (`seethink.models.fastgen`) stays eager. This script measures the alternative: the
text decoder's layers written as one function of their weights (so one compiled graph would serve
every model of the toy's shape, the policy after each update included), the new key/value
written at a tensor index and attention over the whole buffer with the mask, so only the batch
(rows end and are dropped) and buffer (each batch's prompt length) sizes vary between calls. It
prints the first call's time (compiling included), then evaluation generation of the warm toy
base with the lean loop's own eager step and the compiled one, alternating, and whether their
outputs are identical.
Nothing here is used by seethink itself.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def _rms(x: Any, w: Any, eps: float) -> Any:
    import torch

    xf = x.float()
    return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def _rot(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def layers_step(h: Any, cos: Any, sin: Any, slot: Any, mask: Any, weights: list, keys: list, values: list,
                norm_w: Any, head_w: Any, eps: float, scaling: float, hd: int, sizes: tuple) -> Any:
    """Logits (B, V) of one new token per row; h (B, 1, D); cos/sin (B, 1, 1, hd); mask (B, slots)
    additive over the whole buffer; keys/values (B, H, slots, hd) per layer, written at `slot` (1,)."""
    import torch.nn.functional as F

    b = h.shape[0]
    attend = mask[:, None, None, :]
    for (ln1, wqkv, bqkv, wo, ln2, wg, wu, wd), kc, vc in zip(weights, keys, values, strict=True):
        x = _rms(h, ln1, eps)
        q, k, v = F.linear(x, wqkv, bqkv).split(sizes, dim=-1)
        q = q.view(b, 1, -1, hd).transpose(1, 2)
        k = k.view(b, 1, -1, hd).transpose(1, 2)
        q = q * cos + _rot(q) * sin
        k = k * cos + _rot(k) * sin
        kc.index_copy_(2, slot, k)
        vc.index_copy_(2, slot, v.view(b, 1, -1, hd).transpose(1, 2))
        o = F.scaled_dot_product_attention(q, kc, vc, attn_mask=attend, scale=scaling)
        h = h + F.linear(o.transpose(1, 2).reshape(b, 1, -1), wo)
        x = _rms(h, ln2, eps)
        h = h + F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)
    return F.linear(_rms(h, norm_w, eps), head_w)[:, -1]


def install(step_fn: Any) -> Any:
    """A replacement for `fastgen.Decoder.step` that calls `step_fn` (eager or compiled)."""
    import torch

    def step(self: Any, tok: Any, pos: Any, c: int, keys: list, values: list, mask: Any) -> Any:
        b = tok.shape[0]
        h = self.lm.embed_tokens(tok[:, None])
        cos, sin = self.lm.rotary_emb(h, pos.view(1, b, 1).expand(3, b, 1))
        weights = []
        for i, layer in enumerate(self.layers):
            w, bias, sizes = self.fused[i]
            weights.append((layer.input_layernorm.weight, w, bias, layer.self_attn.o_proj.weight,
                            layer.post_attention_layernorm.weight, layer.mlp.gate_proj.weight,
                            layer.mlp.up_proj.weight, layer.mlp.down_proj.weight))
        full = mask.clone()
        full[:, c + 1:] = float("-inf")  # slots not written yet
        return step_fn(h, cos[:, None], sin[:, None], torch.tensor([c]), full, weights, keys, values,
                       self.lm.norm.weight, self.head.weight, self.layers[0].input_layernorm.variance_epsilon,
                       self.scaling, self.head_dim, tuple(sizes))

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=96, help="toy items, a third per capability")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()

    import torch
    from eval_throughput import MODES, toy_batch  # beside this script

    from seethink.eval.engine import generate
    from seethink.models import fastgen
    from seethink.models.load import load_model
    from seethink.toyworld.warmstart import shipped_base
    from seethink.utils import pin_threads

    pin_threads(1)
    model, processor = load_model(shipped_base())
    items, convs, imgs = toy_batch(args.items)  # the same items as eval_throughput.py --decoding
    original = fastgen.Decoder.step
    steps = {"eager": original, "compiled": install(torch.compile(layers_step))}
    modes = MODES
    times: dict[tuple[str, str], float] = {}
    outs: dict[tuple[str, str], list] = {}
    try:
        fastgen.Decoder.step = steps["compiled"]
        t0 = time.perf_counter()
        generate(model, processor, convs[:8], imgs[:8], max_new_tokens=80, batch_size=32, seed=1, fast=True)
        print(f"first compiled call (compiling included): {time.perf_counter() - t0:.1f} s", flush=True)
        for rep in range(args.reps + 1):  # the first repetition recompiles for new sizes: left out
            for mode, kw in modes.items():
                for name, step in steps.items():
                    fastgen.Decoder.step = step
                    t0 = time.perf_counter()
                    outs[mode, name] = generate(model, processor, convs, imgs, max_new_tokens=80, batch_size=32,
                                                seed=1, fast=True, **kw)
                    dt = time.perf_counter() - t0
                    print(f"rep {rep} {mode:<9} {name:<8} {dt:6.2f} s", flush=True)
                    if rep:
                        times[mode, name] = times.get((mode, name), 0.0) + dt / args.reps
    finally:
        fastgen.Decoder.step = original
    for mode in modes:
        same = sum(a == b for a, b in zip(outs[mode, "eager"], outs[mode, "compiled"], strict=True))
        eager, comp = times[mode, "eager"], times[mode, "compiled"]
        print(f"{mode:<9} eager {eager:6.2f} s  compiled {comp:6.2f} s  ratio {eager / comp:4.2f}x  "
              f"identical {same}/{len(items)}")


if __name__ == "__main__":
    main()
