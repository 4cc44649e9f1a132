"""The perception-difficulty knobs of the toy world: every knob keeps every item exactly answerable.

Every knob must leave each item exactly answerable from its image: the answers are what the facts
imply, the image is drawn again from the facts pixel for pixel, objects stay inside the image and
apart, colours and shapes stay distinguishable. The default world must stay byte-identical to the
one before the knobs existed (the warm base's cache key and the shipped base depend on it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from seethink.config import Recipe, ToyWorldSpec, load_recipe, validate
from seethink.data.images import item_images
from seethink.data.tasks import get_task
from seethink.errors import UserError
from seethink.toyworld import caption_items, generate_items, render_scene, scenes
from seethink.toyworld.generators import (
    COUNT_OPTIONS,
    LETTERS,
    PERCEPTION_FAMILIES,
    SIZE_FAMILY,
    inventory_read_right,
    scene_inventory,
    split_of,
)
from seethink.toyworld.scenes import (
    ALL_SHAPES,
    COLORS,
    DISTRACTOR_RGB,
    SIZE_SCALE,
    Obj,
    Scene,
    footprint,
    min_palette_distance,
    object_box,
    sample_scene,
    sample_world_scene,
)

ALL = list(ALL_SHAPES)
# One world per knob (each at a setting that makes it matter), the original world, and all together.
KNOBS = {
    "default": ToyWorldSpec(),
    "object_scale": ToyWorldSpec(object_scale=0.45),
    "jitter_px": ToyWorldSpec(jitter_px=12),
    "rotate": ToyWorldSpec(rotate=180),
    "shapes": ToyWorldSpec(shapes=ALL),
    "sizes": ToyWorldSpec(sizes=["small", "medium", "large"]),
    "shades": ToyWorldSpec(shades=True, color_distance=20),
    "distractors": ToyWorldSpec(distractors=8),
    "noise": ToyWorldSpec(noise=40),
    "cells": ToyWorldSpec(grid=8, cell_px=14, max_shapes=10),
    "inventory_off": ToyWorldSpec(inventory=False),
    "all": ToyWorldSpec(object_scale=0.8, jitter_px=6, rotate=180, shapes=ALL, sizes=["small", "large"],
                        shades=True, color_distance=40, distractors=6, noise=12, max_shapes=8),
    "all_cells": ToyWorldSpec(grid=8, cell_px=14, max_shapes=10, object_scale=0.9, jitter_px=4, rotate=180,
                              shapes=["circle", "square", "triangle", "star", "diamond"], shades=True,
                              color_distance=40, distractors=6, noise=12),
}
# Knobs that change only how a scene is drawn: the items (questions, answers, captions) stay the same.
RENDER_ONLY = ("object_scale", "jitter_px", "rotate", "shades", "distractors", "noise")
SEEDS = range(6)


def _items(world: ToyWorldSpec, seed: int, n: int = 30) -> list[dict]:
    out = []
    for cap in ("perception", "visual"):
        for split in ("train", "test"):
            got = generate_items(cap, n, split, seed, world)
            # the split is still a hash of the content (rendering details are not content)
            assert all(split_of(it["question"] + "|" + Scene.from_facts(it["facts"]).key()) == split for it in got)
            out += got
    return out + caption_items(n // 3, "train", seed, world)


@pytest.fixture(scope="module")
def knob_items() -> dict[str, list[dict]]:
    return {name: [it for seed in SEEDS for it in _items(w, seed)] for name, w in KNOBS.items()}


# ---------------------------------------------------------------- the default world is the original one

# Computed by the code at HEAD before the knobs existed (commit 1fd66dd): items and their images in
# the default world and in the settings the world had then (grid, shapes per scene, cell size).
ORIGINAL_WORLD_DIGEST = "72eedb9c55206eb9"


def _original_world_digest() -> str:
    h = hashlib.sha1()

    def items(xs: list[dict]) -> None:
        for it in xs:
            # Worlds with another cell size record it in their facts (so their images are drawn
            # from the facts alone); the rest of the item and its image are the original ones.
            bare = {**it, "facts": {k: v for k, v in it["facts"].items() if k != "cell_px"}}
            h.update(json.dumps(bare, sort_keys=True).encode())
            for im in item_images(it):
                h.update(im.tobytes())

    for cap in ("perception", "text", "visual"):
        for split in ("train", "test"):
            for seed in (0, 3):
                items(generate_items(cap, 40, split, seed))
                items(generate_items(cap, 40, split, seed, inventory=True, grid=5, min_shapes=3, max_shapes=8))
    for name in ("toy_perception", "toy_text", "toy_visual", "toy_caption"):
        items(get_task(name).generate(40, "train", 1, ToyWorldSpec()))
        items(get_task(name).generate(40, "test", 2, ToyWorldSpec(grid=8, cell_px=14)))
    items(caption_items(30, "train", 4))
    rng = random.Random(9)
    for cell in (28, 14, 21):
        for _ in range(20):
            h.update(render_scene(sample_scene(rng, 4, 2, 6), cell).tobytes())
    return h.hexdigest()[:16]


def test_the_default_world_is_byte_identical_to_the_original():
    assert _original_world_digest() == ORIGINAL_WORLD_DIGEST


def test_default_facts_record_nothing_new():
    for it in generate_items("visual", 50, "train", 0, ToyWorldSpec()):
        assert set(it["facts"]) == {"family", "grid", "objects"}
        assert all(set(o) == {"row", "col", "shape", "color"} for o in it["facts"]["objects"])


def test_sample_world_scene_in_the_default_world_draws_what_sample_scene_draws():
    a, b = random.Random(3), random.Random(3)
    for _ in range(50):
        assert sample_world_scene(a, ToyWorldSpec()) == sample_scene(b, 4, 2, 6)
    assert a.random() == b.random()  # nothing more was drawn


# ---------------------------------------------------------------- answers follow from the facts


def _group(name: str) -> dict:
    m = re.fullmatch(r"(\w+) shapes", name)
    if m and m.group(1) in COLORS:
        return {"color": m.group(1)}
    assert name.endswith("s") and name[:-1] in ALL_SHAPES, name
    return {"shape": name[:-1]}


def _answer_from_facts(item: dict) -> str:
    """The answer an exact perceiver would give, from the scene in the facts alone."""
    scene = Scene.from_facts(item["facts"])
    q, opts = item["question"], item["options"]

    def letter(value: str) -> str:
        return LETTERS[opts.index(value)]

    def one(pred) -> object:
        (hit,) = [o for o in scene.objects if pred(o)]
        return hit

    if m := re.fullmatch(r"How many more (.+) than (.+) are there\?", q):
        return str(scene.count(**_group(m.group(1))) - scene.count(**_group(m.group(2))))
    if m := re.fullmatch(r"How many (.+) are there\?", q):
        return letter(str(scene.count(**_group(m.group(1)))))
    if m := re.fullmatch(r"What colour is the (\w+)\?", q):
        return letter(one(lambda o: o.shape == m.group(1)).color)
    if m := re.fullmatch(r"What shape is the (\w+) one\?", q):
        return letter(one(lambda o: o.color == m.group(1)).shape)
    if m := re.fullmatch(r"What size is the (\w+) (\w+)\?", q):
        return letter(one(lambda o: (o.color, o.shape) == m.groups()).size)
    if m := re.fullmatch(r"Is there a (\w+) (\w+)\?", q):
        return letter("yes" if scene.count(color=m.group(1), shape=m.group(2)) else "no")
    if m := re.fullmatch(r"Is the (\w+) (\w+) left of the (\w+) (\w+)\?", q):
        a = one(lambda o: (o.color, o.shape) == m.group(1, 2))
        b = one(lambda o: (o.color, o.shape) == m.group(3, 4))
        return letter("yes" if a.col < b.col else "no")
    if m := re.fullmatch(r"Multiply the number of (.+) by the number of (.+)\.", q):
        return str(scene.count(**_group(m.group(1))) * scene.count(**_group(m.group(2))))
    if m := re.fullmatch(r"Add the number of (.+) to the number of (.+)\.", q):
        return str(scene.count(**_group(m.group(1))) + scene.count(**_group(m.group(2))))
    if q == "Describe the image.":
        return scene.caption()
    raise AssertionError(f"unknown question {q!r}")


@pytest.mark.parametrize("knob", list(KNOBS))
def test_every_answer_is_what_the_facts_imply(knob, knob_items):
    world = KNOBS[knob]
    items = knob_items[knob]
    for it in items:
        facts = it["facts"]
        scene = Scene.from_facts(facts)
        assert it["answer"] == _answer_from_facts(it), it["question"]
        assert it["caption"] == scene.caption()
        assert all(o.shape in world.shapes for o in scene.objects)
        assert all((o.size in world.sizes) if world.sizes else o.size == "" for o in scene.objects)
        for sq in it["subquestions"]:  # the perceived facts, kept for attribution
            m = re.fullmatch(r"How many (.+) are there\?", sq["question"])
            assert sq["answer"] == str(scene.count(**_group(m.group(1))))
        if it["capability"] == "caption":
            continue
        if world.inventory:
            assert it["solution"].startswith(f"<think> {scene_inventory(scene)} ")
            assert inventory_read_right(it, it["solution"]) is True
        assert it["solution"].endswith(f"\\boxed{{{it['answer']}}}")
    families = {it["facts"]["family"] for it in items if it["capability"] == "perception"}
    assert families == set(PERCEPTION_FAMILIES) | ({SIZE_FAMILY} if world.sizes else set())


@pytest.mark.parametrize("knob", RENDER_ONLY)
def test_rendering_knobs_keep_every_item_and_change_only_its_picture(knob, knob_items):
    def content(it: dict) -> dict:
        keep = {k: v for k, v in it.items() if k != "facts"}
        facts = Scene.from_facts(it["facts"])
        return {**keep, "scene": facts.key(), "family": it["facts"]["family"]}

    assert [content(it) for it in knob_items[knob]] == [content(it) for it in knob_items["default"]]


def test_sizes_in_the_inventory_are_graded_exactly():
    (it,) = [x for x in generate_items("visual", 5, "train", 0, KNOBS["sizes"]) if x["facts"]["objects"]][:1]
    assert inventory_read_right(it, it["solution"]) is True
    o = it["facts"]["objects"][0]
    wrong = {"small": "large"}.get(o["size"], "small")
    bad = it["solution"].replace(f"{o['size']} {o['shape']}", f"{wrong} {o['shape']}", 1)
    assert inventory_read_right(it, bad) is False


# ---------------------------------------------------------------- renders: deterministic, from the facts


@pytest.mark.parametrize("knob", list(KNOBS))
def test_renders_repeat_and_are_drawn_from_the_facts_alone(knob, knob_items):
    world = KNOBS[knob]
    assert _items(world, 0, 10) == _items(world, 0, 10)
    for it in knob_items[knob][::7]:
        a = item_images(it)[0]
        facts = json.loads(json.dumps(it["facts"]))  # as read back from a JSONL file
        b = render_scene(Scene.from_facts(facts))
        assert a.tobytes() == b.tobytes() == item_images(it)[0].tobytes()
        assert a.size == (world.grid * world.cell_px,) * 2
        assert Scene.from_facts(facts).to_facts() == {k: v for k, v in it["facts"].items() if k != "family"}


# ---------------------------------------------------------------- geometry: inside, apart, in its cell


def _alone(scene: Scene, **changes) -> Scene:
    """The scene without noise or distractors (and with `changes`), to find each object's pixels."""
    return dataclasses.replace(scene, noise=0.0, distractors=(), **changes)


def _mask(scene: Scene, o) -> np.ndarray:
    img = np.asarray(render_scene(_alone(scene, objects=(o,))))
    return (img != 255).any(axis=-1)


def _cell(scene: Scene) -> int:
    return scene.cell_px or 28


@pytest.mark.parametrize("knob", list(KNOBS))
def test_objects_stay_inside_the_image_apart_and_centred_in_their_cell(knob, knob_items):
    world = KNOBS[knob]
    for it in knob_items[knob][::3]:
        scene = Scene.from_facts(it["facts"])
        cell = _cell(scene)
        masks = []
        for o in scene.objects:
            m = _mask(scene, o)
            ys, xs = np.nonzero(m)
            assert len(xs) > 0  # drawn, and inside the image
            x0, y0, x1, y1 = footprint(o, scene, cell)
            assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1
            assert abs(o.dx) <= world.jitter_px and abs(o.dy) <= world.jitter_px
            bx0, by0, bx1, by1 = object_box(o, cell, scene.scale)
            assert (bx0 + bx1) // 2 // cell == o.col and (by0 + by1) // 2 // cell == o.row
            masks.append(m)
        for i in range(len(masks)):  # never touching: a white pixel between any two objects
            grown = masks[i].copy()
            grown[1:] |= masks[i][:-1]
            grown[:-1] |= masks[i][1:]
            grown[:, 1:] |= grown[:, :-1].copy()
            grown[:, :-1] |= grown[:, 1:].copy()
            for j in range(len(masks)):
                assert i == j or not (grown & masks[j]).any()
        # Without noise every object pixel has its exact palette colour (no distractor covers it),
        # and distractors are grey outlines only.
        clean = np.asarray(render_scene(dataclasses.replace(scene, noise=0.0)))
        for o, m in zip(scene.objects, masks, strict=True):
            assert (clean[m] == scene.rgb(o.color)).all()
        drawn = (clean != 255).any(axis=-1)
        objects = np.logical_or.reduce(masks) if masks else np.zeros_like(drawn)
        assert (clean[drawn & ~objects] == DISTRACTOR_RGB).all()
        assert (len(scene.distractors) > 0) == bool((drawn & ~objects).any())


def test_distractors_and_jitter_are_drawn_where_they_are_asked_for(knob_items):
    dist = [len(Scene.from_facts(it["facts"]).distractors) for it in knob_items["distractors"]]
    assert sum(dist) / len(dist) > 7  # almost always all 8 find a place
    shifted = [o for it in knob_items["jitter_px"] for o in Scene.from_facts(it["facts"]).objects]
    assert sum(1 for o in shifted if o.dx or o.dy) > 0.9 * len(shifted)
    # Objects do cross into the neighbouring merged token (the point of the knob).
    crossing = 0
    for it in knob_items["jitter_px"]:
        scene = Scene.from_facts(it["facts"])
        for o in scene.objects:
            x0, y0, x1, y1 = footprint(o, scene, 28)
            crossing += x0 // 28 != x1 // 28 or y0 // 28 != y1 // 28
    assert crossing > 0.3 * len(shifted)
    angles = {o.angle for it in knob_items["rotate"] for o in Scene.from_facts(it["facts"]).objects}
    assert len(angles) > 100


# ---------------------------------------------------------------- colours and shapes stay distinguishable


def _nearest_colour(scene: Scene, rgb: np.ndarray) -> str:
    return min(COLORS, key=lambda c: math.dist(rgb, scene.rgb(c)))


@pytest.mark.parametrize("knob", list(KNOBS))
def test_each_object_reads_as_its_own_colour(knob, knob_items):
    world = KNOBS[knob]
    if world.shades:
        pal = dict(Scene.from_facts(knob_items[knob][0]["facts"]).palette)
        assert min_palette_distance(pal) == pytest.approx(world.color_distance, abs=1.5)
    for it in knob_items[knob][::3]:
        scene = Scene.from_facts(it["facts"])
        img = np.asarray(item_images(it)[0], dtype=np.float64)
        for o in scene.objects:
            m = _mask(scene, o)
            assert _nearest_colour(scene, img[m].mean(axis=0)) == o.color


def _crop(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def _drawn_alone(scene: Scene, shape: str, size: str, angle: int) -> np.ndarray:
    """The pixels of one object drawn the scene's way in the top-left cell (a small canvas)."""
    cell = _cell(scene)
    img = Image.new("L", (cell, cell), 0)
    o = Obj(0, 0, shape, "red", size, angle)
    scenes._draw(ImageDraw.Draw(img), shape, object_box(o, cell, scene.scale), angle, scene.inscribed, fill=(255,))
    return np.asarray(img) > 0


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """Pixels that differ between two shapes, wherever each is placed (crops aligned); inf when
    their extents differ."""
    return float("inf") if a.shape != b.shape else float((a ^ b).sum())


@pytest.mark.parametrize("knob", ["default", "object_scale", "rotate", "shapes", "sizes", "cells", "all", "all_cells"])
def test_no_other_shape_or_size_at_any_angle_draws_the_same_pixels(knob, knob_items):
    world = KNOBS[knob]
    kinds = [(s, z) for s in world.shapes for z in (world.sizes or [""])]
    angles = range(-world.rotate, world.rotate + 1, 3) if world.rotate else [0]
    objects = [(Scene.from_facts(it["facts"]), o) for it in knob_items[knob][:40]
               for o in Scene.from_facts(it["facts"]).objects]
    seen = set()
    for scene, o in objects:
        if (o.shape, o.size) in seen:  # one object of each kind
            continue
        seen.add((o.shape, o.size))
        mine = _crop(_mask(scene, o))
        for s, z in kinds:
            if (s, z) == (o.shape, o.size):
                continue
            for a in angles:
                assert _difference(mine, _crop(_drawn_alone(scene, s, z, a))) >= 3, (o, s, z, a)


# ---------------------------------------------------------------- random worlds (hypothesis)

GRIDS = [(4, 28), (8, 14), (2, 56), (3, 28), (4, 21)]


@st.composite
def worlds(draw) -> ToyWorldSpec:
    grid, cell = draw(st.sampled_from(GRIDS))
    shapes = draw(st.lists(st.sampled_from(ALL), min_size=2, max_size=len(ALL), unique=True))
    sizes = draw(st.sampled_from([[], ["small", "large"], ["medium", "large"], ["small", "medium", "large"]]))
    max_shapes = draw(st.integers(2, min(10, grid * grid)))
    return ToyWorldSpec(
        grid=grid, cell_px=cell, min_shapes=draw(st.integers(1, max_shapes)), max_shapes=max_shapes,
        object_scale=draw(st.sampled_from([1.0, 0.9, 0.75, 0.6, 0.5, 0.4])),
        jitter_px=draw(st.integers(0, (cell - 1) // 2)), rotate=draw(st.sampled_from([0, 15, 45, 90, 180])),
        shapes=shapes, sizes=sizes, shades=draw(st.booleans()),
        color_distance=draw(st.sampled_from([20.0, 40.0, 80.0, 161.0])),
        distractors=draw(st.integers(0, 8)), noise=draw(st.sampled_from([0.0, 5.0, 20.0, 40.0])),
        inventory=draw(st.booleans()),
    )


def _valid(world: ToyWorldSpec) -> bool:
    try:
        validate(Recipe(toy=world))
    except UserError:
        return False
    return True


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much])
@given(world=worlds(), seed=st.integers(0, 10_000))
def test_any_valid_world_keeps_items_exactly_answerable(world, seed):
    assume(_valid(world))
    items = (generate_items("perception", 8, "train", seed, world) + generate_items("visual", 6, "test", seed, world)
             + caption_items(3, "train", seed, world))
    assert items == (generate_items("perception", 8, "train", seed, world)
                     + generate_items("visual", 6, "test", seed, world) + caption_items(3, "train", seed, world))
    colour_ok = []
    for it in items:
        assert it["answer"] == _answer_from_facts(it)
        scene = Scene.from_facts(json.loads(json.dumps(it["facts"])))
        img = item_images(it)[0]
        assert img.tobytes() == render_scene(scene).tobytes()
        assert img.size == (world.grid * world.cell_px,) * 2
        arr = np.asarray(img, dtype=np.float64)
        pal = min_palette_distance(dict(scene.palette)) if scene.palette else 161.0
        for o in scene.objects:
            m = _mask(scene, o)
            assert m.any()
            x0, y0, x1, y1 = footprint(o, scene, _cell(scene))
            assert 0 <= x0 and 0 <= y0 and x1 < img.size[0] and y1 < img.size[1]
            # Colour holds wherever the noise left on the mean of the object's pixels is small
            # against the gap between colours ("unless noise is huge").
            if 3 * scene.noise / math.sqrt(m.sum()) < pal / 2:
                colour_ok.append(_nearest_colour(scene, arr[m].mean(axis=0)) == o.color)
    assert all(colour_ok)


# ---------------------------------------------------------------- configuration


def test_knobs_load_from_a_recipe_and_travel_whole_to_the_tasks():
    r = load_recipe(None, ["toy.noise=10", "toy.shapes=circle,star,diamond", "toy.sizes=small,large",
                           "toy.jitter_px=5", "toy.rotate=30", "toy.shades=true", "toy.color_distance=30"])
    w = r.toy
    assert (w.noise, w.shapes, w.sizes, w.jitter_px, w.rotate, w.shades) == (
        10.0, ["circle", "star", "diamond"], ["small", "large"], 5, 30, True)
    a = get_task("toy_visual").generate(12, "train", 3, w)
    assert a == generate_items("visual", 12, "train", 3, w, task="toy_visual")
    assert any(o["shape"] in ("star", "diamond") for it in a for o in it["facts"]["objects"])
    assert a[0]["facts"]["noise"] == 10.0 and "palette" in a[0]["facts"]
    assert get_task("toy_caption").generate(4, "train", 3, w) == caption_items(4, "train", 3, w)


def test_a_world_is_given_whole_or_by_keywords_not_both():
    with pytest.raises(TypeError, match="not both"):
        generate_items("visual", 2, "train", 0, ToyWorldSpec(), grid=4)
    assert generate_items("visual", 5, "train", 0, grid=5) == generate_items(
        "visual", 5, "train", 0, ToyWorldSpec(grid=5, inventory=False))


@pytest.mark.parametrize("override,key", [
    ("toy.cell_px=20", "toy.cell_px"),  # 4 x 20 is not a whole number of 28 px tokens
    ("toy.jitter_px=14", "toy.jitter_px"),  # a centre could leave its cell
    ("toy.object_scale=0", "toy.object_scale"),
    ("toy.object_scale=0.3", "toy.object_scale"),  # 6 px objects: too small to tell shapes apart
    ("toy.rotate=181", "toy.rotate"),
    ("toy.shapes=circle", "toy.shapes"),
    ("toy.shapes=circle,blob", "toy.shapes"),
    ("toy.sizes=small", "toy.sizes"),
    ("toy.sizes=small,huge", "toy.sizes"),
    ("toy.color_distance=200", "toy.color_distance"),
    ("toy.noise=-1", "toy.noise"),
    ("toy.distractors=-1", "toy.distractors"),
])
def test_bad_knobs_are_refused_naming_the_key(override, key):
    with pytest.raises(UserError, match=re.escape(key)):
        load_recipe(None, [override])


@pytest.mark.parametrize("knob", list(KNOBS))
def test_the_knob_worlds_are_valid_settings(knob):
    validate(Recipe(toy=KNOBS[knob]))


def test_count_options_are_unchanged():
    assert COUNT_OPTIONS == ["0", "1", "2", "3", "4"] and SIZE_SCALE["large"] == 1.0
