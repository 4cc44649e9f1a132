"""The study's report: EXP/report.md (plots beside it) and EXP/report.html (one self-contained file).

Order: the claims table first (claim | contrast | effect [95% CI] | p | holds at this scale),
then arms x capabilities, contrasts, the 2x2, lengths, attribution, training curves, and the
design (budget per arm, settings that differ, known confounds). Both files are built from one
list of blocks, so they always say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seethink.experiment import plots
from seethink.experiment.arms import DESCRIPTIONS
from seethink.experiment.attribution import attribution_rows, category_rows, study_items
from seethink.experiment.claims import (
    FACTORIAL,
    VERDICT_RULE,
    Contrast,
    arm_table,
    claims,
    factorial,
    primary_metric,
    versus,
)
from seethink.experiment.render import Block, write_pages
from seethink.experiment.results import OVERALL, Study, load_study
from seethink.experiment.sweep import is_sweep, sweep_settings, write_sweep_report


def _ci(s: dict | None, key: str = "delta", unit: str = "") -> str:
    if not s:
        return "-"
    return f"{s[key]:+.1f}{unit} [{s['ci_low']:+.1f}, {s['ci_high']:+.1f}]"


def _mean(s: dict | None) -> str:
    return f"{s['mean']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}]" if s else "-"


def _p(s: dict | None) -> str:
    if not s or s.get("p") is None:
        return "-"
    return "<0.001" if s["p"] < 0.001 else f"{s['p']:.3f}"


def _design(s: dict | None) -> str:
    return f"{s['runs']} x {s['items']}" if s else "-"


def _contrast_text(c: Contrast) -> str:
    if c.a in ("staging", "difficulty"):
        return "2x2 main effect"
    return f"{c.a} - {c.b}" + (f" ({c.capability})" if c.capability != OVERALL else "")


def claims_blocks(rows: list[Contrast], metric: str) -> list[Block]:
    head = ["claim", "what is compared", "contrast", "effect [95% CI]", "p", "seeds x items", "MDE",
            "holds at this scale"]
    body = []
    for c in rows:
        unit = "%" if c.kind in ("length", "think_length") else ""
        miss = f" (arms missing: {', '.join(c.missing)})" if c.missing else ""
        body.append([c.claim, c.label, _contrast_text(c), _ci(c.stat, unit=unit), _p(c.stat), _design(c.stat),
                     f"{c.stat['mde']:.1f}{unit}" if c.stat and c.stat.get("mde") is not None else "-",
                     c.verdict + miss])
    first = next((c.stat for c in rows if c.stat), None)
    how = (f"Accuracy effects are points of {metric} accuracy (arm A - arm B), paired on the same held-out items "
           "in the same seeds; length effects are the relative change of mean tokens.")
    if first:
        how += f" Interval: {first.get('method', '')}. p-value: {first.get('p_method', '')}."
    return [("h", "Claims"), ("table", head, body), ("p", how), ("p", VERDICT_RULE)]


def arms_blocks(study: Study, rows: list[dict]) -> list[Block]:
    caps = [*study.capabilities, OVERALL]
    out: list[Block] = [("h", "Arms x capabilities")]
    for metric in ("greedy", "sampled"):
        if metric == "sampled" and not study.sampled:
            continue
        head = ["arm", "seeds", *caps]
        body = [[r["arm"], str(r["seeds"]), *(_mean(r.get(f"{metric}/{c}")) for c in caps)] for r in rows]
        out += [("p", f"{metric.capitalize()} accuracy (%), mean over seeds [95% interval over seeds and items]."),
                ("table", head, body), ("img", f"accuracy_{metric}", plots.accuracy_bars(rows, study.capabilities,
                                                                                           metric))]
    return out


def contrast_blocks(title: str, rows: list[Contrast]) -> list[Block]:
    head = ["contrast", "capability", "effect [95% CI]", "p", "seeds x items"]
    body = [[f"{c.a} - {c.b}", c.capability, _ci(c.stat), _p(c.stat), _design(c.stat)] for c in rows if c.stat]
    if not body:
        return []
    return [("h", title), ("table", head, body), ("img", title.lower().replace(" ", "_"),
                                                  plots.contrast_forest(rows, title))]


def factorial_blocks(study: Study) -> list[Block]:
    f = factorial(study)
    if f is None:
        missing = [a for a in FACTORIAL if a not in study.arms]
        return [("h", "Staging x difficulty (2x2)"), ("p", f"Not measured: arms missing: {', '.join(missing)}.")]
    head = ["capability", *FACTORIAL, "staging (main)", "ordering (main)", "interaction"]
    body = [[cap, *(_mean(r["cells"][a]) for a in FACTORIAL), _ci(r["main_a"]), _ci(r["main_b"]),
             _ci(r["interaction"])] for cap, r in f["rows"].items()]
    note = ("Staging main effect = mean of (capability_x_difficulty - difficulty) and (staged - merged); ordering "
            "main effect = mean of (capability_x_difficulty - staged) and (difficulty - merged); interaction = "
            "(capability_x_difficulty - difficulty) - (staged - merged). The two axes add up when both main effects "
            f"are positive and the interaction is near 0 ({f['metric']} accuracy, points).")
    return [("h", "Staging x difficulty (2x2)"), ("table", head, body), ("p", note)]


def length_blocks(study: Study) -> list[Block]:
    arms = ["base", *study.arms]
    head = ["arm", "capability", "response tokens: correct", "wrong", "<think> tokens: correct", "wrong"]
    body = []
    for arm in arms:
        seeds = [None] if arm == "base" else study.arm_seeds(arm)
        preds = [p for s in seeds for p in study.pred(arm, s).values()]
        for cap in [*study.capabilities, OVERALL]:
            ps = [p for p in preds if cap in (OVERALL, p["capability"])]

            def mean(field: str, ok: bool, ps: list[dict] = ps) -> str:
                xs = [p[field] for p in ps if bool(p["correct"]) == ok]
                return f"{np.mean(xs):.1f} (n={len(xs)})" if xs else "-"

            body.append([arm, cap, mean("response_tokens", True), mean("response_tokens", False),
                         mean("think_tokens", True), mean("think_tokens", False)])
    return [("h", "Response lengths"), ("p", "Greedy responses, all seeds pooled; tokens of the whole response and "
                                             "of its <think> part, split by correct and wrong answers."),
            ("table", head, body), ("img", "length_distributions", plots.length_hist(study, arms))]


def attribution_blocks(study: Study) -> tuple[list[Block], str]:
    """The attribution section, and one sentence for under the claims table."""
    from seethink.eval.attribution import PRIMARY_ORDER, primary_reading

    items = study_items(study)
    out: list[Block] = [("h", "Perception-error attribution (visual reasoning)")]
    if items is None:
        return out + [("p", "Not computed: the evaluated items could not be rebuilt from the saved recipe here.")], ""
    names, rows = attribution_rows(study, items)
    decided = [n for n in names if any(r.get("wrong") for r in rows[n])]
    if not decided:
        return out + [("p", "Not computed: the items' tasks define no attribution readings.")], ""
    primary = primary_reading(decided) if any(n in decided for n in PRIMARY_ORDER) else decided[0]
    head = ["reading", *(r["arm"] for r in rows[names[0]])]
    body = []
    for name in names:
        body.append([f"{name}: wrong answers flagged", *(_share(r.get("wrong")) for r in rows[name])])
        body.append([f"{name}: right answers flagged", *(_share(r.get("right")) for r in rows[name])])
    text = (f"Share (%) of the answers each reading flags as a perception error, mean over seeds [95% interval]; "
            f"the rate on right answers calibrates the reading (a reading that flags right answers as often as wrong "
            f"ones does not explain the errors). The claims use '{primary}' (see seethink.eval.attribution). The "
            "paper attributes 86.9% of its base model's wrong answers to perception.")
    line = (f"Perception errors ('{primary}' reading): share of wrong visual-reasoning answers that misread the "
            "image, " + "; ".join(f"{r['arm']} {_share(r.get('wrong'))}" for r in rows[primary])
            + " (right answers flagged: " + "; ".join(f"{r['arm']} {_share(r.get('right'))}" for r in rows[primary])
            + "). The paper reports 86.9% for its base model.")
    out += [("table", head, body), ("p", text), ("img", "attribution", plots.attribution_bars(rows[primary], primary))]
    return out + _category_blocks(study, items), line


def _category_blocks(study: Study, items: list[dict]) -> list[Block]:
    """Where each arm's wrong answers went wrong, when the items' task can tell."""
    from seethink.eval.attribution import CATEGORIES

    rows = category_rows(study, items)
    if not rows:
        return []
    head = ["arm", *CATEGORIES.values()]
    body = [[r["arm"], *(_share(r.get(c)) for c in CATEGORIES)] for r in rows]
    text = ("Where the wrong visual-reasoning answers went wrong: share (%) of each arm's wrong answers, mean over "
            "seeds [95% interval]. Saw the scene wrong: the account of the image the response opens with (the toy "
            "world's scene inventory) is not the image, and the facts the response then reasons with (the counts it "
            "lists) are wrong too. Misread its own description: that account is right but the facts disagree with "
            "it. Reasoned wrong on right facts: the facts are right (whatever else the account misread), the answer "
            "still wrong. Undecided: nothing of the kind to grade.")
    return [("table", head, body), ("p", text)]


def _share(s: dict | None) -> str:
    return f"{s['share']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}] (n={s['n']})" if s else "-"


def design_blocks(study: Study) -> list[Block]:
    head = ["arm", "what it trains", "stages (steps)", "total steps", "trained parameters", "lr", "KL", "vision tower"]
    body = []
    for arm in study.arms:
        unit = study.units[(arm, study.arm_seeds(arm)[0])]
        plan = unit.get("stages") or []
        params = {p.get("trained_params") for p in plan}
        body.append([arm, DESCRIPTIONS.get(arm, "custom arm" if plan else f"outside model {unit.get('outside_model')}"),
                     ", ".join(f"{p['stage']} {p['kind']} {p['steps']}" for p in plan) or "-",
                     str(unit.get("total_steps", 0)),
                     ", ".join(f"{x:,}" for x in sorted(params - {None})) or "-",
                     ", ".join(sorted({f"{p['learning_rate']:g}" for p in plan})) or "-",
                     ", ".join(f"{p['stage']} {p['beta']:g}" for p in plan) or "-",
                     ", ".join(sorted({"frozen" if p["freeze_vision"] else "trained" for p in plan})) or "-"])
    differ = _differences(study)
    notes = ["Every arm starts from the same base and is scored on the same held-out items with the same decoding. "
             "Seeds vary the RL runs only (training-item draw and sampling), from one base model: the intervals do "
             "not cover variation between base models."]
    if differ:
        notes.append("Settings that differ between arms (a confound wherever the contrast is not about them): "
                     + "; ".join(differ) + ".")
    return [("h", "Design"), ("table", head, body), *(("p", n) for n in notes)]


def _differences(study: Study) -> list[str]:
    out = []
    for key in ("learning_rate", "beta", "freeze_vision", "kind", "shuffle"):
        where: dict[str, list[str]] = {}
        for arm in study.arms:
            unit = study.units[(arm, study.arm_seeds(arm)[0])]
            for p in unit.get("stages") or []:
                where.setdefault(str(p[key]), []).append(f"{arm}/{p['stage']}")
        if len(where) > 1:
            out.append(f"{key}: " + ", ".join(f"{v} in {' '.join(w)}" for v, w in where.items()))
    return out


def build_blocks(study: Study) -> list[Block]:
    metric = primary_metric(study)
    seeds = ", ".join(map(str, study.seeds))
    blocks: list[Block] = [("title", "seethink experiment report"),
                           ("p", f"Directories: {', '.join(map(str, study.dirs))}. Arms: {', '.join(study.arms)}. "
                                 f"Seeds: {seeds}. Held-out items per capability: "
                                 f"{_items_per_cap(study)}. Primary metric: {metric} accuracy.")]
    attribution, attribution_line = attribution_blocks(study)
    blocks += claims_blocks(claims(study), metric)
    if attribution_line:
        blocks.append(("p", attribution_line))
    blocks += arms_blocks(study, arm_table(study))
    blocks += contrast_blocks("Every arm against the base", versus(study, "base"))
    if "merged" in study.arms:
        blocks += contrast_blocks("Every arm against merged", versus(study, "merged"))
    blocks += factorial_blocks(study)
    blocks += length_blocks(study)
    blocks += attribution
    blocks += [("h", "Training curves"), ("img", "training_curves", plots.training_curves(study, study.arms))]
    blocks += design_blocks(study)
    if study.notes:
        blocks += [("h", "Notes"), *(("p", n) for n in study.notes)]
    return blocks


def _items_per_cap(study: Study) -> str:
    base = study.preds[("base", None)].values()
    return ", ".join(f"{c} {sum(p['capability'] == c for p in base)}" for c in study.capabilities)


def write_experiment_report(dirs: Sequence[str | Path], out: str | Path | None = None) -> list[Path]:
    """Read the finished units of `dirs` (pooled) and write report.md and report.html (a sweep:
    one report per setting and a table across settings)."""
    dest = Path(out) if out is not None else Path(dirs[0])
    dest.mkdir(parents=True, exist_ok=True)
    if is_sweep(Path(dirs[0])):
        paths = [Path(d) for d in dirs]
        for name, subs in sweep_settings(paths):
            write_experiment_report(subs, out=dest / "settings" / name)
        return write_sweep_report(paths, dest)
    return write_pages(build_blocks(load_study(dirs)), dest)
