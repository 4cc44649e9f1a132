"""The report pages of a study or a sweep, from one list of blocks: EXP/report.md (plots beside
it, under plots/) and EXP/report.html (one self-contained file), so both say the same thing."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from seethink.utils import atomic_write_text

Block = tuple[Any, ...]  # ("h", text) | ("p", text) | ("table", header, rows) | ("img", name, png)


def render_markdown(blocks: list[Block], plot_dir: Path, rel: str) -> str:
    lines: list[str] = []
    for b in blocks:
        if b[0] == "title":
            lines += [f"# {b[1]}", ""]
        elif b[0] == "h":
            lines += [f"## {b[1]}", ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "table":
            lines += ["| " + " | ".join(b[1]) + " |", "|" + "---|" * len(b[1])]
            lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in b[2]]
            lines.append("")
        elif b[0] == "img":
            plot_dir.mkdir(parents=True, exist_ok=True)
            (plot_dir / f"{b[1]}.png").write_bytes(b[2])
            lines += [f"![{b[1]}]({rel}/{b[1]}.png)", ""]
    return "\n".join(lines)


_CSS = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px}"
        "th{background:#f0f0f0}img{max-width:100%}p{line-height:1.4}")


def render_html(blocks: list[Block]) -> str:
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>seethink experiment</title>",
             f"<style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b[0] == "title":
            parts.append(f"<h1>{html.escape(b[1])}</h1>")
        elif b[0] == "h":
            parts.append(f"<h2>{html.escape(b[1])}</h2>")
        elif b[0] == "p":
            parts.append(f"<p>{html.escape(b[1])}</p>")
        elif b[0] == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in b[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif b[0] == "img":
            data = base64.b64encode(b[2]).decode("ascii")
            parts.append(f"<img alt='{html.escape(b[1])}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_pages(blocks: list[Block], dest: Path) -> list[Path]:
    """DEST/report.md (its plots in DEST/plots) and DEST/report.html."""
    md, page = dest / "report.md", dest / "report.html"
    atomic_write_text(md, render_markdown(blocks, dest / "plots", "plots"))
    atomic_write_text(page, render_html(blocks))
    return [md, page]
