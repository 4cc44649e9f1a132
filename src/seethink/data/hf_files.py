"""Rows of Hugging Face releases kept as local files: `.parquet` files and `datasets`
`save_to_disk` folders (a `Dataset`, or one split of a `DatasetDict`).

Both the training-data loader (`seethink.data.loaders`) and the benchmark loaders
(`seethink.eval.benchmarks`) read releases through here. Rows come as plain Python values
straight from the Arrow data: image cells stay undecoded `{"bytes", "path"}` dicts, so an image
is never decoded and re-encoded on the way. Nothing is fetched from the hub and nothing is
written to a cache. Columns in `drop` (images, when only scoring) are not read at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seethink.errors import UserError

_BATCH_ROWS = 1024


def parquet_rows(path: Path, drop: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """The rows of one parquet file, in file order."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        columns = [c for c in pf.schema_arrow.names if c not in drop] if drop else None
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            yield from batch.to_pylist()
    except Exception as exc:  # pyarrow raises its own types for a damaged or foreign file
        raise UserError(f"{path}: cannot read as parquet ({type(exc).__name__}: {exc})") from None


def disk_rows(path: Path, split: str | None = None, drop: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """The rows of a `save_to_disk` folder. A `DatasetDict` gives its `split`; with none named,
    its `train` split, or its only one."""
    import datasets

    try:
        with _quiet(datasets):
            ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # FileNotFoundError, ValueError, ... from datasets
        raise UserError(f"{path}: cannot load with datasets.load_from_disk ({type(exc).__name__}: {exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds[_dict_split(list(ds.keys()), split, path)]
    if drop:
        ds = ds.select_columns([c for c in ds.column_names if c not in drop])
    try:
        for batch in ds.with_format("arrow").iter(batch_size=_BATCH_ROWS):
            yield from batch.to_pylist()
    except Exception as exc:  # arrow errors on a damaged data file
        raise UserError(f"{path}: cannot read it with datasets ({type(exc).__name__}: {exc})") from None


def _dict_split(names: list[str], split: str | None, path: Path) -> str:
    if split is None:
        if "train" in names:
            return "train"
        if len(names) == 1:
            return names[0]
        raise UserError(f"{path}: a DatasetDict with splits {names}; choose one with split=")
    if split not in names:
        raise UserError(f"{path}: no split {split!r}; it has {names}")
    return split


@contextmanager
def _quiet(datasets: Any) -> Iterator[None]:
    """No `datasets` progress bars while a folder loads (benchmark loading prints its own lines)."""
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            datasets.enable_progress_bars()
