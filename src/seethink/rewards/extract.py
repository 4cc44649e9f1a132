"""Answer extraction: the boxed answer (`\\boxed{...}`, nested braces allowed) and option letters.

The final answer is the box the response ends on (`final_boxed`): when the last box the
response opens is never closed (`\\boxed{5} ... \\boxed{6`), the response has no final answer and
earns no accuracy, rather than falling back to the box it moved away from. Everything here is
linear in the length of the text.
"""

from __future__ import annotations

import re

from seethink.rewards.normalize import normalize

# `\boxed{`, `\boxed {`, `\fbox{`. One literal start per match, so a search never backtracks far.
_OPENER = re.compile(r"\\(?:boxed|fbox)[ \t]*\{")


def _boxes(text: str) -> tuple[str | None, bool]:
    """(content of the last complete top-level box, whether a box opened after it is left unclosed)."""
    best: str | None = None
    n = len(text)
    i = 0
    while True:
        m = _OPENER.search(text, i)
        if m is None:
            return best, False
        depth = 1
        k = m.end()
        while k < n:
            ch = text[k]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if depth:
            # Unclosed: nothing after it can close it either.
            return best, True
        best = text[m.end() : k].strip()
        i = k + 1


def extract_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` (or `\\fbox{...}`); None when there is none.

    Braces are matched by depth so `\\boxed{\\frac{1}{2}}` yields `\\frac{1}{2}`; an unclosed box
    is ignored. The rewards use `final_boxed`, which does not fall back past an unclosed last box.
    """
    if not isinstance(text, str):
        return None
    return _boxes(text)[0]


def final_boxed(text: str) -> str | None:
    """The final answer: the content of the last box, or None when there is no box or the last
    box the response opens is never closed (a truncated or malformed final answer)."""
    if not isinstance(text, str):
        return None
    best, unclosed = _boxes(text)
    return None if unclosed else best


# ---------------------------------------------------------------- multiple choice

_LETTER = re.compile(r"\(? ?([A-Za-z]) ?\)? ?[.:)]?")
# A letter followed by its option's text: `B. 4`, `B: 4`, `B) 4`, `(B) 4`, `(B). 4`, `B 4`.
_LETTER_AND_TEXT = re.compile(r"(?:\( ?([A-Za-z]) ?\)|([A-Za-z])(?=[.:) ]))[.:)]? ?(\S.*)", re.DOTALL)
_PREFIXES = ("the correct answer is", "the answer is", "correct answer:", "answer:", "answer is", "answer",
             "the correct option is", "the option is", "option", "choice")


def _strip_prefix(ans: str) -> str:
    low = ans.lower()
    for p in _PREFIXES:
        if low.startswith(p) and len(ans) > len(p) and not ans[len(p)].isalpha():
            return ans[len(p) :].lstrip(" :")
    return ans


def _option_texts(options: list) -> list[str]:
    """Option texts, without a leading copy of their own letter (`A. 4` -> `4`)."""
    out = []
    for i, opt in enumerate(options):
        t = normalize(str(opt))
        m = _LETTER_AND_TEXT.fullmatch(t)
        if m and (m.group(1) or m.group(2)).upper() == chr(ord("A") + i) and re.match(r"^\(?[A-Za-z][.:)]", t):
            t = m.group(3).strip()
        out.append(t)
    return out


def _which_option(text: str, texts: list[str]) -> list[int]:
    from seethink.rewards.mathcheck import quick_equal  # mathcheck needs nothing from here

    return [i for i, t in enumerate(texts) if quick_equal(text, t)]


def match_choice(answer: str | None, options: list) -> str | None:
    """Map an extracted answer to an option letter, or None.

    Accepted: the letter (`B`, `(b)`, `B.`, `\\text{B}`, `option B`), the option's text (compared
    as text, or as numbers: `0.5` picks the option `\\frac{1}{2}`), or the letter with its option's
    text (`B. 4`, `(B) 4`, `B: 4`) where that text is option B's; a letter with another option's
    text or a text no option has is None.
    """
    if answer is None or not options:
        return None
    ans = _strip_prefix(normalize(answer).strip())
    if not ans:
        return None
    n = len(options)
    m = _LETTER.fullmatch(ans)
    if m:
        letter = m.group(1).upper()
        if ord(letter) - ord("A") < n:
            return letter
    texts = _option_texts(options)
    hits = _which_option(ans, texts)
    if len(hits) == 1:
        return chr(ord("A") + hits[0])
    m = _LETTER_AND_TEXT.fullmatch(ans)
    if m:
        letter = (m.group(1) or m.group(2)).upper()
        k = ord(letter) - ord("A")
        rest = m.group(3).strip()
        if 0 <= k < n and k in _which_option(rest, texts):
            return letter
    return None


def gold_choice(gold: object, options: list) -> str:
    """The gold option letter of a multiple-choice item: its letter, or the option its text names."""
    g = str(gold).strip()
    m = _LETTER.fullmatch(g)
    if m and ord(m.group(1).upper()) - ord("A") < len(options):
        return m.group(1).upper()
    hits = _which_option(normalize(g), _option_texts(options))
    return chr(ord("A") + hits[0]) if len(hits) == 1 else g.upper()
