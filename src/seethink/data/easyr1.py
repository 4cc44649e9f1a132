"""Export seethink items to EasyR1 (hiyouga/EasyR1) for GRPO training there.

EasyR1 reads JSONL rows with a prompt column (one ``<image>`` placeholder per image, split
out into image slots when the chat is built), an answer column and an image column holding
paths (joined to ``data.image_dir`` when relative). Its ``data.format_prompt`` is a Jinja
file rendered with the row's prompt as ``content``. We write:

  OUT/train.jsonl           prompt / answer / images (+ id, capability)
  OUT/val.jsonl             same, when a validation file is given
  OUT/images/               toy items' rendered scenes (items without image files)
  OUT/format_prompt.jinja   seethink's prompt template around {{ content }}
  OUT/easyr1_config.yaml    a config to pass as `config=`; EasyR1 fills the rest from its defaults
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from seethink.data.images import item_images
from seethink.data.prompts import format_options, load_template
from seethink.errors import UserError
from seethink.utils import atomic_write_text, read_jsonl, write_jsonl

IMAGE_TOKEN = "<image>"


def format_prompt_jinja(template: str | None = None) -> str:
    """The seethink template with the question (and its options) as EasyR1's `content`."""
    text = load_template(template or "reasoning")
    if "{{" in text or "{%" in text or "{#" in text:
        text = "{% raw %}" + text + "{% endraw %}"
        text = text.replace("{question}", "{% endraw %}{{ content | trim }}{% raw %}")
    else:
        text = text.replace("{question}", "{{ content | trim }}")
    return text.replace("{options}", "") + "\n"


def easyr1_row(item: dict, image_paths: list[str]) -> dict[str, Any]:
    question = item["question"].strip().replace(IMAGE_TOKEN, "")
    prompt = IMAGE_TOKEN * len(image_paths) + question + format_options(item.get("options") or [])
    return {
        "prompt": prompt,
        "answer": str(item["answer"]),
        "images": image_paths,
        "id": str(item.get("id", "")),
        "capability": str(item.get("capability", "")),
    }


def _export_rows(src: Path, out_dir: Path, cell_px: int) -> list[dict]:
    rows = []
    for n, item in enumerate(read_jsonl(src), 1):
        for f in ("question", "answer"):
            if f not in item:
                raise UserError(f"{src}, row {n}, field '{f}': missing")
        paths = item.get("images") or []
        if paths:
            rel = [os.path.relpath(Path(p) if Path(p).is_absolute() else (src.parent / p).resolve(),
                                   out_dir.resolve()) for p in paths]
            for p, r in zip(paths, rel, strict=True):
                if not (out_dir / r).is_file():
                    raise UserError(f"{src}, row {n}, field 'images': image not found: {p}")
        else:
            imgs = item_images(item, src.parent, cell_px=cell_px)  # toy scene from facts, if any
            rel = []
            for k, im in enumerate(imgs):
                name = f"{item.get('id', n)}.png" if len(imgs) == 1 else f"{item.get('id', n)}_{k}.png"
                (out_dir / "images").mkdir(parents=True, exist_ok=True)
                im.save(out_dir / "images" / name)
                rel.append(f"images/{name}")
        rows.append(easyr1_row(item, rel))
    return rows


def easyr1_config(out_dir: Path, train: Path, val: Path, *, group_size: int, lr: float, kl_coef: float,
                  model_path: str | None = None) -> dict[str, Any]:
    root = out_dir.resolve()
    cfg: dict[str, Any] = {
        "data": {
            "train_files": str(train.resolve()),
            "val_files": str(val.resolve()),
            "prompt_key": "prompt",
            "answer_key": "answer",
            "image_key": "images",
            "image_dir": str(root),
            "format_prompt": str(root / "format_prompt.jinja"),
        },
        "algorithm": {"adv_estimator": "grpo", "use_kl_loss": True, "kl_coef": kl_coef},
        "worker": {
            "actor": {"optim": {"lr": lr}},
            "rollout": {"n": group_size},
        },
    }
    if model_path:
        cfg["worker"]["actor"]["model"] = {"model_path": model_path}
    return cfg


def export_easyr1(
    input_path: str | Path,
    out_dir: str | Path,
    *,
    val_path: str | Path | None = None,
    group_size: int = 5,
    lr: float = 1e-6,
    kl_coef: float = 1e-2,
    template: str | None = None,
    model_path: str | None = None,
    cell_px: int = 28,
) -> dict[str, Any]:
    """Write train(/val).jsonl, format_prompt.jinja and easyr1_config.yaml into out_dir."""
    if group_size < 2:
        raise UserError("--group-size must be >= 2 (GRPO compares answers within a group)")
    if lr <= 0:
        raise UserError("--lr must be > 0")
    if kl_coef < 0:
        raise UserError("--kl must be >= 0")
    src = Path(input_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = out / "train.jsonl"
    rows = _export_rows(src, out, cell_px)
    write_jsonl(train, rows)
    val = train
    n_val = 0
    if val_path:
        val = out / "val.jsonl"
        val_rows = _export_rows(Path(val_path), out, cell_px)
        write_jsonl(val, val_rows)
        n_val = len(val_rows)
    atomic_write_text(out / "format_prompt.jinja", format_prompt_jinja(template))
    cfg = easyr1_config(out, train, val, group_size=group_size, lr=lr, kl_coef=kl_coef, model_path=model_path)
    header = (
        "# EasyR1 config written by `seethink data export-easyr1`.\n"
        "# Run: python3 -m verl.trainer.main config=THIS_FILE worker.actor.model.model_path=MODEL\n"
        "# Keys not set here keep EasyR1's defaults (reward function, batch sizes, trainer).\n"
    )
    if not val_path:
        header += "# val_files is the training file: pass a held-out file with --val for a real validation.\n"
    atomic_write_text(out / "easyr1_config.yaml", header + yaml.safe_dump(cfg, sort_keys=False))
    return {"train": str(train), "val": str(val), "items": len(rows), "val_items": n_val,
            "config": str(out / "easyr1_config.yaml")}
