"""Caption items for caption SFT: the toy task, DOCCI / PixMo-style conversion, one SFT stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.config import ToyWorldSpec
from seethink.data.captions import convert_captions
from seethink.data.images import item_images
from seethink.data.prompts import render_prompt
from seethink.data.tasks import get_task
from seethink.errors import UserError
from seethink.toyworld.scenes import Scene


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (28, 28), color).save(path)
    return path


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_toy_caption_items_are_split_by_content_and_target_the_caption():
    task = get_task("toy_caption")
    assert task.capability == "caption"
    world = ToyWorldSpec()
    train = task.generate(60, "train", 0, world)
    test = task.generate(30, "test", 0, world)
    assert task.generate(60, "train", 0, world) == train  # deterministic
    assert {it["caption"] for it in train}.isdisjoint(it["caption"] for it in test)
    assert {it["id"] for it in train}.isdisjoint(it["id"] for it in test)
    assert len({it["id"] for it in train}) == 60
    for it in train + test:
        caption = Scene.from_facts(it["facts"]).caption()
        assert it["caption"] == it["answer"] == it["solution"] == caption
        assert "<think>" not in it["solution"] and "\\boxed" not in it["solution"]
        assert it["options"] == [] and it["subquestions"] == [] and it["images"] == []
        assert it["task"] == "toy_caption" and it["capability"] == "caption"
    assert render_prompt(train[0]) == "Describe the image."
    assert len(item_images(train[0])) == 1  # rendered from the scene facts


def test_docci_style_file_converts_with_split_filter(tmp_path: Path):
    from seethink.data.plan import data_file_items

    _png(tmp_path / "docci" / "images" / "train_00001.png", (200, 0, 0))
    _png(tmp_path / "docci" / "images" / "test_00001.png", (0, 0, 200))
    src = _jsonl(tmp_path / "docci" / "docci_descriptions.jsonlines", [
        {"example_id": "train_00001", "split": "train", "image_file": "train_00001.png",
         "description": " A red square fills the frame. "},
        {"example_id": "test_00001", "split": "test", "image_file": "test_00001.png",
         "description": "A blue square."},
    ])
    out = tmp_path / "data" / "captions.jsonl"
    stats = convert_captions(src, out, image_root=tmp_path / "docci" / "images", split="train")
    assert (stats["items"], stats["rows"], stats["other_split"]) == (1, 2, 1)
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["images"] == ["../docci/images/train_00001.png"]  # relative to the output's folder
    assert row["answer"] == row["solution"] == row["caption"] == "A red square fills the frame."
    assert (row["id"], row["capability"], row["prompt_template"]) == ("train_00001", "caption", "caption")
    assert render_prompt(row) == "Describe the image."
    (item,) = data_file_items(out)  # what a stage with `data: captions.jsonl` reads
    assert Path(item["images"][0]) == (tmp_path / "docci" / "images" / "train_00001.png").resolve()


def test_pixmo_and_generic_rows_convert_through_the_cli(tmp_path: Path, cli):
    _png(tmp_path / "imgs" / "a.png", (10, 200, 10))
    _png(tmp_path / "imgs" / "b.png", (200, 200, 10))
    src = _jsonl(tmp_path / "pixmo.jsonl", [
        {"image": "imgs/a.png", "caption": "A green square.", "image_url": "https://example.invalid/a"},
        {"image_path": "imgs/b.png", "text": "A yellow square."},
        {"image": "imgs/a.png", "caption": "A green square."},  # repeated: dropped
    ])
    out = tmp_path / "items.jsonl"
    code, stdout, err = cli(["data", "captions", "--input", str(src), "--out", str(out)])
    assert code == 0, err
    assert "2 caption items from 3 rows (1 duplicates)" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["images"] for r in rows] == [["imgs/a.png"], ["imgs/b.png"]]
    assert [r["solution"] for r in rows] == ["A green square.", "A yellow square."]
    assert len({r["id"] for r in rows}) == 2 and all(r["id"].startswith("pixmo-") for r in rows)


@pytest.mark.parametrize(("row", "where", "problem"), [
    ({"image": "ok.png"}, "field 'caption'", "missing"),
    ({"image": "ok.png", "caption": "  "}, "field 'caption'", "empty caption"),
    ({"image": "ok.png", "caption": 3}, "field 'caption'", "expected text"),
    ({"caption": "x", "image_url": "https://example.invalid/1.jpg"}, "field 'image'", "download the images"),
    ({"image": "nowhere.png", "caption": "x"}, "field 'image'", "image not found"),
    ({"image_file": "broken.png", "description": "x"}, "field 'image_file'", "unreadable image"),
    ("{not json", "row 2", "not valid JSON"),
])
def test_bad_caption_rows_name_file_row_and_field(tmp_path: Path, row: object, where: str, problem: str):
    _png(tmp_path / "ok.png", (0, 0, 0))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    src = _jsonl(tmp_path / "caps.jsonl", [{"image": "ok.png", "caption": "fine"}, row])
    with pytest.raises(UserError) as exc:
        convert_captions(src, tmp_path / "out.jsonl")
    msg = str(exc.value)
    assert str(src) in msg and "row 2" in msg and where in msg and problem in msg, msg
    assert not (tmp_path / "out.jsonl").exists()


def test_caption_sft_stage_trains_on_captions(tiny_model_dir: Path, tmp_path: Path):
    """An SFT stage on toy and converted caption items: the completion is the caption, weights move."""
    import torch
    from safetensors.torch import load_file

    from seethink.config import RewardSpec, TrainerSpec
    from seethink.data.plan import data_file_items
    from seethink.training.datasets import sft_dataset
    from seethink.training.stage import run_stage

    _png(tmp_path / "real.png", (40, 80, 220))
    convert_captions(_jsonl(tmp_path / "real.jsonl", [{"image": "real.png", "caption": "A blue square."}]),
                     tmp_path / "real_items.jsonl")
    items = get_task("toy_caption").generate(3, "train", 0, ToyWorldSpec()) + data_file_items(
        tmp_path / "real_items.jsonl")
    ds = sft_dataset(items)
    assert [r["completion"][0]["content"] for r in ds] == [it["caption"] for it in items]
    assert all(len(r["images"]) == 1 for r in ds)

    trainer = TrainerSpec(kind="sft", max_steps=2, batch_size=2, learning_rate=1e-3, shuffle=False, save_steps=0)
    metrics = tmp_path / "metrics.jsonl"
    info = run_stage(tiny_model_dir, items, trainer, RewardSpec(), tmp_path / "s", stage="caption",
                     variant="staged", metrics_path=metrics, report_to=[])
    assert info["steps"] == 2 and info["items"] == 4
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["loss"] > 0 for r in rows)
    assert not (tmp_path / "s" / "tensorboard").exists()  # report_to=[]: no tracker
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "s" / "checkpoint" / "model.safetensors"))
    assert set(before) == set(after)
    assert any(not torch.equal(before[k], after[k]) for k in before), "SFT should move the weights"
