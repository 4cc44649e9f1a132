"""A toy item's facts are the one source of its image: every path that makes toy items records a
cell size that is not the default, so generic code (datasets, evaluation, pass@k, export) draws
the image right without being told the world's cell size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seethink.config import load_recipe
from seethink.data.export import write_toy_items
from seethink.data.images import item_images
from seethink.data.plan import eval_items, stage_items
from seethink.toyworld.attribution import subquestion_items
from seethink.toyworld.warmstart import sft_items
from seethink.utils import read_jsonl


def _image_items(items: list[dict]) -> list[dict]:
    return [it for it in items if "objects" in (it.get("facts") or {})]


def test_every_toy_item_path_records_the_cell_size(tmp_path: Path) -> None:
    r = load_recipe(None, ["toy.grid=8", "toy.cell_px=14", "toy.max_shapes=10", "eval.items_per_capability=6",
                           "warmstart.items_per_capability=6"])
    caps = ("perception", "text", "visual", "caption")
    r.stages = [dataclasses.replace(r.stages[0], name=c, tasks=[f"toy_{c}"], items_per_task=6) for c in caps]
    r.eval.toy = True
    r.warmstart.tasks, r.warmstart.task_weights = [f"toy_{c}" for c in caps], []
    held_out = eval_items(r)
    made = {
        "stages": [it for i, st in enumerate(r.stages) for it in stage_items(r, st, i)],
        "eval": held_out,
        "sub-questions": [s for it in held_out for s in subquestion_items(it)],
        "warm start": sft_items(r),
        "written": read_jsonl(write_toy_items("visual", 6, "train", 0, tmp_path / "v.jsonl", r.toy)),
    }
    for where, items in made.items():
        image_items = _image_items(items)
        assert image_items, where
        for it in image_items:
            assert it["facts"]["cell_px"] == 14, (where, it["id"])
            if not it.get("images"):
                assert item_images(it)[0].size == (112, 112), (where, it["id"])
