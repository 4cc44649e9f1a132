"""Checking a recipe: one pass over what each field declares, then the rules between fields.

`check_fields` walks the recipe and checks every field against its `schema.Allowed` (choices,
range, folder name). What no single field can declare (one field bounding another, counts and
duplicates in lists, sums of weights) is a short named rule in `RULES`. Every message names the
key, the allowed values and the value given: `config key 'trainer.top_p': must be (0, 1], got 1.5`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from seethink.config.schema import (
    MIN_OBJECT_PX,
    SIZE_SCALE,
    VARIANTS,
    Allowed,
    Recipe,
    TrainerSpec,
    allowed_of,
    stage_trainer,
)
from seethink.errors import UserError


def fail(key: str, why: str) -> UserError:
    return UserError(f"config key '{key}': {why}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# ---------------------------------------------------------------- the generic pass


def check_fields(obj: Any, where: str = "") -> None:
    """Check every field of a dataclass (nested ones and list items included) against what it allows."""
    for f in dataclasses.fields(obj):
        key, value, allowed = _join(where, f.name), getattr(obj, f.name), allowed_of(f)
        if dataclasses.is_dataclass(value):
            check_fields(value, key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    check_fields(item, f"{key}.{i}")
                elif allowed is not None:
                    check_value(f"{key}.{i}", item, allowed)
        elif allowed is not None and value is not None:  # None: unset, resolved where it is used
            check_value(key, value, allowed)


def check_value(key: str, value: Any, allowed: Allowed) -> None:
    note = f" ({allowed.note})" if allowed.note else ""
    if allowed.choices and value not in allowed.choices:
        shown = ", ".join(c for c in allowed.choices if c)
        raise fail(key, f"must be one of {shown}{note}; got {value!r}")
    if allowed.folder and (not value.strip() or value in (".", "..") or any(ch in value for ch in "/\\\0")):
        raise fail(key, f"{value!r} cannot name a folder; use letters, digits, '-', '_'")
    if allowed.numeric:
        _check_number(key, value, allowed, note)


def _check_number(key: str, value: Any, a: Allowed, note: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise fail(key, f"must be a finite number, got {value}")
    too_low = (a.gt is not None and value <= a.gt) or (a.ge is not None and value < a.ge)
    too_high = (a.lt is not None and value >= a.lt) or (a.le is not None and value > a.le)
    if too_low or too_high:
        raise fail(key, f"must be {_range_text(a)}{note}, got {value:g}")


def _range_text(a: Allowed) -> str:
    """`>= 0`, `< 1`, `(0, 1]`; with `what`: `a share in [0, 1)`, `a port >= 1`."""
    lo, lo_open = (a.gt, True) if a.gt is not None else (a.ge, False)
    hi, hi_open = (a.lt, True) if a.lt is not None else (a.le, False)
    what = f"{a.what} " if a.what else ""
    if hi is None:
        return f"{what}{'>' if lo_open else '>='} {lo:g}"
    if lo is None:
        return f"{what}{'<' if hi_open else '<='} {hi:g}"
    return f"{what}{'in ' if what else ''}{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


# ---------------------------------------------------------------- rules between fields


def _model_path(r: Recipe) -> None:
    if not r.model.path.strip():
        raise fail("model.path", "give a local model directory, or 'toy'")


def _variants(r: Recipe) -> None:
    if not r.variants:
        raise fail("variants", f"give at least one of {', '.join(VARIANTS)}")


def _stages(r: Recipe) -> None:
    """At least one stage, each with something to train on, under a name of its own."""
    if not r.stages:
        raise fail("stages", "at least one stage is needed")
    names: set[str] = set()
    for i, stage in enumerate(r.stages):
        if not stage.tasks and not stage.data:
            raise fail(f"stages.{i}.tasks", "a stage needs at least one task (or a data file)")
        if stage.name in names:
            raise fail(f"stages.{i}.name", f"duplicate stage name {stage.name!r}")
        names.add(stage.name)
    if r.stages[0].replay:
        raise fail("stages.0.replay", "the first stage has no earlier stage to replay")


def _trainers(r: Recipe) -> None:
    """Every trainer a stage or an arm runs with: the recipe's with its overrides on top."""
    runs = [("trainer", r.trainer)]
    runs += [(f"stages.{i}.trainer", stage_trainer(r, s)) for i, s in enumerate(r.stages)]
    for where, t in runs:
        check_fields(t, where)
        _trainer_rules(t, where)
        _scaling_rules(t, where)
    for i, arm in enumerate(r.experiment.arms):
        where, t = f"experiment.arms.{i}.trainer", dataclasses.replace(r.trainer, **arm.trainer)
        check_fields(t, where)
        _trainer_rules(t, where)


def _trainer_rules(t: TrainerSpec, where: str) -> None:
    if t.max_steps == 0 and t.num_epochs <= 0:
        raise fail(f"{where}.max_steps", "must be > 0 (or set num_epochs > 0 with max_steps=0)")
    if t.kind == "grpo" and t.group_size < 2:
        raise fail(f"{where}.group_size", f"GRPO needs at least 2 completions per prompt, got {t.group_size}")
    if t.kind == "grpo" and t.rollout_batch_size % t.batch_size:
        raise fail(f"{where}.rollout_batch_size", f"must be 0 (= batch_size) or a multiple of batch_size "
                   f"({t.batch_size}): each generation feeds whole optimizer steps; got {t.rollout_batch_size}")


def _scaling_rules(t: TrainerSpec, where: str) -> None:
    """LoRA's alpha matters only with LoRA on; vLLM generates GRPO's rollouts."""
    if t.lora_r:
        check_value(f"{where}.lora_alpha", t.lora_alpha, Allowed(gt=0))
    if t.use_vllm and t.kind != "grpo":
        raise fail(f"{where}.use_vllm", "vLLM rollouts are for GRPO stages only")


def _curriculum(r: Recipe) -> None:
    if r.curriculum.mode and not r.curriculum.inputs:
        raise fail("curriculum.inputs", "give capability=FILE entries for the curriculum")


def _reward(r: Recipe) -> None:
    """One weight per extra reward, a function named in each file, and some weight for GRPO to follow."""
    w = r.reward
    if len(w.extra_weights) not in (0, len(w.extra)):
        raise fail("reward.extra_weights", "give one weight per reward.extra entry")
    for i, spec in enumerate(w.extra):
        path_s, colon, attr = spec.rpartition(":")
        if colon and path_s.endswith(".py") and not attr.strip():
            raise fail(f"reward.extra.{i}", f"{spec!r} names no function; use path/to/file.py:function")
    weights = [w.accuracy_weight, w.format_weight, *(w.extra_weights or [1.0] * len(w.extra))]
    grpo = any(stage_trainer(r, s).kind == "grpo" for s in r.stages)
    if grpo and not any(weights):
        raise fail("reward.accuracy_weight", "every reward weight is 0, so GRPO would get no signal")


def _toy_counts(r: Recipe) -> None:
    t = r.toy
    if t.min_shapes < 1 or t.max_shapes > t.grid**2 or t.min_shapes > t.max_shapes:
        raise UserError("config key 'toy.min_shapes'/'toy.max_shapes': need 1 <= min <= max <= grid^2, "
                        f"got {t.min_shapes}, {t.max_shapes} (grid {t.grid})")
    if t.text_steps_max < t.text_steps_min:
        raise fail("toy.text_steps_max", f"must be >= text_steps_min ({t.text_steps_min}), got {t.text_steps_max}")


def _toy_layout(r: Recipe) -> None:
    """Images are tiled by 28 px merged tokens: a side that is not a multiple of 28 would be
    resized by the image processor, blurring every render. A shifted object's centre stays in its cell."""
    t = r.toy
    if (t.grid * t.cell_px) % 28:
        raise fail("toy.cell_px", f"grid * cell_px must be a multiple of 28 (one merged image token), "
                                  f"got {t.grid} * {t.cell_px} = {t.grid * t.cell_px}")
    check_value("toy.jitter_px", t.jitter_px, Allowed(ge=0, le=(t.cell_px - 1) // 2))


def _toy_shapes_and_sizes(r: Recipe) -> None:
    t = r.toy
    if len(t.shapes) < 2 or len(set(t.shapes)) != len(t.shapes) or len(t.shapes) > 10:
        raise fail("toy.shapes", f"give 2 to 10 different shapes, got {t.shapes}")
    if len(t.sizes) == 1 or len(set(t.sizes)) != len(t.sizes):
        raise fail("toy.sizes", f"give no sizes, or 2 or 3 different ones, got {t.sizes}")


def _toy_smallest_object(r: Recipe) -> None:
    """The smallest object must be big enough to tell its shape (MIN_OBJECT_PX across)."""
    t = r.toy
    smallest = (t.cell_px - 2 * max(2, t.cell_px // 7)) * t.object_scale * min(
        [SIZE_SCALE[s] for s in t.sizes] or [1.0])
    if smallest < MIN_OBJECT_PX:
        raise fail("toy.object_scale", f"the smallest object would be {smallest:.1f} px across; shapes need "
                                       f"at least {MIN_OBJECT_PX} (raise cell_px or object_scale, or drop small sizes)")


def _toy_model_heads(r: Recipe) -> None:
    m = r.toy_model
    if m.hidden_size % m.num_heads or m.num_heads % m.num_kv_heads:
        raise fail("toy_model.num_heads", "hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")


def _warmstart_task_weights(r: Recipe) -> None:
    w = r.warmstart
    if w.task_weights and len(w.task_weights) != len(w.tasks):
        raise fail("warmstart.task_weights", f"give one weight per task ({len(w.tasks)}), got {len(w.task_weights)}")
    for i, x in enumerate(w.task_weights):
        check_value(f"warmstart.task_weights[{i}]", x, Allowed(gt=0))


def _experiment_seeds(r: Recipe) -> None:
    seeds = r.experiment.seeds
    if not seeds:
        raise fail("experiment.seeds", "give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise fail("experiment.seeds", f"a seed is listed twice: {seeds}")


def _experiment_names(r: Recipe) -> None:
    """Arms and settings each have a name of their own; the caption stage's is not a stage's."""
    x = r.experiment
    arms: set[str] = set()
    for i, arm in enumerate(x.arms):
        if arm.name in arms or arm.name == "base":
            why = "'base' is always evaluated and cannot name an arm" if arm.name == "base" else "listed twice"
            raise fail(f"experiment.arms.{i}.name", f"{arm.name!r}: {why}")
        arms.add(arm.name)
    settings: set[str] = set()
    for i, st in enumerate(x.settings):
        if st.name in settings:
            raise fail(f"experiment.settings.{i}.name", f"{st.name!r} listed twice")
        settings.add(st.name)
    if x.caption_stage.name in {s.name for s in r.stages}:
        raise fail("experiment.caption_stage.name", f"{x.caption_stage.name!r} is also the name of a stage in 'stages'")


def _experiment_setting_overrides(r: Recipe) -> None:
    for i, st in enumerate(r.experiment.settings):
        for o in st.overrides:
            if "=" not in o or o.split("=", 1)[0].strip().startswith("experiment."):
                raise fail(f"experiment.settings.{i}.overrides", f"{o!r}: give key.sub=value pairs outside 'experiment'")


RULES: tuple[Callable[[Recipe], None], ...] = (
    _model_path, _variants, _stages, _trainers, _curriculum, _reward,
    _toy_counts, _toy_layout, _toy_shapes_and_sizes, _toy_smallest_object, _toy_model_heads,
    _warmstart_task_weights, _experiment_seeds, _experiment_names, _experiment_setting_overrides,
)


def validate(recipe: Recipe) -> None:
    """Every declared field, then every rule, then the `eval.*` settings; each message names its key."""
    check_fields(recipe)
    for rule in RULES:
        rule(recipe)
    # eval.* names benchmarks, protocols, devices and backends that only seethink.eval knows
    from seethink.eval.settings import check_eval_spec

    check_eval_spec(recipe.eval)
