"""Every scorer, fed arbitrary rows in its results schema, returns JSON-serialisable metrics or
raises UserError naming the file (and the row and field where one is at fault); it never crashes
or hangs. The CLI turns such errors into exit code 2."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seethink.errors import UserError
from seethink.eval.benchmarks import judge_file, rules, score_file

FIX = Path(__file__).parent / "fixtures" / "official"
LIMIT_S = 60.0  # a call that takes longer counts as a hang (the busy CI machine is slow, not that slow)

TRICKY = [
    "", " ", "A", "(B)", "b.", "Yes", "No:", "**Yes**", "Yes…", "yes, 1,000", "The answer is C",
    "Answer: D", "\\boxed{A}", "\\boxed{" * 40, "}" * 40, "<think>", "</think>A", "Failed to obtain answer via API",
    "Cannot determine the answer", "Z", "nan", "None", "10^{10^{10}}", "9^9^9^9^9", "1e999", "-0", "\x00",
    "ａ", "İ", "\u2028", "\ud800", "a. " * 50, "answer is " + " " * 2000 + "x", "(" * 300, "1,2,3" * 200,
    "\\frac{1}{0}", "x" * 5000,
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY), st.text(max_size=40),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=6)
STRINGS = st.one_of(st.sampled_from(TRICKY), st.text(max_size=80))
TEXTS = st.one_of(STRINGS, VALUES)


def _bounded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run in a worker thread; fail (instead of hanging the suite) past LIMIT_S."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  (re-raised below, in the test's thread)
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(LIMIT_S)
    if t.is_alive():
        pytest.fail(f"{fn.__name__}{args[:2]} ran past {LIMIT_S}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _check(name: str, path: Path, data: Path | None) -> None:
    for rule in rules(name):
        try:
            metrics = _bounded(score_file, name, path, data, rule=rule)
        except UserError as exc:
            assert path.name in str(exc) or (data is not None and data.name in str(exc)), str(exc)
            continue
        json.dumps(metrics, allow_nan=False)  # valid JSON for the CLI
        assert metrics["rule"] == rule
        verdicts = _bounded(judge_file, name, path, data, rule=rule)
        assert isinstance(verdicts, list)


def _rows_file(path: Path, rows: list[Any], form: str) -> Path:
    if form == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif form == "list":
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:  # object keyed by id, as A-OKVQA / MathVista official files
        obj = {}
        for i, r in enumerate(rows):
            key = r.pop("id", i) if isinstance(r, dict) else i
            obj[str(key) if isinstance(key, (str, int)) else str(i)] = r
        path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _row(ids: list[str], id_keys: list[str], text_keys: list[str], extra: dict[str, Any] | None = None):  # noqa: ANN202
    """Rows of the schema with any JSON values: an id (valid mostly), text fields, extra fields."""
    id_value = st.one_of(st.sampled_from(ids), st.sampled_from(ids).map(int) if all(i.isdigit() for i in ids)
                         else st.sampled_from(ids), VALUES)
    fields = {k: id_value for k in id_keys} | {k: TEXTS for k in text_keys} | (extra or {})
    row = st.fixed_dictionaries({}, optional=fields)
    return st.lists(row, max_size=6)


def _valid(ids: list[str], id_key: str, text_keys: list[str], extra: dict[str, Any] | None = None):  # noqa: ANN202
    """Well-formed rows: distinct known ids, every text one of the tricky forms or any string."""
    def rows(chosen: list[str]):  # noqa: ANN202
        one = st.fixed_dictionaries({k: STRINGS for k in text_keys[:1]},
                                    optional={k: STRINGS for k in text_keys[1:]} | (extra or {}))
        return st.tuples(*[one for _ in chosen]).map(lambda rs: [{id_key: i, **r} for i, r in zip(chosen, rs, strict=True)])

    return st.permutations(ids).flatmap(lambda p: st.integers(1, len(p)).flatmap(lambda n: rows(p[:n])))


def _rows(ids: list[str], id_keys: list[str], text_keys: list[str], extra_any: dict[str, Any] | None = None,
          extra_valid: dict[str, Any] | None = None):  # noqa: ANN202
    """Mostly well-formed results files, else anything in the schema's shape."""
    valid = _valid(ids, id_keys[0], text_keys, extra_valid)
    return st.one_of(valid, valid, _row(ids, id_keys, text_keys, extra_any))


SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


# ------------------------------------------------------------------ data folders


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import datasets

    root = tmp_path_factory.mktemp("data")
    out = {n: FIX / n for n in ("aokvqa", "cvbench", "hallusionbench", "mathverse", "pope")}
    out["vlmeval_tsv"] = FIX / "vlmeval_tsv" / "MCQ.tsv"
    rw = root / "realworldqa"
    (rw / "data").mkdir(parents=True)
    rows = json.loads((FIX / "realworldqa" / "data.json").read_text(encoding="utf-8"))
    datasets.Dataset.from_list(rows).to_parquet(str(rw / "data" / "test-00000-of-00001.parquet"))
    out["realworldqa"] = rw
    mm = root / "mmstar"
    mm.mkdir()
    shutil.copy(FIX / "vlmeval_tsv" / "MCQ.tsv", mm / "MMStar.tsv")
    tsv = (mm / "MMStar.tsv").read_text(encoding="utf-8")
    (mm / "MMStar.tsv").write_text(tsv.replace("l2-category", "l2_category"), encoding="utf-8")
    out["mmstar"] = mm
    mv = root / "mathvision"
    mv.mkdir()
    (mv / "testmini.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "1", "question": "q", "options": [], "answer": "6", "level": 1, "subject": "counting"},
        {"id": "2", "question": "q", "options": ["1", "2", "3", "4", "5"], "answer": "C", "level": 2,
         "subject": "algebra"},
        {"id": "3", "question": "q", "options": [], "answer": "\\frac{1}{2}", "level": 5, "subject": "algebra"},
    ]), encoding="utf-8")
    out["mathvision"] = mv
    vista = root / "mathvista"
    vista.mkdir()
    meta = {"language": "english", "source": "s", "category": "math", "task": "t", "context": "c", "grade": "g",
            "skills": ["a", "b"]}
    items = {
        "1": {"question_type": "multi_choice", "answer_type": "text", "choices": ["cat", "dog"], "precision": None,
              "answer": "dog", "question": "q", "metadata": meta},
        "2": {"question_type": "free_form", "answer_type": "integer", "choices": None, "precision": None,
              "answer": "3", "question": "q", "metadata": meta},
        "3": {"question_type": "free_form", "answer_type": "float", "choices": None, "precision": 2,
              "answer": "1.25", "question": "q", "metadata": meta},
        "4": {"question_type": "free_form", "answer_type": "list", "choices": None, "precision": None,
              "answer": "[1, 2]", "question": "q", "metadata": meta},
    }
    (vista / "testmini.json").write_text(json.dumps(items), encoding="utf-8")
    out["mathvista"] = vista
    we = root / "wemath"
    we.mkdir()
    we_rows = [
        {"ID": "g1", "key": k, "question": "q", "option": "A. 1;B. 2;C. 3", "answer": a,
         "knowledge concept": "c1"} for k, a in (("2steps_1", "A"), ("2steps_2", "B"), ("2steps_multi", "C"))
    ] + [
        {"ID": "g2", "key": k, "question": "q", "option": "A. x;B. y", "answer": "B", "knowledge concept": "c2"}
        for k in ("3steps_1", "3steps_2", "3steps_3", "3steps_multi")
    ]
    (we / "testmini.json").write_text(json.dumps(we_rows), encoding="utf-8")
    out["wemath"] = we
    return out


def _ids(name: str, data: dict[str, Path]) -> list[str]:
    from seethink.eval.benchmarks import load

    return [it["id"] for it in load(name, data[name])]


# ------------------------------------------------------------------ one property per benchmark

MC_FIELDS = {"multiple_choice": TEXTS, "direct_answer": TEXTS}


@SETTINGS
@given(st.data())
def test_aokvqa_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    ids = _ids("aokvqa", data)
    rows = draw.draw(_rows(ids, ["id"], ["response", "prediction"], MC_FIELDS, MC_FIELDS))
    form = draw.draw(st.sampled_from(["jsonl", "object", "list"]))
    _check("aokvqa", _rows_file(tmp_path / f"r.{'jsonl' if form == 'jsonl' else 'json'}", rows, form), data["aokvqa"])


@SETTINGS
@given(st.data())
def test_cvbench_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    rows = draw.draw(_rows(_ids("cvbench", data), ["id", "idx"], ["response", "prediction"]))
    _check("cvbench", _rows_file(tmp_path / "r.jsonl", rows, "jsonl"), data["cvbench"])


@SETTINGS
@given(st.data())
def test_hallusionbench_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    ids = _ids("hallusionbench", data)
    extra = {"gpt4v_output_gpt_check": st.one_of(st.sampled_from(["0", "1", "2", 1]), VALUES),
             "judgement": VALUES, "category": st.sampled_from(["VD", "VS"]), "subcategory": VALUES,
             "set_id": VALUES, "figure_id": VALUES, "question_id": VALUES}
    rows = draw.draw(_rows(ids, ["id"], ["model_prediction", "prediction", "response"], extra,
                           {"gpt4v_output_gpt_check": extra["gpt4v_output_gpt_check"]}))
    _check("hallusionbench", _rows_file(tmp_path / "r.json", rows, "list"), data["hallusionbench"])


@SETTINGS
@given(st.data())
def test_mathverse_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    extra = {"extraction": TEXTS, "judgement": st.one_of(st.sampled_from([0, 1, "1"]), VALUES), "answer": TEXTS}
    rows = draw.draw(_rows(_ids("mathverse", data), ["sample_index", "id"],
                           ["model_answer", "response", "prediction"], extra, extra))
    _check("mathverse", _rows_file(tmp_path / "r.json", rows, "list"), data["mathverse"])


@SETTINGS
@given(st.data())
def test_mathvision_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    rows = draw.draw(_rows(_ids("mathvision", data), ["id"], ["response", "model_answer"]))
    _check("mathvision", _rows_file(tmp_path / "r.jsonl", rows, "jsonl"), data["mathvision"])


@pytest.mark.parametrize("response", ["10^{10^{10}}", "9^9^9^9^9", "2^{2^{2^{2^{2^{2}}}}}", "(" * 500 + "1",
                                      "\\boxed{" * 200, "1" * 5000, "\\sqrt{" * 100 + "2", "e^{e^{e^{9}}}"])
def test_mathvision_hard_answers(data: dict[str, Path], tmp_path: Path, response: str) -> None:
    rows = [{"id": i, "response": f"The answer is \\boxed{{{response}}}"} for i in ("1", "2", "3")]
    _check("mathvision", _rows_file(tmp_path / "r.jsonl", rows, "jsonl"), data["mathvision"])


@SETTINGS
@given(st.data())
def test_mathvista_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    extra = {"extraction": TEXTS, "metadata": VALUES, "choices": VALUES, "question_type": VALUES,
             "answer_type": VALUES, "precision": VALUES, "answer": VALUES}
    official = {"question_type": st.just("free_form"), "answer_type": st.sampled_from(["integer", "float", "list"]),
                "choices": st.none(), "precision": st.sampled_from([1, 2.0]), "answer": st.sampled_from(["3", "1.25"]),
                "metadata": st.just({"language": "english", "source": "s", "category": "c", "task": "t",
                                     "context": "x", "grade": "g", "skills": ["a"]}), "extraction": TEXTS}
    rows = draw.draw(_rows(_ids("mathvista", data), ["id"], ["response"], extra, official))
    with_data = draw.draw(st.booleans())
    if not with_data and draw.draw(st.booleans()):  # the fields the official output rows carry
        fields = {k: draw.draw(v) for k, v in official.items() if k != "extraction"}
        rows = [{**fields, **r} if isinstance(r, dict) else r for r in rows]
    folder = tmp_path / "a" / "b"  # no testmini.json near it: without --data the rows must carry the fields
    folder.mkdir(parents=True, exist_ok=True)
    _check("mathvista", _rows_file(folder / "r.json", rows, "object"), data["mathvista"] if with_data else None)


@SETTINGS
@given(st.data())
def test_mmstar_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    extra = {"answer": VALUES, "category": VALUES, "l2_category": VALUES, "question": TEXTS, "A": VALUES, "B": VALUES}
    gold = {"answer": st.sampled_from(["A", "B"]), "category": st.just("math"), "l2_category": st.just("geometry")}
    rows = draw.draw(_rows(_ids("mmstar", data), ["index", "id"], ["prediction", "response"], extra,
                           {**gold, "A": VALUES}))
    with_data = draw.draw(st.booleans())
    if not with_data and draw.draw(st.booleans()):  # the fields the official .xlsx rows carry
        rows = [{"answer": "A", "category": "math", "l2_category": "geometry", **r} for r in rows]
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True, exist_ok=True)
    _check("mmstar", _rows_file(folder / "r.jsonl", rows, "jsonl"), data["mmstar"] if with_data else None)


@SETTINGS
@given(st.data())
def test_pope_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    ids = _ids("pope", data)
    extra = {"question_id": VALUES, "split": st.one_of(st.sampled_from(["random", "popular", "x"]), VALUES),
             "category": VALUES, "question": TEXTS}
    rows = draw.draw(_rows(ids, ["id"], ["answer", "prediction", "response", "text"], extra,
                           {"question": TEXTS}))
    name = draw.draw(st.sampled_from(["r.jsonl", "answers_random.jsonl", "random_popular.json"]))
    _check("pope", _rows_file(tmp_path / name, rows, "jsonl"), data["pope"])


@settings(SETTINGS, max_examples=12)
@given(st.data())
def test_realworldqa_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    extra = {"doc_id": VALUES, "resps": st.one_of(st.lists(st.lists(TEXTS, max_size=2), max_size=2), VALUES)}
    rows = draw.draw(_rows(_ids("realworldqa", data), ["id", "doc_id"], ["response", "prediction"], extra))
    _check("realworldqa", _rows_file(tmp_path / "r.jsonl", rows, "jsonl"), data["realworldqa"])


@SETTINGS
@given(st.data())
def test_vlmeval_tsv_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    extra = {c: VALUES for c in "ABCDE"}
    rows = draw.draw(_rows(_ids("vlmeval_tsv", data), ["index", "id"], ["prediction", "response"], extra, extra))
    _check("vlmeval_tsv", _rows_file(tmp_path / "r.jsonl", rows, "jsonl"), data["vlmeval_tsv"])


@SETTINGS
@given(st.data())
def test_wemath_rows(data: dict[str, Path], tmp_path: Path, draw: st.DataObject) -> None:
    keys = ["2steps_1", "2steps_2", "2steps_multi", "3steps_1", "3steps_2", "3steps_3", "3steps_multi"]
    row = st.fixed_dictionaries({}, optional={"ID": st.one_of(st.sampled_from(["g1", "g2"]), VALUES),
                                              "key": st.one_of(st.sampled_from(keys), VALUES), "response": TEXTS})
    complete = [{"ID": g, "key": k, "response": "Answer: A"} for g, k in
                [("g1", k) for k in keys[:3]] + [("g2", k) for k in keys[3:]]]
    rows = draw.draw(st.one_of(st.lists(row, max_size=8), st.lists(row, max_size=8).map(lambda rs: complete + rs),
                               st.lists(STRINGS, min_size=7, max_size=7).map(
                                   lambda texts: [{**r, "response": t} for r, t in zip(complete, texts, strict=True)])))
    _check("wemath", _rows_file(tmp_path / "r.json", rows, "list"), data["wemath"])


# ------------------------------------------------------------------ files that are not rows at all


@pytest.mark.parametrize("name", ["aokvqa", "cvbench", "hallusionbench", "mathverse", "mathvision", "mathvista",
                                  "mmstar", "pope", "realworldqa", "vlmeval_tsv", "wemath"])
@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00garbage", b"[" * 100000, b"{\"id\": 1}\n[1, 2]\n",
                                     b"\"just a string\"", b"null", b"{}", b"PK\x03\x04 not a zip"])
def test_malformed_files(data: dict[str, Path], tmp_path: Path, name: str, content: bytes) -> None:
    for suffix in (".jsonl", ".json", ".xlsx", ".tsv"):
        path = tmp_path / f"r{suffix}"
        path.write_bytes(content)
        _check(name, path, data[name])


def test_cli_exit_codes(cli: Any, data: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "nope", "response": "A"}) + "\n")
    code, _, err = cli(["score", "cvbench", str(path), "--data", str(data["cvbench"])])
    assert code == 2 and "r.jsonl: row 1: field 'id'" in err
    code, _, err = cli(["score", "cvbench", str(path), "--data", str(data["cvbench"]), "--rule", "lenient"])
    assert code == 2 and "unknown rule 'lenient'; choose from cambrian, seethink" in err
    path.write_text(json.dumps({"id": 0, "response": "The answer is B"}) + "\n")
    code, out, _ = cli(["score", "cvbench", str(path), "--data", str(data["cvbench"]), "--rule", "seethink"])
    assert code == 0 and json.loads(out)["rule"] == "seethink"
