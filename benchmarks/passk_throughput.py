"""pass@K sampling: seethink's shared-prompt sampling vs K independent generate calls per item.

Same model, same items, same K and sampling settings, measured side by side in one run.
seethink encodes each prompt once and expands it K times inside one `generate` call
(`num_return_sequences=K`); the baseline calls `generate` K times per item, as a naive
script does. Target: >= 2x on CPU with the tiny model.

    python benchmarks/passk_throughput.py [--items 16] [--k 8] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", default=None, help="model dir (default: a fresh random tiny VLM)")
    args = ap.parse_args()

    import torch

    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.eval.engine import generate
    from seethink.models.load import load_model
    from seethink.toyworld import generate_items
    from seethink.toyworld.model import build_toy
    from seethink.utils import pin_threads

    pin_threads()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model) if args.model else build_toy(Path(tmp) / "model")
        model, processor = load_model(model_dir)
        items = generate_items("perception", args.items, "test", seed=0)
        convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
        imgs = [item_images(it) for it in items]
        kw = {"max_new_tokens": args.max_new_tokens, "temperature": 1.0, "top_p": 1.0}

        def shared() -> int:
            # What `seethink data passk` does: K samples per encoded prompt, prompts batched.
            out = generate(model, processor, convs, imgs, batch_size=8, num_return_sequences=args.k, **kw)
            return sum(len(o) for o in out)

        def independent() -> int:
            n = 0
            for conv, im in zip(convs, imgs, strict=True):
                for _ in range(args.k):
                    n += len(generate(model, processor, [conv], [im], batch_size=1, **kw)[0])
            return n

        times: dict[str, list[float]] = {"seethink_shared_prompt": [], "k_independent_calls": []}
        for r in range(args.repeats):
            for name, fn in (("seethink_shared_prompt", shared), ("k_independent_calls", independent)):
                torch.manual_seed(r)
                t0 = time.perf_counter()
                n = fn()
                times[name].append(time.perf_counter() - t0)
                assert n == args.items * args.k
                print(f"run {r + 1}/{args.repeats} {name:24s} {times[name][-1]:7.2f}s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        speedup = med["k_independent_calls"] / med["seethink_shared_prompt"]
        print(json.dumps({"items": args.items, "k": args.k, "max_new_tokens": args.max_new_tokens,
                          "median_seconds": med, "samples_per_second": {k: args.items * args.k / v
                                                                        for k, v in med.items()},
                          "speedup": round(speedup, 2), "target": 2.0, "meets_target": speedup >= 2.0},
                         indent=2))


if __name__ == "__main__":
    main()
