"""Plots of a study as PNG bytes (the HTML report embeds them; the Markdown report links files)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seethink.experiment.results import OVERALL, Study  # noqa: E402


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _err(pairs: list[list[float]]) -> np.ndarray:
    """Error-bar lengths (2, N) below and above each value. An interval resampled around a share
    at 0 or 100% can sit a rounding step off the point itself; matplotlib refuses negative
    lengths, so those become 0 (the bar then shows the side that exists)."""
    return np.clip(np.array(pairs, dtype=float).reshape(-1, 2).T, 0.0, None)


def accuracy_bars(arm_rows: list[dict], caps: list[str], metric: str) -> bytes:
    """Arm x capability accuracy with 95% intervals (error bars)."""
    groups = [*caps, OVERALL]
    arms = [r["arm"] for r in arm_rows]
    width = 0.8 / max(1, len(arms))
    fig, ax = plt.subplots(figsize=(2.2 * len(groups) + 2.5, 3.8))
    for i, r in enumerate(arm_rows):
        stats = [r.get(f"{metric}/{c}") for c in groups]
        means = [s["mean"] if s else 0.0 for s in stats]
        err = _err([[s["mean"] - s["ci_low"], s["ci_high"] - s["mean"]] if s else [0, 0] for s in stats])
        xs = [g + (i - (len(arms) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, means, width, yerr=err, capsize=2, label=r["arm"])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(f"{metric} accuracy (%)")
    ax.set_title(f"Accuracy per arm ({metric}), mean over seeds, 95% interval")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def contrast_forest(rows: list[Any], title: str) -> bytes:
    """Each contrast's effect with its 95% interval, one line per contrast."""
    shown = [c for c in rows if c.stat is not None]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shown) + 1.2))
    for y, c in enumerate(reversed(shown)):
        s = c.stat
        ax.errorbar([s["delta"]], [y], xerr=[[s["delta"] - s["ci_low"]], [s["ci_high"] - s["delta"]]], fmt="o",
                    color="tab:blue" if c.verdict == "yes" else "tab:red" if c.verdict == "no" else "gray")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(shown)), [f"{c.label} ({c.capability})" for c in reversed(shown)], fontsize=7)
    ax.set_xlabel("effect (points, or % for lengths)")
    ax.set_title(title)
    return _png(fig)


def length_hist(study: Study, arms: list[str]) -> bytes:
    """Response-length distributions per arm, correct and wrong answers apart (greedy)."""
    fig, axes = plt.subplots(1, len(arms), figsize=(2.6 * len(arms) + 1, 2.8), squeeze=False, sharey=True)
    for ax, arm in zip(axes[0], arms, strict=True):
        seeds = [None] if arm == "base" else study.arm_seeds(arm)
        preds = [p for s in seeds for p in study.pred(arm, s).values()]
        for ok, colour in ((True, "tab:green"), (False, "tab:red")):
            xs = [p["response_tokens"] for p in preds if bool(p["correct"]) == ok]
            if xs:
                ax.hist(xs, bins=20, alpha=0.55, color=colour, label="correct" if ok else "wrong", density=True)
        ax.set_title(arm, fontsize=8)
        ax.set_xlabel("response tokens", fontsize=7)
    axes[0][0].legend(fontsize=7)
    return _png(fig)


def attribution_bars(rows: list[dict], reading: str) -> bytes:
    """Share of wrong (and, for calibration, right) visual answers flagged as perception errors."""
    arms = [r["arm"] for r in rows]
    fig, ax = plt.subplots(figsize=(1.1 * len(arms) + 2.5, 3.2))
    for k, (side, colour) in enumerate((("wrong", "tab:red"), ("right", "tab:gray"))):
        vals = [r[side]["share"] if r.get(side) else 0.0 for r in rows]
        err = _err([[r[side]["share"] - r[side]["ci_low"], r[side]["ci_high"] - r[side]["share"]]
                    if r.get(side) else [0, 0] for r in rows])
        ax.bar([i + (k - 0.5) * 0.38 for i in range(len(arms))], vals, 0.38, yerr=err, capsize=2, color=colour,
               label=f"{side} answers flagged")
    ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("% flagged as perception error")
    ax.set_title(f"Perception-error attribution ('{reading}' reading)")
    ax.legend(fontsize=7)
    return _png(fig)


def training_curves(study: Study, arms: list[str]) -> bytes:
    """Training reward per arm against optimizer steps across its stages, mean over seeds."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for arm in arms:
        series = []
        for s in study.arm_seeds(arm):
            rows = [r for r in study.curves.get((arm, s), []) if "reward" in r]
            stages: list[str] = []
            for r in rows:
                if r["stage"] not in stages:
                    stages.append(r["stage"])
            offset, pts = 0, {}
            for st in stages:
                steps = [r for r in rows if r["stage"] == st]
                for r in steps:
                    pts[offset + int(r["step"])] = float(r["reward"])
                offset += max((int(r["step"]) for r in steps), default=0)
            series.append(pts)
        common = sorted(set.intersection(*(set(p) for p in series))) if series else []
        if common:
            ys = np.array([[p[x] for x in common] for p in series]).mean(axis=0)
            k = max(1, len(common) // 60)  # a running mean keeps 500-step curves readable
            smooth = np.convolve(ys, np.ones(k) / k, mode="valid")
            ax.plot(common[: len(smooth)], smooth, label=arm, linewidth=1)
    ax.set_xlabel("optimizer step (stages one after another)")
    ax.set_ylabel("training reward")
    ax.set_title("Training reward per arm (mean over seeds, running mean)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    return _png(fig)
