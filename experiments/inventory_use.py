"""Does a toy model reason from the scene inventory it writes? Counts over an experiment's answers.

For each arm (and seed) of an experiment directory and each side (wrong and right visual
answers), of the answers whose opening scene inventory is wrong (`inventory` reading): how many
still list the question's counts right (`trace_facts` is False: the model read the counts from
the image, not from its inventory), and how many list counts that disagree with that inventory
(`own_description`). Where both are common, a wrong inventory neither causes the wrong answers
nor spoils the right ones, and the inventory reading says little about what went wrong.

    python experiments/inventory_use.py results/toy-dial/settings/small-shifted [--arms base]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", type=Path, help="an experiment directory (or its --results copy)")
    ap.add_argument("--arms", default="base", help="comma list of arms (default: base)")
    args = ap.parse_args()

    from seethink.experiment.attribution import study_items
    from seethink.experiment.results import load_study
    from seethink.toyworld.attribution import inventory, own_description, trace_facts

    study = load_study([args.experiment])
    items = {it["id"]: it for it in study_items(study) or []}
    print("arm | seed | answers | n | inventory wrong | of those, counts listed right | "
          "of those, counts disagree with the inventory")
    for arm in args.arms.split(","):
        for seed in [None] if arm == "base" else study.arm_seeds(arm):
            preds = [(items[i], p) for i, p in study.pred(arm, seed).items()
                     if i in items and p["capability"] == "visual"]
            for side, ok in (("wrong", False), ("right", True)):
                side_preds = [(it, p["response"]) for it, p in preds if bool(p["correct"]) is ok]
                bad = [(it, r) for it, r in side_preds if inventory(it, r)]
                listed_right = sum(trace_facts(it, r) is False for it, r in bad)
                disagree = sum(bool(own_description(it, r)) for it, r in bad)
                print(f"{arm} | {'-' if seed is None else seed} | {side} | {len(side_preds)} | {len(bad)} | "
                      f"{listed_right} | {disagree}")


if __name__ == "__main__":
    main()
