"""`stages.N.replay`: a later staged stage mixes in a share of earlier stages' items."""

from __future__ import annotations

from collections import Counter

from seethink.config import load_recipe
from seethink.data.plan import plan

STAGES = ("stages=[{name: perception, tasks: [toy_perception], items_per_task: 40}, "
          "{name: text, tasks: [toy_text], items_per_task: 40}, "
          "{name: visual, tasks: [toy_visual], items_per_task: 40, replay: 0.2}]")


def _caps(items: list[dict]) -> Counter:
    return Counter(it["capability"] for it in items)


def test_replayed_items_come_from_earlier_stages_in_the_asked_share():
    recipe = load_recipe(None, [STAGES])
    plans = plan(recipe)
    perception, text, visual = plans["staged"]
    assert _caps(perception.items) == {"perception": 40} and _caps(text.items) == {"text": 40}
    caps = _caps(visual.items)
    assert caps["visual"] == 40 and caps["perception"] + caps["text"] == 10  # 10 / 50 = 0.2
    earlier = {it["id"] for it in perception.items + text.items}
    assert {it["id"] for it in visual.items if it["capability"] != "visual"} <= earlier
    # Merged pools each stage's own items once: replay does not change it.
    assert _caps(plans["merged"][0].items) == {"perception": 40, "text": 40, "visual": 40}
    # Seeded: the same recipe plans the same stage; another seed draws other items.
    assert [it["id"] for it in plan(recipe)["staged"][2].items] == [it["id"] for it in visual.items]
    other = plan(load_recipe(None, [STAGES, "seed=5"]))["staged"][2].items
    assert [it["id"] for it in other] != [it["id"] for it in visual.items]


def test_no_replay_leaves_a_stage_its_own_items():
    recipe = load_recipe(None, [STAGES, "stages.2.replay=0"])
    assert _caps(plan(recipe)["staged"][2].items) == {"visual": 40}
