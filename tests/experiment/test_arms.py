"""Arms resolve into fair stage plans: same items per stage in every arm, budgets as stated."""

from __future__ import annotations

from pathlib import Path

import pytest

from seethink.config import load_recipe
from seethink.errors import UserError
from seethink.experiment.arms import BUILTIN, resolve_arm, resolve_arms, stage_steps
from seethink.experiment.units import plan_arm

SMOKE_STUDY = Path(__file__).resolve().parents[2] / "recipes" / "toy" / "study_smoke.yaml"

REPO = Path(__file__).resolve().parents[2]


def _recipe(*overrides: str):
    return load_recipe(REPO / "recipes" / "toy" / "study_smoke.yaml", list(overrides))


def test_every_builtin_arm_resolves_and_plans():
    r = _recipe(f"experiment.arms=[{', '.join(BUILTIN)}]")
    rates = None
    for arm in resolve_arms(r):
        if arm.difficulty:
            items = [it for st in arm.stages for it in plan_arm(r, arm.__class__(name="x", stages=[st]))[0].items]
            rates = {it["id"]: (hash(it["id"]) % 100) / 100 for it in items}
        stages = plan_arm(r, arm, rates if arm.difficulty else None)
        assert stages and all(st.items for st in stages)
        if arm.merge:
            assert len(stages) == 1 and stages[0].trainer.max_steps == sum(s.trainer.max_steps for s in arm.stages)


def test_a_stage_draws_the_same_items_in_every_arm():
    r = _recipe()
    staged = plan_arm(r, resolve_arm(r, BUILTIN["staged"].__class__(name="staged")))
    text_first = plan_arm(r, resolve_arm(r, BUILTIN["text_first"].__class__(name="text_first")))
    by_name = {st.name: [it["id"] for it in st.items] for st in staged}
    for st in text_first:
        assert [it["id"] for it in st.items] == by_name[st.name]
    merged = plan_arm(r, resolve_arm(r, BUILTIN["merged"].__class__(name="merged")))[0]
    assert sorted(it["id"] for it in merged.items) == sorted(i for ids in by_name.values() for i in ids)


def test_stage_trainer_settings_survive_and_arm_overrides_apply():
    r = _recipe("stages.0.trainer.beta=0.03", "experiment.arms=[{name: mf, like: merged_frozen_vision}, "
                "{name: s2, like: staged, stage_trainer: {text: {learning_rate: 3e-5}}}]")
    mf, s2 = resolve_arms(r)
    assert all(st.trainer.freeze_vision for st in mf.stages)
    assert [st.trainer.beta for st in s2.stages][0] == 0.03
    assert [st.trainer.learning_rate for st in s2.stages] == [1e-5, 3e-5, 1e-5]
    merged = plan_arm(r, mf)[0]
    assert merged.trainer.freeze_vision and merged.trainer.shuffle


def test_equal_budget_gives_every_arm_the_reference_total():
    r = _recipe("experiment.budget=equal", "stages.0.trainer.max_steps=4")
    total = 4 + 2 + 2
    for name in ("staged", "merged", "text_visual", "visual_only", "merged_reasoning"):
        arm = resolve_arm(r, BUILTIN[name].__class__(name=name))
        assert sum(stage_steps(r, arm)) == total, name
    paper = _recipe("stages.0.trainer.max_steps=4")
    assert stage_steps(paper, resolve_arm(paper, BUILTIN["text_visual"].__class__(name="text_visual"))) == [2, 2]


def test_difficulty_orders_easy_to_hard_without_shuffling():
    r = _recipe()
    arm = resolve_arm(r, BUILTIN["capability_x_difficulty"].__class__(name="capability_x_difficulty"))
    plain = plan_arm(r, resolve_arm(r, BUILTIN["staged"].__class__(name="staged")))
    rates = {it["id"]: (k % 5) / 4 for st in plain for k, it in enumerate(st.items)}
    for st in plan_arm(r, arm, rates):
        got = [rates[it["id"]] for it in st.items]
        assert got == sorted(got, reverse=True) and not st.trainer.shuffle
    with pytest.raises(UserError, match="no pass rate"):
        plan_arm(r, arm, {})


@pytest.mark.parametrize(("overrides", "message"), [
    (["experiment.arms=[nonsense]"], "not built in"),
    (["experiment.arms=[{name: x, stages: [4]}]"], "stage 4 does not exist"),
    (["experiment.arms=[{name: x, stages: [perception, perception]}]"], "twice"),
    (["experiment.arms=[{name: x, like: stagedd}]"], "not a built-in"),
    (["experiment.arms=[{name: x, stages: [caption, visual], merge: true}]"], "only GRPO"),
    (["experiment.arms=[{name: x, stages: [1], stage_trainer: {text: {beta: 0.1}}}]"], "does not train"),
    (["experiment.caption_stage.tasks=[]", "experiment.arms=[caption_sft]"], "caption stage"),
])
def test_bad_arms_fail_with_a_reason(overrides, message):
    with pytest.raises(UserError, match=message):
        resolve_arms(_recipe(*overrides))


@pytest.mark.parametrize(("override", "message"), [
    ("experiment.arms=[base]", "always evaluated"),
    ("experiment.arms=[staged, staged]", "listed twice"),
    ("experiment.budget=half", "budget"),
    ("experiment.seeds=[1, 1]", "twice"),
    ("experiment.arms.0.trainer.betta=1", "unknown config key"),
])
def test_bad_experiment_settings_are_refused_by_the_config(override, message):
    with pytest.raises(UserError, match=message):
        _recipe(override)


def test_a_directory_holds_one_experiment_whatever_the_speed_switches(tmp_path: Path):
    """Units run in parts pool only when their settings match; switches between paths that compute
    the same thing (lean decoding, shared prompt passes), workers and seeds do not count."""
    from seethink.experiment.run import _check_same_experiment, _save_experiment

    recipe = load_recipe(SMOKE_STUDY)
    _save_experiment(tmp_path, recipe, resolve_arms(recipe), [0])
    same = load_recipe(SMOKE_STUDY, ["trainer.fast_generation=false", "trainer.shared_prompt=true",
                                "eval.fast_generation=false", "experiment.workers=1", "experiment.seeds=[4]"])
    _check_same_experiment(tmp_path, same)
    with pytest.raises(UserError, match="other settings .*trainer"):
        _check_same_experiment(tmp_path, load_recipe(SMOKE_STUDY, ["trainer.learning_rate=1e-3"]))


def test_results_from_another_experiment_are_refused_before_anything_runs(tmp_path: Path):
    """--results pools units into one report like --out: a folder of units from another base
    (here another warm-start seed) is refused by name, before any base is built."""
    from seethink.experiment.run import _save_experiment, run_experiment

    results = tmp_path / "results"
    _save_experiment(results, load_recipe(SMOKE_STUDY), resolve_arms(load_recipe(SMOKE_STUDY)), [0])
    other = load_recipe(SMOKE_STUDY, ["warmstart.seed=99"])
    with pytest.raises(UserError, match=r"results holds an experiment with other settings \(warmstart differ\); "
                                        r"use another --results"):
        run_experiment(other, tmp_path / "exp", results=results, log=lambda *_: None)
    assert not (tmp_path / "exp" / "units").exists()
