"""Perception-error readings for toy-world visual reasoning: did a wrong answer start with a misread image?

Each reading is `fn(item, response) -> True | False | None`: True = perception error, False =
none, None = cannot tell (the item's worked solution has no scene inventory, or the response
does not contain what the reading grades). They can disagree; `seethink.eval.attribution`
counts each one on wrong answers and, as a calibration check, on right answers.

A response with `toy.inventory` on reads like its worked solution:

    <think> red: square, circle. blue: triangle. red shapes: 1 square, 2 circle. squares: 1 red. 2+1=3.</think> \\boxed{3}

that is: the scene inventory (colours in a fixed order, shapes of a colour in reading order),
then one listing per group the question needs ("GROUP: 1 x, 2 y" or "GROUP: none"; a colour
group names shapes, a shape group names colours, groups are "red shapes" or "circles"),
then the arithmetic. The readings:

- `inventory`: the opening inventory differs from the scene's (exactly, the whole scene;
  `inventory_read_right`). None when the response opens with nothing inventory-shaped (an
  unparseable response is undecided here, where the eval's `inventory_correct` counts it
  wrong).
- `inventory_groups`: the counts that the response's own inventory implies for the question's
  groups differ from the scene's. Like `inventory`, but blind to misread objects the question
  does not need (a wrong green circle cannot spoil "red shapes times squares").
- `trace_facts`: the counts the trace states (entries of each group's listing; "none" = 0)
  differ from the scene's. A listing that is missing or malformed is undecided unless another
  group's listing is already wrong (then True: an error is certain).
- `own_description`: the stated counts differ from what the response's OWN inventory implies,
  whether or not that inventory is right: the model misread its own description. Given a
  right inventory this equals `trace_facts`.
- `misseen_facts`: the opening inventory is wrong AND the counts the trace then reasons with
  are not the scene's (or cannot be read): a misread image that reached the answer. A model
  that lists the question's counts from the image rather than from its own inventory (some
  do: a wrong inventory, then the right counts) gets no flag for a misread it did not use, so
  this reading stays calibrated where `inventory` flags right answers as often as wrong ones.
  The claims table's reading.
- `subquestions` (a probe, not a function of the response: see `PROBES`): the same model,
  asked the item's perception sub-questions as multiple-choice count questions with the same
  image, gets at least one wrong.

Counts are the number of listed entries, not the numbers written in them ("1 red, 3 red" is 2)
nor the operands of the arithmetic: a listing of 2 followed by "3*1=3" has right facts and a
reasoning error (copying the operand is a reasoning step).

`classify` splits a wrong answer into saw_wrong / misread_description / reasoned_wrong /
undecided; with scope "scene" its "saw_wrong" is `misseen_facts`. The claims table's reading
is chosen by `seethink.eval.attribution.primary_reading`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from seethink.eval.attribution import CATEGORIES as GENERIC_CATEGORIES
from seethink.toyworld.generators import (
    COUNT_OPTIONS,
    LETTERS,
    enumerate_matches,
    inventory_read_right,
    scene_inventory,
)
from seethink.toyworld.scenes import ALL_SHAPES, COLORS, Scene

Reading = Callable[[dict, str], bool | None]

_SUBQ = re.compile(r"^How many (.+) are there\?$")
_COLOR = "|".join(COLORS)
# An inventory entry is a shape, or a size and a shape in a world with sizes ("small circle").
_ITEM = r"\w+(?: \w+)?"
_INV_PREFIX = re.compile(rf"\s*((?:(?:{_COLOR}): {_ITEM}(?:, {_ITEM})*\.\s*)+)")
_INV_GROUP = re.compile(rf"({_COLOR}): ({_ITEM}(?:, {_ITEM})*)\.")
_ENTRY = re.compile(r"\d+ \w+(?: \w+)?")


# ---------------------------------------------------------------- parsing


def group_filter(name: str) -> dict | None:
    """The scene filter of a group phrase: "red shapes" -> {"color": "red"}, "circles" -> {"shape": "circle"}."""
    if name.endswith(" shapes") and name[: -len(" shapes")] in COLORS:
        return {"color": name[: -len(" shapes")]}
    if name.endswith("s") and name[:-1] in ALL_SHAPES:
        return {"shape": name[:-1]}
    return None


def question_groups(item: dict) -> list[tuple[str, dict]] | None:
    """(phrase, filter) of each group the answer needs, from the item's sub-questions; None if unknown."""
    out = []
    for sq in item.get("subquestions") or []:
        m = _SUBQ.match(sq.get("question", "").strip())
        group = group_filter(m.group(1)) if m else None
        if group is None:
            return None
        out.append((m.group(1), group))  # type: ignore[union-attr]
    return out or None


def _think(response: str) -> str:
    """The reasoning part: after <think>, up to </think> (or the box, or the end when cut off)."""
    text = response.strip().removeprefix("<think>")
    for end in ("</think>", "\\boxed{"):
        if end in text:
            text = text[: text.index(end)]
    return text


def stated_count(response: str, group: str) -> int | None:
    """Entries of the first "GROUP: ..." listing in the reasoning ("none" = 0); None if absent or malformed."""
    m = re.search(rf"(?<![\w-]){re.escape(group)}: ([^.]*)\.", _think(response))
    if m is None:
        return None
    body = m.group(1).strip()
    if body == "none":
        return 0
    entries = [e.strip() for e in body.split(",")]
    if not all(_ENTRY.fullmatch(e) for e in entries):
        return None
    return len(entries)


def own_inventory(response: str) -> list[tuple[str, str]] | None:
    """(colour, shape) pairs of the inventory the response opens with; None if it opens with none."""
    m = _INV_PREFIX.match(_think(response))
    if m is None:
        return None
    return [(c, s) for c, body in _INV_GROUP.findall(m.group(1)) for s in body.split(", ")]


def _inventory_count(pairs: list[tuple[str, str]], group: dict) -> int:
    # An entry's last word is its shape ("small circle" -> circle).
    return sum(1 for c, s in pairs if group.get("color", c) == c and group.get("shape", s.split()[-1]) == s.split()[-1])


def has_inventory(item: dict) -> bool:
    """Whether the item's worked solution opens with a scene inventory (toy.inventory on)."""
    return inventory_read_right(item, "") is not None


def _differs(got: list[int | None], want: list[int | None]) -> bool | None:
    """True if some known pair differs (an error is certain), None if any is unknown, else False."""
    if any(g is not None and w is not None and g != w for g, w in zip(got, want, strict=True)):
        return True
    if any(g is None or w is None for g, w in zip(got, want, strict=True)):
        return None
    return False


def _truth(item: dict, groups: list[tuple[str, dict]]) -> list[int | None]:
    facts = item.get("facts") or {}
    if "objects" not in facts:
        return [None] * len(groups)
    scene = Scene.from_facts(facts)
    return [scene.count(**g) for _, g in groups]


# ---------------------------------------------------------------- readings


def inventory(item: dict, response: str) -> bool | None:
    """The scene inventory the response opens with is not exactly the scene's."""
    if not has_inventory(item) or own_inventory(response) is None:
        return None
    return not inventory_read_right(item, response.strip())


def inventory_groups(item: dict, response: str) -> bool | None:
    """The response's own inventory implies wrong counts for the question's groups."""
    groups = question_groups(item)
    pairs = own_inventory(response)
    if not has_inventory(item) or groups is None or pairs is None:
        return None
    return _differs([_inventory_count(pairs, g) for _, g in groups], _truth(item, groups))


def trace_facts(item: dict, response: str) -> bool | None:
    """The counts the trace states for the question's groups are not the scene's."""
    groups = question_groups(item)
    if groups is None:
        return None
    return _differs([stated_count(response, name) for name, _ in groups], _truth(item, groups))


def own_description(item: dict, response: str) -> bool | None:
    """The counts the trace states disagree with the response's own inventory (right or not)."""
    groups = question_groups(item)
    pairs = own_inventory(response)
    if not has_inventory(item) or groups is None or pairs is None:
        return None
    return _differs([stated_count(response, name) for name, _ in groups],
                    [_inventory_count(pairs, g) for _, g in groups])


def misseen_facts(item: dict, response: str) -> bool | None:
    """The inventory is wrong and the counts the trace states are wrong (or unreadable) too:
    what the answer reasoned with came from a misread image."""
    saw = inventory(item, response)
    if saw is None:
        return None
    return saw and trace_facts(item, response) is not False


READINGS: dict[str, Reading] = {
    "misseen_facts": misseen_facts,
    "inventory": inventory,
    "inventory_groups": inventory_groups,
    "trace_facts": trace_facts,
    "own_description": own_description,
}

CATEGORIES = tuple(GENERIC_CATEGORIES)


def classify(item: dict, response: str, *, scope: str = "scene") -> str:
    """Where a wrong answer went wrong: "saw_wrong" (inventory wrong, and the counts the answer
    reasons with wrong or unreadable: `misseen_facts`), else "misread_description" (inventory
    right, stated counts disagree with it), else "reasoned_wrong" (the counts it reasons with are
    right, whatever else it misread); "undecided" when the deciding reading cannot tell.

    The facts the answer used decide first: a model may misread an object, or write a wrong
    inventory and then list the question's counts from the image anyway, and an answer that
    goes on from right counts did not fail by seeing. scope "scene" judges seeing by the whole
    inventory (`inventory`); "question" only by the question's groups (`inventory_groups`).
    Meant for wrong answers: on a right one "reasoned_wrong" just means the facts were right.
    """
    if scope not in ("scene", "question"):
        raise ValueError(f"scope must be 'scene' or 'question', got {scope!r}")
    saw = (inventory if scope == "scene" else inventory_groups)(item, response)
    if saw is None:
        return "undecided"
    if saw:
        return "saw_wrong" if trace_facts(item, response) is not False else "reasoned_wrong"
    misread = own_description(item, response)
    if misread is None:
        return "undecided"
    return "misread_description" if misread else "reasoned_wrong"


# ---------------------------------------------------------------- the sub-question probe


def subquestion_items(item: dict) -> list[dict]:
    """The item's perception sub-questions as perception-stage count items (same scene, options
    "0".."4"); sub-questions whose answer is not an option (over 4) are left out. Ids are
    f"{id}-sq{k}" with k the sub-question's position, so they stay stable when one is skipped."""
    facts = item.get("facts") or {}
    scene = Scene.from_facts(facts) if "objects" in facts else None
    inv = has_inventory(item)
    out = []
    for k, sq in enumerate(item.get("subquestions") or []):
        ans = str(sq["answer"]).strip()
        if ans not in COUNT_OPTIONS:
            continue
        letter = LETTERS[COUNT_OPTIONS.index(ans)]
        m = _SUBQ.match(sq["question"].strip())
        group = group_filter(m.group(1)) if m else None
        sub_facts = dict(facts)
        solution = ""
        if group is not None:
            sub_facts["family"] = "count_color" if "color" in group else "count_shape"
            if scene is not None:
                listing = enumerate_matches(scene, **group, by_colour=inv)
                think = f"{m.group(1)}: {listing}. That is {ans}, {letter}."  # type: ignore[union-attr]
                if inv:
                    think = f"{scene_inventory(scene)} {think}"
                solution = f"<think> {think}</think> \\boxed{{{letter}}}"
        sub = {
            "id": f"{item['id']}-sq{k}",
            "task": "toy_perception",
            "capability": "perception",
            "question": sq["question"],
            "options": list(COUNT_OPTIONS),
            "answer": letter,
            "images": list(item.get("images") or []),
            "caption": item.get("caption", ""),
            "facts": sub_facts,
            "subquestions": [],
            "solution": solution,
            "parent_id": item["id"],
        }
        if "prompt_template" in item:
            sub["prompt_template"] = item["prompt_template"]
        out.append(sub)
    return out


# Probe readings: name -> sub-item builder, for `seethink.eval.attribution.probe_subquestions`.
PROBES: dict[str, Callable[[dict], list[dict]]] = {"subquestions": subquestion_items}
