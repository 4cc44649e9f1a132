"""Property tests on the benchmark answer extractors and checkers: any response string (and any
extraction a judge might return) is handled without an exception and well within a time limit."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seethink.eval.benchmarks import (
    aokvqa,
    hallusionbench,
    mathverse,
    mathvision,
    mathvista,
    mmstar,
    pope,
    realworldqa,
    vlmeval_tsv,
    wemath,
)
from seethink.eval.benchmarks._choice import extract_letter, final_answer_span, parse_option_lines
from seethink.eval.benchmarks._latex_value import rounded

LIMIT_S = 2.0  # per call; real calls take microseconds to milliseconds (math_equal has its own limit)

PIECES = [
    "\\boxed{", "{", "}", "<think>", "</think>", "\\frac{", "\\sqrt{", "^", "^{", "!", "(", ")", "[", "]",
    "A", "B", "(C)", "D.", "E", "Z", "\\text{", "answer is ", "Answer: ", "The answer is \"", "\".",
    "final answer: ", "option ", "Options: ", "A: ", ", B: ", "\n", " ", ",", ".", ":", "0", "1", "7", "99",
    "3.14", "-", "+", "/", "*", "=", "x", "\\pi", "\\%", "$", "**", "yes", "No", "Yes.", "\\left(", "\\right)",
    "\\infty", "\\log", "\\sin", "\\binom{", "\\tau", "|", "1e308", "∞", "½", "٣", "\x00", "\\", "Sorry",
]
mathy = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=60).map("".join)
texts = st.text(max_size=400) | mathy
short = st.text(min_size=1, max_size=10) | mathy.filter(lambda s: 0 < len(s) <= 30)
choices = st.lists(short, min_size=2, max_size=5, unique=True)

RUN = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def timed(fn, *args, limit: float = LIMIT_S):
    start = time.perf_counter()
    out = fn(*args)
    took = time.perf_counter() - start
    assert took < limit, f"{fn.__module__}.{fn.__name__} took {took:.2f} s on {args!r}"
    return out


@RUN
@given(texts, texts, choices, st.booleans())
def test_mathvision(response: str, gold: str, opts: list[str], mc: bool):
    answer = timed(mathvision.extract_answer, response)
    assert isinstance(answer, str)
    item = {"id": "1", "answer": "B" if mc else gold, "options": opts if mc else []}
    assert timed(mathvision.is_correct, item, answer) in (True, False)
    assert timed(mathvision.is_equivalent, gold, response) in (True, False)
    timed(rounded, response.lower())


@RUN
@given(texts, choices, st.sampled_from(["integer", "float", "list", "text"]), st.integers(0, 3), st.booleans())
def test_mathvista(response: str, opts: list[str], answer_type: str, precision: int, mc: bool):
    item = {"question_type": "multi_choice" if mc else "free_form", "answer_type": answer_type,
            "choices": opts if mc else [], "precision": precision, "answer": opts[0]}
    extraction = timed(mathvista.extract_answer, response, item)
    assert isinstance(extraction, str)
    for value in (extraction, response):
        pred = timed(mathvista.normalize_extraction, value, item)
        assert pred is None or isinstance(pred, str)
        assert timed(mathvista.is_correct, pred, item) in (True, False)


@RUN
@given(texts, texts, choices, st.booleans())
def test_mathverse(response: str, gold: str, opts: list[str], mc: bool):
    letters = [chr(65 + i) for i in range(len(opts))]
    item = {"question_type": "multi-choice" if mc else "free-form", "answer": letters[0] if mc else gold.strip(),
            "options": opts, "option_letters": letters}
    extraction = timed(mathverse.extract_answer, response, item)
    ok, letter = timed(mathverse.is_correct, extraction, item, limit=LIMIT_S + 5.0)  # includes math_equal (5 s)
    assert ok in (True, False) and (letter is None or letter in letters)


@RUN
@given(texts, choices)
def test_multiple_choice_readers(response: str, opts: list[str]):
    letters = "".join(chr(65 + i) for i in range(len(opts)))
    options = dict(zip(letters, opts, strict=True))
    for out in (timed(extract_letter, response, letters, options), timed(vlmeval_tsv.choose, response, options)):
        assert out is None or out in letters + "Z"
    span = timed(final_answer_span, response)
    assert span is None or isinstance(span, str)
    parsed = timed(parse_option_lines, response)
    assert list(parsed) == list("ABCDEFGHIJ"[: len(parsed)])
    assert timed(wemath.extract_answer, response) in (None, *"ABCDEFGH")
    assert isinstance(timed(mmstar.parse_inline_options, response), dict)
    assert timed(mmstar.official_correct, response, letters[0]) in (True, False)
    item = {"options": opts}
    pred = timed(aokvqa.mc_prediction, {"prediction": response}, "results row 1", item)
    assert pred is None or pred in opts
    assert 0.0 <= timed(aokvqa.da_score, response, opts) <= 1.0


@RUN
@given(texts, short)
def test_yes_no_and_free_form(response: str, gold: str):
    assert timed(pope.yes_no, response) in ("yes", "no")
    assert timed(hallusionbench.yes_no, response) in ("0", "1", "2")
    pred = timed(realworldqa.free_form_prediction, response)
    assert timed(realworldqa.free_form_correct, pred, gold) in (True, False)
