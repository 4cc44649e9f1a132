"""Image-caption data (DOCCI, PixMo-Cap, generic) -> seethink caption items, for caption SFT.

The caption-SFT ablation teaches perception by supervised captions instead of RL: a stage
with `trainer.kind: sft` trains on each item's `solution` as the assistant's answer, and a
caption item's solution is its caption, plain (no `<think>`, no `\\boxed{}`), asked with the
`caption` prompt template ("Describe the image.").

Accepted rows (JSONL, any suffix; or a `.json` list), one image and one caption each:

- DOCCI: ``{"example_id": ..., "split": "train", "image_file": "train_00001.jpg", "description": "..."}``;
- PixMo-Cap and generic: ``{"image": "imgs/1.jpg", "caption": "..."}`` (the image also as
  ``image_path``, the caption also as ``text``).

Relative image paths are resolved against `image_root`, else the input file's folder, then
the working directory. PixMo-Cap ships image URLs only (``image_url``): download the images
first and give their local paths. A bad row stops the conversion with a `UserError` naming
file, row and field; repeated rows (same image, same caption) are dropped and counted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from seethink.data.images import check_image_file
from seethink.data.loaders import _iter_json_rows, _iter_jsonl_rows, _resolve_path, write_items_jsonl
from seethink.data.prompts import CAPTION_QUESTION, CAPTION_TEMPLATE
from seethink.errors import UserError

# Column names tried in order (DOCCI's first, then PixMo-Cap's and generic ones).
CAPTION_COLUMNS = ("description", "caption", "text")
IMAGE_COLUMNS = ("image_file", "image", "image_path")
ID_COLUMNS = ("example_id", "id", "image_id")
TASK = "user_caption"


def caption_item(image: str | Path, caption: str, item_id: str, task: str = TASK) -> dict:
    """One caption item: `answer` and `solution` are the caption itself."""
    return {
        "id": item_id,
        "task": task,
        "capability": "caption",
        "question": CAPTION_QUESTION,
        "options": [],
        "answer": caption,
        "images": [str(image)],
        "caption": caption,
        "subquestions": [],
        "solution": caption,
        "prompt_template": CAPTION_TEMPLATE,
    }


def _first(row: dict, names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in names:
        if name in row and row[name] is not None:
            return name, row[name]
    return None, None


def _where(path: Path, rowno: int, field: str) -> str:
    return f"{path}, row {rowno}, field '{field}'"


def _row_caption(row: dict, path: Path, rowno: int) -> str:
    """The row's caption, stripped; a missing, non-text or empty one is an error."""
    c_col, caption = _first(row, CAPTION_COLUMNS)
    if c_col is None:
        raise UserError(f"{_where(path, rowno, 'caption')}: missing (no caption column; tried "
                        f"{', '.join(CAPTION_COLUMNS)})")
    if not isinstance(caption, str):
        raise UserError(f"{_where(path, rowno, c_col)}: expected text, got {type(caption).__name__}")
    caption = caption.strip()
    if not caption:
        raise UserError(f"{_where(path, rowno, c_col)}: empty caption")
    return caption


def _row_image(row: dict, path: Path, rowno: int, base_dirs: list[Path]) -> tuple[str, Path]:
    """The row's image path as written (stripped) and resolved to a checked image file."""
    i_col, image = _first(row, IMAGE_COLUMNS)
    if i_col is None:
        hint = (" (the row has only 'image_url': download the images first and give their local paths "
                "in 'image')" if "image_url" in row else "")
        raise UserError(f"{_where(path, rowno, 'image')}: missing (no image column; tried "
                        f"{', '.join(IMAGE_COLUMNS)}){hint}")
    if isinstance(image, dict) and isinstance(image.get("path"), str):
        image = image["path"]
    if not isinstance(image, str) or not image.strip():
        raise UserError(f"{_where(path, rowno, i_col)}: expected an image path, got {image!r:.60}")
    img = _resolve_path(image.strip(), base_dirs)
    check_image_file(img, f"{_where(path, rowno, i_col)}: ")
    return image.strip(), img


def load_caption_items(path: str | Path, *, image_root: str | Path | None = None,
                       split: str | None = None) -> tuple[list[dict], dict[str, Any]]:
    """Caption items (absolute image paths) from a caption file, and counts.

    `split`: keep only rows whose `split` field equals it (DOCCI keeps every split in one file).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    base_dirs = [Path(image_root).expanduser()] if image_root else [path.parent, Path.cwd()]
    rows = _iter_json_rows(path) if path.suffix.lower() == ".json" else _iter_jsonl_rows(path, None)
    items: list[dict] = []
    seen: set[tuple[str, str]] = set()
    ids: set[str] = set()
    n_rows = n_dup = n_other_split = 0
    for rowno, row in rows:
        n_rows += 1
        if not isinstance(row, dict):
            raise UserError(f"{path}, row {rowno}: expected a JSON object, got {type(row).__name__}")
        if split is not None:
            if "split" not in row:
                raise UserError(f"{_where(path, rowno, 'split')}: missing (--split {split} keeps rows by it)")
            if str(row["split"]) != split:
                n_other_split += 1
                continue
        caption = _row_caption(row, path, rowno)
        image, img = _row_image(row, path, rowno, base_dirs)
        key = (str(img), caption)
        if key in seen:
            n_dup += 1
            continue
        seen.add(key)
        _, rid = _first(row, ID_COLUMNS)
        item_id = str(rid) if rid not in (None, "") else (
            f"{path.stem}-{hashlib.sha1((image + '|' + caption).encode()).hexdigest()[:10]}")
        if item_id in ids:
            item_id = f"{item_id}-r{rowno}"
        ids.add(item_id)
        items.append(caption_item(img, caption, item_id))
    stats = {"input": str(path), "rows": n_rows, "items": len(items), "duplicates": n_dup,
             "other_split": n_other_split}
    return items, stats


def convert_captions(input_path: str | Path, out: str | Path, *, image_root: str | Path | None = None,
                     split: str | None = None) -> dict[str, Any]:
    """Write the caption items of `input_path` as seethink JSONL (image paths relative to `out`)."""
    items, stats = load_caption_items(input_path, image_root=image_root, split=split)
    if not items:
        why = f" with split {split!r}" if split is not None else ""
        raise UserError(f"{input_path}: no caption rows{why} ({stats['rows']} rows read)")
    write_items_jsonl(items, out)
    stats["output"] = str(out)
    return stats
