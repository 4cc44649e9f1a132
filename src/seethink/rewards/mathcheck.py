"""Math answer equivalence with math-verify, guarded so a check can never hang.

math-verify's own time limits use SIGALRM, which only works on the main thread, and
sympy can spend minutes on inputs like `9^9^9^9`. So: a fast exact/numeric path first,
then a shape filter that refuses pathological expressions, then math-verify with its
signal timeouts on the main thread only.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

MAX_EXPR_CHARS = 120
_PATHOLOGICAL = re.compile(r"\d{40,}|(\^|\*\*).*(\^|\*\*).*(\^|\*\*)|!\s*!|\\underbrace|\\overbrace")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?$")


def _normalize(s: str) -> str:
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = s.replace("\\!", "").replace("\\,", "").replace("\\ ", "")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace("{,}", "")
    return s.strip().rstrip(".").strip()


def _as_number(s: str) -> Fraction | None:
    t = s.replace(",", "")
    if _NUMBER.match(t):
        try:
            return Fraction(t)
        except (ValueError, ZeroDivisionError):
            return None
    m = re.match(r"^(-?)\\[dt]?frac\{(-?\d+)\}\{(\d+)\}$", t)
    if m and int(m.group(3)) != 0:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    return None


def math_equal(pred: str | None, gold: str | None, timeout_s: float = 5.0) -> bool:
    """True when `pred` and `gold` denote the same value (numbers, fractions, LaTeX)."""
    if pred is None or gold is None:
        return False
    p, g = _normalize(str(pred)), _normalize(str(gold))
    if not p or not g:
        return False
    if p == g:
        return True
    pn, gn = _as_number(p), _as_number(g)
    if pn is not None and gn is not None:
        return abs(float(pn) - float(gn)) <= 1e-6 * max(1.0, abs(float(gn)))
    if len(p) > MAX_EXPR_CHARS or len(g) > MAX_EXPR_CHARS:
        return False
    if _PATHOLOGICAL.search(p) or _PATHOLOGICAL.search(g):
        return False
    return _verify(p, g, timeout_s)


def _verify(p: str, g: str, timeout_s: float) -> bool:
    try:
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover - math-verify is a core dependency
        return False
    on_main = threading.current_thread() is threading.main_thread()
    # Signal-based limits only on the main thread; elsewhere the shape filter above is the guard.
    limit = max(1, int(timeout_s)) if on_main else None
    try:
        gold_p = parse(f"${g}$", parsing_timeout=limit)  # type: ignore[arg-type]
        pred_p = parse(f"${p}$", parsing_timeout=limit)  # type: ignore[arg-type]
        if not gold_p or not pred_p:
            return False
        return bool(verify(gold_p, pred_p, timeout_seconds=limit))
    except Exception:
        return False
