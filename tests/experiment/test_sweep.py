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
    assert (tmp_path / "results" / "settings" / "crowded" / "report.md").is_file()
    assert "data:image/png;base64," in html.read_text()
