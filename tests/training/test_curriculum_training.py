"""A curriculum's order survives into training (TRL would shuffle by default)."""

from __future__ import annotations

import json
from pathlib import Path

from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec, load_recipe
from seethink.data.export import write_items
from seethink.data.plan import apply_curriculum, data_file_items, plan
from seethink.data.tasks import get_task
from seethink.training.stage import run_stage

RECORDER = """
import json, os
def seen(completion, item):
    with open(os.environ["SEEN_LOG"], "a") as fh:
        fh.write(item["id"] + "\\n")
    return {"overall": 0.0}
"""


def test_unshuffled_stage_visits_items_in_file_order(tiny_model_dir: Path, tmp_path: Path, monkeypatch):
    items = get_task("toy_perception").generate(6, "train", 4, ToyWorldSpec())
    data = write_items(items, tmp_path / "stage1.jsonl")
    (tmp_path / "rec.py").write_text(RECORDER)
    monkeypatch.setenv("SEEN_LOG", str(tmp_path / "seen.txt"))
    trainer = TrainerSpec(max_steps=3, batch_size=2, group_size=2, max_completion_length=4, shuffle=False)
    run_stage(tiny_model_dir, data_file_items(data), trainer, RewardSpec(extra=[f"{tmp_path / 'rec.py'}:seen"]),
              tmp_path / "s", stage="s1", variant="staged", metrics_path=tmp_path / "m.jsonl")
    seen = (tmp_path / "seen.txt").read_text().split()
    order = list(dict.fromkeys(seen))  # first visit of each item (each is seen group_size times)
    assert order == [it["id"] for it in items]


def test_recipe_naming_a_curriculum_builds_ordered_stages(tmp_path: Path):
    world = ToyWorldSpec()
    inputs = {}
    for cap, rates in (("perception", [0.2, 0.9, 0.5]), ("text", [0.1, 0.6, 1.0])):
        items = get_task(f"toy_{cap}").generate(3, "train", 0, world)
        for it, r in zip(items, rates, strict=True):
            it["pass_rate"] = r
        inputs[cap] = str(write_items(items, tmp_path / f"{cap}.jsonl"))
    overrides = ["curriculum.mode=capability_x_difficulty", "curriculum.order=[text,perception]",
                 f"curriculum.inputs={json.dumps(inputs)}", "curriculum.drop_solved=true"]
    recipe = load_recipe(None, overrides)
    apply_curriculum(recipe, tmp_path / "run", log=lambda *a: None)
    assert [s.name for s in recipe.stages] == ["text", "perception"]
    staged = plan(recipe)["staged"]
    text_rates = [it["pass_rate"] for it in staged[0].items]
    perc_rates = [it["pass_rate"] for it in staged[1].items]
    assert text_rates == [0.6, 0.1]  # easy -> hard, the solved item dropped
    assert perc_rates == [0.9, 0.5, 0.2]
    assert all(not st.trainer.shuffle for st in staged)
    assert all(Path(p).is_file() for it in staged[1].items for p in it["images"])
