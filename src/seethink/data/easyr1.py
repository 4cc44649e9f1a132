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

import ast
import hashlib
import inspect
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from seethink.data.images import item_images
from seethink.data.prompts import format_options, load_template
from seethink.errors import UserError
from seethink.utils import atomic_write_text, read_jsonl, write_jsonl

IMAGE_TOKEN = "<image>"
REWARD_FILE = "reward.py"
REWARD_FUNCTION = "compute_score"
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


def _export_rows(src: Path, out_dir: Path, cell_px: int) -> list[dict]:
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
            imgs = item_images(item, src.parent, cell_px=cell_px)  # toy scene from facts, if any
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


# ---------------------------------------------------------------- the reward file

VENDOR_PKG = "_seethink_rewards"  # the folder beside reward.py holding seethink's reward modules
# seethink.rewards.core's parts that reward.py scores with, exactly as seethink's trainer does
CORE_PARTS = ("accuracy_reward", "format_reward")


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _rewards_imports(source: str, where: str) -> set[str]:
    """The seethink.rewards modules a module imports; any other seethink import is refused."""
    import importlib.util

    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seethink":
            if node.module.startswith("seethink.rewards.") and node.module.count(".") == 2:
                out.add(node.module.rsplit(".", 1)[1])
                continue
            if node.module == "seethink.rewards":  # `from seethink.rewards import module`
                for alias in node.names:
                    if importlib.util.find_spec(f"seethink.rewards.{alias.name}") is None:
                        raise RuntimeError(f"{where} imports seethink.rewards.{alias.name}, which is no module")
                    out.add(alias.name)
                continue
            raise RuntimeError(f"{where} imports {node.module}; reward.py must stand alone (seethink.rewards only)")
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "seethink" for a in node.names):
            raise RuntimeError(f"{where} imports seethink; reward.py must stand alone")
    return out


def reward_files() -> dict[str, str]:
    """`reward.py` and its vendored package: seethink's accuracy + format reward as an EasyR1 batch
    reward function, importable in EasyR1's environment without seethink.

    The parts are seethink's own (`seethink.rewards.core.accuracy_reward` and `format_reward`, and
    the modules they call, copied by source with their `seethink.rewards.X` imports made
    package-relative and other mentions of `seethink.rewards.X` renamed to the copy, e.g. the math
    sandbox's worker command), so the export always scores as this version of seethink does. Where
    math-verify is not installed, expressions that are not plain numbers fall back to mathruler's
    grade_answer (an EasyR1 requirement).
    """
    import importlib

    from seethink.rewards import core

    fns: dict[str, Any] = {}
    header: set[str] = set()
    modules: set[str] = set()
    todo = list(CORE_PARTS)
    while todo:
        name = todo.pop()
        if name in fns:
            continue
        fn = getattr(core, name)
        fns[name] = fn
        for ref in sorted(_code_names(fn.__code__) & set(vars(core))):
            obj = vars(core)[ref]
            mod = str(getattr(obj, "__module__", ""))
            if inspect.isfunction(obj) and mod == core.__name__:
                todo.append(ref)
            elif inspect.isfunction(obj) and mod.startswith("seethink.rewards."):
                modules.add(mod.rsplit(".", 1)[1])
                header.add(f"from {VENDOR_PKG}.{mod.rsplit('.', 1)[1]} import {ref}")
            elif isinstance(obj, re.Pattern):
                header.add(f"{ref} = re.compile({obj.pattern!r}, {int(obj.flags)})")
            elif isinstance(obj, (str, int, float, tuple)):
                header.add(f"{ref} = {obj!r}")
            elif not (inspect.ismodule(obj) or obj is Any):
                raise RuntimeError(f"reward.py cannot carry seethink.rewards.core.{ref} ({type(obj).__name__})")
    files: dict[str, str] = {f"{VENDOR_PKG}/__init__.py": '"""seethink.rewards modules, copied by seethink data '
                             'export-easyr1 for reward.py."""\n'}
    todo = sorted(modules)
    while todo:
        name = todo.pop()
        key = f"{VENDOR_PKG}/{name}.py"
        if key in files:
            continue
        src = inspect.getsource(importlib.import_module(f"seethink.rewards.{name}"))
        deps = _rewards_imports(src, f"seethink.rewards.{name}")
        todo += sorted(deps)
        src = re.sub(r"^(\s*)from seethink\.rewards\.(\w+) import", r"\1from .\2 import", src, flags=re.M)
        src = re.sub(r"^(\s*)from seethink\.rewards import", r"\1from . import", src, flags=re.M)
        # Module names in strings too (a worker process started with `-c "from seethink.rewards.X ..."`).
        src = re.sub(r"\bseethink\.rewards\.", f"{VENDOR_PKG}.", src)
        files[key] = src
    parts = "\n\n".join(inspect.getsource(fn) for _, fn in sorted(fns.items()))
    files[REWARD_FILE] = f'''"""seethink's reward for EasyR1, written by `seethink data export-easyr1`.

EasyR1 calls `{REWARD_FUNCTION}(reward_inputs, **worker.reward.reward_function_kwargs)` with one
dict per response (`response`, `response_length`, `ground_truth`) and logs every key returned.
Score = accuracy_weight x accuracy + format_weight x format, as seethink's trainer scores:
  accuracy: multiple choice (options in the ground truth): the boxed letter, `(B)`, `B.` or the
            option's own text names the right option; otherwise the boxed answer equals the
            answer as math (numbers, fractions, LaTeX via math-verify when installed);
  format:   one <think>...</think>, then an answer holding a box.
The ground truth is the export's JSON ({{"answer": ..., "options": [...]}}) or a plain answer.
Standalone: seethink's reward modules are copied into {VENDOR_PKG}/ beside this file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

REWARD_NAME = "seethink"
REWARD_TYPE = "batch"

_HERE = os.path.dirname(os.path.abspath(__file__))
for _name in [m for m in sys.modules if m == "{VENDOR_PKG}" or m.startswith("{VENDOR_PKG}.")]:
    if not str(getattr(sys.modules[_name], "__file__", "")).startswith(_HERE + os.sep):
        del sys.modules[_name]  # another export's copy, loaded earlier in this process
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

{chr(10).join(sorted(header))}


# ---- seethink.rewards.core
{parts}

# ---- without math-verify (not an EasyR1 requirement), mathruler grades what is not a plain number:
# it takes the place of the symbolic check (the sandbox's `check`, or mathcheck's `_verify`)
try:
    import math_verify  # noqa: F401
except ImportError:
    import importlib

    def _mathruler_check(p: str, g: str, *_: Any, **__: Any) -> bool:
        try:
            from mathruler.grader import grade_answer

            return bool(grade_answer(p, g))
        except Exception:
            return False

    for _mod, _fn in (("sandbox", "check"), ("mathcheck", "_verify")):
        try:
            _m = importlib.import_module("{VENDOR_PKG}." + _mod)
        except ImportError:
            continue
        if hasattr(_m, _fn):
            setattr(_m, _fn, _mathruler_check)


def _item(ground_truth: Any) -> dict:
    if isinstance(ground_truth, dict):
        return ground_truth
    try:
        obj = json.loads(ground_truth)
    except (TypeError, ValueError):
        obj = None
    if isinstance(obj, dict) and "answer" in obj:
        return obj
    return {{"answer": str(ground_truth)}}


def _part(name: str, fn: Any, *args: Any, **kwargs: Any) -> float:
    try:
        return float(fn(*args, **kwargs)[name])
    except Exception:  # a bad item or an extraction bug scores 0, as in seethink's trainer
        return 0.0


def {REWARD_FUNCTION}(reward_inputs: list, accuracy_weight: float = 0.9, format_weight: float = 0.1,
                  timeout_s: float = 5.0) -> list:
    scores = []
    for inp in reward_inputs:
        response = str(inp["response"])
        item = _item(inp["ground_truth"])
        acc = _part("accuracy", accuracy_reward, response, item, timeout_s=timeout_s)
        fmt = _part("format", format_reward, response)
        scores.append({{"overall": accuracy_weight * acc + format_weight * fmt, "accuracy": acc, "format": fmt}})
    return scores
'''
    _rewards_imports(files[REWARD_FILE], REWARD_FILE)  # no seethink import left
    return files


# ---------------------------------------------------------------- config and run script


def easyr1_config(out_dir: Path, train: Path, val: Path, *, n_train: int, group_size: int, lr: float,
                  kl_coef: float, gpus: int = 8, weight_decay: float = 1e-2, clip: float = 0.2,
                  max_prompt_length: int = 2048, max_response_length: int = 2048, freeze_vision: bool = False,
                  rollout_batch: int = ROLLOUT_BATCH, global_batch: int = GLOBAL_BATCH,
                  validate: bool = True, model_path: str | None = None) -> dict[str, Any]:
    root = out_dir.resolve()
    b = easyr1_batches(n_train, group_size, gpus, rollout_batch=rollout_batch, global_batch=global_batch)
    model: dict[str, Any] = {"freeze_vision_tower": freeze_vision, "trust_remote_code": False}
    if model_path:
        model = {"model_path": model_path, **model}
    return {
        "data": {
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
        },
        "algorithm": {
            "adv_estimator": "grpo",
            "disable_kl": kl_coef == 0,  # no reference model at KL 0, as TRL at beta 0
            "use_kl_loss": True,  # KL in the loss (TRL), not in the reward
            "kl_penalty": "low_var_kl",  # the k3 estimator TRL uses
            "kl_coef": kl_coef,
        },
        "worker": {
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
        },
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
    cell_px: int = 28,
) -> dict[str, Any]:
    """Write the rows, images, format prompt, reward, config and run script into out_dir."""
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
    src = Path(input_path)
    out = Path(out_dir)
    if not src.is_file():
        raise UserError(f"input file not found: {src}")
    n_train = len(read_jsonl(src))
    easyr1_batches(n_train, group_size, gpus, rollout_batch=rollout_batch, global_batch=global_batch)  # refuse early
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
    else:
        (out / "val.jsonl").unlink(missing_ok=True)  # left over from an earlier export with --val
    atomic_write_text(out / "format_prompt.jinja", format_prompt_jinja(template))
    shutil.rmtree(out / VENDOR_PKG, ignore_errors=True)
    for rel, text in reward_files().items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / rel, text)
    cfg = easyr1_config(out, train, val, n_train=len(rows), group_size=group_size, lr=lr, kl_coef=kl_coef, gpus=gpus,
                        weight_decay=weight_decay, clip=clip, max_prompt_length=max_prompt_length,
                        max_response_length=max_response_length, freeze_vision=freeze_vision,
                        rollout_batch=rollout_batch, global_batch=global_batch, validate=bool(val_path),
                        model_path=model_path)
    broken = check_easyr1_config(cfg, len(rows))
    if broken:  # pragma: no cover - easyr1_batches sizes the config to pass
        raise UserError("the EasyR1 config breaks EasyR1's rules: " + "; ".join(broken))
    b = cfg["data"]["rollout_batch_size"], cfg["worker"]["actor"]["global_batch_size"]
    header = (
        "# EasyR1 config written by `seethink data export-easyr1`.\n"
        "# Run: MODEL=/path/to/model sh run.sh   (or: python3 -m verl.trainer.main config=THIS_FILE\n"
        "#      worker.actor.model.model_path=MODEL)\n"
        f"# {len(rows)} training rows on {gpus} GPU(s): {b[0]} prompts x {group_size} samples per rollout, "
        f"{b[1]} prompts per optimizer step\n"
        f"# ({b[0] // b[1]} optimizer steps per rollout, {len(rows) // b[0]} rollout(s) per epoch).\n"
        "# The KL form, loss averaging, clip range, image sizing and prompt limit are written out to match\n"
        "# seethink's trainer; keys not set here keep EasyR1's defaults.\n"
    )
    if not val_path:
        header += "# val_files is the training file: pass a held-out file with --val for a real validation.\n"
    atomic_write_text(out / "easyr1_config.yaml", header + yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_text(out / "run.sh", run_script(model_path))
    os.chmod(out / "run.sh", 0o755)
    return {"train": str(train), "val": str(val), "items": len(rows), "val_items": n_val,
            "config": str(out / "easyr1_config.yaml"), "reward": str(out / REWARD_FILE),
            "run": str(out / "run.sh"), "rollout_batch_size": b[0], "global_batch_size": b[1], "gpus": gpus,
            "warnings": _model_warnings(model_path)}
