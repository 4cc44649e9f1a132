"""What every reader of published data rows shares: the error for one bad field of one row, the
option letters, and plain Python values out of parquet / `datasets` cells."""

from __future__ import annotations

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
