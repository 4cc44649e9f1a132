"""The accuracy reward against hand-judged answers, and against the paper's grader on the same table.

`judged_answers.yaml` holds a few hundred responses with a gold answer and a verdict judged by
hand, grouped by failure mode. The reward must be right on every one. The paper's grader
(EasyR1's math reward: `mathruler` 0.1.0, `extract_boxed_content` then `grade_answer`) is run on
the same table in a child process (it has no time limit of its own); wherever it is right, ours
must be right too.

    python tests/rewards/test_judged_table.py     # per-group accuracy of both graders
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from seethink.rewards import sandbox
from seethink.rewards.core import accuracy_reward

TABLE = Path(__file__).with_name("judged_answers.yaml")
TIMEOUT_S = 10.0  # generous: a loaded 2-core machine; real checks take milliseconds


def load_cases() -> list[dict]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    sets = data["option_sets"]
    cases = []
    for k, row in enumerate(data["cases"]):
        group, response, gold, expected = row[:4]
        options = sets[row[4]] if len(row) > 4 else []
        cases.append({"id": k, "group": group, "response": response, "gold": str(gold), "expected": expected,
                      "options": options})
    return cases


CASES = load_cases()


def ours(case: dict) -> bool:
    item = {"answer": case["gold"], "options": case["options"]}
    return accuracy_reward(case["response"], item, timeout_s=TIMEOUT_S)["accuracy"] == 1.0


# The paper's grader, one case at a time under an alarm (its own process, main thread).
_MATHRULER = r"""
import json, signal, sys
from mathruler.grader import extract_boxed_content, grade_answer

class Late(BaseException):
    pass

def late(*_):
    raise Late()

signal.signal(signal.SIGALRM, late)
out = {}
for case in json.load(sys.stdin):
    signal.alarm(20)
    try:
        out[case["id"]] = bool(grade_answer(extract_boxed_content(case["response"]), case["gold"]))
    except Late:
        out[case["id"]] = None  # no verdict within 20 s: counted as wrong
    except Exception:
        out[case["id"]] = False
    finally:
        signal.alarm(0)
json.dump(out, sys.stdout)
"""


def mathruler_verdicts(cases: list[dict]) -> dict[int, bool | None]:
    proc = subprocess.run([sys.executable, "-c", _MATHRULER], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return {int(k): v for k, v in json.loads(proc.stdout).items()}


@pytest.fixture(scope="module", autouse=True)
def _symbolic_worker_ready():
    assert sandbox.warm_up(120), "the symbolic worker did not start"


def test_the_table_covers_every_group():
    groups = {c["group"] for c in CASES}
    assert groups >= {"basic", "commas", "tolerance", "words", "refusals", "notation", "last_box", "robustness",
                      "options", "unicode"}
    assert len(CASES) >= 300


def test_our_reward_is_right_on_every_hand_judged_case():
    wrong = [(c["group"], c["response"], c["gold"], c["options"], c["expected"])
             for c in CASES if ours(c) != c["expected"]]
    assert not wrong, "\n".join(map(repr, wrong))


def test_right_wherever_the_papers_grader_is_right():
    pytest.importorskip("mathruler.grader", reason="mathruler 0.1.0 is a test dependency (pip install -e .[dev])")
    theirs = mathruler_verdicts(CASES)
    they_right = [c for c in CASES if theirs[c["id"]] == c["expected"]]
    we_wrong = [(c["group"], c["response"], c["gold"]) for c in they_right if ours(c) != c["expected"]]
    assert not we_wrong, "\n".join(map(repr, we_wrong))
    # And the table is no easy one for the paper's grader: it misses a good share of it.
    assert len(they_right) < len(CASES)


def report() -> None:
    theirs = mathruler_verdicts(CASES)
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in CASES:
        row = by_group[c["group"]]
        row[0] += 1
        row[1] += ours(c) == c["expected"]
        row[2] += theirs[c["id"]] == c["expected"]
    total = [sum(r[i] for r in by_group.values()) for i in range(3)]
    print(f"{'group':<12} {'cases':>5} {'ours':>7} {'mathruler':>10}")
    for g, (n, a, b) in sorted(by_group.items()) + [("all", total)]:
        print(f"{g:<12} {n:>5} {a / n:>7.1%} {b / n:>10.1%}")


if __name__ == "__main__":
    sandbox.warm_up(120)
    report()
