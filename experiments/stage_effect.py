"""Does one GRPO stage improve its own capability? Paired effects over seeds, with 95% intervals.

For each seed: one GRPO stage on the capability's training items, started from the base,
with the fast preset's trainer settings (plus any `key=value` overrides); then the base
and every trained checkpoint are scored on the same held-out items, greedy and sampled
(the reference protocol: samples at temperature 0.6, top-p 0.95, scored by the fraction
correct). The effect is the mean per-item difference, trained minus base, with a two-level
bootstrap interval over seeds and items (`seethink.eval.stats`, as `seethink compare`).

    python experiments/stage_effect.py --capability visual --out runs/effect-visual \\
        --seeds 0,1,2 --items 2000 --eval-items 3000 \\
        trainer.max_steps=500 trainer.learning_rate=2e-5

`--score perception,visual` also scores every checkpoint on other capabilities' held-out
items (does a perception stage help or hurt visual reasoning?).

Finished units (a trained stage, an evaluation) are reused when the script is run again.
That command (4 prompts x G=5, lr 2e-5, 500 steps over 2,000 fresh items per seed) gives
README's one-stage numbers; the numbers in docs/toy-world.md name their overrides too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _parse_args() -> tuple[argparse.Namespace, list[str], str, float]:
    """The arguments, checked; the capabilities to score; the replayed capability and its share."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capability", choices=("perception", "text", "visual"), required=True)
    ap.add_argument("--seeds", default="0,1,2", help="comma list of RL seeds")
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", default="toy", help="model directory, or 'toy' (the embedded warm-started base)")
    ap.add_argument("--items", type=int, default=400, help="training items per seed")
    ap.add_argument("--eval-items", type=int, default=600)
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: seethink's default)")
    ap.add_argument("--pass-band", default="", metavar="LOW,HIGH",
                    help="train only on items whose base pass rate (over --pass-k samples at the rollout "
                         "temperature) lies in [LOW, HIGH]; drawn from one pool shared by all seeds")
    ap.add_argument("--pass-k", type=int, default=16)
    ap.add_argument("--score", default="", metavar="CAP,CAP",
                    help="capabilities to score every checkpoint on (default: the trained one)")
    ap.add_argument("--pool", type=int, default=1200, help="training items to draw before --pass-band filtering")
    ap.add_argument("--replay", default="", metavar="CAP=SHARE",
                    help="mix another capability's training items into the stage, as this share of its items "
                         "(e.g. perception=0.2: does replaying perception keep it while visual reasoning trains?)")
    ap.add_argument("overrides", nargs="*", help="recipe overrides on top of the fast preset, key=value")
    args = ap.parse_args()
    try:
        args.seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seeds takes a comma list of integers, got {args.seeds!r}")
    scored = [c.strip() for c in args.score.split(",") if c.strip()] or [args.capability]
    bad = [c for c in scored if c not in ("perception", "text", "visual")]
    replay_cap, replay_share = "", 0.0
    if args.replay:
        replay_cap, _, share = args.replay.partition("=")
        try:
            replay_share = float(share)
        except ValueError:
            ap.error(f"--replay takes CAP=SHARE, e.g. perception=0.2, got {args.replay!r}")
        if replay_cap not in ("perception", "text", "visual") or not 0.0 < replay_share < 1.0:
            ap.error(f"--replay takes CAP=SHARE with a capability and a share in (0, 1), got {args.replay!r}")
    if bad:
        ap.error(f"--score takes perception, text or visual, got {bad}")
    return args, scored, replay_cap, replay_share


def main() -> None:
    args, scored, replay_cap, replay_share = _parse_args()
    from seethink.utils import pin_threads

    pin_threads(args.threads or None)
    from seethink.config import load_recipe
    from seethink.data.tasks import get_task
    from seethink.eval.run import evaluate_checkpoint
    from seethink.eval.stats import paired_deltas
    from seethink.models.resolve import resolve_model
    from seethink.recipes import preset_path
    from seethink.utils import read_jsonl

    recipe = load_recipe(preset_path("fast"), [
        f"eval.items_per_capability={args.eval_items}", f"eval.samples={args.eval_samples}", "eval.ablation=false",
        *args.overrides,
    ])
    out = Path(args.out)
    base = resolve_model(args.base, recipe)
    task = get_task(f"toy_{args.capability}")
    held_out = {c: get_task(f"toy_{c}").generate(recipe.eval.items_per_capability, "test", recipe.eval.seed, recipe.toy)
                for c in scored}

    def evaluate(model: Path, name: str) -> dict[str, dict[str, dict[str, float]]]:
        per_cap = {}
        for cap, items in held_out.items():
            # The trained capability keeps the plain folder name, so earlier runs are reused.
            edir = out / "eval" / (name if cap == args.capability else f"{cap}-{name}")
            m = evaluate_checkpoint(model, items, recipe, edir)
            preds = read_jsonl(edir / "predictions.jsonl")
            print(f"{name} on {cap}: greedy {m['accuracy']:.1f}, sampled {m.get('sampled_accuracy', float('nan')):.1f}",
                  flush=True)
            per_cap[cap] = {f: {p["id"]: float(p[f]) for p in preds} for f in ("correct", "sampled_correct")}
        return per_cap

    before = evaluate(base, "base")
    band = _pass_band_items(args, recipe, task, base, out) if args.pass_band else None
    deltas = {cap: {"correct": [], "sampled_correct": []} for cap in scored}  # type: ignore[var-annotated]
    for seed in args.seeds:
        sdir = out / f"seed{seed}"
        ckpt = sdir / "stage" / "checkpoint"
        if not (sdir / "done.json").is_file():
            _train(args, recipe, task, base, band, seed, replay_cap, replay_share, sdir)
        after = evaluate(ckpt, f"seed{seed}")
        for cap in scored:
            for f in deltas[cap]:
                deltas[cap][f].append(paired_deltas(before[cap][f], after[cap][f]))
    _report(args, recipe, base, scored, deltas, replay_cap, replay_share)


def _train(args: argparse.Namespace, recipe, task, base, band: list[dict] | None, seed: int,  # type: ignore[no-untyped-def]
           replay_cap: str, replay_share: float, sdir: Path) -> None:
    """One seed's GRPO stage from the base; writes `sdir/done.json` when it finishes."""
    from seethink.config import StageSpec, stage_trainer
    from seethink.data.tasks import get_task
    from seethink.training.stage import run_stage

    trainer = stage_trainer(recipe, StageSpec(name=args.capability, tasks=[task.name]))
    items = band if band is not None else task.generate(args.items, "train", seed * 1000 + 7, recipe.toy)
    if replay_cap:
        k = round(len(items) * replay_share / (1.0 - replay_share))
        items = items + get_task(f"toy_{replay_cap}").generate(k, "train", seed * 1000 + 8, recipe.toy)
    info = run_stage(base, items, trainer, recipe.reward, sdir / "stage", stage=args.capability,
                     variant=f"seed{seed}", metrics_path=sdir / "metrics.jsonl", seed=seed,
                     dtype=recipe.model.dtype)
    (sdir / "done.json").write_text(json.dumps(info))


def _report(args: argparse.Namespace, recipe, base, scored: list[str], deltas: dict,  # type: ignore[no-untyped-def]
            replay_cap: str, replay_share: float) -> None:
    """Print each effect with its interval; write them to OUT/effect.json."""
    from seethink.config import StageSpec, stage_trainer
    from seethink.eval.stats import bootstrap_ci

    t = stage_trainer(recipe, StageSpec())
    print(f"\n{args.capability} stage from {base}: {t.max_steps} steps, {t.batch_size} prompts x G={t.group_size}, "
          f"lr {t.learning_rate:g}, seeds {args.seeds}, {recipe.eval.items_per_capability} held-out items per "
          f"capability, {recipe.eval.samples} samples per item"
          + (f", {replay_share:.0%} of training items from {replay_cap}" if replay_cap else ""))
    result: dict = {}
    for cap in scored:
        res = result if cap == args.capability else result.setdefault("on", {}).setdefault(cap, {})
        for kind, f in (("greedy", "correct"), ("sampled", "sampled_correct")):
            ci = bootstrap_ci(deltas[cap][f])
            res[kind] = ci
            runs = ", ".join(f"{x:+.1f}" for x in ci["per_run"])
            print(f"  on {cap:10s} {kind:8s} effect {ci['delta']:+.1f} points, 95% interval "
                  f"[{ci['ci_low']:+.1f}, {ci['ci_high']:+.1f}] (per seed: {runs})")
    (Path(args.out) / "effect.json").write_text(json.dumps(result, indent=1))


def _pass_band_items(args: argparse.Namespace, recipe, task, base, out: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    """Training items whose base pass rate lies in the band: pass@K over a pool, then filter.

    The reference recipe's difficulty axis: items the base always or never solves give GRPO
    groups with no reward variance, hence no gradient.
    """
    from seethink.config import StageSpec, stage_trainer
    from seethink.data.passk import pass_at_k
    from seethink.utils import read_jsonl, write_jsonl

    low, high = (float(x) for x in args.pass_band.split(","))
    pool_file, rated = out / "pool" / "items.jsonl", out / "pool" / f"passk{args.pass_k}.jsonl"
    if not pool_file.is_file():
        write_jsonl(pool_file, task.generate(args.pool, "train", 7, recipe.toy))
    t = stage_trainer(recipe, StageSpec())
    pass_at_k(base, pool_file, rated, k=args.pass_k, temperature=t.temperature,
              max_new_tokens=t.max_completion_length, batch_size=8)
    rows = read_jsonl(rated)
    rates = [r["pass_rate"] for r in rows]
    keep = [r for r in rows if low <= r["pass_rate"] <= high][: args.items]
    for r in keep:
        for f in ("predictions", "correctness", "pass_rate"):
            r.pop(f, None)
    print(f"pass band [{low}, {high}]: {len(keep)} of {len(rows)} pool items kept "
          f"(mean pass rate {sum(rates) / len(rates):.2f}; {sum(x == 0 for x in rates)} never solved, "
          f"{sum(x == 1 for x in rates)} always)", flush=True)
    return keep


if __name__ == "__main__":
    main()
