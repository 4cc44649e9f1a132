"""Rule-based answer extraction shared by the multiple-choice scorers.

* `final_answer_span(text)`: what a response gives as its final answer: the text after the last
  `</think>` if there is one, then the last `\\boxed{...}`, else what follows the last
  "answer is" / "answer:" / "option is" ... up to the end of that line. None when neither is there.
* `can_infer(text, options)`: VLMEvalKit's exact-matching prefetch (`can_infer_option`, then
  `can_infer_text`), in its long-standing form: the text with `.()[],:;!*#{}` turned into spaces
  is split on whitespace; exactly one option letter among the tokens is the answer; a refusal
  phrase, or no letter but a lone `Z`, gives "Z"; otherwise, exactly one option text contained in
  the lower-cased text gives its letter. A text holding "Failed to obtain answer via API" gives no
  letter, as in VLMEvalKit. (The pinned current form is in `_vlmevalkit.py`.)
* `extract_letter(text, letters, options)`: the documented fallback used where an official scorer
  needs a letter but relies on an LLM (see docs/benchmarks.md).
"""

from __future__ import annotations

import re

_BOXED = "\\boxed{"
_FINAL = re.compile(
    r"(?:final\s+answer|correct\s+answer|best\s+answer|answer|correct\s+option|best\s+option|"
    r"correct\s+choice|option|choice)\s*(?:is|:|：|=)\s*",
    re.IGNORECASE,
)
_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_SPLIT_CHARS = ".()[],:;!*#{}"


def after_think(text: str) -> str:
    return text.rsplit("</think>", 1)[1] if "</think>" in text else text


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (braces balanced), or None."""
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def final_answer_span(text: str) -> str | None:
    text = after_think(text)
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    hits = list(_FINAL.finditer(text))
    if hits:
        rest = text[hits[-1].end() :].strip()
        line = rest.split("\n", 1)[0].strip()
        if line:
            return line
    return None


def can_infer_option(text: str, letters: str) -> str | None:
    if "Failed to obtain answer via API" in text:  # an API error message is not an answer
        return None
    for phrase in _REFUSALS:
        if phrase in text:
            return "Z"
    mod = text
    for ch in _SPLIT_CHARS:
        mod = mod.replace(ch, " ")
    tokens = mod.split()
    found = [c for c in letters if c in tokens]
    if len(found) == 1:
        return found[0]
    if not found and "Z" in tokens:
        return "Z"
    return None


def can_infer_text(text: str, options: dict[str, str]) -> str | None:
    low = text.lower()
    hits = [k for k, v in options.items() if str(v).lower() in low]
    return hits[0] if len(hits) == 1 else None


def can_infer(text: str, options: dict[str, str]) -> str | None:
    """VLMEvalKit's letter inference (see the module docstring); None when it fails."""
    letters = "".join(options)
    return can_infer_option(text, letters) or can_infer_text(text, options)


def _clean(text: str) -> str:
    return text.replace("**", "").replace("$", "").replace("\\text{", "{").strip()


def _lead_letter(text: str, letters: str, strict: bool) -> str | None:
    """A letter the text starts with: "B", "(B)", "B.", "B)", "B:", "Option B"; with `strict`
    (whole responses) only when punctuation follows, so that "A man ..." is not read as A."""
    t = _clean(text)
    bare = t.strip("()[]{}.:;, ")
    if len(bare) == 1 and bare.upper() in letters:
        return bare.upper()
    if strict:
        m = re.match(rf"^(?:\(([{letters}])\)|([{letters}])[.:)\]])", t)
    else:
        m = re.match(rf"^(?:(?i:option|choice)\s+)?[(\[]?([{letters}])[)\]]?(?=[.:,)\]]|\s|$)", t)
    if m:
        return next(g for g in m.groups() if g)
    return None


def extract_letter(text: str, letters: str, options: dict[str, str] | None = None) -> str | None:
    """The option letter a response picks, or None.

    1. in the final-answer span (`final_answer_span`): a leading letter ("B", "(B)", "B. cab",
       "Option B"), else VLMEvalKit's `can_infer_option` on the span;
    2. in the whole response (after `</think>`): the response is a letter, or starts with "(B)" /
       "B." / "B)" / "B:", else `can_infer_option` (exactly one letter token);
    3. exactly one option text contained in the span, else in the response (`can_infer_text`).
    """
    whole = after_think(text)
    span = final_answer_span(text)
    if span is not None:
        hit = _lead_letter(span, letters, strict=False) or can_infer_option(span, letters)
        if hit and hit != "Z":
            return hit
    hit = _lead_letter(whole, letters, strict=True) or can_infer_option(whole, letters)
    if hit and hit != "Z":
        return hit
    if options:
        for cand in (span, whole):
            if cand:
                hit = can_infer_text(cand, options)
                if hit:
                    return hit
    return None


_OPTION_LINE = re.compile(r"(?:^|\n)\s*\(?([A-Z])\)?\s*[:.：)]\s*([^\n]+)")


def parse_option_lines(text: str, letters: str = "ABCDEFGHIJ") -> dict[str, str]:
    """Options written one per line as "A: x", "A. x", "(A) x" or "A) x", in order A, B, C, ...;
    parsing stops at the first letter out of sequence."""
    found: dict[str, str] = {}
    for m in _OPTION_LINE.finditer(text):
        letter = m.group(1)
        expected = letters[len(found)] if len(found) < len(letters) else None
        if letter == expected:
            found[letter] = m.group(2).strip()
        elif found:
            break
    return found
