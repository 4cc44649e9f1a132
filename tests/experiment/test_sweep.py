"""A smoke sweep end to end: two settings of the toy world, each its own base and grid, one table."""

from __future__ import annotations

from pathlib import Path

import pytest

from seethink.config import load_recipe

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_a_sweep_runs_every_setting_and_reports_them_side_by_side(tmp_path: Path):
    from seethink.experiment.report import write_experiment_report
    from seethink.experiment.run import run_experiment

    recipe = load_recipe(REPO / "recipes" / "toy" / "study_smoke.yaml", [
        "experiment.workers=1", "experiment.seeds=[0]", "experiment.arms=[merged, staged]", "eval.stages=true",
        "eval.items_per_capability=4", "experiment.settings=[{name: plain, overrides: []}, "
        "{name: crowded, overrides: [toy.min_shapes=4]}]"])
    out = tmp_path / "sweep"
    run_experiment(recipe, out, results=tmp_path / "results")
    for name in ("plain", "crowded"):
        assert (out / "settings" / name / "units" / "staged" / "seed-0" / "unit.json").is_file()
        assert (out / "settings" / name / "units" / "staged" / "seed-0" / "eval-stages" / "01-perception"
                / "predictions.jsonl").is_file()
    crowded = load_recipe(out / "settings" / "crowded" / "experiment.yaml")
    assert crowded.toy.min_shapes == 4 and not crowded.experiment.settings
    md, html = write_experiment_report([tmp_path / "results"])
    text = md.read_text()
    assert "| plain |" in text and "| crowded |" in text and "staged - merged overall" in text
    assert "is there reward to learn from?" in text and "perception-error readings" in text
    assert (tmp_path / "results" / "settings" / "crowded" / "report.md").is_file()
    assert "data:image/png;base64," in html.read_text()


def test_signal_and_readings_tables_from_hand_made_rows():
    from seethink.experiment.sweep import readings_blocks, signal_blocks

    def ci(mean, lo, hi):
        return {"mean": mean, "ci_low": lo, "ci_high": hi}

    rows = [
        {"setting": "easy", "base": {"perception": ci(62.0, 58.0, 66.0), "visual": ci(47.0, 43.0, 51.0)},
         "majority": {"perception": 25.0, "visual": 30.0}, "spread": {"perception": 0.56, "visual": 0.625},
         "readings": {"inventory": {"wrong": {"share": 1.4, "ci_low": 0.5, "ci_high": 4.1, "n": 211},
                                    "right": {"share": 0.0, "n": 189}}}},
        # 10 points above on perception but the interval reaches the baseline: no signal.
        {"setting": "hard", "base": {"perception": ci(36.0, 24.0, 48.0), "visual": ci(45.0, 41.0, 49.0)},
         "majority": {"perception": 25.0, "visual": 30.0}, "readings": {}},
        # Visual only 5 points above the majority answer: no signal.
        {"setting": "flat", "base": {"perception": ci(60.0, 56.0, 64.0), "visual": ci(35.0, 32.0, 38.0)},
         "majority": {"perception": 25.0, "visual": 30.0}, "readings": {}},
    ]
    (_, _), (_, head, body), (_, note) = signal_blocks(rows, ["perception", "visual"])
    assert [b[3] for b in body] == ["yes", "no", "no"]
    assert body[0][1] == "62.0 [58.0, 66.0] / 25.0" and "10 points" in note
    # Reward spread per stage where the staged arm logged it; "-" for settings without it.
    assert head[-2:] == ["groups with reward spread, staged perception stage",
                         "groups with reward spread, staged visual stage"]
    assert body[0][-2:] == ["0.56", "0.62"] and body[1][-2:] == ["-", "-"] and "reward spread" in note
    (_, _), (_, head, body), _ = readings_blocks(rows)
    assert body == [["easy", "inventory", "1.4 [0.5, 4.1] (211)", "0.0 (189)"]]


def test_reward_spread_averages_one_minus_the_zero_spread_share_per_stage_of_the_staged_arm():
    from seethink.experiment.results import Study
    from seethink.experiment.sweep import _reward_spread

    study = Study(dirs=[], config={}, arms=["staged", "merged"], seeds=[0, 1])
    study.curves = {
        ("staged", 0): [{"stage": "perception", "frac_zero_std_groups": 0.5},
                        {"stage": "perception", "frac_zero_std_groups": 0.25},
                        {"stage": "visual", "frac_zero_std_groups": 0.0}],
        ("staged", 1): [{"stage": "perception", "frac_zero_std_groups": 0.25}, {"stage": "visual"}],
        ("merged", 0): [{"stage": "merged", "frac_zero_std_groups": 1.0}],
    }
    assert _reward_spread(study) == {"perception": (0.5 + 0.75 + 0.75) / 3, "visual": 1.0}
    assert _reward_spread(study, "merged") == {"merged": 0.0}


def test_the_dial_share_names_its_reading_and_its_rate_on_right_answers():
    from seethink.experiment.sweep import _share_cell

    readings = {"inventory": {"wrong": {"share": 91.2, "ci_low": 86.8, "ci_high": 94.2, "n": 227},
                              "right": {"share": 89.0, "n": 173}}}
    row = {"share": {"reading": "inventory", "share": 91.2, "ci_low": 86.8, "ci_high": 94.2}, "readings": readings}
    assert _share_cell(row) == "91.2 [86.8, 94.2] (inventory; right answers 89.0)"
    assert _share_cell({**row, "readings": {}}) == "91.2 [86.8, 94.2] (inventory)"
    assert _share_cell({"share": None}) == "-"


def test_settings_pick_a_subset_in_recipe_order_and_unknown_names_are_refused(tmp_path: Path):
    from seethink.errors import UserError
    from seethink.experiment.run import chosen_settings, run_experiment

    recipe = load_recipe(REPO / "recipes" / "toy" / "perception_dial.yaml")
    assert chosen_settings(recipe, None) == ["today", "no-inventory", "small-shifted", "hard"]
    assert chosen_settings(recipe, ["hard", "today"]) == ["today", "hard"]
    with pytest.raises(UserError, match="sideways not in experiment.settings"):
        chosen_settings(recipe, ["today", "sideways"])
    plain = load_recipe(REPO / "recipes" / "toy" / "study_smoke.yaml")
    with pytest.raises(UserError, match="not a sweep"):
        run_experiment(plain, tmp_path / "exp", settings=["today"])
    assert not (tmp_path / "exp").exists()
