"""User reward functions that raise, hang, die or return junk: scored 0, counted, never stalling a run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.rewards import build_reward
from seethink.rewards.guard import score_value

ITEM = {"answer": "6", "options": []}
GOOD = r"<think>2*3</think> \boxed{6}"

USER_CODE = """
import math, os, sys, time

def brevity(completion, item):
    return {"overall": 1.0 if len(completion) < 40 else 0.0}

def boom(completion, item):
    raise ZeroDivisionError("division by zero in the user's reward")

def spin(completion, item):
    while True:  # pure Python: no thread can interrupt this
        pass

def sleepy(completion, item):
    time.sleep(60)

def die(completion, item):
    os._exit(3)

def quits(completion, item):
    sys.exit("bye")

def nan(completion, item):
    return math.nan

def words(completion, item):
    return "high"

def number(completion, item):
    return 0.5
"""


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("user") / "my_rewards.py"
    f.write_text(USER_CODE)
    return f


def test_a_raising_reward_scores_zero_and_is_counted(user_file: Path):
    r = build_reward(extra=[f"{user_file}:boom", f"{user_file}:brevity"], timeout_s=5)
    try:
        out = r(GOOD, ITEM)
        assert out["boom"] == 0.0 and out["brevity"] == 1.0 and out["overall"] == pytest.approx(2.0)
        r(GOOD, ITEM)
        assert r.faults.totals() == {"reward_errors": 2, "reward_timeouts": 0}
        assert "boom': 2 raised" in r.faults.summary() and "ZeroDivisionError" in r.faults.summary()
    finally:
        r.close()


@pytest.mark.parametrize("fn", ["spin", "sleepy"])
def test_a_reward_that_never_returns_is_cut_off(user_file: Path, fn: str):
    r = build_reward(extra=[f"{user_file}:{fn}", f"{user_file}:brevity"], timeout_s=0.5)
    try:
        start = time.monotonic()
        out = r(GOOD, ITEM)
        first = time.monotonic() - start
        assert out[fn] == 0.0 and out["brevity"] == 1.0  # the functions after it still ran
        out = r(GOOD, ITEM)  # a fresh worker answers the next completion
        assert out["brevity"] == 1.0
        assert r.faults.totals() == {"reward_errors": 0, "reward_timeouts": 2}
        assert first < 0.5 + 10  # the limit plus a worker restart, even on a loaded machine
        assert "ran past 0.5 s" in r.faults.summary()
    finally:
        r.close()


@pytest.mark.parametrize("fn, message", [("die", "died"), ("quits", "SystemExit"), ("nan", "returned nan"),
                                         ("words", "returned str")])
def test_crashes_and_junk_results_are_errors(user_file: Path, fn: str, message: str):
    r = build_reward(extra=[f"{user_file}:{fn}", f"{user_file}:number"], timeout_s=5)
    try:
        out = r(GOOD, ITEM)
        assert out[fn] == 0.0 and out["number"] == 0.5
        assert r(GOOD, ITEM)["number"] == 0.5
        assert r.faults.totals()["reward_errors"] == 2
        assert message in r.faults.by_name[fn].first_error
    finally:
        r.close()


def test_bad_reward_files_fail_before_training(tmp_path: Path, user_file: Path):
    with pytest.raises(UserError, match="user code file not found"):
        build_reward(extra=[f"{tmp_path}/missing.py:fn"])
    with pytest.raises(UserError, match="has no attribute 'nope'"):
        build_reward(extra=[f"{user_file}:nope"])
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_anywhere\n")
    with pytest.raises(UserError, match=r"broken.py: importing it failed: ModuleNotFoundError"):
        build_reward(extra=[f"{broken}:fn"])


def test_the_worker_stops_with_the_reward(user_file: Path):
    r = build_reward(extra=[f"{user_file}:brevity"])
    proc = r.extras._worker.proc  # type: ignore[union-attr]
    assert proc.poll() is None
    r.close()
    assert proc.poll() is not None


def test_builtin_parts_that_raise_are_counted_not_fatal():
    r = build_reward()
    out = r(GOOD, {"options": []})  # an item without its answer
    assert out["accuracy"] == 0.0 and out["format"] == 1.0
    assert r.faults.by_name["accuracy"].errors == 1 and "KeyError" in r.faults.by_name["accuracy"].first_error


@pytest.mark.parametrize("value, expected", [(1, 1.0), (0.25, 0.25), (True, 1.0), ({"overall": 2}, 2.0)])
def test_score_value_accepts_numbers_and_dicts(value, expected):
    assert score_value(value) == expected


@pytest.mark.parametrize("value", [float("inf"), None, "1", {"x": 1}, [1.0]])
def test_score_value_rejects_the_rest(value):
    with pytest.raises((TypeError, ValueError)):
        score_value(value)
