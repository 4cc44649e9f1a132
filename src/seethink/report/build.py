"""report.md (and plots) from a run directory's summary.json and metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from seethink.errors import UserError
from seethink.report.plots import MODEL_ORDER, accuracy_bars, length_bars, reward_curves
from seethink.utils import atomic_write_text, read_jsonl


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _delta(a: float, b: float) -> str:
    d = a - b
    return f"{'+' if d >= 0 else ''}{d:.1f}"


def _caps_header(caps: list[str]) -> list[str]:
    return ["| model | " + " | ".join(caps) + " | overall |", "|---|" + "---|" * (len(caps) + 1)]


def _accuracy_section(summary: dict, models: list[str], caps: list[str]) -> list[str]:
    """Held-out counts and each model's greedy accuracy, with the majority-answer baseline."""
    meta = summary.get("meta", {})
    counts = ", ".join(f"{c} {summary[models[0]]['by_capability'][c]['n']}" for c in caps)
    lines = [
        f"Held-out items: {meta.get('eval_items', '?')} ({counts}); "
        f"greedy decoding. Stage order (staged): {' -> '.join(meta.get('stages', []))}.",
        "",
        "## Accuracy (%)",
        "",
        *_caps_header(caps),
    ]
    for m in models:
        bc = summary[m]["by_capability"]
        lines.append(f"| {m} | " + " | ".join(_fmt(bc[c]["accuracy"]) for c in caps) +
                     f" | {_fmt(summary[m]['accuracy'])} |")
    lines.append("| majority-answer baseline | " + " | ".join(
        _fmt(summary[models[0]]["by_capability"][c]["majority_baseline"]) for c in caps) + " | |")
    return lines


def _sampled_section(summary: dict, sampled: list[str], caps: list[str]) -> list[str]:
    """Accuracy of the sampled answers, for the models scored that way."""
    if not sampled:
        return []
    meta = summary.get("meta", {})
    lines = ["", f"## Sampled accuracy (%): {meta.get('samples', '?')} samples per item, temperature "
             f"{meta.get('temperature', '?')}, top-p {meta.get('top_p', '?')}", "", *_caps_header(caps)]
    for m in sampled:
        bc = summary[m]["by_capability"]
        lines.append(f"| {m} | " + " | ".join(_fmt(bc[c]["sampled_accuracy"]) for c in caps) +
                     f" | {_fmt(summary[m].get('sampled_accuracy'))} |")
    return lines


def _change_section(summary: dict, models: list[str], sampled: list[str], caps: list[str]) -> list[str]:
    """Each model's accuracy minus the base model's, greedy and, where scored, sampled."""
    base = summary.get("base")
    if not base:
        return []
    lines: list[str] = []
    # Greedy and, where scored, sampled: the reference protocol is the sampled one.
    kinds = [("", "accuracy")] + ([(", sampled", "sampled_accuracy")] if "base" in sampled else [])
    for label, field in kinds:
        lines += ["", f"## What RL changed (points vs base{label})", "", *_caps_header(caps)]
        for m in models:
            if m == "base" or (field != "accuracy" and m not in sampled):
                continue
            bc, bb = summary[m]["by_capability"], base["by_capability"]
            overall = ("-" if summary[m].get(field) is None or base.get(field) is None
                       else _delta(summary[m][field], base[field]))
            lines.append(f"| {m} | " + " | ".join(_delta(bc[c][field], bb[c][field]) for c in caps) +
                         f" | {overall} |")
    return lines


def _length_section(summary: dict, models: list[str]) -> list[str]:
    lines = ["", "## Response length (tokens)", "", "| model | response | `<think>` part | format ok (%) |",
             "|---|---|---|---|"]
    for m in models:
        s = summary[m]
        lines.append(f"| {m} | {_fmt(s['mean_response_tokens'])} | {_fmt(s['mean_think_tokens'])} | "
                     f"{_fmt(s['format'])} |")
    return lines


def _ablation_section(summary: dict, models: list[str]) -> list[str]:
    """Image items scored with real, blank and shuffled images, for the models that were."""
    abl = [m for m in models if "ablation" in summary[m]]
    if not abl:
        return []
    img_caps = sorted({c for m in abl for c in summary[m]["ablation"].get("blank", {})})
    lines = ["", "## Does the model look at the image? (accuracy %, image items)", "",
             "| model | " + " | ".join(f"{c}: real / blank / shuffled" for c in img_caps) + " |",
             "|---|" + "---|" * len(img_caps)]
    for m in abl:
        a = summary[m]["ablation"]
        cells = [
            f"{_fmt(summary[m]['by_capability'][c]['accuracy'])} / {_fmt(a['blank'].get(c))} / "
            f"{_fmt(a['shuffled'].get(c))}"
            for c in img_caps
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + ["", "A model that uses its image loses accuracy with blank or shuffled images; one that "
                    "ignores it scores the same."]


def _closing_sections(meta: dict, plots: dict[str, str], effects_md: str) -> list[str]:
    """Effects with intervals, time per part and plots, each where there is any."""
    lines: list[str] = []
    if effects_md:
        lines += ["", "## Effects with 95% intervals", "", effects_md.rstrip("\n")]
    secs = meta.get("seconds", {})
    if secs:
        lines += ["", "## Time (seconds)", "", "| part | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in secs.items()]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({rel})" for name, rel in plots.items()]
    return lines


def render_markdown(summary: dict, plots: dict[str, str], effects_md: str = "") -> str:
    meta = summary.get("meta", {})
    models = [m for m in MODEL_ORDER if m in summary] + sorted(
        k for k in summary if k not in MODEL_ORDER and k != "meta"
    )
    caps = sorted({c for m in models for c in summary[m].get("by_capability", {})})
    lines = [f"# seethink report: {meta.get('recipe', 'run')}", ""]
    if not models:  # neither toy tasks nor benchmarks: nothing was evaluated
        return "\n".join(lines + ["Nothing was evaluated: the recipe trains no toy task and names no benchmark "
                                   "(set `eval.benchmarks` and `eval.data_root`, or `eval.toy: true`).", ""])
    lines += _accuracy_section(summary, models, caps)
    sampled = [m for m in models if all("sampled_accuracy" in summary[m]["by_capability"].get(c, {}) for c in caps)]
    lines += _sampled_section(summary, sampled, caps)
    lines += _change_section(summary, models, sampled, caps)
    lines += _length_section(summary, models)
    lines += _ablation_section(summary, models)
    lines += _inventory_section(summary, models)
    lines += _benchmark_section(summary, models)
    lines += _closing_sections(meta, plots, effects_md)
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | Path) -> Path:
    run = Path(run_dir)
    sp = run / "summary.json"
    if not sp.is_file():
        raise UserError(f"{run}: no summary.json (has the run finished its evaluation?)")
    summary = json.loads(sp.read_text())
    plots_dir = run / "plots"
    plots_dir.mkdir(exist_ok=True)
    plots: dict[str, str] = {}
    mp = run / "metrics.jsonl"
    if mp.is_file() and reward_curves(read_jsonl(mp), plots_dir / "reward_curves.png"):
        plots["reward curves"] = "plots/reward_curves.png"
    accuracy_bars(summary, plots_dir / "accuracy.png")
    plots["accuracy"] = "plots/accuracy.png"
    length_bars(summary, plots_dir / "response_length.png")
    plots["response length"] = "plots/response_length.png"
    from seethink.report.effects import effects, effects_markdown

    try:
        effects_md = effects_markdown(effects([run]))
    except UserError:  # predictions missing (e.g. a summary written by hand): report without effects
        effects_md = ""
    out = run / "report.md"
    atomic_write_text(out, render_markdown(summary, plots, effects_md))
    return out


def _inventory_section(summary: dict, models: list[str]) -> list[str]:
    """How often each model read the scene right (toy items with a scene inventory)."""
    def inv(m: str, c: str) -> float | None:
        return summary[m]["by_capability"].get(c, {}).get("inventory_accuracy")

    caps = sorted({c for m in models for c in summary[m]["by_capability"] if inv(m, c) is not None})
    if not caps:
        return []
    lines = ["", "## Is the scene read right? (% of image items whose response opens with the exact scene "
             "inventory)", "", "| model | " + " | ".join(caps) + " |", "|---|" + "---|" * len(caps)]
    lines += [f"| {m} | " + " | ".join(_fmt(inv(m, c)) for c in caps) + " |" for m in models]
    return lines + ["", "A right inventory followed by a wrong answer is a reasoning error, not a perception error."]


def _benchmark_section(summary: dict, models: list[str]) -> list[str]:
    """Each benchmark's official score per model, and the protocol that produced it."""
    names = list(dict.fromkeys(b for m in models for b in summary[m].get("benchmarks", {})))
    if not names:
        return []
    ev = summary.get("meta", {}).get("eval", {})
    sampled = any("sampled_accuracy" in summary[m].get("benchmarks", {}).get(b, {}) for m in models for b in names)
    lines = ["", f"## Benchmarks (official scorers; {ev.get('protocol', 'unified')} protocol, "
             f"{ev.get('dtype', '?')} on {ev.get('device', '?')})", "",
             "Accuracy (%) " + ("greedy / sampled" if sampled else "greedy") + "; protocol per number in brackets.",
             "", "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for m in models:
        cells = []
        for b in names:
            r = summary[m].get("benchmarks", {}).get(b)
            if r is None:
                cells.append("-")
                continue
            text = _fmt(r.get("accuracy"))
            if "sampled_accuracy" in r:
                text += f" / {_fmt(r['sampled_accuracy'])}"
            cells.append(f"{text} [{r.get('protocol', '?')}] (n={r.get('total', '?')})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + ["", "Per-item verdicts are in `eval/MODEL/bench/NAME/predictions.jsonl` (capability "
                    "`bench:NAME` in the tables above); `seethink score NAME eval/MODEL/bench/NAME/<results file>` "
                    "re-scores a benchmark."]
