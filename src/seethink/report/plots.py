"""PNG plots of a run: reward curves per stage, accuracy and response length per model."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless machines
import matplotlib.pyplot as plt  # noqa: E402

from seethink.utils import atomic_file  # noqa: E402

MODEL_ORDER = ("base", "merged", "staged")


def _models(summary: dict) -> list[str]:
    names = [m for m in MODEL_ORDER if m in summary]
    return names + sorted(k for k in summary if k not in names and k != "meta")


def reward_curves(rows: list[dict], path: Path) -> Path | None:
    """One panel per variant; the staged panel colours each stage and numbers steps across stages."""
    variants = sorted({r["variant"] for r in rows if "reward" in r})
    if not variants:
        return None
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 3.6), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        offset = 0
        stages: list[str] = []
        for r in rows:
            if r["variant"] == variant and r["stage"] not in stages:
                stages.append(r["stage"])
        for stage in stages:
            pts = [r for r in rows if r["variant"] == variant and r["stage"] == stage and "reward" in r]
            xs = [offset + r["step"] for r in pts]
            ax.plot(xs, [r["reward"] for r in pts], marker=".", label=f"{stage} reward")
            if pts and "accuracy" in pts[0]:
                ax.plot(xs, [r.get("accuracy", 0) for r in pts], linestyle=":", alpha=0.7,
                        label=f"{stage} accuracy")
            offset = max(xs, default=offset)
        ax.set_title(f"{variant}: training reward")
        ax.set_xlabel("optimizer step")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_file(path) as tmp:  # a killed report never leaves half a PNG
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _grouped_bars(summary: dict, key: str, title: str, ylabel: str, path: Path) -> Path:
    models = _models(summary)
    caps = sorted({c for m in models for c in summary[m].get("by_capability", {})})
    groups = [*caps, "overall"]
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(1.8 * len(groups) + 2, 3.6))
    for i, m in enumerate(models):
        vals = [summary[m]["by_capability"].get(c, {}).get(key, 0.0) for c in caps] + [summary[m].get(key, 0.0)]
        xs = [g + i * width for g in range(len(groups))]
        bars = ax.bar(xs, vals, width=width, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks([g + width * (len(models) - 1) / 2 for g in range(len(groups))], groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_file(path) as tmp:  # a killed report never leaves half a PNG
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def accuracy_bars(summary: dict, path: Path) -> Path:
    return _grouped_bars(summary, "accuracy", "Held-out accuracy", "accuracy (%)", path)


def length_bars(summary: dict, path: Path) -> Path:
    return _grouped_bars(summary, "mean_response_tokens", "Mean response length", "tokens", path)
