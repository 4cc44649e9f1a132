"""What each variant trains on, stage by stage, and the held-out items it is scored on.

*staged*: the recipe's stages in their configured order, each with its own items (plus
`replay` of earlier stages'). *merged*: one stage with every stage's items pooled and the
same total number of steps, using the recipe-wide trainer defaults. A curriculum replaces
the recipe's stages by its stage files (`apply_curriculum`).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

from seethink.config import Recipe, StageSpec, TrainerSpec, stage_trainer
from seethink.data.images import check_image_file
from seethink.data.row_fields import read_item_file
from seethink.data.tasks import TASKS, get_task
from seethink.utils import read_jsonl


@dataclasses.dataclass
class PlannedStage:
    variant: str
    index: int
    name: str
    items: list[dict]
    trainer: TrainerSpec

    @property
    def dirname(self) -> str:
        return f"{self.index + 1:02d}-{self.name}"


def data_file_items(path: str | Path) -> list[dict]:
    """Items of a seethink JSONL file, image paths made absolute (they are relative to the file)."""
    p = Path(path).expanduser()
    rows = read_item_file(p, "stage data file", ("question", "answer"))
    for n, row in enumerate(rows, 1):
        row.setdefault("id", f"{p.stem}-{n}")
        for im in row["images"]:  # now, not hours later when this stage starts
            check_image_file(im, f"{p}, row {n}, field 'images': ")
    return rows


def stage_items(recipe: Recipe, stage: StageSpec, stage_index: int) -> list[dict]:
    items: list[dict] = data_file_items(stage.data) if stage.data else []
    for t, name in enumerate(stage.tasks):
        task = get_task(name)
        items += task.generate(stage.items_per_task, "train", recipe.seed * 1000 + stage_index * 10 + t, recipe.toy)
    return items


def apply_curriculum(recipe: Recipe, out_dir: Path, log: Any = print, build: bool = True) -> None:
    """Replace the recipe's stages by the stage files of its curriculum (built on the fly).

    Curriculum order is the point, so these stages keep their file order (no shuffling).
    `build=False` reads the manifest another process built (multi-process runs).
    """
    from seethink.data.curriculum import build_curriculum

    c = recipe.curriculum
    if build:
        manifest = build_curriculum(
            c.inputs, c.mode, out_dir / "curriculum", order=c.order or None, drop_solved=c.drop_solved,
            drop_unsolved=c.drop_unsolved, seed=c.seed,
        )
    else:
        manifest = json.loads((out_dir / "curriculum" / "curriculum.json").read_text())
    recipe.stages = [
        StageSpec(name=st["inputs"][0] if len(st["inputs"]) == 1 else "all", tasks=[],
                  data=str(out_dir / "curriculum" / st["file"]), trainer={"shuffle": False})
        for st in manifest["stages"]
    ]
    log(f"[curriculum] {c.mode}: {len(recipe.stages)} stage(s) -> {out_dir / 'curriculum'}")


def with_replay(recipe: Recipe, per_stage: list[list[dict]], i: int) -> list[dict]:
    """Stage i's items plus a seeded draw from earlier stages' items, so that the replayed
    items make up `stages[i].replay` of the result (k / (n + k) = share)."""
    share = recipe.stages[i].replay
    own = per_stage[i]
    if not share:
        return own
    earlier = [it for items in per_stage[:i] for it in items]
    k = min(len(earlier), round(len(own) * share / (1.0 - share)))
    return own + random.Random(recipe.seed * 1000 + i).sample(earlier, k)


def plan(recipe: Recipe) -> dict[str, list[PlannedStage]]:
    per_stage = [stage_items(recipe, s, i) for i, s in enumerate(recipe.stages)]
    out: dict[str, list[PlannedStage]] = {}
    if "staged" in recipe.variants:
        out["staged"] = [
            PlannedStage("staged", i, s.name, with_replay(recipe, per_stage, i), stage_trainer(recipe, s))
            for i, s in enumerate(recipe.stages)
        ]
    if "merged" in recipe.variants:
        total = sum(stage_trainer(recipe, s).max_steps for s in recipe.stages)
        pooled = [it for items in per_stage for it in items]
        # Merged pools everything; a curriculum's order does not survive pooling, so it shuffles.
        trainer = dataclasses.replace(recipe.trainer, max_steps=total, shuffle=True)
        out["merged"] = [PlannedStage("merged", 0, "merged", pooled, trainer)]
    return out


# Capabilities trained but not scored on held-out items: a caption has no verifiable answer.
UNSCORED = ("caption",)


TOY_CAPABILITIES = ("perception", "text", "visual")


def toy_capabilities(recipe: Recipe) -> dict[str, str]:
    """{capability: task} of the toy capabilities the recipe trains: a stage's tasks, or the toy
    capabilities the rows of a stage data file carry."""
    seen: dict[str, str] = {}
    for s in recipe.stages:
        for name in s.tasks:
            if get_task(name).capability not in UNSCORED:
                seen.setdefault(get_task(name).capability, name)
        if s.data and Path(s.data).expanduser().is_file():  # the toy capabilities a data file trains
            for row in read_jsonl(Path(s.data).expanduser()):  # (its images are checked when it is planned)
                cap, task = row.get("capability", ""), row.get("task")
                if task and not (str(task).startswith("toy_") and task in TASKS):
                    continue  # real data shares the capability names (caption_mcq, user_visual, geoqa170k, ...)
                if f"toy_{cap}" in TASKS and cap not in UNSCORED:
                    seen.setdefault(cap, f"toy_{cap}")
    return seen


def eval_items(recipe: Recipe) -> list[dict]:
    """Held-out toy items, never overlapping training: for every toy capability the recipe trains
    (`eval.toy` unset, the default), none (`eval.toy: false`), or every toy capability the recipe
    trains and, if it trains none, all three (`eval.toy: true`). A recipe on real data only
    trains no toy capability, so it is not scored on toy items unless it asks."""
    if recipe.eval.toy is False:
        return []
    seen = toy_capabilities(recipe)
    if not seen and recipe.eval.toy:
        seen = {c: f"toy_{c}" for c in TOY_CAPABILITIES}
    items: list[dict] = []
    for _cap, name in sorted(seen.items()):
        items += get_task(name).generate(recipe.eval.items_per_capability, "test", recipe.eval.seed, recipe.toy)
    return items


def eval_items_planned(recipe: Recipe) -> bool:
    """Whether the recipe gets a toy held-out evaluation (without generating its items)."""
    return recipe.eval.toy is not False and (bool(recipe.eval.toy) or bool(toy_capabilities(recipe)))
