"""Code, recipes, comments and docs say why, not when: no development history (a session, issue or
round with its number) in the package, recipes, benchmarks, experiments, tests, README or docs.
Measurements keep their provenance as a date and a commit instead."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "recipes", "configs", "benchmarks", "experiments", "tests", ".ci", "docs", "README.md", "Makefile")
SUFFIXES = {".py", ".yaml", ".yml", ".jinja", ".md", ".txt", ".toml", ""}
HISTORY = re.compile(r"\b(?:session|issue|round|sitting)s?[ -]?#?\d+", re.IGNORECASE)


def _files():
    for top in SCANNED:
        paths = [ROOT / top] if (ROOT / top).is_file() else sorted((ROOT / top).rglob("*"))
        for p in paths:
            skip = {"fixtures", "__pycache__"} & set(p.parts) or any(x.endswith(".egg-info") for x in p.parts)
            if p.is_file() and p.suffix in SUFFIXES and not skip and p.name != Path(__file__).name:
                yield p


def test_no_development_history_in_code_and_recipes():
    hits = []
    for p in _files():
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if HISTORY.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "development history words (say why, not when):\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_should():
    for s in ("Session 5 found", "issue 21, item 10", "until round 3", "the session-7 base", "issue #4"):
        assert HISTORY.search(s), s
    for s in ("a session of training", "this issue is", "rounded to 2", "sessions of 3 hours"):
        assert not HISTORY.search(s), s
