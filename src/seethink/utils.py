"""Small shared helpers: threads, seeds, JSONL and atomic writes."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.storage import disk_errors


def pin_threads(n: int | None = None) -> int:
    """Pin torch's intra-op threads.

    Tiny models run ~10x slower when torch spawns one thread per core and the
    threads fight each other (and tokenizers' own pool). Default: the
    SEETHINK_THREADS env var, else min(2, cores), shared among the processes a
    launcher (accelerate, torchrun) started on this machine.
    """
    import torch

    if n is None:
        from seethink.dist import local_world_size

        cores = max(1, (os.cpu_count() or 1) // local_world_size())
        n = int(os.environ.get("SEETHINK_THREADS", "0")) or min(2, cores)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write via a temp file + rename so a killed process (or a full disk) never leaves half a file."""
    path = Path(path)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the file at `path` (created if missing) between processes.

    For files that several processes of one run write, such as metrics.jsonl under
    `parallel`: appends are single writes, but a rewrite (dropping rows on resume) must not
    lose a row another process appends meanwhile. A rewrite replaces the file (atomic
    rename), so after waiting the lock is re-taken until it is on the file `path` names now.
    No sidecar lock file is left behind. Without fcntl (Windows) it does not lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)  # replaced while we waited: lock the new file
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one row; a failed write (full disk) is cut back off, so no torn line is left."""
    append_jsonl_rows(path, [row])


def append_jsonl_rows(path: str | Path, rows: list[dict], *, ensure_ascii: bool = True) -> None:
    """Append rows in one write; a failed write is cut back to the file's size before it, so a
    full disk leaves neither a torn line nor half of a batch."""
    path = Path(path)
    data = memoryview("".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in rows).encode())
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            try:
                while data:
                    data = data[os.write(fd, data):]
            except BaseException:
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)


def iter_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield rows; a malformed line raises UserError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}, row {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}, row {lineno}: expected a JSON object, got {type(row).__name__}")
            yield row


def read_jsonl(path: str | Path) -> list[dict]:
    return list(iter_jsonl(path))


@contextmanager
def atomic_dir(path: str | Path, writer: bool = True) -> Iterator[Path]:
    """Build a directory in a sibling temp folder; it replaces `path` only once the block succeeds.

    A process killed inside the block leaves `path` as it was (the temp folder is cleared on the next
    try). Callers must be the only writer of `path` (the run lock sees to that). In a multi-process
    launch every rank gets the same temp path but only the `writer` (main) process creates and
    renames it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    old = path.with_name(f".{path.name}.old")
    if not writer:
        yield tmp
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():  # a directory cannot be renamed over a non-empty one: move the old one aside first
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temp path beside `path` (same suffix, so writers that go by the suffix work) renamed onto it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A writer killed mid-write leaves its temp file (named by its pid): clear those first.
    for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_appended_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file written by appending as work goes (a log, saved batches).

    A torn last line (an append cut off by a kill) is dropped; a bad line elsewhere is an error.
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if n == len(lines):  # no newline after it yet: the append was cut off
                break
            raise UserError(f"{path}, row {n}: not valid JSON; fix or delete that line") from None
        if isinstance(row, dict):
            rows.append(row)
    return rows
