"""Cost of running a user reward in the guarded worker process instead of in-process.

Same completions, same trivial user reward (`len(completion) / 100`), measured side by side:
the default reward alone (accuracy + format, no worker), plus the user reward called directly
in-process (no time limit: what a guard-less loop would do), plus the user reward through
`build_reward` (worker process, time limit, faults counted). The difference between the last two
is the guard's price per completion; it is compared with the time one completion takes to
generate in a GRPO step of the quick preset (~95 ms: 40 steps x 20 completions in 76 s).

    python benchmarks/reward_guard_overhead.py [--n 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

USER_CODE = "def length(completion, item):\n    return {'overall': len(completion) / 100}\n"
QUICK_PRESET_S_PER_COMPLETION = 76 / (40 * 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="completions per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from seethink.config import ToyWorldSpec
    from seethink.data.tasks import get_task
    from seethink.registry import load_user_object
    from seethink.rewards import build_reward

    items = get_task("toy_text").generate(50, "train", 0, ToyWorldSpec())
    texts = [f"<think>step {i} of the sum</think> so \\boxed{{{it['answer']}}}" for i, it in enumerate(items)]
    pairs = [(texts[i % len(texts)], items[i % len(items)]) for i in range(args.n)]

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "user_reward.py"
        f.write_text(USER_CODE)
        direct_fn = load_user_object(f"{f}:length")
        base = build_reward()
        guarded = build_reward(extra=[f"{f}:length"])

        def plain() -> None:
            for text, item in pairs:
                base(text, item)

        def direct() -> None:
            for text, item in pairs:
                base(text, item)
                direct_fn(text, item)

        def through_guard() -> None:
            for text, item in pairs:
                guarded(text, item)

        times: dict[str, list[float]] = {"default": [], "in_process": [], "guarded": []}
        through_guard()  # warm up: worker started, math-verify imported
        for _ in range(args.repeats):
            for name, fn in (("default", plain), ("in_process", direct), ("guarded", through_guard)):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) / args.n)
        guarded.close()

    us = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    overhead_us = us["guarded"] - us["in_process"]
    print(json.dumps({
        "completions": args.n,
        "us_per_completion": {k: round(v, 1) for k, v in us.items()},
        "guard_overhead_us_per_completion": round(overhead_us, 1),
        "share_of_quick_preset_generation_time": f"{overhead_us * 1e-6 / QUICK_PRESET_S_PER_COMPLETION:.3%}",
    }, indent=2))


if __name__ == "__main__":
    main()
