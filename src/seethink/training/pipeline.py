"""Stages in order, for each variant (staged / merged), from one shared base.

*staged*: the recipe's stages in their configured order, each starting from the
previous stage's checkpoint. *merged*: one stage with every stage's items pooled and
the same total number of steps, using the recipe-wide trainer defaults.

Finished units (a stage checkpoint, a model's evaluation) are recorded by marker files
written last, so re-running the same command skips what is done; an unfinished stage
continues from its newest trainer checkpoint and an unfinished evaluation from its saved
batches. The run directory is locked (run.lock) for the whole run. README: "Resume".
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import Recipe, dump_recipe
from seethink.data.plan import PlannedStage, apply_curriculum, eval_items_planned, plan
from seethink.errors import UserError
from seethink.runlock import run_lock
from seethink.training.parallel import run_variants_in_parallel, worker_count
from seethink.training.variants import banner, evaluate_models, train_variant, variant_models
from seethink.utils import atomic_write_text, write_json


def resolve_base(recipe: Recipe, log: Any = print) -> Path:
    from seethink.models.resolve import run_base

    named = run_base(recipe.model.path, recipe, log=log)
    if named is not None:
        return named
    p = Path(recipe.model.path).expanduser()
    if not p.is_dir():
        raise UserError(f"config key 'model.path': model directory not found: {recipe.model.path}")
    return p


def _holding_run_lock(fn: Any) -> Any:
    """Run the pipeline holding the run directory's lock (see seethink.runlock): a second
    process on the same directory stops with an error instead of corrupting the first's files."""

    @functools.wraps(fn)
    def wrapper(recipe: Recipe, out_dir: str | Path, log: Any = print) -> dict:
        with run_lock(out_dir, log=log):
            return fn(recipe, out_dir, log=log)

    return wrapper


def _silent(*_: Any, **__: Any) -> None:
    """The log of non-main processes: one copy of every line is enough."""


def eval_meta(recipe: Recipe) -> dict:
    """What the summary's numbers come from: toy items or not, benchmarks, protocol, placement."""
    from seethink.eval.device import placement
    from seethink.eval.protocols import resolve

    e = recipe.eval
    try:
        dev, dt = placement(e.device, e.dtype, recipe.model.dtype)
    except UserError:  # e.g. cuda asked for on a machine without one (nothing was evaluated)
        dev, dt = e.device, e.dtype
    return {"toy": bool(eval_items_planned(recipe)), "benchmarks": [resolve(b, e.protocol).name for b in e.benchmarks],
            "protocol": e.protocol, "benchmark_limit": e.benchmark_limit, "device": dev, "dtype": dt,
            "backend": e.backend}


def check_evaluation(recipe: Recipe) -> None:
    """Before training: the evaluation device exists and every benchmark's items and images load."""
    from seethink.eval.bench_run import check_benchmarks
    from seethink.eval.device import placement

    e = recipe.eval
    names = list(dict.fromkeys([*e.benchmarks, *(e.during_training.benchmarks if e.during_training.every else [])]))
    if names or eval_items_planned(recipe):
        placement(e.device, e.dtype, recipe.model.dtype)
    if names:
        check_benchmarks(names, data_root=Path(e.data_root), protocol=e.protocol, limit=e.benchmark_limit or None)


@_holding_run_lock
def run_recipe(recipe: Recipe, out_dir: str | Path, log: Any = print) -> dict:
    """Warm start (toy) -> train each variant -> evaluate all -> summary, report, plots.

    Under `accelerate launch` every process trains every stage together; only the main
    process writes run files (config, metrics, checkpoints, done markers) and, once
    training is over, evaluates and reports alone. The others return an empty summary.
    With `parallel` > 1 (by default on a CPU with a core per variant) each variant trains
    and evaluates in its own process (`seethink.training.parallel`).
    """
    from seethink.report.build import write_report
    from seethink.utils import pin_threads

    if not dist.is_main_process():
        log = _silent
    out = Path(out_dir)
    _prepare_run_dir(recipe, out, log)
    pin_threads(recipe.threads or None)
    timings: dict[str, float] = {}
    t0 = time.time()
    banner(f"seethink run '{recipe.name}' -> {out}", log)
    check_evaluation(recipe)  # a missing benchmark folder or GPU fails now, not after training
    base = resolve_base(recipe, log=log)
    timings["base"] = time.time() - t0
    plans = plan(recipe)
    models, chains = _models_of(recipe, plans, base, out)
    workers = worker_count(recipe, len(plans))
    done = _train_and_evaluate(recipe, plans, models, out, workers, log)
    if done is None:
        return {}
    results, more = done
    timings.update(more)
    timings["total"] = time.time() - t0
    summary = {name: results[name] for name in models if name in results}
    summary["meta"] = _summary_meta(recipe, base, results, chains, workers, timings)
    write_json(out / "summary.json", summary)
    write_report(out)
    log(f"\nreport: {out / 'report.md'}")
    return summary


def _prepare_run_dir(recipe: Recipe, out: Path, log: Any) -> None:
    """Create the run directory, replace a curriculum recipe's stages by its stage files (the main
    process builds them, the others read its manifest) and record the recipe as run."""
    main = dist.is_main_process()
    out.mkdir(parents=True, exist_ok=True)
    if recipe.curriculum.mode:
        if main:
            apply_curriculum(recipe, out, log=log)
        dist.barrier()
        if not main:
            apply_curriculum(recipe, out, log=log, build=False)
    if main:
        atomic_write_text(out / "config.yaml", dump_recipe(recipe))


def _models_of(recipe: Recipe, plans: dict[str, list[PlannedStage]], base: Path,
               out: Path) -> tuple[dict[str, Path], dict[str, list[dict]]]:
    """Every model to evaluate (the base first, then each variant's) and each variant's chain."""
    models: dict[str, Path] = {"base": base}
    chains: dict[str, list[dict]] = {}
    for variant, stages in plans.items():
        vmodels, chains[variant] = variant_models(recipe, variant, stages, out)
        models.update(vmodels)
    return models, chains


def _train_and_evaluate(recipe: Recipe, plans: dict[str, list[PlannedStage]], models: dict[str, Path], out: Path,
                        workers: int, log: Any) -> tuple[dict[str, dict], dict[str, float]] | None:
    """Train every variant and evaluate every model: (results by model, seconds), or None in a
    process other than the main one (it has nothing to report)."""
    if workers > 1:
        return run_variants_in_parallel(recipe, plans, models, out, workers, log=log)
    main = dist.is_main_process()
    timings: dict[str, float] = {}
    for variant, stages in plans.items():
        timings.update(train_variant(recipe, variant, stages, models["base"], out, log=log))
    if not main and not recipe.eval.benchmarks:
        return None
    results, more = evaluate_models(recipe, models, out, log=log)  # benchmarks: every process answers a share
    if not main:
        return None
    timings.update(more)
    return results, timings


def _summary_meta(recipe: Recipe, base: Path, results: dict[str, dict], chains: dict[str, list[dict]], workers: int,
                  timings: dict[str, float]) -> dict:
    """The summary's `meta`: what was run, how, and how long each part took."""
    return {
        "recipe": recipe.name,
        "base_path": str(base),
        "eval_items": next(iter(results.values()))["n"] if results else 0,
        "eval": eval_meta(recipe),
        "stages": [s.name for s in recipe.stages],
        "chains": {v: [c for c in ch if c["before"]] for v, ch in chains.items()},
        "samples": recipe.eval.samples,
        "temperature": recipe.eval.temperature,
        "top_p": recipe.eval.top_p,
        "workers": workers,
        "seconds": timings,
    }
