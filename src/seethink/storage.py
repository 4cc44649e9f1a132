"""Writing to disk: an up-front writability check and clear errors for a full or read-only disk.

Long runs write for hours; a full disk or an unwritable folder must end the run with a
message naming the path (a `UserError`, exit code 2), never a traceback from deep inside a
library, and must not damage what is already on disk. Our own files are written atomically
(`utils.atomic_write_text`) or appended with a rollback (`utils.append_jsonl`), and a stage
counts as finished only once its marker is written, so re-running resumes where the run stopped.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seethink.errors import UserError

FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
# Text of the same failures when a library (safetensors' Rust writer) re-raises them as its own type.
_FULL_TEXT = ("no space left on device", "storagefull", "disk quota exceeded", "os error 28")

RESUME_HINT = "finished work is kept; re-run the same command to resume"


def is_disk_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in FULL | DENIED:
        return True
    return any(t in str(exc).lower() for t in _FULL_TEXT)


def _why(exc: BaseException) -> tuple[str, str]:
    code = exc.errno if isinstance(exc, OSError) else None
    if code in FULL or (code is None and any(t in str(exc).lower() for t in _FULL_TEXT)):
        return "no space left on the device (or over the disk quota)", "free some space"
    if code in DENIED:
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return why, "choose a writable folder (--out) or fix its permissions"
    why = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__
    return why, "check the path"


def disk_error(path: str | Path, exc: BaseException) -> UserError:
    """A UserError naming `path` and what went wrong with the disk."""
    why, fix = _why(exc)
    return UserError(f"cannot write {path}: {why}; {fix}; {RESUME_HINT}")


@contextmanager
def disk_errors(path: str | Path) -> Iterator[None]:
    """Turn a full-disk / permission failure while writing `path` into a clear UserError."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        if is_disk_error(exc):
            raise disk_error(path, exc) from None
        raise


def ensure_writable_dir(path: str | Path, what: str = "output directory") -> Path:
    """Create `path` if needed and prove a file can be written there (before any long work)."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {p} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".seethink-write-test-")
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        if isinstance(exc, (NotADirectoryError, FileExistsError)):
            raise UserError(f"{what} {p} cannot be created: a parent path is a file") from None
        why, fix = _why(exc)
        raise UserError(f"{what} {p} is not writable: {why}; {fix}") from None
    return p


# Files that unpickle (run code) when loaded; a checkpoint we write holds none of them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle")


def strip_pickles(ckpt: str | Path) -> None:
    """Keep a finished checkpoint free of pickle files: weights are safetensors, and the trainer's
    pickled `training_args.bin` is dropped (the run's resolved recipe is in config.yaml)."""
    p = Path(ckpt)
    (p / "training_args.bin").unlink(missing_ok=True)
    left = sorted(f.name for f in p.iterdir() if f.suffix in PICKLE_SUFFIXES) if p.is_dir() else []
    if left:
        raise UserError(f"{p}: the checkpoint holds pickle files ({', '.join(left)}); seethink writes "
                        "safetensors only, so something else wrote them")
