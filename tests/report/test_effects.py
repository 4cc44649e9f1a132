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


def test_effects_between_two_recipes_pair_runs_seed_by_seed(tmp_path: Path, cli):
    from seethink.report.effects import effects_between

    new = [_fake_run(tmp_path / f"new{k}", gain=g) for k, g in enumerate((6, 7))]
    old = [_fake_run(tmp_path / f"old{k}", gain=g) for k, g in enumerate((4, 4))]
    rows = effects_between(new, old, ["merged"], names=("KL 0.1", "KL 0.01"), n_boot=300)
    by_cap = {r["capability"]: r for r in rows}
    assert set(by_cap) == {"perception", "visual", "overall"}
    assert by_cap["perception"]["label"] == "merged: KL 0.1 vs KL 0.01"
    assert by_cap["perception"]["greedy"]["delta"] == 25.0  # 2.5 more of 10 items, new minus old
    assert by_cap["perception"]["greedy"]["per_run"] == [20.0, 30.0]
    assert by_cap["visual"]["greedy"]["delta"] == 0.0
    assert by_cap["overall"]["greedy"]["items"] == 20
    # every shared trained model by default
    assert {r["label"].split(":")[0] for r in effects_between(new, old, n_boot=50)} == {"staged", "merged"}
    code, out, _ = cli(["compare", *map(str, new), "--against", ",".join(map(str, old)), "--model", "merged",
                        "--names", "new,old"])
    assert code == 0 and "| merged: new vs old | perception | +25.0 [" in out


def test_effects_between_errors_are_one_line(tmp_path: Path, cli):
    new = [_fake_run(tmp_path / f"new{k}", gain=1) for k in range(2)]
    old = [_fake_run(tmp_path / "old0", gain=1)]
    code, _, err = cli(["compare", *map(str, new), "--against", str(old[0])])
    assert code == 2 and "as many run directories" in err
    code, _, err = cli(["compare", str(new[0]), "--against", str(old[0]), "--model", "nope"])
    assert code == 2 and "no model 'nope'" in err
    code, _, err = cli(["compare", str(new[0]), "--model", "merged"])
    assert code == 2 and "--model needs --against" in err
