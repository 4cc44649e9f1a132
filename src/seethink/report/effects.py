"""Effects of training with 95% intervals, from one run directory or several (seeds).

Two kinds of comparison, both paired on the same held-out items:
- per stage: the model a stage produced against the model it started from, on each
  capability the stage trained and on every benchmark the run scored (needs `eval.stages: true`
  for multi-stage variants);
- per model: every trained model against the base, on every capability and overall (all
  held-out items pooled), and every pair of trained models (e.g. staged against merged, the
  capability curriculum's central claim) the same way.
Scores are greedy correctness and, when the run sampled, the fraction of correct samples.
`effects_between` compares the same model across two sets of runs (two recipes, seed by seed),
e.g. merged at one KL against merged at another.
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
    if not path.is_file() and not (run / "eval" / model / "bench").is_dir():
        raise UserError(f"{run}: no predictions for model '{model}' ({path} is missing)")
    rows = read_jsonl(path) if path.is_file() else []
    for bench in sorted((run / "eval" / model / "bench").glob("*/predictions.jsonl")):
        rows += read_jsonl(bench)  # benchmark items: capability bench:NAME, ids unique across benchmarks
    return {p["id"]: float(p[field]) for p in rows if capability in (OVERALL, p["capability"]) and field in p}


def _summary(run: Path) -> dict:
    sp = run / "summary.json"
    if not sp.is_file():
        raise UserError(f"{run}: no summary.json (has the run finished its evaluation?)")
    return json.loads(sp.read_text())


def comparisons(summary: dict) -> list[dict[str, Any]]:
    """What to compare: stage effects first, then each trained model against the base."""
    rows: list[dict[str, Any]] = []
    scored = summary.get("base", {}).get("by_capability", {})
    benches = [c for c in sorted(scored) if c.startswith("bench:")]
    for variant, chain in summary.get("meta", {}).get("chains", {}).items():
        for link in chain:
            # the capabilities the stage trained that were scored (none where only benchmarks
            # were), then every benchmark: a stage's effect on real benchmarks too
            trained = [c for c in link["capabilities"] if c in scored] if benches else link["capabilities"]
            for cap in [*trained, *benches]:
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


def _finals(summary: dict) -> list[str]:
    return [m for m in summary if m not in ("meta", "base") and "@" not in m]


def effects_between(runs: list[str | Path], against: list[str | Path], models: list[str] | None = None,
                    names: tuple[str, str] = ("runs", "against"), n_boot: int = 2000) -> list[dict[str, Any]]:
    """Each model of `runs` against the same model of `against`, run i paired with run i.

    Both sets must score the same held-out items (same eval settings); the delta is runs minus
    against, per capability and overall, paired on the items, bootstrapped over pairs and items.
    """
    a_runs, b_runs = [Path(r) for r in runs], [Path(r) for r in against]
    if not a_runs or len(a_runs) != len(b_runs):
        raise UserError(f"compare --against needs as many run directories on each side, in the same seed "
                        f"order (got {len(a_runs)} and {len(b_runs)})")
    a_sum, b_sum = _summary(a_runs[0]), _summary(b_runs[0])
    common = [m for m in _finals(a_sum) if m in _finals(b_sum)]
    chosen = models or common
    for m in chosen:
        for run, summary in ((a_runs[0], a_sum), (b_runs[0], b_sum)):
            if m not in summary:
                raise UserError(f"{run}: no model '{m}' (it has {', '.join(x for x in summary if x != 'meta')})")
    if not chosen:
        raise UserError(f"{a_runs[0]} and {b_runs[0]} share no trained model; name one with --model")
    caps = [*sorted(a_sum.get("base", {}).get("by_capability", {})), OVERALL]
    out = []
    for m in chosen:
        for cap in caps:
            res: dict[str, Any] = {"kind": "between", "label": f"{m}: {names[0]} vs {names[1]}", "before": m,
                                   "after": m, "capability": cap}
            for kind, field in METRICS.items():
                deltas = [paired_deltas(_scores(b, m, cap, field), _scores(a, m, cap, field))
                          for a, b in zip(a_runs, b_runs, strict=True)]
                if all(deltas):
                    res[kind] = bootstrap_ci(deltas, n_boot=n_boot)
                elif any(_scores(a, m, cap, field) for a in a_runs):
                    raise UserError(f"{a_runs[0]} and {b_runs[0]}: model '{m}' shares no held-out {cap} items "
                                    "across the two sets (were they evaluated with the same eval settings?)")
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
