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


def _script_run(s: str, i: int, table: dict[str, str], mark: str) -> tuple[str, int]:
    """The run of super- or subscript characters from s[i] as one `^{..}` / `_{..}`, and where it ends."""
    j = i
    while j < len(s) and s[j] in table:
        j += 1
    return mark + "{" + "".join(table[c] for c in s[i:j]) + "}", j


def _root(s: str, i: int, out: list[str], paren_closes: list[str]) -> int:
    """The root sign at s[i] as its command with the radicand that follows braced; returns where
    the input continues. A parenthesised radicand's ")" closes the brace too (`paren_closes`)."""
    n = len(s)
    out.append(_ROOTS[s[i]])
    j = i + 1
    while j < n and s[j] == " ":
        j += 1
    if j >= n:
        return j
    if s[j] == "(":
        out.append("{(")
        paren_closes.append(")}")
        return j + 1
    if s[j].isdigit() or s[j] == ".":
        k = j
        while k < n and (s[k].isdigit() or s[k] == "."):
            k += 1
        out.append("{" + s[j:k] + "}")
        return k
    if s[j].isalpha() and s[j].isascii():
        out.append("{" + s[j] + "}")
        return j + 1
    if s[j] in _SYMBOLS and s[j].isalpha():  # √π
        out.append("{" + _SYMBOLS[s[j]].strip() + "}")
        return j + 1
    return j


def _unicode_to_latex(s: str) -> str:
    out: list[str] = []
    paren_closes: list[str] = []  # one entry per open "(": what its ")" becomes
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch in _SUPERSCRIPTS or ch in _SUBSCRIPTS:
            table, mark = (_SUPERSCRIPTS, "^") if ch in _SUPERSCRIPTS else (_SUBSCRIPTS, "_")
            piece, i = _script_run(s, i, table, mark)
            out.append(piece)
            continue
        if ch in _ROOTS:
            i = _root(s, i, out, paren_closes)
            continue
        if ch in _VULGAR:
            a, b = _VULGAR[ch]
            out.append(f"\\frac{{{a}}}{{{b}}}")
        elif ch == "(":
            paren_closes.append(")")
            out.append("(")
        elif ch == ")":
            out.append(paren_closes.pop() if paren_closes else ")")
        else:
            out.append(_SYMBOLS.get(ch, ch))
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


# Plain characters that change: math delimiters go, a tie is a space.
_PLAIN = {"$": "", "~": " "}
# Control symbols (`\` and one non-letter) that change; any other stays as written.
_CONTROL_SYMBOLS = {
    ",": _SEP, ";": _SEP, ":": _SEP, " ": _SEP, "!": "", "[": "", "]": "", "(": "", ")": "", "$": "",
    "%": "%", "&": "&", "\\": "\\\\ ",
}


class _LatexPass:
    """One left-to-right pass over `_tokens` output applying the cosmetics of step 3."""

    def __init__(self, toks: list[str]) -> None:
        self.toks = toks
        self.i = 0  # the next token
        self.out: list[str] = []
        # One entry per open "{": True when its "}" is to be dropped (an unwrapped argument).
        self.stack: list[bool] = []
        self.skip_depth = 0  # > 0 while inside an argument that is dropped whole
        self.pending = ""  # "wrap" or "skip": a command waiting for its "{"

    def _next(self) -> str:
        return self.toks[self.i] if self.i < len(self.toks) else ""

    def run(self) -> str:
        while self.i < len(self.toks):
            t = self.toks[self.i]
            self.i += 1
            if self.skip_depth:
                self.skip_depth += {"{": 1, "}": -1}.get(t, 0)
            elif t == " " and self.pending:
                continue
            elif t == "{":
                self._open()
            else:
                # Anything but "{" after a command that wanted an argument: the command had none.
                self.pending = ""
                if t == "}":
                    if not self.stack or not self.stack.pop():
                        self.out.append("}")
                elif t[0] != "\\" or len(t) == 1:
                    self.out.append(_PLAIN.get(t, t))
                elif len(t) == 2 and not t[1].isalpha():
                    self.out.append(_CONTROL_SYMBOLS.get(t[1], t))
                else:
                    self._command(_RENAME.get(t[1:], t[1:]))
        return "".join(self.out)

    def _open(self) -> None:
        if self.pending == "skip":
            self.skip_depth = 1
        elif self.pending == "wrap":
            self.stack.append(True)
        else:
            self.stack.append(False)
            self.out.append("{")
        self.pending = ""

    def _command(self, name: str) -> None:
        if name in ("<", ">", "{", "}", "|"):
            self.out.append(name if name not in "{}" else "\\" + name)
        elif name in WRAPPERS:
            self.pending = "wrap"
        elif name in _SKIP_ARG or name in _SKIP_FIRST:  # \textcolor's second argument is a plain group
            self.pending = "skip"
        elif name in _DROP:
            if name in ("left", "right", "middle") and self._next() == ".":
                self.i += 1
        elif name in _SPACES:
            self.out.append(" ")
        elif name in ("frac", "sqrt", "binom"):
            self._braced_args(name)
        elif name != "degree":
            self.out.append("\\" + name)
            # Keep a command apart from a following letter: `\pi r` must not become `\pir`.
            if len(self._next()) == 1 and self._next().isalpha():
                self.out.append(" ")

    def _braced_args(self, name: str) -> None:
        """`\\frac12`, `\\sqrt2`: one-character arguments get their braces."""
        self.out.append("\\" + name)
        if name == "sqrt" and self._next() == "[":
            return
        wanted = 1 if name == "sqrt" else 2
        while self._next() == " ":
            self.i += 1
        while wanted and len(self._next()) == 1 and self._next().isalnum():
            self.out.append("{" + self._next() + "}")
            self.i += 1
            wanted -= 1


def _latex_pass(toks: list[str]) -> str:
    return _LatexPass(toks).run()


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
