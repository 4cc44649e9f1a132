"""Effects of training with 95% intervals, from one run directory or several (seeds).

Two kinds of comparison, both paired on the same held-out items:
- per stage: the model a stage produced against the model it started from, on each
  capability the stage trained (needs `eval.stages: true` for multi-stage variants);
- per model: every trained model against the base, on every capability and overall (all
  held-out items pooled), and every pair of trained models (e.g. staged against merged, the
  capability curriculum's central claim) the same way.
Scores are greedy correctness and, when the run sampled, the fraction of correct samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.eval.stats import bootstrap_ci, paired_deltas
from seethink.utils import read_jsonl

METRICS = {"greedy": "correct", "sampled": "sampled_correct"}
OVERALL = "overall"  # pseudo-capability: all held-out items (equal counts per capability)


def _scores(run: Path, model: str, capability: str, field: str) -> dict[str, float]:
    """Item id -> score of one model; capability OVERALL takes every held-out item."""
    path = run / "eval" / model / "predictions.jsonl"
    if not path.is_file():
        raise UserError(f"{run}: no predictions for model '{model}' ({path} is missing)")
    return {p["id"]: float(p[field]) for p in read_jsonl(path)
            if capability in (OVERALL, p["capability"]) and field in p}


def _summary(run: Path) -> dict:
    sp = run / "summary.json"
    if not sp.is_file():
        raise UserError(f"{run}: no summary.json (has the run finished its evaluation?)")
    return json.loads(sp.read_text())


def comparisons(summary: dict) -> list[dict[str, Any]]:
    """What to compare: stage effects first, then each trained model against the base."""
    rows: list[dict[str, Any]] = []
    for variant, chain in summary.get("meta", {}).get("chains", {}).items():
        for link in chain:
            for cap in link["capabilities"]:
                rows.append({"kind": "stage", "label": f"{variant}: stage '{link['stage']}'",
                             "before": link["before"], "after": link["after"], "capability": cap})
    caps = [*sorted(summary.get("base", {}).get("by_capability", {})), OVERALL]
    seen = {(r["before"], r["after"], r["capability"]) for r in rows}
    finals = [m for m in summary if m not in ("meta", "base") and "@" not in m]
    pairs = [("base", m) for m in finals]
    # trained models against each other, as (before, after) in summary order: staged - merged
    pairs += [(finals[j], finals[i]) for i in range(len(finals)) for j in range(i + 1, len(finals))]
    for before, after in pairs:
        for cap in caps:
            if (before, after, cap) in seen:  # a one-stage variant: already its stage's row
                continue
            kind = "model" if before == "base" else "pair"
            rows.append({"kind": kind, "label": f"{after} vs {before}", "before": before, "after": after,
                         "capability": cap})
    return rows


def effects(run_dirs: list[str | Path], n_boot: int = 2000) -> list[dict[str, Any]]:
    """Every comparison with its mean delta (points) and 95% interval, per score kind."""
    runs = [Path(r) for r in run_dirs]
    if not runs:
        raise UserError("no run directories given")
    summaries = [_summary(r) for r in runs]
    plan = comparisons(summaries[0])
    out = []
    for row in plan:
        res = dict(row)
        for kind, field in METRICS.items():
            deltas = []
            for run in runs:
                before = _scores(run, row["before"], row["capability"], field)
                after = _scores(run, row["after"], row["capability"], field)
                if before and after:
                    deltas.append(paired_deltas(before, after))
            if len(deltas) == len(runs):
                res[kind] = bootstrap_ci(deltas, n_boot=n_boot)
        out.append(res)
    return out


def _cell(stat: dict | None) -> str:
    if not stat:
        return "-"
    mark = " *" if stat["ci_low"] > 0 or stat["ci_high"] < 0 else ""
    return f"{stat['delta']:+.1f} [{stat['ci_low']:+.1f}, {stat['ci_high']:+.1f}]{mark}"


def effects_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    first = next((r.get("greedy") or r.get("sampled") for r in rows if r.get("greedy") or r.get("sampled")), None)
    n = f"{first['runs']} run(s), {first['items']} items per capability" if first else ""
    lines = [
        f"Points of accuracy, mean over {n}; [95% interval] from a bootstrap over runs and items; "
        "'overall' pools every capability's items; * = the interval excludes zero.",
        "",
        "| comparison | capability | greedy | sampled |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['label']} | {r['capability']} | {_cell(r.get('greedy'))} | {_cell(r.get('sampled'))} |")
    return "\n".join(lines) + "\n"
