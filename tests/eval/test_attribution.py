"""Perception-error attribution on hand-built predictions: each reading's flags, the shares on
wrong and right answers, the wrong-answer categories, the sub-question items and the probe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seethink.eval.attribution import (
    attribute,
    available_readings,
    primary_reading,
    probe_flag,
    probe_subquestions,
)
from seethink.rewards import build_reward
from seethink.toyworld import generate_items
from seethink.toyworld.attribution import (
    CATEGORIES,
    PROBES,
    READINGS,
    classify,
    group_filter,
    own_inventory,
    question_groups,
    stated_count,
    subquestion_items,
)
from seethink.toyworld.generators import COUNT_OPTIONS, LETTERS, enumerate_matches, scene_inventory
from seethink.toyworld.scenes import COLORS, SHAPES, Obj, Scene

OPS = {"product": ("*", lambda a, b: a * b), "sum": ("+", lambda a, b: a + b),
       "difference": ("-", lambda a, b: a - b)}


def _scene(item: dict) -> Scene:
    return Scene.from_facts(item["facts"])


def _response(item: dict, seen: Scene, listings: list[str] | None = None, result: int | None = None) -> str:
    """A worked answer written by a model that saw `seen` (the inventory) and listed `listings`
    (default: the listings of `seen`), with the arithmetic done on the listed counts (or `result`)."""
    groups = question_groups(item)
    assert groups is not None
    if listings is None:
        listings = [enumerate_matches(seen, **g, by_colour=True) for _, g in groups]
    counts = [0 if body == "none" else len(body.split(", ")) for body in listings]
    sym, op = OPS[item["facts"]["family"]]
    value = op(*counts) if result is None else result
    parts = " ".join(f"{name}: {body}." for (name, _), body in zip(groups, listings, strict=True))
    return f"<think> {scene_inventory(seen)} {parts} {counts[0]}{sym}{counts[1]}={value}.</think> \\boxed{{{value}}}"


def _free_cell(scene: Scene) -> tuple[int, int]:
    taken = {(o.row, o.col) for o in scene.objects}
    return next((r, c) for r in range(scene.grid) for c in range(scene.grid) if (r, c) not in taken)


def _with(scene: Scene, color: str, shape: str) -> Scene:
    r, c = _free_cell(scene)
    return Scene(scene.grid, (*scene.objects, Obj(r, c, shape, color)))


def _in_group(item: dict) -> Scene:
    """The scene plus one object of the question's first group (a relevant misread)."""
    (_, g), _ = question_groups(item)  # type: ignore[misc]
    return _with(_scene(item), g.get("color", COLORS[0]), g.get("shape", SHAPES[0]))


def _outside_groups(item: dict) -> Scene:
    """The scene plus one object in none of the question's groups (an irrelevant misread)."""
    groups = [g for _, g in question_groups(item)]  # type: ignore[union-attr]
    color = next(c for c in COLORS if all(g.get("color") != c for g in groups))
    shape = next(s for s in SHAPES if all(g.get("shape") != s for g in groups))
    return _with(_scene(item), color, shape)


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return generate_items("visual", 8, "test", seed=11, inventory=True)


def _cases(items: list[dict]) -> list[tuple[str, dict, str, bool]]:
    """(case, item, response, correct) for one of each kind of answer."""
    a, b, c, d, e, f, g = items[:7]
    right_listing = [enumerate_matches(_scene(c), **grp, by_colour=True) for _, grp in question_groups(c)]
    # One entry too many in the first listing, on a right inventory.
    first = right_listing[0]
    right_listing[0] = "1 circle" if first == "none" else f"{first}, {len(first.split(', ')) + 1} red"
    return [
        ("reasoned_wrong", a, _response(a, _scene(a), result=int(a["answer"]) + 1), False),
        ("saw_wrong", b, _response(b, _in_group(b)), False),
        ("misread_description", c, _response(c, _scene(c), right_listing), False),
        ("garbage", d, "I think the answer is \\boxed{7}", False),
        ("irrelevant_misread_wrong", e, _response(e, _outside_groups(e), result=int(e["answer"]) + 2), False),
        ("right", f, f["solution"], True),
        ("irrelevant_misread_right", g, _response(g, _outside_groups(g)), True),
    ]


# What each reading must say per case.
EXPECTED = {
    "reasoned_wrong": dict(misseen_facts=False, inventory=False, inventory_groups=False, trace_facts=False, own_description=False),
    "saw_wrong": dict(misseen_facts=True, inventory=True, inventory_groups=True, trace_facts=True, own_description=False),
    "misread_description": dict(misseen_facts=False, inventory=False, inventory_groups=False, trace_facts=True, own_description=True),
    "garbage": dict(misseen_facts=None, inventory=None, inventory_groups=None, trace_facts=None, own_description=None),
    "irrelevant_misread_wrong": dict(misseen_facts=False, inventory=True, inventory_groups=False, trace_facts=False,
                                     own_description=False),
    "right": dict(misseen_facts=False, inventory=False, inventory_groups=False, trace_facts=False, own_description=False),
    "irrelevant_misread_right": dict(misseen_facts=False, inventory=True, inventory_groups=False, trace_facts=False,
                                     own_description=False),
}
CATEGORY = {"reasoned_wrong": "reasoned_wrong", "saw_wrong": "saw_wrong",
            "misread_description": "misread_description", "garbage": "undecided",
            "irrelevant_misread_wrong": "reasoned_wrong"}


def test_each_reading_flags_each_case(items):
    for case, item, resp, _ in _cases(items):
        got = {name: fn(item, resp) for name, fn in READINGS.items()}
        assert got == EXPECTED[case], (case, resp)
        if case in CATEGORY:
            assert classify(item, resp) == CATEGORY[case], case
    # Judged by the question's groups only, an irrelevant misread is a reasoning error.
    _, item, resp, _ = _cases(items)[4]
    assert classify(item, resp, scope="question") == "reasoned_wrong"
    with pytest.raises(ValueError):
        classify(item, resp, scope="everything")


def test_aggregate_shares_on_wrong_and_right(items):
    cases = _cases(items)
    preds = [{"id": it["id"], "capability": "visual", "answer": it["answer"], "response": resp, "correct": ok}
             for _, it, resp, ok in cases]
    preds.append({"id": "toy_perception-x", "capability": "perception", "response": "", "correct": False})
    ids = [it["id"] for _, it, _, _ in cases]
    # Sub-answers right per item: item 4 (garbage) had no sub-questions, item 5 was not probed.
    probe = {ids[0]: [True, True], ids[1]: [False, True], ids[2]: [True, True], ids[3]: [],
             ids[5]: [True], ids[6]: [True, False]}
    res = attribute(preds, items, READINGS, {"subquestions": probe}, classify=classify)
    assert (res["n"], res["wrong"], res["right"]) == (7, 5, 2)
    r = res["readings"]
    assert r["inventory"] == dict(wrong_n=5, wrong_flagged=2, wrong_share=50.0, undecided_wrong=1,
                                  right_n=2, right_flagged=1, right_share=50.0, undecided_right=0)
    # A misread the answer never used (the irrelevant object, right counts listed) is not flagged by
    # misseen_facts, on the wrong answer or on the right one, where `inventory` flags both.
    assert r["misseen_facts"] == dict(wrong_n=5, wrong_flagged=1, wrong_share=25.0, undecided_wrong=1,
                                      right_n=2, right_flagged=0, right_share=0.0, undecided_right=0)
    assert (r["inventory_groups"]["wrong_flagged"], r["inventory_groups"]["wrong_share"]) == (1, 25.0)
    assert r["inventory_groups"]["right_share"] == 0.0
    assert (r["trace_facts"]["wrong_flagged"], r["trace_facts"]["wrong_share"]) == (2, 50.0)
    assert (r["own_description"]["wrong_flagged"], r["own_description"]["wrong_share"]) == (1, 25.0)
    assert r["subquestions"] == dict(wrong_n=5, wrong_flagged=1, wrong_share=100 / 3, undecided_wrong=2,
                                     right_n=2, right_flagged=1, right_share=50.0, undecided_right=0)
    assert [row["id"] for row in res["items"]] == ids
    assert res["items"][1] == {"id": ids[1], "correct": False, "misseen_facts": True, "inventory": True,
                               "inventory_groups": True,
                               "trace_facts": True, "own_description": False, "subquestions": True,
                               "category": "saw_wrong"}
    assert "category" not in res["items"][5]  # right answers are not classified
    assert res["categories"] == {"misread_description": {"n": 1, "share": 20.0},
                                 "reasoned_wrong": {"n": 2, "share": 40.0},
                                 "saw_wrong": {"n": 1, "share": 20.0}, "undecided": {"n": 1, "share": 20.0}}
    assert set(available_readings(res)) == {*READINGS, "subquestions"}
    assert primary_reading(available_readings(res)) == "misseen_facts"
    # Items keyed by id work too; other capabilities can be attributed instead.
    assert attribute(preds, {it["id"]: it for it in items}, READINGS)["readings"]["inventory"] == r["inventory"]
    assert attribute(preds, items, {}, capability="text")["n"] == 0


def test_attribute_rejects_unknown_ids_and_name_clashes(items):
    pred = {"id": "nope", "capability": "visual", "response": "", "correct": False}
    with pytest.raises(ValueError, match="nope"):
        attribute([pred], items, READINGS)
    with pytest.raises(ValueError, match="share names"):
        attribute([], items, READINGS, {"inventory": {}})


def test_primary_reading_and_probe_flag():
    assert primary_reading(["trace_facts", "subquestions", "inventory"]) == "inventory"
    assert primary_reading(["inventory", "misseen_facts"]) == "misseen_facts"
    assert primary_reading(["trace_facts", "subquestions"]) == "subquestions"
    with pytest.raises(ValueError):
        primary_reading(["trace_facts"])
    assert primary_reading(["judge"], order=["judge"]) == "judge"
    assert (probe_flag([True, True]), probe_flag([True, False]), probe_flag([]), probe_flag(None)) == (
        False, True, None, None)
    # Nothing decided on wrong answers: not available.
    res = attribute([{"id": "a", "capability": "visual", "response": "x", "correct": False}],
                    [{"id": "a", "facts": {}, "subquestions": []}], READINGS)
    assert available_readings(res) == [] and res["readings"]["inventory"]["wrong_share"] is None


def test_parsing_of_listings_and_inventories():
    resp = "<think> red: square, circle. blue: triangle. red shapes: 1 square, 2 circle. squares: none. 2*0=0.</think> \\boxed{0}"
    assert own_inventory(resp) == [("red", "square"), ("red", "circle"), ("blue", "triangle")]
    assert (stated_count(resp, "red shapes"), stated_count(resp, "squares"), stated_count(resp, "circles")) == (2, 0, None)
    assert stated_count("<think> circles: lots.</think>", "circles") is None  # malformed: cannot tell
    assert stated_count("<think> circles: 1 red, 3 red. cut off", "circles") == 2  # entries, not numbers
    assert own_inventory("<think> red shapes: 1 square.</think>") is None
    assert (group_filter("red shapes"), group_filter("circles"), group_filter("purple shapes")) == (
        {"color": "red"}, {"shape": "circle"}, None)
    # No inventory in the worked solution: the inventory readings cannot tell, trace_facts still can.
    item = generate_items("visual", 1, "test", seed=3)[0]
    assert READINGS["inventory"](item, item["solution"]) is None
    assert READINGS["own_description"](item, item["solution"]) is None
    assert READINGS["trace_facts"](item, item["solution"]) is False


@pytest.mark.parametrize("seed", range(6))
def test_worked_solutions_read_clean(seed):
    """On every item's own worked solution no reading flags anything and the class is reasoning."""
    for it in generate_items("visual", 25, "test", seed=seed, inventory=True):
        assert {name: fn(it, it["solution"]) for name, fn in READINGS.items()} == dict.fromkeys(READINGS, False)
        assert classify(it, it["solution"]) == "reasoned_wrong"


@pytest.mark.parametrize("world", [
    {"shapes": ["circle", "square", "triangle", "star", "diamond"]},
    {"sizes": ["small", "large"]},
    {"shapes": ["circle", "square", "triangle", "hexagon"], "sizes": ["small", "medium", "large"]},
])
def test_worked_solutions_read_clean_in_worlds_with_more_shapes_and_sizes(world):
    """The readings parse inventories with extra shapes and two-word (sized) entries; a
    corrupted inventory entry is caught."""
    from seethink.config import ToyWorldSpec

    for it in generate_items("visual", 25, "test", 4, ToyWorldSpec(**world)):
        assert {name: fn(it, it["solution"]) for name, fn in READINGS.items()} == dict.fromkeys(READINGS, False)
        assert own_inventory(it["solution"]) is not None
        colour, entry = own_inventory(it["solution"])[0]
        other = next(c for c in COLORS if c != colour)
        bad = it["solution"].replace(f"{colour}: {entry}", f"{other}: {entry}", 1)
        if bad != it["solution"]:
            assert READINGS["inventory"](it, bad) is True


_FUZZ_ITEMS = generate_items("visual", 5, "test", seed=2, inventory=True)


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 4), cut=st.integers(0, 200), noise=st.text(max_size=40))
def test_readings_never_crash(k, cut, noise):
    """Cut-off or corrupted answers (as sampling gives) are always read as True / False / None."""
    item = _FUZZ_ITEMS[k]
    for resp in (item["solution"][:cut] + noise, noise + item["solution"][cut:], noise):
        assert all(fn(item, resp) in (True, False, None) for fn in READINGS.values())
        assert classify(item, resp) in CATEGORIES


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("inventory", [True, False])
def test_subquestion_items_match_the_scene(seed, inventory):
    reward = build_reward()
    for it in generate_items("visual", 25, "test", seed=seed, inventory=inventory):
        scene = _scene(it)
        subs = subquestion_items(it)
        expect = [(k, sq) for k, sq in enumerate(it["subquestions"]) if int(sq["answer"]) <= 4]
        assert [s["id"] for s in subs] == [f"{it['id']}-sq{k}" for k, _ in expect]
        for s, (_, sq) in zip(subs, expect, strict=True):
            name = sq["question"].removeprefix("How many ").removesuffix(" are there?")
            count = scene.count(**group_filter(name))
            assert s["answer"] == LETTERS[COUNT_OPTIONS.index(str(count))]
            assert (s["capability"], s["task"], s["options"], s["question"]) == (
                "perception", "toy_perception", COUNT_OPTIONS, sq["question"])
            assert s["facts"]["objects"] == it["facts"]["objects"] and s["facts"]["grid"] == it["facts"]["grid"]
            assert reward(s["solution"], s)["accuracy"] == 1.0  # its worked solution answers right
            assert s["solution"].startswith(f"<think> {scene_inventory(scene)} ") == inventory
    # Counts over 4 are not options: skipped, keeping the other's position in its id.
    it = {"id": "v", "facts": {"grid": 4, "objects": [{"row": 0, "col": k, "shape": "circle", "color": "red"}
                                                      for k in range(4)] + [{"row": 1, "col": 0, "shape": "circle",
                                                                             "color": "red"}]},
          "subquestions": [{"question": "How many circles are there?", "answer": "5"},
                           {"question": "How many squares are there?", "answer": "0"}]}
    assert [(s["id"], s["answer"]) for s in subquestion_items(it)] == [("v-sq1", "A")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A random tiny Qwen2-VL whose tokenizer is trained on a few items only (fast)."""
    from seethink.data.prompts import render_prompt
    from seethink.models.build_tiny import build_tiny
    from seethink.models.load import load_model
    from seethink.models.tokenizer import train_tokenizer

    its = generate_items("visual", 20, "train", seed=0, inventory=True)
    corpus = [t for it in its for s in [it, *subquestion_items(it)] for t in (render_prompt(s), s["solution"])]
    tok = train_tokenizer(corpus, vocab_size=320)
    return load_model(build_tiny("qwen2_vl", tmp_path_factory.mktemp("tiny-attr"), tokenizer=tok))


def test_probe_returns_one_bool_per_subitem(tiny, items):
    model, processor = tiny
    probed = items[:3] + [{**items[3], "subquestions": []}]
    seen: list[str] = []

    def reward(resp: str, sub: dict) -> dict[str, float]:
        seen.append(sub["id"])
        return build_reward()(resp, sub)

    out = probe_subquestions(model, processor, probed, reward, PROBES["subquestions"], batch_size=3,
                             max_new_tokens=4)
    assert list(out) == [it["id"] for it in probed]
    for it in probed:
        assert len(out[it["id"]]) == len(subquestion_items(it))
        assert all(isinstance(x, bool) for x in out[it["id"]])
    assert out[probed[3]["id"]] == []
    assert sorted(seen) == sorted(s["id"] for it in probed for s in subquestion_items(it))


def test_category_rows_split_each_arms_wrong_answers(items):
    """Per arm over seeds: hand-built wrong answers of each kind land in their category, with
    shares that add up to 100 and intervals around them."""
    from types import SimpleNamespace

    from seethink.eval.attribution import CATEGORIES as LABELS
    from seethink.experiment.attribution import category_rows

    def wrong(item: dict, kind: str) -> str:
        scene = _scene(item)
        truth = [scene.count(**g) for _, g in question_groups(item)]  # type: ignore[union-attr]
        if kind == "saw_wrong":
            return _response(item, _in_group(item))
        if kind == "misread_description":
            groups = question_groups(item)
            listings = [enumerate_matches(scene, **g, by_colour=True) for _, g in groups]  # type: ignore[union-attr]
            listings[0] = ", ".join(f"{i + 1} red" for i in range(truth[0] + 1))
            return _response(item, scene, listings)
        return _response(item, scene, result=int(item["answer"]) + 1)

    kinds = ["saw_wrong", "misread_description", "reasoned_wrong", "reasoned_wrong"]
    preds = {it["id"]: {"id": it["id"], "capability": "visual", "correct": False,
                        "response": wrong(it, kinds[k % 4])} for k, it in enumerate(items[:40])}
    study = SimpleNamespace(arms=["staged"], arm_seeds=lambda arm: [0, 1], pred=lambda arm, seed: preds)
    rows = category_rows(study, items)  # type: ignore[arg-type]
    assert [r["arm"] for r in rows] == ["base", "staged"] and set(LABELS) == set(CATEGORIES)
    staged = rows[1]
    assert staged["saw_wrong"]["share"] == pytest.approx(25.0)
    assert staged["misread_description"]["share"] == pytest.approx(25.0)
    assert staged["reasoned_wrong"]["share"] == pytest.approx(50.0)
    assert staged["undecided"]["share"] == 0.0
    assert staged["reasoned_wrong"]["ci_low"] < 50.0 < staged["reasoned_wrong"]["ci_high"]
