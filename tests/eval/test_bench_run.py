"""evaluate_benchmarks: real benchmark files, the tiny random VLM, official results files, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval import bench_files, bench_generate, bench_run
from seethink.eval.bench_files import read_responses
from seethink.eval.bench_run import evaluate_benchmarks, select_items, write_results
from seethink.eval.benchmarks import load, score_file

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


def _need(name: str) -> Path:
    d = BENCH / name
    if not d.is_dir():
        pytest.skip(f"real benchmark data not present: {d} (../shared/benchmarks/{name})")
    return d


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    from seethink.models.load import load_model

    return load_model(tiny_model_dir)


def test_end_to_end_and_resume(tiny, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need("wemath"), _need("mathvision")
    calls: list[int] = []
    real = bench_generate.generate

    def counting(model, processor, convs, imgs, **kw):
        calls.append(len(convs))
        return real(model, processor, convs, imgs, **kw)

    monkeypatch.setattr(bench_generate, "generate", counting)
    kw = dict(data_root=BENCH, limit=3, out_dir=tmp_path, max_new_tokens=8, batch_size=4,
              model_and_processor=tiny, log=lambda _msg: None)
    metrics = evaluate_benchmarks(tiny_model_dir, ["wemath", "mathvision"], **kw)
    assert sum(calls) == 6

    # Official formats: We-Math a JSON list of testmini rows + response; MATH-V JSONL id/response.
    wm = json.loads((tmp_path / "wemath" / "results.json").read_text())
    assert isinstance(wm, list) and len(wm) == 3
    assert {r["key"] for r in wm} == {"2steps_1", "2steps_2", "2steps_multi"}  # one whole group
    assert all({"ID", "key", "response"} <= set(r) for r in wm)
    mv = [json.loads(line) for line in (tmp_path / "mathvision" / "results.jsonl").read_text().splitlines()]
    assert [set(r) for r in mv] == [{"id", "response"}] * 3

    for name in ("wemath", "mathvision"):
        m = metrics[name]
        assert m["total"] == 3 and 0 <= m["correct"] <= 3 and "accuracy" in m
        lengths = m["lengths"]
        assert set(lengths["response_tokens"]) == {"mean", "median", "max"}
        assert set(lengths["think_tokens"]) == {"mean", "median", "max"}
        assert 0 <= lengths["clipped_ratio"] <= 1 and lengths["max_new_tokens"] == 8
        assert json.loads((tmp_path / name / "metrics.json").read_text())["total"] == 3
        # The files re-score on their own, as `seethink score` does it.
        res = tmp_path / name / bench_run.results_filename(name)
        again = score_file(name, res, BENCH / name)
        assert (again["correct"], again["total"]) == (m["correct"], m["total"])
    assert set(json.loads((tmp_path / "metrics.json").read_text())) == {"wemath", "mathvision"}

    # Resume: drop the last response (and tear the file), rerun: only that item is generated again.
    resp = tmp_path / "mathvision" / "responses.jsonl"
    lines = resp.read_text().splitlines(keepends=True)
    dropped = json.loads(lines[-1])["id"]
    resp.write_text("".join(lines[:-1]) + '{"id": "tor')
    calls.clear()
    evaluate_benchmarks(tiny_model_dir, ["wemath", "mathvision"], **kw)
    assert calls == [1]
    after = resp.read_text().splitlines(keepends=True)
    assert after[:-1] == lines[:-1]
    assert json.loads(after[-1])["id"] == dropped
    # Greedy: the regenerated response is the same.
    assert json.loads(after[-1])["response"] == json.loads(lines[-1])["response"]


def test_round_trip_gold_answers_score_100(tmp_path: Path) -> None:
    mv_dir, wm_dir = _need("mathvision"), _need("wemath")
    mv = load("mathvision", mv_dir)[:8]
    path = write_results("mathvision", mv, [f"So the answer is \\boxed{{{it['answer']}}}." for it in mv],
                         tmp_path / "mv" / bench_run.results_filename("mathvision"))
    m = score_file("mathvision", path, mv_dir)
    assert (m["correct"], m["total"], m["accuracy"]) == (8, 8, 100.0)

    wm = select_items("wemath", load("wemath", wm_dir), 7)
    assert len(wm) >= 7
    path = write_results("wemath", wm, [f"Answer: {it['answer']}" for it in wm],
                         tmp_path / "wm" / bench_run.results_filename("wemath"))
    m = score_file("wemath", path, wm_dir)
    assert (m["correct"], m["accuracy"], m["score_strict"]) == (len(wm), 100.0, 100.0)
    # Wrong answers everywhere score 0.
    path = write_results("wemath", wm, ["Answer: H" for _ in wm], tmp_path / "wm0" / "results.json")
    assert score_file("wemath", path, wm_dir)["correct"] == 0


def test_round_trip_mathvista_format(tmp_path: Path) -> None:
    d = _need("mathvista")
    items = load("mathvista", d)[:10]
    path = write_results("mathvista", items, [f"\\boxed{{{it['answer']}}}" for it in items],
                         tmp_path / bench_run.results_filename("mathvista"))
    raw = json.loads(path.read_text())
    assert isinstance(raw, dict) and set(raw) == {it["id"] for it in items}
    m = score_file("mathvista", path, d)
    assert (m["correct"], m["total"]) == (10, 10)


def test_mathvista_without_images_is_a_clear_error(tmp_path: Path) -> None:
    d = _need("mathvista")
    if load("mathvista", d)[0]["images"]:
        pytest.skip("this copy of MathVista has its images")
    with pytest.raises(UserError, match=r"mathvista: 2 of 2 items have no image on disk.*annotations only"):
        evaluate_benchmarks(None, ["mathvista"], data_root=None, data_paths={"mathvista": d}, limit=2,
                            out_dir=tmp_path, model_and_processor=(None, None), log=lambda _m: None)
    assert not (tmp_path / "mathvista" / "responses.jsonl").exists()


def test_read_responses_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    p = tmp_path / "responses.jsonl"
    p.write_text('{"id": "a", "response": "x"}\n{"id": "b", "response": "y"}\n{"id": "c", "resp')
    assert read_responses(p) == {"a": "x", "b": "y"}
    assert p.read_text() == '{"id": "a", "response": "x"}\n{"id": "b", "response": "y"}\n'
    p.write_text('{"id": "a", "response": "x"}')  # whole row, no newline: kept and terminated
    assert read_responses(p) == {"a": "x"} and p.read_text().endswith("\n")
    p.write_text('garbage\n{"id": "a", "response": "x"}\n')
    with pytest.raises(UserError, match="row 1"):
        read_responses(p)


def test_read_responses_cuts_a_torn_character_and_keeps_the_last_row_of_an_id(tmp_path: Path) -> None:
    p = tmp_path / "responses.jsonl"
    whole = b'{"id": "a", "response": "x"}\n{"id": "a", "response": "y"}\n'
    p.write_bytes(whole + '{"id": "b", "response": "é'.encode()[:-1])  # an append cut inside "é"
    assert read_responses(p) == {"a": "y"}
    assert p.read_bytes() == whole
    p.write_text('{"id": "a"}\n{"id": "b", "response": "x"}\n')
    with pytest.raises(UserError, match="row 1: not a responses row"):
        read_responses(p)


def test_unknown_benchmark_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        evaluate_benchmarks(None, ["nope"], data_root=tmp_path, out_dir=tmp_path, model_and_processor=(None, None))
    with pytest.raises(UserError, match="data folder not found"):
        evaluate_benchmarks(None, ["mathvision"], data_root=tmp_path, out_dir=tmp_path,
                            model_and_processor=(None, None))


def test_sampled_answers_resume_and_regenerate_when_settings_change(
        tiny, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need("mathvision")
    calls: list[tuple[int, float]] = []
    real = bench_generate.generate

    def counting(model, processor, convs, imgs, **kw):
        calls.append((kw.get("num_return_sequences", 1), kw.get("temperature", 0.0)))
        return real(model, processor, convs, imgs, **kw)

    monkeypatch.setattr(bench_generate, "generate", counting)
    kw = dict(data_root=BENCH, limit=2, out_dir=tmp_path, max_new_tokens=3, batch_size=2, model_and_processor=tiny,
              log=lambda _msg: None, samples=2, temperature=0.7, top_p=0.9, seed=5)
    m = evaluate_benchmarks(tiny_model_dir, ["mathvision"], **kw)["mathvision"]
    assert calls == [(1, 0.0), (2, 0.7)] and "sampled_accuracy" in m
    assert m["run"]["samples"] == 2 and m["run"]["temperature"] == 0.7 and m["protocol"] == "unified"
    first = bench_files.read_rows(tmp_path / "mathvision" / "sampled.jsonl", "responses")
    assert len(first) == 2 and all(len(v) == 2 for v in first.values())
    calls.clear()
    evaluate_benchmarks(tiny_model_dir, ["mathvision"], **kw)
    assert calls == []  # everything reused
    evaluate_benchmarks(tiny_model_dir, ["mathvision"], **{**kw, "samples": 3})
    assert calls == [(3, 0.7)]  # only the sampled pass changed
    calls.clear()
    evaluate_benchmarks(tiny_model_dir, ["mathvision"], **{**kw, "samples": 3, "max_new_tokens": 4})
    assert calls == [(1, 0.0), (3, 0.7)]  # another answer length: every answer again
    preds = [json.loads(x) for x in (tmp_path / "mathvision" / "predictions.jsonl").read_text().splitlines()]
    assert all(p["sampled_correct"] in (0.0, 1 / 3, 2 / 3, 1.0) for p in preds)


def test_cli_eval_benchmarks_with_sampling_device_and_dtype(tiny_model_dir: Path, tmp_path: Path, cli) -> None:
    _need("mathvision")
    code, out, err = cli(["eval", "--model", str(tiny_model_dir), "--benchmarks", "mathvision", "--data-root",
                          str(BENCH), "--limit", "1", "--max-new-tokens", "2", "--samples", "2", "--temperature",
                          "0.7", "--top-p", "0.9", "--device", "cpu", "--dtype", "float32", "--backend", "hf",
                          "--out", str(tmp_path)])
    assert code == 0, err
    res = json.loads(out[out.index("{"):])
    assert res["mathvision"]["total"] == 1 and "sampled_accuracy" in res["mathvision"]
    run = json.loads((tmp_path / "mathvision" / "metrics.json").read_text())["run"]
    assert (run["device"], run["dtype"], run["backend"], run["samples"], run["top_p"]) == ("cpu", "float32", "hf", 2, 0.9)
    code, _, err = cli(["eval", "--model", str(tiny_model_dir), "--benchmarks", "mathvision", "--data-root",
                        str(BENCH), "--dtype", "fp8", "--out", str(tmp_path)])
    assert code == 2 and "--dtype: must be one of auto" in err
