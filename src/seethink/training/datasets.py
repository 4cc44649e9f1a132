"""Items -> `datasets.Dataset` rows in the shape TRL's trainers expect.

Prompts are stored with plain-string content and the images in an `images` list
column; TRL inserts one image placeholder per image itself. Text-only items keep an
empty list (never a fake image), so a merged stage mixes image and text rows. The
full item travels as JSON in `item` so reward functions see answer, options, facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seethink.data.images import item_images
from seethink.data.prompts import render_prompt


def _row(item: dict, base_dir: str | Path | None) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": render_prompt(item)}],
        "images": item_images(item, base_dir),
        "item": json.dumps(item),
        "capability": item.get("capability", ""),
    }


def grpo_dataset(items: list[dict], base_dir: str | Path | None = None) -> Any:
    from datasets import Dataset, Features, Image, List, Value

    features = Features(
        {
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "images": List(Image()),
            "item": Value("string"),
            "capability": Value("string"),
        }
    )
    return Dataset.from_list([_row(it, base_dir) for it in items], features=features)


def sft_dataset(items: list[dict], base_dir: str | Path | None = None) -> Any:
    """Prompt-completion rows; the completion is the item's worked `<think>` solution."""
    from datasets import Dataset, Features, Image, List, Value

    features = Features(
        {
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "completion": List({"role": Value("string"), "content": Value("string")}),
            "images": List(Image()),
        }
    )
    rows = []
    for it in items:
        row = _row(it, base_dir)
        rows.append(
            {
                "prompt": row["prompt"],
                "completion": [{"role": "assistant", "content": it["solution"]}],
                "images": row["images"],
            }
        )
    return Dataset.from_list(rows, features=features)
