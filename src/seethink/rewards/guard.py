"""Running reward functions so that none of them can crash or stall a training run.

A reward function that raises scores 0 for that completion and is counted; one that runs
past the time limit is cut off, scores 0 and is counted. The counts are reported in
`metrics.jsonl` and at the end of each stage (`RewardFaults`).

Our own rewards (accuracy, format) are bounded by construction and run in-process under
a try/except. User rewards (`path/file.py:fn`, or functions registered from outside the
`seethink` package) run in one long-lived worker process. A thread cannot stop a Python
loop that never returns, and math-verify's signal-based limits only work on a main thread;
a process can be killed, and inside it the user's function runs on the main thread. The
parent sends one completion at a time, the worker answers once per function, and the
parent waits at most `timeout_s` for each answer. On a timeout the worker is killed (a
fresh one starts on the next call); if it dies, the function it was running is counted as
an error. User code is imported only in the worker, from the path the user named.

The round trip costs tens of microseconds per completion (`benchmarks/reward_guard_overhead.py`),
far below the cost of generating the completion.
"""

from __future__ import annotations

import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.rewards.sandbox import start_worker

# How long a fresh worker may take to import the user's reward files.
START_LIMIT_S = 120.0
_ENTRY = "from seethink.rewards.guard import main; main()"
MAX_MESSAGE = 300


@dataclass
class FaultCount:
    errors: int = 0
    timeouts: int = 0
    first_error: str = ""


@dataclass
class RewardFaults:
    """Per reward function: calls that raised (or returned a non-number) and calls cut off."""

    timeout_s: float = 5.0
    by_name: dict[str, FaultCount] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        c = self.by_name.setdefault(name, FaultCount())
        c.errors += 1
        if not c.first_error:
            c.first_error = message[:MAX_MESSAGE]

    def timeout(self, name: str) -> None:
        self.by_name.setdefault(name, FaultCount()).timeouts += 1

    def totals(self) -> dict[str, int]:
        return {
            "reward_errors": sum(c.errors for c in self.by_name.values()),
            "reward_timeouts": sum(c.timeouts for c in self.by_name.values()),
        }

    def summary(self) -> str:
        """One line per faulty reward, '' when there were none."""
        lines = []
        for name, c in sorted(self.by_name.items()):
            parts = []
            if c.errors:
                parts.append(f"{c.errors} raised (scored 0; first: {c.first_error})")
            if c.timeouts:
                parts.append(f"{c.timeouts} ran past {self.timeout_s:g} s (cut off, scored 0)")
            if parts:
                lines.append(f"reward '{name}': " + "; ".join(parts))
        return "\n".join(lines)


def score_value(out: Any) -> float:
    """A reward function's result as a finite float: a number, or a dict with 'overall'."""
    value: Any = out.get("overall") if isinstance(out, dict) else out
    if not isinstance(value, (int, float)):  # bools are ints: True scores 1
        item = getattr(value, "item", None)  # numpy / torch scalars
        if callable(item):
            value = item()
        if not isinstance(value, (int, float)):
            shape = "a dict without a numeric 'overall'" if isinstance(out, dict) else type(out).__name__
            raise TypeError(f"returned {shape}; expected a number or a dict with 'overall'")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"returned {value}")
    return value


def is_trusted(fn: Any) -> bool:
    """Functions of the seethink package itself run in-process; anything else runs in the worker."""
    module = getattr(fn, "__module__", "") or ""
    return module == "seethink" or module.startswith("seethink.")


# ---------------------------------------------------------------- the worker process


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone, even if the main thread is stuck in user code."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _load(name: str, kind: str, payload: Any) -> Callable[..., Any]:
    if kind == "file":
        from seethink.registry import load_user_object

        fn = load_user_object(payload)
    else:
        fn = pickle.loads(payload)
    if not callable(fn):
        raise UserError(f"reward {name!r} is not a function")
    return fn  # type: ignore[no-any-return]


def _serve(conn: Any, parent_pid: int) -> None:
    """Load the user rewards, then answer ("score", start, text, item) requests until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    specs: list[tuple[str, str, Any]] = conn.recv()
    fns = []
    for name, kind, payload in specs:
        try:
            fns.append(_load(name, kind, payload))
        except UserError as exc:
            conn.send(("load_error", str(exc)))
            return
        except BaseException as exc:
            conn.send(("load_error", f"reward {name!r}: loading it failed: {type(exc).__name__}: {exc}"))
            return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "score":
            return
        _, start, text, item = msg
        for i in range(start, len(fns)):
            try:
                reply = (i, True, score_value(fns[i](text, item)), "")
            except BaseException as exc:  # SystemExit from user code is a fault too
                reply = (i, False, 0.0, f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE])
            conn.send(reply)


def _stop(proc: subprocess.Popen, conn: Connection) -> None:
    try:
        conn.close()
    except OSError:
        pass
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


class _Worker:
    """One worker process and its socket; killed and forgotten on a timeout or a crash.

    Started as a fresh `python -c` process rather than through multiprocessing,
    whose spawn method re-imports the caller's main script (a script without a
    `__main__` guard would start training again inside the worker).
    """

    def __init__(self, specs: list[tuple[str, str, Any]]) -> None:
        self.proc, self.conn = start_worker(_ENTRY)
        self._finalizer = weakref.finalize(self, _stop, self.proc, self.conn)
        self.conn.send(specs)
        if not self.conn.poll(START_LIMIT_S):
            self.kill()
            raise UserError(f"the reward worker did not start within {START_LIMIT_S:g} s "
                            "(does importing a reward file hang?)")
        try:
            kind, message = self.conn.recv()
        except (EOFError, OSError):
            code = self.kill()
            raise UserError(f"the reward worker exited while loading the reward files (exit code {code})") from None
        if kind != "ready":
            self.kill()
            raise UserError(message)

    def kill(self) -> int | None:
        self._finalizer()
        return self.proc.returncode


# ---------------------------------------------------------------- the parent side


class GuardedRewards:
    """Reward functions `fn(text, item)` called with a time limit; faults scored 0 and counted.

    `entries` are (log name, function, file spec or None). Trusted functions (seethink's own)
    run in-process; the others run in the worker process, started now so that a bad reward
    file is reported before training begins.
    """

    def __init__(self, entries: list[tuple[str, Callable[..., Any] | None, str | None]], timeout_s: float,
                 faults: RewardFaults | None = None) -> None:
        if not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise UserError(f"config key 'reward.timeout_s': must be a positive number of seconds, got {timeout_s}")
        self.timeout_s = timeout_s
        self.faults = faults or RewardFaults(timeout_s=timeout_s)
        self.names = [name for name, _, _ in entries]
        self._local: dict[int, Callable[..., Any]] = {}
        self._remote: list[int] = []  # positions of worker-run functions, in worker order
        self._specs: list[tuple[str, str, Any]] = []
        for pos, (name, fn, file_spec) in enumerate(entries):
            if file_spec is not None:
                self._specs.append((name, "file", _absolute_spec(file_spec)))
            elif fn is not None and is_trusted(fn):
                self._local[pos] = fn
                continue
            else:
                try:
                    payload = pickle.dumps(fn)
                except Exception as exc:
                    raise UserError(
                        f"reward {name!r} cannot run in the reward worker ({type(exc).__name__}: {exc}); define "
                        "it at the top level of a file and name it as path/to/file.py:function") from None
                self._specs.append((name, "pickle", payload))
            self._remote.append(pos)
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        if self._specs:
            self._worker = _Worker(self._specs)

    def __call__(self, text: str, item: dict) -> list[float]:
        out = [0.0] * len(self.names)
        for pos, fn in self._local.items():
            try:
                out[pos] = score_value(fn(text, item))
            except Exception as exc:
                self.faults.error(self.names[pos], f"{type(exc).__name__}: {exc}")
        if self._remote:
            with self._lock:
                for k, value in enumerate(self._call_worker(text, item)):
                    out[self._remote[k]] = value
        return out

    def _call_worker(self, text: str, item: dict) -> list[float]:
        n = len(self._remote)
        values = [0.0] * n
        i = 0
        while i < n:
            if self._worker is None:
                self._worker = _Worker(self._specs)
            conn = self._worker.conn
            try:
                conn.send(("score", i, text, item))
            except (OSError, ValueError, pickle.PicklingError) as exc:
                self._fault_and_reset(i, f"could not hand the completion to the reward worker: {exc}")
                i += 1
                continue
            while i < n:
                if not conn.poll(self.timeout_s):
                    self.faults.timeout(self._name(i))
                    self._reset()
                    i += 1
                    break
                try:
                    idx, ok, value, message = conn.recv()
                except (EOFError, OSError):
                    code = self._reset()
                    self.faults.error(self._name(i), f"the reward worker died while running it (exit code {code})")
                    i += 1
                    break
                if ok:
                    values[idx] = value
                else:
                    self.faults.error(self._name(idx), message)
                i = idx + 1
        return values

    def _name(self, k: int) -> str:
        return self.names[self._remote[k]]

    def _fault_and_reset(self, k: int, message: str) -> None:
        self.faults.error(self._name(k), message)
        self._reset()

    def _reset(self) -> int | None:
        worker, self._worker = self._worker, None
        return worker.kill() if worker is not None else None

    def close(self) -> None:
        with self._lock:
            self._reset()


def _absolute_spec(spec: str) -> str:
    """`path/file.py:fn` with the path made absolute here, so the worker loads the very same file."""
    path_s, _, attr = spec.rpartition(":")
    path = Path(path_s).expanduser()
    if not path.is_file():
        raise UserError(f"user code file not found: {path_s} (from {spec!r})")
    return f"{path.resolve()}:{attr}"


def main() -> None:
    """Worker entry point; argv: the socket's file descriptor and the parent's pid."""
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
