"""Reading the local formats benchmarks are published in, for the loaders and scorers.

* HF releases: `.parquet` files (any depth under the data folder; `split-00000-of-00003.parquet`,
  `split.parquet` and `split/0000.parquet` names give the split) and `datasets` `save_to_disk`
  folders (a `Dataset` or a `DatasetDict`), read from local paths only by
  `seethink.data.hf_files` (shared with the training-data loader).
* VLMEvalKit `.tsv` files.
* Results files: JSONL (one row per item), a JSON list of rows, a JSON object id -> row, or the
  tables VLMEvalKit writes (`.xlsx`, its default, and `.tsv`), read as its `load` reads them with
  pandas (empty cells are NaN, numbers are numbers); `.xlsx` is parsed here without openpyxl.
* Images: HF image cells (`{"bytes", "path"}`) and base64 strings are checked with PIL and kept as
  encoded bytes (`image_bytes` in the items); `save_images` writes them to a folder.

Every row comes with a `where` label ("FILE: row N", rows counted from 1) for error messages.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import sys
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from seethink.data.hf_files import disk_rows, parquet_rows
from seethink.errors import UserError

from ._common import read_jsonl

Rows = list[tuple[str, dict]]

# Glob markers that identify a folder (or a single file) holding a HF-format release.
HF_MARKERS = (
    "*.parquet",
    "**/*.parquet",
    "dataset_dict.json",
    "state.json",
    "*/dataset_dict.json",
    "*/state.json",
)

_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}$")


@dataclass(frozen=True)
class Source:
    """One HF-format input: a parquet file or a `save_to_disk` Dataset folder."""

    path: Path
    kind: str  # "parquet" | "disk"


# ------------------------------------------------------------------ HF formats


def _parquet_split(path: Path) -> str:
    stem = path.stem
    m = _SHARD.match(stem)
    if m:
        return m.group("split")
    if stem.isdigit():  # e.g. lmms-lab/POPE Full/adversarial/0000.parquet
        return path.parent.name
    return stem


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable JSON file ({exc})") from exc


def hf_splits(root: Path) -> dict[str, list[Source]]:
    """Split name -> sources for the HF-format data at `root`: a `.parquet` file, or a folder
    holding parquet files (at any depth) and/or `save_to_disk` output. Empty when there is none."""
    groups: dict[str, list[Source]] = {}
    if root.is_file():
        if root.suffix == ".parquet":
            groups[_parquet_split(root)] = [Source(root, "parquet")]
        return groups
    if not root.is_dir():
        return groups
    for p in sorted(root.rglob("*.parquet")):
        if p.is_file():
            groups.setdefault(_parquet_split(p), []).append(Source(p, "parquet"))
    dict_dirs = set()
    for dd in sorted(root.rglob("dataset_dict.json")):
        dict_dirs.add(dd.parent)
        splits = _read_json_file(dd).get("splits")
        if not isinstance(splits, list):
            raise UserError(f"{dd}: expected a 'splits' list (a datasets save_to_disk folder)")
        for split in splits:
            groups.setdefault(str(split), []).append(Source(dd.parent / str(split), "disk"))
    for st in sorted(root.rglob("state.json")):
        folder = st.parent
        if folder.parent in dict_dirs or not (folder / "dataset_info.json").is_file():
            continue
        state = _read_json_file(st)
        split = state.get("_split") if isinstance(state, dict) else None
        groups.setdefault(str(split or folder.name), []).append(Source(folder, "disk"))
    return groups


def pick_split(
    groups: dict[str, list[Source]],
    split: str | None,
    name: str,
    root: Path,
    aliases: dict[str, str] | None = None,
) -> list[Source]:
    """The sources of `split` (through `aliases`, e.g. val -> validation); with no split asked
    for, or none of that name while the release has only one, that one."""
    if split is not None:
        for cand in (split, (aliases or {}).get(split)):
            if cand is not None and cand in groups:
                return groups[cand]
    if len(groups) == 1 and (split is None or split not in groups):
        return next(iter(groups.values()))
    known = ", ".join(sorted(groups)) or "none"
    raise UserError(f"{name}: {root} has HF data for splits {known}; pick one with split=...")


def read_hf(sources: Iterable[Source], drop: tuple[str, ...] = ()) -> Rows:
    """Rows of HF parquet files / save_to_disk folders (`seethink.data.hf_files`): plain Python
    values, image cells undecoded `{"bytes", "path"}` dicts. Columns in `drop` are not read."""
    rows: Rows = []
    for src in sources:
        read = parquet_rows(src.path, drop) if src.kind == "parquet" else disk_rows(src.path, drop=drop)
        rows.extend((f"{src.path}: row {i}", r) for i, r in enumerate(read, 1))
    return rows


# ------------------------------------------------------------------ TSV


def read_tsv(path: Path) -> Rows:
    """Rows of a VLMEvalKit TSV as str -> str dicts (empty cells are "")."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # base64 images are long cells
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            if not reader.fieldnames:
                raise UserError(f"{path}: empty TSV (no header row)")
            rows: Rows = []
            for n, row in enumerate(reader, 1):
                if None in row:
                    raise UserError(f"{path}: row {n}: more cells than header columns")
                rows.append((f"{path}: row {n}", {k: (v if v is not None else "") for k, v in row.items()}))
    except csv.Error as exc:
        raise UserError(f"{path}: not a valid TSV ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc})") from exc
    finally:
        csv.field_size_limit(old)
    return rows


# ------------------------------------------------------------------ results files


_ROW_KEYS = {"id", "index", "response", "prediction", "question_id", "text", "answer", "model_answer"}


_XL = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_XL_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def _xl_text(node: ElementTree.Element) -> str:
    """The text of a shared / inline string as openpyxl gives it: its own `<t>`, then the `<t>`
    of each rich-text run (`<r>`); phonetic runs (`rPh`) are left out."""
    plain = node.find(f"{_XL}t")
    parts = [plain.text or ""] if plain is not None else []
    parts += [r.findtext(f"{_XL}t") or "" for r in node.findall(f"{_XL}r")]
    return "".join(parts)


def _xl_number(text: str) -> int | float:
    """A numeric cell as openpyxl reads it and pandas' reader converts it (integral -> int)."""
    value = float(text) if any(c in text for c in ".eE") else int(text)
    as_int = int(value) if value == value and value not in (float("inf"), float("-inf")) else None
    return as_int if as_int is not None and as_int == value else float(value)


def _xlsx_table(path: Path) -> list[list[Any]]:
    """The first sheet of an `.xlsx` file as pandas' openpyxl reader hands it to its parser: rows
    of cell values ("" for an empty cell, int / float for numbers, NaN for error cells), trailing
    empty cells and rows trimmed, rows padded to the widest."""
    sheet, shared = _xlsx_sheet(path)
    data: list[list[Any]] = []
    for row in sheet.iter(f"{_XL}row"):
        r_attr = row.get("r")
        number = int(r_attr) if r_attr and r_attr.isdigit() else len(data) + 1
        while len(data) < number - 1:
            data.append([])
        data.append(_xl_row(row, shared, path))
    while data and not data[-1]:
        data.pop()
    width = max((len(r) for r in data), default=0)
    return [r + [""] * (width - len(r)) for r in data]


def _xlsx_sheet(path: Path) -> tuple[ElementTree.Element, list[str]]:
    """(first worksheet, shared strings) of an `.xlsx` file."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            shared: list[str] = []
            if "xl/sharedStrings.xml" in names:
                root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
                # openpyxl drops the `_x005F_` escape of a literal "_" in shared strings
                shared = [_xl_text(si).replace("x005F_", "") for si in root.iter(f"{_XL}si")]
            sheet = ElementTree.fromstring(zf.read(_first_sheet_name(zf, names)))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, zlib.error, EOFError) as exc:
        raise UserError(f"{path}: not a readable .xlsx file ({exc})") from exc
    return sheet, shared


def _first_sheet_name(zf: zipfile.ZipFile, names: set[str]) -> str:
    """The archive member of the workbook's first sheet (through the workbook's relationships)."""
    book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    first = book.find(f"{_XL}sheets/{_XL}sheet")
    target = "worksheets/sheet1.xml"
    if first is not None and "xl/_rels/workbook.xml.rels" in names:
        rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        for rel in rels.iter(_PKG_REL):
            if rel.get("Id") == first.get(_XL_REL):
                target = rel.get("Target") or target
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _xl_row(row: ElementTree.Element, shared: list[str], path: Path) -> list[Any]:
    """The values of one sheet row, each cell at its column (a gap is empty cells), trailing
    empty cells trimmed."""
    cells: list[Any] = []
    for c in row.iter(f"{_XL}c"):
        ref = _CELL_REF.match(c.get("r") or "")
        if ref:
            col = 0
            for ch in ref.group(1):
                col = col * 26 + ord(ch) - 64
            while len(cells) < col - 1:
                cells.append("")
        cells.append(_xl_value(c, shared, path))
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _xl_value(c: ElementTree.Element, shared: list[str], path: Path) -> Any:
    """One cell's value by its type (`t`): inline / shared string, bool, error (NaN), text, number."""
    kind, v = c.get("t", "n"), c.findtext(f"{_XL}v")
    try:
        if kind == "inlineStr":
            node = c.find(f"{_XL}is")
            return _xl_text(node) if node is not None else ""
        if v is None:
            return ""
        if kind == "s":
            return shared[int(v)]
        if kind == "b":
            return bool(int(v))
        if kind == "e":
            return float("nan")
        if kind in ("str", "d"):
            return v
        return _xl_number(v)
    except (ValueError, IndexError) as exc:
        raise UserError(f"{path}: cell {c.get('r')}: unreadable value {v!r} ({exc})") from exc


def _frame_rows(frame: Any, path: Path) -> Rows:
    """Rows of a pandas DataFrame as plain Python values (NaN stays float NaN, as pandas has it)."""
    out: Rows = []
    for i, rec in enumerate(frame.to_dict("records"), 1):
        row = {str(k): (v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v)
               for k, v in rec.items()}
        out.append((f"{path}: row {i}", row))
    return out


def read_table(path: Path) -> Rows:
    """Rows of a VLMEvalKit predictions table, read as VLMEvalKit's `load` reads it:
    `pd.read_excel(path)` for `.xlsx`, `pd.read_csv(path, sep="\t")` for `.tsv`."""
    import pandas as pd
    from pandas.io.parsers import TextParser

    try:
        if path.suffix == ".xlsx":
            table = _xlsx_table(path)
            if not table:
                raise UserError(f"{path}: empty spreadsheet (no header row)")
            frame = TextParser(table, header=0, skip_blank_lines=False).read()
        else:
            frame = pd.read_csv(path, sep="\t")
    except UserError:
        raise
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path}: not a readable {path.suffix} table ({type(exc).__name__}: {exc})") from exc
    if len(set(map(str, frame.columns))) != len(frame.columns):
        raise UserError(f"{path}: repeated column names in the header row")
    return _frame_rows(frame, path)


def read_results(path: Path) -> Rows:
    """Rows of a results file: JSONL, a JSON list of row objects, a JSON object id -> row
    (id -> string is taken as id -> response), or a VLMEvalKit `.xlsx` / `.tsv` table."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.suffix in (".xlsx", ".tsv"):
        return read_table(path)
    data = None  # JSONL (POPE's official answer files are JSONL named .json)
    if path.suffix != ".jsonl":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            pass
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text ({exc})") from exc
        except RecursionError:
            raise UserError(f"{path}: JSON nested too deeply to read") from None
    if isinstance(data, dict) and _ROW_KEYS & set(data):
        data = None  # a one-line JSONL file
    if isinstance(data, list):
        out: Rows = []
        for i, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise UserError(f"{path}: row {i}: expected a JSON object, got {type(row).__name__}")
            out.append((f"{path}: row {i}", row))
        return out
    if isinstance(data, dict) and data and all(isinstance(v, (dict, str)) for v in data.values()):
        return [
            (f"{path}: row {key}", {"id": key, **v} if isinstance(v, dict) else {"id": key, "response": v})
            for key, v in data.items()
        ]
    return [(f"{path}: row {i}", row) for i, row in enumerate(read_jsonl(path), 1)]


def row_id(row: dict, where: str, keys: tuple[str, ...] = ("id", "index")) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and value != "":
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise UserError(
                    f"{where}: field {key!r} should be a string or an integer, got {type(value).__name__}"
                )
            return str(value)
    raise UserError(f"{where}: missing field {keys[0]!r}" + (f" (or {keys[1]!r})" if len(keys) > 1 else ""))


def text_field(row: dict, where: str, keys: tuple[str, ...] = ("prediction", "response")) -> tuple[str, str]:
    """(key, text) of the first of `keys` present in the row; its value must be a string."""
    for key in keys:
        if key in row and row[key] is not None:
            value = row[key]
            if not isinstance(value, str):
                raise UserError(f"{where}: field {key!r} should be str, got {type(value).__name__}")
            return key, value
    main = "response" if "response" in keys else keys[0]
    others = ", ".join(repr(k) for k in keys if k != main)
    raise UserError(f"{where}: missing field {main!r}" + (f" (or {others})" if others else ""))


def table_text(row: dict, where: str, keys: tuple[str, ...] = ("prediction", "response")) -> tuple[str, str]:
    """Like `text_field`, for rows of the tables VLMEvalKit writes: an empty cell (NaN / null) is
    empty text and a number is its `str()`; other non-strings raise UserError."""
    for key in keys:
        if key in row:
            value = row[key]
            if value is None or (isinstance(value, float) and value != value):
                return key, ""
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return key, str(value)
            if not isinstance(value, str):
                raise UserError(f"{where}: field {key!r} should be str, got {type(value).__name__}")
            return key, value
    return text_field(row, where, keys)


def match_results(
    rows: Rows, gold: dict[str, dict], gold_desc: str, ids: Any = None
) -> list[tuple[str, dict, dict]]:
    """(where, row, gold item) per results row; unknown and repeated ids raise UserError.
    `ids(row, where)` maps a row to the id of its item (default: `id`, else `index`)."""
    seen: dict[str, str] = {}
    out = []
    for where, row in rows:
        key = ids(row, where) if ids is not None else row_id(row, where)
        if key not in gold:
            raise UserError(f"{where}: field 'id': {key!r} is not an item of {gold_desc}")
        if key in seen:
            raise UserError(f"{where}: id {key!r} appears twice (first at {seen[key]})")
        seen[key] = where
        out.append((where, row, gold[key]))
    return out


# ------------------------------------------------------------------ images


def check_image(data: bytes, where: str, field: str) -> bytes:
    """The bytes, after PIL has checked that they are an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{where}: field {field!r} is not a readable image ({exc})") from exc
    return data


def decode_base64_image(value: str, where: str, field: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise UserError(f"{where}: field {field!r} is not base64 ({exc})") from exc
    return check_image(data, where, field)


def image_cells(value: Any, root: Path, where: str, field: str) -> tuple[list[str], list[bytes]]:
    """(paths, encoded bytes) of a HF image cell, a list of them, or a path string relative to
    `root`; missing files are skipped (releases without images)."""
    paths: list[str] = []
    blobs: list[bytes] = []
    cells = value if isinstance(value, list) else [value]
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, dict):
            data, ref = cell.get("bytes"), cell.get("path")
            if data:
                blobs.append(check_image(bytes(data), where, field))
                continue
        elif isinstance(cell, str):
            ref = cell
        else:
            raise UserError(f"{where}: field {field!r} should be an image, got {type(cell).__name__}")
        if ref:
            p = Path(ref) if Path(ref).is_absolute() else root / ref
            if p.is_file():
                paths.append(str(p.resolve()))
    return paths, blobs


def image_format(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        fmt = (im.format or "png").lower()
    return {"jpeg": "jpg"}.get(fmt, fmt)


def save_images(items: list[dict], folder: str | Path) -> list[dict]:
    """Write each item's `image_bytes` to `folder` as `<id>_<k>.<ext>` and append the paths to its
    `images` (a file already there with the same size is reused). Returns the items."""
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    for item in items:
        blobs = item.get("image_bytes") or []
        if not blobs:
            continue
        stem = re.sub(r"[^\w.-]", "_", str(item["id"]))
        paths = list(item.get("images") or [])
        for k, data in enumerate(blobs):
            p = out / f"{stem}_{k}.{image_format(data)}"
            if not (p.is_file() and p.stat().st_size == len(data)):
                p.write_bytes(data)
            if str(p.resolve()) not in paths:
                paths.append(str(p.resolve()))
        item["images"] = paths
    return items
