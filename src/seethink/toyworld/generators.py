"""Question generators for the three capabilities of the toy world.

Every item is a plain dict (one JSONL row once written):
  id, task, capability, question, options (list, may be empty), answer (letter or number
  as text), facts (scene facts + question family), caption, subquestions, solution
  (a worked `<think>` answer used only by the warm start), images (paths, filled on export).

Train and test never overlap: an item's split is a hash of its content (question +
scene), so however many items or seeds are drawn, a held-out item can never be a
training item.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seethink.toyworld.scenes import COLORS, SHAPES, Scene, dress_scene, sample_scene

if TYPE_CHECKING:
    from seethink.config import ToyWorldSpec

LETTERS = "ABCDEFGHIJ"
TEST_FRACTION = 5  # one item in 5 (by content hash) is held out
# Fixed order: shuffled options defeated the tiny model. Zero is an option because visual
# items count from zero too: with counts 1-4 only, perception RL paid for listing more
# shapes and the model then over-counted in visual reasoning (docs/toy-world.md).
COUNT_OPTIONS = ["0", "1", "2", "3", "4"]
PERCEPTION_FAMILIES = ("count_color", "count_shape", "color_of", "shape_of", "exists", "relative")
SIZE_FAMILY = "size_of"  # a seventh perception family, in worlds whose objects have sizes (`toy.sizes`)
YES_NO = ["yes", "no"]
_N_OPTIONS = {"count_color": len(COUNT_OPTIONS), "count_shape": len(COUNT_OPTIONS), "color_of": len(COLORS),
              "shape_of": len(SHAPES), "exists": len(YES_NO), "relative": len(YES_NO)}
NAMES = ("Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gia", "Hugo")
THINGS = ("apple", "coin", "book", "card", "shell", "stamp")


def split_of(key: str) -> str:
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return "test" if h % TEST_FRACTION == 0 else "train"


def _plural(shape: str) -> str:
    return shape + "s"


def _descriptor(rng: random.Random, shapes: tuple[str, ...] = SHAPES) -> tuple[str, dict]:
    """A countable group: all shapes of one colour, or all of one kind."""
    group = {"color": rng.choice(COLORS)} if rng.random() < 0.5 else {"shape": rng.choice(shapes)}
    return _group_name(group), group


def _group_name(group: dict) -> str:
    return f"{group['color']} shapes" if "color" in group else _plural(group["shape"])


def _mc(question: str, options: list[str], correct: str) -> tuple[str, list[str], str]:
    return question, options, LETTERS[options.index(correct)]


def enumerate_matches(scene: Scene, color: str | None = None, shape: str | None = None,
                      by_colour: bool = False) -> str:
    """The objects of a group, numbered in reading order: "1 circle, 2 square" or "none".

    Worked solutions count by listing: every listed word depends on the image (dense
    supervision that teaches the model to read it) and the count is the last number,
    which a tiny model can copy instead of having to count in its head.
    """
    # by_colour: in the order of the scene inventory (colour, then reading order), so that
    # with `inventory` on, the listing copies the inventory's words in the order written.
    order = _inventory_order if by_colour else _reading_order
    hits = [o for o in sorted(scene.objects, key=order)
            if (color is None or o.color == color) and (shape is None or o.shape == shape)]
    if not hits:
        return "none"
    # Name the attribute the group does not fix (colour groups list shapes, and so on).
    words = [o.shape if color and not shape else o.color if shape and not color else o.name for o in hits]
    return ", ".join(f"{i + 1} {w}" for i, w in enumerate(words))


def scene_inventory(scene: Scene) -> str:
    """The scene by colour, in a fixed colour order: "red: circle, square. blue: triangle."

    Colours that are absent are left out; shapes of one colour are in reading order. In a
    world with sizes each shape carries its size ("red: small circle, large square.").
    """
    groups = []
    for c in COLORS:
        shapes = [f"{o.size} {o.shape}" if o.size else o.shape
                  for o in sorted(scene.objects, key=_reading_order) if o.color == c]
        if shapes:
            groups.append(f"{c}: {', '.join(shapes)}.")
    return " ".join(groups)


_INVENTORY = re.compile(r"\s*((?:(?:" + "|".join(COLORS) + r"): \w+(?:, \w+)*\.\s*)+)")
# With sizes an entry is two words ("small circle"); used only for items whose objects have sizes,
# so the original world's inventories are matched exactly as before.
_SIZED_INVENTORY = re.compile(r"\s*((?:(?:" + "|".join(COLORS) + r"): \w+ \w+(?:, \w+ \w+)*\.\s*)+)")


def inventory_read_right(item: dict, response: str) -> bool | None:
    """Whether `response` opens with the item's scene inventory, exactly; None when the item's
    worked solution has no inventory (so there is nothing to grade).

    This splits perception errors from reasoning errors: a right inventory followed by a wrong
    answer is a mistake made after the image was read.
    """
    facts = item.get("facts") or {}
    if "objects" not in facts:
        return None
    truth = scene_inventory(Scene.from_facts(facts))
    if not item.get("solution", "").startswith(f"<think> {truth} "):
        return None
    sized = any(o.get("size") for o in facts["objects"])
    m = (_SIZED_INVENTORY if sized else _INVENTORY).match(response.removeprefix("<think>"))
    return m is not None and " ".join(m.group(1).split()) == truth


def _reading_order(o: object) -> tuple[int, int]:
    return (o.row, o.col)  # type: ignore[attr-defined]


def _inventory_order(o: object) -> tuple[int, int, int]:
    return (COLORS.index(o.color), o.row, o.col)  # type: ignore[attr-defined]


def _solution(think: str, answer: object) -> str:
    # The space after <think> matters: with a byte-level tokenizer " squares" (as in the
    # question) and "squares" are different tokens, and a tiny model trained from scratch
    # could not learn to copy question words into its reasoning across that gap.
    return f"<think> {think}</think> \\boxed{{{answer}}}"


# ---------------------------------------------------------------- perception


# Each perception family: (rng, scene, by_colour, shapes, sizes) -> (question, options, answer letter,
# worked reasoning), or None when the scene cannot carry the question.
_Asked = tuple[str, list[str], str, str]
_Ask = Callable[[random.Random, Scene, bool, tuple[str, ...], tuple[str, ...]], _Asked | None]


def _count_group(scene: Scene, group: dict, by_colour: bool) -> _Asked | None:
    n, what = scene.count(**group), _group_name(group)
    if not 0 <= n <= 4:
        return None
    q, opts, ans = _mc(f"How many {what} are there?", COUNT_OPTIONS, str(n))
    return q, opts, ans, f"{what}: {enumerate_matches(scene, **group, by_colour=by_colour)}. That is {n}, {ans}."


def _count_color(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
                 sizes: tuple[str, ...]) -> _Asked | None:
    return _count_group(scene, {"color": rng.choice(COLORS)}, by_colour)


def _count_shape(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
                 sizes: tuple[str, ...]) -> _Asked | None:
    return _count_group(scene, {"shape": rng.choice(shapes)}, by_colour)


def _color_of(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
              sizes: tuple[str, ...]) -> _Asked | None:
    # Content-addressed ("the circle"), not position-addressed ("row 2, column 3"):
    # the tiny model never learned to map row/column words to image-token positions.
    s = rng.choice(shapes)
    if scene.count(shape=s) != 1:
        return None
    o = next(o for o in scene.objects if o.shape == s)
    q, opts, ans = _mc(f"What colour is the {s}?", list(COLORS), o.color)
    return q, opts, ans, f"The {s} is {o.color}. {o.color} is {ans}."


def _shape_of(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
              sizes: tuple[str, ...]) -> _Asked | None:
    c = rng.choice(COLORS)
    if scene.count(color=c) != 1:
        return None
    o = next(o for o in scene.objects if o.color == c)
    q, opts, ans = _mc(f"What shape is the {c} one?", list(shapes), o.shape)
    return q, opts, ans, f"The {c} one is a {o.shape}. {o.shape} is {ans}."


def _exists(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
            sizes: tuple[str, ...]) -> _Asked | None:
    # Ask about a present object half the time, so "no" is not the majority answer.
    if rng.random() < 0.5:
        o = rng.choice(scene.objects)
        c, s = o.color, o.shape
    else:
        c, s = rng.choice(COLORS), rng.choice(shapes)
    present = scene.count(color=c, shape=s) > 0
    q, opts, ans = _mc(f"Is there a {c} {s}?", YES_NO, "yes" if present else "no")
    listed = enumerate_matches(scene, color=c, shape=s, by_colour=by_colour)
    return q, opts, ans, f"{c} {s}: {listed}. So {opts[LETTERS.index(ans)]}, {ans}."


def _size_of(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
             sizes: tuple[str, ...]) -> _Asked | None:
    # Of an object named by colour and shape, so only unique ones can be asked about.
    uniq = [o for o in scene.objects if scene.unique(o.color, o.shape) is o]
    if not uniq:
        return None
    o = rng.choice(uniq)
    q, opts, ans = _mc(f"What size is the {o.name}?", list(sizes), o.size)
    return q, opts, ans, f"The {o.name} is {o.size}. {o.size} is {ans}."


def _relative(rng: random.Random, scene: Scene, by_colour: bool, shapes: tuple[str, ...],
              sizes: tuple[str, ...]) -> _Asked | None:
    uniq = [o for o in scene.objects if scene.unique(o.color, o.shape) is o]
    if len(uniq) < 2:
        return None
    a, b = rng.sample(uniq, 2)
    if a.col == b.col:
        return None
    left = a.col < b.col
    q, opts, ans = _mc(f"Is the {a.name} left of the {b.name}?", YES_NO, "yes" if left else "no")
    return q, opts, ans, f"The {a.name} is in column {a.col + 1}, the {b.name} in column {b.col + 1}. So {ans}."


_PERCEPTION_ASK: dict[str, _Ask] = {
    "count_color": _count_color, "count_shape": _count_shape, "color_of": _color_of, "shape_of": _shape_of,
    "exists": _exists, SIZE_FAMILY: _size_of,
}


def _perception(rng: random.Random, scene: Scene, family: str, by_colour: bool = False,
                shapes: tuple[str, ...] = SHAPES, sizes: tuple[str, ...] = ()) -> dict | None:
    ask = _PERCEPTION_ASK.get(family, _relative)  # any other family: relative position
    asked = ask(rng, scene, by_colour, shapes, sizes)
    if asked is None:
        return None
    q, opts, ans, think = asked
    return {
        "question": q,
        "options": opts,
        "answer": ans,
        "solution": _solution(think, ans),
        "family": family,
        "subquestions": [],
    }


# ---------------------------------------------------------------- visual reasoning


def _visual(rng: random.Random, scene: Scene, by_colour: bool = False,
            shapes: tuple[str, ...] = SHAPES) -> dict | None:
    (da, fa), (db, fb) = _descriptor(rng, shapes), _descriptor(rng, shapes)
    if da == db:
        return None
    na, nb = scene.count(**fa), scene.count(**fb)
    family = rng.choice(["product", "sum", "difference"])
    if family == "product":
        q, ans, step = f"Multiply the number of {da} by the number of {db}.", na * nb, f"{na}*{nb}={na * nb}"
    elif family == "sum":
        q, ans, step = f"Add the number of {da} to the number of {db}.", na + nb, f"{na}+{nb}={na + nb}"
    else:
        if na < nb:
            (da, na, fa), (db, nb, fb) = (db, nb, fb), (da, na, fa)
        q, ans, step = (
            f"How many more {da} than {db} are there?",
            na - nb,
            f"{na}-{nb}={na - nb}",
        )
    think = f"{da}: {enumerate_matches(scene, **fa, by_colour=by_colour)}. {db}: {enumerate_matches(scene, **fb, by_colour=by_colour)}. {step}."
    return {
        "question": q,
        "options": [],
        "answer": str(ans),
        "solution": _solution(think, ans),
        "family": family,
        # The perceived facts, kept so errors can later be split into perception vs reasoning.
        "subquestions": [
            {"question": f"How many {da} are there?", "answer": str(na)},
            {"question": f"How many {db} are there?", "answer": str(nb)},
        ],
    }


# ---------------------------------------------------------------- textual reasoning


def _text(rng: random.Random, steps_min: int, steps_max: int, max_operand: int) -> dict:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    steps = rng.randint(steps_min, steps_max)
    if rng.random() < 0.5:
        a, b = rng.randint(2, max_operand), rng.randint(2, max_operand)
        value = a * b
        sentences = [f"{name} has {a} boxes with {b} {thing}s each."]
        work = [f"{a}*{b}={value}"]
    else:
        value = rng.randint(2, max_operand * 2)
        sentences = [f"{name} has {value} {thing}s."]
        work = []
    for _ in range(steps - 1):
        op = rng.choice(["add", "sub", "mul"] if value <= 30 else ["add", "sub"])
        if op == "add":
            b = rng.randint(1, max_operand)
            sentences.append(f"Then {name} gets {b} more.")
            work.append(f"{value}+{b}={value + b}")
            value += b
        elif op == "sub" and value > 1:
            b = rng.randint(1, min(value - 1, max_operand))
            sentences.append(f"Then {name} gives away {b}.")
            work.append(f"{value}-{b}={value - b}")
            value -= b
        else:
            k = rng.choice([2, 3])
            sentences.append(f"Then the number of {thing}s is multiplied by {k}.")
            work.append(f"{value}*{k}={value * k}")
            value *= k
    question = " ".join(sentences) + f" How many {thing}s does {name} have now?"
    if not work:
        work = [f"{value}"]
    return {
        "question": question,
        "options": [],
        "answer": str(value),
        "solution": _solution(f"{'. '.join(work)}.", value),
        "family": f"steps{steps}",
        "subquestions": [],
    }


# ---------------------------------------------------------------- driver

CAPABILITIES = ("perception", "text", "visual")


def resolve_world(world: ToyWorldSpec | None = None, **loose: Any) -> ToyWorldSpec:
    """The world to draw from: `world` as given, or one built from loose settings (the older
    keyword form: grid=..., inventory=...; unset ones take the world's defaults, except that
    inventory is off). Giving both is an error: a world travels as one spec."""
    from seethink.config import ToyWorldSpec

    given = {k: v for k, v in loose.items() if v is not None}
    if world is not None:
        if given:
            raise TypeError(f"give the world as a ToyWorldSpec or as keywords, not both ({', '.join(given)})")
        return world
    return ToyWorldSpec(**{"inventory": False, **given})


def _family_and_letter(rng: random.Random, world: ToyWorldSpec, split: str, k: int) -> tuple[str, str]:
    """The perception family of the next item and the letter its answer must have; `k` items are drawn.

    Drawn before the scene: every option of a family is equally often right, so no constant
    answer beats chance. (With skewed letters GRPO drifted to answering "A" everywhere, which
    paid better than looking.) Held-out items go further and take family and letter in turn
    (stratified), so a test set of any size has the families in equal shares and each family's
    letters equally often right: its majority-answer baseline is then chance itself, not chance
    plus the luck of a small sample (200 random draws put one letter at 36% where chance is 33%).
    """
    families = PERCEPTION_FAMILIES + ((SIZE_FAMILY,) if world.sizes else ())
    n_options = {**_N_OPTIONS, "shape_of": len(world.shapes), SIZE_FAMILY: len(world.sizes)}
    if split == "test":
        family = families[k % len(families)]
        return family, LETTERS[(k // len(families)) % n_options[family]]
    family = rng.choice(families)
    return family, LETTERS[rng.randrange(n_options[family])]


def _draw(rng: random.Random, world: ToyWorldSpec, capability: str, split: str,
          k: int) -> tuple[dict | None, Scene | None]:
    """One candidate item body and its scene (None for text items); (None, None) when no scene fit.

    Image items choose the question family first and redraw scenes until one fits, so every
    family is equally common however often its scenes are rejected.
    """
    if capability == "text":
        return _text(rng, world.text_steps_min, world.text_steps_max, world.text_max_operand), None
    family, target = _family_and_letter(rng, world, split, k) if capability == "perception" else ("", "")
    shapes, sizes = tuple(world.shapes), tuple(world.sizes)
    for _ in range(2000):
        scene = sample_scene(rng, world.grid, world.min_shapes, world.max_shapes, shapes, sizes)
        body = (_perception(rng, scene, family, world.inventory, shapes, sizes) if family
                else _visual(rng, scene, world.inventory, shapes))
        if body is not None and (not target or body["answer"] == target):
            return body, scene
    return None, None


def _item(body: dict, scene: Scene | None, key: str, world: ToyWorldSpec, task: str, capability: str) -> dict:
    """The item row of a drawn body, its scene dressed with rendering details from its content key."""
    if scene is not None:  # rendering details, from the item's content (default world: none)
        scene = dress_scene(scene, world, random.Random(f"render:{key}"))
    if world.inventory and scene is not None:
        body["solution"] = body["solution"].replace("<think> ", f"<think> {scene_inventory(scene)} ", 1)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    family = body.pop("family")
    facts = {"family": family}
    if scene is not None:
        facts.update(scene.to_facts())
    return {
        "id": f"{task}-{digest}",
        "task": task,
        "capability": capability,
        "question": body["question"],
        "options": body["options"],
        "answer": body["answer"],
        "images": [],
        "caption": scene.caption() if scene else "",
        "facts": facts,
        "subquestions": body["subquestions"],
        "solution": body["solution"],
    }


def generate_items(
    capability: str,
    n: int,
    split: str,
    seed: int,
    world: ToyWorldSpec | None = None,
    *,
    grid: int | None = None,
    min_shapes: int | None = None,
    max_shapes: int | None = None,
    text_steps_min: int | None = None,
    text_steps_max: int | None = None,
    text_max_operand: int | None = None,
    task: str | None = None,
    inventory: bool | None = None,
) -> list[dict]:
    """Draw `n` distinct items of one capability that fall in `split` ("train" | "test").

    `world` (a `ToyWorldSpec`) holds every setting of the world; the loose keywords are the
    older form for a few of them (see `resolve_world`). An item's rendering details (jitter,
    angles, distractors, noise seed) are drawn from a generator seeded by its content, after
    the content is fixed, so the same questions and scenes come out at every difficulty that
    keeps the content (scale, jitter, rotation, shades, distractors, noise, cell size); only
    their pictures differ.
    """
    world = resolve_world(world, grid=grid, min_shapes=min_shapes, max_shapes=max_shapes,
                          text_steps_min=text_steps_min, text_steps_max=text_steps_max,
                          text_max_operand=text_max_operand, inventory=inventory)
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; choose from {CAPABILITIES}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = random.Random(f"{capability}:{split}:{seed}")
    task = task or f"toy_{capability}"
    out: list[dict] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise RuntimeError(f"could only draw {len(out)} distinct {capability} items of {n}")
        body, scene = _draw(rng, world, capability, split, len(out))
        if body is None:
            continue
        key = body["question"] + "|" + (scene.key() if scene else "")
        if key in seen or split_of(key) != split:
            continue
        seen.add(key)
        out.append(_item(body, scene, key, world, task, capability))
    return out


# ---------------------------------------------------------------- captions (caption SFT)


def caption_items(
    n: int,
    split: str,
    seed: int,
    world: ToyWorldSpec | None = None,
    *,
    grid: int | None = None,
    min_shapes: int | None = None,
    max_shapes: int | None = None,
    task: str = "toy_caption",
) -> list[dict]:
    """Draw `n` distinct caption items (image in, the scene's caption out) in `split`.

    The caption-SFT ablation: perception taught by supervised captions instead of RL. The
    target (`answer` and `solution`) is `scene.caption()` as is, with no `<think>` and no
    `\\boxed{}`; the prompt template `caption` asks only the question. Train and test are
    split by a hash of the content (question + scene) as in `generate_items`, so no held-out
    caption is ever trained on. `world` as in `generate_items` (its rendering details too).
    """
    from seethink.data.prompts import CAPTION_QUESTION, CAPTION_TEMPLATE

    world = resolve_world(world, grid=grid, min_shapes=min_shapes, max_shapes=max_shapes)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = random.Random(f"caption:{split}:{seed}")
    out: list[dict] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise RuntimeError(f"could only draw {len(out)} distinct caption items of {n}")
        scene = sample_scene(rng, world.grid, world.min_shapes, world.max_shapes, tuple(world.shapes),
                             tuple(world.sizes))
        key = CAPTION_QUESTION + "|" + scene.key()
        if key in seen or split_of(key) != split:
            continue
        seen.add(key)
        scene = dress_scene(scene, world, random.Random(f"render:{key}"))
        caption = scene.caption()
        out.append(
            {
                "id": f"{task}-{hashlib.sha1(key.encode()).hexdigest()[:10]}",
                "task": task,
                "capability": "caption",
                "question": CAPTION_QUESTION,
                "options": [],
                "answer": caption,
                "images": [],
                "caption": caption,
                "facts": {"family": "caption", **scene.to_facts()},
                "subquestions": [],
                "solution": caption,
                "prompt_template": CAPTION_TEMPLATE,
            }
        )
    return out
