"""The symbolic step of the answer check (math-verify), run in worker processes with a hard deadline.

math-verify's own time limits use SIGALRM, which only works on a main thread, and sympy can grind
for minutes (or fill the memory) on a power tower or a long sum. A thread cannot stop it; a
process can be killed. So `check(pred, gold, timeout_s)` hands the two normalised answers to a
worker process and waits at most `timeout_s` for the verdict, from any thread:

- A small pool of workers is shared by the process. A call takes an idle worker (or starts one),
  so calls from several threads run side by side, each in its own worker.
- Inside the worker the check runs on its main thread under an interval timer set a little
  short of the caller's deadline, so most slow checks are interrupted there and the worker lives
  on. When a check runs past the deadline anyway (C code that a signal cannot interrupt), the
  caller kills the worker and returns None ("out of time"); a replacement starts in the
  background at once.
- Starting a worker takes about a second (importing sympy and math-verify). The first symbolic
  check of a process waits for that within its own time limit; `warm_up()` starts one ahead of
  time. Workers start only when a symbolic check is needed: answers that are numbers, text or
  letters never start one.
- A worker's address space is capped (`SEETHINK_SANDBOX_MEMORY_MB`, default 4096) so a memory
  bomb fails inside it instead of swapping the machine; a worker exits when its parent does, and
  a forked child of the parent starts its own workers rather than sharing its parent's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from multiprocessing.connection import Connection

_ENTRY = "from seethink.rewards.sandbox import main; main()"
MAX_IDLE = 4
# The worker's own timer fires this much before the caller's deadline, leaving time to answer.
_INNER_MARGIN = 0.85
# math-verify's float comparison rounds to this many places: 12 correct places count as exact
# (`0.333333` is not 1/3; its default of 6 would say it is).
FLOAT_ROUNDING = 12


def _memory_limit_bytes() -> int:
    try:
        return int(os.environ.get("SEETHINK_SANDBOX_MEMORY_MB", "4096")) * 2**20
    except ValueError:
        return 4096 * 2**20


def start_worker(entry: str) -> tuple[subprocess.Popen, Connection]:
    """A fresh Python running `entry` with one end of a socket pair (its fd and our pid on its
    command line), importing what this process can import; the other end is returned."""
    parent_sock, child_sock = socket.socketpair()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", entry, str(child_sock.fileno()), str(os.getpid())],
            pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL, env=env,
        )
    finally:
        child_sock.close()
    return proc, Connection(parent_sock.detach())


def _stop(proc: subprocess.Popen, conn: Connection) -> None:
    try:
        conn.close()
    except OSError:
        pass
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


class _Worker:
    """One worker process (a fresh `python -c`, not multiprocessing, whose spawn re-imports the
    caller's main script) and its socket."""

    def __init__(self) -> None:
        self.proc, self.conn = start_worker(_ENTRY)
        self.ready = False
        self._finalizer = weakref.finalize(self, _stop, self.proc, self.conn)

    def wait_ready(self, timeout: float) -> bool:
        """True once the worker has imported math-verify; False if it is not ready in time.
        Raises EOFError / OSError when it died while starting."""
        if self.ready:
            return True
        if not self.conn.poll(max(0.0, timeout)):
            return False
        self.ready = self.conn.recv() == "ready"
        if not self.ready:
            raise EOFError("the symbolic worker did not start")
        return True

    def kill(self) -> None:
        self._finalizer()


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.pid = os.getpid()
        self.started = 0
        self.killed = 0

    def _forked(self) -> None:
        # In a forked child the parent's workers belong to the parent: forget them, never use them.
        if self.pid != os.getpid():
            for w in self.idle:
                w._finalizer.detach()
            self.idle = []
            self.pid = os.getpid()

    def acquire(self) -> _Worker:
        with self.lock:
            self._forked()
            # A ready worker first, else one that is starting.
            for k in range(len(self.idle) - 1, -1, -1):
                if self.idle[k].ready:
                    return self.idle.pop(k)
            if self.idle:
                return self.idle.pop()
            self.started += 1
        return _Worker()

    def release(self, w: _Worker) -> None:
        with self.lock:
            self._forked()
            if len(self.idle) < MAX_IDLE and w.proc.poll() is None:
                self.idle.append(w)
                return
        w.kill()

    def discard(self, w: _Worker, replace: bool = True) -> None:
        w.kill()
        with self.lock:
            self.killed += 1
            if replace and not self.idle:
                self.started += 1
                self.idle.append(_Worker())

    def close(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for w in workers:
            w.kill()


_POOL = _Pool()


def check(pred: str, gold: str, timeout_s: float) -> bool | None:
    """math-verify's verdict on two normalised answers, or None when it ran out of `timeout_s`."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    try:
        w = _POOL.acquire()
    except OSError:  # no process could be started
        return None
    try:
        if not w.wait_ready(deadline - time.monotonic()):
            _POOL.release(w)  # still starting: the next call may use it
            return None
        budget = deadline - time.monotonic()
        if budget <= 0:
            _POOL.release(w)
            return None
        w.conn.send(("check", pred, gold, budget * _INNER_MARGIN))
        if not w.conn.poll(max(0.0, deadline - time.monotonic())):
            _POOL.discard(w)
            return None
        verdict = w.conn.recv()
    except (EOFError, OSError, ValueError):
        _POOL.discard(w)
        return False
    _POOL.release(w)
    if verdict == "timeout":
        return None
    return bool(verdict)


def warm_up(timeout_s: float = 60.0, workers: int = 1) -> bool:
    """Have `workers` idle workers started and ready (for calls from that many threads at once);
    waits at most `timeout_s`; True when they are ready."""
    deadline = time.monotonic() + timeout_s
    held = [_POOL.acquire() for _ in range(max(1, min(workers, MAX_IDLE)))]
    ok = True
    for w in held:
        try:
            ok = w.wait_ready(deadline - time.monotonic()) and ok
        except (EOFError, OSError):
            ok = False
    for w in held:
        if w.proc.poll() is None:
            _POOL.release(w)
        else:
            _POOL.discard(w, replace=False)
    return ok


def stats() -> dict[str, int]:
    """Workers started and killed (at a deadline or on a crash) by this process."""
    return {"started": _POOL.started, "killed": _POOL.killed, "idle": len(_POOL.idle)}


def close() -> None:
    """Stop the idle workers (they also stop at exit and when this process dies)."""
    _POOL.close()


# ---------------------------------------------------------------- the worker process


class _OutOfTime(BaseException):
    """Raised by the worker's timer; a BaseException so that no library's `except Exception` eats it."""


def _expire(signum: int, frame: object) -> None:
    raise _OutOfTime()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _verify(pred: str, gold: str) -> bool:
    from math_verify import parse, verify

    gold_p = parse(f"${gold}$", parsing_timeout=None)  # type: ignore[arg-type]
    pred_p = parse(f"${pred}$", parsing_timeout=None)  # type: ignore[arg-type]
    if not gold_p or not pred_p:
        return False
    return bool(verify(gold_p, pred_p, float_rounding=FLOAT_ROUNDING, allow_set_relation_comp=True,  # `x > 2` is (2, oo)
                       timeout_seconds=None))  # type: ignore[arg-type]


def main() -> None:
    """Worker entry point; argv: the socket's file descriptor and the parent's pid."""
    conn = Connection(int(sys.argv[1]))
    parent = int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        import resource

        limit = _memory_limit_bytes()
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    import math_verify.grader
    import math_verify.parser

    for module in (math_verify.grader, math_verify.parser):  # our timer is the limit, not theirs
        if hasattr(module, "TIMEOUT_WARNING_SHOWN"):
            module.TIMEOUT_WARNING_SHOWN = True
    _verify("x+1", "1+x")  # import the lazily loaded parts now, not in the first check
    signal.signal(signal.SIGALRM, _expire)
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if not (isinstance(msg, tuple) and msg and msg[0] == "check"):
            return
        _, pred, gold, budget = msg
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, max(0.001, budget))
                reply: object = _verify(pred, gold)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _OutOfTime:
            reply = "timeout"
        except BaseException:  # MemoryError, RecursionError, anything sympy raises
            reply = False
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
