"""Property tests: arbitrary model output never crashes the answer parsers or rewards, and never
keeps them past their time limit.

Strings come from two sources: any Unicode text, and concatenations of the pieces parsers look
for (boxes, think tags, fractions, option letters, "answer is", powers), which reach the deep
branches far more often than random text does. Settings are bounded for a loaded 2-core machine:
no hypothesis deadline (its timer counts scheduler stalls), our own per-call time check instead.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seethink.rewards import build_reward, extract_boxed, format_reward, match_choice, math_equal
from seethink.rewards.core import accuracy_reward

# A call that takes longer than this on short input is a hang in the making (real calls: microseconds).
PARSER_LIMIT_S = 2.0
# math_equal's own limit for these tests, and what a loaded machine may add on top of it.
MATH_TIMEOUT_S = 1.0
SLACK_S = 2.0

PIECES = [
    "\\boxed{", "\\fbox{", "{", "}", "<think>", "</think>", "\\frac{", "\\dfrac", "\\sqrt{", "^", "**", "!",
    "(", ")", "[", "]", "A", "B", "(C)", "D.", "e", "\\text{", "answer is ", "Answer: ", "The answer is ",
    "final answer: ", "option ", "\n", " ", ",", ".", "0", "1", "7", "99", "-", "+", "/", "=", "x", "\\pi",
    "\\%", "%", "$", "yes", "no", "\\left(", "\\right)", "\\infty", "1e308", "∞", "½", "٣", "\x00", "\\",
]
mathy = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=50).map("".join)
texts = st.text(max_size=300) | mathy
options = st.lists(st.text(min_size=1, max_size=8) | mathy.filter(bool), max_size=5)

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def timed(limit: float, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    took = time.perf_counter() - start
    assert took < limit, f"{fn.__name__} took {took:.2f} s on {args!r}"
    return out


@FAST
@given(texts)
def test_extract_boxed_never_fails(text: str):
    out = timed(PARSER_LIMIT_S, extract_boxed, text)
    assert out is None or (isinstance(out, str) and out in text)


@FAST
@given(texts | st.none(), options)
def test_match_choice_gives_a_valid_letter_or_none(answer, opts):
    out = timed(PARSER_LIMIT_S, match_choice, answer, opts)
    assert out is None or (len(out) == 1 and 0 <= ord(out) - ord("A") < len(opts))


@FAST
@given(texts)
def test_format_reward_is_zero_or_one(text: str):
    assert timed(PARSER_LIMIT_S, format_reward, text)["format"] in (0.0, 1.0)


@SLOW
@given(texts, texts)
def test_math_equal_answers_within_its_time_limit(pred: str, gold: str):
    out = timed(MATH_TIMEOUT_S + SLACK_S, math_equal, pred, gold, timeout_s=MATH_TIMEOUT_S)
    assert out is True or out is False


@SLOW
@given(mathy, mathy)
def test_math_equal_is_reflexive_on_what_it_accepts(a: str, b: str):
    # Whatever the strings, a value equals itself once either side parses as that value.
    if timed(MATH_TIMEOUT_S + SLACK_S, math_equal, a, b, timeout_s=MATH_TIMEOUT_S):
        assert timed(MATH_TIMEOUT_S + SLACK_S, math_equal, b, b, timeout_s=MATH_TIMEOUT_S)


@SLOW
@given(texts, texts, options)
def test_accuracy_and_combined_reward_stay_in_range(completion: str, answer: str, opts: list[str]):
    item = {"answer": answer, "options": opts}
    acc = timed(MATH_TIMEOUT_S + SLACK_S, accuracy_reward, completion, item, timeout_s=MATH_TIMEOUT_S)
    assert acc["accuracy"] in (0.0, 1.0)
    out = timed(MATH_TIMEOUT_S + SLACK_S, REWARD, completion, item)
    assert set(out) == {"overall", "accuracy", "format"}
    assert 0.0 <= out["overall"] <= 1.0 + 1e-9
    assert REWARD.faults.totals() == {"reward_errors": 0, "reward_timeouts": 0}


REWARD = build_reward(timeout_s=MATH_TIMEOUT_S)


def test_a_slow_symbolic_check_is_cut_at_the_limit():
    """sympy would grind through this sum for a long time; the whole check stops at timeout_s."""
    assert timed(MATH_TIMEOUT_S + SLACK_S, math_equal, r"\sum_{k=1}^{100000} k^{2}", "7",
                 timeout_s=MATH_TIMEOUT_S) is False
