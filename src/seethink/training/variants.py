"""One variant's work: train its stages in order, then score the models it yields.

Shared by the pipeline (variants one after another, or under a launcher with every process
taking part) and by the parallel workers (`seethink.training.parallel`, one process per group
of variants). A finished stage is recorded by `done.json`, written last, so a re-run skips it.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import Recipe
from seethink.data.plan import PlannedStage, eval_items
from seethink.utils import read_jsonl, write_json


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
                    metrics_path=out / "metrics.jsonl", seed=recipe.seed,
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
    from seethink.eval.evaluators import get_evaluator

    if not bench:
        return toy or {}
    preds = toy_preds + bench_preds
    out = get_evaluator("toy").summarize(preds, preds)
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
