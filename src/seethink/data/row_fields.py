"""What every reader of data rows shares: the error for one bad field of one row, the option
letters, plain Python values out of parquet / `datasets` cells, and seethink's own item files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RowError(Exception):
    """One bad field of one row; becomes a UserError (or a skip) with file and row added."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(problem)
        self.field = field_name
        self.problem = problem


def plain(value: Any) -> Any:
    """numpy arrays / scalars (from parquet or datasets) as plain Python values."""
    if hasattr(value, "tolist") and not isinstance(value, (bytes, bytearray)):
        return value.tolist()
    return value


def read_item_file(path: str | Path, what: str, required: tuple[str, ...]) -> list[dict]:
    """The rows of a seethink item file (JSONL): each with the `required` fields, image paths made
    absolute (they are relative to the file). A missing file, an empty one or a row without a
    required field is a UserError naming `what` the file is for, the file, row and field."""
    from seethink.errors import UserError
    from seethink.utils import read_jsonl

    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"{what} not found: {path}")
    rows = read_jsonl(p)
    if not rows:
        raise UserError(f"{what} {p} holds no items")
    for n, row in enumerate(rows, 1):
        for key in required:
            if key not in row or row[key] in (None, ""):
                raise UserError(f"{p}, row {n}, field '{key}': missing")
        row["images"] = [str((p.parent / im).resolve()) for im in row.get("images") or []]
    return rows
