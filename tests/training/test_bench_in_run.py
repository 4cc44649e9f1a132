"""Benchmarks inside a run: validation during training, then base and trained model scored on
real items (../shared/benchmarks), greedy and sampled, with the official scorers' verdicts.

Generation is replaced by a stand-in that answers a known subset of items right (the tiny random
model answers nothing right, which would make every comparison 0 = 0); training is real GRPO.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.data.prompts import render_prompt
from seethink.eval import bench_generate, bench_run
from seethink.eval.benchmarks import load

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
LIMIT = 3
SAMPLES = 3


def _need(*names: str) -> None:
    for name in names:
        if not (BENCH / name).is_dir():
            pytest.skip(f"real benchmark data not present: {BENCH / name} (../shared/benchmarks/{name})")


def _gold() -> dict[str, tuple[int, str]]:
    """user prompt -> (position among the evaluated items, gold answer)."""
    out: dict[str, tuple[int, str]] = {}
    for name in ("mathvision", "wemath"):
        items = bench_run.select_items(name, load(name, BENCH / name), LIMIT)
        for i, it in enumerate(items):
            out[render_prompt(it)] = (i, str(it["answer"]))
    return out


def _answer(letter: str) -> str:
    return f"<think>ok</think> Answer: {letter}. \\boxed{{{letter}}}"


def stand_in(calls: list[dict]):  # noqa: ANN201
    """Greedy: right on even positions. Sampled: the first sample right where the position is a
    multiple of 3, every other sample wrong."""
    gold = _gold()

    def generate(model, processor, convs, imgs, *, num_return_sequences=1, temperature=0.0, **kw):  # noqa: ANN001, ANN202
        calls.append({"n": num_return_sequences, "training": getattr(model, "training", None),
                      "system": [c[0]["content"] for c in convs if c[0]["role"] == "system"]})
        outs = []
        for conv in convs:
            pos, ans = gold[conv[-1]["content"]]
            if temperature == 0:
                outs.append([_answer(ans if pos % 2 == 0 else "Z")])
            else:
                outs.append([_answer(ans if (j == 0 and pos % 3 == 0) else "Z") for j in range(num_return_sequences)])
        return outs

    return generate


@pytest.mark.slow
def test_run_validates_during_training_and_scores_benchmarks_like_seethink_score(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli, capsys) -> None:
    _need("mathvision", "wemath")
    from seethink.config import load_recipe
    from seethink.training.pipeline import run_recipe

    calls: list[dict] = []
    monkeypatch.setattr(bench_generate, "generate", stand_in(calls))
    recipe = load_recipe(None, [
        "name=bench", f"model.path={tiny_model_dir}", "variants=[staged]", "parallel=1", "threads=1",
        "trainer.max_steps=2", "trainer.batch_size=2", "trainer.group_size=2", "trainer.max_completion_length=4",
        "trainer.save_steps=0", "stages=[{name: text, tasks: [toy_text], items_per_task: 4}]",
        "eval.toy=false", "eval.benchmarks=[mathvision, wemath]", f"eval.data_root={BENCH}",
        f"eval.benchmark_limit={LIMIT}", "eval.benchmark_max_new_tokens=4", f"eval.samples={SAMPLES}",
        "eval.during_training={every: 1, benchmarks: [mathvision], limit: 2}",
    ])
    out = tmp_path / "run"
    summary = run_recipe(recipe, out, log=lambda *_: None)
    capsys.readouterr()  # the trainer's own prints, before the CLI's output is read

    # Validation during training: one row per step, from the policy in eval mode.
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if "eval/mathvision" in r]
    assert [(r["variant"], r["stage"], r["step"]) for r in val] == [("staged", "text", 1), ("staged", "text", 2)]
    assert all(r["eval/mathvision"] == 50.0 for r in val)  # positions 0 (right) and 1 (wrong)
    assert [r["step"] for r in rows if "reward" in r] == [1, 2]  # training rows untouched
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(out / "stages" / "staged" / "01-text" / "tensorboard"))
    ea.Reload()
    assert [(e.step, e.value) for e in ea.Scalars("eval/mathvision")] == [(1, 50.0), (2, 50.0)]
    assert not (out / "stages" / "staged" / "01-text" / "validation.tmp").exists()

    # No toy items anywhere: the recipe turned them off.
    assert not (out / "eval" / "base" / "predictions.jsonl").exists()
    assert summary["meta"]["eval"]["toy"] is False and summary["meta"]["eval"]["protocol"] == "unified"
    for model in ("base", "staged"):
        s = summary[model]
        assert set(s["by_capability"]) == {"bench:mathvision", "bench:wemath"}
        for name, results in (("mathvision", "results.jsonl"), ("wemath", "results.json")):
            bdir = out / "eval" / model / "bench" / name
            code, stdout, err = cli(["score", name, str(bdir / results), "--data", str(BENCH / name)])
            assert code == 0, err
            official = json.loads(stdout)
            b = s["benchmarks"][name]
            assert (b["accuracy"], b["correct"], b["total"]) == (official["accuracy"], official["correct"],
                                                                official["total"])
            assert b["protocol"] == "unified"
            preds = [json.loads(x) for x in (bdir / "predictions.jsonl").read_text().splitlines()]
            assert set(preds[0]) >= {"id", "capability", "answer", "response", "correct", "sampled_correct",
                                     "format", "response_tokens", "think_tokens"}
            assert [p["correct"] for p in preds] == [i % 2 == 0 for i in range(len(preds))]
            assert sum(p["correct"] for p in preds) == official["correct"]
            assert [p["sampled_correct"] for p in preds] == [1 / SAMPLES if i % 3 == 0 else 0.0
                                                             for i in range(len(preds))]
            assert all(p["capability"] == f"bench:{name}" and p["id"].startswith(f"bench:{name}:") for p in preds)
            assert s["by_capability"][f"bench:{name}"]["accuracy"] == pytest.approx(official["accuracy"], abs=0.01)
    # Greedy and sampled passes, each benchmark and model; validation generated in eval mode.
    assert {c["n"] for c in calls} == {1, SAMPLES}
    assert all(c["training"] is False for c in calls)
    assert all(c["system"] == [] for c in calls)  # unified protocol: no system prompt

    report = (out / "report.md").read_text()
    assert "## Benchmarks (official scorers; unified protocol" in report and "[unified]" in report
    code, stdout, _ = cli(["compare", str(out)])
    assert code == 0 and "bench:mathvision" in stdout and "bench:wemath" in stdout


def test_validation_restores_train_mode(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need("mathvision")
    from seethink.config import load_recipe
    from seethink.models.load import load_model
    from seethink.training.validation import validate_model

    calls: list[dict] = []
    monkeypatch.setattr(bench_generate, "generate", stand_in(calls))
    r = load_recipe(None, ["eval.benchmarks=[mathvision]", f"eval.data_root={BENCH}",
                           "eval.during_training={every: 1, limit: 2}"])
    model, processor = load_model(tiny_model_dir)
    model.train()
    assert validate_model(r, model, processor, tmp_path / "v") == {"mathvision": 50.0}
    assert calls[0]["training"] is False and model.training is True
    model.eval()
    validate_model(r, model, processor, tmp_path / "w")
    assert model.training is False


def test_recipe_without_toy_or_benchmarks_evaluates_nothing(tmp_path: Path) -> None:
    from seethink.config import load_recipe
    from seethink.training.variants import evaluate_models

    data = tmp_path / "real.jsonl"
    data.write_text('{"id": "a", "question": "2+2?", "answer": "4"}\n')
    r = load_recipe(None, [f"stages=[{{name: s, data: {data}}}]"])
    lines: list[str] = []
    assert evaluate_models(r, {"base": tmp_path}, tmp_path, log=lines.append) == ({}, {})
    assert any("nothing to evaluate" in x for x in lines)


@pytest.mark.slow
def test_two_process_run_shares_benchmark_items(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`accelerate launch` with two CPU processes: validation during training and the in-run
    benchmark evaluation both split the items over the processes; rank 0 alone writes."""
    _need("mathvision")
    import os
    import subprocess
    import sys

    from seethink.eval.benchmarks import score_file

    repo = Path(__file__).resolve().parents[2]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""
name: two-proc-bench
model: {{path: {tiny_model_dir}}}
variants: [staged]
trainer: {{max_steps: 2, batch_size: 2, group_size: 2, max_completion_length: 4, save_steps: 0}}
stages:
  - {{name: text, tasks: [toy_text], items_per_task: 4}}
eval: {{toy: false, benchmarks: [mathvision], data_root: {BENCH}, benchmark_limit: 3,
        benchmark_max_new_tokens: 3, samples: 2, during_training: {{every: 1, limit: 3}}}}
""")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEETHINK_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(repo / "configs" / "accelerate" / "cpu_2proc.yaml"),
           "-m", "seethink.cli", "run", str(recipe), "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # The main process answered 2 of the 3 items (every second one), the other process the third.
    assert "mathvision: 2 items answers from" in log and "(process 0/2)" in log

    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/mathvision" in r] == [1, 2]  # one row per validation
    summary = json.loads((out / "summary.json").read_text())
    for model in ("base", "staged"):
        bdir = out / "eval" / model / "bench" / "mathvision"
        assert not list(bdir.glob("*.rank*.jsonl"))
        m = json.loads((bdir / "metrics.json").read_text())
        assert m["run"]["processes"] == 2 and m["total"] == 3
        official = score_file("mathvision", bdir / "results.jsonl", BENCH / "mathvision")
        assert summary[model]["benchmarks"]["mathvision"]["correct"] == official["correct"]
        preds = [json.loads(x) for x in (bdir / "predictions.jsonl").read_text().splitlines()]
        assert len(preds) == 3 and all(len(p) >= 9 and "sampled_correct" in p for p in preds)
