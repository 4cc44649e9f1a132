"""Variants in parallel processes (`parallel`): same results as one after another, errors
carried back to the command, and the rules that decide how many processes run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.config import load_recipe
from seethink.errors import UserError
from seethink.training.parallel import assign, worker_count
from seethink.utils import read_appended_jsonl

# Two short stages and a length reward (the tiny random base earns no accuracy reward, so
# every update would be zero); one torch thread per process, so both runs compute the same.
RECIPE = """\
name: parallel-test
threads: 1
model: {{path: {model}}}
trainer: {{max_steps: 2, batch_size: 2, group_size: 2, learning_rate: 1.0e-3, max_completion_length: 8}}
reward: {{extra: ["{reward}:length"], extra_weights: [1.0]}}
stages:
  - {{name: perception, tasks: [toy_perception], items_per_task: 4}}
  - {{name: text, tasks: [toy_text], items_per_task: 4{text_trainer}}}
eval: {{items_per_capability: 3, max_new_tokens: 6, batch_size: 4, stages: true}}
"""
REWARD = """\
def length(completion, item):
    text = completion if isinstance(completion, str) else completion[-1]["content"]
    return {"overall": len(text) / 50}
"""


def _recipe(tmp: Path, model: Path, text_trainer: str = "") -> Path:
    (tmp / "length_reward.py").write_text(REWARD)
    path = tmp / "recipe.yaml"
    path.write_text(RECIPE.format(model=model, reward=tmp / "length_reward.py", text_trainer=text_trainer))
    return path


def _comparable(out: Path) -> tuple[dict, list]:
    s = json.loads((out / "summary.json").read_text())
    for key in ("seconds", "workers"):
        s["meta"].pop(key)
    rows = sorted(read_appended_jsonl(out / "metrics.jsonl"), key=lambda r: (r["variant"], r["stage"], r["step"]))
    return s, rows


@pytest.mark.slow
def test_parallel_run_gives_the_same_results_as_one_after_another(cli, tiny_model_dir: Path, tmp_path: Path):
    recipe = _recipe(tmp_path, tiny_model_dir)
    code, out_seq, err = cli(["run", str(recipe), "parallel=1", "--out", str(tmp_path / "seq")])
    assert code == 0, err
    code, out_par, err = cli(["run", str(recipe), "parallel=2", "--out", str(tmp_path / "par")])
    assert code == 0, err

    assert json.loads((tmp_path / "par" / "summary.json").read_text())["meta"]["workers"] == 2
    assert _comparable(tmp_path / "par") == _comparable(tmp_path / "seq")
    # Each worker's log lines reach the terminal with its name; the full output is in logs/.
    assert "[parallel] 2 processes x 1 torch thread(s)" in out_par
    assert "[staged] " in out_par and "[merged] " in out_par
    assert "'perception'" in (tmp_path / "par" / "logs" / "staged.log").read_text()
    assert (tmp_path / "par" / "report.md").is_file()
    # A re-run skips what is done; lines a worker already tags with its name keep one tag.
    code, again, err = cli(["run", str(recipe), "parallel=2", "--out", str(tmp_path / "par")])
    assert code == 0, err
    assert "[staged] stage 01-perception already trained, skipping" in again
    assert "[staged] [staged]" not in again

    # A second run of the same command finds everything done in both workers.
    code, again, err = cli(["run", str(recipe), "parallel=2", "--out", str(tmp_path / "par")])
    assert code == 0, err
    assert again.count("already trained, skipping") == 3


@pytest.mark.slow
def test_a_failing_worker_fails_the_command_and_keeps_the_others_work(cli, tiny_model_dir: Path, tmp_path: Path):
    # Only the staged text stage fails, inside its worker: no prompt fits its length limit.
    recipe = _recipe(tmp_path, tiny_model_dir, text_trainer=", trainer: {max_prompt_length: 2}")
    run = tmp_path / "run"
    code, out, err = cli(["run", str(recipe), "parallel=2", "--out", str(run)])
    assert code == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert "stage 'text': no training items left after the prompt-length filter" in line
    assert (run / "stages" / "staged" / "01-perception" / "done.json").is_file()
    assert not (run / "stages" / "staged" / "02-text" / "done.json").exists()
    # The merged worker finished its training and evaluations; nothing of it is lost.
    assert (run / "stages" / "merged" / "01-merged" / "done.json").is_file()
    assert (run / "eval" / "merged" / "metrics.json").is_file() and (run / "eval" / "base" / "metrics.json").is_file()
    assert not (run / "summary.json").exists()


def test_base_evaluation_goes_to_the_lighter_worker():
    models = {"base": Path("b"), "staged@perception": Path("s1"), "staged": Path("s2"), "merged": Path("m")}
    groups = assign(["staged", "merged"], models, 2)
    assert [(g["name"], list(g["models"])) for g in groups] == [
        ("staged", ["staged@perception", "staged"]),
        ("merged", ["base", "merged"]),
    ]
    one = assign(["staged", "merged"], models, 1)
    assert [(g["name"], list(g["models"])) for g in one] == [
        ("staged+merged", ["base", "staged@perception", "staged", "merged"])]


def test_worker_count_rules(monkeypatch: pytest.MonkeyPatch):
    import seethink.training.parallel as par

    monkeypatch.setattr(par.os, "cpu_count", lambda: 2)
    assert worker_count(load_recipe(None), 1) == 1  # one variant: nothing to split
    assert worker_count(load_recipe(None, ["parallel=1"]), 2) == 1
    assert worker_count(load_recipe(None, ["parallel=5"]), 2) == 2  # never more than the variants
    assert worker_count(load_recipe(None), 2) == 2  # auto: a core per variant
    assert worker_count(load_recipe(None, ["threads=2"]), 2) == 1  # auto: 2 threads each do not fit
    monkeypatch.setattr(par.os, "cpu_count", lambda: 1)
    assert worker_count(load_recipe(None), 2) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")  # under a launcher the processes already split the work
    monkeypatch.setattr(par.os, "cpu_count", lambda: 16)
    assert worker_count(load_recipe(None, ["parallel=2"]), 2) == 1


def test_parallel_must_not_be_negative():
    with pytest.raises(UserError, match="'parallel'"):
        load_recipe(None, ["parallel=-1"])


def _append_rows(path: str, n: int) -> None:
    from seethink.utils import append_jsonl, file_lock

    for i in range(n):
        with file_lock(path):
            append_jsonl(path, {"variant": "merged", "stage": "merged", "step": i + 1})


def test_rows_appended_by_another_process_survive_a_concurrent_rewrite(tmp_path: Path):
    """metrics.jsonl under `parallel`: one worker appends while another drops its own rows on resume."""
    import multiprocessing as mp

    from seethink.training.resume import drop_metrics_after
    from seethink.utils import append_jsonl

    path = tmp_path / "metrics.jsonl"
    proc = mp.get_context("spawn").Process(target=_append_rows, args=(str(path), 400))
    proc.start()
    dropped = 0
    while proc.is_alive() or dropped == 0:
        for step in range(1, 4):  # the staged worker logs steps, then resumes from step 0
            append_jsonl(path, {"variant": "staged", "stage": "perception", "step": step})
        dropped += drop_metrics_after(path, "staged", "perception", 0)
    proc.join()
    rows = read_appended_jsonl(path)
    assert [r["step"] for r in rows if r["variant"] == "merged"] == list(range(1, 401))
    assert not [r for r in rows if r["variant"] == "staged"] and dropped > 0
