"""experiments/inventory_use.py on the committed toy study: the base's counts, reproduced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_inventory_use_counts_the_committed_base():
    out = subprocess.run([sys.executable, str(REPO / "experiments" / "inventory_use.py"),
                          str(REPO / "results" / "toy-study")], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout
    rows = [line.split(" | ") for line in out.splitlines()[1:]]
    # The base's 211 wrong and 189 right visual answers (docs/results.md): 3 wrong inventories,
    # all in wrong answers, none of them with the question's counts listed right.
    assert rows == [["base", "-", "wrong", "211", "3", "0", "1"], ["base", "-", "right", "189", "0", "0", "0"]]
