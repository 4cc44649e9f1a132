"""Benchmark evaluation settings: the paper protocol (splits, system prompt, judge step),
several processes sharing the items, `eval.*` checks, and the study reading bench predictions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seethink.config import load_recipe
from seethink.errors import UserError
from seethink.eval import bench_files, bench_generate, bench_items, bench_run, protocols
from seethink.eval.benchmarks import load, score_file

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
REPO = Path(__file__).resolve().parents[2]


def _need(name: str) -> Path:
    d = BENCH / name
    if not d.is_dir():
        pytest.skip(f"real benchmark data not present: {d} (../shared/benchmarks/{name})")
    return d


def _recording(calls: list[list[dict]]):  # noqa: ANN202
    def generate(model, processor, convs, imgs, *, num_return_sequences=1, **kw):  # noqa: ANN001, ANN202
        calls.extend(convs)
        return [["<think>x</think> \\boxed{A}"] * num_return_sequences for _ in convs]

    return generate


# ------------------------------------------------------------------ protocols


def test_paper_splits_map_to_our_loaders() -> None:
    s = protocols.resolve("MathVerse_MINI_Vision_Intensive", "paper")
    assert (s.benchmark, s.split, s.where) == ("mathverse", "testmini", (("problem_version", "Vision Intensive"),))
    assert s.select([{"problem_version": "Vision Intensive"}, {"problem_version": "Text Lite"}]) == [
        {"problem_version": "Vision Intensive"}]
    assert protocols.resolve("MathVista_MINI", "paper").benchmark == "mathvista"
    assert protocols.resolve("mathverse", "paper").name == "MathVerse_MINI_Vision_Intensive"  # our name: the paper's set
    assert protocols.resolve("wemath", "unified") == protocols.Split("wemath", "wemath")
    with pytest.raises(UserError, match="'LogicVista' \\(protocol paper\\): no loader here reads it"):
        protocols.resolve("LogicVista", "paper")
    with pytest.raises(UserError, match="split name of protocol paper; under protocol unified use 'mathvista'"):
        protocols.resolve("MathVista_MINI", "unified")
    with pytest.raises(UserError, match="did you mean 'mathvision'"):
        protocols.resolve("mathvison", "unified")
    assert protocols.system_prompt("paper", is_base=True) is None
    assert protocols.system_prompt("paper", is_base=False) == protocols.PAPER_SYSTEM_PROMPT
    assert protocols.system_prompt("unified", is_base=False) is None


def test_eval_settings_are_checked_with_their_key() -> None:
    bad = {
        "eval.device=gpu": "'eval.device': must be auto, cpu, cuda or cuda:N",
        "eval.dtype=fp8": "'eval.dtype': must be one of auto, float32, bfloat16, float16",
        "eval.backend=tgi": "'eval.backend': must be one of auto, hf, vllm",
        "eval.protocol=mine": "'eval.protocol': must be one of unified, paper",
        "eval.benchmark_limit=-1": "'eval.benchmark_limit': must be >= 0",
        "eval.benchmark_max_new_tokens=0": "'eval.benchmark_max_new_tokens': must be >= 1",
        "eval.during_training.every=-2": "'eval.during_training.every': must be >= 0",
        "eval.during_training.every=5": "'eval.during_training.benchmarks': validation during training needs",
    }
    for override, message in bad.items():
        with pytest.raises(UserError, match=message.replace("(", "\\(").replace(")", "\\)")):
            load_recipe(None, [override])
    with pytest.raises(UserError, match="'eval.data_root': benchmarks are read from DATA_ROOT/NAME"):
        load_recipe(None, ["eval.benchmarks=[wemath]"])
    with pytest.raises(UserError, match="'eval.benchmarks.1': 'wemath' is listed twice"):
        load_recipe(None, ["eval.benchmarks=[wemath, wemath]", "eval.data_root=x"])
    with pytest.raises(UserError, match="'eval.judge_base_url': protocol paper judges MathVista_MINI"):
        load_recipe(None, ["eval.protocol=paper", "eval.benchmarks=[MathVista_MINI]", "eval.data_root=x"])
    r = load_recipe(None, ["eval.protocol=paper", "eval.benchmarks=[MathVista_MINI, WeMath]", "eval.data_root=x",
                           "eval.judge_base_url=http://127.0.0.1:9/v1", "eval.judge_model=j", "eval.toy=false"])
    assert r.eval.toy is False and r.eval.during_training.every == 0


def test_paper_protocol_prompts(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need("mathvision")
    calls: list[list[dict]] = []
    monkeypatch.setattr(bench_generate, "generate", _recording(calls))
    kw = dict(data_root=BENCH, limit=2, max_new_tokens=4, protocol="paper", log=lambda *_: None)
    base = bench_run.evaluate_benchmarks(tiny_model_dir, ["MathVision_MINI"], out_dir=tmp_path / "b", is_base=True, **kw)
    assert [c[0]["role"] for c in calls] == ["user", "user"]  # base model: no system prompt
    assert "Think in <think>" not in calls[0][0]["content"]  # the question as the benchmark gives it
    calls.clear()
    trained = bench_run.evaluate_benchmarks(tiny_model_dir, ["mathvision"], out_dir=tmp_path / "t", **kw)
    assert [c[0] for c in calls] == [{"role": "system", "content": protocols.PAPER_SYSTEM_PROMPT}] * 2
    for res, out in ((base, tmp_path / "b"), (trained, tmp_path / "t")):
        m = res["MathVision_MINI"]
        assert m["protocol"] == "paper" and m["run"]["split"] == "testmini"
        again = score_file("mathvision", out / "MathVision_MINI" / "results.jsonl", BENCH / "mathvision")
        assert (again["correct"], again["total"]) == (m["correct"], m["total"]) == (m["item_correct"], 2)


class _GoldJudge:
    """A stand-in judge endpoint that extracts the gold answer for every response."""

    model = "stand-in"

    def __init__(self, items: list[dict]) -> None:
        self.gold = {it["question"]: it["answer"] for it in items}
        self.asked = 0

    def ask(self, prompt: str) -> str:
        self.asked += 1
        return next(a for q, a in self.gold.items() if q in prompt)


def test_judge_step_decides_the_verdicts(tmp_path: Path) -> None:
    d = _need("mathvista")
    items = load("mathvista", d)[:4]
    garbage = ["I cannot tell."] * len(items)
    metrics, verdicts = bench_items.score("mathvista", items, garbage, tmp_path / "r" / "results.json", d)
    assert metrics["correct"] == 0 and not any(verdicts.values())  # rule-based extraction finds nothing
    judge = _GoldJudge(items)
    metrics, verdicts = bench_items.score("mathvista", items, garbage, tmp_path / "j" / "results.json", d, judge)
    judged = tmp_path / "j" / "judged_results.json"
    assert judge.asked == 4 and judged.is_file()
    assert metrics["correct"] == 4 and all(verdicts.values())
    assert score_file("mathvista", judged, d)["correct"] == 4  # what `seethink score` says of the judged file
    with pytest.raises(UserError, match="protocol paper judges MathVista_MINI with an LLM"):
        bench_run.evaluate_benchmarks(None, ["MathVista_MINI"], data_root=BENCH, out_dir=tmp_path, protocol="paper",
                                      model_and_processor=(None, None))


# ------------------------------------------------------------------ several processes

_SHARD_SCRIPT = """
import json, sys
from pathlib import Path
from seethink.utils import pin_threads
pin_threads(1)
from seethink.eval.bench_run import evaluate_benchmarks
res = evaluate_benchmarks(sys.argv[1], ["mathvision"], data_root=Path(sys.argv[2]), limit=5, out_dir=Path(sys.argv[3]),
                          max_new_tokens=3, batch_size=2, samples=2, device="cpu", log=lambda *_: None)
print("RESULT", json.dumps({k: v["correct"] for k, v in res.items()}))
"""


@pytest.mark.slow
def test_two_processes_share_the_items(tiny_model_dir: Path, tmp_path: Path) -> None:
    _need("mathvision")
    script = tmp_path / "shard.py"
    script.write_text(_SHARD_SCRIPT)
    out = tmp_path / "two"
    import socket

    with socket.socket() as sock:  # a free port for the two processes' rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs = [subprocess.Popen([sys.executable, str(script), str(tiny_model_dir), str(BENCH), str(out)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=tmp_path) for r in (0, 1)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert 'RESULT {"mathvision"' in logs[0] and "RESULT {}" in logs[1]  # only the main process scores
    bdir = out / "mathvision"
    assert not list(bdir.glob("*.rank*.jsonl")), "rank files are folded into the responses files"
    two = bench_files.read_responses(bdir / "responses.jsonl")
    sampled = bench_files.read_rows(bdir / "sampled.jsonl", "responses")
    assert len(two) == 5 and len(sampled) == 5 and all(len(v) == 2 for v in sampled.values())
    m = json.loads((bdir / "metrics.json").read_text())
    assert m["run"]["processes"] == 2 and m["total"] == 5
    preds = [json.loads(x) for x in (bdir / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 5 and all("sampled_correct" in p for p in preds)
    # One process alone gives the same greedy answers.
    from seethink.models.load import load_model

    one = tmp_path / "one"
    bench_run.evaluate_benchmarks(tiny_model_dir, ["mathvision"], data_root=BENCH, limit=5, out_dir=one,
                                  max_new_tokens=3, batch_size=2, model_and_processor=load_model(tiny_model_dir),
                                  log=lambda *_: None)
    assert bench_files.read_responses(one / "mathvision" / "responses.jsonl") == two


# ------------------------------------------------------------------ experiments


def test_study_units_score_benchmarks_and_the_study_reads_them(tiny_model_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _need("mathvision")
    from seethink.experiment.results import load_study
    from seethink.experiment.units import eval_model

    calls: list[list[dict]] = []
    monkeypatch.setattr(bench_generate, "generate", _recording(calls))
    r = load_recipe(None, ["eval.protocol=paper", "eval.benchmarks=[MathVision_MINI]", f"eval.data_root={BENCH}",
                           "eval.benchmark_limit=2", "eval.benchmark_max_new_tokens=4", "eval.samples=2"])
    exp = tmp_path / "exp"
    (exp / "experiment.yaml").parent.mkdir(parents=True)
    (exp / "experiment.yaml").write_text("experiment: {arms: [staged]}\n")
    for udir in (exp / "units" / "base", exp / "units" / "staged" / "seed-0"):
        m = eval_model(r, tiny_model_dir, [], udir / "eval", log=lambda *_: None)
        assert m["benchmarks"]["MathVision_MINI"]["total"] == 2
        (udir / "unit.json").write_text("{}")
    # Paper protocol: no system prompt for the base unit, the system prompt for the arm's model.
    assert [c[0]["role"] for c in calls] == ["user"] * 4 + ["system"] * 4
    study = load_study([exp])
    assert study.capabilities == ["bench:MathVision_MINI"] and study.sampled
    assert study.arms == ["staged"] and set(study.pred("staged", 0)) == {
        f"bench:MathVision_MINI:{it['id']}" for it in load("mathvision", BENCH / "mathvision")[:2]}
    tables, ids = study.table(["base", "staged"], "bench:MathVision_MINI", "correct")
    assert len(ids) == 2 and tables[0].shape == (1, 2)
    from seethink.experiment.report import write_experiment_report

    write_experiment_report([exp])  # every table of the study covers the benchmark
    assert "| staged - base | bench:MathVision_MINI |" in (exp / "report.md").read_text()
