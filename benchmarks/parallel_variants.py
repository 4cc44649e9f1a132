"""Wall time of a whole run with its variants one after another vs in parallel processes.

The same recipe (staged and merged, every stage trained and every model evaluated) runs
with `parallel=1` (one process, `threads` torch threads: 2 by default on 2 cores) and with
`parallel=2` (two processes, one thread each), alternating A B A B so drift on a shared
machine hits both; each run starts from an empty run directory and the same cached base.
Prints the medians and the speed-up (sequential / parallel).

    python benchmarks/parallel_variants.py [--steps 20] [--repeats 2] [--base toy]

`--base toy` uses the embedded warm-started base (built on first use, ~13 minutes on
2 cores); the default builds a random tiny model in seconds, which has the same step cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def one_run(base: str, steps: int, parallel: int, out: Path) -> float:
    from seethink.config import load_recipe
    from seethink.recipes import preset_path
    from seethink.training.pipeline import run_recipe

    recipe = load_recipe(preset_path("fast"), [
        f"model.path={base}", f"trainer.max_steps={steps}", f"parallel={parallel}",
        "eval.items_per_capability=40", "eval.samples=2", "eval.stages=true",
    ])
    t = time.perf_counter()
    run_recipe(recipe, out, log=lambda *_: None)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="GRPO steps per stage (merged: 3x)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--base", default="", help="model directory or 'toy' (default: a fresh random tiny model)")
    args = ap.parse_args()

    from seethink.utils import pin_threads

    pin_threads()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base
        if not base:
            from seethink.toyworld.model import build_toy

            base = str(build_toy(Path(tmp) / "model"))
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.repeats):
            for parallel in (1, 2):
                sec = one_run(base, args.steps, parallel, Path(tmp) / f"run-{parallel}-{r}")
                times[parallel].append(sec)
                print(f"repeat {r + 1}: parallel={parallel}: {sec:.1f} s", flush=True)
    seq, par = statistics.median(times[1]), statistics.median(times[2])
    print(f"\n{args.steps} steps per stage, staged + merged, 5 evaluations of 120 items (+2 samples, ablations)")
    print(f"one process:        {seq:.1f} s (median of {args.repeats})")
    print(f"parallel processes: {par:.1f} s (median of {args.repeats})")
    print(f"speed-up: {seq / par:.2f}x")


if __name__ == "__main__":
    main()
