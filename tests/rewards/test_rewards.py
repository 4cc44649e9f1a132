import json
import time
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.rewards import build_reward, extract_boxed, format_reward, match_choice, math_equal

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "rewards.json"


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so \boxed{6}", "6"),
        (r"\boxed{1} then \boxed{2}", "2"),  # the last box wins
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),  # nested braces
        (r"\boxed{ {a}{b} } tail", "{a}{b}"),
        (r"\boxed{3} and \boxed{unclosed", "3"),
        (r"\boxed{unclosed", None),
        ("no box at all", None),
        (r"\fbox{B}", "B"),
        ("", None),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "ans, expected",
    [("B", "B"), ("(b)", "B"), ("C.", "C"), ("2", "B"), (r"\text{B}", "B"), ("E", None), ("seven", None), (None, None)],
)
def test_match_choice(ans, expected):
    assert match_choice(ans, ["1", "2", "3", "4"]) == expected


@pytest.mark.parametrize(
    "pred, gold, ok",
    [
        ("6", "6", True),
        ("6.0", "6", True),
        ("1,000", "1000", True),
        (r"\frac{1}{2}", "0.5", True),
        (r"\dfrac{3}{4}", "0.75", True),
        (r"\sqrt{2}/2", r"\frac{1}{\sqrt{2}}", True),
        ("7", "6", False),
        ("", "6", False),
        (None, "6", False),
        ("50\\%", "50", True),
    ],
)
def test_math_equal(pred, gold, ok):
    assert math_equal(pred, gold) is ok


def test_pathological_expressions_return_fast():
    start = time.time()
    assert math_equal("9^{9^{9^{9}}}", "1") is False
    assert math_equal("1" * 5000, "2") is False
    assert math_equal("(" * 2000 + "1" + ")" * 2000, "1") is False
    assert time.time() - start < 10


def test_math_equal_off_the_main_thread():
    """math-verify's signal timeouts fail off the main thread; ours must still answer."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(math_equal, r"\sqrt{2}/2", r"\frac{1}{\sqrt{2}}").result(timeout=60) is True


@pytest.mark.parametrize(
    "text, ok",
    [
        (r"<think>2*3=6.</think> \boxed{6}", True),
        (r"  <think>x</think>The answer is \boxed{6}.", True),
        (r"\boxed{6}", False),
        (r"<think>x</think> 6", False),
        (r"<think>x <think>y</think> \boxed{6}", False),
        (r"<think>x</think> \boxed{6} <think>again</think>", False),
        (r"<think>x \boxed{6}", False),
    ],
)
def test_format_reward(text, ok):
    assert format_reward(text)["format"] == float(ok)


def test_weighted_sum_and_parts():
    r = build_reward()
    item = {"answer": "6", "options": []}
    assert r(r"<think>.</think> \boxed{6}", item) == {"overall": 1.0, "accuracy": 1.0, "format": 1.0}
    assert r(r"\boxed{6}", item) == pytest.approx({"overall": 0.9, "accuracy": 1.0, "format": 0.0})
    assert r(r"<think>.</think> \boxed{5}", item) == pytest.approx({"overall": 0.1, "accuracy": 0.0, "format": 1.0})
    # TRL hands conversational completions as message lists
    assert r([{"role": "assistant", "content": r"<think>.</think> \boxed{6}"}], item)["overall"] == 1.0


def test_user_reward_from_a_file(tmp_path: Path):
    f = tmp_path / "my_reward.py"
    f.write_text("def brevity(completion, item):\n    return {'overall': 1.0 if len(completion) < 30 else 0.0}\n")
    r = build_reward(extra=[f"{f}:brevity"], extra_weights=[0.5])
    out = r(r"<think>.</think> \boxed{6}", {"answer": "6", "options": []})
    assert out["brevity"] == 1.0 and out["overall"] == pytest.approx(1.5)
    with pytest.raises(UserError, match="no attribute"):
        build_reward(extra=[f"{f}:nope"])
    with pytest.raises(UserError, match="unknown reward"):
        build_reward(extra=["acuracy"])


def test_rewards_golden_file(golden):
    """Fixed completions and their reward parts; update the file only on purpose (regenerate.py)."""
    cases = json.loads(GOLDEN.read_text())
    for case, now in zip(cases, golden.rewards_cases(cases), strict=True):
        assert now["reward"] == pytest.approx(case["reward"]), case["completion"]


def test_closeness_gives_partial_credit_for_numbers_only():
    from seethink.rewards.core import REWARDS, closeness_reward

    assert REWARDS.get("closeness") is closeness_reward
    assert closeness_reward(r"<think>x</think> \boxed{8}", {"answer": "8"})["closeness"] == 1.0
    assert closeness_reward(r"\boxed{6}", {"answer": "8"})["closeness"] == 0.75
    assert closeness_reward(r"\boxed{30}", {"answer": "8"})["closeness"] == 0.0
    assert closeness_reward(r"\boxed{1}", {"answer": "0"})["closeness"] == 0.0  # relative to max(1, |gold|)
    count = {"options": ["1", "2", "3", "4"], "answer": "C"}
    assert closeness_reward(r"\boxed{B}", count)["closeness"] == pytest.approx(2 / 3)
    assert closeness_reward(r"\boxed{C}", count)["closeness"] == 1.0
    assert closeness_reward("no box", count)["closeness"] == 0.0
    assert closeness_reward(r"\boxed{A}", {"options": ["yes", "no"], "answer": "A"})["closeness"] == 0.0


def test_think_match_credits_each_word_read_as_the_worked_solution_reads_it():
    from seethink.rewards.core import REWARDS, think_match_reward

    assert REWARDS.get("think_match") is think_match_reward
    item = {"solution": r"<think> red shapes: 1 square, 2 square. That is 2, B.</think> \boxed{B}", "answer": "B"}
    same = r"<think> red shapes: 1 square, 2 square. That is 2, B.</think> \boxed{B}"
    one_wrong = r"<think> red shapes: 1 square, 2 circle. That is 2, B.</think> \boxed{B}"
    misread = r"<think> red shapes: 1 circle, 2 triangle, 3 triangle. That is 3, C.</think> \boxed{C}"
    assert think_match_reward(same, item)["think_match"] == 1.0
    # 9 of 10 words match in order: 2 * 9 / (10 + 10)
    assert think_match_reward(one_wrong, item)["think_match"] == pytest.approx(0.9)
    assert 0.0 < think_match_reward(misread, item)["think_match"] < 0.9
    assert think_match_reward(r"\boxed{B}", item)["think_match"] == 0.0  # no think
    assert think_match_reward(same, {"answer": "B"})["think_match"] == 0.0  # no worked solution
    # as an extra part of the combined reward
    from seethink.rewards import build_reward

    r = build_reward(extra=["think_match"], extra_weights=[0.5])
    try:
        assert r(one_wrong, item)["overall"] == pytest.approx(0.9 + 0.1 + 0.5 * 0.9)
    finally:
        r.close()


def test_inventory_reward_pays_for_reading_the_scene_right():
    from seethink.rewards.core import REWARDS
    from seethink.toyworld import generate_items
    from seethink.toyworld.rewards import inventory_reward

    assert REWARDS.get("inventory") is inventory_reward
    item = generate_items("visual", 1, "test", seed=4, inventory=True)[0]
    assert inventory_reward(item["solution"], item) == {"overall": 1.0, "inventory": 1.0}
    # the same answer reached from a misread scene (an object too many) earns nothing here
    misread = item["solution"].replace("<think> ", "<think> red: circle, circle, circle, circle, circle. ", 1)
    assert inventory_reward(misread, item)["inventory"] == 0.0
    assert inventory_reward(r"\boxed{3}", item)["inventory"] == 0.0
    assert inventory_reward(item["solution"], {"answer": "3"})["inventory"] == 0.0  # no scene
