"""Math answer equivalence with math-verify, guarded so a check can never hang.

math-verify's own time limits use SIGALRM, which only works on the main thread, and
sympy can spend minutes on inputs like `9^9^9^9`. So: a fast exact/numeric path first,
then a shape filter that refuses pathological expressions, then math-verify under one
timer for the whole check (main thread only).
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

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


class _OutOfTime(BaseException):
    """Raised by our timer; a BaseException so that no library's `except Exception` swallows it."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (main thread only), restoring any timer already set."""

    def expire(signum: int, frame: Any) -> None:
        raise _OutOfTime()

    old_handler = signal.signal(signal.SIGALRM, expire)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)


def _verify(p: str, g: str, timeout_s: float) -> bool:
    """math-verify on both strings, within `timeout_s` in all (parsing and comparison together).

    math-verify's own limits are whole seconds per parse and per comparison (up to three times
    the budget in all), so on the main thread one timer of ours bounds the whole call instead.
    Off the main thread no signal can be used and the shape filter is the guard.
    """
    try:
        import math_verify.grader
        import math_verify.parser
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover - math-verify is a core dependency
        return False
    # Its once-per-process "timeout is disabled" warning: ours is the timer, so it does not apply.
    for module in (math_verify.grader, math_verify.parser):
        if hasattr(module, "TIMEOUT_WARNING_SHOWN"):
            module.TIMEOUT_WARNING_SHOWN = True

    def check() -> bool:
        gold_p = parse(f"${g}$", parsing_timeout=None)  # type: ignore[arg-type]
        pred_p = parse(f"${p}$", parsing_timeout=None)  # type: ignore[arg-type]
        if not gold_p or not pred_p:
            return False
        return bool(verify(gold_p, pred_p, timeout_seconds=None))

    try:
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return check()
        with _deadline(timeout_s):
            return check()
    except _OutOfTime:
        return False
    except Exception:
        return False
