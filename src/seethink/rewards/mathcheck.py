"""Is a predicted answer the gold answer? Exact where the values are exact, text where they are words,
and symbolic (math-verify) only in a killable worker process, so a check is bounded in time on
any thread.

The steps, on the normalised answers (`seethink.rewards.normalize`):

1. Same text -> equal. A leading `x =` (a one- or two-letter name, a Greek letter, `f(x)`) is
   dropped on both sides; number words (`five`, `twenty-one`) become numbers.
2. Structures compare element by element: matrices (`pmatrix`, `bmatrix`, ... cell by cell, same
   shape; a one-column matrix equals the tuple of its entries), tuples and intervals in order
   with the same brackets (`(1,2]` is not `(1,2)`), sets `\\{..\\}` and bare lists (`1, 2`,
   `1 or 2`, `\\pm 2`) in any order, unions of intervals in any order. A list never equals a
   single value: `1,2` is not 12.
3. Units: a number followed by a unit (`12\\text{ m}^2`, `5 apples`, `30 degrees`) is the number;
   when both sides carry a unit the units must agree.
4. Text: an answer made of words (a run of three or more letters that is not a function name, or
   a common two-letter word; in a formula with digits or operators only runs of five or more)
   compares as text: case, spacing, hyphens, surrounding punctuation and the articles a / an /
   the do not matter, the letters and their order do (`felt` is not `left`).
5. Numbers: integers, decimals, fractions, mixed numbers (`2\\frac{1}{2}`, `7 3/4`), powers,
   products and sums of them are evaluated exactly (Python `Fraction`, sizes capped, never a
   float): `1000001` is not 1000000 and `2.500001` is not 2.5. The one tolerance: a gold written
   as a decimal with more places than a decimal prediction (`3.14159` against `3.14`) accepts the
   gold rounded to the prediction's places, when the prediction has at least one decimal place
   and two significant digits (`2.5` for 2.46, not `0.5` for 0.54 nor `3` for 3.14). A percent sign may be read either way (`50\\%` is 50
   or 0.5). Numbers too large to evaluate (`10^{10^{10}}`) compare by their text.
6. Anything else (symbols, roots, pi, equations, intervals with infinity) goes to math-verify in
   a worker process (`seethink.rewards.sandbox`), within the time left of `timeout_s`. Inputs
   that could only exhaust it are refused first and compare by text: more than 4,000
   characters, brackets nested more than 100 deep, a numeric exponent above 10^4 or a factorial
   above 1000.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from fractions import Fraction

from seethink.rewards.normalize import normalize

MAX_SYMBOLIC_CHARS = 4000
MAX_DEPTH = 100
MAX_BITS = 70_000  # about 21,000 digits: exact numbers beyond this are compared by their text
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_LIST = 100

# Function and constant names that are not words.
MATH_NAMES = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log",
    "ln", "lg", "exp", "sqrt", "frac", "lim", "max", "min", "gcd", "lcm", "mod", "det", "deg", "dim", "arg",
    "sgn", "sign", "inf", "sup", "pi", "infty", "infinity", "dx", "dy", "dz", "dt", "du", "cis", "abs", "im",
    "re", "tr", "rank", "ker", "span", "proj",
})
SHORT_WORDS = frozenset({
    "no", "on", "in", "is", "it", "at", "to", "up", "of", "or", "as", "by", "be", "do", "go", "he", "me",
    "my", "so", "we", "us", "am", "an", "if", "ok", "hi", "ox",
})
_ARTICLES = frozenset({"a", "an", "the"})
_NUMBER_WORDS = {
    w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split())
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}

# Units, as written -> one spelling. Single letters count as units only after a number.
_UNIT_CANON = {
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "cm": "cm", "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "mm": "mm", "millimeter": "mm", "millimeters": "mm", "km": "km", "kilometer": "km", "kilometers": "km",
    "in": "in", "inch": "in", "inches": "in", "ft": "ft", "foot": "ft", "feet": "ft", "yd": "yd", "yard": "yd",
    "yards": "yd", "mi": "mi", "mile": "mi", "miles": "mi", "g": "g", "gram": "g", "grams": "g", "kg": "kg",
    "kilogram": "kg", "kilograms": "kg", "mg": "mg", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",
    "oz": "oz", "ounce": "oz", "ounces": "oz", "s": "s", "sec": "s", "second": "s", "seconds": "s",
    "min": "min", "minute": "min", "minutes": "min", "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
    "year": "year", "years": "year", "l": "l", "liter": "l", "liters": "l", "litre": "l", "litres": "l",
    "ml": "ml", "milliliter": "ml", "milliliters": "ml", "deg": "deg", "degree": "deg", "degrees": "deg",
    "rad": "rad", "radian": "rad", "radians": "rad", "unit": "unit", "units": "unit", "dollar": "$",
    "dollars": "$", "cent": "cent", "cents": "cent", "mph": "mph", "kmh": "kmh", "sq": "sq", "square": "sq",
    "cubic": "cu", "cu": "cu", "n": "N", "newton": "N", "newtons": "N", "j": "J", "joule": "J", "joules": "J",
    "w": "W", "watt": "W", "watts": "W", "v": "V", "volt": "V", "volts": "V", "k": "K", "kelvin": "K",
    "pa": "Pa", "kpa": "kPa", "hz": "Hz", "kwh": "kWh", "percent": "%",
}
_SINGLE_LETTER_UNITS = frozenset("mgshlLNJWVK")


@dataclass
class _Ctx:
    deadline: float | None  # None: no symbolic step at all
    timed_out: bool = False


class _Undecided(Exception):
    """Not a plain number (symbols, roots, pi): the symbolic step decides."""


class _TooBig(Exception):
    """A number too large to evaluate exactly: compared by its text."""


# ---------------------------------------------------------------- public


def math_equal(pred: str | None, gold: str | None, timeout_s: float = 5.0) -> bool:
    """True when `pred` and `gold` denote the same answer; False otherwise and when the check
    ran out of time. Returns within about `timeout_s` on any thread."""
    return judge(pred, gold, timeout_s) is True


def judge(pred: str | None, gold: str | None, timeout_s: float = 5.0) -> bool | None:
    """True / False, or None when the symbolic step ran out of `timeout_s` before deciding."""
    if pred is None or gold is None:
        return False
    if str(pred).strip() == str(gold).strip() and normalize(str(gold)):  # the common case, first
        return True
    p, g = normalize(str(pred)), normalize(str(gold))
    if not p or not g:
        return False
    ctx = _Ctx(deadline=time.monotonic() + max(0.0, float(timeout_s)))
    ok = _equal(p, g, ctx, 0)
    if not ok and ctx.timed_out:
        return None
    return ok


def quick_equal(p: str, g: str) -> bool:
    """`judge` on answers already normalised, without the symbolic step (microseconds)."""
    if not p or not g:
        return False
    return _equal(p, g, _Ctx(deadline=None), 0)


# ---------------------------------------------------------------- the steps


def _equal(p: str, g: str, ctx: _Ctx, depth: int) -> bool:
    if p == g:
        return True
    if depth > MAX_DEPTH:
        return False
    p, g = _strip_assignment(p), _strip_assignment(g)
    p, g = _number_word(p), _number_word(g)
    if p == g:
        return True
    if not _is_text(p) and not _is_text(g) and _compact(p) == _compact(g):
        return True

    # Structures.
    mp, mg = _matrix(p), _matrix(g)
    if mp is not None or mg is not None:
        return _equal_matrix(p, g, mp, mg, ctx, depth)
    kp, ip = _split_list(p)
    kg, ig = _split_list(g)
    if len(ip) > 1 or len(ig) > 1 or kp != kg:
        # A relation against an interval (`x \in (2, \infty)`, `x > 2`): the symbolic step.
        single = p if kp == "" and len(ip) == 1 else g if kg == "" and len(ig) == 1 else None
        if single is not None and _RELATION.search(single) and {kp, kg} & {"()", "[]", "(]", "[)", "cup"}:
            return _symbolic(p, g, ctx)
        return _equal_lists(kp, ip, kg, ig, ctx, depth)
    p, g = ip[0], ig[0]  # `\{\}` is `\emptyset`

    # Units (and `3 million`).
    p, g = _scaled(p), _scaled(g)
    hp, up = _split_unit(p)
    hg, ug = _split_unit(g)
    if up is not None or ug is not None:
        if up is not None and ug is not None and up != ug:
            return False
        return _equal(hp, hg, ctx, depth + 1)

    # Text (and single letters, which compare without case, as the paper's grader does).
    if len(p) == 1 and len(g) == 1 and p.isalpha() and g.isalpha():
        return p.lower() == g.lower()
    if _is_text(p) or _is_text(g):
        return _text_key(p) == _text_key(g)
    return _equal_numbers(p, g, ctx)


def _equal_numbers(p: str, g: str, ctx: _Ctx) -> bool:
    """Numbers (exact, percent against fraction, rounded), then the symbolic step."""
    pct_p, pct_g = p.endswith("%"), g.endswith("%")
    vp, vg = _value(p.rstrip("%").rstrip()), _value(g.rstrip("%").rstrip())
    if isinstance(vp, Fraction) and isinstance(vg, Fraction):
        if vp == vg:
            return True
        if pct_p != pct_g:
            return (vp / 100 == vg) if pct_p else (vp == vg / 100)
        return _rounded_match(p.rstrip("%").rstrip(), g.rstrip("%").rstrip(), vp, vg)
    if vp is _TooBig or vg is _TooBig:
        return False
    if pct_p or pct_g:
        p, g = p.rstrip("%").rstrip(), g.rstrip("%").rstrip()
    return _symbolic(p, g, ctx)


def _symbolic(p: str, g: str, ctx: _Ctx) -> bool:
    if ctx.deadline is None:
        return False
    if len(p) + len(g) > MAX_SYMBOLIC_CHARS or not _safe_for_sympy(p) or not _safe_for_sympy(g):
        return False
    remaining = ctx.deadline - time.monotonic()
    if remaining <= 0:
        ctx.timed_out = True
        return False
    from seethink.rewards.sandbox import check

    verdict = check(p, g, remaining)
    if verdict is None:
        ctx.timed_out = True
        return False
    return verdict


# ---------------------------------------------------------------- assignments and words

_ASSIGN_LHS = re.compile(r"[A-Za-z]{1,2}(?:_\{?[A-Za-z0-9]{1,3}\}?)?'?|\\[a-zA-Z]{2,8}(?:_\{?[A-Za-z0-9]{1,3}\}?)?"
                         r"|[A-Za-z]\( ?[A-Za-z] ?\)")


def _strip_assignment(s: str) -> str:
    """`x = 5` -> `5` (one `=`, a short name on its left)."""
    k = s.find("=")
    if k <= 0 or s.find("=", k + 1) != -1 or s[k - 1] in "<>!\\":
        return s
    lhs = s[:k].strip()
    if _ASSIGN_LHS.fullmatch(lhs) and lhs.count("{") == lhs.count("}"):
        rhs = s[k + 1 :].strip()
        return rhs or s
    return s


def _compact(s: str) -> str:
    """Without spaces, except one between two digits (`1 2` stays two numbers)."""
    if " " not in s:
        return s
    out = []
    for k, ch in enumerate(s):
        if ch != " " or (0 < k < len(s) - 1 and s[k - 1].isdigit() and s[k + 1].isdigit()):
            out.append(ch)
    return "".join(out)


def _number_word(s: str) -> str:
    if not s or not s[0].isalpha() or len(s) > 20:
        return s
    w = s.lower().strip()
    if w in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[w])
    if w in _TENS:
        return str(_TENS[w])
    a, sep, b = w.partition("-")
    if sep and a in _TENS and b in _NUMBER_WORDS and 0 < _NUMBER_WORDS[b] < 10:
        return str(_TENS[a] + _NUMBER_WORDS[b])
    return s


def _letter_runs(s: str) -> list[str]:
    """Runs of letters outside LaTeX command names and environment names."""
    runs: list[str] = []
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "\\":
            j = i + 1
            while j < n and s[j].isascii() and s[j].isalpha():
                j += 1
            name = s[i + 1 : j]
            if name in ("begin", "end") and j < n and s[j] == "{":
                k = s.find("}", j)
                j = n if k == -1 else k + 1
            i = max(j, i + 1)
            continue
        if ch.isalpha():
            j = i
            while j < n and s[j].isalpha():
                j += 1
            runs.append(s[i:j])
            i = j
            continue
        i += 1
    return runs


def _is_text(s: str) -> bool:
    """Whether an answer is words rather than a formula (see the module docstring)."""
    runs = _letter_runs(s)
    if not runs:
        return False
    formula = any(c.isdigit() or c in "+*/^=_<>\\" for c in s)
    for r in runs:
        low = r.lower()
        if low in MATH_NAMES:
            continue
        if len(r) >= 5:
            return True
        if formula:
            continue
        if len(r) >= 3 or low in SHORT_WORDS:
            return True
    return False


def _text_key(s: str) -> str:
    t = s.casefold()
    for ch in "-_/":
        t = t.replace(ch, " ")
    words = []
    for w in t.split():
        w = w.strip(".,;:!?\"'`()[]*{}")
        if w and w not in _ARTICLES:
            words.append(w)
    return " ".join(words)


# ---------------------------------------------------------------- structures

_MATRIX_ENVS = ("pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix", "array")


def _matrix(s: str) -> list[list[str]] | None:
    if not s.startswith("\\begin{"):
        return None
    k = s.find("}")
    env = s[7:k]
    end = "\\end{" + env + "}"
    if env not in _MATRIX_ENVS or not s.endswith(end):
        return None
    body = s[k + 1 : len(s) - len(end)]
    if env == "array" and body.lstrip().startswith("{"):
        body = body.lstrip()
        close = body.find("}")
        body = body[close + 1 :] if close != -1 else body
    rows = [r for r in _split_top(body, "\\\\")]
    rows = [r for r in rows if r.strip()] or [""]
    return [[c.strip() for c in _split_top(r, "&")] for r in rows]


def _equal_matrix(p: str, g: str, mp: list[list[str]] | None, mg: list[list[str]] | None, ctx: _Ctx,
                  depth: int) -> bool:
    def cells(m: list[list[str]] | None, s: str) -> tuple[tuple[int, int], list[str]] | None:
        if m is not None:
            if any(len(r) != len(m[0]) for r in m):
                return None
            return (len(m), len(m[0])), [c for r in m for c in r]
        kind, items = _split_list(s)
        if kind in ("()", "[]", "<>") and len(items) > 1:
            return (len(items), 1), items  # a vector: the same as a one-column matrix
        return None

    a, b = cells(mp, p), cells(mg, g)
    if a is None or b is None:
        return False
    (sa, ca), (sb, cb) = a, b
    if sa != sb and not (1 in sa and 1 in sb and len(ca) == len(cb)):
        return False
    return all(_equal(x, y, ctx, depth + 1) for x, y in zip(ca, cb, strict=True))


_OPEN = {"(": 1, "[": 1, "{": 1}
_CLOSE = {")": 1, "]": 1, "}": 1}


def _split_top(s: str, sep: str) -> list[str]:
    """Split at `sep` outside brackets (any of ( [ { and \\{ \\}), in one pass."""
    if sep not in s:
        return [s]
    parts: list[str] = []
    depth = 0
    start = 0
    i, n = 0, len(s)
    ls = len(sep)
    while i < n:
        ch = s[i]
        if ch == "\\" and i + 1 < n and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            i += ls
            start = i
            continue
        if ch == "\\" and i + 1 < n and s[i + 1] == "\\":
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        i += 1
    parts.append(s[start:])
    return parts


def _closing_at_end(s: str, open_len: int, close_len: int) -> bool:
    """Whether the bracket opening at 0 closes exactly at the end (( and [ count alike)."""
    depth = 0
    i, n = 0, len(s)
    while i < n:
        if s.startswith("\\{", i) or s.startswith("\\langle", i):
            depth += 1
            i += 2 if s[i + 1] == "{" else 7
            continue
        if s.startswith("\\}", i) or s.startswith("\\rangle", i):
            depth -= 1
            i += 2 if s[i + 1] == "}" else 7
            if depth == 0:
                return i == n
            continue
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == n - 1
        i += 1
    return False


def _split_list(s: str) -> tuple[str, list[str]]:
    """(kind, items): kind is '{}' (a set), '()' '[]' '(]' '[)' '<>' (tuples, intervals), 'cup' (a
    union), 'list' (bare commas, `or`, `and`, `;`) or '' (one value)."""
    s = s.strip()
    if s.startswith("\\{") and s.endswith("\\}") and _closing_at_end(s, 2, 2):
        inner = s[2:-2].strip()
        if not inner:
            return "", ["\\emptyset"]
        return "{}", [x.strip() for x in _split_top(inner, ",")]
    if s.startswith("\\langle") and s.endswith("\\rangle") and _closing_at_end(s, 7, 7):
        return "<>", [x.strip() for x in _split_top(s[7:-7], ",")]
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _closing_at_end(s, 1, 1):
        elems = [x.strip() for x in _split_top(s[1:-1], ",")]
        if len(elems) > 1:
            return s[0] + s[-1], elems
    parts = _split_top(s, "\\cup")
    if len(parts) > 1:
        return "cup", [x.strip() for x in parts]
    items: list[str] = []
    for chunk in _split_top(s, ","):
        for piece in _split_top(chunk, ";"):
            for part in _split_top(piece, " or "):
                items.extend(_split_top(part, " and "))
    items = [x.strip() for x in items]
    items = [x for x in items if x] or [s]
    expanded: list[str] = []
    for x in items:
        expanded.extend(_expand_pm(x))
    if len(expanded) > 1:
        return "list", expanded
    return "", expanded


def _expand_pm(s: str) -> list[str]:
    parts = _split_top(s, "\\pm")
    if len(parts) != 2:
        return [s]
    a, b = parts[0].strip(), parts[1].strip()
    a = _strip_assignment(a + "0").removesuffix("0") if a.endswith("=") else a
    if not b:
        return [s]
    if not a:
        return [b, "-" + b if not b.startswith("-") else b[1:]]
    return [f"{a}+{b}", f"{a}-{b}"]


def _equal_lists(kp: str, ip: list[str], kg: str, ig: list[str], ctx: _Ctx, depth: int) -> bool:
    if len(ip) != len(ig) or len(ip) > MAX_LIST:
        return False
    ordered = {"()", "[]", "(]", "[)", "<>"}
    if kp in ordered or kg in ordered:
        if kp != kg:
            return False
        return all(_equal(x, y, ctx, depth + 1) for x, y in zip(ip, ig, strict=True))
    unordered = {"{}", "list", "cup", ""}
    if kp not in unordered or kg not in unordered:
        return False
    if (kp == "cup") != (kg == "cup"):
        return False
    left = list(ig)
    for x in ip:
        for j, y in enumerate(left):
            if x == y or _equal(x, y, ctx, depth + 1):
                del left[j]
                break
        else:
            return False
    return True


# ---------------------------------------------------------------- units


def _is_numberish(s: str) -> bool:
    if not any(c.isdigit() for c in s):
        return False
    runs = _letter_runs(s)
    return not runs and s[-1] not in "+-*/^_=(["


def _split_unit(s: str) -> tuple[str, str | None]:
    """(number, unit) for `12 m^2`, `5 apples`, `3 km/h`; (s, None) otherwise."""
    parts: list[str] = []
    t = s.rstrip()
    while True:
        end = len(t)
        power = ""
        # ^2, ^{2}, ^3
        if t.endswith("}") and len(t) >= 4 and t[-4:-2] == "^{" and t[-2].isdigit():
            power, end = t[-2], end - 4
        elif len(t) >= 2 and t[-2] == "^" and t[-1].isdigit():
            power, end = t[-1], end - 2
        start = end
        while start > 0 and t[start - 1].isascii() and t[start - 1].isalpha():
            start -= 1
        word = t[start:end]
        if not word or (start > 0 and t[start - 1] == "\\"):
            break
        low = word.lower()
        known = low in _UNIT_CANON and (len(word) > 1 or word in _SINGLE_LETTER_UNITS)
        if not known and not (len(word) >= 3 and low not in MATH_NAMES and low not in _NUMBER_WORDS):
            break
        parts.append(_UNIT_CANON.get(low, _singular(low)) + (f"^{power}" if power else ""))
        t = t[:start].rstrip()
        if t.endswith("/"):
            t = t[:-1].rstrip()
            parts.append("/")
        elif t.endswith("\\cdot"):
            t = t[:-5].rstrip()
    if not parts or parts[-1] == "/" or not t or not _is_numberish(t):
        return s, None
    unit = " ".join(reversed(parts))
    return t, unit


_SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_RELATION = re.compile(r"\\in\b|<|>|\\le\b|\\ge\b")


def _scaled(s: str) -> str:
    """`3 million` -> `3\\times 10^{6}`."""
    head, _, word = s.rpartition(" ")
    k = _SCALES.get(word.lower())
    if k is None or not head or not _is_numberish(head):
        return s
    return f"({head})\\times 10^{{{k}}}"


def _singular(w: str) -> str:
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


# ---------------------------------------------------------------- exact numbers

_PLAIN_DECIMAL = re.compile(r"[-+]?\d+\.(\d+)")


def _rounded_match(ps: str, gs: str, vp: Fraction, vg: Fraction) -> bool:
    """A decimal prediction with fewer places than a decimal gold: the gold rounded to them."""
    mp, mg = _PLAIN_DECIMAL.fullmatch(ps), _PLAIN_DECIMAL.fullmatch(gs)
    if not mp or not mg:
        return False
    dp, dg = len(mp.group(1)), len(mg.group(1))
    if not 1 <= dp < dg:
        return False
    if len(ps.lstrip("+-").replace(".", "").lstrip("0")) < 2:  # `0.5` is not "0.54 rounded"
        return False
    return abs(vp - vg) <= Fraction(1, 2 * 10**dp)


def _value(s: str) -> Fraction | type | None:
    """The exact value of a plain numeric expression; None when it has symbols; _TooBig."""
    try:
        return _Parser(s).parse()
    except _TooBig:
        return _TooBig
    except (_Undecided, ZeroDivisionError, ValueError, OverflowError, RecursionError):
        return None


def _check_size(x: Fraction) -> Fraction:
    if x.numerator.bit_length() > MAX_BITS or x.denominator.bit_length() > MAX_BITS:
        raise _TooBig
    return x


class _Parser:
    """Recursive descent over + - * / ^, \\frac, \\sqrt (exact roots), brackets and numbers."""

    def __init__(self, s: str) -> None:
        self.toks = _num_tokens(s)
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, bool]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, t: str) -> None:
        if self.peek() != t:
            raise _Undecided
        self.i += 1

    def parse(self) -> Fraction:
        v = self.expr()
        if self.i != len(self.toks):
            raise _Undecided
        return v

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Undecided

    def expr(self) -> Fraction:
        self.enter()
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[0]
            w = self.term()
            v = _check_size(v + w if op == "+" else v - w)
        self.depth -= 1
        return v

    def term(self) -> Fraction:
        v = self.unary()
        while True:
            t = self.peek()
            if t in ("*", "\\times", "\\cdot"):
                self.i += 1
                v = _check_size(v * self.unary())
            elif t in ("/", "\\div"):
                self.i += 1
                d = self.unary()
                if d == 0:
                    raise _Undecided
                v = _check_size(v / d)
            elif t is not None and (t[0].isdigit() or t in ("(", "{", "\\frac", "\\sqrt", "[")):
                if t[0].isdigit():  # two numbers side by side
                    raise _Undecided
                v = _check_size(v * self.unary())
            else:
                return v

    def unary(self) -> Fraction:
        t = self.peek()
        if t in ("-", "+"):
            self.i += 1
            self.enter()
            v = self.unary()
            self.depth -= 1
            return -v if t == "-" else v
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.i += 1
        self.enter()
        if self.peek() in ("-", "+"):
            e = self.unary()
        else:
            e = self.power()
        self.depth -= 1
        return _pow(base, e)

    def atom(self) -> Fraction:
        t = self.peek()
        if t is None:
            raise _Undecided
        if t[0].isdigit() or t[0] == ".":
            self.i += 1
            v = _number(t)
            # Mixed numbers: `2\frac{1}{2}`, `7 3/4`.
            if t.isdigit():
                mixed = self._mixed_tail()
                if mixed is not None:
                    return v + mixed
            return v
        if t in ("(", "[", "{"):
            close = {"(": ")", "[": "]", "{": "}"}[t]
            self.i += 1
            self.enter()
            v = self.expr()
            self.depth -= 1
            self.expect(close)
            return v
        if t == "\\frac":
            self.i += 1
            a = self.group()
            b = self.group()
            if b == 0:
                raise _Undecided
            return _check_size(a / b)
        if t == "\\sqrt":
            self.i += 1
            if self.peek() == "[":
                raise _Undecided
            return _exact_sqrt(self.group())
        raise _Undecided

    def group(self) -> Fraction:
        self.expect("{")
        self.enter()
        v = self.expr()
        self.depth -= 1
        self.expect("}")
        return v

    def _mixed_tail(self) -> Fraction | None:
        toks, i = self.toks, self.i
        # \frac{a}{b} right after the integer, a < b
        if i + 7 <= len(toks) and toks[i][0] == "\\frac":
            seq = [x[0] for x in toks[i : i + 7]]
            if (seq[1] == "{" and seq[2].isdigit() and seq[3] == "}" and seq[4] == "{" and seq[5].isdigit()
                    and seq[6] == "}" and 0 < int(seq[2]) < int(seq[5])):
                self.i = i + 7
                return Fraction(int(seq[2]), int(seq[5]))
        # "7 3/4": an integer, a space, a proper fraction
        if i + 2 < len(toks) and toks[i][1] and toks[i][0].isdigit() and toks[i + 1][0] == "/" \
                and toks[i + 2][0].isdigit() and 0 < int(toks[i][0]) < int(toks[i + 2][0]) \
                and (i + 3 == len(toks) or toks[i + 3][0] not in ("^",)):
            self.i = i + 3
            return Fraction(int(toks[i][0]), int(toks[i + 2][0]))
        return None


def _num_tokens(s: str) -> list[tuple[str, bool]]:
    """(token, preceded by a space): numbers (with `e` exponents), commands, single characters."""
    toks: list[tuple[str, bool]] = []
    i, n = 0, len(s)
    space = False
    while i < n:
        ch = s[i]
        if ch == " ":
            space = True
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and s[i + 1].isdigit()):
            j = i
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] == "." and j + 1 < n and s[j + 1].isdigit():
                j += 1
                while j < n and s[j].isdigit():
                    j += 1
            if j < n and s[j] in "eE":
                k = j + 1
                if k < n and s[k] in "+-":
                    k += 1
                m = k
                while m < n and s[m].isdigit():
                    m += 1
                if m > k and not (m < n and s[m].isalpha()):
                    j = m
            toks.append((s[i:j], space))
        elif ch == "\\":
            j = i + 1
            while j < n and s[j].isascii() and s[j].isalpha():
                j += 1
            if j == i + 1:
                j += 1
            toks.append((s[i:j], space))
        else:
            j = i + 1
            toks.append((ch, space))
        space = False
        i = j
    return toks


def _number(t: str) -> Fraction:
    mant, _, exp = t.replace("E", "e").partition("e")
    v = Fraction(mant)
    if exp:
        e = int(exp)
        if abs(e) > MAX_EXPONENT:
            raise _TooBig
        v = v * Fraction(10) ** e
    return _check_size(v)


def _pow(base: Fraction, e: Fraction) -> Fraction:
    if e.denominator != 1:
        if e.denominator == 2 and base >= 0:
            return _pow(_exact_sqrt(base), Fraction(e.numerator))
        raise _Undecided
    k = e.numerator
    if base in (0, 1):
        if base == 0 and k < 0:
            raise _Undecided
        return base if k else Fraction(1)
    if base == -1:
        return Fraction(-1 if k % 2 else 1)
    if abs(k) > MAX_EXPONENT:
        raise _TooBig
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if bits * abs(k) > MAX_BITS:
        raise _TooBig
    return base**k


def _exact_sqrt(x: Fraction) -> Fraction:
    if x < 0:
        raise _Undecided
    a, b = math.isqrt(x.numerator), math.isqrt(x.denominator)
    if a * a == x.numerator and b * b == x.denominator:
        return Fraction(a, b)
    raise _Undecided


# ---------------------------------------------------------------- what sympy is not given

def _safe_for_sympy(s: str) -> bool:
    """No deep nesting, no numeric exponent above MAX_EXPONENT, no factorial above MAX_FACTORIAL."""
    depth = 0
    for ch in s:
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in ")]}":
            depth -= 1
    i = s.find("!")
    while i != -1:
        j = i
        while j > 0 and s[j - 1] == " ":
            j -= 1
        k = j
        while k > 0 and s[k - 1].isdigit() and j - k <= 4:
            k -= 1
        if k < j and (j - k > 4 or int(s[k:j]) > MAX_FACTORIAL):
            return False
        i = s.find("!", i + 1)
    match = _brace_matches(s)
    i = s.find("^")
    while i != -1:
        exp = _exponent_at(s, i + 1, match)
        if exp is not None:
            v = _value(exp)
            if v is _TooBig or (isinstance(v, Fraction) and abs(v) > MAX_EXPONENT):
                return False
            if v is None and "^" in exp and not any(c.isalpha() for c in exp.replace("\\", "")):
                return False
        i = s.find("^", i + 1)
    return True


def _brace_matches(s: str) -> dict[int, int]:
    match: dict[int, int] = {}
    stack: list[int] = []
    for k, ch in enumerate(s):
        if ch == "{":
            stack.append(k)
        elif ch == "}" and stack:
            match[stack.pop()] = k
    return match


def _exponent_at(s: str, i: int, match: dict[int, int]) -> str | None:
    """The exponent starting at s[i]: a braced group or a number."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return None
    if s[i] == "{":
        k = match.get(i)
        return None if k is None else s[i + 1 : k].strip()
    j = i
    while j < len(s) and (s[j].isdigit() or s[j] == "."):
        j += 1
    return s[i:j] if j > i else None
