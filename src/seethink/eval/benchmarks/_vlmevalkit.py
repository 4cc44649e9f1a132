"""VLMEvalKit's rule-based answer reading, ported line for line from one pinned commit.

Pinned: open-compass/VLMEvalKit e8e78f05f3080fe28154f2130321f17951c3be94 (2026-08-18).
* `process_punctuation`: `vlmeval/smp/misc.py`;
* `yorn_extraction`: `YOrN_Extraction` in `vlmeval/dataset/utils/yorn.py` (the yes/no reading of
  HallusionBench, POPE, MME, ... under `exact_matching`);
* `can_infer_option`, `can_infer_text`, `can_infer`: `vlmeval/utils/matching_util.py` (the
  multiple-choice reading under `exact_matching`: no letter means option "Z", which is wrong).

Only the default environment is reproduced: the `VERBOSE` variable unset. The quirks are kept on
purpose, because they decide verdicts: `process_punctuation` deletes at most 32 periods (the
`re.UNICODE` flag lands in `sub`'s `count` argument), handles only its fixed character list
(`*`, `:`, `'`, `—`, `…` stay), and removes rather than spaces out punctuation whenever the text
has a digit-comma-digit group; `can_infer_option` takes a lone option letter only when it is
among the last four tokens, and gives nothing for a text holding "Failed to obtain answer via API";
`can_infer_text` gives up on an answer longer than twice the options' total length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

COMMIT = "e8e78f05f3080fe28154f2130321f17951c3be94"

_PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?<!\d)\.(?!\d)")


def process_punctuation(in_text: str) -> str:
    out_text = in_text
    for p in _PUNCT:
        if (p + " " in in_text or " " + p in in_text) or (re.search(_COMMA_STRIP, in_text) is not None):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return _PERIOD_STRIP.sub("", out_text, re.UNICODE)  # noqa: B034  (count=32, as in VLMEvalKit)


def yorn_extraction(output: str) -> str:
    """'Yes', 'No' or 'Unknown'."""
    s = output.lower()
    words = process_punctuation(s).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


_REJECT = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_VERBOSE_ANSWER_RE = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")


def _count_choice(splits: list[str], choices: Iterable[str]) -> int:
    return sum(1 for c in choices if c in splits)


def can_infer_option(answer: str, choices: dict[str, str]) -> str | bool:
    if "Failed to obtain answer via API" in answer:
        return False
    for err in _REJECT:
        if err in answer:
            return "Z"
    answer_mod = answer
    for c in ".()[],:;!*#{}":
        answer_mod = answer_mod.replace(c, " ")
    splits = [x.strip() for x in answer_mod.split()]
    count = _count_choice(splits, choices)
    if count == 1:
        for ch in choices:
            if ch in splits and splits.index(ch) > (len(splits) - 5):
                return ch
    elif count == 0 and _count_choice(splits, {"Z", ""}) == 1:
        return "Z"
    match = _VERBOSE_ANSWER_RE.search(answer or "")
    if match and match.group(1).upper() in choices:
        return match.group(1).upper()
    return False


def can_infer_text(answer: str, choices: dict[str, str]) -> str | bool:
    answer = answer.lower()
    if len(answer) > 2 * sum(len(str(v)) for v in choices.values()):
        return False
    lowered = {k: str(v).lower() for k, v in choices.items()}
    cands = [k for k in lowered if lowered[k] in answer]
    if len(cands) == 1:
        return cands[0]
    return False


def can_infer(answer: object, choices: dict[str, str]) -> str | bool:
    """The letter, "Z" (a refusal, or a lone "Z"), or False."""
    text = str(answer)
    copt = can_infer_option(text, choices)
    return copt if copt else can_infer_text(text, choices)


def as_prediction(value: object) -> str:
    """`str(x)`, as VLMEvalKit turns every prediction cell into text (an empty cell, NaN, is "nan")."""
    return str(value)
