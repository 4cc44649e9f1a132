"""Copy the claims section of a study's report into README.md, between the claims markers.

    python scripts/readme_claims.py results/toy-study-small-shifted

README's results table is the report's own text, so it can only say what the committed per-item
results say; rerun this after `seethink report DIR` whenever units are added.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = re.compile(r"<!-- claims:start[^>]*-->")
END = "<!-- claims:end -->"


def claims_block(results: Path) -> str:
    """The report's "## Claims" section, headed by the arms and seeds it covers."""
    report = (results / "report.md").read_text().splitlines()
    head = next((ln for ln in report if ln.startswith("Directories:")), "")
    arms = re.search(r"Arms: ([^.]+)\.", head)
    seeds = re.search(r"Seeds: ([^.]+)\.", head)
    if "## Claims" not in report or not arms or not seeds:
        raise SystemExit(f"{results / 'report.md'}: no '## Claims' section or no 'Arms:'/'Seeds:' line")
    body = report[report.index("## Claims") + 1:]
    end = next((i for i, ln in enumerate(body) if ln.startswith("## ")), len(body))
    # The statistical method paragraph is long and lives in docs/results.md; README keeps the
    # table, the verdict rule and the perception-error shares.
    kept = [ln.replace("<think>", "`<think>`") for ln in body[:end] if not ln.startswith("Accuracy effects")]
    lines = [f"Arms finished: {arms.group(1)} (seeds {seeds.group(1)}; an arm may have fewer: "
             "see the seeds x items column).", *kept]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    results = Path(argv[0])
    readme = ROOT / "README.md"
    text = readme.read_text()
    m = START.search(text)
    if not m or END not in text[m.end():]:
        raise SystemExit("README.md: claims markers not found")
    end = text.index(END, m.end())
    marker = f"<!-- claims:start (copied from {results.as_posix()}/report.md) -->"
    readme.write_text(text[:m.start()] + marker + "\n" + claims_block(results) + "\n" + text[end:])
    print(f"README.md: claims copied from {results / 'report.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
