"""Loading a user's own training data into seethink items.

Supported inputs (`fmt`, guessed from the path when not given):

- ``jsonl``: one JSON object per line (seethink's own files included);
- ``json``: one JSON list of objects;
- ``parquet``: a parquet file (image columns as paths, raw bytes or ``{"bytes", "path"}``);
- ``hf``: a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``);
- ``easyr1``: EasyR1 / verl JSONL: ``prompt`` (with one ``<image>`` placeholder per image),
  ``answer``, ``images``;
- the paper's reasoning data in their published layouts (``orz_math``, ``clevr_math``,
  ``geoqa170k``, ``mathpuma``, ``arxivqa``): see `seethink.data.reasoning_sets`.

Columns are found by common names (``question``/``problem``/``prompt``, ``answer``,
``images``/``image``, ``options``/``choices``, ``capability``, ``id``) or named with a
mapping (``{"question": "my_col"}``). Every row becomes an item dict as the toy world
writes them (``id``, ``task``, ``capability``, ``question``, ``options``, ``answer``,
``images``); image paths in the returned items are absolute, and images stored inline
(bytes) are written once, named by content hash, into ``image_dir``.

Bad rows raise ``UserError`` naming file, row and field, or with ``skip_bad_rows`` are
skipped and counted. Duplicates (same question text and same images) and items that
appear in a given evaluation set are removed; `stats` reports every count.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from seethink.data.hf_files import disk_rows, parquet_rows
from seethink.data.reasoning_sets import normalize_row, reasoning_format
from seethink.data.row_fields import LETTERS, RowError, plain
from seethink.errors import UserError

FORMATS = ("jsonl", "json", "parquet", "hf", "easyr1")
# The paper's reasoning data (seethink.data.reasoning_sets): published row layouts, any container.
REASONING_FORMATS = ("orz_math", "clevr_math", "geoqa170k", "mathpuma", "arxivqa")
FIELDS = ("id", "question", "answer", "images", "options", "capability")
# Column names tried, in order, when the mapping does not name one.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "pid", "qid", "idx", "uid"),
    "question": ("question", "problem", "prompt", "query"),
    "answer": ("answer", "ground_truth", "gt_answer", "label"),
    "images": ("images", "image", "image_path", "image_paths", "decoded_image"),
    "options": ("options", "choices"),
    "capability": ("capability",),
}
# seethink fields carried over unchanged when a row has them.
PASSTHROUGH = ("task", "caption", "facts", "subquestions", "solution", "prompt_template",
               "pass_rate", "predictions", "correctness")
IMAGE_TOKEN = "<image>"
MAX_REASONS = 5


@dataclass
class LoadedImage:
    """An image of a row: a file on disk or inline bytes, with its pixel-content hash."""

    digest: str
    path: Path | None = None
    data: bytes | None = None
    ext: str = "png"


@dataclass
class LoadResult:
    items: list[dict]
    stats: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- hashing and keys


def pixel_hash(im: Image.Image) -> str:
    """Content hash of the decoded pixels: the same picture hashes the same in any file format."""
    rgb = im.convert("RGB")
    h = hashlib.sha1(f"{rgb.width}x{rgb.height}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()[:16]


def normalize_question(text: str) -> str:
    """Lower case, image placeholders removed, whitespace collapsed, outer punctuation stripped."""
    text = text.replace(IMAGE_TOKEN, " ").lower()
    return re.sub(r"\s+", " ", text).strip(" .?!:;,")


def item_image_hashes(item: dict, base_dir: str | Path | None = None) -> list[str]:
    """Pixel hashes of an item's images: its files, or its rendered toy scene."""
    from seethink.data.images import item_images

    return [pixel_hash(im) for im in item_images(item, base_dir)]


def item_key(item: dict, hashes: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """Deduplication key: exact question text (stripped) and the image hashes in order."""
    return item["question"].strip(), tuple(hashes)


# ---------------------------------------------------------------- reading raw rows


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file() or (
            path / "dataset_info.json"
        ).is_file():
            return "hf"
        raise UserError(f"{path}: a folder, but not one written by datasets' save_to_disk "
                        "(no state.json / dataset_dict.json); give a file or --format")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise UserError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                    f"pass a format ({', '.join(FORMATS)})")


def _iter_jsonl_rows(path: Path, bad: list[str] | None) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"{path}, row {lineno}: not valid JSON ({exc.msg})"
                if bad is None:
                    raise UserError(msg) from None
                bad.append(msg)


def _iter_json_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:  # {"data": [...]} style
            data = lists[0]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    yield from enumerate(data, 1)


def iter_raw_rows(path: Path, fmt: str, split: str | None = None,
                  bad: list[str] | None = None) -> Iterator[tuple[int, Any]]:
    if fmt in ("jsonl", "easyr1"):
        return _iter_jsonl_rows(path, bad)
    if fmt == "json":
        return _iter_json_rows(path)
    if fmt == "parquet":
        return enumerate(parquet_rows(path), 1)
    if fmt == "hf":
        return enumerate(disk_rows(path, split), 1)
    raise UserError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


# ---------------------------------------------------------------- one row -> one item


def _column(row: dict, name: str, mapping: dict[str, str]) -> tuple[str | None, Any]:
    if name in mapping:
        col = mapping[name]
        if col not in row:
            raise RowError(name, f"mapped column {col!r} is not in the row (columns: {', '.join(map(str, row))})")
        return col, row[col]
    for col in DEFAULT_COLUMNS[name]:
        if col in row:
            return col, row[col]
    return None, None


def _open_image(source: Path | bytes, what: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            im.load()
            fmt = (im.format or "png").lower()
            out = im.convert("RGB")
            out.info["seethink_format"] = fmt
            return out
    except FileNotFoundError:
        raise RowError("images", f"image not found: {what}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RowError("images", f"unreadable image {what}: {exc}") from None


def _resolve_path(value: str, base_dirs: list[Path]) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    for base in base_dirs:
        if (base / p).exists():
            return (base / p).resolve()
    return (base_dirs[0] / p).resolve() if base_dirs else p.resolve()


def _load_image(value: Any, base_dirs: list[Path]) -> LoadedImage:
    if isinstance(value, dict):
        if value.get("bytes"):
            value = value["bytes"]
        elif value.get("path"):
            value = value["path"]
        else:
            raise RowError("images", "image dict has neither 'bytes' nor 'path'")
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if isinstance(value, bytes):
        im = _open_image(value, f"(inline, {len(value)} bytes)")
        ext = {"jpeg": "jpg"}.get(im.info["seethink_format"], im.info["seethink_format"])
        return LoadedImage(pixel_hash(im), data=value, ext=ext)
    if isinstance(value, str):
        if not value.strip():
            raise RowError("images", "empty image path")
        path = _resolve_path(value, base_dirs)
        im = _open_image(path, str(path))
        return LoadedImage(pixel_hash(im), path=path)
    if isinstance(value, Image.Image):
        buf = io.BytesIO()
        value.convert("RGB").save(buf, format="PNG")
        return LoadedImage(pixel_hash(value), data=buf.getvalue(), ext="png")
    raise RowError("images", f"expected an image path, bytes or {{'bytes', 'path'}}, got {type(value).__name__}")


def _as_text(value: Any, name: str, required: bool = True) -> str:
    value = plain(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(name, "missing" if value is None else "empty")
        return ""
    if isinstance(value, bool):
        raise RowError(name, f"expected text or a number, got bool ({value})")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise RowError(name, f"expected text or a number, got {type(value).__name__}")


def _options(value: Any) -> list[str]:
    value = plain(value)
    if value is None:
        return []
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowError("options", "expected a list of options, got text that is not a JSON list") from None
    if not isinstance(value, (list, tuple)):
        raise RowError("options", f"expected a list of options, got {type(value).__name__}")
    out = []
    for k, opt in enumerate(value):
        if isinstance(opt, bool) or not isinstance(opt, (str, int, float)):
            raise RowError("options", f"option {k + 1} is a {type(opt).__name__}, expected text")
        out.append(str(opt))
    if len(out) > len(LETTERS):
        raise RowError("options", f"{len(out)} options; at most {len(LETTERS)} are supported")
    return out


def _mc_answer(answer: str, options: list[str]) -> str:
    """Multiple-choice answers as letters: 'b', '(B)' or the option's own text -> 'B'."""
    a = answer.strip()
    m = re.fullmatch(r"\(?\s*([A-Za-z])\s*\)?\.?", a)
    if m and ord(m.group(1).upper()) - ord("A") < len(options):
        return m.group(1).upper()
    for i, opt in enumerate(options):
        if a.lower() == opt.strip().lower():
            return LETTERS[i]
    raise RowError("answer", f"{answer!r} is neither an option letter (A-{LETTERS[len(options) - 1]}) "
                             "nor the text of an option")


def _images_value(value: Any) -> list[Any]:
    value = plain(value)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def parse_row(row: Any, *, fmt: str, mapping: dict[str, str], base_dirs: list[Path],
              capability: str | None) -> tuple[dict, list[LoadedImage]]:
    """One raw row -> (item without final image paths, its images). Raises RowError."""
    if fmt in REASONING_FORMATS:  # a published row -> the generic row read below
        row, fmt, mapping = normalize_row(fmt, row), "jsonl", {}
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    if fmt == "easyr1":
        # EasyR1's default keys where the row has them: a text-only set (e.g. math12k) has no
        # `images` column, and sets read with `data.prompt_key=problem` have no `prompt`.
        easyr1_keys = {"question": "prompt", "answer": "answer", "images": "images"}
        mapping = {**{k: v for k, v in easyr1_keys.items() if v in row}, **mapping}
    q_col, q = _column(row, "question", mapping)
    if q_col is None:
        raise RowError("question", f"no question column (tried {', '.join(DEFAULT_COLUMNS['question'])}; "
                                   "name yours with a mapping question=COLUMN)")
    question = _as_text(q, "question")
    a_col, a = _column(row, "answer", mapping)
    answer = _as_text(a, "answer")
    _, opts = _column(row, "options", mapping)
    options = _options(opts)
    if options:
        answer = _mc_answer(answer, options)
    _, imgs = _column(row, "images", mapping)
    images = [_load_image(v, base_dirs) for v in _images_value(imgs)]
    n_tokens = question.count(IMAGE_TOKEN)
    if n_tokens and n_tokens != len(images):
        raise RowError("images", f"the question has {n_tokens} {IMAGE_TOKEN} placeholder(s) "
                                 f"but the row has {len(images)} image(s)")
    question = re.sub(r"[ \t]*<image>[ \t]*\n?", " ", question).strip() if n_tokens else question.strip()
    if not question:
        raise RowError("question", "empty once image placeholders are removed")
    _, cap = _column(row, "capability", mapping)
    cap_text = _as_text(cap, "capability", required=False) or capability or "unknown"
    _, rid = _column(row, "id", mapping)
    rid_text = _as_text(rid, "id", required=False)
    item: dict[str, Any] = {
        "id": rid_text,
        "task": str(row.get("task") or f"user_{cap_text}"),
        "capability": cap_text,
        "question": question,
        "options": options,
        "answer": answer.strip(),
        "images": [],
    }
    for k in PASSTHROUGH:
        if k in row and k not in item and row[k] is not None:
            item[k] = plain(row[k])
    return item, images


# ---------------------------------------------------------------- the loader


def parse_mapping(pairs: Iterable[str] | dict[str, str] | None) -> dict[str, str]:
    """`["question=problem", "images=img"]` (or a dict) -> {"question": "problem", ...}, checked."""
    if pairs is None:
        return {}
    parsed: list[tuple[str, str]] = []
    if isinstance(pairs, dict):
        parsed = [(str(k), str(v)) for k, v in pairs.items()]
    else:
        for p in pairs:
            if "=" not in p:
                raise UserError(f"column mapping {p!r}: expected FIELD=COLUMN, e.g. question=problem")
            k, v = p.split("=", 1)
            parsed.append((k.strip(), v.strip()))
    out: dict[str, str] = {}
    for k, v in parsed:
        if k not in FIELDS:
            raise UserError(f"column mapping: unknown field {k!r}; choose from {', '.join(FIELDS)}")
        if not v:
            raise UserError(f"column mapping: empty column name for {k!r}")
        out[k] = v
    return out


def _stable_id(prefix: str, item: dict, hashes: list[str]) -> str:
    key = item["question"] + "|" + "|".join(hashes) + "|" + item["answer"]
    return f"{prefix}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _where(path: Path, rowno: int, field_name: str) -> str:
    return f"{path}, row {rowno}, field '{field_name}'"


def load_items(
    path: str | Path,
    *,
    fmt: str | None = None,
    mapping: Iterable[str] | dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    capability: str | None = None,
    image_dir: str | Path | None = None,
    image_root: str | Path | None = None,
    split: str | None = None,
    dedup: bool = True,
    eval_items: list[dict] | None = None,
    eval_base_dir: str | Path | None = None,
    decontam: str = "both",
    id_prefix: str | None = None,
) -> LoadResult:
    """Read a dataset into seethink items (absolute image paths) plus a stats dict.

    `image_root`: folder relative image paths are resolved against (default: the file's
    folder, then the working directory). `image_dir`: where inline image bytes are
    written (default: a fresh temporary folder). `decontam`: "both" drops items whose
    normalised question and image hashes both match an evaluation item; "either" drops
    on a question match or any shared image.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path}: file not found")
    fmt, container, capability = _formats(path, fmt, mapping, capability)
    if decontam not in ("both", "either"):
        raise UserError(f"decontam must be 'both' or 'either', got {decontam!r}")
    cols = parse_mapping(mapping)
    base = path if path.is_dir() else path.parent
    base_dirs = [Path(image_root).expanduser()] if image_root else [base, Path.cwd()]
    prefix = id_prefix or (path.stem if path.is_file() else path.name)

    reader = _RowReader(path, fmt, cols, base_dirs, capability, skip_bad_rows)
    parsed = reader.read(container, split)
    kept, n_dup, n_contam = _keep(parsed, dedup=dedup, eval_items=eval_items or [], eval_base_dir=eval_base_dir,
                                  decontam=decontam, prefix=prefix)
    items = _place_images(kept, Path(image_dir).expanduser() if image_dir else None)
    stats: dict[str, Any] = {
        "input": str(path),
        "format": fmt,
        "rows": reader.rows_read,
        "bad_rows": len(reader.bad),
        "bad_row_examples": reader.bad[:MAX_REASONS],
        "duplicates": n_dup,
        "contaminated": n_contam,
        "items": len(items),
        "with_images": sum(1 for it in items if it["images"]),
    }
    return LoadResult(items, stats)


def _formats(path: Path, fmt: str | None, mapping: Iterable[str] | dict[str, str] | None,
             capability: str | None) -> tuple[str, str, str | None]:
    """(row format, container format, capability): a reasoning format reads its published rows
    from whatever container the path is, and brings its own capability."""
    fmt = fmt or detect_format(path)
    if fmt in FORMATS:
        return fmt, fmt, capability
    spec = reasoning_format(fmt)
    if spec is None:
        raise UserError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS + REASONING_FORMATS)}")
    if mapping:
        raise UserError(f"--map does not apply to --format {spec.name}: its columns are the published ones")
    return spec.name, detect_format(path), capability or spec.capability


class _RowReader:
    """Parses the raw rows of one file; bad rows raise UserError, or with `skip` are counted in
    `bad` (file, row and reason) and left out."""

    def __init__(self, path: Path, fmt: str, mapping: dict[str, str], base_dirs: list[Path],
                 capability: str | None, skip: bool) -> None:
        self.path, self.fmt, self.mapping, self.base_dirs = path, fmt, mapping, base_dirs
        self.capability, self.skip = capability, skip
        self.bad: list[str] = []
        self.rows_read = 0

    def read(self, container: str, split: str | None) -> list[tuple[dict, list[LoadedImage]]]:
        bad_json: list[str] = []
        parsed: list[tuple[dict, list[LoadedImage]]] = []
        for rowno, row in iter_raw_rows(self.path, container, split, bad_json if self.skip else None):
            if bad_json:  # malformed lines come first, in file order
                self._count_bad_json(bad_json)
            self.rows_read += 1
            one = self._parse(rowno, row)
            if one is not None:
                parsed.append(one)
        self._count_bad_json(bad_json)
        return parsed

    def _count_bad_json(self, bad_json: list[str]) -> None:
        self.bad += bad_json
        self.rows_read += len(bad_json)
        bad_json.clear()

    def _parse(self, rowno: int, row: Any) -> tuple[dict, list[LoadedImage]] | None:
        try:
            item, imgs = parse_row(row, fmt=self.fmt, mapping=self.mapping, base_dirs=self.base_dirs,
                                   capability=self.capability)
        except RowError as exc:
            msg = f"{_where(self.path, rowno, exc.field)}: {exc.problem}"
            if not self.skip:
                raise UserError(msg) from None
            self.bad.append(msg)
            return None
        item["_row"] = rowno
        return item, imgs


def _keep(parsed: list[tuple[dict, list[LoadedImage]]], *, dedup: bool, eval_items: list[dict],
          eval_base_dir: str | Path | None, decontam: str, prefix: str
          ) -> tuple[list[tuple[dict, list[LoadedImage]]], int, int]:
    """(kept items with their images, duplicates dropped, contaminated dropped); kept items get
    unique ids (their own, else a stable hash of question, images and answer)."""
    eval_q, eval_keys, eval_imgs = _eval_index(eval_items, eval_base_dir)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    ids: set[str] = set()
    kept: list[tuple[dict, list[LoadedImage]]] = []
    n_dup = n_contam = 0
    for item, imgs in parsed:
        hashes = [im.digest for im in imgs]
        if not imgs and (item.get("facts") or {}).get("objects"):
            hashes = item_image_hashes(item)  # a toy item whose image is rendered from its scene
        key = item_key(item, hashes)
        if dedup:
            if key in seen:
                n_dup += 1
                continue
            seen.add(key)
        if eval_items:
            nq, hs = normalize_question(item["question"]), tuple(hashes)
            hit = (nq, hs) in eval_keys if decontam == "both" else nq in eval_q or any(h in eval_imgs for h in hs)
            if hit:
                n_contam += 1
                continue
        rid = item["id"] or _stable_id(prefix, item, hashes)
        if rid in ids:
            rid = f"{rid}-r{item['_row']}"
        ids.add(rid)
        item["id"] = rid
        kept.append((item, imgs))
    return kept, n_dup, n_contam


def _place_images(kept: list[tuple[dict, list[LoadedImage]]], out_dir: Path | None) -> list[dict]:
    """The items with absolute image paths: files stay where they are, inline bytes are written
    once (named by content hash) to `out_dir`, a fresh temporary folder when None."""
    items = []
    for item, imgs in kept:
        paths = []
        for im in imgs:
            if im.path is not None:
                paths.append(str(im.path))
                continue
            if out_dir is None:
                out_dir = Path(tempfile.mkdtemp(prefix="seethink-images-"))
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{im.digest}.{im.ext}"
            if not target.exists():
                target.write_bytes(im.data or b"")
            paths.append(str(target.resolve()))
        item["images"] = paths
        item.pop("_row", None)
        items.append(item)
    return items


def _eval_index(eval_items: list[dict], base_dir: str | Path | None
                ) -> tuple[set[str], set[tuple[str, tuple[str, ...]]], set[str]]:
    questions: set[str] = set()
    keys: set[tuple[str, tuple[str, ...]]] = set()
    images: set[str] = set()
    for it in eval_items:
        hs = tuple(item_image_hashes(it, base_dir))
        nq = normalize_question(str(it.get("question", "")))
        questions.add(nq)
        keys.add((nq, hs))
        images.update(hs)
    return questions, keys, images


def load_eval_items(path: str | Path, fmt: str | None = None,
                    mapping: Iterable[str] | dict[str, str] | None = None) -> list[dict]:
    """Evaluation items to decontaminate against (any supported format; bad rows skipped)."""
    return load_items(path, fmt=fmt, mapping=mapping, skip_bad_rows=True, dedup=False).items


# ---------------------------------------------------------------- writing


def rebase_images(item: dict, src_dir: str | Path, dst_dir: str | Path) -> dict:
    """A copy of `item` whose image paths (relative to src_dir, or absolute) are relative to dst_dir."""
    paths = item.get("images") or []
    if not paths:
        return dict(item)
    src, dst = Path(src_dir).resolve(), Path(dst_dir).resolve()
    out = dict(item)
    out["images"] = [os.path.relpath(Path(p) if Path(p).is_absolute() else src / p, dst) for p in paths]
    return out


def write_items_jsonl(items: list[dict], out: str | Path, src_dir: str | Path | None = None) -> Path:
    """Write items as seethink JSONL with image paths relative to the output file."""
    from seethink.utils import write_jsonl

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    src = Path(src_dir) if src_dir else Path.cwd()
    write_jsonl(out, [rebase_images(it, src, out.parent) for it in items])
    return out


def convert(input_path: str | Path, out: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Load (validate, dedup, decontaminate) and write seethink JSONL; inline images go to OUT_STEM_images/."""
    out = Path(out)
    kwargs.setdefault("image_dir", out.parent / f"{out.stem}_images")
    res = load_items(input_path, **kwargs)
    write_items_jsonl(res.items, out)
    res.stats["output"] = str(out)
    return res.stats


def format_stats(stats: dict[str, Any]) -> str:
    """A few human lines: counts, then the first reasons rows were skipped."""
    line = (f"{stats['items']} items from {stats['rows']} rows ({stats['format']}): "
            f"{stats['bad_rows']} bad rows skipped, {stats['duplicates']} duplicates, "
            f"{stats['contaminated']} contaminated removed")
    lines = [line] + [f"  skipped: {r}" for r in stats.get("bad_row_examples", [])]
    return "\n".join(lines)
