"""Arms of an experiment: named variants of training, resolved into stage plans.

An arm is data: which of the recipe's stages it trains and in what order, whether they are
pooled into one stage (merged), whether items go easy -> hard, and its own trainer settings.
The paper's arms ship by name (`BUILTIN`); stages are referred to by their 1-based position
in the recipe's `stages` (the reference order perception -> text -> visual), so the same
names work for any recipe whose three stages keep that order, toy or real.

Fair by construction: every arm trains from the same base, draws a stage's training items
with the same seed whatever position the stage takes in the arm (so text_first and staged
see the same items), and, unless the arm says otherwise, keeps each stage's own trainer
settings. The RL budget follows `experiment.budget`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from seethink.config import ArmSpec, Recipe, StageSpec, TrainerSpec, stage_trainer
from seethink.errors import UserError

CAPTION = "caption"  # the stage name that refers to experiment.caption_stage

BUILTIN: dict[str, ArmSpec] = {
    "staged": ArmSpec(stages=["1", "2", "3"], merge=False, difficulty=False),
    "merged": ArmSpec(stages=["1", "2", "3"], merge=True, difficulty=False),
    "merged_frozen_vision": ArmSpec(stages=["1", "2", "3"], merge=True, difficulty=False,
                                    trainer={"freeze_vision": True}),
    "text_first": ArmSpec(stages=["2", "1", "3"], merge=False, difficulty=False),
    "reversed": ArmSpec(stages=["3", "2", "1"], merge=False, difficulty=False),
    "visual_only": ArmSpec(stages=["3"], merge=False, difficulty=False),
    "perception_visual": ArmSpec(stages=["1", "3"], merge=False, difficulty=False),
    "text_visual": ArmSpec(stages=["2", "3"], merge=False, difficulty=False),
    "caption_sft": ArmSpec(stages=[CAPTION, "2", "3"], merge=False, difficulty=False),
    "difficulty": ArmSpec(stages=["1", "2", "3"], merge=True, difficulty=True),
    "capability_x_difficulty": ArmSpec(stages=["1", "2", "3"], merge=False, difficulty=True),
    "merged_reasoning": ArmSpec(stages=["2", "3"], merge=True, difficulty=False),
}

DESCRIPTIONS = {
    "base": "the base model, untrained",
    "staged": "perception -> text -> visual, each stage from the previous checkpoint (1-2-3)",
    "merged": "all three stages' items pooled and shuffled, one stage, steps summed",
    "merged_frozen_vision": "merged with the vision tower frozen (as in the paper's released baseline)",
    "text_first": "text -> perception -> visual (2-1-3)",
    "reversed": "visual -> text -> perception (3-2-1)",
    "visual_only": "visual reasoning only (3)",
    "perception_visual": "perception -> visual (1-3)",
    "text_visual": "text -> visual, no perception stage (2-3)",
    "caption_sft": "caption SFT in place of the perception RL stage, then text -> visual by RL",
    "difficulty": "merged items ordered easy -> hard by the base's pass rate, not shuffled",
    "capability_x_difficulty": "staged, easy -> hard inside each stage",
    "merged_reasoning": "text and visual items pooled, no perception data",
}


@dataclass
class ArmStage:
    """One stage of a resolved arm: the recipe stage it trains and its final trainer settings."""

    name: str
    spec: StageSpec
    ref_index: int  # position in the reference list (seeds its items identically in every arm)
    trainer: TrainerSpec


@dataclass
class Arm:
    name: str
    stages: list[ArmStage] = field(default_factory=list)
    merge: bool = False
    difficulty: bool = False
    model: str = ""  # an outside arm: evaluated, not trained
    trainer: dict[str, Any] = field(default_factory=dict)  # the arm-wide overrides (for a merged stage)

    @property
    def outside(self) -> bool:
        return bool(self.model)


def _merged_fields(arm: ArmSpec) -> ArmSpec:
    """The arm's settings on top of its built-in's (fields the arm leaves unset are inherited)."""
    like = arm.like or (arm.name if arm.name in BUILTIN else "")
    if arm.like and arm.like not in BUILTIN:
        raise UserError(f"experiment arm {arm.name!r}: 'like: {arm.like}' is not a built-in arm "
                        f"(built in: {', '.join(BUILTIN)})")
    base = BUILTIN.get(like, ArmSpec())
    return ArmSpec(
        name=arm.name, like=like, stages=arm.stages or list(base.stages),
        merge=base.merge if arm.merge is None else arm.merge,
        difficulty=base.difficulty if arm.difficulty is None else arm.difficulty,
        trainer={**base.trainer, **arm.trainer},
        stage_trainer={**base.stage_trainer, **arm.stage_trainer}, model=arm.model,
    )


def _stage_ref(recipe: Recipe, ref: str, arm: str) -> tuple[StageSpec, int]:
    names = [s.name for s in recipe.stages]
    if ref == CAPTION or ref == recipe.experiment.caption_stage.name:
        cap = recipe.experiment.caption_stage
        if not cap.tasks and not cap.data:
            raise UserError(f"experiment arm {arm!r} trains a caption stage, but 'experiment.caption_stage' has "
                            "no tasks or data (e.g. tasks: [toy_caption], or data: items from `seethink data captions`)")
        return cap, len(recipe.stages)
    if ref.isdigit():
        k = int(ref)
        if not 1 <= k <= len(recipe.stages):
            raise UserError(f"experiment arm {arm!r}: stage {k} does not exist; the recipe has {len(names)} "
                            f"stage(s) ({', '.join(names)})")
        return recipe.stages[k - 1], k - 1
    if ref in names:
        return recipe.stages[names.index(ref)], names.index(ref)
    raise UserError(f"experiment arm {arm!r}: unknown stage {ref!r}; use a name from 'stages' "
                    f"({', '.join(names)}), a 1-based position, or '{CAPTION}'")


def resolve_arm(recipe: Recipe, spec: ArmSpec) -> Arm:
    """An arm's stage list with every trainer setting final (recipe <- stage <- arm <- arm's stage)."""
    a = _merged_fields(spec)
    if a.model:
        return Arm(name=a.name, model=a.model)
    if not a.stages:
        raise UserError(f"experiment arm {a.name!r} is not built in and lists no stages "
                        f"(built in: {', '.join(BUILTIN)}; or give stages: [...] or model: DIR)")
    stages = []
    for ref in a.stages:
        st, idx = _stage_ref(recipe, ref, a.name)
        t = dataclasses.replace(stage_trainer(recipe, st), **a.trainer, **a.stage_trainer.get(st.name, {}))
        stages.append(ArmStage(st.name, st, idx, t))
    if len({s.name for s in stages}) != len(stages):
        raise UserError(f"experiment arm {a.name!r} lists a stage twice: {a.stages}")
    unknown = set(a.stage_trainer) - {s.name for s in stages}
    if unknown:
        raise UserError(f"experiment arm {a.name!r}: stage_trainer names {sorted(unknown)}, which it does not train")
    if a.merge and any(s.trainer.kind != "grpo" for s in stages):
        raise UserError(f"experiment arm {a.name!r}: only GRPO stages can be merged into one stage")
    return Arm(name=a.name, stages=stages, merge=bool(a.merge), difficulty=bool(a.difficulty), trainer=a.trainer)


def resolve_arms(recipe: Recipe, only: list[str] | None = None) -> list[Arm]:
    specs = recipe.experiment.arms
    if not specs:
        raise UserError("config key 'experiment.arms': list the arms to run, e.g. [staged, merged] "
                        f"(built in: {', '.join(BUILTIN)})")
    arms = [resolve_arm(recipe, s) for s in specs]
    if only:
        names = [a.name for a in arms]
        missing = [n for n in only if n not in names and n != "base"]
        if missing:
            raise UserError(f"--arms: {', '.join(missing)} not in the recipe's arms ({', '.join(names)})")
        arms = [a for a in arms if a.name in only]
    return arms


def reference_steps(recipe: Recipe) -> int:
    """The reference RL budget: the recipe's stages' steps together (what merged trains)."""
    return sum(stage_trainer(recipe, s).max_steps for s in recipe.stages)


def stage_steps(recipe: Recipe, arm: Arm) -> list[int]:
    """Optimizer steps of each of the arm's stages (one entry when merged) under the budget rule."""
    own = [s.trainer.max_steps for s in arm.stages]
    if arm.merge:
        own = [sum(own)]
    if recipe.experiment.budget == "paper" or not own:
        return own  # a stage with max_steps 0 trains num_epochs passes; merged then passes once over the pool
    target, total = reference_steps(recipe), sum(own)
    if 0 in own or target == 0 or any(stage_trainer(recipe, s).max_steps == 0 for s in recipe.stages):
        raise UserError("experiment.budget=equal needs trainer.max_steps on every stage (steps, not epochs, "
                        "are what it equalises)")
    scaled = [round(target * s / total) for s in own]
    scaled[-1] = target - sum(scaled[:-1])  # rounding never changes the total
    return scaled
