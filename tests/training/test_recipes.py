"""Every recipe under recipes/ loads and plans without weights; the paper's recipes carry its settings.

Placeholder paths (`<set KEY=... on the command line>`) are overridden with tiny files written here,
as a user overrides them with real ones; toy recipes get a handful of items per stage.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from seethink.config import Recipe, load_recipe
from seethink.data.plan import PlannedStage, apply_curriculum, plan
from seethink.errors import UserError
from seethink.experiment.arms import resolve_arms
from seethink.experiment.units import plan_arm, seeded
from seethink.training.scaling import per_device_batch, steps_per_generation
from seethink.utils import write_jsonl

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*/*.yaml"))
PAPER = {  # folder -> (max prompt length, damped text stage)
    "qwen2_5_vl_7b": (2048, False),
    "qwen3_vl_8b": (2048, False),
    "internvl3_8b": (4096, True),
    "internvl3_5_8b": (4096, False),
}
PLACEHOLDER = re.compile(r"^<set ([\w.]+)=\w+ on the command line>$")


def _placeholders(tree: object, where: str = "") -> dict[str, str]:
    """key -> placeholder for every `<set KEY=... on the command line>` value in a recipe tree."""
    out: dict[str, str] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(_placeholders(v, f"{where}.{k}" if where else str(k)))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.update(_placeholders(v, f"{where}.{i}"))
    elif isinstance(tree, str) and PLACEHOLDER.match(tree):
        assert PLACEHOLDER.match(tree).group(1) == where, f"placeholder {tree!r} sits at {where}"
        out[where] = tree
    return out


def _stage_file(path: Path, capability: str) -> Path:
    """A tiny seethink JSONL: one image item with options, one text item."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (56, 56), (200, 30, 30)).save(path.parent / f"{path.stem}.png")
    write_jsonl(path, [
        {"id": f"{path.stem}-1", "question": "What colour is the square?", "options": ["red", "blue"], "answer": "A",
         "images": [f"{path.stem}.png"], "capability": capability},
        {"id": f"{path.stem}-2", "question": "What is 2 + 3?", "answer": "5", "capability": capability},
    ])
    return path


def _passk_file(path: Path, capability: str) -> Path:
    write_jsonl(path, [{"id": f"{capability}-{i}", "question": f"{i} + 1?", "answer": str(i + 1),
                        "capability": capability, "pass_rate": rate} for i, rate in enumerate((0.2, 0.6, 0.4))])
    return path


def _overrides(path: Path, tmp: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text())
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for key in _placeholders(raw):
        if key == "model.path":
            (tmp / "model").mkdir(exist_ok=True)  # planning reads no weights
            out.append(f"model.path={tmp / 'model'}")
        elif key.startswith("stages.") and key.endswith(".data"):
            name = raw["stages"][int(key.split(".")[1])]["name"]
            out.append(f"{key}={_stage_file(tmp / 'data' / f'{name}.jsonl', name)}")
        elif key == "eval.data_root":
            out.append(f"eval.data_root={tmp}")
        else:
            raise AssertionError(f"{path}: no test value for placeholder {key}")
    for i, stage in enumerate(raw.get("stages") or []):
        if stage.get("tasks"):
            out.append(f"stages.{i}.items_per_task=3")
    if (raw.get("experiment") or {}).get("caption_stage", {}).get("tasks"):
        out.append("experiment.caption_stage.items_per_task=3")
    inputs = (raw.get("curriculum") or {}).get("inputs") or {}
    if inputs:  # the curriculum's per-capability files, with pass rates
        files = {cap: str(_passk_file(tmp / f"{cap}.passk.jsonl", cap)) for cap in inputs}
        out.append(f"curriculum.inputs={json.dumps(files)}")
    return out


def _planned(recipe: Recipe, tmp: Path) -> dict[str, list[PlannedStage]]:
    """Every variant's (or, for an experiment recipe, every arm's) stages with their items."""
    if recipe.curriculum.mode:
        apply_curriculum(recipe, tmp / "run", log=lambda *_: None)
    if not recipe.experiment.arms:
        return plan(recipe)
    out = {}
    for arm in resolve_arms(recipe):
        r = seeded(recipe, recipe.experiment.seeds[0])
        rates = None
        if arm.difficulty:  # a pass rate for every item (the base's, in a real run)
            rates = {it["id"]: 0.5 for st in plan_arm(r, dataclasses.replace(arm, difficulty=False)) for it in st.items}
        out[arm.name] = plan_arm(r, arm, rates)
    return out


def _load(path: Path, tmp: Path, extra: list[str] | None = None) -> Recipe:
    return load_recipe(path, _overrides(path, tmp) + (extra or []))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recipe_loads_and_plans_without_weights(path: Path, tmp_path: Path):
    recipe = _load(path, tmp_path)
    planned = _planned(recipe, tmp_path)
    assert planned
    for name, stages in planned.items():
        assert stages, name
        for st in stages:
            assert st.items, f"{name}/{st.name}: no items"
            if st.trainer.kind == "grpo":  # the batch splits over one process (the GPU recipes: below)
                assert per_device_batch(st.trainer, 1) >= 1


def test_recipes_exist_for_the_papers_four_models():
    assert {p.parent.name for p in RECIPES} >= set(PAPER)
    for folder in PAPER:
        assert {p.name for p in RECIPES if p.parent.name == folder} == {"staged.yaml", "merged.yaml", "study.yaml"}


@pytest.mark.parametrize("folder", sorted(PAPER))
def test_paper_recipes_carry_the_papers_settings(folder: str, tmp_path: Path):
    prompt_len, damped = PAPER[folder]
    staged = _load(REPO / "recipes" / folder / "staged.yaml", tmp_path)
    assert staged.model.dtype == "bfloat16" and staged.variants == ["staged"]
    t = staged.trainer
    assert (t.kind, t.group_size, t.beta, t.learning_rate, t.weight_decay, t.temperature) == (
        "grpo", 5, 1e-2, 1e-6, 1e-2, 1.0)
    assert (t.max_prompt_length, t.max_completion_length, t.bf16) == (prompt_len, 2048, True)
    # Rollout batch 512 and global batch 128 in TRL's terms, on the accelerate config's 8 processes:
    # 5 completions per micro-step, 16 micro-steps per optimizer step, 64 per generation.
    assert (t.batch_size, t.rollout_batch_size) == (128, 512)
    assert per_device_batch(t, 8) == 5 and t.gradient_accumulation_steps == 16
    assert steps_per_generation(t) == 64 and steps_per_generation(t) // t.gradient_accumulation_steps == 4
    assert per_device_batch(t, 8) * 8 * steps_per_generation(t) == 512 * 5
    accel = yaml.safe_load((REPO / "configs/accelerate/deepspeed_zero2.yaml").read_text())
    assert accel["num_processes"] == 8 and "configs/accelerate/deepspeed_zero2.yaml" in \
        (REPO / "recipes" / folder / "staged.yaml").read_text()

    stages = plan(staged)["staged"]
    assert [s.name for s in stages] == ["perception", "text", "visual"]
    assert [s.trainer.freeze_vision for s in stages] == [False, True, False]  # vision trained in 1 and 3
    text = stages[1].trainer
    if damped:  # InternVL3-8B's damped text stage
        assert (text.learning_rate, text.beta, text.epsilon, text.max_grad_norm) == (3e-7, 5e-2, 0.15, 0.5)
    else:
        assert (text.learning_rate, text.beta, text.epsilon, text.max_grad_norm) == (1e-6, 1e-2, 0.2, 1.0)
    assert all(s.trainer.learning_rate == 1e-6 for s in (stages[0], stages[2]))

    both = plan(_load(REPO / "recipes" / folder / "staged.yaml", tmp_path / "b", ["variants=[staged,merged]"]))
    assert set(both) == {"staged", "merged"}  # the README's one-run walk-through
    merged = plan(_load(REPO / "recipes" / folder / "merged.yaml", tmp_path / "m"))["merged"]
    assert len(merged) == 1 and merged[0].trainer.freeze_vision is False  # as the staged image stages
    assert len(merged[0].items) == sum(len(s.items) for s in stages)

    study = _load(REPO / "recipes" / folder / "study.yaml", tmp_path / "s")
    arms = {a.name: a for a in resolve_arms(study)}
    assert set(arms) == {"staged", "merged", "merged_frozen_vision"}
    frozen = plan_arm(study, arms["merged_frozen_vision"])
    assert len(frozen) == 1 and frozen[0].trainer.freeze_vision is True  # the release's merged run
    assert plan_arm(study, arms["merged"])[0].trainer.freeze_vision is False
    assert [s.trainer.freeze_vision for s in plan_arm(study, arms["staged"])] == [False, True, False]


def test_paper_recipe_trainer_builds_trls_config(tmp_path: Path):
    """The recipe's trainer is a valid GRPOConfig (bf16 and vLLM need a GPU only once training starts)."""
    from seethink.training.stage import grpo_config

    t = _load(REPO / "recipes/qwen2_5_vl_7b/staged.yaml", tmp_path).trainer
    cfg = grpo_config(dataclasses.replace(t, bf16=False), tmp_path, 0)
    # One process here: 640 completions per optimizer step over 16 micro-steps of 40.
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.steps_per_generation) == (40, 16, 64)
    assert cfg.generation_batch_size == 512 * 5 and cfg.num_generations == 5
    assert (cfg.beta, cfg.learning_rate, cfg.weight_decay, cfg.temperature) == (1e-2, 1e-6, 1e-2, 1.0)
    assert (cfg.use_vllm, cfg.vllm_mode, cfg.vllm_max_model_length) == (True, "colocate", 8192)


def test_placeholder_paths_stop_with_their_key(tmp_path: Path):
    """Run as shipped, a paper recipe names the key to set instead of training on anything."""
    recipe = load_recipe(REPO / "recipes/qwen2_5_vl_7b/staged.yaml")
    with pytest.raises(UserError, match=r"not found: <set stages\.0\.data=FILE on the command line>"):
        plan(recipe)
    from seethink.training.pipeline import resolve_base

    with pytest.raises(UserError, match=r"model\.path.*<set model\.path=DIR"):
        resolve_base(recipe)

