"""Render the golden files from the code, and rewrite them on purpose.

    python tests/golden/regenerate.py           # rewrite every golden file, print the diff to review
    python tests/golden/regenerate.py --check   # print the diff only; exit 1 if any file would change

The tests compare each file with what these functions render (tests/data/test_prompts.py,
tests/rewards/test_rewards.py), so a golden file changes only when someone runs this script and
commits the diff it printed. The reward cases keep their completions and items; only the reward
each one earns is recomputed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent


def _render_chat(messages: list[dict]) -> str:
    from jinja2 import Template

    from seethink.models.tokenizer import chat_template

    return Template(chat_template()).render(messages=messages, add_generation_prompt=True)


def prompts_text() -> str:
    """One held-out item of each toy capability (seed 11), as the model's prompt."""
    from seethink.data.prompts import render_prompt
    from seethink.toyworld import generate_items

    items = [generate_items(c, 1, "test", seed=11)[0] for c in ("perception", "text", "visual")]
    return "\n-----\n".join(render_prompt(it) for it in items) + "\n"


def chat_text() -> str:
    """The chat template applied to an image item and a text item."""
    from seethink.data.prompts import to_messages
    from seethink.toyworld import generate_items

    item = generate_items("perception", 1, "test", seed=11)[0]
    text_item = generate_items("text", 1, "test", seed=11)[0]
    return _render_chat(to_messages(item, 1)) + "-----\n" + _render_chat(to_messages(text_item, 0))


def rewards_cases(cases: list[dict]) -> list[dict]:
    """The default reward's parts for each case's completion and item."""
    from seethink.rewards import build_reward

    reward = build_reward()
    return [{**case, "reward": reward(case["completion"], case["item"])} for case in cases]


def rewards_text() -> str:
    cases = json.loads((GOLDEN / "rewards.json").read_text())
    return json.dumps(rewards_cases(cases), indent=1)


RENDERERS = {"prompts.txt": prompts_text, "chat.txt": chat_text, "rewards.json": rewards_text}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="print the diff only; exit 1 if a file would change")
    args = ap.parse_args(argv)
    changed = 0
    for name, render in RENDERERS.items():
        path = GOLDEN / name
        old, new = path.read_text(), render()
        if old == new:
            print(f"{name}: unchanged")
            continue
        changed += 1
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"))
        if not args.check:
            path.write_text(new)
            print(f"{name}: rewritten")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
