"""EasyR1 export: JSONL schema, images, format prompt and config keys."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import typer
import yaml
from typer.testing import CliRunner

from seethink.data.commands import register
from seethink.data.easyr1 import export_easyr1, format_prompt_jinja
from seethink.data.export import write_toy_items
from seethink.data.prompts import render_prompt
from seethink.data.toyworld import generate_items
from seethink.errors import UserError
from seethink.utils import read_jsonl, write_jsonl


def _easyr1_messages(prompt: str, fmt: str) -> list[dict]:
    """How EasyR1 builds the user turn: render the format prompt, split on <image>."""
    text = jinja2.Template(fmt.strip()).render(content=prompt)
    content: list[dict] = []
    for i, part in enumerate(text.split("<image>")):
        if i:
            content.append({"type": "image"})
        if part:
            content.append({"type": "text", "text": part})
    return content


def test_export_schema_images_and_prompt(tmp_path: Path):
    src = write_toy_items("perception", 3, "train", 0, tmp_path / "in" / "p.jsonl")
    out = tmp_path / "er1"
    info = export_easyr1(src, out)
    rows = read_jsonl(out / "train.jsonl")
    items = read_jsonl(src)
    assert info["items"] == 3 and len(rows) == 3
    for row, it in zip(rows, items, strict=True):
        assert set(row) == {"prompt", "answer", "images", "id", "capability"}
        assert row["prompt"].count("<image>") == len(row["images"]) == 1 and row["prompt"].startswith("<image>")
        assert row["answer"] == it["answer"]
        assert (out / row["images"][0]).is_file()  # relative to data.image_dir (= out)
        # What EasyR1 shows the model is seethink's own prompt, image first.
        msg = _easyr1_messages(row["prompt"], (out / "format_prompt.jinja").read_text())
        assert msg[0] == {"type": "image"} and msg[1]["text"] == render_prompt(it)


def test_config_keys(tmp_path: Path):
    src = write_toy_items("text", 2, "train", 0, tmp_path / "t.jsonl")
    val = write_toy_items("text", 2, "test", 0, tmp_path / "v.jsonl")
    export_easyr1(src, tmp_path / "o", val_path=val, group_size=8, lr=2e-6, kl_coef=0.05, model_path="/m")
    cfg = yaml.safe_load((tmp_path / "o" / "easyr1_config.yaml").read_text())
    d = cfg["data"]
    assert Path(d["train_files"]) == (tmp_path / "o" / "train.jsonl").resolve()
    assert Path(d["val_files"]) == (tmp_path / "o" / "val.jsonl").resolve()
    assert (d["prompt_key"], d["answer_key"], d["image_key"]) == ("prompt", "answer", "images")
    assert Path(d["format_prompt"]).is_file() and Path(d["image_dir"]).is_dir()
    assert cfg["worker"]["rollout"]["n"] == 8
    assert cfg["worker"]["actor"]["optim"]["lr"] == pytest.approx(2e-6)
    assert cfg["algorithm"]["kl_coef"] == pytest.approx(0.05)
    assert cfg["worker"]["actor"]["model"]["model_path"] == "/m"
    rows = read_jsonl(tmp_path / "o" / "train.jsonl")
    assert rows[0]["images"] == [] and "<image>" not in rows[0]["prompt"]


def test_scene_items_without_files_and_multi_image(tmp_path: Path):
    # Items straight from the generator have no image files: their scenes are rendered.
    items = generate_items("visual", 2, "train", 0)
    write_jsonl(tmp_path / "v.jsonl", items)
    from PIL import Image

    Image.new("RGB", (8, 8), (1, 1, 1)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8), (2, 2, 2)).save(tmp_path / "b.png")
    write_jsonl(tmp_path / "m.jsonl", [{"id": "m1", "question": "Same?", "answer": "no", "images": ["a.png", "b.png"]}])
    export_easyr1(tmp_path / "v.jsonl", tmp_path / "o1")
    rows = read_jsonl(tmp_path / "o1" / "train.jsonl")
    assert rows[0]["images"] == [f"images/{items[0]['id']}.png"] and (tmp_path / "o1" / rows[0]["images"][0]).is_file()
    export_easyr1(tmp_path / "m.jsonl", tmp_path / "o2")
    row = read_jsonl(tmp_path / "o2" / "train.jsonl")[0]
    assert row["prompt"].startswith("<image><image>Same?") and [Path(p).name for p in row["images"]] == ["a.png", "b.png"]
    assert all((tmp_path / "o2" / p).is_file() for p in row["images"])


def test_format_prompt_and_errors(tmp_path: Path):
    assert "{{ content | trim }}" in format_prompt_jinja() and "{options}" not in format_prompt_jinja()
    write_jsonl(tmp_path / "x.jsonl", [{"id": "a", "question": "q", "answer": "1", "images": ["gone.png"]}])
    with pytest.raises(UserError, match=r"x\.jsonl, row 1, field 'images': image not found"):
        export_easyr1(tmp_path / "x.jsonl", tmp_path / "o")
    with pytest.raises(UserError, match="group-size"):
        export_easyr1(tmp_path / "x.jsonl", tmp_path / "o", group_size=1)


def test_cli_export(tmp_path: Path):
    src = write_toy_items("perception", 2, "train", 0, tmp_path / "p.jsonl")
    app, data = typer.Typer(), typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    r = CliRunner().invoke(app, ["data", "export-easyr1", "--input", str(src), "--out", str(tmp_path / "e"),
                                 "--group-size", "4", "--lr", "3e-6", "--kl", "0"])
    assert r.exit_code == 0, r.output
    cfg = yaml.safe_load((tmp_path / "e" / "easyr1_config.yaml").read_text())
    assert cfg["worker"]["rollout"]["n"] == 4 and cfg["algorithm"]["kl_coef"] == 0
