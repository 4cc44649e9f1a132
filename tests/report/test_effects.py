"""Stage and model effects from run directories, and `seethink compare`."""

from __future__ import annotations

import json
from pathlib import Path

from seethink.report.effects import comparisons, effects, effects_markdown


def _fake_run(root: Path, gain: int) -> Path:
    """A run whose perception stage fixes `gain` of 10 perception items; nothing else moves."""
    models = ["base", "staged@perception", "staged", "merged"]
    summary = {m: {"by_capability": {"perception": {}, "visual": {}}} for m in models}
    summary["meta"] = {"chains": {
        "staged": [{"stage": "perception", "capabilities": ["perception"], "before": "base",
                    "after": "staged@perception"},
                   {"stage": "visual", "capabilities": ["visual"], "before": "staged@perception",
                    "after": "staged"}],
        "merged": [{"stage": "merged", "capabilities": ["perception", "visual"], "before": "base",
                    "after": "merged"}],
    }}
    root.mkdir(parents=True)
    (root / "summary.json").write_text(json.dumps(summary))
    for m in models:
        d = root / "eval" / m
        d.mkdir(parents=True)
        rows = []
        for i in range(10):
            fixed = m != "base" and i < gain
            rows.append({"id": f"p{i}", "capability": "perception", "correct": fixed, "sampled_correct": 0.5 * fixed})
            rows.append({"id": f"v{i}", "capability": "visual", "correct": i < 3, "sampled_correct": 0.25})
        (d / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_comparisons_list_stages_then_models_without_repeats(tmp_path: Path):
    run = _fake_run(tmp_path / "r", gain=4)
    rows = comparisons(json.loads((run / "summary.json").read_text()))
    labels = [(r["label"], r["capability"]) for r in rows]
    assert labels[:2] == [("staged: stage 'perception'", "perception"), ("staged: stage 'visual'", "visual")]
    assert ("merged vs base", "perception") not in labels  # the one-stage merged row already says it
    assert ("staged vs base", "visual") in labels
    # overall rows for every trained model (merged too: its stage rows are per capability only)
    assert ("merged vs base", "overall") in labels and ("staged vs base", "overall") in labels
    # the two trained models against each other, staged minus merged, per capability and overall
    pair = [r for r in rows if r["kind"] == "pair"]
    assert [(r["before"], r["after"], r["capability"]) for r in pair] == [
        ("merged", "staged", "perception"), ("merged", "staged", "visual"), ("merged", "staged", "overall")]


def test_effects_over_seeds(tmp_path: Path, cli):
    runs = [_fake_run(tmp_path / f"s{k}", gain=g) for k, g in enumerate((4, 5, 6))]
    rows = effects(runs, n_boot=300)
    perc = rows[0]
    assert perc["greedy"]["delta"] == 50.0 and perc["greedy"]["runs"] == 3 and perc["greedy"]["items"] == 10
    assert perc["greedy"]["ci_low"] > 0
    assert perc["sampled"]["delta"] == 25.0
    vis = rows[1]
    assert vis["greedy"]["delta"] == 0.0 and vis["greedy"]["ci_low"] == vis["greedy"]["ci_high"] == 0.0
    by_label = {(r["label"], r["capability"]): r for r in rows}
    overall = by_label[("merged vs base", "overall")]["greedy"]
    assert overall["delta"] == 25.0 and overall["items"] == 20  # 5 of 20 items fixed on average
    assert by_label[("staged vs merged", "overall")]["greedy"]["delta"] == 0.0
    md = effects_markdown(rows)
    assert "+50.0 [" in md and "3 run(s), 10 items" in md
    code, out, _ = cli(["compare", *map(str, runs), "--out", str(tmp_path / "fx.json")])
    assert code == 0 and "staged: stage 'perception'" in out
    assert json.loads((tmp_path / "fx.json").read_text())[0]["greedy"]["delta"] == 50.0


def test_missing_predictions_name_the_model(tmp_path: Path, cli):
    run = _fake_run(tmp_path / "r", gain=1)
    (run / "eval" / "staged" / "predictions.jsonl").unlink()
    code, _, err = cli(["compare", str(run)])
    assert code == 2 and "staged" in err
