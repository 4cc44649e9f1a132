"""The smoke study end to end: arms x seeds, one shared evaluation, claims, HTML; killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from seethink.config import load_recipe

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "toy" / "study_smoke.yaml"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seethink.experiment.report import write_experiment_report
    from seethink.experiment.run import run_experiment

    out = tmp_path_factory.mktemp("exp") / "study"
    results = out.parent / "results"
    run_experiment(load_recipe(RECIPE, ["experiment.workers=1"]), out, results=results)
    write_experiment_report([out])
    return out


def _preds(unit: Path) -> list[dict]:
    return [json.loads(x) for x in (unit / "eval" / "predictions.jsonl").read_text().splitlines()]


def test_every_arm_and_seed_is_scored_on_the_same_items(study: Path):
    base_ids = [p["id"] for p in _preds(study / "units" / "base")]
    assert len(base_ids) == 24 and {p["capability"] for p in _preds(study / "units" / "base")} == {
        "perception", "text", "visual"}
    for arm in ("merged", "staged", "capability_x_difficulty", "caption_sft"):
        for seed in (0, 1):
            unit = study / "units" / arm / f"seed-{seed}"
            info = json.loads((unit / "unit.json").read_text())
            assert info["arm"] == arm and info["seed"] == seed and info["total_steps"] == 6
            assert [p["id"] for p in _preds(unit)] == base_ids  # whatever the arm trains
            assert (unit / "eval" / "subquestions.jsonl").is_file()
    caption = json.loads((study / "units" / "caption_sft" / "seed-0" / "unit.json").read_text())["stages"]
    assert [(s["stage"], s["kind"]) for s in caption] == [("caption", "sft"), ("text", "grpo"), ("visual", "grpo")]
    assert (study / "passk" / "seed-0" / "pass_rates.json").is_file()


def test_training_logs_to_tensorboard(study: Path):
    assert list((study / "units" / "staged" / "seed-0").rglob("events.out.tfevents.*"))


def test_report_has_the_claims_table_first_and_embeds_its_plots(study: Path):
    md = (study / "report.md").read_text()
    assert md.index("## Claims") < md.index("## Arms x capabilities")
    assert "staged beats merged" in md and "not measured" in md  # text_first is not in this study
    assert "Verdict: 'yes' if the 95% interval" in md
    assert "| arm | saw the scene wrong | misread its own description |" in md  # where wrong answers went wrong

    class Page(HTMLParser):
        imgs: list[str] = []
        tables = 0

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.imgs.append(dict(attrs)["src"])
            elif tag == "table":
                self.tables += 1

    page = Page()
    page.feed((study / "report.html").read_text())
    assert page.tables >= 5 and len(page.imgs) >= 5
    assert all(src.startswith("data:image/png;base64,") for src in page.imgs)  # self-contained


def test_report_rebuilds_from_the_exported_results_alone(study: Path, cli):
    results = study.parent / "results"
    assert not list(results.rglob("*.safetensors"))
    code, out, err = cli(["report", str(results)])
    assert code == 0, err
    assert (results / "report.md").read_text() == (study / "report.md").read_text().replace(str(study), str(results))


def test_a_second_run_reuses_every_unit(study: Path):
    from seethink.experiment.run import run_experiment

    t0 = time.time()
    out = run_experiment(load_recipe(RECIPE, ["experiment.workers=1"]), study)
    assert not out["failed"] and len(out["done"]) == 1 + 2 + 8 and time.time() - t0 < 60


def test_a_killed_study_resumes_to_identical_results(study: Path, tmp_path: Path):
    """SIGKILL the command mid-grid, run it again: the same predictions as an uninterrupted run."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "seethink.cli", "experiment", str(RECIPE), "--arms", "merged,staged", "--seeds", "0",
           "--out", str(out), "--workers", "1", "--no-report"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "units" / "merged" / "seed-0" / "metrics.jsonl").is_file():
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "units" / "staged" / "seed-0" / "unit.json").is_file()
    done = subprocess.run(cmd, cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for arm in ("merged", "staged"):
        got = _preds(out / "units" / arm / "seed-0")
        want = _preds(study / "units" / arm / "seed-0")
        assert [(p["id"], p["response"], p["sampled_correct"]) for p in got] == \
               [(p["id"], p["response"], p["sampled_correct"]) for p in want]
