"""Every benchmark against numbers produced by running its official (or pinned field-standard)
evaluator on the same files.

The fixtures under `fixtures/official/<benchmark>/` hold the data, the results files in the
formats the official tools write (empty rows and missing predictions included) and
`expected.json`, whose `source` names the repository, commit and files that produced it; the
scripts that ran that code are kept beside them in `fixtures/official/runners/` (see the README
there). MATH-Vision, MathVista and We-Math are checked against official outputs on the real data in
their own test files; MathVista's results-only scoring is checked here on that real run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seethink.eval.benchmarks import judge_file, rules, score_file

FIX = Path(__file__).parent / "fixtures" / "official"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


def _expected(name: str) -> dict:
    return json.loads((FIX / name / "expected.json").read_text(encoding="utf-8"))


def test_every_benchmark_names_its_rules() -> None:
    assert {n: rules(n)[0] for n in ("aokvqa", "cvbench", "hallusionbench", "mathverse", "mathvision", "mathvista",
                                     "mmstar", "pope", "realworldqa", "vlmeval_tsv", "wemath")} == {
        "aokvqa": "official", "cvbench": "cambrian", "hallusionbench": "vlmevalkit", "mathverse": "official",
        "mathvision": "official", "mathvista": "official", "mmstar": "official", "pope": "official",
        "realworldqa": "lmms-eval", "vlmeval_tsv": "vlmevalkit", "wemath": "official"}


# ------------------------------------------------------------------ A-OKVQA


@pytest.mark.parametrize("name", ["predictions_val.json", "predictions_mc_only.json", "predictions_da_only.json",
                                  "predictions_empty.json"])
def test_aokvqa(name: str) -> None:
    """prepare_predictions.py's files ({} for a question without prediction) as eval_predictions.py
    scores them: MC over every question, DA over the non-difficult ones, each printed only when
    some question has it."""
    root = FIX / "aokvqa"
    m = score_file("aokvqa", root / name, root)
    assert m["official"] == _expected("aokvqa")["files"][name]
    assert m["total"] == 8


# ------------------------------------------------------------------ CV-Bench


def test_cvbench() -> None:
    root, exp = FIX / "cvbench", _expected("cvbench")
    m = score_file("cvbench", root / "responses.jsonl", root)
    assert m["official"]["sources"] == exp["sources"]
    assert m["official"]["cv_bench"] == exp["cv_bench"]
    assert m["cv_bench"] == round(exp["cv_bench"] * 100, 2)
    for v in judge_file("cvbench", root / "responses.jsonl", root):
        want = exp["per_row"][v["id"]]
        assert (v["prediction"] or "", v["correct"]) == (want["extracted"], want["correct"]), v["id"]


# ------------------------------------------------------------------ HallusionBench


def test_hallusionbench_result_file() -> None:
    """The official HallusionBench_result.json (data rows + model_prediction), read with VLMEvalKit's
    YOrN_Extraction (so `**Yes**`, `yes:`, `'Yes'`, `Yes.It is.`, `Yes—definitely`, `Yes…`, `No:` are
    unclear), then evaluation.py's tables: easy/hard split on visual_input."""
    root, exp = FIX / "hallusionbench", _expected("hallusionbench")
    m = score_file("hallusionbench", root / "HallusionBench_result.json", root)
    o = m["official"]
    assert o["leaderboard"] == exp["leaderboard"]
    assert o["per_question"] == exp["per_question_table1"]
    assert o["per_pair"] == exp["per_pair_table3"]
    assert o["per_figure"] == exp["per_figure_table2"]
    assert o["yes_no_bias"] == exp["yes_no_bias"]
    assert o["question_stats"] == exp["question_stats"]
    assert (m["aAcc"], m["qAcc"], m["fAcc"]) == (exp["leaderboard"]["aAcc"], exp["leaderboard"]["qAcc"],
                                                 exp["leaderboard"]["fAcc"])
    assert (m["easy_qAcc"], m["hard_qAcc"]) == (exp["leaderboard"]["easy_aAcc"], exp["leaderboard"]["hard_aAcc"])
    code = {"Yes": "1", "No": "0", "Unknown": "2"}
    for v in judge_file("hallusionbench", root / "HallusionBench_result.json", root):
        want = exp["per_row"][v["id"]]
        assert (v["prediction"], int(v["correct"])) == (code[want["yorn"]], want["correct"]), v["id"]


@pytest.mark.parametrize("part", ["vd", "vs"])
def test_hallusionbench_gpt_check_files(part: str) -> None:
    """evaluation.py's saved outputs carry its correctness entry (gpt4v_output_gpt_check): it decides,
    under either rule."""
    root, exp = FIX / "hallusionbench", _expected("hallusionbench")
    for rule in rules("hallusionbench"):
        m = score_file("hallusionbench", root / f"hallusion_output_{part}_model.json", root, rule=rule)
        assert m["official"]["per_question"][part.upper()] == exp["per_question_table1"][part.upper()]
        assert m["official"]["per_pair"][part.upper()] == exp["per_pair_table3"][part.upper()]
        assert m["official"]["per_figure"][part.upper()] == exp["per_figure_table2"][part.upper()]


def test_hallusionbench_seethink_rule_reads_more() -> None:
    root = FIX / "hallusionbench"
    official = score_file("hallusionbench", root / "HallusionBench_result.json", root)
    ours = score_file("hallusionbench", root / "HallusionBench_result.json", root, rule="seethink")
    assert ours["unclear"] < official["unclear"] and ours["correct"] > official["correct"]


# ------------------------------------------------------------------ MathVerse


@pytest.mark.parametrize("name", ["answer_extraction.json", "answer_scored.json"])
def test_mathverse(name: str) -> None:
    """Step 1's output (extraction) quick-matched, and step 2's output (judgement) as it is: the
    lines score_answer_s2.py prints, subject-subfield groups kept apart."""
    root, exp = FIX / "mathverse", _expected("mathverse")
    m = score_file("mathverse", root / name, root)
    assert {k: f"{v:.3f}" for k, v in m["official"].items()} == exp["printed"]
    assert {v["id"]: int(v["correct"]) for v in judge_file("mathverse", root / name, root)} == exp["judgement"]
    assert "Plane Geometry-Length" in m["breakdown"]["subject_subfield"]
    assert "Solid Geometry-Length" in m["breakdown"]["subject_subfield"]


# ------------------------------------------------------------------ MathVista (results carry the gold fields)

RUN = SHARED / "mathvista" / "outputs" / "output_gpt4_2shot_solution.json"


@pytest.mark.skipif(not RUN.is_file(), reason="shared MathVista files not found")
def test_mathvista_without_data(tmp_path: Path) -> None:
    """calculate_score.py needs only the output file (its rows carry choices, types, precision,
    answer and metadata): so does `seethink score mathvista FILE` when no testmini.json is near."""
    alone = tmp_path / "alone" / RUN.name
    alone.parent.mkdir()
    shutil.copy(RUN, alone)
    m = score_file("mathvista", alone)
    official = json.loads((RUN.parent / "scores_gpt4_2shot_solution.json").read_text())
    assert (m["correct"], m["total"]) == (official["average"]["correct"], official["average"]["total"])
    for key, groups in official.items():
        if key == "average":
            continue
        for group, row in groups.items():
            got = m["breakdown"][key][group]
            assert (got["correct"], got["total"]) == (row["correct"], row["total"]), (key, group)
    assert m["breakdown"] == score_file("mathvista", RUN)["breakdown"]


@pytest.mark.skipif(not RUN.is_file(), reason="shared MathVista files not found")
def test_mathvista_cli_without_data(cli, tmp_path: Path) -> None:  # noqa: ANN001
    alone = tmp_path / "alone" / RUN.name
    alone.parent.mkdir()
    shutil.copy(RUN, alone)
    code, out, err = cli(["score", "mathvista", str(alone)])
    assert code == 0, err
    assert json.loads(out)["correct"] == 292
    rows = json.loads(RUN.read_text())
    first = next(iter(rows))
    del rows[first]["precision"]
    alone.write_text(json.dumps(rows))
    code, _, err = cli(["score", "mathvista", str(alone)])
    assert code == 2 and f"row {first}: missing field 'precision'" in err and "--data" in err


# ------------------------------------------------------------------ MMStar


@pytest.mark.parametrize("name", ["llava_next_yi_34b_MMStar.xlsx", "predictions.xlsx"])
def test_mmstar(name: str) -> None:
    """The official submission example and a VLMEvalKit-written .xlsx (empty cells, numbers), scored
    without a data folder as MMStar_eval scores them: the score file key for key."""
    root = FIX / "mmstar"
    m = score_file("mmstar", root / name)
    assert m["official"] == _expected("mmstar")["files"][name]


# ------------------------------------------------------------------ POPE


@pytest.mark.parametrize("split", ["adversarial", "popular", "random"])
@pytest.mark.parametrize("kind", ["answers", "llava", "responses"])
def test_pope(split: str, kind: str) -> None:
    """The README's answer files (question, answer; matched by position), LLaVA's (question_id,
    text) and our rows: what evaluate.py prints for each split."""
    root = FIX / "pope"
    name = "responses.jsonl" if kind == "responses" else f"{kind}_{split}.jsonl"
    m = score_file("pope", root / name, root)
    want = {k: v for k, v in _expected("pope")["splits"][split].items() if k != "printed"}
    assert m["splits"][split]["official"] == want


# ------------------------------------------------------------------ RealWorldQA


@pytest.fixture(scope="module")
def rwqa_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datasets

    root = tmp_path_factory.mktemp("rwqa")
    (root / "data").mkdir()
    rows = json.loads((FIX / "realworldqa" / "data.json").read_text(encoding="utf-8"))
    datasets.Dataset.from_list(rows).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


@pytest.mark.parametrize("name", ["responses.jsonl", "samples_realworldqa.jsonl"])
def test_realworldqa(rwqa_data: Path, name: str) -> None:
    """lmms-eval's flexible-extract filters and exact_match (pinned commit), per row; its samples
    file (doc_id, resps) is read too."""
    exp = _expected("realworldqa")
    verdicts = judge_file("realworldqa", FIX / "realworldqa" / name, rwqa_data)
    for v in verdicts:
        want = exp["per_row"][v["id"]]
        assert (v["prediction"], float(v["correct"])) == (want["filtered"], want["exact_match"]), v["id"]
    m = score_file("realworldqa", FIX / "realworldqa" / name, rwqa_data)
    assert m["correct"] / m["total"] == exp["exact_match"]


# ------------------------------------------------------------------ VLMEvalKit TSV


def test_vlmeval_tsv_predictions_xlsx() -> None:
    """VLMEvalKit's own predictions file (.xlsx, empty prediction cell, numeric options read by
    pandas), by its exact-matching evaluation: per-row option and report_acc's table."""
    root, exp = FIX / "vlmeval_tsv", _expected("vlmeval_tsv")["predictions_xlsx"]
    verdicts = judge_file("vlmeval_tsv", root / "predictions.xlsx", root / "MCQ.tsv")
    assert {v["id"]: (v["prediction"] or "Z", int(v["correct"])) for v in verdicts} == {
        k: (r["opt"], r["hit"]) for k, r in exp["per_row"].items()}
    m = score_file("vlmeval_tsv", root / "predictions.xlsx", root / "MCQ.tsv")
    assert m["official"] == exp["report_acc"]
    assert (m["correct"], m["total"]) == (exp["correct"], exp["total"])


def test_vlmeval_tsv_responses() -> None:
    """Our JSONL rows, with the options as VLMEvalKit reads the data TSV: same verdicts."""
    root, exp = FIX / "vlmeval_tsv", _expected("vlmeval_tsv")["responses_jsonl"]
    verdicts = judge_file("vlmeval_tsv", root / "responses.jsonl", root / "MCQ.tsv")
    assert {v["id"]: int(v["correct"]) for v in verdicts} == exp["per_row"]
    api = next(v for v in verdicts if v["id"] == "7")  # "Failed to obtain answer via API. B"
    assert api["prediction"] is None
    ours = {v["id"]: v["prediction"] for v in judge_file("vlmeval_tsv", root / "responses.jsonl", root / "MCQ.tsv",
                                                          rule="seethink")}
    assert ours["7"] is None and ours["12"] == "A"  # the \boxed{A} answer VLMEvalKit misses
