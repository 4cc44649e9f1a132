"""MathVerse's and HallusionBench's LLM steps through `seethink judge`, against a loopback stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_judge import _Handler, serve

from seethink.eval.benchmarks import judge_file, score_file
from seethink.eval.judge import Judge, judge_mathverse


class _StandIn(_Handler):
    """Plays the judge LLM: extracts the last boxed value, compares answers, reads yes/no."""

    def answer(self, prompt: str) -> str:
        if "Equivalent (1 or 0):" in prompt:
            ref = re.search(r"Reference answer: (.*)", prompt).group(1).strip()  # type: ignore[union-attr]
            got = re.search(r"Model's answer: (.*)", prompt).group(1).strip()  # type: ignore[union-attr]
            return "1" if ref.replace(" ", "") == got.replace(" ", "") else "0"
        if prompt.rstrip().endswith("Reply:"):
            resp = prompt.split("Model response:", 1)[1].rsplit("\n", 1)[0]
            words = set(re.findall(r"[a-z]+", resp.lower()))
            yes, no = "yes" in words, "no" in words
            return "unclear" if yes == no else "yes" if yes else "no"
        return super().answer(prompt)


@pytest.fixture
def server():
    yield from serve(_StandIn)


def test_mathverse_extract_then_match(server, tmp_path: Path):
    from test_benchmarks_mathverse import _official

    root = _official(tmp_path)
    src = tmp_path / "mv.jsonl"
    rows = [{"id": "1", "response": "so \\boxed{C}"}, {"id": "3", "response": "about \\boxed{14}"},
            {"id": "4", "response": "no box here"}, {"id": "6", "response": "x", "extraction": "22.3"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "judged.jsonl"
    stats = judge_mathverse(src, out, Judge(server, "stand-in", cache_path=tmp_path / "c.jsonl"), data_dir=root)
    assert stats == {"rows": 4, "judged": 7}  # 3 extractions + 4 verdicts
    judged = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["extraction"] for r in judged] == ["C", "14", "", "22.3"]
    assert [r["judgement"] for r in judged] == [1, 1, 0, 1]
    verdicts = judge_file("mathverse", out, root)
    assert [v["correct"] for v in verdicts] == [True, True, False, True]
    assert {v["extracted_by"] for v in verdicts} == {"judge"}
    assert score_file("mathverse", out, root)["correct"] == 3
    # Cached: judging the judged file again asks nothing.
    again = judge_mathverse(out, tmp_path / "again.jsonl", Judge(server, "stand-in"), data_dir=root)
    assert again["judged"] == 0


def test_hallusionbench_reads_answers(server, tmp_path: Path, cli):
    from test_benchmarks_hallusionbench import _official, _results

    root = _official(tmp_path)
    out = tmp_path / "hb_judged.jsonl"
    code, stdout, err = cli(["judge", "hallusionbench", str(_results(tmp_path)), "--out", str(out),
                             "--base-url", server, "--model", "m", "--data", str(root)])
    assert code == 0, err
    assert "judged 7 of 7" in stdout
    judged = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["judgement"] for r in judged] == ["1", "0", "1", "1", "2", "1", "2"]
    rule = score_file("hallusionbench", _results(tmp_path), root)
    llm = score_file("hallusionbench", out, root)
    assert llm["correct"] == rule["correct"]  # the stand-in reads yes/no like the rule does


def test_unknown_benchmark_is_refused(cli, tmp_path: Path):
    src = tmp_path / "r.json"
    src.write_text("[]")
    code, _, err = cli(["judge", "pope", str(src), "--out", str(tmp_path / "o.json"), "--base-url", "http://x",
                        "--model", "m"])
    assert code == 2 and "mathvista, mathverse, hallusionbench" in err
