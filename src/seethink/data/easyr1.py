"""Export seethink items to EasyR1 (hiyouga/EasyR1) so that the job runs there as exported.

EasyR1 reads JSONL rows through its `RLHFDataset`: a prompt column (one ``<image>`` placeholder per
image, split into image slots when the chat is built), an answer column (handed to the reward
function as `ground_truth`) and an image column of paths joined to ``data.image_dir``. Its
``data.format_prompt`` is a Jinja file rendered with the row's prompt as ``content``. Its
`main` merges a `config=` file onto `PPOConfig`'s defaults. We write, into one folder that
stands alone:

  OUT/train.jsonl           prompt / ground_truth / images (+ answer, id, capability)
  OUT/val.jsonl             same, when a validation file is given
  OUT/images/               every image: copied files and rendered toy scenes
  OUT/format_prompt.jinja   seethink's prompt template around {{ content }}
  OUT/reward.py             seethink's accuracy + format reward, importable without seethink
  OUT/easyr1_config.yaml    the config to pass as `config=` (every setting that differs from
                            EasyR1's defaults or decides whether the job starts is explicit)
  OUT/run.sh                `MODEL=DIR sh OUT/run.sh`: EasyR1 on this folder, wherever it lies

The rules the config must satisfy are EasyR1's own (`check_easyr1_config`, each with the place
in EasyR1 that enforces it); the export sizes its batches from the row count to satisfy them
and refuses an export too small to make one rollout batch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from seethink.data.easyr1_reward import REWARD_FILE, REWARD_FUNCTION, VENDOR_PKG, reward_files
from seethink.data.images import item_images
from seethink.data.prompts import format_options, load_template
from seethink.errors import UserError
from seethink.utils import atomic_write_text, read_jsonl, write_jsonl

IMAGE_TOKEN = "<image>"
# The paper's (and EasyR1's example) batches: 512 prompts per rollout, 128 per optimizer step.
ROLLOUT_BATCH = 512
GLOBAL_BATCH = 128


def format_prompt_jinja(template: str | None = None) -> str:
    """The seethink template with the question (and its options) as EasyR1's `content`."""
    text = load_template(template or "reasoning")
    if "{{" in text or "{%" in text or "{#" in text:
        text = "{% raw %}" + text + "{% endraw %}"
        text = text.replace("{question}", "{% endraw %}{{ content | trim }}{% raw %}")
    else:
        text = text.replace("{question}", "{{ content | trim }}")
    return text.replace("{options}", "") + "\n"


def ground_truth(item: dict) -> str:
    """The answer field EasyR1 hands our reward: the answer and, for multiple choice, the options
    (so `\\boxed{A.}` and the option's own text earn credit as they do under seethink)."""
    gt: dict[str, Any] = {"answer": str(item["answer"])}
    if item.get("options"):
        gt["options"] = [str(o) for o in item["options"]]
    return json.dumps(gt, ensure_ascii=False)


def easyr1_row(item: dict, image_paths: list[str]) -> dict[str, Any]:
    question = item["question"].strip().replace(IMAGE_TOKEN, "")
    prompt = IMAGE_TOKEN * len(image_paths) + question + format_options(item.get("options") or [])
    return {
        "prompt": prompt,
        "ground_truth": ground_truth(item),
        "answer": str(item["answer"]),
        "images": image_paths,
        "id": str(item.get("id", "")),
        "capability": str(item.get("capability", "")),
    }


def _copied_name(src: Path) -> str:
    """A stable name in OUT/images: the file's stem plus a hash of its full path (no collisions)."""
    digest = hashlib.sha1(str(src).encode()).hexdigest()[:10]
    return f"{src.stem}-{digest}{src.suffix.lower()}"


def _export_rows(src: Path, out_dir: Path) -> list[dict]:
    rows = []
    img_dir = out_dir / "images"
    for n, item in enumerate(read_jsonl(src), 1):
        for f in ("question", "answer"):
            if f not in item:
                raise UserError(f"{src}, row {n}, field '{f}': missing")
        paths = item.get("images") or []
        rel = []
        if paths:
            for p in paths:
                full = (Path(p) if Path(p).is_absolute() else src.parent / p).resolve()
                if not full.is_file():
                    raise UserError(f"{src}, row {n}, field 'images': image not found: {p}")
                dest = img_dir / _copied_name(full)
                if not dest.is_file():
                    img_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(full, dest)
                rel.append(f"images/{dest.name}")
        else:
            imgs = item_images(item, src.parent)  # toy scene from facts, if any
            for k, im in enumerate(imgs):
                name = f"{item.get('id', n)}.png" if len(imgs) == 1 else f"{item.get('id', n)}_{k}.png"
                img_dir.mkdir(parents=True, exist_ok=True)
                im.save(img_dir / name)
                rel.append(f"images/{name}")
        rows.append(easyr1_row(item, rel))
    if not rows:
        raise UserError(f"{src}: no rows to export")
    return rows


# ---------------------------------------------------------------- batch sizes and EasyR1's rules


def easyr1_batches(n_rows: int, group_size: int, gpus: int, *, rollout_batch: int = ROLLOUT_BATCH,
                   global_batch: int = GLOBAL_BATCH) -> dict[str, int]:
    """Batch sizes for `n_rows` training rows on `gpus` GPUs (one node) that EasyR1 accepts.

    The paper's 512 prompts per rollout and 128 per optimizer step when the export is large
    enough; otherwise the largest rollout batch the rows fill, with about four optimizer steps
    per rollout as in the paper. Refuses (UserError) when the rows cannot fill one optimizer step.
    """
    if gpus < 1:
        raise UserError(f"--gpus must be >= 1, got {gpus}")
    if rollout_batch < 1 or global_batch < 1:
        raise UserError("--rollout-batch-size and --global-batch-size must be >= 1")
    # An optimizer step's completions (prompts x group_size) are split evenly over the GPUs.
    step = gpus // math.gcd(group_size, gpus)  # the fewest prompts per optimizer step that do
    if n_rows < step:
        raise UserError(
            f"the export has {n_rows} training row(s), too few for EasyR1 on {gpus} GPU(s): one optimizer step "
            f"needs at least {step} prompts (their {step} x {group_size} completions split evenly over {gpus} "
            f"GPUs), and EasyR1 drops an incomplete rollout batch, so its train loader would be empty. "
            f"Export at least {step} rows, or train on fewer GPUs (--gpus)")
    cap = min(rollout_batch, n_rows)
    target = min(global_batch, max(cap // 4, step))  # about 4 optimizer steps per rollout
    global_ = max(step, target // step * step)
    rollout = cap // global_ * global_
    per_gpu = rollout * group_size // gpus
    tp = 2 if gpus % 2 == 0 else 1  # vLLM tensor parallelism must divide the GPUs (EasyR1's default: 2)
    return {"rollout_batch_size": rollout, "global_batch_size": global_,
            "micro_batch_size_per_device_for_update": 1,
            "micro_batch_size_per_device_for_experience": 2 if per_gpu % 2 == 0 else 1,
            "tensor_parallel_size": tp}


def check_easyr1_config(cfg: dict[str, Any], n_train: int) -> list[str]:
    """EasyR1's rules for a job to start, checked on a config dict (EasyR1's defaults where a key
    is absent); returns the broken rules, [] when the job can start. Where each rule lives in
    EasyR1 (hiyouga/EasyR1): `verl/trainer/ray_trainer.py` (RayPPOTrainer.__init__),
    `verl/workers/fsdp_workers.py` (_init_dist_mesh, _build_rollout),
    `verl/trainer/data_loader.py` (create_dataloader), `verl/workers/reward/function.py`
    (AutoRewardManager), `verl/workers/reward/config.py` (RewardConfig.post_init)."""
    data, algo = cfg.get("data", {}), cfg.get("algorithm", {})
    worker, trainer = cfg.get("worker", {}), cfg.get("trainer", {})
    actor, rollout_cfg = worker.get("actor", {}), worker.get("rollout", {})
    reward = worker.get("reward", {})
    rollout = int(data.get("rollout_batch_size", 512))
    global_ = int(actor.get("global_batch_size", 256))
    n = int(rollout_cfg.get("n", 1))
    me = int(actor.get("micro_batch_size_per_device_for_experience", 16))
    mu = int(actor.get("micro_batch_size_per_device_for_update", 4))
    gpus = int(trainer.get("n_gpus_per_node", 8)) * int(trainer.get("nnodes", 1))
    ulysses = int(actor.get("ulysses_size", 1))
    tp = int(rollout_cfg.get("tensor_parallel_size", 2))
    broken = []
    if rollout % global_:
        broken.append(f"data.rollout_batch_size ({rollout}) must be divisible by worker.actor.global_batch_size "
                      f"({global_})")
    if (rollout * n) % me:
        broken.append(f"data.rollout_batch_size x worker.rollout.n ({rollout * n}) must be divisible by "
                      f"worker.actor.micro_batch_size_per_device_for_experience ({me})")
    if algo.get("adv_estimator", "grpo") in ("grpo", "rloo") and n < 2:
        broken.append("GRPO needs worker.rollout.n > 1")
    per_device = global_ * n // (gpus // ulysses)
    if per_device == 0:
        broken.append(f"worker.actor.global_batch_size x n ({global_ * n}) must be at least the GPU count ({gpus})")
    elif per_device % mu:
        broken.append(f"the actor's batch per GPU ({per_device}) must be divisible by "
                      f"worker.actor.micro_batch_size_per_device_for_update ({mu})")
    if (global_ * n) % gpus or (rollout * n) % gpus:
        broken.append(f"the completions of a rollout ({rollout * n}) and of an optimizer step ({global_ * n}) must "
                      f"split evenly over {gpus} GPUs (DataProto.chunk)")
    if gpus % tp:
        broken.append(f"{gpus} GPUs are not divisible by worker.rollout.tensor_parallel_size ({tp})")
    if n_train < rollout:
        broken.append(f"{n_train} training rows cannot fill one rollout batch of {rollout}: the train loader "
                      "(drop_last) would be empty")
    spec = reward.get("reward_function")
    if not spec:
        broken.append("worker.reward.reward_function is not set (EasyR1: 'Reward function is not provided.')")
    else:
        path = str(spec).rsplit(":", 1)[0] if ":" in str(spec) else str(spec)
        if not Path(path).is_file():
            broken.append(f"worker.reward.reward_function: {path} not found")
    for key in ("train_files", "val_files", "format_prompt", "image_dir"):
        if data.get(key) and not Path(str(data[key]).split("@")[0]).exists():
            broken.append(f"data.{key}: {data[key]} not found")
    return broken


# ---------------------------------------------------------------- config and run script


def _data_config(root: Path, train: Path, val: Path, b: dict[str, int], *, max_prompt_length: int,
                 max_response_length: int) -> dict[str, Any]:
    return {
        "train_files": str(train.resolve()),
        "val_files": str(val.resolve()),
        "prompt_key": "prompt",
        "answer_key": "ground_truth",
        "image_key": "images",
        "image_dir": str(root),
        "format_prompt": str(root / "format_prompt.jinja"),
        "max_prompt_length": max_prompt_length,
        "max_response_length": max_response_length,
        "rollout_batch_size": b["rollout_batch_size"],
        # EasyR1 resizes nothing: the model's own processor sizes each image, as under seethink
        # (EasyR1's default min_pixels would blow a 112 px scene up to 324 image tokens).
        "min_pixels": None,
        "max_pixels": None,
        "filter_overlong_prompts": True,
    }


def _worker_config(root: Path, b: dict[str, int], *, group_size: int, lr: float, weight_decay: float,
                   clip: float, freeze_vision: bool, model_path: str | None) -> dict[str, Any]:
    model: dict[str, Any] = {"freeze_vision_tower": freeze_vision, "trust_remote_code": False}
    if model_path:
        model = {"model_path": model_path, **model}
    return {
        "actor": {
            "global_batch_size": b["global_batch_size"],
            "micro_batch_size_per_device_for_update": b["micro_batch_size_per_device_for_update"],
            "micro_batch_size_per_device_for_experience": b["micro_batch_size_per_device_for_experience"],
            "loss_avg_mode": "seq",  # per-sequence token mean, then the mean over sequences (TRL's grpo loss)
            "clip_ratio_low": clip,
            "clip_ratio_high": clip,  # EasyR1's default upper clip is 0.3; TRL's epsilon is symmetric
            "ppo_epochs": 1,
            "optim": {"lr": lr, "weight_decay": weight_decay, "lr_scheduler_type": "constant",
                      "lr_warmup_ratio": 0.0},
            "model": model,
        },
        "rollout": {"n": group_size, "temperature": 1.0, "top_p": 1.0,
                    "tensor_parallel_size": b["tensor_parallel_size"]},
        "reward": {
            "reward_function": f"{root / REWARD_FILE}:{REWARD_FUNCTION}",
            "reward_function_kwargs": {"accuracy_weight": 0.9, "format_weight": 0.1, "timeout_s": 5.0},
        },
    }


def easyr1_config(out_dir: Path, train: Path, val: Path, *, n_train: int, group_size: int, lr: float,
                  kl_coef: float, gpus: int = 8, weight_decay: float = 1e-2, clip: float = 0.2,
                  max_prompt_length: int = 2048, max_response_length: int = 2048, freeze_vision: bool = False,
                  rollout_batch: int = ROLLOUT_BATCH, global_batch: int = GLOBAL_BATCH,
                  validate: bool = True, model_path: str | None = None) -> dict[str, Any]:
    root = out_dir.resolve()
    b = easyr1_batches(n_train, group_size, gpus, rollout_batch=rollout_batch, global_batch=global_batch)
    return {
        "data": _data_config(root, train, val, b, max_prompt_length=max_prompt_length,
                             max_response_length=max_response_length),
        "algorithm": {
            "adv_estimator": "grpo",
            "disable_kl": kl_coef == 0,  # no reference model at KL 0, as TRL at beta 0
            "use_kl_loss": True,  # KL in the loss (TRL), not in the reward
            "kl_penalty": "low_var_kl",  # the k3 estimator TRL uses
            "kl_coef": kl_coef,
        },
        "worker": _worker_config(root, b, group_size=group_size, lr=lr, weight_decay=weight_decay, clip=clip,
                                 freeze_vision=freeze_vision, model_path=model_path),
        "trainer": {
            "n_gpus_per_node": gpus,
            "nnodes": 1,
            "project_name": "seethink",
            "experiment_name": root.name,
            "logger": ["console", "file"],  # EasyR1's default adds wandb, which stops a job without a login
            "val_before_train": validate,
        },
    }


def run_script(model_path: str | None) -> str:
    model = f"${{MODEL:-{model_path}}}" if model_path else "${MODEL:?set MODEL=/path/to/model (a transformers 4 checkpoint)}"
    return f"""#!/bin/sh
# Train on this export with EasyR1 (installed in this python3); run from anywhere:
#   MODEL=/models/Qwen2.5-VL-7B-Instruct sh run.sh [key=value ...]   (extra EasyR1 overrides)
# Paths are passed relative to this folder, so the folder can be moved or copied elsewhere.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
VAL="$HERE/val.jsonl"; [ -f "$VAL" ] || VAL="$HERE/train.jsonl"
exec python3 -m verl.trainer.main config="$HERE/easyr1_config.yaml" \\
  data.train_files="$HERE/train.jsonl" data.val_files="$VAL" data.image_dir="$HERE" \\
  data.format_prompt="$HERE/format_prompt.jinja" worker.reward.reward_function="$HERE/{REWARD_FILE}:{REWARD_FUNCTION}" \\
  worker.actor.model.model_path="{model}" trainer.experiment_name="$(basename "$HERE")" "$@"
"""


def _model_warnings(model_path: str | None) -> list[str]:
    """EasyR1 pins transformers 4: a checkpoint saved by transformers 5 (seethink's stages) may not load."""
    if not model_path:
        return []
    cfg = Path(model_path).expanduser() / "config.json"
    try:
        version = str(json.loads(cfg.read_text()).get("transformers_version", ""))
    except (OSError, ValueError):
        return [f"--model {model_path}: no readable config.json here; EasyR1 needs a local Hugging Face model "
                "directory (or a hub name)"]
    if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 5:
        return [f"--model {model_path} was saved by transformers {version}; EasyR1 pins transformers 4 "
                "(>=4.54,<5), which may not load it: give the model's original release (docs/data.md)"]
    return []


def _check_export_args(*, group_size: int, lr: float, kl_coef: float, clip: float, weight_decay: float,
                       max_prompt_length: int, max_response_length: int) -> None:
    if group_size < 2:
        raise UserError("--group-size must be >= 2 (GRPO compares answers within a group)")
    if lr <= 0:
        raise UserError("--lr must be > 0")
    if kl_coef < 0:
        raise UserError("--kl must be >= 0")
    if not 0 < clip < 1:
        raise UserError(f"--clip must be in (0, 1), got {clip}")
    if weight_decay < 0:
        raise UserError("--weight-decay must be >= 0")
    if max_prompt_length < 1 or max_response_length < 1:
        raise UserError("--max-prompt-length and --max-response-length must be >= 1")


def _write_rows(src: Path, out: Path, val_path: str | Path | None) -> tuple[Path, Path, int, int]:
    """OUT/train.jsonl and, with `val_path`, OUT/val.jsonl (else the training file stands in for it):
    their paths and row counts."""
    train = out / "train.jsonl"
    rows = _export_rows(src, out)
    write_jsonl(train, rows)
    val = train
    n_val = 0
    if val_path:
        val = out / "val.jsonl"
        val_rows = _export_rows(Path(val_path), out)
        write_jsonl(val, val_rows)
        n_val = len(val_rows)
    else:
        (out / "val.jsonl").unlink(missing_ok=True)  # left over from an earlier export with --val
    return train, val, len(rows), n_val


def _write_prompt_and_reward(out: Path, template: str | None) -> None:
    atomic_write_text(out / "format_prompt.jinja", format_prompt_jinja(template))
    shutil.rmtree(out / VENDOR_PKG, ignore_errors=True)
    for rel, text in reward_files().items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / rel, text)


def _config_header(n_rows: int, gpus: int, group_size: int, b: tuple[int, int], has_val: bool) -> str:
    header = (
        "# EasyR1 config written by `seethink data export-easyr1`.\n"
        "# Run: MODEL=/path/to/model sh run.sh   (or: python3 -m verl.trainer.main config=THIS_FILE\n"
        "#      worker.actor.model.model_path=MODEL)\n"
        f"# {n_rows} training rows on {gpus} GPU(s): {b[0]} prompts x {group_size} samples per rollout, "
        f"{b[1]} prompts per optimizer step\n"
        f"# ({b[0] // b[1]} optimizer steps per rollout, {n_rows // b[0]} rollout(s) per epoch).\n"
        "# The KL form, loss averaging, clip range, image sizing and prompt limit are written out to match\n"
        "# seethink's trainer; keys not set here keep EasyR1's defaults.\n"
    )
    if not has_val:
        header += "# val_files is the training file: pass a held-out file with --val for a real validation.\n"
    return header


def export_easyr1(
    input_path: str | Path,
    out_dir: str | Path,
    *,
    val_path: str | Path | None = None,
    group_size: int = 5,
    lr: float = 1e-6,
    kl_coef: float = 1e-2,
    gpus: int = 8,
    weight_decay: float = 1e-2,
    clip: float = 0.2,
    max_prompt_length: int = 2048,
    max_response_length: int = 2048,
    freeze_vision: bool = False,
    rollout_batch: int = ROLLOUT_BATCH,
    global_batch: int = GLOBAL_BATCH,
    template: str | None = None,
    model_path: str | None = None,
) -> dict[str, Any]:
    """Write the rows, images, format prompt, reward, config and run script into out_dir."""
    _check_export_args(group_size=group_size, lr=lr, kl_coef=kl_coef, clip=clip, weight_decay=weight_decay,
                       max_prompt_length=max_prompt_length, max_response_length=max_response_length)
    src = Path(input_path)
    out = Path(out_dir)
    if not src.is_file():
        raise UserError(f"input file not found: {src}")
    n_train = len(read_jsonl(src))
    easyr1_batches(n_train, group_size, gpus, rollout_batch=rollout_batch, global_batch=global_batch)  # refuse early
    out.mkdir(parents=True, exist_ok=True)
    train, val, n_rows, n_val = _write_rows(src, out, val_path)
    _write_prompt_and_reward(out, template)
    cfg = easyr1_config(out, train, val, n_train=n_rows, group_size=group_size, lr=lr, kl_coef=kl_coef, gpus=gpus,
                        weight_decay=weight_decay, clip=clip, max_prompt_length=max_prompt_length,
                        max_response_length=max_response_length, freeze_vision=freeze_vision,
                        rollout_batch=rollout_batch, global_batch=global_batch, validate=bool(val_path),
                        model_path=model_path)
    broken = check_easyr1_config(cfg, n_rows)
    if broken:  # pragma: no cover - easyr1_batches sizes the config to pass
        raise UserError("the EasyR1 config breaks EasyR1's rules: " + "; ".join(broken))
    b = cfg["data"]["rollout_batch_size"], cfg["worker"]["actor"]["global_batch_size"]
    header = _config_header(n_rows, gpus, group_size, b, bool(val_path))
    atomic_write_text(out / "easyr1_config.yaml", header + yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_text(out / "run.sh", run_script(model_path))
    os.chmod(out / "run.sh", 0o755)
    return {"train": str(train), "val": str(val), "items": n_rows, "val_items": n_val,
            "config": str(out / "easyr1_config.yaml"), "reward": str(out / REWARD_FILE),
            "run": str(out / "run.sh"), "rollout_batch_size": b[0], "global_batch_size": b[1], "gpus": gpus,
            "warnings": _model_warnings(model_path)}
