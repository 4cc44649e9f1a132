"""The report of a sweep (`experiment.settings`): one row per setting, and the dose-response plot.

For the toy world's perception-difficulty dial: does the staged-vs-merged difference grow as
the base's wrong answers are more often perception errors? Each setting is a whole experiment
(its own base, arms and seeds) in EXP/settings/NAME with its own report; this page sets them
side by side: the base's perception-error share, its accuracy per capability, staged - merged
per capability, and the perception stage's effect on perception (when `eval.stages` kept the
staged arm's intermediate checkpoints' evaluations).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seethink.eval import stats
from seethink.experiment.attribution import attribution_rows, study_items
from seethink.experiment.claims import Contrast, measure, primary_metric
from seethink.experiment.render import write_pages
from seethink.experiment.results import METRICS, OVERALL, Study, load_study


def is_sweep(d: Path) -> bool:
    path = d / "experiment.yaml"
    cfg = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return bool((cfg or {}).get("experiment", {}).get("settings"))


def _perception_share(study: Study) -> dict | None:
    from seethink.eval.attribution import PRIMARY_ORDER, primary_reading

    items = study_items(study)
    if items is None:
        return None
    names, rows = attribution_rows(study, items)
    decided = [n for n in names if any(r.get("wrong") for r in rows[n])]
    if not decided:
        return None
    reading = primary_reading(decided) if any(n in decided for n in PRIMARY_ORDER) else decided[0]
    base = next(r for r in rows[reading] if r["arm"] == "base")
    return {"reading": reading, **(base.get("wrong") or {})} if base.get("wrong") else None


def _stage_effect(study: Study, capability: str = "perception") -> dict | None:
    """The staged arm's first stage against the base on `capability`, paired over seeds and items."""
    metric = METRICS[primary_metric(study)]
    keys = sorted(k for k in study.stage_preds if k[0] == "staged" and k[2].startswith("01-"))
    if not keys:
        return None
    base = study.pred("base", None)
    ids = sorted(set.intersection(*({i for i, p in study.stage_preds[k].items() if p["capability"] == capability
                                     and metric in p} for k in keys)) & set(base))
    if not ids:
        return None
    after = np.array([[float(study.stage_preds[k][i][metric]) for i in ids] for k in keys])
    before = np.array([[float(base[i][metric]) for i in ids]] * len(keys))
    return stats.contrast(after - before)


def _base_readings(study: Study) -> dict[str, dict]:
    """Every attribution reading of the base: flagged share of its wrong and of its right answers.

    The right-answer rate calibrates a reading: one that flags most right answers does not
    measure perception (the dial's report shows every reading beside the one it uses)."""
    items = study_items(study)
    if items is None:
        return {}
    names, rows = attribution_rows(study, items)
    out = {}
    for n in names:
        base = next((r for r in rows[n] if r["arm"] == "base"), None)
        if base is not None:
            out[n] = {"wrong": base.get("wrong"), "right": base.get("right")}
    return out


def _majority(study: Study, capability: str) -> float | None:
    """Accuracy (%) of always giving the most common answer among the held-out items."""
    answers = [str(p["answer"]) for p in study.pred("base", None).values()
               if p["capability"] == capability and "answer" in p]
    if not answers:
        return None
    return 100.0 * max(answers.count(a) for a in set(answers)) / len(answers)


def _reward_spread(study: Study, arm: str = "staged") -> dict[str, float]:
    """Per stage of `arm`, the mean share of GRPO groups whose rewards differ (1 - TRL's
    frac_reward_zero_std), over steps and seeds: the only groups GRPO's advantages learn from.
    The signal margin asks whether the base beats guessing; this says whether RL had rewards to
    compare, which a base can have even below the margin."""
    by_stage: dict[str, list[float]] = {}
    for (a, _seed), rows in sorted(study.curves.items(), key=lambda kv: str(kv[0])):
        if a != arm:
            continue
        for r in rows:
            if r.get("frac_zero_std_groups") is not None and r.get("stage"):
                by_stage.setdefault(r["stage"], []).append(1.0 - float(r["frac_zero_std_groups"]))
    return {st: float(np.mean(v)) for st, v in by_stage.items()}


def dial_row(name: str, study: Study) -> dict[str, Any]:
    metric = primary_metric(study)
    row: dict[str, Any] = {"setting": name, "metric": metric, "share": _perception_share(study),
                           "stage_effect": _stage_effect(study), "base": {}, "staged_vs_merged": {},
                           "readings": _base_readings(study), "spread": _reward_spread(study),
                           "majority": {c: _majority(study, c) for c in study.capabilities}}
    for cap in [*study.capabilities, OVERALL]:
        tables, _ = study.table(["base"], cap, METRICS[metric])
        if tables and tables[0].size:
            row["base"][cap] = stats.mean_ci(tables[0])
        c = measure(study, Contrast("1", "staged - merged", "staged", "merged", cap), metric)
        row["staged_vs_merged"][cap] = c.stat
    return row


def _fmt(s: dict | None, key: str = "delta") -> str:
    return f"{s[key]:+.1f} [{s['ci_low']:+.1f}, {s['ci_high']:+.1f}]" if s else "-"


def _share_cell(row: dict) -> str:
    """The base's perception-error share, its reading, and that reading's rate on right answers
    (its calibration: a share means little when right answers are flagged as often)."""
    share = row["share"]
    if not share:
        return "-"
    right = (row.get("readings", {}).get(share["reading"]) or {}).get("right")
    calibration = f"; right answers {right['share']:.1f}" if right else ""
    return f"{share['share']:.1f} [{share['ci_low']:.1f}, {share['ci_high']:.1f}] ({share['reading']}{calibration})"


def dial_blocks(rows: list[dict], caps: list[str]) -> list[tuple]:
    from seethink.experiment.plots import _png, plt

    head = ["setting", "base perception-error share", *(f"base {c}" for c in caps),
            *(f"staged - merged {c}" for c in [*caps, OVERALL]), "perception stage on perception"]
    body = []
    for r in rows:
        body.append([r["setting"], _share_cell(r),
                     *(f"{r['base'][c]['mean']:.1f}" if c in r["base"] else "-" for c in caps),
                     *(_fmt(r["staged_vs_merged"].get(c)) for c in [*caps, OVERALL]), _fmt(r["stage_effect"])])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in rows:
        s, d = r["share"], r["staged_vs_merged"].get(OVERALL)
        if s and d:
            ax.errorbar([s["share"]], [d["delta"]], yerr=[[d["delta"] - d["ci_low"]], [d["ci_high"] - d["delta"]]],
                        xerr=[[s["share"] - s["ci_low"]], [s["ci_high"] - s["share"]]], fmt="o")
            ax.annotate(r["setting"], (s["share"], d["delta"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("base: % of wrong visual answers that misperceived")
    ax.set_ylabel("staged - merged, overall (points)")
    ax.set_title("Does staging pay more where perception is the bottleneck?")
    note = ("One row per setting of the sweep; each setting has its own base and its own report in settings/NAME. "
            "Effects are paired differences with 95% intervals over seeds and items; the perception-error share is "
            "the base's, with the reading named and the share of the base's right answers that reading flags.")
    return [("title", "seethink sweep report"), ("table", head, body), ("p", note), ("img", "dial", _png(fig)),
            *signal_blocks(rows, caps), *readings_blocks(rows)]


SIGNAL_MARGIN = 10.0  # points above the majority answer a base needs for RL to have signal


def signal_blocks(rows: list[dict], caps: list[str]) -> list[tuple]:
    """Does each setting's base earn reward? Its accuracy against the majority-answer baseline."""
    stages = list(dict.fromkeys(st for r in rows for st in r.get("spread", {})))
    head = ["setting", *(f"base {c} [95% CI] / majority" for c in caps), "RL has signal",
            *(f"groups with reward spread, staged {st} stage" for st in stages)]
    body = []
    for r in rows:
        cells, ok = [], True
        for c in caps:
            b, m = r["base"].get(c), r["majority"].get(c)
            if b is None or m is None:
                cells.append("-")
                ok = False
                continue
            cells.append(f"{b['mean']:.1f} [{b['ci_low']:.1f}, {b['ci_high']:.1f}] / {m:.1f}")
            ok = ok and b["mean"] >= m + SIGNAL_MARGIN and b["ci_low"] > m
        spread = r.get("spread", {})
        body.append([r["setting"], *cells, "yes" if ok else "no",
                     *(f"{spread[st]:.2f}" if st in spread else "-" for st in stages)])
    note = (f"RL has signal where, on every capability, the base's accuracy is at least {SIGNAL_MARGIN:.0f} points "
            "above always giving the most common answer and its 95% interval excludes that baseline.")
    if stages:
        note += (" Groups with reward spread: the mean share of the staged arm's GRPO groups (over steps and "
                 "seeds) whose rewards differ, the only groups GRPO learns from.")
    return [("h", "The bases: is there reward to learn from?"), ("table", head, body), ("p", note)]


def readings_blocks(rows: list[dict]) -> list[tuple]:
    """Every perception-error reading of each base, on wrong answers and, to calibrate, on right ones."""
    head = ["setting", "reading", "wrong answers flagged [95% CI] (n)", "right answers flagged (n)"]
    body = []
    for r in rows:
        for name, sides in r.get("readings", {}).items():
            w, rt = sides.get("wrong"), sides.get("right")
            body.append([r["setting"], name,
                         f"{w['share']:.1f} [{w['ci_low']:.1f}, {w['ci_high']:.1f}] ({w['n']})" if w else "-",
                         f"{rt['share']:.1f} ({rt['n']})" if rt else "-"])
    note = ("A reading that flags most right answers too is not measuring perception. The dial table uses "
            "`misseen_facts` where the worked solutions carry a scene inventory (a wrong inventory whose errors "
            "reached the counts the answer reasoned with), else the sub-question probe.")
    return [("h", "The bases' perception-error readings"), ("table", head, body), ("p", note)]


def sweep_settings(dirs: Sequence[Path]) -> list[tuple[str, list[Path]]]:
    """(name, its experiment directories) of every setting that has finished units, in sweep order."""
    cfg = yaml.safe_load((dirs[0] / "experiment.yaml").read_text())
    out: list[tuple[str, list[Path]]] = []
    for st in cfg["experiment"]["settings"]:
        subs = [d / "settings" / st["name"] for d in dirs if (d / "settings" / st["name"] / "units" / "base").is_dir()]
        if subs:
            out.append((st["name"], subs))
    return out


def write_sweep_report(dirs: Sequence[Path], out: Path) -> list[Path]:
    """OUT/report.md and report.html across the settings (each setting's own report is written by
    `seethink.experiment.report.write_experiment_report`)."""
    rows: list[dict] = []
    caps: list[str] = []
    for name, subs in sweep_settings(dirs):
        study = load_study(subs)
        caps = caps or study.capabilities
        rows.append(dial_row(name, study))
    return write_pages(dial_blocks(rows, caps), out)
