"""Does one GRPO stage improve its own capability? Paired effects over seeds, with 95% intervals.

For each seed: one GRPO stage on the capability's training items, started from the base,
with the quick preset's trainer settings (plus any `key=value` overrides); then the base
and every trained checkpoint are scored on the same held-out items, greedy and sampled
(the reference protocol: samples at temperature 0.6, top-p 0.95, scored by the fraction
correct). The effect is the mean per-item difference, trained minus base, with a two-level
bootstrap interval over seeds and items (`seethink.eval.stats`, as `seethink compare`).

    python experiments/stage_effect.py --capability visual --out runs/effect-visual \\
        --seeds 0,1,2 trainer.batch_size=8 trainer.group_size=8 trainer.learning_rate=1e-4

Finished units (a trained stage, an evaluation) are reused when the script is run again.
The numbers in README and docs/toy-world.md come from this script, with the overrides
`trainer.batch_size=8 trainer.group_size=8 trainer.learning_rate=1e-4`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capability", choices=("perception", "text", "visual"), required=True)
    ap.add_argument("--seeds", default="0,1,2", help="comma list of RL seeds")
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default="toy", help="model directory, or 'toy' (the embedded warm-started base)")
    ap.add_argument("--items", type=int, default=400, help="training items per seed")
    ap.add_argument("--eval-items", type=int, default=600)
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: seethink's default)")
    ap.add_argument("overrides", nargs="*", help="recipe overrides on top of the quick preset, key=value")
    args = ap.parse_args()
    try:
        args.seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seeds takes a comma list of integers, got {args.seeds!r}")

    from seethink.utils import pin_threads

    pin_threads(args.threads or None)
    from seethink.config import StageSpec, load_recipe, stage_trainer
    from seethink.data.tasks import get_task
    from seethink.eval.run import evaluate_checkpoint
    from seethink.eval.stats import bootstrap_ci, paired_deltas
    from seethink.models.resolve import resolve_model
    from seethink.recipes import preset_path
    from seethink.training.stage import run_stage
    from seethink.utils import read_jsonl

    recipe = load_recipe(preset_path("quick"), [
        f"eval.items_per_capability={args.eval_items}", f"eval.samples={args.eval_samples}", "eval.ablation=false",
        *args.overrides,
    ])
    out = Path(args.out)
    base = resolve_model(args.base, recipe)
    task = get_task(f"toy_{args.capability}")
    held_out = task.generate(recipe.eval.items_per_capability, "test", recipe.eval.seed, recipe.toy)

    def evaluate(model: Path, name: str) -> dict[str, dict[str, float]]:
        m = evaluate_checkpoint(model, held_out, recipe, out / "eval" / name)
        preds = read_jsonl(out / "eval" / name / "predictions.jsonl")
        print(f"{name}: greedy {m['accuracy']:.1f}, sampled {m.get('sampled_accuracy', float('nan')):.1f}", flush=True)
        return {f: {p["id"]: float(p[f]) for p in preds} for f in ("correct", "sampled_correct")}

    before = evaluate(base, "base")
    deltas: dict[str, list[dict[str, float]]] = {"correct": [], "sampled_correct": []}
    for seed in args.seeds:
        sdir = out / f"seed{seed}"
        ckpt = sdir / "stage" / "checkpoint"
        if not (sdir / "done.json").is_file():
            trainer = stage_trainer(recipe, StageSpec(name=args.capability, tasks=[task.name]))
            items = task.generate(args.items, "train", seed * 1000 + 7, recipe.toy)
            info = run_stage(base, items, trainer, recipe.reward, sdir / "stage", stage=args.capability,
                             variant=f"seed{seed}", metrics_path=sdir / "metrics.jsonl", seed=seed,
                             cell_px=recipe.toy.cell_px, dtype=recipe.model.dtype)
            (sdir / "done.json").write_text(json.dumps(info))
        after = evaluate(ckpt, f"seed{seed}")
        for f in deltas:
            deltas[f].append(paired_deltas(before[f], after[f]))
    t = stage_trainer(recipe, StageSpec())
    print(f"\n{args.capability} stage from {base}: {t.max_steps} steps, {t.batch_size} prompts x G={t.group_size}, "
          f"lr {t.learning_rate:g}, seeds {args.seeds}, {len(held_out)} held-out items, "
          f"{recipe.eval.samples} samples per item")
    result = {}
    for kind, f in (("greedy", "correct"), ("sampled", "sampled_correct")):
        ci = bootstrap_ci(deltas[f])
        result[kind] = ci
        runs = ", ".join(f"{x:+.1f}" for x in ci["per_run"])
        print(f"  {kind:8s} effect {ci['delta']:+.1f} points, 95% interval [{ci['ci_low']:+.1f}, {ci['ci_high']:+.1f}]"
              f" (per seed: {runs})")
    (out / "effect.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
