"""Warm start pieces: the vision tower learns to read each grid cell, and the cache is keyed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seethink.config import load_recipe
from seethink.toyworld.scenes import blank_like, render_scene, sample_scene
from seethink.toyworld.warmstart import _cell_labels, cache_key, pretrain_vision


def test_vision_pretraining_reads_cells_and_blank_images_carry_nothing(tiny_model_dir: Path):
    """Image-use check at the vision tower: cell classes are recovered from real images only."""
    import random

    import torch.nn.functional as F

    from seethink.models.load import load_model

    recipe = load_recipe(None, ["warmstart.vision_steps=250"])
    model, processor = load_model(tiny_model_dir)
    torch.manual_seed(0)
    train_acc = pretrain_vision(model, processor, recipe, log=lambda *a: None)
    assert train_acc > 0.9

    # Fresh scenes: a linear probe fitted on real-image features must also read held-out scenes,
    # and blank images must give every cell the same features.
    rng = random.Random(99)
    scenes = [sample_scene(rng, 4, 2, 6) for _ in range(48)]
    hidden = model.config.text_config.hidden_size

    def feats(images):
        enc = processor.image_processor(images=images, return_tensors="pt")
        with torch.no_grad():
            return F.rms_norm(model.model.visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"]).pooler_output,
                              (hidden,))

    real = feats([render_scene(s) for s in scenes])  # (48 * 16, hidden)
    labels = torch.tensor([lab for s in scenes for lab in _cell_labels(s)])
    probe = torch.nn.Linear(hidden, 13)
    opt = torch.optim.Adam(probe.parameters(), lr=0.05)
    split = 32 * 16
    for _ in range(200):
        loss = F.cross_entropy(probe(real[:split]), labels[:split])
        opt.zero_grad()
        loss.backward()
        opt.step()
    held_out = (probe(real[split:]).argmax(-1) == labels[split:]).float().mean().item()
    assert held_out > 0.85
    blank = feats([blank_like(render_scene(s)) for s in scenes[:4]])
    assert torch.allclose(blank, blank[0].expand_as(blank), atol=1e-4)


def test_cache_key_tracks_settings():
    a = load_recipe()
    assert cache_key(a) == cache_key(load_recipe())
    assert cache_key(a) != cache_key(load_recipe(None, ["warmstart.sft_steps=7"]))
    assert cache_key(a) != cache_key(load_recipe(None, ["toy.max_shapes=5"]))
    # RL settings do not change the base
    assert cache_key(a) == cache_key(load_recipe(None, ["trainer.learning_rate=0.5"]))
    # Options added after bases were cached are keyed only when they change the build, so a
    # cached base stays valid across the update; every other value gets its own base.
    from seethink.toyworld.warmstart import _KEYED_ONLY_WHEN_SET, _key_section

    for section, added in _KEYED_ONLY_WHEN_SET.items():
        assert not set(added) & set(_key_section(section, getattr(a, section)))
    for change in ("warmstart.vision_heads=words", "warmstart.direct_fraction=0.25", "toy_model.image_after_text=true",
                   "toy.inventory=false", "toy_model.num_heads=16"):
        assert cache_key(a) != cache_key(load_recipe(None, [change])), change


def test_task_weights_set_the_mix_and_are_checked():
    from collections import Counter

    import pytest

    from seethink.errors import UserError
    from seethink.toyworld.warmstart import sft_items

    r = load_recipe(None, ["warmstart.items_per_capability=10", "warmstart.task_weights=[2,1,0.5]"])
    counts = Counter(it["capability"] for it in sft_items(r))
    assert counts == {"perception": 20, "text": 10, "visual": 5}
    assert cache_key(r) != cache_key(load_recipe(None, ["warmstart.items_per_capability=10"]))
    with pytest.raises(UserError, match="task_weights"):
        load_recipe(None, ["warmstart.task_weights=[1,2]"])
    with pytest.raises(UserError, match=r"task_weights\[0\]"):
        load_recipe(None, ["warmstart.task_weights=[0,1,1]"])


def test_direct_fraction_gives_some_choice_items_an_answer_without_reading():
    """Only multiple-choice items change, the same ones in every build, and they still earn full reward."""
    import pytest

    from seethink.errors import UserError
    from seethink.rewards import accuracy_reward, format_reward
    from seethink.toyworld.warmstart import sft_items

    keys = ["warmstart.items_per_capability=200"]
    plain = {it["id"]: it for it in sft_items(load_recipe(None, keys))}
    mixed = sft_items(load_recipe(None, [*keys, "warmstart.direct_fraction=0.5"]))
    direct = [it for it in mixed if it["solution"] != plain[it["id"]]["solution"]]
    assert direct and all(it["capability"] == "perception" for it in direct)
    assert 60 <= len(direct) <= 140  # about half of the 200 perception items
    assert [it["id"] for it in direct] == [it["id"] for it in sft_items(load_recipe(None, [
        *keys, "warmstart.direct_fraction=0.5"])) if it["solution"] != plain[it["id"]]["solution"]]
    for it in direct:
        assert it["solution"] == f"<think> I answer {it['answer']}.</think> \\boxed{{{it['answer']}}}"
        assert format_reward(it["solution"])["format"] == 1.0 and accuracy_reward(it["solution"], it)["accuracy"] == 1.0
    with pytest.raises(UserError, match="direct_fraction"):
        load_recipe(None, ["warmstart.direct_fraction=1.5"])


def test_factored_vision_labels_split_the_cell_class_into_shape_and_colour():
    from seethink.toyworld.scenes import COLORS, SHAPES
    from seethink.toyworld.warmstart import _factor_labels

    joint = torch.tensor([0] + [1 + s * len(COLORS) + c for s in range(len(SHAPES)) for c in range(len(COLORS))])
    shape, colour = _factor_labels(joint)
    assert shape.tolist() == [0] + [1 + s for s in range(len(SHAPES)) for _ in COLORS]
    assert colour.tolist() == [0] + [1 + c for _ in SHAPES for c in range(len(COLORS))]


def test_attribute_heads_train_the_vision_tower_only(tiny_model_dir: Path):
    """The word-tied heads score cells against the LM's embeddings without changing them."""
    import pytest

    from seethink.errors import UserError
    from seethink.models.load import load_model

    for kind in ("factored", "words"):
        model, processor = load_model(tiny_model_dir)
        emb = model.get_input_embeddings().weight.detach().clone()
        vision = [p.detach().clone() for p in model.model.visual.parameters()]
        recipe = load_recipe(None, [f"warmstart.vision_heads={kind}", "warmstart.vision_steps=5"])
        assert 0.0 <= pretrain_vision(model, processor, recipe, log=lambda *a: None) <= 1.0
        assert torch.equal(emb, model.get_input_embeddings().weight)
        assert any(not torch.equal(a, b) for a, b in zip(vision, model.model.visual.parameters(), strict=True))
    with pytest.raises(UserError, match="vision_heads"):
        load_recipe(None, ["warmstart.vision_heads=bogus"])


SMOKE_WARMSTART = ["warmstart.vision_steps=2", "warmstart.sft_steps=2", "warmstart.sft2_steps=0",
                   "warmstart.items_per_capability=8"]


def test_toy_base_command_writes_an_artefact_a_fresh_cache_loads(tmp_path: Path, monkeypatch, cli):
    """`seethink toy-base` exports the base with its cache key; a machine with an empty cache
    copies it instead of building, only when the key matches its own settings."""
    import json
    import os

    from seethink.toyworld import warmstart

    art = tmp_path / "toy_base"
    code, out, err = cli(["toy-base", "--out", str(art), *SMOKE_WARMSTART])
    assert code == 0, err
    recipe = load_recipe(None, SMOKE_WARMSTART)
    assert json.loads((art / "warmstart.json").read_text())["cache_key"] == cache_key(recipe)
    assert (art / "model.safetensors").is_file() and not list(art.glob("*.pt"))

    monkeypatch.setattr(warmstart, "shipped_base", lambda: art)
    monkeypatch.setenv("SEETHINK_CACHE", str(tmp_path / "fresh-cache"))
    built = []
    monkeypatch.setattr(warmstart, "build_warm_base", lambda *a, **k: built.append(1) or {})
    lines: list[str] = []
    got = warmstart.ensure_toy_base(recipe, log=lines.append)
    assert not built and any("shipped base" in x for x in lines)
    assert (got / "model.safetensors").read_bytes() == (art / "model.safetensors").read_bytes()

    other = load_recipe(None, [*SMOKE_WARMSTART, "warmstart.seed=7"])  # another key: never the artefact
    assert not warmstart._from_shipped(other, tmp_path / "x", log=lambda *a: None)
    assert not os.path.exists(tmp_path / "x")


def test_the_shipped_base_matches_the_default_settings():
    """The artefact in the package is the default recipe's base: change a default or a generator
    and this fails until `seethink toy-base` is run again (the base would otherwise be rebuilt
    on every fresh machine)."""
    import json

    from seethink.toyworld.warmstart import shipped_base

    marker = shipped_base() / "warmstart.json"
    assert marker.is_file(), "run `seethink toy-base` to build the shipped base"
    assert json.loads(marker.read_text())["cache_key"] == cache_key(load_recipe(None, []))


def test_a_base_shipped_for_another_world_is_found_by_its_key(tmp_path: Path, monkeypatch, cli):
    """`seethink toy-base --recipe R --out models/toy_bases/NAME` ships another world's base; a
    fresh cache takes it for that world's recipe only, never for the default settings."""
    import json

    from seethink.toyworld import warmstart

    recipe_file = tmp_path / "world.yaml"
    recipe_file.write_text("toy: {object_scale: 0.5}\n")
    bases = tmp_path / "toy_bases"
    code, out, err = cli(["toy-base", "--recipe", str(recipe_file), "--out", str(bases / "half"), *SMOKE_WARMSTART])
    assert code == 0, err
    world = load_recipe(str(recipe_file), SMOKE_WARMSTART)
    assert json.loads((bases / "half" / "warmstart.json").read_text())["cache_key"] == cache_key(world)

    monkeypatch.setattr(warmstart, "shipped_bases_dir", lambda: bases)
    monkeypatch.setattr(warmstart, "shipped_base", lambda: tmp_path / "no-default-base")
    monkeypatch.setenv("SEETHINK_CACHE", str(tmp_path / "fresh-cache"))
    monkeypatch.setattr(warmstart, "build_warm_base", lambda *a, **k: pytest.fail("built instead of copied"))
    lines: list[str] = []
    got = warmstart.ensure_toy_base(world, log=lines.append)
    assert any("shipped base half" in x for x in lines)
    assert (got / "model.safetensors").read_bytes() == (bases / "half" / "model.safetensors").read_bytes()
    assert not warmstart._from_shipped(load_recipe(None, SMOKE_WARMSTART), tmp_path / "x", log=lambda *a: None)


def test_toy_base_with_a_recipe_needs_out(cli):
    code, out, err = cli(["toy-base", "--recipe", "recipes/toy/study.yaml"])
    assert code != 0 and "--out" in err


def test_the_shipped_study_base_matches_the_study_recipe():
    """The study's world ships its base, so every machine that runs part of the study trains from
    the same weights (a rebuild on another CPU differs). Changing the study's world, its warm
    start or a generator fails here until `seethink toy-base --recipe recipes/toy/study.yaml
    --out src/seethink/models/toy_bases/small-shifted` is run again."""
    import json

    from seethink.toyworld.warmstart import shipped_bases_dir

    root = Path(__file__).resolve().parents[2]
    marker = shipped_bases_dir() / "small-shifted" / "warmstart.json"
    assert marker.is_file()
    study = load_recipe(str(root / "recipes" / "toy" / "study.yaml"), [])
    assert json.loads(marker.read_text())["cache_key"] == cache_key(study)


def test_the_default_world_study_trains_from_the_shipped_default_base():
    """study_today.yaml extends study.yaml: a warm-start setting of the study's world (its seed)
    must not leak into the default world's study, whose units trained from the shipped base."""
    import json

    from seethink.toyworld.warmstart import shipped_base

    root = Path(__file__).resolve().parents[2]
    today = load_recipe(str(root / "recipes" / "toy" / "study_today.yaml"), [])
    assert json.loads((shipped_base() / "warmstart.json").read_text())["cache_key"] == cache_key(today)


def test_cell_labels_for_worlds_with_more_cells_than_tokens_and_more_kinds():
    """Default world: one class per token, 1 + shape x 4 + colour; 14 px cells: four cells per
    token, each named; extra shapes and sizes widen the classes."""
    import random

    from seethink.config import ToyWorldSpec
    from seethink.toyworld.scenes import COLORS, SHAPES, sample_world_scene
    from seethink.toyworld.warmstart import vision_layout

    default = ToyWorldSpec()
    assert vision_layout(default) == (1, 1 + 3 * 4)
    scene = sample_world_scene(random.Random(0), default)
    assert _cell_labels(scene, default) == _cell_labels(scene)
    for o in scene.objects:
        assert _cell_labels(scene)[o.row * 4 + o.col] == 1 + SHAPES.index(o.shape) * 4 + COLORS.index(o.color)

    fine = ToyWorldSpec(grid=8, cell_px=14, max_shapes=10)
    k, classes = vision_layout(fine)
    assert (k, classes) == (2, 13)
    scene = sample_world_scene(random.Random(1), fine)
    labels = _cell_labels(scene, fine)
    assert len(labels) == 64 and sum(lab > 0 for lab in labels) == len(scene.objects)
    for o in scene.objects:  # token (row // 2, col // 2), then the cell inside it
        idx = ((o.row // 2) * 4 + o.col // 2) * 4 + (o.row % 2) * 2 + o.col % 2
        assert labels[idx] == 1 + SHAPES.index(o.shape) * 4 + COLORS.index(o.color)

    rich = ToyWorldSpec(shapes=["circle", "square", "triangle", "star"], sizes=["small", "large"])
    k, classes = vision_layout(rich)
    assert (k, classes) == (1, 1 + 4 * 4 * 2)
    scene = sample_world_scene(random.Random(2), rich)
    labels = _cell_labels(scene, rich)
    assert max(labels) < classes and sum(lab > 0 for lab in labels) == len(scene.objects)


def test_vision_layout_refuses_cells_that_do_not_tile_a_token():
    import pytest

    from seethink.config import ToyWorldSpec
    from seethink.errors import UserError
    from seethink.toyworld.warmstart import vision_layout

    with pytest.raises(UserError, match="cell_px=20"):
        vision_layout(ToyWorldSpec(cell_px=20))


def test_vision_pretraining_on_two_by_two_cells_per_token(tiny_model_dir: Path):
    """The 14 px world runs the same pretraining (a few steps: it runs and the loss is finite)."""
    from seethink.models.load import load_model

    recipe = load_recipe(None, ["warmstart.vision_steps=3", "toy.grid=8", "toy.cell_px=14", "toy.max_shapes=10"])
    model, processor = load_model(tiny_model_dir)
    acc = pretrain_vision(model, processor, recipe, log=lambda *a: None)
    assert 0.0 <= acc <= 1.0
