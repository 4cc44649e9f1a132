"""Writing items to disk: JSONL rows with their images as PNG files beside them."""

from __future__ import annotations

from pathlib import Path

from seethink.config import ToyWorldSpec
from seethink.data.images import item_images
from seethink.data.tasks import get_task
from seethink.utils import write_jsonl


def write_items(items: list[dict], out: str | Path) -> Path:
    """Rows keep every field; `images` become paths relative to the JSONL's folder."""
    out = Path(out)
    img_dir = out.parent / f"{out.stem}_images"
    rows = []
    for it in items:
        imgs = item_images(it, out.parent) if not it.get("images") else []
        row = dict(it)
        if imgs:
            img_dir.mkdir(parents=True, exist_ok=True)
            rels = []
            for k, im in enumerate(imgs):
                name = f"{it['id']}.png" if len(imgs) == 1 else f"{it['id']}_{k}.png"
                im.save(img_dir / name)
                rels.append(f"{img_dir.name}/{name}")
            row["images"] = rels
        rows.append(row)
    write_jsonl(out, rows)
    return out


def write_toy_items(capability: str, n: int, split: str, seed: int, out: str | Path,
                    world: ToyWorldSpec | None = None) -> Path:
    world = world or ToyWorldSpec()
    items = get_task(f"toy_{capability}").generate(n, split, seed, world)
    return write_items(items, out)
