"""One process at a time per run directory (and per warm-start cache entry).

The lock is `run.lock` in the run directory. Two things make it:

* an OS file lock (`flock`) on that file, which the kernel drops when the holder exits
  in any way, SIGKILL included, so a crashed holder never blocks the next run;
* the holder's pid, host, start time and command, written into the file, so a refused
  second process can say who holds the directory.

A `run.lock` left behind by a crashed holder is stale: the next process takes it over and
says so. On file systems without `flock` the contents decide: a holder on this host
whose pid is gone (or now belongs to a younger process) is stale; a holder on another
host cannot be checked and is reported, with the command to clear it.

Only the main process of a multi-process launch takes the run lock; the other ranks
write no run files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from seethink.dist import is_main_process
from seethink.errors import UserError

LOCK_NAME = "run.lock"

try:  # POSIX; elsewhere the pid rule alone applies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# flock is missing on some network file systems (Lustre without -o flock, old NFS).
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def _proc_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), telling a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    return fields[19] if len(fields) > 19 else None


def holder_info() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "proc_start": _proc_start(pid),
        "command": " ".join(sys.argv)[:500],
    }


def holder_alive(info: dict[str, Any]) -> bool | None:
    """Is the holder named in a lock file still running? None when it is on another host."""
    if info.get("host") != socket.gethostname():
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    then, now = info.get("proc_start"), _proc_start(pid)
    return not (then and now and then != now)  # same pid, younger process: the holder is gone


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} (since {info.get('started', '?')})"


def _read(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 65536, 0)
        info = json.loads(raw.decode() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


class RunLock:
    """`with RunLock(run_dir / "run.lock"):` - exclusive use of a run directory.

    `wait=False` (run directories): a second process stops at once with a UserError naming
    the holder. `wait=True` (the shared warm-start cache): it waits for the holder to finish.
    `main_only=True`: non-main ranks of a multi-process launch do nothing.
    """

    def __init__(self, path: str | Path, *, what: str = "run directory", wait: bool = False,
                 main_only: bool = True, log: Any = print, poll_s: float = 2.0) -> None:
        self.path = Path(path)
        self.what = what
        self.wait = wait
        self.main_only = main_only
        self.log = log
        self.poll_s = poll_s
        self.fd: int | None = None

    # ------------------------------------------------------------------ acquire

    def acquire(self) -> RunLock:
        if self.fd is not None or (self.main_only and not is_main_process()):
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        told = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                return self
            if not self.wait:
                raise UserError(
                    f"{self.what} {self.path.parent} is in use by {_describe(holder)}: {holder.get('command', '')!r}. "
                    f"Wait for it to finish or stop it (kill {holder.get('pid', 'PID')}); two runs must not share "
                    f"a {self.what}. If that process is gone for good (e.g. another machine crashed), delete {self.path}."
                )
            if not told:
                self.log(f"[lock] waiting for {_describe(holder)}, which holds {self.path}")
                told = True
            time.sleep(self.poll_s)

    def _try_acquire(self) -> dict[str, Any] | None:
        """Take the lock and return None, or return the live holder's info."""
        for _ in range(100):  # retried only when a releasing holder unlinked the file we opened
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                locked = self._flock(fd)
                if locked is False:
                    holder = _read(fd)
                    os.close(fd)
                    return holder or {"pid": "?"}
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                previous = _read(fd)
                if locked is None and previous:  # no flock here: judge the holder by its pid
                    alive = holder_alive(previous)
                    if alive is None or (alive and previous.get("pid") != os.getpid()):
                        os.close(fd)
                        return previous
                self._claim(fd, previous)
                return None
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                self.fd = None
                raise
        raise UserError(f"could not take {self.path}: it keeps being replaced by another process")

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """True: locked; False: another process holds it; None: this file system has no flock."""
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            if exc.errno in _NO_FLOCK:
                return None
            raise
        return True

    def _claim(self, fd: int, previous: dict[str, Any]) -> None:
        if previous.get("pid") not in (None, os.getpid()):
            self.log(f"[lock] {self.path}: the previous holder, {_describe(previous)}, is gone (killed or "
                     "crashed); taking over its stale lock and resuming")
        data = (json.dumps(holder_info()) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        self.fd = fd

    # ------------------------------------------------------------------ release

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            # Remove the file while still holding it, and only if it is still ours.
            if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_lock(run_dir: str | Path, log: Any = print) -> RunLock:
    """The lock of a run directory (taken by the main process only)."""
    return RunLock(Path(run_dir) / LOCK_NAME, log=log)
