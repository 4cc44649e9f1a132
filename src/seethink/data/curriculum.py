"""Ordering training data into a curriculum: stage files in training order.

Input: one JSONL per capability (``{"perception": path, "text": path, ...}``), usually the
output of ``seethink data passk`` so rows carry ``pass_rate``. Modes:

  none                      every item in one stream, shuffled (seeded)
  difficulty                every item in one stream, easy -> hard (pass_rate descending;
                            ties keep input order)
  capability                one stage per capability, in the given order (each shuffled)
  capability_x_difficulty   one stage per capability, easy -> hard within each stage

Output: ``stage1.jsonl``, ``stage2.jsonl``, ... (one stage for the one-stream modes) and
``curriculum.json`` describing them. Rows keep ``capability`` and ``pass_rate``; image paths
are rewritten so they resolve relative to the output folder.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seethink.data.loaders import rebase_images
from seethink.errors import UserError
from seethink.utils import read_jsonl, write_json, write_jsonl

MODES = ("none", "difficulty", "capability", "capability_x_difficulty")
NEEDS_PASS_RATE = ("difficulty", "capability_x_difficulty")


def parse_inputs(pairs: list[str]) -> dict[str, Path]:
    """`["perception=a.jsonl", "text=b.jsonl"]` -> ordered {name: path}."""
    out: dict[str, Path] = {}
    for p in pairs:
        if "=" not in p:
            raise UserError(f"--input {p!r}: expected NAME=FILE, e.g. perception=perception.jsonl")
        name, path = (s.strip() for s in p.split("=", 1))
        if not name or not path:
            raise UserError(f"--input {p!r}: expected NAME=FILE")
        if name in out:
            raise UserError(f"--input: {name!r} given twice")
        out[name] = Path(path)
    return out


def _pass_rate(row: dict, path: Path, n: int, required: bool) -> float | None:
    rate = row.get("pass_rate")
    if rate is None:
        if required:
            raise UserError(f"{path}, row {n}, field 'pass_rate': missing; "
                            "annotate the file with `seethink data passk` first")
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise UserError(f"{path}, row {n}, field 'pass_rate': expected a number in [0, 1], got {rate!r}")
    return float(rate)


def _easy_to_hard(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: -float(r["pass_rate"]))  # sorted() is stable


def _check_not_empty(stages: list[tuple[list[str], list[dict]]], read: dict[str, int],
                     inputs: Mapping[str, str | Path], drop_solved: bool, drop_unsolved: bool) -> None:
    """An empty stage would fail only when training reaches it; say which stage and which filter now."""
    for i, (names, rows) in enumerate(stages, 1):
        if rows:
            continue
        total = sum(read.get(n, 0) for n in names)
        where = ", ".join(f"{n}={inputs[n]}" for n in names)
        if total == 0:
            raise UserError(f"curriculum stage {i} ({where}): the input holds no items")
        filters = " and ".join(f for f, on in (("drop_solved", drop_solved), ("drop_unsolved", drop_unsolved)) if on)
        raise UserError(f"curriculum stage {i} ({where}): no items left after the {filters} filter "
                        f"(all {total} were dropped); turn the filter off or add items")


def _check_order(inputs: Mapping[str, str | Path], mode: str, order: list[str] | None) -> list[str]:
    """The stage order: `order` (every input exactly once) or the inputs' own."""
    if mode not in MODES:
        raise UserError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not inputs:
        raise UserError("give at least one --input NAME=FILE")
    order = list(order) if order else list(inputs)
    unknown = [n for n in order if n not in inputs]
    if unknown:
        raise UserError(f"--order names {unknown[0]!r}, which is not an --input ({', '.join(inputs)})")
    missing = [n for n in inputs if n not in order]
    if missing:
        raise UserError(f"--order must list every --input; {missing[0]!r} is missing")
    if len(set(order)) != len(order):
        raise UserError("--order lists a name twice")
    return order


def _read_inputs(inputs: Mapping[str, str | Path], order: list[str], out: Path, *, need_rate: bool,
                 drop_solved: bool, drop_unsolved: bool) -> tuple[dict[str, list[dict]], dict[str, int], dict[str, int]]:
    """Each input's rows that pass the filters, rebased onto `out`; the dropped counts; the rows read."""
    per_cap: dict[str, list[dict]] = {}
    dropped = {"solved": 0, "unsolved": 0}
    read: dict[str, int] = {}
    for name in order:
        path = Path(inputs[name])
        rows = []
        for n, row in enumerate(read_jsonl(path), 1):
            read[name] = n
            rate = _pass_rate(row, path, n, need_rate)
            if drop_solved and rate is not None and rate >= 1.0:
                dropped["solved"] += 1
                continue
            if drop_unsolved and rate is not None and rate <= 0.0:
                dropped["unsolved"] += 1
                continue
            new = rebase_images(row, path.parent, out)
            new.setdefault("capability", name)
            rows.append(new)
        per_cap[name] = rows
    return per_cap, dropped, read


def _arrange(mode: str, order: list[str], per_cap: dict[str, list[dict]],
             seed: int) -> list[tuple[list[str], list[dict]]]:
    """The stages of `mode`: (input names, rows in training order) each."""
    rng = random.Random(seed)
    if mode in ("none", "difficulty"):
        every = [r for name in order for r in per_cap[name]]
        if mode == "none":
            rng.shuffle(every)
        else:
            every = _easy_to_hard(every)
        return [(order, every)]
    stages: list[tuple[list[str], list[dict]]] = []
    for name in order:
        rows = list(per_cap[name])
        if mode == "capability":
            rng.shuffle(rows)
        else:
            rows = _easy_to_hard(rows)
        stages.append(([name], rows))
    return stages


def _write_stages(out: Path, stages: list[tuple[list[str], list[dict]]]) -> list[dict[str, Any]]:
    """stage1.jsonl, stage2.jsonl, ... (and no stale ones beyond); their manifest entries."""
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    for i, (names, rows) in enumerate(stages, 1):
        path = out / f"stage{i}.jsonl"
        write_jsonl(path, rows)
        rates = [float(r["pass_rate"]) for r in rows if isinstance(r.get("pass_rate"), (int, float))]
        entries.append({
            "file": path.name,
            "inputs": names,
            "items": len(rows),
            "mean_pass_rate": sum(rates) / len(rates) if rates else None,
        })
    # Stage files of an earlier run with more stages would otherwise look like part of this one.
    for stale in out.glob("stage*.jsonl"):
        m = re.fullmatch(r"stage(\d+)\.jsonl", stale.name)
        if m and int(m.group(1)) > len(stages):
            stale.unlink()
    return entries


def build_curriculum(
    inputs: Mapping[str, str | Path],
    mode: str,
    out_dir: str | Path,
    *,
    order: list[str] | None = None,
    drop_solved: bool = False,
    drop_unsolved: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the stage files for `mode`; returns the manifest (also saved as curriculum.json)."""
    order = _check_order(inputs, mode, order)
    out = Path(out_dir)
    need_rate = mode in NEEDS_PASS_RATE or drop_solved or drop_unsolved
    per_cap, dropped, read = _read_inputs(inputs, order, out, need_rate=need_rate, drop_solved=drop_solved,
                                          drop_unsolved=drop_unsolved)
    stages = _arrange(mode, order, per_cap, seed)
    _check_not_empty(stages, read, inputs, drop_solved, drop_unsolved)
    manifest: dict[str, Any] = {"mode": mode, "order": order, "seed": seed, "dropped": dropped,
                                "stages": _write_stages(out, stages)}
    write_json(out / "curriculum.json", manifest)
    return manifest
