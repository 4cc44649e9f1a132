"""The paper's claims as named contrasts between arms, each with its interval, p-value and verdict.

A contrast is a paired difference on the same held-out items in the same seeds (arm A minus
arm B). Its verdict follows one rule, printed under the claims table: "yes" when the 95%
interval excludes zero in the paper's direction, "no" when it excludes zero the other way,
"unclear" otherwise, next to the minimum detectable effect at this design (seeds x items).
A claim whose arms are not in the study is listed as not measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seethink.eval import stats
from seethink.experiment.results import METRICS, OVERALL, Study

VERDICT_RULE = ("Verdict: 'yes' if the 95% interval excludes 0 in the paper's direction, 'no' if it excludes 0 "
                "the other way, 'unclear' otherwise; MDE = the smallest effect this design detects with 80% power "
                "at alpha 0.05.")


@dataclass
class Contrast:
    claim: str  # "1" .. "5", or "" for extra contrasts
    label: str
    a: str
    b: str
    capability: str = OVERALL
    kind: str = "accuracy"  # accuracy | length | think_length
    direction: int = 1  # +1: the paper says a > b; -1: a < b (shorter traces)
    stat: dict[str, Any] | None = None
    metric: str = ""
    missing: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.stat is None:
            return "not measured"
        lo, hi = (self.stat["ci_low"], self.stat["ci_high"])
        if self.direction * lo > 0 and self.direction * hi > 0:
            return "yes"
        if lo * hi > 0:
            return "no"
        return "unclear"


def claim_list(caps: list[str]) -> list[Contrast]:
    """The paper's five claims (and the contrasts that measure them), in the paper's order."""
    rows = [Contrast("1", "staged beats merged", "staged", "merged")]
    rows += [Contrast("1", f"staged beats merged on {c}", "staged", "merged", c) for c in caps]
    rows += [
        Contrast("2", "staged writes shorter responses than merged", "staged", "merged", kind="length", direction=-1),
        Contrast("2", "staged writes shorter <think> than merged", "staged", "merged", kind="think_length",
                 direction=-1),
        Contrast("3", "perception first beats text first (1-2-3 vs 2-1-3)", "staged", "text_first"),
        Contrast("3", "perception first beats the reverse order (1-2-3 vs 3-2-1)", "staged", "reversed"),
        Contrast("3", "a perception stage helps (1-2-3 vs 2-3)", "staged", "text_visual"),
        Contrast("3", "perception data helps merged training (perceptual tax)", "merged", "merged_reasoning"),
    ]
    for c in ("perception", "visual"):
        if c in caps:
            rows.append(Contrast("4", f"perception by RL beats caption SFT, on {c}", "staged", "caption_sft", c))
    rows += [
        Contrast("5", "staging helps (main effect, averaged over ordering)", "staging", "", kind="main_a"),
        Contrast("5", "easy -> hard ordering helps (main effect, averaged over staging)", "difficulty", "",
                 kind="main_b"),
        Contrast("5", "both together beat neither (capability_x_difficulty vs merged)", "capability_x_difficulty",
                 "merged"),
    ]
    return rows


FACTORIAL = ("capability_x_difficulty", "staged", "difficulty", "merged")  # (11, 10, 01, 00): staging x ordering


def primary_metric(study: Study) -> str:
    """Sampled accuracy (the reference protocol) when the study sampled, else greedy."""
    return "sampled" if study.sampled else "greedy"


def measure(study: Study, c: Contrast, metric: str) -> Contrast:
    """Fill the contrast's statistic from the study (or its list of missing arms)."""
    if c.kind in ("main_a", "main_b"):
        c.missing = [a for a in FACTORIAL if a not in study.arms]
        if not c.missing:
            tables, _ = study.table(list(FACTORIAL), c.capability, METRICS[metric])
            if tables and tables[0].size:
                res = stats.interaction(*tables)
                c.stat = res["main_a" if c.kind == "main_a" else "main_b"]
                c.metric = metric
        return c
    c.missing = [a for a in (c.a, c.b) if a != "base" and a not in study.arms]
    if c.missing:
        return c
    if c.kind == "accuracy":
        tables, _ = study.table([c.a, c.b], c.capability, METRICS[metric])
        if tables and tables[0].size:
            c.stat = stats.contrast(tables[0] - tables[1])
            c.metric = metric
    else:
        field_name = "response_tokens" if c.kind == "length" else "think_tokens"
        tables, _ = study.table([c.a, c.b], c.capability, field_name)
        if tables and tables[0].size and tables[1].sum() > 0:
            st = stats.relative_change(tables[0], tables[1])
            c.stat = {**st, "delta": st["change_pct"]}
            c.metric = "tokens, relative change %"
    return c


def claims(study: Study) -> list[Contrast]:
    metric = primary_metric(study)
    rows = claim_list(study.capabilities)
    for extra in study.config.get("experiment", {}).get("contrasts", []) or []:
        a, _, b = (x.strip() for x in str(extra).partition("-"))
        rows.append(Contrast("", f"{a} vs {b}", a, b))
    return [measure(study, c, metric) for c in rows]


def arm_table(study: Study) -> list[dict[str, Any]]:
    """Arm x capability (and overall): mean accuracy over seeds with its interval, per metric."""
    out = []
    for arm in ["base", *study.arms]:
        row: dict[str, Any] = {"arm": arm, "seeds": len(study.arm_seeds(arm)) if arm != "base" else 1}
        for metric, field_name in METRICS.items():
            if metric == "sampled" and not study.sampled:
                continue
            for cap in [*study.capabilities, OVERALL]:
                tables, ids = study.table([arm], cap, field_name)
                if tables and tables[0].size:
                    row[f"{metric}/{cap}"] = stats.mean_ci(tables[0])
        out.append(row)
    return out


def versus(study: Study, ref: str) -> list[Contrast]:
    """Every arm against `ref` (the base, or merged) on every capability and overall."""
    metric = primary_metric(study)
    rows = []
    for arm in study.arms:
        if arm == ref:
            continue
        for cap in [*study.capabilities, OVERALL]:
            rows.append(measure(study, Contrast("", f"{arm} vs {ref}", arm, ref, cap), metric))
    return rows


def factorial(study: Study) -> dict[str, Any] | None:
    """The 2x2 of staging x difficulty ordering, per capability and overall."""
    if any(a not in study.arms for a in FACTORIAL):
        return None
    metric = primary_metric(study)
    out: dict[str, Any] = {"metric": metric, "rows": {}}
    for cap in [*study.capabilities, OVERALL]:
        tables, ids = study.table(list(FACTORIAL), cap, METRICS[metric])
        if tables and tables[0].size:
            out["rows"][cap] = {"cells": {a: stats.mean_ci(t) for a, t in zip(FACTORIAL, tables, strict=True)},
                                **stats.interaction(*tables)}
    return out
