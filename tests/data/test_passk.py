"""pass@K annotation on the tiny random model: columns, one expanded prompt per item, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seethink.data.commands import register
from seethink.data.export import write_toy_items
from seethink.data.images import item_images
from seethink.data.passk import pass_at_k, score_samples
from seethink.errors import UserError
from seethink.rewards.core import build_reward
from seethink.utils import read_jsonl, write_jsonl

K = 3


@pytest.fixture(autouse=True)
def _one_torch_thread(monkeypatch):
    """A tiny model decodes ~100x slower with 2 spinning threads when other jobs hold the cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("SEETHINK_THREADS", "1")  # the CLI pins threads itself
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path):
    from seethink.models.load import load_model

    return load_model(tiny_model_dir)


def _run(src: Path, out: Path, loaded, **kw):
    return pass_at_k("unused", src, out, k=K, max_new_tokens=6, batch_size=2, progress=False,
                     model_and_processor=loaded, **kw)


def test_pass_rate_columns_and_one_generate_call_per_batch(tmp_path: Path, loaded, monkeypatch):
    src = write_toy_items("perception", 3, "train", 0, tmp_path / "p.jsonl")
    from seethink.models import fastgen

    calls: list[dict] = []
    real = fastgen.generate

    def spy(model, **kw):  # the engine's generate call (lean decoding; transformers' loop behind it)
        calls.append({"n": kw["num_return_sequences"], "prompts": kw["input_ids"].shape[0],
                      "images": kw["image_grid_thw"].shape[0], "sample": kw["do_sample"]})
        return real(model, **kw)

    monkeypatch.setattr(fastgen, "generate", spy)
    out = tmp_path / "out" / "p_pk.jsonl"
    stats = _run(src, out, loaded)
    # 3 prompts in batches of 2: two generate calls, each prompt encoded once and expanded K times.
    assert calls == [{"n": K, "prompts": 2, "images": 2, "sample": True}, {"n": K, "prompts": 1, "images": 1, "sample": True}]
    rows = read_jsonl(out)
    inp = read_jsonl(src)
    assert [r["id"] for r in rows] == [r["id"] for r in inp] and stats["sampled"] == 3
    for r, orig in zip(rows, inp, strict=True):
        assert len(r["predictions"]) == K and all(isinstance(p, str) for p in r["predictions"])
        assert len(r["correctness"]) == K and all(isinstance(c, bool) for c in r["correctness"])
        assert r["pass_rate"] == sum(r["correctness"]) / K
        assert {k: v for k, v in r.items() if k not in ("predictions", "correctness", "pass_rate", "images")} == {
            k: v for k, v in orig.items() if k != "images"}
        # Images still resolve from the output's folder.
        assert item_images(r, out.parent)[0].tobytes() == item_images(orig, src.parent)[0].tobytes()


def test_resume_after_truncation(tmp_path: Path, loaded):
    src = write_toy_items("text", 4, "train", 1, tmp_path / "t.jsonl")
    out = tmp_path / "t_pk.jsonl"
    first = _run(src, out, loaded)
    assert first["sampled"] == 4
    full = read_jsonl(out)
    # Simulate a kill: two finished rows, then half a line.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2])
    again = _run(src, out, loaded)
    assert again["reused"] == 2 and again["sampled"] == 2
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [r["id"] for r in full]  # same rows, same order, no duplicates
    assert rows[:2] == full[:2]
    assert _run(src, out, loaded)["sampled"] == 0  # finished: nothing to do
    assert read_jsonl(out) == rows


def test_default_reward_grades_samples():
    item = {"question": "q", "options": ["1", "2", "3", "4"], "answer": "B"}
    got = score_samples(["<think> x</think> \\boxed{B}", "\\boxed{A}", "<think> y</think> \\boxed{2}"], item,
                        build_reward())
    assert got["correctness"] == [True, False, True] and got["pass_rate"] == pytest.approx(2 / 3)


def test_input_checks(tmp_path: Path, loaded):
    src = tmp_path / "d.jsonl"
    write_jsonl(src, [{"id": "a", "question": "1+1?", "answer": "2"}, {"id": "a", "question": "2+2?", "answer": "4"}])
    with pytest.raises(UserError, match=r"d\.jsonl, row 2, field 'id': duplicate id 'a'"):
        _run(src, tmp_path / "o.jsonl", loaded)
    with pytest.raises(UserError, match="temperature must be > 0"):
        _run(src, tmp_path / "o.jsonl", loaded, temperature=0.0)


def test_cli_passk(tmp_path: Path, tiny_model_dir: Path):
    src = write_toy_items("visual", 2, "train", 0, tmp_path / "v.jsonl")
    app, data = typer.Typer(), typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    out = tmp_path / "v_pk.jsonl"
    r = CliRunner().invoke(app, ["data", "passk", "--model", str(tiny_model_dir), "--input", str(src), "--k", "2",
                                 "--out", str(out), "--max-new-tokens", "4", "--temperature", "0.7"])
    assert r.exit_code == 0, r.output
    assert "pass@2: 2 rows" in r.output
    assert all(len(row["predictions"]) == 2 for row in read_jsonl(out))


def test_shards_resume_and_merge_into_the_output(tmp_path: Path, loaded):
    from seethink.data.passk import merge_shards, parse_shard, shard_path

    src = write_toy_items("text", 5, "train", 2, tmp_path / "t.jsonl")
    out = tmp_path / "t_pk.jsonl"
    first = _run(src, out, loaded, shard=(0, 2))
    assert first["rows"] == 3 and first["merged"] is False and not out.exists()  # rows 0, 2, 4; shard 1 missing
    assert [r["id"] for r in read_jsonl(shard_path(out, (0, 2)))] == [r["id"] for r in read_jsonl(src)][0::2]
    assert _run(src, out, loaded, shard=(0, 2))["sampled"] == 0  # a shard resumes like the whole file
    second = _run(src, out, loaded, shard=(1, 2))
    assert second["rows"] == 2 and second["merged"] is True  # the last shard to finish writes OUT
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [r["id"] for r in read_jsonl(src)]  # input order
    assert all(len(r["predictions"]) == K for r in rows)
    assert merge_shards(src, out, k=K, shards=2) == {"merged": True, "missing": 0}
    assert _run(src, out, loaded)["sampled"] == 0  # the merged output resumes unsharded
    assert parse_shard("3/4") == (3, 4)
    with pytest.raises(UserError, match="need 0 <= I < N"):
        parse_shard("4/4")
    with pytest.raises(UserError, match="--shard expects I/N"):
        parse_shard("x")


def test_vllm_backend(tmp_path: Path, tiny_model_dir: Path, monkeypatch):
    """Against a stand-in `vllm` module (as tests/eval/test_vllm_engine.py): K samples per prompt."""
    import sys
    import types

    from seethink.eval import vllm_engine

    seen: dict = {"requests": []}

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    class _Out:
        def __init__(self, text):
            self.text = text

    class LLM:
        def __init__(self, **kw):
            seen["llm"] = kw

        def generate(self, requests, params, use_tqdm=True):
            seen["requests"] += requests
            seen["params"] = params.kw
            return [types.SimpleNamespace(outputs=[_Out(f"<think>x</think> \\boxed{{{k}}}") for k in range(params.kw["n"])])
                    for _ in requests]

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setattr(vllm_engine, "vllm_available", lambda: True)
    src = write_toy_items("text", 3, "train", 0, tmp_path / "t.jsonl")
    out = tmp_path / "t_pk.jsonl"
    stats = pass_at_k(tiny_model_dir, src, out, k=K, batch_size=2, max_new_tokens=5, temperature=0.9, progress=False,
                      backend="auto", dtype="bfloat16")
    assert stats["backend"] == "vllm" and seen["llm"]["dtype"] == "bfloat16"
    assert len(seen["requests"]) == 3 and seen["params"]["n"] == K and seen["params"]["temperature"] == 0.9
    assert seen["params"]["max_tokens"] == 5
    rows = read_jsonl(out)
    assert [r["predictions"] for r in rows] == [[f"<think>x</think> \\boxed{{{k}}}" for k in range(K)]] * 3
    for r, item in zip(rows, read_jsonl(src), strict=True):  # graded by the default reward
        assert r["correctness"] == [str(k) == str(item["answer"]) for k in range(K)]


def test_cli_passk_shards_and_merge(tmp_path: Path, tiny_model_dir: Path):
    src = write_toy_items("text", 2, "train", 3, tmp_path / "t.jsonl")
    app, data = typer.Typer(), typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    out = tmp_path / "t_pk.jsonl"
    base = ["data", "passk", "--model", str(tiny_model_dir), "--input", str(src), "--k", "2", "--out", str(out),
            "--max-new-tokens", "3", "--device", "cpu", "--dtype", "float32", "--backend", "hf"]
    r = CliRunner().invoke(app, [*base, "--shard", "0/2"])
    assert r.exit_code == 0, r.output
    assert "shard 0/2: pass@2: 1 rows" in r.output and "other shards are not finished yet" in r.output
    r = CliRunner().invoke(app, [*base, "--merge", "2"])
    assert r.exit_code != 0 and "1 rows are not finished" in str(r.exception)
    assert CliRunner().invoke(app, [*base, "--shard", "1/2"]).exit_code == 0
    assert [row["id"] for row in read_jsonl(out)] == [row["id"] for row in read_jsonl(src)]
    r = CliRunner().invoke(app, [*base, "--merge", "2"])
    assert r.exit_code == 0 and "merged 2 shards" in r.output
    r = CliRunner().invoke(app, [*base, "--device", "gpu"])
    assert r.exit_code != 0 and "--device must be auto, cpu, cuda or cuda:N" in str(r.exception)


def test_finished_rows_are_those_complete_for_k_and_a_torn_last_line_is_ignored(tmp_path: Path):
    from seethink.data.passk import _read_finished

    out = tmp_path / "o.jsonl"
    full = {"id": 1, "predictions": ["a", "b"], "correctness": [True, False], "pass_rate": 0.5}
    other_k = {"id": 2, "predictions": ["a"], "correctness": [True], "pass_rate": 1.0}
    unscored = {"id": 3, "predictions": ["a", "b"]}
    write_jsonl(out, [full, other_k, unscored])
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"id": 4, "predictions": ["a", "b"], "correctness": [tr')  # an append cut off by a kill
    assert _read_finished(out, 2) == {"1": full}
    assert _read_finished(out, 1) == {"2": other_k}
    assert _read_finished(tmp_path / "none.jsonl", 2) == {}
