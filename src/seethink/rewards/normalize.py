"""Answer normalisation: a boxed answer or a gold answer as one canonical LaTeX-ish string.

Everything here is a single pass (or a fixed number of passes) over the text: no regular
expression that can backtrack, no nested rescans, so the cost is linear in the length of the
answer whatever it contains (`tests/rewards/test_linear_time.py`).

What it does, in order:
1. Unicode math to LaTeX: `√2` -> `\\sqrt{2}`, `√(x+1)` -> `\\sqrt{(x+1)}`, `½` -> `\\frac{1}{2}`
   (`2½` is the mixed number), `x²` -> `x^{2}`, `x₁` -> `x_{1}`, `×` `·` `÷` `−` `π` `∞` `≤` `°` and
   the Greek letters to their commands; then NFKC (full-width digits and letters).
2. Math delimiters dropped: `$`, `\\[ \\]`, `\\( \\)`.
3. LaTeX cosmetics: wrappers that change only the look are unwrapped (`\\boldsymbol`, `\\mathbf`,
   `\\textbf`, `\\text`, `\\mathrm`, `\\boxed`, ...), `\\left` `\\right` `\\displaystyle` and sizes
   dropped, `\\color{..}` removed with its argument, `\\dfrac` `\\tfrac` `\\cfrac` -> `\\frac`,
   `\\frac12` -> `\\frac{1}{2}`, `\\sqrt2` -> `\\sqrt{2}`, `\\leq` -> `\\le` and friends.
   `\\\\` (a matrix row break) is kept whole: only the spacing commands `\\,` `\\;` `\\:` `\\ ` `~`
   `\\quad` become a space and `\\!` nothing.
4. Thousands separators: `1,000,000`, `1{,}000`, `1\\,000` and `1 000` become `1000000` only when
   every group after the first has exactly three digits; any other comma stays (a list: `1,2` is
   two numbers, never 12), and so does any other space (`7 3/4` is a mixed number).
5. Degrees (`^\\circ`, `°`, `\\degree`) dropped; spaces collapsed; a trailing full stop dropped;
   braces around the whole answer dropped.
"""

from __future__ import annotations

import unicodedata

# ---------------------------------------------------------------- 1. Unicode

_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "⁺": "+", "⁻": "-", "⁼": "=", "⁽": "(", "⁾": ")", "ⁿ": "n", "ⁱ": "i", "ˣ": "x",
}
_SUBSCRIPTS = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9",
    "₊": "+", "₋": "-", "₌": "=", "₍": "(", "₎": ")",
}
_VULGAR = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
    "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8),
    "⅝": (5, 8), "⅞": (7, 8), "⅑": (1, 9), "⅒": (1, 10), "↉": (0, 3),
}
_SYMBOLS = {
    "×": r"\times ", "✕": r"\times ", "·": r"\cdot ", "⋅": r"\cdot ", "∙": r"\cdot ", "÷": r"\div ",
    "−": "-", "–": "-", "—": "-", "‐": "-", "‑": "-", "﹣": "-", "－": "-", "±": r"\pm ", "∓": r"\mp ",
    "π": r"\pi ", "∞": r"\infty ", "≤": r"\le ", "⩽": r"\le ", "≥": r"\ge ", "⩾": r"\ge ", "≠": r"\ne ",
    "≈": r"\approx ", "∪": r"\cup ", "∩": r"\cap ", "°": r"^{\circ}", "∠": r"\angle ", "∈": r"\in ",
    "→": r"\to ", "⁄": "/", "∕": "/", "′": "'", "″": "''", "∅": r"\emptyset ", "⊥": r"\perp ",
    "∥": r"\parallel ", "△": r"\triangle ", "\u00a0": " ", "\u2009": r"\,", "\u202f": r"\,", "\u2002": " ",
    "\u2003": " ", "\u200b": "", "\ufeff": "",
    "α": r"\alpha ", "β": r"\beta ", "γ": r"\gamma ", "δ": r"\delta ", "ε": r"\epsilon ", "ζ": r"\zeta ",
    "η": r"\eta ", "θ": r"\theta ", "ι": r"\iota ", "κ": r"\kappa ", "λ": r"\lambda ", "μ": r"\mu ",
    "ν": r"\nu ", "ξ": r"\xi ", "ρ": r"\rho ", "σ": r"\sigma ", "τ": r"\tau ", "υ": r"\upsilon ",
    "φ": r"\phi ", "ϕ": r"\phi ", "χ": r"\chi ", "ψ": r"\psi ", "ω": r"\omega ", "Γ": r"\Gamma ",
    "Δ": r"\Delta ", "Θ": r"\Theta ", "Λ": r"\Lambda ", "Σ": r"\Sigma ", "Φ": r"\Phi ", "Ψ": r"\Psi ",
    "Ω": r"\Omega ",
}
_ROOTS = {"√": r"\sqrt", "∛": r"\sqrt[3]", "∜": r"\sqrt[4]"}


def _unicode_to_latex(s: str) -> str:
    out: list[str] = []
    paren_closes: list[str] = []  # one entry per open "(": what its ")" becomes
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch in _SUPERSCRIPTS:
            j = i
            while j < n and s[j] in _SUPERSCRIPTS:
                j += 1
            out.append("^{" + "".join(_SUPERSCRIPTS[c] for c in s[i:j]) + "}")
            i = j
            continue
        if ch in _SUBSCRIPTS:
            j = i
            while j < n and s[j] in _SUBSCRIPTS:
                j += 1
            out.append("_{" + "".join(_SUBSCRIPTS[c] for c in s[i:j]) + "}")
            i = j
            continue
        if ch in _VULGAR:
            a, b = _VULGAR[ch]
            out.append(f"\\frac{{{a}}}{{{b}}}")
            i += 1
            continue
        if ch in _ROOTS:
            out.append(_ROOTS[ch])
            j = i + 1
            while j < n and s[j] == " ":
                j += 1
            if j < n and s[j] == "(":
                # The parenthesised radicand: its ")" will close the \sqrt's brace too.
                out.append("{(")
                paren_closes.append(")}")
                i = j + 1
                continue
            if j < n and (s[j].isdigit() or s[j] == "."):
                k = j
                while k < n and (s[k].isdigit() or s[k] == "."):
                    k += 1
                out.append("{" + s[j:k] + "}")
                i = k
                continue
            if j < n and s[j].isalpha() and s[j].isascii():
                out.append("{" + s[j] + "}")
                i = j + 1
                continue
            if j < n and s[j] in _SYMBOLS and s[j].isalpha():  # √π
                out.append("{" + _SYMBOLS[s[j]].strip() + "}")
                i = j + 1
                continue
            i = j
            continue
        if ch == "(":
            paren_closes.append(")")
            out.append("(")
        elif ch == ")":
            out.append(paren_closes.pop() if paren_closes else ")")
        elif ch in _SYMBOLS:
            out.append(_SYMBOLS[ch])
        else:
            out.append(ch)
        i += 1
    # A radicand left open: close its brace at the end.
    out.extend("}" for c in paren_closes if c == ")}")
    text = "".join(out)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text


# ---------------------------------------------------------------- 2-3. LaTeX tokens

# Commands that only change how their argument looks: the argument stays, the command goes.
WRAPPERS = frozenset({
    "boldsymbol", "bm", "mathbf", "mathit", "mathrm", "mathsf", "mathtt", "mathnormal", "textbf", "textit",
    "textrm", "textsf", "texttt", "textnormal", "textup", "emph", "text", "mbox", "hbox", "boxed", "fbox",
    "underline", "pmb", "textsl", "mathbfit", "displaylines",
})
# Dropped with their (first) argument.
_SKIP_ARG = frozenset({"color", "label", "tag", "hspace", "vspace", "phantom", "hphantom", "vphantom"})
# `\textcolor{red}{x}`: the first argument goes, the second stays.
_SKIP_FIRST = frozenset({"textcolor", "colorbox"})
_DROP = frozenset({
    "left", "right", "displaystyle", "textstyle", "scriptstyle", "scriptscriptstyle", "big", "Big", "bigg",
    "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "middle", "limits", "nolimits",
    "hline", "noindent", "centering", "nonumber", "notag", "rm", "bf", "it", "mathstrut", "strut",
})
_SPACES = frozenset({"quad", "qquad", "enspace", "thinspace", "medspace", "thickspace", "space", "nobreakspace"})
_RENAME = {
    "dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "leq": "le", "leqslant": "le", "geq": "ge",
    "geqslant": "ge", "neq": "ne", "lt": "<", "gt": ">", "rightarrow": "to", "varnothing": "emptyset",
    "infin": "infty", "ldots": "dots", "cdots": "dots", "dotsc": "dots", "dotsb": "dots", "dotso": "dots",
    "lbrace": "{", "rbrace": "}", "lvert": "|", "rvert": "|", "vert": "|", "mid": "|", "varepsilon": "epsilon",
    "varphi": "phi", "vartheta": "theta", "ge": "ge", "le": "le",
}
_SEP = "\x01"  # a LaTeX thin space between digit groups, resolved by _join_thousands


def _tokens(s: str) -> list[str]:
    """`\\name`, `\\<char>` and single characters."""
    toks: list[str] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "\\" and i + 1 < n:
            j = i + 1
            if s[j].isascii() and s[j].isalpha():
                while j < n and s[j].isascii() and s[j].isalpha():
                    j += 1
                toks.append(s[i:j])
                i = j
            else:
                toks.append(s[i : j + 1])
                i = j + 1
        else:
            toks.append(ch)
            i += 1
    return toks


def _latex_pass(toks: list[str]) -> str:
    out: list[str] = []
    # One entry per open "{": True when its "}" is to be dropped (an unwrapped argument).
    stack: list[bool] = []
    skip_depth = 0  # > 0 while inside an argument that is dropped whole
    pending_wrap = 0  # wrapper commands waiting for their "{"
    pending_skip = 0
    pending_skip_first = 0
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        i += 1
        if skip_depth:
            if t == "{":
                skip_depth += 1
            elif t == "}":
                skip_depth -= 1
            continue
        if t == " " and (pending_wrap or pending_skip or pending_skip_first):
            continue
        if t == "{":
            if pending_skip or pending_skip_first:
                if pending_skip:
                    pending_skip -= 1
                else:
                    pending_skip_first -= 1
                skip_depth = 1
                continue
            if pending_wrap:
                pending_wrap -= 1
                stack.append(True)
                continue
            stack.append(False)
            out.append("{")
            continue
        # Anything but "{" after a command that wanted an argument: the command had none.
        pending_wrap = pending_skip = pending_skip_first = 0
        if t == "}":
            if stack:
                if not stack.pop():
                    out.append("}")
            else:
                out.append("}")
            continue
        if t[0] != "\\" or len(t) == 1:
            if t == "$":
                continue
            if t == "~":
                out.append(" ")
                continue
            out.append(t)
            continue
        name = t[1:]
        if len(t) == 2 and not name.isalpha():  # control symbols
            if name in ",;: ":
                out.append(_SEP)
            elif name == "!":
                pass
            elif name in "[]()$":
                pass
            elif name == "%":
                out.append("%")
            elif name == "&":
                out.append("&")
            elif name == "\\":
                out.append("\\\\ ")
            else:
                out.append(t)
            continue
        name = _RENAME.get(name, name)
        if name in ("<", ">", "{", "}", "|"):
            out.append(name if name not in "{}" else "\\" + name)
            continue
        if name in WRAPPERS:
            pending_wrap = 1
            continue
        if name in _SKIP_ARG:
            pending_skip = 1
            continue
        if name in _SKIP_FIRST:
            pending_skip_first = 1
            continue
        if name in _DROP:
            if name in ("left", "right", "middle") and i < n and toks[i] == ".":
                i += 1
            continue
        if name in _SPACES:
            out.append(" ")
            continue
        if name == "degree":
            continue
        if name in ("frac", "sqrt", "binom"):
            out.append("\\" + name)
            # `\frac12`, `\sqrt2`: one-character arguments get their braces.
            wanted = 1 if name == "sqrt" else 2
            if name == "sqrt" and i < n and toks[i] == "[":
                continue
            while wanted and i < n and toks[i] == " ":
                i += 1
            while wanted and i < n:
                nxt = toks[i]
                if nxt == "{" or nxt == " ":
                    break
                if len(nxt) == 1 and nxt.isalnum():
                    out.append("{" + nxt + "}")
                    i += 1
                    wanted -= 1
                else:
                    break
            continue
        out.append("\\" + name)
        # Keep a command apart from a following letter: `\pi r` must not become `\pir`.
        if i < n and len(toks[i]) == 1 and toks[i].isalpha():
            out.append(" ")
    return "".join(out)


# ---------------------------------------------------------------- 4. thousands


def _join_thousands(s: str) -> str:
    """`1,234,567` / `1{,}234` / `1\\,234` -> `1234567` where every later group has three digits."""
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if not ch.isdigit() or not ch.isascii():
            out.append(" " if ch == _SEP else ch)
            i += 1
            continue
        # A run of digit groups joined by "," / "{,}" / thin spaces.
        groups: list[str] = []
        seps: list[str] = []
        j = i
        while True:
            k = j
            while k < n and s[k].isdigit() and s[k].isascii():
                k += 1
            groups.append(s[j:k])
            sep = None
            if k < n and s[k] in (",", _SEP, " ") and k + 1 < n and s[k + 1].isdigit():
                sep = s[k]
                j = k + 1
            elif s.startswith("{,}", k) and k + 3 < n and s[k + 3].isdigit():
                sep = "{,}"
                j = k + 3
            if sep is None:
                end = k
                break
            seps.append(sep)
        after_point = bool(out) and out[-1] == "."
        ok = (len(groups) > 1 and not after_point and 1 <= len(groups[0]) <= 3
              and all(len(g) == 3 for g in groups[1:]))
        if ok:
            out.append("".join(groups))
        else:
            for g_i, g in enumerate(groups):
                out.append(g)
                if g_i < len(seps):
                    out.append("," if seps[g_i] == "," else " ")
        i = end
    return "".join(out)


# ---------------------------------------------------------------- 5. the rest


def strip_outer(s: str, opener: str = "{", closer: str = "}") -> str:
    """Drop brace pairs that enclose the whole string (`{{5}}` -> `5`); linear."""
    if len(s) < 2 or s[0] != opener or s[-1] != closer:
        return s
    match: dict[int, int] = {}
    stack: list[int] = []
    for k, ch in enumerate(s):
        if ch == opener:
            stack.append(k)
        elif ch == closer and stack:
            match[stack.pop()] = k
    a, b = 0, len(s) - 1
    while a < b and s[a] == opener and match.get(a) == b:
        a += 1
        b -= 1
        while a <= b and s[a] == " ":
            a += 1
        while b >= a and s[b] == " ":
            b -= 1
    return s[a : b + 1]


def _drop_degrees(s: str) -> str:
    for pat in ("^{\\circ}", "^\\circ", "{}^\\circ"):
        s = s.replace(pat, "")
    return s


def _squeeze(s: str) -> str:
    return " ".join(s.split())


def normalize(answer: str | None) -> str:
    """The canonical form of an answer (see the module docstring); '' for nothing."""
    if answer is None:
        return ""
    s = str(answer)
    s = _unicode_to_latex(s)
    s = _latex_pass(_tokens(s))
    s = s.replace("{,}", ",")
    s = _join_thousands(s)
    s = _drop_degrees(s)
    s = _squeeze(s)
    # Trailing sentence punctuation; `5.` is 5 (but `\dots.` keeps its dots).
    end = len(s)
    while end and s[end - 1] in ".;? " and not s.endswith("\\dots", 0, end):
        end -= 1
    s = s[:end]
    s = strip_outer(s)
    return s
