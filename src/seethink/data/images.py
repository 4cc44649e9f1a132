"""Getting the PIL images of an item: from its files, or rendered from toy scene facts."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seethink.data.toyworld.scenes import Scene, render_scene
from seethink.errors import UserError


def load_image(path: str | Path, where: str = "") -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"{where}image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{where}unreadable image {path}: {exc}") from None


def check_image_file(path: str | Path, where: str = "") -> None:
    """Fail now, naming `where` (file, row, field), if `path` is missing or not a readable image.

    Reads the header and lets PIL verify the file's structure (PNG chunk checksums, ...)
    without decoding the pixels, so whole datasets can be checked before training starts.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{where}image not found: {path}")
    try:
        with Image.open(p) as im:
            im.verify()
    except Exception as exc:  # PIL raises many types for damaged files (SyntaxError included)
        raise UserError(f"{where}unreadable image {path}: {type(exc).__name__}: {exc}") from None


def item_images(item: dict, base_dir: str | Path | None = None) -> list[Image.Image]:
    """Images of an item: files listed in `images` (relative to base_dir), else its toy scene,
    drawn from its facts alone (they record every rendering detail that is not the default,
    the cell size included)."""
    paths = item.get("images") or []
    if paths:
        base = Path(base_dir) if base_dir else Path(".")
        where = f"item {item.get('id', '?')}, field 'images': "
        return [load_image(base / p, where) for p in paths]
    facts = item.get("facts") or {}
    if "objects" in facts:
        return [render_scene(Scene.from_facts(facts))]
    return []
