"""Getting the PIL images of an item: from its files, or rendered from its facts.

Rendering from facts is done by the renderers in `FACTS_RENDERERS`: each takes an item's facts and
returns its images, or None where the facts are not of its kind. The toy world's scene renderer
plugs in there (`seethink.toyworld.render`), imported the first time an item is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seethink.errors import UserError
from seethink.registry import Registry

FactsRenderer = Callable[[dict], "list[Image.Image] | None"]
FACTS_RENDERERS: Registry[FactsRenderer] = Registry("facts renderer", plugins=("seethink.toyworld.render",))


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
    """Images of an item: files listed in `images` (relative to base_dir), else those a facts
    renderer draws from its facts alone (a toy scene's facts record every rendering detail that
    is not the default, the cell size included)."""
    paths = item.get("images") or []
    if paths:
        base = Path(base_dir) if base_dir else Path(".")
        where = f"item {item.get('id', '?')}, field 'images': "
        return [load_image(base / p, where) for p in paths]
    facts = item.get("facts") or {}
    if facts:
        for name in FACTS_RENDERERS:
            images = FACTS_RENDERERS.get(name)(facts)
            if images is not None:
                return images
    return []
