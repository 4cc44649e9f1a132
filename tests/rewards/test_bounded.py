"""Every call of the accuracy reward is bounded in time, on the main thread and on worker threads,
and its parsing is linear in the length of the text.

Property tests feed arbitrary strings (and concatenations of the pieces that reach the deep branches:
boxes, power towers, factorials, sums, matrices, Unicode math, thousands separators) to the checker
and the reward; none may raise or run past its limit. The threaded tests call the reward from pools
of threads, where math-verify's own (signal-based) limits do not work: the symbolic step runs in a
worker process that is abandoned and killed at the deadline. Limits are generous for a loaded
2-core machine; real calls take microseconds (numbers, text) to tens of milliseconds (symbolic).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seethink.rewards import build_reward, sandbox
from seethink.rewards.core import accuracy_reward, format_ok
from seethink.rewards.extract import final_boxed, match_choice
from seethink.rewards.mathcheck import judge
from seethink.rewards.normalize import normalize

TIMEOUT_S = 1.0
PARSER_LIMIT_S = 2.0  # calls without a symbolic step: microseconds; the rest is scheduler stalls
SLACK_S = 2.0  # scheduler stalls on a loaded machine, a worker restart

PIECES = [
    "\\boxed{", "\\fbox{", "{", "}", "(", ")", "[", "]", "\\{", "\\}", "^", "^{", "_", "!", "\\frac{", "\\sqrt{",
    "\\sqrt[3]{", "\\sum_{k=1}^{", "\\int", "\\prod", "\\text{", "\\mathbf{", "\\boldsymbol{", "\\left(", "\\right)",
    "\\begin{pmatrix}", "\\end{pmatrix}", "\\\\", "&", ",", "{,}", "\\,", ".", "0", "1", "9", "10", "999", "1e308",
    "1e99999", "x", "y", "e", "\\pi", "\\infty", "=", "+", "-", "*", "/", "\\times", "\\cdot", "%", "\\%", " ",
    "or", "and", "\\pm", "\\cup", "$", "\\[", "\\]", "√", "√(", "½", "²", "⁻", "×", "−", "π", "°", "≤", "red",
    "felt", "B. ", "(B) ", "million", " cm", "m^2", "x=", "\\in", "<", "∞",
]
mathy = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40).map("".join)
texts = st.text(max_size=200) | mathy
options = st.lists(st.text(min_size=1, max_size=6) | mathy.filter(bool), max_size=5)
SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def timed(limit: float, fn, *args, **kwargs):
    start = time.monotonic()
    out = fn(*args, **kwargs)
    took = time.monotonic() - start
    assert took < limit, f"{fn.__name__} took {took:.2f} s on {args!r}"
    return out


@pytest.fixture(scope="module", autouse=True)
def _workers_ready():
    assert sandbox.warm_up(120, workers=4)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(texts)
def test_normalize_and_final_boxed_never_fail(text: str):
    out = timed(PARSER_LIMIT_S, normalize, text)
    assert isinstance(out, str)
    box = timed(PARSER_LIMIT_S, final_boxed, text)
    assert box is None or box in text
    assert timed(PARSER_LIMIT_S, format_ok, text) in (True, False)


@SETTINGS
@given(texts, texts)
def test_judge_returns_within_its_limit(pred: str, gold: str):
    out = timed(TIMEOUT_S + SLACK_S, judge, pred, gold, TIMEOUT_S)
    assert out in (True, False, None)


@SETTINGS
@given(mathy)
def test_an_answer_equals_itself(answer: str):
    # Same text is the same answer, whatever it is, and no symbolic step is needed for it.
    assert timed(PARSER_LIMIT_S, judge, answer, answer, TIMEOUT_S) is (normalize(answer) != "")


@SETTINGS
@given(texts, texts, options)
def test_the_reward_stays_in_range_and_in_time(completion: str, answer: str, opts: list[str]):
    item = {"answer": answer, "options": opts}
    acc = timed(TIMEOUT_S + SLACK_S, accuracy_reward, completion, item, timeout_s=TIMEOUT_S)
    assert acc["accuracy"] in (0.0, 1.0)
    letter = timed(PARSER_LIMIT_S, match_choice, completion, opts)
    assert letter is None or 0 <= ord(letter) - ord("A") < len(opts)


@pytest.mark.parametrize("pred, gold", [
    ("10^{10^{10}}", "1"), ("9^{9^{9^{9}}}", "1"), ("2^{2^{2^{2^{2^{2}}}}}", "3"), ("10000000!", "1"),
    ("1e999999999", "1"), ("(" * 3000 + "1" + ")" * 3000, "1"), ("x^{10^{100}}", "x"),
    (r"\sum_{k=1}^{10^{9}} k", "7"), (r"\prod_{k=1}^{99999} k", "1"), ("1" * 20000, "2"),
    (r"(x+1)^{9999}", "x"), (r"\int_0^{x} e^{t^2} dt", "1"),
])
def test_explosive_inputs_answer_in_time(pred: str, gold: str):
    assert timed(TIMEOUT_S + SLACK_S, judge, pred, gold, TIMEOUT_S) in (False, None)


def test_huge_numbers_compare_exactly_without_overflow():
    assert judge("1e400", "10^{400}") is True
    assert judge("1.8e308", "1.8 \\times 10^{308}") is True
    assert judge("10^{400}+1", "10^{400}") is False
    assert judge("1e400", "1e401") is False


# ---------------------------------------------------------------- threads

SLOW = r"\int_0^{x} e^{t^2} \sin(t^3) dt"  # sympy grinds on this far past the limit


def test_a_slow_check_on_a_worker_thread_is_cut_at_the_limit():
    with ThreadPoolExecutor(1) as pool:
        start = time.monotonic()
        out = pool.submit(judge, SLOW, "1", TIMEOUT_S).result(timeout=60)
        took = time.monotonic() - start
    assert out is None and took < TIMEOUT_S + SLACK_S


def test_the_reward_from_worker_threads_returns_within_the_limit():
    """Right answers, wrong ones and slow ones from 4 threads at once: each call within its limit.

    The limit is the default's order of magnitude: four symbolic checks at once on a loaded 2-core
    machine take most of a second each, so a limit of 1 s would cut right answers too.
    """
    limit = 4.0
    reward = build_reward(timeout_s=limit)
    jobs = [
        (r"<think>.</think> \boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}", 1.0),
        (r"<think>.</think> \boxed{x^2+x^3+x^4}", "x^4+x^3+x^2", 1.0),
        (r"<think>.</think> \boxed{1,2}", "12", 0.1),
        (r"<think>.</think> \boxed{RED}", "red", 1.0),
        (r"<think>.</think> \boxed{" + SLOW + "}", "1", 0.1),
        (r"<think>.</think> \boxed{10^{10^{10}}}", "1", 0.1),
        (r"<think>.</think> \boxed{√2}", r"\sqrt{2}", 1.0),
        (r"<think>.</think> \boxed{felt}", "left", 0.1),
    ] * 3
    seen_threads: set[str] = set()

    def call(job):
        text, gold, want = job
        seen_threads.add(threading.current_thread().name)
        start = time.monotonic()
        out = reward(text, {"answer": gold, "options": []})
        return out["overall"], want, time.monotonic() - start

    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(call, jobs, timeout=120))
    finally:
        reward.close()
    assert threading.main_thread().name not in seen_threads
    for got, want, took in results:
        assert took < limit + SLACK_S
        assert got == pytest.approx(want)
    # Each slow check ran out of time, and was counted as such (not as an error).
    assert reward.faults.totals() == {"reward_errors": 0, "reward_timeouts": 3}


def test_a_worker_that_cannot_answer_is_killed_and_replaced():
    """A worker stuck where no signal reaches it (here: stopped) is killed at the deadline; the
    caller gets None in time, and the next check runs in a fresh worker."""
    assert sandbox.warm_up(120)
    idle = list(sandbox._POOL.idle)
    for w in idle:
        os.kill(w.proc.pid, signal.SIGSTOP)
    before = sandbox.stats()["killed"]
    try:
        start = time.monotonic()
        assert judge(r"\sqrt{8}", r"2\sqrt{2}", 0.5) is None
        assert time.monotonic() - start < 0.5 + SLACK_S
        assert sandbox.stats()["killed"] == before + 1
    finally:
        for w in idle:
            if w.proc.poll() is None:
                os.kill(w.proc.pid, signal.SIGCONT)
    assert judge(r"\sqrt{8}", r"2\sqrt{2}", 60) is True


# ---------------------------------------------------------------- linear time

FAMILIES = {
    "unclosed boxes": "\\boxed{",
    "nested braces": "{",
    "closed boxes": "\\boxed{1}",
    "text wrappers": "\\text{",
    "bold wrappers": "\\mathbf{x}",
    "thousands": "1,000,",
    "commas": "1,",
    "powers": "2^{",
    "radicals": "√(",
    "superscripts": "x²",
    "fractions": "\\frac{1}{2}+",
    "think tags": "<think>",
    "letters": "felt ",
    "unit words": " apples",
    "matrix rows": "1 & 2 \\\\ ",
}


def _cost(fn, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("piece", list(FAMILIES.values()), ids=list(FAMILIES))
def test_parsing_is_linear(piece: str):
    """8 times the text costs about 8 times the time (quadratic would be 64): box extraction,
    the format check, normalisation and the fast (non-symbolic) part of the checker."""

    def everything(text: str) -> None:
        final_boxed(text)
        format_ok("<think>" + text + "</think>" + text)
        normalize(text)
        from seethink.rewards.mathcheck import quick_equal

        quick_equal(normalize(text), normalize(text + "1"))

    small = piece * 300
    large = piece * 2400
    t_small, t_large = _cost(everything, small), _cost(everything, large)
    assert t_large < 2.0, f"{t_large:.2f} s for {len(large)} characters"
    assert t_large < 25 * max(t_small, 1e-4), f"{t_small:.4f} s -> {t_large:.4f} s"
