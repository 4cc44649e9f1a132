"""Resume everywhere: kill a run at random points (SIGKILL), re-run it, get the uninterrupted result.

Also: the run-directory lock (a second process is refused, a crashed holder's lock is taken
over), the checkpoint and log bookkeeping behind mid-stage resume, and evaluation resume.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.runlock import LOCK_NAME, RunLock, holder_alive
from seethink.training.resume import checkpoint_step, drop_metrics_after, last_checkpoint
from seethink.utils import atomic_dir, read_appended_jsonl

# Smaller than the smoke preset: two stages of 4 GRPO steps (two epochs each, so resuming
# crosses an epoch boundary), a checkpoint every step, a length reward so every step moves
# the weights (the tiny base earns no accuracy reward, which would make every update zero).
RECIPE = """\
name: resume-test
threads: 1
parallel: 1  # the kills aim at one process; tests/training/test_parallel.py covers parallel runs
warmstart: {vision_steps: 4, vision_batch: 4, sft_steps: 6, sft2_steps: 4, items_per_capability: 12, sft_batch: 4}
trainer: {max_steps: 4, batch_size: 2, group_size: 2, learning_rate: 1.0e-3, max_completion_length: 12,
          temperature: 1.0, save_steps: 1}
reward: {extra: ["REWARD_FILE:length"], extra_weights: [1.0]}
stages:
  - {name: perception, tasks: [toy_perception], items_per_task: 4}
  - {name: text, tasks: [toy_text], items_per_task: 4}
eval: {items_per_capability: 4, max_new_tokens: 10, batch_size: 4}
"""
REWARD = """\
def length(completion, item):
    text = completion if isinstance(completion, str) else completion[-1]["content"]
    return {"overall": len(text) / 50}
"""


def _write_recipe(tmp: Path) -> Path:
    (tmp / "length_reward.py").write_text(REWARD)
    recipe = tmp / "recipe.yaml"
    recipe.write_text(RECIPE.replace("REWARD_FILE", str(tmp / "length_reward.py")))
    return recipe


# Importing torch, transformers and TRL costs ~5 s of CPU per process, more than a tiny run
# segment. So one "zygote" process imports them once and forks a child per attempt; each
# child runs `seethink run RECIPE --out DIR` (the CLI's main) with its output in a log file,
# in its own session, and is SIGKILLed like any process.
ZYGOTE = r"""
import json, os, sys, traceback
import torch, transformers, trl
from trl import GRPOTrainer, SFTTrainer
import seethink.cli, seethink.eval.run, seethink.training.pipeline, seethink.training.stage
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    if "poll" in req:
        pid, status = os.waitpid(req["poll"], 0 if req.get("block") else os.WNOHANG)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status) if pid else None}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(req["env"])
        sys.argv = ["seethink", *req["args"]]
        code = 0
        try:
            seethink.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
"""


def _env(cache: Path | None = None) -> dict[str, str]:
    env = {"OMP_NUM_THREADS": "1", "SEETHINK_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if cache is not None:
        env["SEETHINK_CACHE"] = str(cache)
    return env


class Zygote:
    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
        self.proc = subprocess.Popen([sys.executable, "-u", "-c", ZYGOTE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env={**env, **_env()}, text=True)
        assert self.ask(None) == {"ready": True}

    def ask(self, req: dict | None) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if req is not None:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Run:
    """`seethink run RECIPE --out OUT` in a child process, its output in a log file."""

    def __init__(self, zygote: Zygote, recipe: Path, out: Path, cache: Path) -> None:
        self.zygote = zygote
        self.log = out.with_name(out.name + f".{time.monotonic_ns()}.log")
        self.pid = zygote.ask({"args": ["run", str(recipe), "--out", str(out)], "log": str(self.log),
                               "env": _env(cache)})["pid"]
        self.rc: int | None = None

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def running(self) -> bool:
        if self.rc is None:
            self.rc = self.zygote.ask({"poll": self.pid})["rc"]
        return self.rc is None

    def kill(self) -> None:
        if self.running():
            os.killpg(self.pid, signal.SIGKILL)  # the run and anything it started
        self.wait()

    def wait(self) -> int:
        if self.rc is None:
            self.rc = self.zygote.ask({"poll": self.pid, "block": True})["rc"]
        return self.rc


def _rows(out: Path) -> list[dict]:
    return read_appended_jsonl(out / "metrics.jsonl")


def _comparable_summary(out: Path) -> dict:
    s = json.loads((out / "summary.json").read_text())
    s["meta"].pop("seconds")  # wall-clock times differ between runs
    s["meta"]["base_path"] = Path(s["meta"]["base_path"]).name  # each run has its own cache; same key
    return s


def _done_files(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}
            for p in sorted(out.glob("stages/*/*/done.json"))}


def _kill_and_resume(zygote: Zygote, recipe: Path, out: Path, cache: Path) -> list[str]:
    """SIGKILL `seethink run` at seeded random points of each phase, then let it finish; the logs."""
    # Seeded: the same kill points every time (SEETHINK_KILL_SEED=N tries other points).
    rng = random.Random(int(os.environ.get("SEETHINK_KILL_SEED", "20261125")))
    n_rows = [rng.randint(3, 5), rng.randint(3, 5)]

    def warm_start_sft(run: Run, rows0: int) -> bool:
        return "[warm start] SFT on" in run.text

    def warm_start_phase2(run: Run, rows0: int) -> bool:
        return "[warm start] SFT phase 2" in run.text

    def training(n: int):  # noqa: ANN202
        return lambda run, rows0: len(_rows(out)) >= rows0 + n  # n more steps logged in this attempt

    def evaluation(run: Run, rows0: int) -> bool:
        return "evaluating " in run.text

    # (what the kill aims at, when to start the clock, seconds after that)
    plan = [
        ("warm start (SFT)", warm_start_sft, rng.uniform(0.2, 1.0)),
        ("warm start (SFT phase 2)", warm_start_phase2, rng.uniform(0.1, 0.6)),
        ("training", training(n_rows[0]), rng.uniform(0.0, 0.3)),
        ("training", training(n_rows[1]), rng.uniform(0.0, 0.3)),
        ("evaluation / report", evaluation, rng.uniform(0.3, 2.5)),
    ]
    logs: list[str] = []
    for aim, trigger, delay in plan:
        run = Run(zygote, recipe, out, cache)
        started = time.time()
        rows0 = len(_rows(out))
        while run.running() and not trigger(run, rows0):
            time.sleep(0.05)
        deadline = time.time() + delay
        while run.running() and time.time() < deadline:
            time.sleep(0.02)
        if not run.running():  # it got to the end before the kill
            assert run.rc == 0, run.text[-3000:]
            return [*logs, run.text]
        run.kill()
        logs.append(run.text)
        print(f"killed while aiming at {aim} after {time.time() - started:.1f}s; {len(_rows(out))} metrics rows")
    last = Run(zygote, recipe, out, cache)
    assert last.wait() == 0, last.text[-3000:]
    return [*logs, last.text]


@pytest.mark.slow
def test_kill_at_random_points_and_resume_matches_uninterrupted_run(tmp_path: Path):
    recipe = _write_recipe(tmp_path)
    ref_out, out = tmp_path / "ref", tmp_path / "killed"
    zygote = Zygote()
    try:
        # The uninterrupted run goes on beside the killed ones (one thread each), in its own cache.
        reference = Run(zygote, recipe, ref_out, tmp_path / "cache-ref")
        logs = _kill_and_resume(zygote, recipe, out, tmp_path / "cache")
        assert reference.wait() == 0, reference.text[-3000:]
    finally:
        zygote.close()
    text, last = "\n".join(logs), logs[-1]

    # The kills really interrupted the warm start and a stage, and the re-runs resumed them.
    assert "[warm start] resuming the build" in text
    assert "resuming from" in text and "/trainer/checkpoint-" in text
    assert "taking over its stale lock" in text
    assert "already trained, skipping" in last

    # Same numbers as the uninterrupted run: summary (timings aside), every log row, every stage record.
    assert _comparable_summary(out) == _comparable_summary(ref_out)
    rows, ref_rows = _rows(out), _rows(ref_out)
    assert rows == ref_rows
    for variant, stage, n in (("staged", "perception", 4), ("staged", "text", 4), ("merged", "merged", 8)):
        steps = [r["step"] for r in rows if (r["variant"], r["stage"]) == (variant, stage)]
        assert steps == list(range(1, n + 1)), (variant, stage, steps)  # no gap, no duplicate
    assert _done_files(out) == _done_files(ref_out)
    for model in ("base", "staged", "merged"):
        assert (out / "eval" / model / "predictions.jsonl").read_text() == \
            (ref_out / "eval" / model / "predictions.jsonl").read_text()

    # Nothing half-done is left behind.
    assert (out / "report.md").is_file() and not (out / LOCK_NAME).exists()
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.name in ("trainer", "responses.partial.jsonl")]
    assert leftovers == []
    assert [p.name for p in (tmp_path / "cache" / "toy").iterdir()] == [Path(json.loads(
        (out / "summary.json").read_text())["meta"]["base_path"]).name]


# ---------------------------------------------------------------------- the lock


def test_second_process_on_the_same_run_directory_is_refused(tmp_path: Path):
    recipe = _write_recipe(tmp_path)
    run_dir = tmp_path / "run"
    with RunLock(run_dir / LOCK_NAME):
        other = subprocess.run([sys.executable, "-m", "seethink.cli", "run", str(recipe), "--out", str(run_dir)],
                               capture_output=True, text=True, env={**os.environ, **_env(tmp_path / "cache")},
                               timeout=120)
    assert other.returncode == 2, other.stderr
    assert f"is in use by pid {os.getpid()}" in other.stderr
    assert not (run_dir / LOCK_NAME).exists()  # released on exit
    assert not (run_dir / "config.yaml").exists()  # the refused process wrote nothing


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_lock_of_a_crashed_holder_is_taken_over(tmp_path: Path):
    lock = tmp_path / LOCK_NAME
    dead = _dead_pid()
    lock.write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "started": "earlier"}))
    said: list[str] = []
    with RunLock(lock, log=said.append):
        held = json.loads(lock.read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
        with pytest.raises(UserError, match=f"in use by pid {os.getpid()}"):
            RunLock(lock).acquire()  # a second holder, even in the same process
    assert len(said) == 1 and f"pid {dead}" in said[0] and "stale" in said[0]
    assert not lock.exists()


def test_without_flock_the_pid_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """File systems without flock: a live holder on this host blocks, a dead one is stale."""
    monkeypatch.setattr(RunLock, "_flock", staticmethod(lambda fd: None))
    lock = tmp_path / LOCK_NAME
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        info = {"pid": sleeper.pid, "host": socket.gethostname(), "started": "now"}
        lock.write_text(json.dumps(info))
        assert holder_alive(info) is True
        with pytest.raises(UserError, match=f"in use by pid {sleeper.pid}"):
            RunLock(lock).acquire()
        assert holder_alive({**info, "host": "another-machine"}) is None
        with pytest.raises(UserError, match="another-machine"):
            lock.write_text(json.dumps({**info, "host": "another-machine"}))
            RunLock(lock).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
    assert holder_alive(json.loads(lock.read_text())) is False
    said: list[str] = []
    with RunLock(lock, log=said.append):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert "stale" in said[0]


def test_only_the_main_process_takes_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RANK", "1")
    with RunLock(tmp_path / LOCK_NAME):
        assert not (tmp_path / LOCK_NAME).exists()


# ---------------------------------------------------------------------- bookkeeping


def _checkpoint(root: Path, step: int, complete: bool = True) -> Path:
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_text("weights")
    if complete:  # transformers writes trainer_state.json last
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return d


def test_resume_picks_the_newest_complete_checkpoint(tmp_path: Path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4)
    _checkpoint(tmp_path, 6, complete=False)  # killed while saving
    (tmp_path / "checkpoint-8").mkdir()
    ckpt = last_checkpoint(tmp_path)
    assert ckpt is not None and checkpoint_step(ckpt) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4"]
    assert last_checkpoint(tmp_path / "none") is None


def test_log_rows_after_the_checkpoint_are_dropped(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"variant": "staged", "stage": "a", "step": s} for s in (1, 2)]
    rows += [{"variant": "staged", "stage": "b", "step": s} for s in (1, 2, 3, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"variant": "staged", "sta')  # torn append
    assert drop_metrics_after(path, "staged", "b", 2) == 2
    assert [(r["stage"], r["step"]) for r in read_appended_jsonl(path)] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert path.read_text().endswith("\n")
    drop_metrics_after(path, "staged", "b", 0)
    assert [r["stage"] for r in read_appended_jsonl(path)] == ["a", "a"]
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(UserError, match="row 2"):
        read_appended_jsonl(path)


def test_atomic_dir_replaces_only_when_complete(tmp_path: Path):
    target = tmp_path / "checkpoint"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "first"
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert [p.name for p in target.iterdir()] == ["b.txt"]


@pytest.fixture
def one_thread():  # noqa: ANN201
    """Tiny models on a busy 2-core machine: one torch thread is several times faster than two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_interrupted_evaluation_continues_where_it_stopped(tiny_model_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, one_thread: None):
    import seethink.toyworld.evaluate as toy
    from seethink.config import load_recipe
    from seethink.eval.run import evaluate_checkpoint
    from seethink.toyworld import generate_items

    recipe = load_recipe(None, ["eval.batch_size=2", "eval.max_new_tokens=6"])
    items = generate_items("perception", 4, "test", seed=5) + generate_items("text", 2, "test", seed=5)
    real = toy.generate
    generated: list[int] = []

    class Killed(Exception):
        pass

    def counting(*args, die_after: int | None = None, **kw):  # noqa: ANN202
        save = kw.pop("on_batch")

        def on_batch(idx, outs):  # noqa: ANN001, ANN202
            save(idx, outs)
            generated.append(len(idx))
            if die_after is not None and len(generated) == die_after:
                raise Killed

        return real(*args, on_batch=on_batch, **kw)

    monkeypatch.setattr(toy, "generate", counting)
    fresh = evaluate_checkpoint(tiny_model_dir, items, recipe, tmp_path / "fresh", log=lambda *a: None)
    batches = len(generated)
    assert batches == 3 + 2 + 2  # real (6 items), blank and shuffled (4 image items), 2 per batch
    generated.clear()
    monkeypatch.setattr(toy, "generate", lambda *a, **k: counting(*a, die_after=4, **k))
    with pytest.raises(Killed):
        evaluate_checkpoint(tiny_model_dir, items, recipe, tmp_path / "resumed", log=lambda *a: None)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    generated.clear()
    monkeypatch.setattr(toy, "generate", counting)
    said: list[str] = []
    resumed = evaluate_checkpoint(tiny_model_dir, items, recipe, tmp_path / "resumed", log=said.append)
    assert len(generated) == batches - 4 and "continuing an interrupted evaluation" in said[0]
    assert resumed == fresh
    assert (tmp_path / "resumed" / "predictions.jsonl").read_text() == \
        (tmp_path / "fresh" / "predictions.jsonl").read_text()
    assert not (tmp_path / "resumed" / "responses.partial.jsonl").exists()


def test_atomic_file_clears_a_killed_writers_temp_file(tmp_path: Path):
    from seethink.utils import atomic_file

    stale = tmp_path / ".accuracy.999999.tmp.png"
    stale.write_bytes(b"half a png")
    with atomic_file(tmp_path / "accuracy.png") as tmp:
        tmp.write_bytes(b"png")
    assert (tmp_path / "accuracy.png").read_bytes() == b"png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png"]
