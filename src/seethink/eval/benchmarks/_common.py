"""Shared plumbing for the benchmark scorers: the Benchmark record, file reading with
errors that name the file and row, data-folder discovery and accuracy tallies."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.utils import write_jsonl


def write_response_rows(items: list[dict], responses: list[str], path: str | Path) -> Path:
    """The results file most benchmarks read: JSONL rows `id`, `response`, one per item."""
    write_jsonl(path, [{"id": it["id"], "response": r} for it, r in zip(items, responses, strict=True)])
    return Path(path)


def first_items(items: list[dict], limit: int) -> list[dict]:
    return items[:limit]


@dataclass(frozen=True)
class Benchmark:
    """What the registry holds for one benchmark: everything a caller needs to load it, score
    results files and write them.

    `load(data_dir, split)` gives items; `judge(results_path, data_dir)` gives one verdict per
    results row (`id`, `prediction`, `correct`, ...); `aggregate(verdicts)` gives the metrics, and
    `score(results_path, data_dir)` the two together (`scorer` replaces that pair where the
    metrics need more of the data folder than the verdicts carry). `markers` are files that
    identify the benchmark's data folder, so the folder can be found next to a results file when
    the caller does not name it.

    `rules` names the ways of reading answers the benchmark offers; the first is the default and
    follows the official (or pinned field-standard) evaluator. When there is more than one,
    `judge` and `score` take a keyword `rule`. With `data_optional`, `data_dir` may be None when
    no data folder is found: the results rows must then carry every field scoring needs (as the
    official results files do).

    `write_results(items, responses, path)` writes generated answers in the official results
    format, to a file named `results_file`; `select_items(items, limit)` picks the first `limit`
    items (a benchmark scored over groups of items rounds up to whole groups).
    """

    name: str
    load: Callable[[Path, str | None], list[dict]]
    judge: Callable[..., list[dict]]
    aggregate: Callable[..., dict]
    markers: tuple[str, ...]
    splits: tuple[str, ...] = field(default=())
    description: str = ""
    rules: tuple[str, ...] = ("official",)
    data_optional: bool = False
    scorer: Callable[..., dict] | None = None
    results_file: str = "results.jsonl"
    write_results: Callable[[list[dict], list[str], str | Path], Path] = write_response_rows
    select_items: Callable[[list[dict], int], list[dict]] = first_items

    def score(self, results_path: Path, data_dir: Path | None, **rule: str) -> dict:
        """The aggregate metrics of a results file (`rule=` for a benchmark with several rules)."""
        if self.scorer is not None:
            return self.scorer(results_path, data_dir, **rule)
        return self.aggregate(self.judge(results_path, data_dir, **rule))


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc})") from exc
    except RecursionError:
        raise UserError(f"{path}: JSON nested too deeply to read") from None


def read_jsonl(path: Path) -> list[dict]:
    """`seethink.utils.read_jsonl` (rows are objects; a bad line names file and row), with
    undecodable bytes and absurd nesting also reported as UserError."""
    from seethink.utils import read_jsonl as _read

    try:
        return _read(path)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc})") from exc
    except RecursionError:
        raise UserError(f"{path}: a JSON line is nested too deeply to read") from None


def unique_items(entries: list[tuple[str, dict]], label: str = "id") -> list[dict]:
    """The items of (where, item) pairs, once every item `id` is known to be unique; a repeat
    raises UserError naming its file and row, the id, and where it first appeared."""
    first: dict[str, str] = {}
    for where, item in entries:
        key = item["id"]
        if key in first:
            raise UserError(f"{where}: {label} {key!r} appears twice (first at {first[key]})")
        first[key] = where
    return [item for _, item in entries]


def need(row: dict, key: str, where: str, types: type | tuple[type, ...] | None = None) -> Any:
    """row[key], or a UserError naming the file/row (`where`) and the field."""
    if key not in row:
        raise UserError(f"{where}: missing field {key!r}")
    value = row[key]
    if types is not None and not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
        raise UserError(f"{where}: field {key!r} should be {names}, got {type(value).__name__}")
    return value


def has_marker(root: Path, markers: tuple[str, ...]) -> bool:
    """Whether `root` holds one of `markers`: a file name, or a glob pattern such as
    `*.parquet` / `data/*.parquet` (HF releases name their files by split and shard)."""
    for m in markers:
        if any(ch in m for ch in "*?["):
            if any(p.is_file() for p in root.glob(m)):
                return True
        elif (root / m).is_file():
            return True
    return False


def _file_matches(path: Path, markers: tuple[str, ...]) -> bool:
    """A data file named by a glob marker (`*.parquet`, `*.tsv`); plain names stay folder-only."""
    return any(any(ch in m for ch in "*?[") and fnmatch.fnmatch(path.name, Path(m).name) for m in markers)


def find_data_dir(
    results_path: Path, data_dir: str | Path | None, markers: tuple[str, ...], name: str, optional: bool = False
) -> Path | None:
    """The benchmark folder: the one given, else the results file's folder or its parent
    (official layouts keep outputs in a subfolder of the data folder). A single data file
    (a `.parquet` or `.tsv` file whose name matches a marker) may be given instead of a folder.
    With `optional`, None when no folder is given or found (the results carry the gold fields)."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if root.is_file() and _file_matches(root, markers):
            return root.resolve()
        if not root.is_dir():
            raise UserError(f"{name}: data folder not found: {root}")
        if not has_marker(root, markers):
            raise UserError(f"{name}: {root} has none of {', '.join(markers)}; is it the {name} folder?")
        return root.resolve()
    for cand in (results_path.parent, results_path.parent.parent):
        if has_marker(cand, markers) and not _only_itself(cand, results_path, markers):
            return cand.resolve()
    if optional:
        return None
    raise UserError(
        f"{name}: cannot find the benchmark folder (with {', '.join(markers)}) next to {results_path};"
        " pass it with --data DIR"
    )


def _only_itself(folder: Path, results_path: Path, markers: tuple[str, ...]) -> bool:
    """Whether the only marker file in `folder` is the results file itself (a VLMEvalKit `.tsv`
    predictions file is not the benchmark's `.tsv` data)."""
    hits: set[Path] = set()
    for m in markers:
        if any(ch in m for ch in "*?["):
            hits.update(p.resolve() for p in folder.glob(m) if p.is_file())
        elif (folder / m).is_file():
            hits.add((folder / m).resolve())
    return hits == {results_path.resolve()}


def percent(correct: int | float, total: int) -> float:
    """Percent with 2 decimals, computed as the official scripts do (divide, then scale): the
    order matters at ties, e.g. 437/3040 gives 14.37 this way and 14.38 the other."""
    return round(correct / total * 100, 2) if total else 0.0


def tally(entries: Iterable[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
    """{group: {correct, total, accuracy}} from (group, correct) pairs, groups in first-seen order."""
    counts: dict[str, list[int]] = {}
    for group, ok in entries:
        c = counts.setdefault(group, [0, 0])
        c[0] += bool(ok)
        c[1] += 1
    return {g: {"correct": c, "total": t, "accuracy": percent(c, t)} for g, (c, t) in counts.items()}


def image_paths(root: Path, refs: Iterable[str | None]) -> list[str]:
    """Absolute paths of the referenced images that exist locally (some releases ship none)."""
    out = []
    for ref in refs:
        if ref:
            p = root / ref
            if p.is_file():
                out.append(str(p))
    return out
