"""CLI behaviour: exit code 2 with a one-line reason on bad input; data export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "quick", "trainer.learnin_rate=1"], "did you mean 'trainer.learning_rate'"),
        (["run", "no/such/recipe.yaml"], "recipe file not found"),
        (["run", "smoke", "stages.0.tasks=[toy_perceptoin]"], "unknown task 'toy_perceptoin'; did you mean"),
        (["run", "smoke", "model.path=/no/such/model"], "model directory not found"),
        (["eval", "--model", "/no/such/model"], "model path not found"),
        (["demo", "--preset", "huge"], "unknown preset"),
        (["data", "toy", "--capability", "smell", "--n", "2", "--out", "x.jsonl"], "--capability"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, cli, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(args)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err


def test_data_toy_writes_jsonl_with_images(cli, tmp_path):
    out = tmp_path / "d" / "perc.jsonl"
    code, stdout, _ = cli(
        ["data", "toy", "--capability", "perception", "--n", "5", "--split", "test", "--seed", "3", "--out", str(out)]
    )
    assert code == 0 and "wrote 5" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5
    for r in rows:
        assert {"id", "question", "options", "answer", "capability", "images", "facts", "caption"} <= set(r)
        assert r["capability"] == "perception" and len(r["options"]) >= 2
        (img,) = r["images"]
        assert not Path(img).is_absolute()
        with Image.open(out.parent / img) as im:
            assert im.size == (112, 112)
    # text items carry no images
    out2 = tmp_path / "t.jsonl"
    cli(["data", "toy", "--capability", "text", "--n", "3", "--out", str(out2)])
    assert all(json.loads(line)["images"] == [] for line in out2.read_text().splitlines())


def test_unreadable_image_is_named(tmp_path):
    from seethink.data.images import item_images
    from seethink.errors import UserError

    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match=r"item x7, field 'images': unreadable image .*bad.png"):
        item_images({"id": "x7", "images": ["bad.png"]}, tmp_path)


def test_score_command_reproduces_the_official_mathvista_scores(cli):
    from conftest import SHARED

    out_dir = SHARED / "benchmarks" / "mathvista" / "outputs"
    if not out_dir.is_dir():
        pytest.skip("../shared/benchmarks/mathvista is not beside this clone")
    code, stdout, _ = cli(["score", "mathvista", str(out_dir / "output_gpt4_2shot_solution.json")])
    assert code == 0
    metrics = json.loads(stdout)
    official = json.loads((out_dir / "scores_gpt4_2shot_solution.json").read_text())
    assert metrics["correct"] == official["average"]["correct"] == 292
    assert metrics["total"] == 1000


def test_eval_command_on_a_local_model(cli, tiny_model_dir, tmp_path):
    out = tmp_path / "ev"
    code, stdout, err = cli(["eval", "--model", str(tiny_model_dir), "--capabilities", "perception,text",
                             "--n", "3", "--out", str(out), "eval.max_new_tokens=6"])
    assert code == 0, err
    metrics = json.loads(stdout[stdout.index("{"):])
    assert set(metrics["by_capability"]) == {"perception", "text"}
    assert (out / "predictions.jsonl").is_file() and (out / "metrics.json").is_file()
    code, _, err = cli(["eval", "--model", str(tiny_model_dir), "--capabilities", "smell"])
    assert code == 2 and "unknown capability" in err


def test_eval_does_not_reuse_another_models_results(cli, tiny_model_dir, tmp_path):
    from seethink.toyworld.model import build_toy

    other = build_toy(tmp_path / "other", seed=5)
    out = tmp_path / "ev"
    args = ["--capabilities", "text", "--n", "2", "--out", str(out), "--no-ablation", "eval.max_new_tokens=4"]
    assert cli(["eval", "--model", str(tiny_model_dir), *args])[0] == 0
    code, stdout, err = cli(["eval", "--model", str(other), *args])
    assert code == 0 and "already evaluated" not in stdout + err
    code, stdout, err = cli(["eval", "--model", str(other), *args])
    assert "already evaluated" in stdout + err


def test_eval_on_real_benchmark_items(cli, tiny_model_dir, tmp_path):
    from conftest import SHARED

    root = SHARED / "benchmarks"
    if not (root / "mathvision" / "testmini.jsonl").is_file():
        pytest.skip("../shared/benchmarks is not beside this clone")
    out = tmp_path / "bench"
    code, stdout, err = cli(["eval", "--model", str(tiny_model_dir), "--benchmarks", "mathvision",
                             "--data-root", str(root), "--limit", "2", "--max-new-tokens", "6", "--out", str(out)])
    assert code == 0, err
    metrics = json.loads(stdout[stdout.index("{"):])
    assert metrics["mathvision"]["total"] == 2
    # the written results file is in the official format: `seethink score` re-scores it
    results = next(p for p in (out / "mathvision").iterdir() if p.name.startswith("results"))
    code, stdout, err = cli(["score", "mathvision", str(results), "--data", str(root / "mathvision")])
    assert code == 0, err
    assert json.loads(stdout)["total"] == 2
    code, _, err = cli(["eval", "--model", str(tiny_model_dir), "--benchmarks", "mathvision"])
    assert code == 2 and "--data-root" in err


def test_summary_table_keeps_columns_with_long_model_names(capsys):
    from seethink.cli import _print_summary

    caps = {"perception": {"accuracy": 60.0}, "visual": {"accuracy": 40.0}}
    row = {"accuracy": 50.0, "sampled_accuracy": 48.5, "mean_response_tokens": 30.0, "by_capability": caps}
    _print_summary({"base": row, "staged@perception": row, "meta": {}})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["model", "accuracy", "sampled", "perception", "visual", "tokens"]
    assert len({len(line) for line in lines}) == 1  # every row as wide as the header
    assert lines[1].split()[1:3] == ["50.0", "48.5"]
