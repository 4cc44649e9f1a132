"""Benchmark evaluation throughput: `evaluate_benchmarks` (batched) vs a per-item generate loop.

Same model (a fresh random tiny VLM unless --model), same items (real MATH-Vision testmini items
from ../shared/benchmarks/mathvision when present, else toy-world items), greedy decoding, the
same prompt and images, measured side by side in one run. The baseline generates one item at a
time (batch size 1), as the Hugging Face back ends of VLMEvalKit and lmms-eval do; seethink
batches length-sorted items with the KV cache (`seethink.eval.engine.generate`). The outputs
are checked to be identical. Target: >= 4x on CPU with the tiny model.

    python benchmarks/eval_throughput.py [--items 16] [--max-new-tokens 32] [--batch-size 16] [--threads 1]
    python benchmarks/eval_throughput.py --decoding [--items 96]

`--decoding` compares instead the two decode loops on the warm toy base and held-out toy items
of every capability, at the toy evaluation's settings (batch 32, 80 new tokens, greedy and 4
samples at temperature 0.6 / top-p 0.95): transformers' `generate` and seethink's lean loop
(`seethink.models.fastgen`, on by default: `eval.fast_generation`), alternating, in one run, and
checks that both give the same responses.

Two torch threads on a machine whose cores are busy (e.g. with a training job) make both sides
several times slower and the ratio noise; measure with --threads 1 there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SHARED_MATHV = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "mathvision"


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default=None, help="model dir (default: a fresh random tiny VLM)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: SEETHINK_THREADS or min(2, cores)); use 1 on a busy machine")
    ap.add_argument("--data", type=Path, default=SHARED_MATHV, help="MATH-Vision folder (toy items if absent)")
    ap.add_argument("--decoding", action="store_true", help="lean decode loop vs transformers' generate")
    ap.add_argument("--reps", type=int, default=2, help="--decoding: alternating repetitions")
    return ap.parse_args()


def _items(args: argparse.Namespace) -> tuple[list[dict], str, bool]:
    """Real MATH-Vision items when the folder is there, else toy-world ones; their source; which."""
    from seethink.eval.benchmarks import load

    if (args.data / "testmini.jsonl").is_file():
        return load("mathvision", args.data)[: args.items], f"MATH-Vision testmini ({args.data})", True
    from seethink.toyworld import generate_items

    return generate_items("perception", args.items, "test", seed=0), "toy-world perception items", False


def main() -> None:
    args = _parse_args()
    if args.decoding:
        decoding(args)
        return

    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.eval.bench_run import evaluate_benchmarks, read_responses
    from seethink.eval.engine import generate
    from seethink.models.load import load_model
    from seethink.toyworld.model import build_toy
    from seethink.utils import pin_threads

    threads = pin_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model) if args.model else build_toy(Path(tmp) / "model")
        model, processor = load_model(model_dir)
        items, source, real = _items(args)
        convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
        kw = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}

        def per_item() -> list[str]:
            outs = []
            for it, conv in zip(items, convs, strict=True):
                outs.append(generate(model, processor, [conv], [item_images(it)], batch_size=1, **kw)[0][0])
            return outs

        def batched() -> list[str]:
            if real:  # the whole evaluate_benchmarks path: files, resume bookkeeping, scoring
                out = Path(tempfile.mkdtemp(dir=tmp))
                evaluate_benchmarks(model_dir, ["mathvision"], data_root=None, data_paths={"mathvision": args.data},
                                    limit=args.items, out_dir=out, max_new_tokens=args.max_new_tokens,
                                    batch_size=args.batch_size, model_and_processor=(model, processor),
                                    log=lambda _m: None)
                done = read_responses(out / "mathvision" / "responses.jsonl")
                return [done[it["id"]] for it in items]
            imgs = [item_images(it) for it in items]
            return [o[0] for o in generate(model, processor, convs, imgs, batch_size=args.batch_size, **kw)]

        batched()  # warm-up (first-call allocations), not timed
        t0 = time.perf_counter()
        a = batched()
        t_batched = time.perf_counter() - t0
        print(f"seethink evaluate_benchmarks (batched)  {t_batched:7.2f}s", flush=True)
        t0 = time.perf_counter()
        b = per_item()
        t_loop = time.perf_counter() - t0
        print(f"per-item generate loop (batch size 1)   {t_loop:7.2f}s", flush=True)
        same = sum(x == y for x, y in zip(a, b, strict=True))
        speedup = t_loop / t_batched
        print(json.dumps({
            "items": len(items), "source": source, "max_new_tokens": args.max_new_tokens,
            "batch_size": args.batch_size, "threads": threads, "seconds": {"batched": round(t_batched, 3), "per_item": round(t_loop, 3)},
            "items_per_second": {"batched": round(len(items) / t_batched, 3), "per_item": round(len(items) / t_loop, 3)},
            "identical_outputs": f"{same}/{len(items)}", "speedup": round(speedup, 2), "target": 4.0,
            "meets_target": speedup >= 4.0,
        }, indent=2))
        if same != len(items):
            raise SystemExit(f"outputs differ on {len(items) - same} of {len(items)} items")


# Evaluation's two decoding settings: one greedy answer, and 4 samples at the reference protocol's
# temperature and top-p.
MODES = {"greedy": {"temperature": 0.0},
         "4 samples": {"temperature": 0.6, "top_p": 0.95, "num_return_sequences": 4}}


def toy_batch(n_items: int) -> tuple[list[dict], list, list]:
    """Held-out toy items (a third per capability), their chat prompts and their images."""
    from seethink.config import ToyWorldSpec
    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.data.tasks import get_task

    per = max(1, n_items // 3)
    items = [it for cap in ("perception", "text", "visual")
             for it in get_task(f"toy_{cap}").generate(per, "test", 777, ToyWorldSpec())]
    convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
    return items, convs, [item_images(it) for it in items]


def decoding(args: argparse.Namespace) -> None:
    """Toy evaluation's generation through both decode loops, alternating; ratio and identity."""
    from seethink.eval.engine import generate
    from seethink.models.load import load_model
    from seethink.toyworld.warmstart import shipped_base
    from seethink.utils import pin_threads

    threads = pin_threads(args.threads or 1)
    model, processor = load_model(shipped_base())
    items, convs, imgs = toy_batch(args.items)
    modes = MODES
    times: dict[tuple[str, bool], float] = {}
    outs: dict[tuple[str, bool], list] = {}
    for _ in range(args.reps):
        for mode, kw in modes.items():
            for fast in (False, True):
                t0 = time.perf_counter()
                outs[mode, fast] = generate(model, processor, convs, imgs, max_new_tokens=80, batch_size=32,
                                            seed=1, fast=fast, **kw)
                times[mode, fast] = times.get((mode, fast), 0.0) + time.perf_counter() - t0
    result = {"items": len(items), "threads": threads, "reps": args.reps}
    for mode in modes:
        hf, lean = times[mode, False] / args.reps, times[mode, True] / args.reps
        same = sum(a == b for a, b in zip(outs[mode, False], outs[mode, True], strict=True))
        result[mode] = {"transformers_s": round(hf, 2), "lean_s": round(lean, 2), "ratio": round(hf / lean, 2),
                        "identical_items": f"{same}/{len(items)}"}
        print(f"{mode:<10} transformers {hf:7.2f}s  lean {lean:7.2f}s  ratio {hf / lean:5.2f}x  "
              f"identical {same}/{len(items)}", flush=True)
    total = sum(times[m, False] for m in modes) / sum(times[m, True] for m in modes)
    result["ratio_all"] = round(total, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
