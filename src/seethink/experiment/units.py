"""The work of an experiment in units that finish on their own and are never redone.

Units: the base's evaluation (once: seeds vary the RL runs only), the base's pass rates per
seed (only when a difficulty arm needs them) and one unit per arm x seed (train the arm's
stages, evaluate its final model on the shared held-out items, ask it the attribution
sub-questions). A unit is finished when its `unit.json` exists (written last); an unfinished
unit continues from its newest stage checkpoint and its saved evaluation batches.

Directory layout (EXP = the experiment directory):
  EXP/experiment.yaml                  the resolved recipe (arms and seeds included)
  EXP/units/base/                      unit.json, eval/{predictions.jsonl, metrics.json, ...}
  EXP/units/ARM/seed-S/                unit.json, config.yaml, metrics.jsonl, stages/ARM/NN-stage/,
                                       eval/ (final model), eval-stages/NN-stage/ (eval.stages)
  EXP/passk/seed-S/                    the base's pass rates of each stage's training items
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from seethink.config import Recipe, dump_recipe
from seethink.data.plan import PlannedStage, stage_items
from seethink.errors import UserError
from seethink.experiment.arms import Arm, ArmStage, stage_steps
from seethink.utils import atomic_write_text, read_jsonl, write_json, write_jsonl

SMALL_FILES = ("unit.json", "config.yaml", "metrics.jsonl", "pass_rates.json")
SMALL_EVAL_FILES = ("metrics.json", "predictions.jsonl", "eval_key.json", "subquestions.jsonl")


def unit_dir(exp: Path, arm: str, seed: int | None) -> Path:
    return exp / "units" / arm if seed is None else exp / "units" / arm / f"seed-{seed}"


def seeded(recipe: Recipe, seed: int) -> Recipe:
    r = copy.deepcopy(recipe)
    r.seed = seed
    return r


def commit() -> str:
    """The code's git commit (with '+dirty' for uncommitted changes), so every number has its source."""
    root = Path(__file__).resolve().parents[3]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + ("+dirty" if dirty else "")) if head else "unknown"


# ---------------------------------------------------------------- planning


def _ordered(items: list[dict], rates: dict[str, float], where: str) -> list[dict]:
    """Easy -> hard by pass rate (stable: ties keep their order)."""
    missing = [it["id"] for it in items if it["id"] not in rates]
    if missing:
        raise UserError(f"{where}: no pass rate for item {missing[0]} (+{len(missing) - 1}); "
                        "delete the experiment's passk/ folder to recompute")
    return sorted(items, key=lambda it: -rates[it["id"]])


def plan_arm(recipe: Recipe, arm: Arm, rates: dict[str, float] | None = None) -> list[PlannedStage]:
    """The arm's stages for `recipe.seed`, with their items and final trainer settings."""
    steps = stage_steps(recipe, arm)
    per_stage = [stage_items(recipe, s.spec, s.ref_index) for s in arm.stages]
    if arm.difficulty and rates is None:
        raise UserError(f"arm {arm.name!r} orders items by difficulty but no pass rates were computed")
    if arm.merge:
        pooled = [it for items in per_stage for it in items]
        if arm.difficulty:
            pooled = _ordered(pooled, rates or {}, f"arm {arm.name}")
        trainer = dataclasses.replace(recipe.trainer, **arm.trainer)
        trainer = dataclasses.replace(trainer, max_steps=steps[0], shuffle=not arm.difficulty)
        return [PlannedStage(arm.name, 0, "merged", pooled, trainer)]
    out = []
    for i, (st, items) in enumerate(zip(arm.stages, per_stage, strict=True)):
        trainer = dataclasses.replace(st.trainer, max_steps=steps[i])
        if arm.difficulty:
            items = _ordered(items, rates or {}, f"arm {arm.name}, stage {st.name}")
            trainer = dataclasses.replace(trainer, shuffle=False)
        out.append(PlannedStage(arm.name, i, st.name, items, trainer))
    return out


def describe_plan(stages: list[PlannedStage], trained_params: dict[str, int] | None = None) -> list[dict]:
    """What each stage of a unit trains (for unit.json and the report's budget table)."""
    rows = []
    for st in stages:
        t = st.trainer
        caps = sorted({str(it.get("capability", "")) for it in st.items})
        rows.append({"stage": st.name, "kind": t.kind, "steps": t.max_steps, "items": len(st.items),
                     "capabilities": caps, "learning_rate": t.learning_rate, "beta": t.beta,
                     "freeze_vision": t.freeze_vision, "shuffle": t.shuffle, "lora_r": t.lora_r,
                     "trained_params": (trained_params or {}).get("frozen" if t.freeze_vision else "all")})
    return rows


def count_params(model_path: Path, recipe: Recipe) -> dict[str, int]:
    """Parameters trained with the vision tower trainable ('all') and frozen ('frozen'), from
    the model's config on the meta device (no weights are loaded)."""
    from seethink.training.stage import vision_tower

    try:
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText

        cfg = AutoConfig.from_pretrained(model_path, trust_remote_code=recipe.model.trust_remote_code,
                                         local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(cfg, trust_remote_code=recipe.model.trust_remote_code)
    except Exception:  # noqa: BLE001 - a model class we cannot build from its config: report no count
        return {}
    total = sum(p.numel() for p in model.parameters())
    visual = vision_tower(model)
    frozen = sum(p.numel() for p in visual.parameters()) if visual is not None else 0
    return {"all": int(total), "frozen": int(total - frozen)}


# ---------------------------------------------------------------- pass rates


def pass_rates(recipe: Recipe, arms: list[Arm], seed: int, base: Path, exp: Path, log: Any = print) -> dict[str, float]:
    """The base's pass rate (fraction of `experiment.passk_k` samples correct) of every training
    item of the stages the difficulty arms train, for one seed; cached in EXP/passk/seed-S."""
    from seethink.data.passk import pass_at_k
    from seethink.eval.device import load_for_eval
    from seethink.rewards.core import build_reward

    folder = exp / "passk" / f"seed-{seed}"
    summary = folder / "pass_rates.json"
    if summary.is_file():
        return {k: float(v) for k, v in json.loads(summary.read_text()).items()}
    r = seeded(recipe, seed)
    stages: dict[str, ArmStage] = {}
    for arm in arms:
        if arm.difficulty:
            for st in arm.stages:
                stages.setdefault(st.name, st)
    if not stages:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    model, processor, _, _ = load_for_eval(base, device=r.eval.device, dtype=r.eval.dtype, load_dtype=r.model.dtype,
                                           trust_remote_code=r.model.trust_remote_code)
    model_and_processor = (model, processor)
    rw = r.reward
    reward = build_reward(rw.accuracy_weight, rw.format_weight, rw.extra, rw.extra_weights, timeout_s=rw.timeout_s)
    rates: dict[str, float] = {}
    for name, st in stages.items():
        items = stage_items(r, st.spec, st.ref_index)
        src = folder / f"{name}.items.jsonl"
        write_jsonl(src, items)
        log(f"[passk] seed {seed}, stage {name}: {len(items)} items x {r.experiment.passk_k} samples")
        pass_at_k(base, src, folder / f"{name}.jsonl", k=r.experiment.passk_k, temperature=st.trainer.temperature,
                  top_p=st.trainer.top_p, max_new_tokens=st.trainer.max_completion_length,
                  batch_size=r.experiment.passk_batch_size, seed=seed, reward=reward,
                  model_and_processor=model_and_processor)
        rates.update({str(row["id"]): float(row["pass_rate"]) for row in read_jsonl(folder / f"{name}.jsonl")})
    write_json(summary, rates)  # written last: its presence means every stage's rates are final
    return rates


# ---------------------------------------------------------------- units


def eval_model(recipe: Recipe, model: Path, items: list[dict], out: Path, log: Any = print,
               is_base: bool | None = None) -> dict:
    """Score one model on the held-out toy items (if any), then (attribution) ask it the
    sub-questions; and on `eval.benchmarks` into OUT/bench/NAME/ (predictions.jsonl included,
    which the study reads as capability bench:NAME). `is_base` (protocol paper: no system
    prompt) defaults to whether OUT is the base unit's evaluation folder."""
    from seethink.eval.run import evaluate_checkpoint

    metrics: dict = {}
    if items:
        metrics = evaluate_checkpoint(model, items, recipe, out, log=log)
        if recipe.experiment.attribution:
            from seethink.experiment.probe import probe_model

            probe_model(recipe, model, items, out, log=log)
    if recipe.eval.benchmarks:
        from seethink.training.variants import evaluate_benchmarks_of

        if is_base is None:
            is_base = out.parent.name == "base" and out.parent.parent.name == "units"
        metrics["benchmarks"] = evaluate_benchmarks_of(recipe, model, out / "bench", is_base=is_base, log=log)
    if not items and not recipe.eval.benchmarks:
        from seethink.training.variants import nothing_to_evaluate

        log(nothing_to_evaluate(recipe))
    return metrics


def run_base_unit(recipe: Recipe, base: Path, items: list[dict], exp: Path, log: Any = print) -> dict:
    udir = unit_dir(exp, "base", None)
    done = udir / "unit.json"
    if done.is_file():
        return json.loads(done.read_text())
    t0 = time.time()
    eval_model(recipe, base, items, udir / "eval", log=log)
    info = {"arm": "base", "seed": None, "model": str(base), "seconds": time.time() - t0, "commit": commit(),
            "eval_items": len(items)}
    write_json(done, info)
    return info


def run_arm_unit(recipe: Recipe, arm: Arm, seed: int, base: Path, items: list[dict], exp: Path,
                 rates: dict[str, float] | None = None, log: Any = print) -> dict:
    """Train one arm for one seed (or take its outside model) and evaluate it; unit.json at the end."""
    from seethink.training.variants import train_variant

    udir = unit_dir(exp, arm.name, seed)
    done = udir / "unit.json"
    if done.is_file():
        return json.loads(done.read_text())
    udir.mkdir(parents=True, exist_ok=True)
    r = seeded(recipe, seed)
    t0 = time.time()
    if arm.outside:
        final, stages, plan = Path(arm.model).expanduser(), [], []
        if not final.is_dir():
            raise UserError(f"experiment arm {arm.name!r}: model directory not found: {arm.model}")
        timings: dict[str, float] = {}
    else:
        stages = plan_arm(r, arm, rates)
        plan = describe_plan(stages, count_params(base, r))
        atomic_write_text(udir / "config.yaml", dump_recipe(r))
        write_json(udir / "plan.json", plan)
        timings = train_variant(r, arm.name, stages, base, udir, log=log)
        final = udir / "stages" / arm.name / stages[-1].dirname / "checkpoint"
    eval_model(r, final, items, udir / "eval", log=log)
    if r.eval.stages:
        for st in stages[:-1]:
            eval_model(r, udir / "stages" / arm.name / st.dirname / "checkpoint", items,
                       udir / "eval-stages" / st.dirname, log=log)
    info = {"arm": arm.name, "seed": seed, "stages": plan, "total_steps": sum(p["steps"] for p in plan),
            "outside_model": arm.model, "seconds": time.time() - t0, "train_seconds": timings,
            "commit": commit(), "eval_items": len(items)}
    write_json(done, info)
    return info


def export_small(exp: Path, dest: Path, unit: Path) -> None:
    """Copy a finished unit's small result files (no checkpoints) to `dest`, same layout."""
    import shutil

    paths = [unit / f for f in SMALL_FILES] + list(unit.glob("stages/*/*/done.json")) + list(unit.glob("plan.json"))
    for folder in [unit / "eval", *unit.glob("eval-stages/*"), *unit.glob("eval/bench/*"),
                   *unit.glob("eval-stages/*/bench/*")]:
        paths += [folder / f for f in SMALL_EVAL_FILES]
    for path in paths:
        if path.is_file():
            target = dest / path.relative_to(exp)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
