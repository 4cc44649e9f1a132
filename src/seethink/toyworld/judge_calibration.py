"""The toy world's calibration set for the attribution judge (`seethink.eval.attribution_judge`).

`TOY_CALIBRATION` is a hand-labelled set of 30 wrong answers to toy-world visual items (written
for this purpose; the items are `generate_items("visual", 30, "test", 0, inventory=True)`).
`calibrate(judge)` reports the judge's agreement (accuracy and Cohen's kappa) with the hand labels
and with the exact toy attribution (`classify`, scope "question": saw_wrong = perception;
misread_description and reasoned_wrong = reasoning). It plugs into the judge's `CALIBRATIONS` as
`toy`: `seethink judge attribution toy ...` runs it from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seethink.eval.attribution_judge import (
    CALIBRATIONS,
    TEMPLATE,
    VerdictCache,
    agreement,
    judge_predictions,
)
from seethink.eval.judge import Judge

# Hand-labelled wrong answers to generate_items("visual", 30, "test", 0, inventory=True), one per
# item, in that order: (item id, response, label, what went wrong). Labels say where the answer
# went wrong causally: "perception" when the facts the answer needs are misread from the image,
# "reasoning" when they are read right (an unneeded object misread, or the response's own notes
# misread, does not make it a perception error). Items 26 and 27 have no scene inventory.
TOY_CALIBRATION: tuple[tuple[str, str, str, str], ...] = (
    ("toy_visual-3e8f8d0973",
     "<think> red: triangle, circle. blue: circle. yellow: square. yellow shapes: 1 square. squares: 1 yellow. 1*1=1.</think> \\boxed{1}",
     "perception", "the yellow circle read as a square"),
    ("toy_visual-c9e89d2352",
     "<think> red: square, square. green: circle. yellow: square, circle. squares: 1 red, 2 red, 3 yellow. yellow shapes: 1 square, 2 circle. 3-2=2.</think> \\boxed{2}",
     "reasoning", "3-2 computed as 2"),
    ("toy_visual-10453e990e",
     "<think> blue: circle. red: triangle. blue shapes: 1 circle. red shapes: 1 triangle. 1-1=0.</think> \\boxed{0}",
     "perception", "the blue triangle read as red"),
    ("toy_visual-3f6ae72354",
     "<think> red: square. green: circle, triangle, triangle. blue: square, triangle. blue shapes: 1 square, 2 triangle. circles: 1 green. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-77318a4a71",
     "<think> blue: circle, square, triangle. circles: 1 blue. squares: 1 blue. 1+1=2.</think> \\boxed{2}",
     "perception", "a blue triangle read as a circle"),
    ("toy_visual-1e300a9dd1",
     "<think> red: triangle. blue: square. yellow: square. squares: 1 blue, 2 yellow. blue shapes: 1 square. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question subtracts"),
    ("toy_visual-c466f1a62d",
     "<think> red: triangle, triangle. yellow: triangle. red shapes: 1 triangle, 2 triangle. circles: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "2*0 computed as 2; the yellow square read as a triangle, which the answer does not need"),
    ("toy_visual-294c792ac3",
     "<think> red: circle. green: square. yellow: square, triangle, circle. green shapes: 1 square. circles: 1 red, 2 yellow. 1*2=2.</think> \\boxed{2}",
     "perception", "the blue square read as green"),
    ("toy_visual-f58566ff69",
     "<think> red: circle, circle, triangle. red shapes: 1 circle, 2 circle, 3 triangle. yellow shapes: none. 3-0=3.</think> \\boxed{3}",
     "perception", "one red triangle missed"),
    ("toy_visual-593fc20e10",
     "<think> green: triangle. blue: square. blue shapes: 1 square. red shapes: none. 1*0=1.</think> \\boxed{1}",
     "reasoning", "1*0 computed as 1"),
    ("toy_visual-6d56bf9f61",
     "<think> red: triangle. blue: circle. yellow: triangle, circle. triangles: 1 red. squares: none. 1+0=1.</think> \\boxed{1}",
     "reasoning", "the inventory is right; the triangle listing skips the yellow one it wrote down"),
    ("toy_visual-70297c9e08",
     "<think> blue: square. red: circle. circles: 1 red. red shapes: 1 circle. 1+1=2.</think> \\boxed{2}",
     "perception", "the yellow circle read as red"),
    ("toy_visual-c052c42d84",
     "<think> red: circle. green: circle, square. blue: triangle. yellow: square. yellow shapes: 1 square. triangles: 1 blue. 1+1=2.</think> \\boxed{2}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-3f49039773",
     "<think> red: square. green: circle. blue: circle, circle. yellow: square. green shapes: 1 circle. squares: 1 red, 2 yellow. 1+2=3.</think> \\boxed{3}",
     "perception", "a blue circle read as green"),
    ("toy_visual-3920b66dac",
     "<think> red: circle. green: square. blue: square. squares: 1 green, 2 blue. yellow shapes: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "2*0 computed as 2"),
    ("toy_visual-c8d926877a",
     "<think> blue: square. yellow: circle, circle. squares: 1 blue. blue shapes: 1 square. 1+1=2.</think> \\boxed{2}",
     "perception", "the red square missed"),
    ("toy_visual-3d1f946ef6",
     "<think> red: circle, square. yellow: square. squares: 1 red, 2 yellow. blue shapes: none. 2-0=0.</think> \\boxed{0}",
     "reasoning", "2-0 computed as 0"),
    ("toy_visual-6e074f54ea",
     "<think> green: circle. blue: square, circle. yellow: circle, triangle. yellow shapes: 1 circle, 2 triangle. green shapes: 1 circle. 2*1=3.</think> \\boxed{3}",
     "reasoning", "2*1 computed as 3; the blue triangle read as a circle, which the answer does not need"),
    ("toy_visual-8ba6bd79e9",
     "<think> red: square. green: circle. blue: triangle. triangles: 1 blue. blue shapes: 1 triangle. 1*1=1.</think> \\boxed{1}",
     "perception", "a blue triangle seen where there is none"),
    ("toy_visual-b25c37d7ed",
     "<think> red: triangle, circle. blue: square. yellow: square, circle. circles: 1 red, 2 yellow. green shapes: none. 2-0=1.</think> \\boxed{1}",
     "reasoning", "2-0 computed as 1"),
    ("toy_visual-2bf28f2529",
     "<think> red: circle, circle. blue: circle. yellow: triangle, triangle, triangle. circles: 1 red, 2 red, 3 blue. squares: none. 3-0=3.</think> \\boxed{3}",
     "perception", "the red square read as a circle"),
    ("toy_visual-aaa630836f",
     "<think> red: square. green: triangle, square. blue: triangle. yellow: triangle. red shapes: 1 square. blue shapes: 1 triangle. 1-1=1.</think> \\boxed{1}",
     "reasoning", "1-1 computed as 1"),
    ("toy_visual-e60d762748",
     "<think> red: circle, circle. blue: circle, circle. yellow: circle. yellow shapes: 1 circle. blue shapes: 1 circle, 2 circle. 1*2=2.</think> \\boxed{2}",
     "perception", "a red circle read as blue"),
    ("toy_visual-f23096875f",
     "<think> red: square. green: triangle. blue: square, square. yellow: triangle, square. yellow shapes: 1 triangle, 2 square. green shapes: 1 triangle. 2+1=3.</think> \\boxed{3}",
     "reasoning", "added where the question multiplies"),
    ("toy_visual-6d97855218",
     "<think> blue: circle. yellow: triangle, triangle. triangles: 1 yellow, 2 yellow. red shapes: none. 2-0=2.</think> \\boxed{2}",
     "perception", "the yellow circle read as a triangle"),
    ("toy_visual-a947514a26",
     "<think> green: triangle. blue: triangle, circle. circles: 1 blue. blue shapes: 1 circle. 1*1=1.</think> \\boxed{1}",
     "reasoning", "the inventory is right; the blue listing drops the triangle it wrote down"),
    ("toy_visual-940343e82c",
     "<think> circles: 1 red, 2 blue. triangles: 1 yellow. 2-1=1.</think> \\boxed{1}",
     "perception", "no inventory; it lists a blue circle the image does not have"),
    ("toy_visual-c09090e645",
     "<think> squares: 1 green, 2 yellow. red shapes: none. 2*0=2.</think> \\boxed{2}",
     "reasoning", "no inventory; the counts are right and 2*0 is computed as 2"),
    ("toy_visual-a40c19a4f1",
     "<think> red: triangle. green: circle, square. yellow: triangle. yellow shapes: 1 triangle. green shapes: 1 circle, 2 square. 1-2=-1.</think> \\boxed{-1}",
     "perception", "the yellow square read as green"),
    ("toy_visual-ed8a2413be",
     "<think> green: triangle. blue: triangle. yellow shapes: none. blue shapes: 1 triangle. 0+1=1.</think> \\boxed{1}",
     "reasoning", "added where the question multiplies"),
)

EXACT_BINARY = {"saw_wrong": "perception", "misread_description": "reasoning", "reasoned_wrong": "reasoning",
                "undecided": None}


def exact_label(item: dict, response: str, scope: str = "question") -> str | None:
    """The exact toy attribution as a binary label (None where it cannot tell)."""
    from seethink.toyworld.attribution import classify

    return EXACT_BINARY[classify(item, response, scope=scope)]


def toy_calibration_set(scope: str = "question") -> tuple[list[dict], list[dict]]:
    """(items, prediction rows with hand_label, exact_label and note) of TOY_CALIBRATION."""
    from seethink.toyworld.generators import generate_items

    items = generate_items("visual", len(TOY_CALIBRATION), "test", 0, inventory=True)
    preds = []
    for it, (item_id, response, label, note) in zip(items, TOY_CALIBRATION, strict=True):
        if it["id"] != item_id:  # the toy generator changed: the hand labels no longer fit
            raise RuntimeError(f"toy calibration item {item_id} is now {it['id']}; relabel TOY_CALIBRATION")
        preds.append({"id": item_id, "capability": "visual", "response": response, "correct": False,
                      "hand_label": label, "exact_label": exact_label(it, response, scope), "note": note})
    return items, preds


def calibrate(judge: Judge, cache: VerdictCache | str | Path | None = None, *, template: str | Path = TEMPLATE,
              scope: str = "question", workers: int = 4) -> dict[str, Any]:
    """The judge on TOY_CALIBRATION: its agreement with the hand labels and the exact attribution
    (and, for reference, the hand labels' agreement with the exact attribution)."""
    items, preds = toy_calibration_set(scope)
    result = judge_predictions(preds, items, judge, cache=cache, template=template, workers=workers,
                               source="toy calibration")
    result["summary"]["agreement_hand_vs_exact"] = agreement([p["hand_label"] for p in preds],
                                                             [p["exact_label"] for p in preds])
    result["summary"]["calibration_set"] = f"TOY_CALIBRATION ({len(preds)} hand-labelled wrong answers)"
    return result


CALIBRATIONS.add("toy", calibrate)
