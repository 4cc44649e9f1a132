import re

import pytest
from PIL import Image

from seethink.toyworld import generate_items, render_scene
from seethink.toyworld.generators import COUNT_OPTIONS, PERCEPTION_FAMILIES, split_of
from seethink.toyworld.scenes import RGB, Scene

CAPS = ("perception", "text", "visual")


@pytest.mark.parametrize("cap", CAPS)
def test_deterministic_per_seed(cap):
    a = generate_items(cap, 30, "train", seed=5)
    assert a == generate_items(cap, 30, "train", seed=5)
    assert a != generate_items(cap, 30, "train", seed=6)


@pytest.mark.parametrize("cap", CAPS)
def test_held_out_never_overlaps_training(cap):
    train = generate_items(cap, 400, "train", seed=0)
    test = generate_items(cap, 100, "test", seed=0)
    other_seed_train = generate_items(cap, 400, "train", seed=99)
    test_ids = {t["id"] for t in test}
    assert not test_ids & {t["id"] for t in train}
    assert not test_ids & {t["id"] for t in other_seed_train}
    assert all(split_of_item(t) == "test" for t in test)
    assert len(test_ids) == 100  # no duplicates


def split_of_item(item):
    from seethink.toyworld.scenes import Scene

    scene_key = Scene.from_facts(item["facts"]).key() if "objects" in item["facts"] else ""
    return split_of(item["question"] + "|" + scene_key)


def _recount(item):
    scene = Scene.from_facts(item["facts"])
    q = item["question"]
    m = re.match(r"How many (\w+) shapes are there\?", q)
    if m:
        return str(scene.count(color=m.group(1)))
    m = re.match(r"How many (\w+)s are there\?", q)
    if m:
        return str(scene.count(shape=m.group(1)))
    return None


def test_perception_answers_match_the_scene():
    items = generate_items("perception", 300, "train", seed=1)
    families = {it["facts"]["family"] for it in items}
    assert families == set(PERCEPTION_FAMILIES)
    counts: set[str] = set()
    for it in items:
        opts = it["options"]
        letter = it["answer"]
        chosen = opts["ABCDE".index(letter)]
        fam = it["facts"]["family"]
        scene = Scene.from_facts(it["facts"])
        if fam.startswith("count"):
            assert opts == COUNT_OPTIONS  # fixed order: it matters to the tiny model
            assert chosen == _recount(it)
            counts.add(chosen)
        elif fam == "color_of":
            shape = re.match(r"What colour is the (\w+)\?", it["question"]).group(1)
            (obj,) = [o for o in scene.objects if o.shape == shape]
            assert obj.color == chosen
        elif fam == "shape_of":
            color = re.match(r"What shape is the (\w+) one\?", it["question"]).group(1)
            (obj,) = [o for o in scene.objects if o.color == color]
            assert obj.shape == chosen
        elif fam == "relative":
            a, b = re.match(r"Is the (\w+ \w+) left of the (\w+ \w+)\?", it["question"]).groups()
            (oa,) = [o for o in scene.objects if o.name == a]
            (ob,) = [o for o in scene.objects if o.name == b]
            assert (oa.col < ob.col) == (chosen == "yes")
        elif fam == "exists":
            color, shape = re.match(r"Is there a (\w+) (\w+)\?", it["question"]).groups()
            assert (scene.count(color=color, shape=shape) > 0) == (chosen == "yes")
        assert it["solution"].endswith(f"\\boxed{{{letter}}}")
    # Zero is asked too: visual items count from zero, and perception must teach it.
    assert counts == set(COUNT_OPTIONS)


def test_visual_items_keep_consistent_subquestions():
    for it in generate_items("visual", 200, "train", seed=2):
        scene = Scene.from_facts(it["facts"])
        counts = [int(s["answer"]) for s in it["subquestions"]]
        assert len(counts) == 2
        for sq, n in zip(it["subquestions"], counts, strict=True):
            assert _recount({"question": sq["question"], "facts": it["facts"]}) == str(n)
        a, b = counts
        expect = {"product": a * b, "sum": a + b, "difference": a - b}[it["facts"]["family"]]
        assert int(it["answer"]) == expect
        assert scene.objects


def test_text_items_are_solved_by_their_worked_solution():
    for it in generate_items("text", 200, "train", seed=3, text_steps_min=2, text_steps_max=4):
        assert not it["images"] and "objects" not in it["facts"]
        steps = re.findall(r"(\d+)([-+*])(\d+)=(\d+)", it["solution"])
        assert steps, it["solution"]
        for a, op, b, res in steps:
            assert eval(f"{a}{op}{b}") == int(res)
        assert steps[-1][3] == it["answer"]
        assert int(it["answer"]) >= 0


def test_render_and_caption():
    it = generate_items("perception", 1, "train", seed=4)[0]
    scene = Scene.from_facts(it["facts"])
    img = render_scene(scene, cell_px=28)
    assert isinstance(img, Image.Image) and img.size == (112, 112)
    for o in scene.objects:
        cx, cy = o.col * 28 + 14, o.row * 28 + 16
        assert img.getpixel((cx, cy)) == RGB[o.color]
        assert f"{o.color} {o.shape} in row {o.row + 1}, column {o.col + 1}" in it["caption"]
    empty = [(r, c) for r in range(4) for c in range(4) if scene.at(r, c) is None]
    r, c = empty[0]
    assert img.getpixel((c * 28 + 14, r * 28 + 14)) == (255, 255, 255)


def test_difficulty_knobs():
    items = generate_items("perception", 50, "train", seed=0, min_shapes=6, max_shapes=6)
    assert all(len(it["facts"]["objects"]) == 6 for it in items)
    with pytest.raises(ValueError, match="capability"):
        generate_items("smell", 1, "train", 0)


def test_perception_answers_are_balanced_within_each_family():
    """No constant answer may beat chance: GRPO otherwise learns to answer the common letter."""
    from collections import Counter, defaultdict

    from seethink.toyworld.generators import _N_OPTIONS

    letters: dict[str, Counter] = defaultdict(Counter)
    for it in generate_items("perception", 1200, "train", seed=3):
        letters[it["facts"]["family"]][it["answer"]] += 1
    for family, counts in letters.items():
        n, k = sum(counts.values()), _N_OPTIONS[family]
        assert len(counts) == k, family
        for letter, c in counts.items():  # uniform up to sampling noise (~4 standard errors)
            assert abs(c / n - 1 / k) < 4 * ((1 / k) * (1 - 1 / k) / n) ** 0.5 + 0.01, (family, letter, counts)


def test_held_out_perception_is_stratified_so_majority_is_chance():
    """Test items take family and letter in turn: equal family shares, each family's letters
    right equally often (to one item), so the majority-answer baseline is chance, whatever n."""
    from collections import Counter, defaultdict

    from seethink.toyworld.evaluate import majority_baseline
    from seethink.toyworld.generators import _N_OPTIONS, PERCEPTION_FAMILIES

    items = generate_items("perception", 200, "test", seed=5)
    families = Counter(it["facts"]["family"] for it in items)
    assert set(families) == set(PERCEPTION_FAMILIES) and max(families.values()) - min(families.values()) <= 1
    letters: dict[str, Counter] = defaultdict(Counter)
    for it in items:
        letters[it["facts"]["family"]][it["answer"]] += 1
    for family, counts in letters.items():
        assert len(counts) == _N_OPTIONS[family] and max(counts.values()) - min(counts.values()) <= 1, counts
    chance = 100 * sum(1 / len(it["options"]) for it in items) / len(items)
    assert abs(majority_baseline(items) - chance) < 1.5
    assert len({it["id"] for it in items}) == 200  # still distinct, still held out
    assert all(split_of_item(it) == "test" for it in items)


def test_inventory_opens_image_solutions_and_lists_in_its_order():
    """`inventory` changes only the worked solutions: they open with the scene by colour."""
    from seethink.toyworld.scenes import COLORS

    for cap in ("perception", "visual"):
        plain = generate_items(cap, 60, "train", seed=5)
        inv = generate_items(cap, 60, "train", seed=5, inventory=True)
        assert [it["id"] for it in plain] == [it["id"] for it in inv]
        for a, b in zip(plain, inv, strict=True):
            assert a["question"] == b["question"] and a["answer"] == b["answer"]
            groups = []
            for c in COLORS:  # absent colours are left out; shapes in reading order
                objs = sorted((o for o in b["facts"]["objects"] if o["color"] == c), key=lambda o: (o["row"], o["col"]))
                if objs:
                    groups.append(f"{c}: {', '.join(o['shape'] for o in objs)}.")
            assert b["solution"].startswith(f"<think> {' '.join(groups)} "), b["solution"]
            assert b["solution"].endswith(a["solution"].split("</think>")[1])
            # a shape group's listing follows the inventory's colour order
            m = re.search(r"(circles|squares|triangles): ((?:\d \w+(?:, )?)+)\.", b["solution"])
            if m:
                named = [w.split()[1] for w in m.group(2).split(", ")]
                assert named == sorted(named, key=COLORS.index), b["solution"]
    text = generate_items("text", 5, "train", seed=5, inventory=True)
    assert text == generate_items("text", 5, "train", seed=5)


def test_inventory_grading_needs_the_whole_inventory():
    from seethink.toyworld.generators import inventory_read_right

    it = next(i for i in generate_items("perception", 40, "test", seed=2, inventory=True)
              if len({o["color"] for o in i["facts"]["objects"]}) >= 2)
    sol = it["solution"]
    assert inventory_read_right(it, sol) is True
    assert inventory_read_right(it, sol.replace("<think> ", "<think>", 1)) is True  # spacing is not graded
    first_group = sol.removeprefix("<think> ").split(". ")[0] + "."
    assert inventory_read_right(it, f"<think> {first_group} The end.</think>") is False  # a colour left out
    extra = "yellow: circle." if "yellow:" not in sol.split("</think>")[0] else "red: circle."
    assert inventory_read_right(it, sol.replace("<think> ", f"<think> {extra} ", 1)) is False
    assert inventory_read_right(it, "<think> I see nothing.</think> \\boxed{A}") is False
    plain = generate_items("perception", 1, "test", seed=2)[0]  # no inventory in its solution: not graded
    assert inventory_read_right(plain, sol) is None
    assert inventory_read_right(generate_items("text", 1, "test", seed=2, inventory=True)[0], sol) is None
