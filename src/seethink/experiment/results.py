"""Reading an experiment's finished units back: one or several directories pooled.

Everything the report needs is in the small files of each unit (unit.json, the evaluation's
predictions.jsonl, metrics.jsonl, subquestions.jsonl), so a directory of exported results
(`seethink experiment --results DIR`, no checkpoints) reports exactly as the run directory
does. Units of the same arm and seed found twice are read once (the first directory wins).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seethink.errors import UserError
from seethink.utils import read_appended_jsonl, read_jsonl

OVERALL = "overall"
METRICS = {"greedy": "correct", "sampled": "sampled_correct"}

Key = tuple[str, int | None]  # (arm, seed); the base has seed None


@dataclass
class Study:
    dirs: list[Path]
    config: dict[str, Any]
    arms: list[str]  # in recipe order, only arms with at least one finished unit
    seeds: list[int]
    preds: dict[Key, dict[str, dict]] = field(default_factory=dict)  # unit -> item id -> prediction row
    units: dict[Key, dict] = field(default_factory=dict)  # unit.json
    curves: dict[Key, list[dict]] = field(default_factory=dict)  # metrics.jsonl rows
    probes: dict[Key, dict[str, list[bool]]] = field(default_factory=dict)  # item id -> sub-question verdicts
    stage_preds: dict[tuple[str, int, str], dict[str, dict]] = field(default_factory=dict)  # (arm, seed, stage)
    notes: list[str] = field(default_factory=list)

    @property
    def capabilities(self) -> list[str]:
        base = self.preds.get(("base", None), {})
        return sorted({p["capability"] for p in base.values()})

    @property
    def sampled(self) -> bool:
        base = self.preds.get(("base", None), {})
        return bool(base) and all("sampled_correct" in p for p in base.values())

    def arm_seeds(self, arm: str) -> list[int]:
        return sorted(s for (a, s) in self.preds if a == arm and s is not None)

    def seeds_of(self, *arms: str) -> list[int | None]:
        """Seeds every named arm finished (the base counts as present in every seed)."""
        sets = [set(self.arm_seeds(a)) for a in arms if a != "base"]
        if not sets:
            return [None]
        return sorted(set.intersection(*sets))  # type: ignore[return-value]

    def pred(self, arm: str, seed: int | None) -> dict[str, dict]:
        return self.preds[("base", None)] if arm == "base" else self.preds[(arm, seed)]

    def table(self, arms: list[str], capability: str, field_name: str) -> tuple[list[np.ndarray], list[str]]:
        """(S, I) tables of one field, one per arm, on the seeds all the arms finished and the
        items all their evaluations share (in item-id order); a base row repeats in every seed."""
        seeds = self.seeds_of(*arms)
        if not seeds:
            return [], []
        rows = [self.pred(a, s) for a in arms for s in seeds]
        ids = sorted(set.intersection(*(
            {i for i, p in r.items() if capability in (OVERALL, p["capability"]) and field_name in p} for r in rows)))
        tables = [np.array([[float(self.pred(a, s)[i][field_name]) for i in ids] for s in seeds]) for a in arms]
        return tables, ids


def _load_config(d: Path) -> dict[str, Any]:
    path = d / "experiment.yaml"
    if not path.is_file():
        raise UserError(f"{d}: no experiment.yaml (is it an experiment directory?)")
    return yaml.safe_load(path.read_text()) or {}


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    c = json.loads(json.dumps(cfg))
    for key in ("seed", "threads", "parallel"):
        c.pop(key, None)
    for key in ("arms", "seeds", "workers"):
        c.get("experiment", {}).pop(key, None)
    return c


def _read_unit(study: Study, key: Key, udir: Path) -> None:
    eval_dir = udir / "eval"
    preds = eval_dir / "predictions.jsonl"
    bench = sorted(eval_dir.glob("bench/*/predictions.jsonl"))  # capability bench:NAME, ids unique
    if not (udir / "unit.json").is_file() or not (preds.is_file() or bench):
        return
    if key in study.preds:
        study.notes.append(f"{key[0]} seed {key[1]}: found again in {udir}; the first copy is used")
        return
    study.units[key] = json.loads((udir / "unit.json").read_text())
    study.preds[key] = {p["id"]: p for f in [preds, *bench] if f.is_file() for p in read_jsonl(f)}
    if (udir / "metrics.jsonl").is_file():
        study.curves[key] = read_appended_jsonl(udir / "metrics.jsonl")
    sq = eval_dir / "subquestions.jsonl"
    if sq.is_file():
        study.probes[key] = {r["id"]: [bool(x) for x in r["correct"]] for r in read_jsonl(sq)}
    if key[1] is not None:
        for sd in sorted({p.parent for p in udir.glob("eval-stages/*/predictions.jsonl")}
                         | {p.parent.parent.parent for p in udir.glob("eval-stages/*/bench/*/predictions.jsonl")}):
            files = [sd / "predictions.jsonl", *sorted(sd.glob("bench/*/predictions.jsonl"))]
            study.stage_preds[(key[0], key[1], sd.name)] = {p["id"]: p for f in files if f.is_file()
                                                             for p in read_jsonl(f)}


def load_study(dirs: Sequence[str | Path]) -> Study:
    paths = [Path(d) for d in dirs]
    if not paths:
        raise UserError("give at least one experiment directory")
    configs = [_load_config(d) for d in paths]
    from seethink.experiment.run import normalized_tree

    def norm_of(d: Path, c: dict[str, Any]) -> dict[str, Any]:
        try:
            return _comparable(normalized_tree(c, str(d / "experiment.yaml")))
        except UserError:  # a recipe today's code no longer loads: compare it as written
            return _comparable(c)

    norm = [norm_of(d, c) for d, c in zip(paths, configs, strict=True)]
    for d, n in zip(paths[1:], norm[1:], strict=True):
        if n != norm[0]:
            raise UserError(f"{d} and {paths[0]} hold experiments with different settings; they cannot be pooled")
    order: list[str] = []
    for cfg in configs:
        for a in cfg.get("experiment", {}).get("arms", []):
            name = a["name"] if isinstance(a, dict) else str(a)
            if name not in order:
                order.append(name)
    study = Study(dirs=paths, config=configs[0], arms=[], seeds=[])
    for d in paths:
        _read_unit(study, ("base", None), d / "units" / "base")
        for udir in sorted(d.glob("units/*/seed-*")):
            arm, seed = udir.parent.name, int(udir.name.removeprefix("seed-"))
            _read_unit(study, (arm, seed), udir)
    if ("base", None) not in study.preds:
        raise UserError(f"{', '.join(map(str, paths))}: the base's evaluation has not finished; nothing to report")
    found = {a for (a, s) in study.preds if s is not None}
    study.arms = [a for a in order if a in found] + sorted(found - set(order))
    study.seeds = sorted({s for (_a, s) in study.preds if s is not None})
    return study
