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

import dataclasses
import functools
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import Recipe, StageSpec, TrainerSpec, dump_recipe, stage_trainer
from seethink.data.images import check_image_file
from seethink.data.tasks import TASKS, get_task
from seethink.errors import UserError
from seethink.runlock import run_lock
from seethink.utils import atomic_write_text, read_jsonl, write_json


@dataclasses.dataclass
class PlannedStage:
    variant: str
    index: int
    name: str
    items: list[dict]
    trainer: TrainerSpec

    @property
    def dirname(self) -> str:
        return f"{self.index + 1:02d}-{self.name}"


def data_file_items(path: str | Path) -> list[dict]:
    """Items of a seethink JSONL file, image paths made absolute (they are relative to the file)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"stage data file not found: {path}")
    rows = read_jsonl(p)
    if not rows:
        raise UserError(f"stage data file {p} holds no items")
    for n, row in enumerate(rows, 1):
        for key in ("question", "answer"):
            if key not in row:
                raise UserError(f"{p}, row {n}, field '{key}': missing")
        row.setdefault("id", f"{p.stem}-{n}")
        row["images"] = [str((p.parent / im).resolve()) for im in row.get("images") or []]
        for im in row["images"]:  # now, not hours later when this stage starts
            check_image_file(im, f"{p}, row {n}, field 'images': ")
    return rows


def stage_items(recipe: Recipe, stage: StageSpec, stage_index: int) -> list[dict]:
    items: list[dict] = data_file_items(stage.data) if stage.data else []
    for t, name in enumerate(stage.tasks):
        task = get_task(name)
        items += task.generate(stage.items_per_task, "train", recipe.seed * 1000 + stage_index * 10 + t, recipe.toy)
    return items


def apply_curriculum(recipe: Recipe, out_dir: Path, log: Any = print, build: bool = True) -> None:
    """Replace the recipe's stages by the stage files of its curriculum (built on the fly).

    Curriculum order is the point, so these stages keep their file order (no shuffling).
    `build=False` reads the manifest another process built (multi-process runs).
    """
    from seethink.data.curriculum import build_curriculum

    c = recipe.curriculum
    if build:
        manifest = build_curriculum(
            c.inputs, c.mode, out_dir / "curriculum", order=c.order or None, drop_solved=c.drop_solved,
            drop_unsolved=c.drop_unsolved, seed=c.seed,
        )
    else:
        manifest = json.loads((out_dir / "curriculum" / "curriculum.json").read_text())
    recipe.stages = [
        StageSpec(name=st["inputs"][0] if len(st["inputs"]) == 1 else "all", tasks=[],
                  data=str(out_dir / "curriculum" / st["file"]), trainer={"shuffle": False})
        for st in manifest["stages"]
    ]
    log(f"[curriculum] {c.mode}: {len(recipe.stages)} stage(s) -> {out_dir / 'curriculum'}")


def with_replay(recipe: Recipe, per_stage: list[list[dict]], i: int) -> list[dict]:
    """Stage i's items plus a seeded draw from earlier stages' items, so that the replayed
    items make up `stages[i].replay` of the result (k / (n + k) = share)."""
    share = recipe.stages[i].replay
    own = per_stage[i]
    if not share:
        return own
    earlier = [it for items in per_stage[:i] for it in items]
    k = min(len(earlier), round(len(own) * share / (1.0 - share)))
    return own + random.Random(recipe.seed * 1000 + i).sample(earlier, k)


def plan(recipe: Recipe) -> dict[str, list[PlannedStage]]:
    per_stage = [stage_items(recipe, s, i) for i, s in enumerate(recipe.stages)]
    out: dict[str, list[PlannedStage]] = {}
    if "staged" in recipe.variants:
        out["staged"] = [
            PlannedStage("staged", i, s.name, with_replay(recipe, per_stage, i), stage_trainer(recipe, s))
            for i, s in enumerate(recipe.stages)
        ]
    if "merged" in recipe.variants:
        total = sum(stage_trainer(recipe, s).max_steps for s in recipe.stages)
        pooled = [it for items in per_stage for it in items]
        # Merged pools everything; a curriculum's order does not survive pooling, so it shuffles.
        trainer = dataclasses.replace(recipe.trainer, max_steps=total, shuffle=True)
        out["merged"] = [PlannedStage("merged", 0, "merged", pooled, trainer)]
    return out


# Capabilities trained but not scored on held-out items: a caption has no verifiable answer.
UNSCORED = ("caption",)


TOY_CAPABILITIES = ("perception", "text", "visual")


def toy_capabilities(recipe: Recipe) -> dict[str, str]:
    """{capability: task} of the toy capabilities the recipe trains: a stage's tasks, or the toy
    capabilities the rows of a stage data file carry."""
    seen: dict[str, str] = {}
    for s in recipe.stages:
        for name in s.tasks:
            if get_task(name).capability not in UNSCORED:
                seen.setdefault(get_task(name).capability, name)
        if s.data and Path(s.data).expanduser().is_file():  # the toy capabilities a data file trains
            for row in read_jsonl(Path(s.data).expanduser()):  # (its images are checked when it is planned)
                cap, task = row.get("capability", ""), row.get("task")
                if task and not (str(task).startswith("toy_") and task in TASKS):
                    continue  # real data shares the capability names (caption_mcq, user_visual, geoqa170k, ...)
                if f"toy_{cap}" in TASKS and cap not in UNSCORED:
                    seen.setdefault(cap, f"toy_{cap}")
    return seen


def eval_items(recipe: Recipe) -> list[dict]:
    """Held-out toy items, never overlapping training: for every toy capability the recipe trains
    (`eval.toy` unset, the default), none (`eval.toy: false`), or every toy capability the recipe
    trains and, if it trains none, all three (`eval.toy: true`). A recipe on real data only
    trains no toy capability, so it is not scored on toy items unless it asks."""
    if recipe.eval.toy is False:
        return []
    seen = toy_capabilities(recipe)
    if not seen and recipe.eval.toy:
        seen = {c: f"toy_{c}" for c in TOY_CAPABILITIES}
    items: list[dict] = []
    for _cap, name in sorted(seen.items()):
        items += get_task(name).generate(recipe.eval.items_per_capability, "test", recipe.eval.seed, recipe.toy)
    return items


def resolve_base(recipe: Recipe, log: Any = print) -> Path:
    if recipe.model.path == "toy":
        from seethink.training.warmstart import cached_base, ensure_toy_base

        if dist.world_size() > 1 and not (cached_base(recipe) / "warmstart.json").is_file():
            raise UserError(
                "model.path=toy: the toy warm start runs in one process and is not cached yet; build it first "
                "without accelerate (e.g. `seethink eval --model toy --n 1 --no-ablation` with the same "
                "toy/toy_model/warmstart settings), then launch again"
            )
        return ensure_toy_base(recipe, log=log)
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


def banner(text: str, log: Any = print) -> None:
    log("\n" + "=" * 70 + f"\n  {text}\n" + "=" * 70)


def variant_models(recipe: Recipe, variant: str, stages: list[PlannedStage], out: Path) -> tuple[dict[str, Path], list[dict]]:
    """The models a variant's training yields for evaluation (name -> checkpoint) and its chain:
    which evaluated model each stage started from and produced (per-stage effects in the report)."""
    models: dict[str, Path] = {}
    chain: list[dict] = []
    before = "base"
    for st in stages:
        ckpt = out / "stages" / variant / st.dirname / "checkpoint"
        last = st.index == len(stages) - 1
        after = variant if last else f"{variant}@{st.name}"
        if last or recipe.eval.stages:
            models[after] = ckpt
            caps = sorted({str(it.get("capability", "")) for it in st.items})
            chain.append({"stage": st.name, "capabilities": caps, "before": before, "after": after})
        before = after if (last or recipe.eval.stages) else ""
    return models, chain


def train_variant(recipe: Recipe, variant: str, stages: list[PlannedStage], base: Path, out: Path,
                  log: Any = print) -> dict[str, float]:
    """Train a variant's stages in order, each from the previous checkpoint; seconds per stage."""
    from seethink.training.callbacks import stage_callbacks
    from seethink.training.stage import run_stage
    from seethink.training.validation import validation_factory

    main = dist.is_main_process()
    timings: dict[str, float] = {}
    current = base
    for st in stages:
        sdir = out / "stages" / variant / st.dirname
        done = sdir / "done.json"
        if done.is_file():
            log(f"[{variant}] stage {st.dirname} already trained, skipping")
        else:
            banner(
                f"{variant}: stage {st.index + 1}/{len(stages)} '{st.name}' - {len(st.items)} items, "
                f"{st.trainer.max_steps} steps, lr {st.trainer.learning_rate:g}, G={st.trainer.group_size}",
                log,
            )
            dist.barrier()
            # eval.during_training: benchmark accuracy of the policy every N steps (seethink.training.validation)
            validation = validation_factory(recipe, sdir, st.name, variant, out / "metrics.jsonl", log=log)
            with stage_callbacks(validation):
                info = run_stage(  # resume=True: continues from sdir/trainer/checkpoint-N if a killed run left one
                    current, st.items, st.trainer, recipe.reward, sdir, stage=st.name, variant=variant,
                    metrics_path=out / "metrics.jsonl", seed=recipe.seed, cell_px=recipe.toy.cell_px,
                    trust_remote_code=recipe.model.trust_remote_code, dtype=recipe.model.dtype, log=log,
                    resume=True, report_to=recipe.logging.report_to,
                )
            if main:
                write_json(done, info)
                shutil.rmtree(sdir / "trainer", ignore_errors=True)
            dist.barrier()
        timings[f"{variant}/{st.name}"] = json.loads(done.read_text())["seconds"]
        current = sdir / "checkpoint"
    return timings


def nothing_to_evaluate(recipe: Recipe) -> str:
    return ("[eval] nothing to evaluate: the recipe trains no toy task and names no benchmark "
            "(set eval.benchmarks and eval.data_root, or eval.toy=true)")


def combine(toy: dict | None, toy_preds: list[dict], bench: dict[str, dict], bench_preds: list[dict]) -> dict:
    """One model's summary: the toy metrics as they are when there is no benchmark; otherwise the
    metrics of every scored item (toy and benchmark items, each benchmark a capability
    `bench:NAME`) plus `benchmarks`: each benchmark's official metrics and protocol."""
    from seethink.eval.toy import summarize

    if not bench:
        return toy or {}
    preds = toy_preds + bench_preds
    out = summarize(preds, preds)
    if toy and "ablation" in toy:
        out["ablation"] = toy["ablation"]
    keep = ("accuracy", "correct", "total", "sampled_accuracy", "protocol", "rule", "score_strict", "score_loose")
    out["benchmarks"] = {name: {k: m[k] for k in keep if k in m} | {"n": m.get("total")} for name, m in bench.items()}
    return out


def evaluate_benchmarks_of(recipe: Recipe, model: Path, out: Path, *, is_base: bool, log: Any = print) -> dict[str, dict]:
    """Score one model on `eval.benchmarks` into OUT/NAME/ (greedy, and sampled with
    `eval.samples`), on `eval.device` in `eval.dtype`; every process of a multi-process launch
    answers its share of the items, the main process scores ({} elsewhere)."""
    from seethink.eval.bench_run import evaluate_benchmarks

    e = recipe.eval
    judge = None
    if e.protocol == "paper" and e.judge_base_url:
        from seethink.eval.judge import Judge

        judge = Judge(e.judge_base_url, e.judge_model, api_key_env=e.judge_api_key_env,
                      cache_path=out / "judge_cache.jsonl")
    return evaluate_benchmarks(
        model, list(e.benchmarks), data_root=Path(e.data_root), limit=e.benchmark_limit or None, out_dir=out,
        max_new_tokens=e.benchmark_max_new_tokens, batch_size=e.batch_size, device=e.device, dtype=e.dtype,
        load_dtype=recipe.model.dtype, trust_remote_code=recipe.model.trust_remote_code, backend=e.backend,
        samples=e.samples, temperature=e.temperature, top_p=e.top_p, seed=e.seed, protocol=e.protocol,
        is_base=is_base, system_prompt=e.paper_system_prompt, judge=judge, log=log,
    )


def bench_predictions(out: Path, names: list[str], protocol: str) -> list[dict]:
    """The prediction rows of every benchmark evaluated into OUT/NAME/, in the configured order."""
    from seethink.eval.protocols import resolve

    rows: list[dict] = []
    for name in names:
        rows += read_jsonl(out / resolve(name, protocol).name / "predictions.jsonl")
    return rows


def evaluate_models(recipe: Recipe, models: dict[str, Path], out: Path,
                    log: Any = print) -> tuple[dict[str, dict], dict[str, float]]:
    """Score each model on the held-out toy items (where the recipe trains toy tasks or sets
    eval.toy) and on eval.benchmarks (resuming a killed evaluation); results, seconds.

    Per model: eval/MODEL/{predictions.jsonl, metrics.json} (toy) and eval/MODEL/bench/NAME/
    (benchmarks: responses, official results file, metrics.json, predictions.jsonl). Under a
    multi-process launch every process takes part in the benchmark generation; the main process
    alone scores the toy items and writes; the others return ({}, {})."""
    from seethink.eval.run import evaluate_checkpoint

    main = dist.is_main_process()
    items = eval_items(recipe) if main else []
    benches = list(recipe.eval.benchmarks)
    results: dict[str, dict] = {}
    timings: dict[str, float] = {}
    if not items and not benches:
        log(nothing_to_evaluate(recipe))
        return results, timings
    for name, path in models.items():
        t1 = time.time()
        toy: dict | None = None
        if items:
            banner(f"evaluating {name} on {len(items)} held-out items", log)
            toy = evaluate_checkpoint(path, items, recipe, out / "eval" / name, log=log)
        bench: dict[str, dict] = {}
        if benches:
            banner(f"evaluating {name} on {', '.join(benches)} ({recipe.eval.protocol} protocol)", log)
            bench = evaluate_benchmarks_of(recipe, path, out / "eval" / name / "bench", is_base=name == "base",
                                           log=log)
        if main:
            toy_preds = read_jsonl(out / "eval" / name / "predictions.jsonl") if toy is not None and bench else []
            bench_preds = bench_predictions(out / "eval" / name / "bench", benches, recipe.eval.protocol) if bench else []
            results[name] = combine(toy, toy_preds, bench, bench_preds)
        timings[f"eval/{name}"] = time.time() - t1
    return results, timings


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


def eval_items_planned(recipe: Recipe) -> bool:
    """Whether the recipe gets a toy held-out evaluation (without generating its items)."""
    return recipe.eval.toy is not False and (bool(recipe.eval.toy) or bool(toy_capabilities(recipe)))


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
    from seethink.training.parallel import run_variants_in_parallel, worker_count
    from seethink.utils import pin_threads

    main = dist.is_main_process()
    if not main:
        log = _silent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if recipe.curriculum.mode:
        if main:
            apply_curriculum(recipe, out, log=log)
        dist.barrier()
        if not main:
            apply_curriculum(recipe, out, log=log, build=False)
    if main:
        atomic_write_text(out / "config.yaml", dump_recipe(recipe))
    pin_threads(recipe.threads or None)
    timings: dict[str, float] = {}
    t0 = time.time()
    banner(f"seethink run '{recipe.name}' -> {out}", log)
    check_evaluation(recipe)  # a missing benchmark folder or GPU fails now, not after training
    base = resolve_base(recipe, log=log)
    timings["base"] = time.time() - t0
    plans = plan(recipe)
    models: dict[str, Path] = {"base": base}
    chains: dict[str, list[dict]] = {}
    for variant, stages in plans.items():
        vmodels, chains[variant] = variant_models(recipe, variant, stages, out)
        models.update(vmodels)
    workers = worker_count(recipe, len(plans))
    if workers > 1:
        results, more = run_variants_in_parallel(recipe, plans, models, out, workers, log=log)
        timings.update(more)
    else:
        for variant, stages in plans.items():
            timings.update(train_variant(recipe, variant, stages, base, out, log=log))
        if not main and not recipe.eval.benchmarks:
            return {}
        results, more = evaluate_models(recipe, models, out, log=log)  # benchmarks: every process answers a share
        if not main:
            return {}
        timings.update(more)
    timings["total"] = time.time() - t0
    summary = {name: results[name] for name in models if name in results}
    summary["meta"] = {
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
    write_json(out / "summary.json", summary)
    write_report(out)
    log(f"\nreport: {out / 'report.md'}")
    return summary
