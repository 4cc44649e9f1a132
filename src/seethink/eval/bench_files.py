"""The files of a benchmark evaluation, and resuming from them.

Under `out_dir/NAME/` a run appends its answers as it goes (`responses.jsonl`: one greedy answer
per id; `sampled.jsonl`: the sampled answers), so a killed run resumes from the ids already
there. Processes of a multi-process run append to rank files of their own, which the main
process folds into the main file. `run_key.json` records the settings the answers were generated
under; answers from other settings are not reused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.utils import append_jsonl_rows, read_appended_jsonl, write_json

# ------------------------------------------------------------------ responses file (resume)


def read_responses(path: Path) -> dict[str, str]:
    """{id: response} from a responses file; a torn (unparsable, unterminated) last line, left by
    a killed run, is cut off the file. A bad line elsewhere is an error."""
    return read_rows(path, "response")


def _valid(row: dict, field: str) -> bool:
    value = row.get(field)
    if field == "responses":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def read_rows(path: Path, field: str = "response") -> dict[str, Any]:
    """{id: row[field]} of a responses file (`response`: one greedy answer; `responses`: the
    sampled answers), the last row of an id winning; a torn last line is cut off the file, a bad
    line elsewhere is an error."""
    if not path.is_file():
        return {}
    _cut_torn_tail(path)
    done: dict[str, Any] = {}
    for n, row in enumerate(read_appended_jsonl(path), 1):
        if "id" not in row or not _valid(row, field):
            raise UserError(f"{path}, row {n}: not a responses row (an object with id and {field}); "
                            "delete that line")
        done[str(row["id"])] = row[field]
    return done


def _cut_torn_tail(path: Path) -> None:
    """Rows are appended whole, each ending in a newline, so text after the last newline is an
    append a kill cut short: it is cut off the file (a whole row there is only given its newline),
    and the next append starts on a line of its own."""
    raw = path.read_bytes()
    if not raw or raw.endswith(b"\n"):
        return
    tail = raw[raw.rfind(b"\n") + 1 :]
    try:
        json.loads(tail)
    except ValueError:  # also undecodable bytes: a multi-byte character cut in two
        path.write_bytes(raw[: len(raw) - len(tail)])
        return
    path.write_bytes(raw + b"\n")


def append_rows(path: Path, rows: list[dict]) -> None:
    # One write, rolled back if it fails (a full disk), so a resumed run never sees half a batch.
    append_jsonl_rows(path, rows, ensure_ascii=False)


# ------------------------------------------------------------------ sharing the items over processes


def rank_file(path: Path, rank: int) -> Path:
    """Where process `rank` of a multi-process evaluation appends its rows."""
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def _rank_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.stem}.rank*{path.suffix}"))


def read_all(path: Path, field: str) -> dict[str, Any]:
    """Rows of the main file and of every rank file (a killed multi-process run leaves those)."""
    done: dict[str, Any] = {}
    for p in [*_rank_files(path), path]:
        done.update(read_rows(p, field))
    return done


def fold(path: Path, field: str) -> dict[str, Any]:
    """Main process: append the rows of every rank file to the main file, then remove them."""
    done = read_rows(path, field)
    for p in _rank_files(path):
        rows = read_rows(p, field)
        new = [{"id": k, field: v} for k, v in rows.items() if k not in done]
        if new:
            append_rows(path, new)
            done.update({r["id"]: r[field] for r in new})
        p.unlink(missing_ok=True)
    return done


def reset_if_changed(bench_out: Path, key: dict, log: Callable[[str], Any]) -> None:
    """Main process: responses generated under other settings (model, prompt, lengths, sampling)
    are not reused. A folder written before keys existed is adopted as it is."""
    key_file = bench_out / "run_key.json"
    old: dict = {}
    if key_file.is_file():
        try:
            old = json.loads(key_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = {}
    for part, stem in (("greedy", "responses"), ("sampled", "sampled")):
        stale = list(bench_out.glob(f"{stem}*.jsonl")) if key_file.is_file() and old.get(part) != key.get(part) else []
        for p in stale:
            p.unlink()
        if stale:
            log(f"[eval] {bench_out.name}: {part} settings changed; generating its answers again")
    write_json(key_file, key)
