"""Typed configuration: dataclasses hold every default, YAML and `key.sub=value` hold overrides.

A recipe is resolved in three layers: dataclass defaults <- recipe YAML <- CLI overrides.
Unknown keys are rejected with the nearest valid key, values are type-checked, and the
resolved recipe is what gets saved in the run directory (so a run can be replayed from it).
Stages are a list, so their order is data; each stage's trainer block holds only the
settings that differ from the recipe-wide `trainer` defaults.

`schema` holds the dataclasses, their defaults and the values each field allows; `load` reads,
overrides and dumps recipes; `validate` checks them.
"""

from seethink.config.load import (
    dump_recipe,
    load_recipe,
    parse_overrides,
    to_dict,
    valid_keys,
    with_overrides,
)
from seethink.config.schema import (
    VARIANTS,
    ArmSpec,
    CurriculumSpec,
    DuringTrainingSpec,
    EvalSpec,
    ExperimentSpec,
    LoggingSpec,
    ModelSpec,
    Recipe,
    RewardSpec,
    SettingSpec,
    StageSpec,
    ToyModelSpec,
    ToyWorldSpec,
    TrainerSpec,
    WarmStartSpec,
    stage_trainer,
)
from seethink.config.validate import validate

__all__ = [
    "VARIANTS",
    "ArmSpec",
    "CurriculumSpec",
    "DuringTrainingSpec",
    "EvalSpec",
    "ExperimentSpec",
    "LoggingSpec",
    "ModelSpec",
    "Recipe",
    "RewardSpec",
    "SettingSpec",
    "StageSpec",
    "ToyModelSpec",
    "ToyWorldSpec",
    "TrainerSpec",
    "WarmStartSpec",
    "dump_recipe",
    "load_recipe",
    "parse_overrides",
    "stage_trainer",
    "to_dict",
    "valid_keys",
    "validate",
    "with_overrides",
]
