"""`seethink experiment`: every arm x seed of a study, in worker processes, resumable.

The parent holds the experiment directory's lock, builds (or finds) the base, and hands out
units to `workers` processes (one per core on a CPU: a tiny model keeps one core busy far
better than two). A unit whose inputs are not ready waits (a difficulty arm waits for its
seed's pass rates). Each unit's full output goes to EXP/logs/UNIT.log; the parent relays its
lines with the unit's name and prints a progress line over the whole grid with an ETA.
A unit that fails does not stop the others; the command then exits with every failure's
reason, and running it again resumes (finished units are reused, never redone).
"""

from __future__ import annotations

import os
import queue
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seethink.config import Recipe, dump_recipe
from seethink.errors import UserError
from seethink.experiment.arms import Arm, resolve_arms
from seethink.experiment.units import (
    export_small,
    pass_rates,
    run_arm_unit,
    run_base_unit,
    unit_dir,
)
from seethink.runlock import run_lock
from seethink.utils import atomic_write_text

PROGRESS_EVERY = 30.0


@dataclass
class Job:
    name: str  # "base", "passk/seed-0", "staged/seed-0"
    kind: str  # base | passk | arm
    seed: int | None = None
    arm: Arm | None = None
    needs: list[str] = field(default_factory=list)
    steps: int = 0  # optimizer steps it trains (for progress and the ETA)


def _check_same_experiment(exp: Path, recipe: Recipe, flag: str = "--out") -> None:
    """A directory holds one experiment: settings other than the arm and seed lists must match,
    so that units run in parts (other days, other machines) pool into one report. The --results
    folder is held to the same rule: units from another base or world must not pool there."""
    saved = exp / "experiment.yaml"
    if not saved.is_file():
        return
    old = normalized_tree(yaml.safe_load(saved.read_text()) or {}, str(saved))
    new = yaml.safe_load(dump_recipe(recipe))
    for tree in (old, new):
        tree.pop("seed", None)
        tree.get("experiment", {}).pop("arms", None)
        tree.get("experiment", {}).pop("seeds", None)
        tree.get("experiment", {}).pop("workers", None)
        tree.pop("threads", None)
        tree.pop("parallel", None)
        _drop_speed_switches(tree)
    if old != new:
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise UserError(f"{exp} holds an experiment with other settings ({', '.join(keys)} differ); "
                        f"use another {flag}, or the same recipe and overrides")


# Switches between paths that compute the same thing (the same tokens for the same seed, the same
# log-probabilities to float rounding): units run with either pool into one experiment.
SPEED_SWITCHES = ("fast_generation", "shared_prompt")


def _drop_speed_switches(tree: Any) -> None:
    if isinstance(tree, dict):
        for key in SPEED_SWITCHES:
            tree.pop(key, None)
        for v in tree.values():
            _drop_speed_switches(v)
    elif isinstance(tree, list):
        for v in tree:
            _drop_speed_switches(v)


def normalized_tree(tree: dict[str, Any], where: str) -> dict[str, Any]:
    """A saved recipe as today's code resolves it: settings added since it was written take their
    defaults (which reproduce the earlier behaviour), so a directory keeps resuming and pooling."""
    import tempfile

    from seethink.config import load_recipe

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(tree, f, sort_keys=False)
    try:
        return yaml.safe_load(dump_recipe(load_recipe(f.name)))
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    finally:
        Path(f.name).unlink(missing_ok=True)


def _save_experiment(exp: Path, recipe: Recipe, arms: list[Arm], seeds: list[int]) -> None:
    """experiment.yaml keeps the union of arms and seeds ever run into this directory."""
    saved = exp / "experiment.yaml"
    old = yaml.safe_load(saved.read_text()) if saved.is_file() else {}
    tree = yaml.safe_load(dump_recipe(recipe))
    old_x = (old or {}).get("experiment", {})
    names = {a["name"] if isinstance(a, dict) else a for a in old_x.get("arms", [])}
    arms_out = list(old_x.get("arms", [])) + [a for a in tree["experiment"]["arms"] if a["name"] not in names]
    tree["experiment"]["arms"] = arms_out
    tree["experiment"]["seeds"] = sorted(set(old_x.get("seeds", [])) | set(seeds))
    atomic_write_text(saved, yaml.safe_dump(tree, sort_keys=False))


def plan_jobs(recipe: Recipe, arms: list[Arm], seeds: list[int], exp: Path) -> list[Job]:
    """Arm-major order (every seed of the first arm, then the next arm), so that a study run in
    parts finishes whole arms, the recipe's first (the paper's main comparison) first; a seed's
    pass rates come just before the first arm that needs them."""
    from seethink.experiment.arms import stage_steps

    jobs = [Job("base", "base")]
    for a in arms:
        for s in seeds:
            needs = []
            if a.difficulty:
                needs = [f"passk/seed-{s}"]
                if not any(j.name == needs[0] for j in jobs):
                    jobs.append(Job(needs[0], "passk", seed=s))
            steps = 0 if a.outside else sum(stage_steps(recipe, a))
            jobs.append(Job(f"{a.name}/seed-{s}", "arm", seed=s, arm=a, needs=needs, steps=steps))
    return jobs


def _done(exp: Path, job: Job) -> bool:
    if job.kind == "base":
        return (unit_dir(exp, "base", None) / "unit.json").is_file()
    if job.kind == "passk":
        return (exp / "passk" / f"seed-{job.seed}" / "pass_rates.json").is_file()
    assert job.arm is not None
    return (unit_dir(exp, job.arm.name, job.seed) / "unit.json").is_file()


def do_job(recipe: Recipe, job: Job, arms: list[Arm], base: Path, exp: Path, log: Any = print) -> None:
    """Run one unit in this process."""
    from seethink.data.plan import eval_items

    items = eval_items(recipe)
    if job.kind == "base":
        run_base_unit(recipe, base, items, exp, log=log)
    elif job.kind == "passk":
        pass_rates(recipe, arms, int(job.seed or 0), base, exp, log=log)
    else:
        assert job.arm is not None and job.seed is not None
        rates = pass_rates(recipe, arms, job.seed, base, exp, log=log) if job.arm.difficulty else None
        run_arm_unit(recipe, job.arm, job.seed, base, items, exp, rates=rates, log=log)


def worker_count(recipe: Recipe, n_jobs: int) -> int:
    if recipe.experiment.workers:
        return max(1, min(recipe.experiment.workers, n_jobs))
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, min(n_jobs, (os.cpu_count() or 1) // max(1, recipe.threads or 1)))


def setting_recipe(recipe: Recipe, name: str) -> Recipe:
    """The recipe of one setting of a sweep: its overrides applied, the sweep itself removed."""
    from seethink.config import with_overrides

    setting = next(s for s in recipe.experiment.settings if s.name == name)
    out = with_overrides(recipe, list(setting.overrides))
    out.experiment.settings = []
    out.name = f"{recipe.name}-{name}"
    return out


def chosen_settings(recipe: Recipe, names: list[str] | None) -> list[str]:
    """The sweep's settings to run, in the recipe's order (`--settings` picks a subset)."""
    known = [s.name for s in recipe.experiment.settings]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise UserError(f"--settings: {', '.join(unknown)} not in experiment.settings (known: {', '.join(known)})")
    return [n for n in known if names is None or n in names]


def run_sweep(recipe: Recipe, exp: Path, *, arms: list[str] | None, seeds: list[int] | None,
              results: str | Path | None, settings: list[str] | None = None, log: Any = print) -> dict:
    """Every setting's grid in EXP/settings/NAME (one after another; each uses every worker)."""
    names = chosen_settings(recipe, settings)
    exp.mkdir(parents=True, exist_ok=True)
    atomic_write_text(exp / "experiment.yaml", dump_recipe(recipe))
    if results is not None:
        Path(results).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(results) / "experiment.yaml", dump_recipe(recipe))
    done: list[str] = []
    failed: dict[str, str] = {}
    for st in (s for s in recipe.experiment.settings if s.name in names):
        log(f"[experiment] setting {st.name}: {' '.join(st.overrides) or '(no overrides)'}")
        sub_results = Path(results) / "settings" / st.name if results is not None else None
        try:
            out = run_experiment(setting_recipe(recipe, st.name), exp / "settings" / st.name, arms=arms, seeds=seeds,
                                 results=sub_results, log=_tagged(log, st.name))
            done += [f"{st.name}/{j}" for j in out["done"]]
        except UserError as exc:  # the next setting still runs
            failed[st.name] = str(exc)
    if failed:
        raise UserError("; ".join(f"setting {k}: {v}" for k, v in failed.items()))
    return {"done": done, "failed": failed}


def run_experiment(recipe: Recipe, exp_dir: str | Path, *, arms: list[str] | None = None,
                   seeds: list[int] | None = None, results: str | Path | None = None,
                   settings: list[str] | None = None, log: Any = print) -> dict:
    """Run (or resume) the grid; returns {'done': [...], 'failed': {job: reason}, 'seconds': ...}.
    `settings` picks settings of a sweep; a recipe without `experiment.settings` refuses it."""
    exp = Path(exp_dir)
    if recipe.experiment.settings:
        return run_sweep(recipe, exp, arms=arms, seeds=seeds, results=results, settings=settings, log=log)
    if settings:
        raise UserError("--settings: this recipe has no experiment.settings (it is not a sweep)")
    exp.mkdir(parents=True, exist_ok=True)
    chosen = resolve_arms(recipe, arms)
    seed_list = seeds if seeds is not None else list(recipe.experiment.seeds)
    with run_lock(exp, log=log):
        _check_same_experiment(exp, recipe)
        if results is not None:
            _check_same_experiment(Path(results), recipe, "--results")
        _save_experiment(exp, recipe, chosen, seed_list)
        from seethink.training.pipeline import resolve_base
        from seethink.utils import pin_threads

        base = resolve_base(recipe, log=log)
        jobs = plan_jobs(recipe, chosen, seed_list, exp)
        workers = worker_count(recipe, sum(not _done(exp, j) for j in jobs))
        pin_threads(recipe.threads or (1 if workers > 1 else None))
        t0 = time.time()
        log(f"[experiment] {len(chosen)} arm(s) x {len(seed_list)} seed(s) -> {exp}; {workers} worker(s); "
            f"{sum(_done(exp, j) for j in jobs)} of {len(jobs)} units already done")
        failed = _schedule(recipe, jobs, chosen, base, exp, workers, results, log)
    for name, why in failed.items():
        log(f"[experiment] {name} failed: {why}")
    out = {"done": [j.name for j in jobs if _done(exp, j)], "failed": failed, "seconds": time.time() - t0}
    if failed:
        raise UserError(f"{len(failed)} of {len(jobs)} unit(s) failed ({'; '.join(f'{k}: {v}' for k, v in failed.items())}); "
                        f"the others are kept; logs in {exp / 'logs'}; run the same command again to resume")
    return out


def _export(exp: Path, results: str | Path | None, job: Job) -> None:
    if results is None:
        return
    dest = Path(results)
    import shutil

    if job.kind == "passk":
        export_small(exp, dest, exp / "passk" / f"seed-{job.seed}")
    else:
        export_small(exp, dest, unit_dir(exp, job.arm.name if job.arm else "base", job.seed))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(exp / "experiment.yaml", dest / "experiment.yaml")  # it lists every arm and seed run so far


def _schedule(recipe: Recipe, jobs: list[Job], arms: list[Arm], base: Path, exp: Path, workers: int,
              results: str | Path | None, log: Any) -> dict[str, str]:
    """Run the jobs, at most `workers` at once, each when its inputs are done; failures by job."""
    pending = [j for j in jobs if not _done(exp, j)]
    for j in jobs:
        if _done(exp, j):
            _export(exp, results, j)
    failed: dict[str, str] = {}
    if workers <= 1:
        for j in pending:
            if any(n in failed for n in j.needs):
                failed[j.name] = f"needs {', '.join(n for n in j.needs if n in failed)}, which failed"
                continue
            log(f"[experiment] {j.name}: starting")
            try:
                do_job(recipe, j, arms, base, exp, log=_tagged(log, j.name))
            except Exception as exc:  # noqa: BLE001 - a failed unit must not stop the others
                failed[j.name] = _reason(exc)
                continue
            _export(exp, results, j)
            log(_progress(exp, jobs, {}, time.time()))
        return failed
    return _schedule_processes(recipe, pending, jobs, arms, base, exp, workers, results, log, failed)


def _tagged(log: Any, name: str) -> Any:
    def out(line: str) -> None:
        log("\n".join(f"[{name}] {x}" if x.strip("= ") else x for x in str(line).splitlines()))

    return out


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"


def _schedule_processes(recipe: Recipe, pending: list[Job], jobs: list[Job], arms: list[Arm], base: Path,
                        exp: Path, workers: int, results: str | Path | None, log: Any,
                        failed: dict[str, str]) -> dict[str, str]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    inbox = ctx.Queue()
    (exp / "logs").mkdir(parents=True, exist_ok=True)
    running: dict[str, Any] = {}
    started = time.time()
    start_steps = steps_so_far(exp, jobs)
    next_progress = started + PROGRESS_EVERY
    waiting = list(pending)
    try:
        while waiting or running:
            for j in list(waiting):
                if any(n in failed for n in j.needs):
                    failed[j.name] = f"needs {', '.join(n for n in j.needs if n in failed)}, which failed"
                    waiting.remove(j)
                elif len(running) < workers and all(_done(exp, next(x for x in jobs if x.name == n))
                                                    for n in j.needs):
                    waiting.remove(j)
                    log_file = exp / "logs" / (j.name.replace("/", "_") + ".log")
                    p = ctx.Process(target=_worker, args=(recipe, j, arms, base, exp, log_file, os.getpid(), inbox),
                                    name=f"seethink-{j.name}")
                    p.start()
                    running[j.name] = (j, p)
                    log(f"[experiment] {j.name}: started (log: {log_file})")
            if not running and waiting:  # everything left waits on a unit that will never finish
                for j in waiting:
                    failed[j.name] = "its inputs never finished"
                break
            _drain(inbox, running, failed, exp, results, log, timeout=1.0)
            if time.time() >= next_progress:
                log(_progress(exp, jobs, running, started, start_steps))
                next_progress = time.time() + PROGRESS_EVERY
    finally:
        for _j, p in running.values():  # Ctrl-C or an error here: stop the workers
            if p.is_alive():
                p.terminate()
            p.join(timeout=30)
    log(_progress(exp, jobs, {}, started, start_steps))
    return failed


def _drain(inbox: Any, running: dict[str, Any], failed: dict[str, str], exp: Path,
           results: str | Path | None, log: Any, timeout: float) -> None:
    try:
        msg = inbox.get(timeout=timeout)
    except queue.Empty:
        msg = None
    if msg is not None:
        kind, name, payload = msg
        if kind == "log":
            log("\n".join(f"[{name}] {x}" if x.strip("= ") else x for x in str(payload).splitlines()))
        elif kind in ("done", "error") and name in running:
            j, p = running.pop(name)
            p.join(timeout=60)
            if kind == "error":
                failed[name] = payload
            else:
                _export(exp, results, j)
                log(f"[experiment] {name}: done")
    for name, (j, p) in list(running.items()):  # died without a word (killed, out of memory)
        if not p.is_alive() and inbox.empty():
            p.join()
            running.pop(name)
            if _done(exp, j):
                _export(exp, results, j)
            else:
                failed[name] = f"the worker process died (exit code {p.exitcode}); see {exp / 'logs'}"


def _progress(exp: Path, jobs: list[Job], running: dict[str, Any], started: float, start_steps: int = 0) -> str:
    """'[progress] 4/28 units done, 2100/9000 training steps, 2 running (...), ETA ~2h10m'."""
    done = sum(_done(exp, j) for j in jobs)
    total_steps = sum(j.steps for j in jobs) or 1
    now_steps = steps_so_far(exp, jobs)
    parts = [f"{name} {_steps_done(exp, j)}/{j.steps} steps" for name, (j, _p) in running.items() if j.steps]
    eta = ""
    elapsed = time.time() - started
    fresh = now_steps - start_steps  # steps finished before this command started are not speed
    if fresh > 0 and now_steps < total_steps and elapsed > 60:
        secs = (total_steps - now_steps) * elapsed / fresh
        eta = f", ETA ~{int(secs // 3600)}h{int(secs % 3600 // 60):02d}m"
    run = f", {len(running)} running ({'; '.join(parts)})" if parts else ""
    return f"[progress] {done}/{len(jobs)} units done, {now_steps}/{total_steps} training steps{run}{eta}"


def steps_so_far(exp: Path, jobs: list[Job]) -> int:
    return sum(_steps_done(exp, j) for j in jobs)


def _steps_done(exp: Path, j: Job) -> int:
    """Optimizer steps a unit has logged (all of them once it is finished)."""
    from seethink.utils import read_appended_jsonl

    if _done(exp, j):
        return j.steps
    path = unit_dir(exp, j.arm.name, j.seed) / "metrics.jsonl" if j.arm else None
    if path is None or not path.is_file():
        return 0
    last: dict[str, int] = {}
    for r in read_appended_jsonl(path):
        last[str(r.get("stage"))] = max(last.get(str(r.get("stage")), 0), int(r.get("step", 0)))
    return min(j.steps, sum(last.values()))


def _worker(recipe: Recipe, job: Job, arms: list[Arm], base: Path, exp: Path, log_file: Path, parent: int,
            outbox: Any) -> None:
    """One unit in its own process: output to its log file, log lines and the outcome to the parent."""
    from seethink.training.parallel import exit_with_parent

    exit_with_parent(parent)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from seethink.utils import pin_threads

    pin_threads(recipe.threads or 1)

    def log(line: str) -> None:
        print(line, flush=True)
        outbox.put(("log", job.name, str(line)))

    try:
        do_job(recipe, job, arms, base, exp, log=log)
        outbox.put(("done", job.name, ""))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        traceback.print_exc()
        outbox.put(("error", job.name, _reason(exc)))


