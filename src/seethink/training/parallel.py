"""Variants side by side: each group of variants trains and evaluates in its own process.

Why: a tiny model keeps one CPU core busy far better than two. On 2 cores, two one-thread
processes (staged and merged) finished the quick recipe (then called gentle) in 36 minutes against 56 for one
two-thread process doing both (README, Performance). The variants share nothing but the
base (read-only) and `metrics.jsonl` (appended under a lock), so they need no coordination.

The parent holds the run lock, starts the workers (`spawn`: a fresh interpreter, no forked
torch state), relays their log lines with a `[variant]` prefix, prints the training steps
done every `PROGRESS_EVERY` seconds (while they change), and collects each worker's results. A worker's full
output, progress bars included, is in `logs/<worker>.log` of the run directory. A worker
that fails does not stop the others (what they finish is kept); its error is raised once
all are done, so the command's exit code and one-line reason are as without `parallel`.
A worker whose parent dies stops within a second (nothing is left writing to the run).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from seethink import dist
from seethink.config import Recipe
from seethink.errors import UserError
from seethink.training.variants import evaluate_models, train_variant

PROGRESS_EVERY = 30.0


def worker_count(recipe: Recipe, n_variants: int) -> int:
    """How many processes train the variants (1 = in this process, one after another)."""
    if n_variants < 2 or dist.world_size() > 1:  # a launcher already splits the work
        return 1
    if recipe.parallel:
        return min(recipe.parallel, n_variants)
    import torch

    if torch.cuda.is_available():  # one GPU per job is the launcher's business
        return 1
    per = recipe.threads or 1
    return max(1, min(n_variants, (os.cpu_count() or 1) // per))


def assign(variants: list[str], models: dict[str, Path], workers: int) -> list[dict[str, Any]]:
    """Split variants round-robin over workers, each evaluating its variants' models; the base's
    evaluation goes to the worker with the fewest (the last of those on a tie)."""
    groups: list[dict[str, Any]] = [{"variants": [], "models": {}} for _ in range(workers)]
    for i, v in enumerate(variants):
        groups[i % workers]["variants"].append(v)
    for g in groups:
        g["models"] = {n: p for n, p in models.items() if n != "base" and n.split("@")[0] in g["variants"]}
    lightest = min(reversed(range(workers)), key=lambda i: len(groups[i]["models"]))
    groups[lightest]["models"] = {"base": models["base"], **groups[lightest]["models"]}
    for g in groups:
        g["name"] = "+".join(g["variants"])
    return [g for g in groups if g["variants"]]


@dataclasses.dataclass
class _Reports:
    """What the workers have sent back so far, by worker name."""

    results: dict[str, dict] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    errors: dict[str, BaseException] = dataclasses.field(default_factory=dict)
    finished: set[str] = dataclasses.field(default_factory=set)


def run_variants_in_parallel(recipe: Recipe, plans: dict[str, list], models: dict[str, Path], out: Path,
                             workers: int, log: Any = print) -> tuple[dict[str, dict], dict[str, float]]:
    """Train and evaluate every variant in `workers` processes; (results by model, seconds)."""
    import multiprocessing as mp

    groups = assign(list(plans), models, workers)
    threads = recipe.threads or max(1, min(2, (os.cpu_count() or 1) // len(groups)))
    (out / "logs").mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    inbox = ctx.Queue()
    procs = {}
    for g in groups:
        job = {
            "name": g["name"], "recipe": recipe, "plans": {v: plans[v] for v in g["variants"]},
            "base": models["base"], "models": g["models"], "out": out, "threads": threads,
            "log_file": out / "logs" / f"{g['name']}.log", "parent": os.getpid(),
        }
        procs[g["name"]] = ctx.Process(target=_worker, args=(job, inbox), name=f"seethink-{g['name']}")
    log(f"[parallel] {len(groups)} processes x {threads} torch thread(s): "
        + "; ".join(f"{g['name']} (evaluates {', '.join(g['models'])})" for g in groups)
        + f"; full logs in {out / 'logs'}")
    reports = _Reports()
    try:
        for p in procs.values():
            p.start()
        _relay(inbox, procs, reports, out, plans, log)
    finally:
        _stop_workers(procs, interrupted=len(reports.finished) < len(procs))  # Ctrl-C, or an error in _relay
    for name, exc in reports.errors.items():
        log(f"[{name}] failed: {exc}")
    if reports.errors:
        raise next(iter(reports.errors.values()))
    return reports.results, reports.timings


def _relay(inbox: Any, procs: dict[str, Any], reports: _Reports, out: Path, plans: dict[str, list],
           log: Any) -> None:
    """Pass the workers' messages on until every worker has finished, failed or died, with a
    progress line every PROGRESS_EVERY seconds while training advances."""
    next_progress, shown = time.time() + PROGRESS_EVERY, ""
    while len(reports.finished) < len(procs):
        try:
            msg = inbox.get(timeout=1.0)
        except queue.Empty:
            msg = None
        if msg is not None:
            _take_message(msg, reports, log)
        for name, p in procs.items():  # died without a word (killed, out of memory)
            if name not in reports.finished and not p.is_alive() and inbox.empty():
                p.join()
                reports.errors[name] = RuntimeError(
                    f"the '{name}' worker process died (exit code {p.exitcode}) - see "
                    f"{out / 'logs' / (name + '.log')}; run the same command again to resume")
                reports.finished.add(name)
        if time.time() >= next_progress:
            line = progress_line(out, plans)
            if line != shown:  # silent once training is over (evaluations log their own lines)
                log(line)
                shown = line
            next_progress = time.time() + PROGRESS_EVERY


def _take_message(msg: tuple, reports: _Reports, log: Any) -> None:
    """One worker message: a log line to pass on, its results ("done"), or its failure ("error")."""
    kind, name, *rest = msg
    if kind == "log":
        for line in str(rest[0]).splitlines() or [""]:
            # Rule lines stay bare; lines the worker already tagged keep their one tag.
            tagged = not line.strip("= ") or line.startswith(f"[{name}] ")
            log(line if tagged else f"[{name}] {line}")
    elif kind == "done":
        reports.results.update(rest[0])
        reports.timings.update(rest[1])
        reports.finished.add(name)
    elif kind == "error":
        reports.errors[name] = rest[0]
        reports.finished.add(name)


def _stop_workers(procs: dict[str, Any], interrupted: bool) -> None:
    """Wait for every started worker; end them at once when the parent was interrupted."""
    for p in procs.values():
        if p.pid is None:  # never started
            continue
        if interrupted and p.is_alive():
            p.terminate()
        p.join(timeout=30)
        if p.is_alive():  # finished its work but hangs on the way out
            p.terminate()
            p.join()


def progress_line(out: Path, plans: dict[str, list]) -> str:
    """Training steps logged so far per variant: '[progress] staged 140/300 steps, merged 95/300'."""
    from seethink.utils import read_appended_jsonl

    rows = read_appended_jsonl(out / "metrics.jsonl") if (out / "metrics.jsonl").is_file() else []
    last: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (str(r.get("variant")), str(r.get("stage")))
        last[key] = max(last.get(key, 0), int(r.get("step", 0)))
    parts = []
    for variant, stages in plans.items():
        total = sum(st.trainer.max_steps for st in stages)
        done = sum(min(last.get((variant, st.name), 0), st.trainer.max_steps) for st in stages)
        parts.append(f"{variant} {done}/{total} steps")
    return "[progress] " + ", ".join(parts)


def _worker(job: dict, outbox: Any) -> None:
    """One worker process: train its variants, evaluate its models, report back to the parent."""
    exit_with_parent(job["parent"])
    name = job["name"]
    fd = os.open(job["log_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)  # progress bars and library output go to the log file, not the parent's terminal
    os.dup2(fd, 2)
    from seethink.utils import pin_threads

    pin_threads(job["threads"])

    def log(line: str) -> None:
        print(line, flush=True)
        outbox.put(("log", name, line))

    try:
        timings: dict[str, float] = {}
        for variant, stages in job["plans"].items():
            timings.update(train_variant(job["recipe"], variant, stages, job["base"], job["out"], log=log))
        results, more = evaluate_models(job["recipe"], job["models"], job["out"], log=log)
        timings.update(more)
        outbox.put(("done", name, results, timings))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        traceback.print_exc()
        outbox.put(("error", name, _portable(exc)))


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling; else one of the same kind (a UserError
    stays a UserError, so the command still exits 2 with its one-line reason)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception class with a custom constructor
        if isinstance(exc, UserError):
            return UserError(str(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def exit_with_parent(parent: int) -> None:
    """Stop this worker when the parent is gone (killed runs must not leave writers behind)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="seethink-parent-watch").start()
