"""Answer extraction: the last `\\boxed{...}` (nested braces allowed) and option letters."""

from __future__ import annotations

import re

_BOX_OPENERS = ("\\boxed{", "\\fbox{")
_LETTER = re.compile(r"^\(?\s*([A-Za-z])\s*\)?[.:)]?$")


def extract_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}`; None when there is none.

    Braces are matched by depth so `\\boxed{\\frac{1}{2}}` yields `\\frac{1}{2}`;
    an unclosed box is ignored. Linear in the text length.
    """
    if not isinstance(text, str):
        return None
    best: str | None = None
    i = 0
    n = len(text)
    while True:
        starts = [(text.find(op, i), op) for op in _BOX_OPENERS]
        starts = [(s, op) for s, op in starts if s != -1]
        if not starts:
            return best
        start, op = min(starts)
        j = start + len(op)
        depth = 1
        k = j
        while k < n and depth:
            ch = text[k]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            k += 1
        if depth == 0:
            best = text[j : k - 1].strip()
            i = k
        else:
            # Unclosed box: nothing after it can close it either.
            return best


def match_choice(answer: str | None, options: list[str]) -> str | None:
    """Map an extracted answer to an option letter: 'B', '(B)', 'B.' or the option's text."""
    if answer is None:
        return None
    ans = answer.strip()
    ans = re.sub(r"^\\text\{(.*)\}$", r"\1", ans).strip()
    m = _LETTER.match(ans)
    if m and options:
        letter = m.group(1).upper()
        if ord(letter) - ord("A") < len(options):
            return letter
    low = ans.lower().rstrip(".")
    for i, opt in enumerate(options):
        if low == str(opt).strip().lower():
            return chr(ord("A") + i)
    return None
