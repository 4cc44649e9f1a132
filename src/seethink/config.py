"""Typed configuration: dataclasses hold every default, YAML and `key.sub=value` hold overrides.

A recipe is resolved in three layers: dataclass defaults <- recipe YAML <- CLI overrides.
Unknown keys are rejected with the nearest valid key, values are type-checked, and the
resolved recipe is what gets saved in the run directory (so a run can be replayed from it).
Stages are a list, so their order is data; each stage's trainer block holds only the
settings that differ from the recipe-wide `trainer` defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seethink.errors import UserError


@dataclass
class ModelSpec:
    path: str = "toy"  # a local HF model directory, or "toy" for the embedded default
    trust_remote_code: bool = False  # only when the user opts in
    dtype: str = "float32"  # float32 | bfloat16 | float16


@dataclass
class ToyModelSpec:
    """Architecture of the embedded tiny Qwen2-VL (random init, local tokenizer)."""

    vocab_size: int = 512
    hidden_size: int = 128
    num_layers: int = 4
    # 8 heads of width 16 (not 4 of 32): text reasoning 69.5 against 31.5 on the same warm
    # start without scene inventories (docs/toy-world.md, "h8"); each extra head is one more
    # look-up per layer. With inventories the model searches its own text for the answer.
    num_heads: int = 8
    num_kv_heads: int = 8
    intermediate_size: int = 384
    vision_depth: int = 3
    vision_width: int = 96
    vision_heads: int = 4
    tie_embeddings: bool = True
    # Put each message's images after its text in the chat template, so that image tokens
    # can attend to the question (an experiment on the look-up; docs/toy-world.md).
    image_after_text: bool = False


@dataclass
class ToyWorldSpec:
    """Difficulty knobs of the procedural world (see data/toyworld and docs/toy-world.md).

    The defaults are the original world, item for item and pixel for pixel. The perception
    knobs below make the image harder to read without changing what a question means: every
    item stays exactly answerable from its image, and whatever a knob drew (shifts, angles,
    distractors, the noise seed) is recorded in the item's facts, so the image can be drawn
    again from them.
    """

    grid: int = 4  # scenes are grid x grid cells
    # One merged image token per cell at 28 (patch 14 x merge 2). Smaller cells with a larger
    # grid (grid 8, cell_px 14: the same 112 px image) put several cells, so up to 4 objects,
    # in one token: more cells than image tokens. grid * cell_px must be a multiple of 28.
    cell_px: int = 28
    min_shapes: int = 2
    max_shapes: int = 6
    text_steps_min: int = 2  # arithmetic steps in a word problem
    text_steps_max: int = 3
    text_max_operand: int = 9
    # Worked solutions of image items open with an inventory of the scene, by colour
    # ("red: circle, square. blue: triangle."), and the answer is then worked out from that
    # text. The tiny model reads scenes this way almost perfectly (99.8% exact inventories)
    # while it could not look an object up in the image directly: perception 68.7 against
    # 45.8 (docs/toy-world.md, on the scene inventory). Off, the model must see while it reasons.
    inventory: bool = True
    # ---- perception difficulty: the defaults draw the original world.
    # Objects smaller than a token: shapes drawn at this fraction of their size (20 px in a
    # 28 px cell), centred in the cell, so an object fills less of its merged token. (0, 1].
    object_scale: float = 1.0
    # Objects straddling token boundaries: each object shifted by up to this many pixels in x
    # and y, so it crosses into the neighbouring merged tokens. Its centre stays in its own
    # cell (< cell_px / 2), so rows, columns and left-of stay exact; objects never touch.
    jitter_px: int = 0
    # Rotation: each object turned by a random whole angle in [-rotate, rotate] degrees (0-180).
    # With rotation on, squares and triangles are drawn in the circle that fits their box (a
    # regular square and triangle), so they fit at any angle and stay what they are.
    rotate: int = 0
    # More shapes: the kinds objects are drawn from, any of circle, square, triangle, diamond
    # (a narrow rhombus, never a rotated square), pentagon, hexagon, star. Questions name them.
    shapes: list[str] = field(default_factory=lambda: ["circle", "square", "triangle"])
    # Sizes: each object gets one of these (small 0.5, medium 0.75, large 1.0 of object_scale),
    # named in the caption and the inventory ("red: small circle.") and asked by a perception
    # family "What size is the red circle?". Empty: no sizes (all objects one size).
    sizes: list[str] = field(default_factory=list)
    # Near colours: the four colours pulled toward their mean until the closest two are
    # color_distance apart in RGB (today's palette: 161), each keeping its direction (red stays
    # the reddest), so telling them apart needs finer colour than a saturated palette.
    shades: bool = False
    color_distance: float = 40.0
    # Clutter: up to this many grey outline shapes per scene, smaller than the objects, in free
    # space. Objects are filled and coloured, distractors are thin and grey: never counted.
    distractors: int = 0
    # Noise: std of Gaussian pixel noise (0-255), seeded by the item, so renders repeat.
    noise: float = 0.0


@dataclass
class WarmStartSpec:
    """Turns the random toy model into a base with pass rates strictly between 0 and 1."""

    vision_steps: int = 200  # vision-tower pretraining on per-cell classification
    vision_lr: float = 3e-3
    vision_batch: int = 16
    # Heads of vision pretraining besides the joint cell class: "joint" (none), "factored"
    # (learned shape and colour heads, so each attribute is a direction of the merged token),
    # "words" (shape and colour scored against the LM's own embeddings of those words).
    vision_heads: str = "joint"
    sft_steps: int = 1200
    sft_lr: float = 2e-3
    sft_batch: int = 16
    vision_lr_scale: float = 0.1  # vision tower learns slower during SFT
    # A second SFT phase on the same items: a fresh optimizer, the lr restarting at sft2_lr
    # and decaying again over sft2_steps (0 = one phase).
    sft2_steps: int = 1200
    sft2_lr: float = 1e-3
    items_per_capability: int = 2000
    tasks: list[str] = field(default_factory=lambda: ["toy_perception", "toy_text", "toy_visual"])
    # Items per task = items_per_capability x weight (one weight per task; empty = all 1).
    task_weights: list[float] = field(default_factory=list)
    # Fraction of multiple-choice items (perception) whose worked solution names the answer
    # at once instead of listing what the image shows first (a base that sometimes guesses).
    direct_fraction: float = 0.0
    seed: int = 1234


@dataclass
class TrainerSpec:
    kind: str = "grpo"  # grpo | sft
    max_steps: int = 20  # optimizer steps; 0 means use num_epochs
    num_epochs: float = 1.0
    learning_rate: float = 1e-6
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    # The optimizer (transformers' names). Adam scales every weight's step to about the lr, also
    # where the gradient is only noise; plain SGD moves weights in proportion to their gradient
    # (docs/toy-world.md, on optimizers). adam_epsilon applies to the Adam family only.
    optim: str = "adamw_torch"
    adam_epsilon: float = 1e-8
    # Prompts per optimizer step for the whole job, whatever the process count and the
    # accumulation: each process runs gradient_accumulation_steps micro-steps of
    # batch_size x group_size / (processes x gradient_accumulation_steps) completions
    # (TRL's per_device_train_batch_size) before one optimizer step.
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    # GRPO: prompts per generation (the rollout batch) for the whole job, a multiple of batch_size;
    # 0 = batch_size (one generation per optimizer step). Each generation then feeds
    # rollout_batch_size / batch_size optimizer steps (TRL's steps_per_generation =
    # gradient_accumulation_steps x rollout_batch_size / batch_size micro-steps).
    rollout_batch_size: int = 0
    group_size: int = 5  # completions per prompt (GRPO's G)
    beta: float = 1e-2  # KL coefficient
    loss_type: str = "grpo"  # grpo | dapo | dr_grpo | bnpo
    # GRPO policy loss (TRL's names): passes over each generation (mu), the importance ratio per
    # token or per sequence (GSPO), its clip range [1 - epsilon, 1 + epsilon_high] (unset:
    # epsilon_high = epsilon), advantage scaling by the reward std (group | batch | none), and
    # truncated completions left out of the loss.
    num_iterations: int = 1
    importance_sampling_level: str = "token"  # token | sequence (GSPO)
    epsilon: float = 0.2
    epsilon_high: float | None = None
    scale_rewards: str = "group"  # group | batch | none
    mask_truncated_completions: bool = False
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (the paper: 1e-2)
    max_grad_norm: float = 1.0  # gradient clipping by global norm; 0 = no clipping
    temperature: float = 1.0
    top_p: float = 1.0
    max_prompt_length: int = 512
    max_completion_length: int = 64
    freeze_vision: bool = False
    gradient_checkpointing: bool = False
    shuffle: bool = True  # False keeps the dataset order (curricula)
    logging_steps: int = 1
    # A resumable checkpoint (weights, optimizer, RNG) every N optimizer steps, newest kept; 0 = none
    # (a killed stage then restarts from its beginning).
    save_steps: int = 50
    # bf16 mixed precision (autocast, TRL's default); false computes in float32. Unset (null) =
    # auto: on where the hardware computes bf16 natively (CUDA with bf16, or a CPU with
    # AVX512-BF16/AMX), off elsewhere: on an AVX2-only CPU bf16 autocast emulates every matmul
    # and made a tiny model's GRPO step about 7x slower (benchmarks/stage_overhead.py).
    bf16: bool | None = None
    # LoRA via PEFT: lora_r > 0 trains rank-r adapters; the stage checkpoint is saved merged.
    lora_r: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=list)  # layers in the language model; [] = attn + MLP
    # vLLM rollouts for GRPO (the vllm extra and a GPU): colocate (in each process) | server (trl vllm-serve)
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_server_host: str = "0.0.0.0"
    vllm_server_port: int = 8000
    vllm_server_base_url: str = ""  # e.g. http://10.0.0.5:8000; overrides host and port
    vllm_server_timeout: float = 240.0
    vllm_gpu_memory_utilization: float = 0.3  # colocate only
    vllm_tensor_parallel_size: int = 1  # colocate only
    vllm_max_model_length: int = 0  # colocate only; 0 = vLLM's default
    vllm_enable_sleep_mode: bool = False  # colocate only
    # GRPO rollouts without vLLM: decode with seethink's lean loop (seethink.models.fastgen: the
    # same tokens for the same seed as transformers' generate, less Python per token) on the
    # models it supports; false = transformers' generate.
    fast_generation: bool = True


@dataclass
class StageSpec:
    name: str = "stage"
    tasks: list[str] = field(default_factory=list)
    items_per_task: int = 200
    data: str = ""  # a seethink JSONL file (e.g. a curriculum stage file), used in its order
    trainer: dict[str, Any] = field(default_factory=dict)  # overrides of Recipe.trainer
    # Staged variant only: this share of the stage's items is replayed from earlier stages'
    # items (0.2 -> 1 in 5), so a later stage does not wear away what an earlier one taught.
    # Merged is unaffected: it already pools every stage's items.
    replay: float = 0.0


@dataclass
class CurriculumSpec:
    """Build the stages from per-capability data files with pass rates (`seethink data passk`)."""

    mode: str = ""  # "" (off) | none | difficulty | capability | capability_x_difficulty
    inputs: dict[str, str] = field(default_factory=dict)  # capability -> JSONL with pass_rate
    order: list[str] = field(default_factory=list)  # stage order for the capability modes
    drop_solved: bool = False
    drop_unsolved: bool = False
    seed: int = 0


@dataclass
class RewardSpec:
    accuracy_weight: float = 0.9
    format_weight: float = 0.1
    extra: list[str] = field(default_factory=list)  # "path/file.py:fn" or registered names
    extra_weights: list[float] = field(default_factory=list)
    # time limit per reward call (the math check, each user reward); a slower call is cut off and scores 0
    timeout_s: float = 5.0


@dataclass
class EvalSpec:
    items_per_capability: int = 200
    batch_size: int = 32
    max_new_tokens: int = 64
    ablation: bool = True  # also score with blank and shuffled images
    # Sampled evaluation as in the reference recipe: `samples` answers per item at this
    # temperature / top-p, scored by the fraction correct (0 = greedy only).
    samples: int = 0
    temperature: float = 0.6
    top_p: float = 0.95
    stages: bool = False  # also evaluate every intermediate stage checkpoint (per-stage effects)
    seed: int = 777  # held-out items come from a seed range disjoint from training
    # Toy held-out evaluation: None = auto (on where a stage trains toy tasks, or a data file's rows
    # carry toy capabilities); a real-model recipe gets none unless it sets true.
    toy: bool | None = None
    # Real benchmarks (seethink.eval.benchmarks names; protocol paper also takes the paper's split
    # names, e.g. MathVista_MINI), read from data_root/NAME, scored by the official rules.
    benchmarks: list[str] = field(default_factory=list)
    data_root: str = ""
    benchmark_limit: int = 0  # first N items of each benchmark; 0 = all
    benchmark_max_new_tokens: int = 2048
    protocol: str = "unified"  # unified (our reasoning prompt for every model) | paper (seethink.eval.protocols)
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on a GPU that computes it natively, else model.dtype) | float32 | bfloat16 | float16
    backend: str = "auto"  # benchmarks: auto (vLLM when installed and a GPU is present) | hf | vllm
    # Decode with seethink's lean loop (seethink.models.fastgen: HF's math and random draws, less
    # Python per token) on the models it supports; false = transformers' generate.
    fast_generation: bool = True
    # Validation during training: greedy accuracy on benchmarks every N optimizer steps.
    during_training: DuringTrainingSpec = field(default_factory=lambda: DuringTrainingSpec())
    # protocol paper: the LLM judge step of MathVista / MathVerse / HallusionBench (OpenAI-compatible)
    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable holding the key
    paper_system_prompt: str = ""  # protocol paper, trained models only; "" = seethink.eval.protocols'


@dataclass
class DuringTrainingSpec:
    """`eval.during_training`: benchmark accuracy (greedy) logged every `every` optimizer steps."""

    every: int = 0  # 0 = off
    benchmarks: list[str] = field(default_factory=list)  # [] = eval.benchmarks
    limit: int = 0  # first N items of each benchmark; 0 = all


@dataclass
class ArmSpec:
    """One arm of an experiment: which stages it trains, in what order, and how.

    A built-in arm (`seethink.experiment.arms.BUILTIN`) needs only its name; any field set here
    overrides the built-in's. Stages are named as in `stages` or by their 1-based position there
    (the reference order: 1 perception, 2 text reasoning, 3 visual reasoning), plus `caption`
    for `experiment.caption_stage`.
    """

    name: str = ""
    like: str = ""  # the built-in arm to start from ("" = the one called `name`, if any)
    stages: list[str] = field(default_factory=list)
    merge: bool | None = None  # pool the stages' items into one shuffled stage (steps summed)
    # Order items easy -> hard by the base's pass rate over experiment.passk_k samples, without
    # shuffling: over the whole pooled stream when merged, within each stage otherwise.
    difficulty: bool | None = None
    trainer: dict[str, Any] = field(default_factory=dict)  # overrides for every stage of this arm
    stage_trainer: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage name -> overrides
    model: str = ""  # an outside arm: this model directory is evaluated on the same items, not trained


@dataclass
class SettingSpec:
    """One point of a sweep: config overrides applied to the whole experiment (its own base)."""

    name: str = ""
    overrides: list[str] = field(default_factory=list)  # key.sub=value, as on the command line


@dataclass
class ExperimentSpec:
    """`seethink experiment`: arms x seeds from one base, all scored on the same held-out items."""

    arms: list[ArmSpec] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    # paper: every stage keeps its own steps and a merged arm gets their sum (the reference rule);
    # equal: every arm trains as many steps in total as the reference stages together.
    budget: str = "paper"
    # The `caption_sft` arm's perception stage: image in, caption out, trained by SFT. Empty
    # tasks and data = not configured (the toy recipes use the toy_caption task).
    caption_stage: StageSpec = field(
        default_factory=lambda: StageSpec(name="caption", tasks=[], trainer={"kind": "sft"})
    )
    passk_k: int = 16  # samples per item for the pass rates that order the difficulty arms
    passk_batch_size: int = 8  # prompts per generate call (each expanded to passk_k samples)
    workers: int = 0  # processes training units at once; 0 = one per core on a CPU, 1 on a GPU
    # Ask every model the sub-questions of its visual-reasoning items (perception-error attribution)
    attribution: bool = True
    contrasts: list[str] = field(default_factory=list)  # extra contrasts as "arm_a - arm_b"
    # A sweep (e.g. the toy world's perception difficulty): the whole grid runs once per setting,
    # each in EXP/settings/NAME with its own base; the report adds a table across settings.
    settings: list[SettingSpec] = field(default_factory=list)


@dataclass
class LoggingSpec:
    # Training loggers: tensorboard (event files in each stage's folder), wandb, mlflow (when
    # installed); [] = none.
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])


@dataclass
class Recipe:
    name: str = "toy"
    seed: int = 0
    threads: int = 0  # torch threads (per process); 0 = min(2, cores), or cores / processes when parallel
    # Variants trained at once, each in its own process with its own threads, which evaluates
    # its own models. 0 = auto: one process per variant on a CPU-only machine with a core for
    # each (tiny models use 2 threads poorly: two 1-thread processes did the quick recipe in
    # 36 min against 56 in one 2-thread process); 1 = one variant after another.
    parallel: int = 0
    variants: list[str] = field(default_factory=lambda: ["staged", "merged"])
    model: ModelSpec = field(default_factory=ModelSpec)
    toy_model: ToyModelSpec = field(default_factory=ToyModelSpec)
    toy: ToyWorldSpec = field(default_factory=ToyWorldSpec)
    warmstart: WarmStartSpec = field(default_factory=WarmStartSpec)
    trainer: TrainerSpec = field(default_factory=TrainerSpec)
    stages: list[StageSpec] = field(
        default_factory=lambda: [
            StageSpec(name="perception", tasks=["toy_perception"]),
            StageSpec(name="text", tasks=["toy_text"]),
            StageSpec(name="visual", tasks=["toy_visual"]),
        ]
    )
    curriculum: CurriculumSpec = field(default_factory=CurriculumSpec)
    reward: RewardSpec = field(default_factory=RewardSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)
    experiment: ExperimentSpec = field(default_factory=ExperimentSpec)
    logging: LoggingSpec = field(default_factory=LoggingSpec)


VARIANTS = ("staged", "merged")


# ---------------------------------------------------------------- conversion


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert a YAML value to the annotated type; raise UserError naming the key."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"config key '{where}': expected a mapping, got {value!r}")
        return _from_dict(typing.cast(type, tp), value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, str) and item_tp is str:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise UserError(f"config key '{where}': expected a list, got {value!r}")
        if dataclasses.is_dataclass(item_tp) and "name" in _hints(typing.cast(type, item_tp)):
            # `arms: [staged, merged]`: a bare name stands for {name: ...}
            value = [{"name": v} if isinstance(v, str) else v for v in value]
        return [_coerce(v, item_tp, f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{where}': expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"config key '{where}': expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"config key '{where}': expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-6 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"config key '{where}': expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"config key '{where}': expected a string, got {value!r}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(cls: type, key: str, where: str) -> UserError:
    prefix = f"{where}." if where else ""
    valid = [f"{prefix}{k}" for k in valid_keys(cls)]
    full = f"{prefix}{key}"
    near = difflib.get_close_matches(full, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return UserError(f"unknown config key '{full}'{hint}")


def _from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in hints:
            raise _unknown_key(cls, key, where)
        sub = f"{where}.{key}" if where else key
        kwargs[key] = _coerce(value, hints[key], sub)
    obj = cls(**kwargs)
    if cls is StageSpec:
        _check_trainer_overrides(obj.trainer, f"{where}.trainer")
    if cls is ArmSpec:
        _check_trainer_overrides(obj.trainer, f"{where}.trainer")
        for name, block in obj.stage_trainer.items():
            if not isinstance(block, dict):
                raise UserError(f"config key '{where}.stage_trainer.{name}': expected a mapping of trainer keys")
            _check_trainer_overrides(block, f"{where}.stage_trainer.{name}")
    return obj


def _check_trainer_overrides(overrides: dict[str, Any], where: str) -> None:
    hints = _hints(TrainerSpec)
    for key, value in overrides.items():
        if key not in hints:
            raise _unknown_key(TrainerSpec, key, where)
        overrides[key] = _coerce(value, hints[key], f"{where}.{key}")


def valid_keys(cls: type) -> list[str]:
    """Every dotted key of a dataclass (lists of dataclasses shown with index 0)."""
    out: list[str] = []
    for name, tp in _hints(cls).items():
        out.append(name)
        if dataclasses.is_dataclass(tp):
            out += [f"{name}.{k}" for k in valid_keys(typing.cast(type, tp))]
        elif typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            out += [f"{name}.0.{k}" for k in valid_keys(typing.get_args(tp)[0])]
    if cls is StageSpec:
        out += [f"trainer.{k}" for k in valid_keys(TrainerSpec)]
    return out


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj)


# ---------------------------------------------------------------- overrides


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = tree
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            idx = int(part)
            if idx >= len(node):
                raise UserError(f"config key '{dotted}': index {idx} is out of range ({len(node)} items)")
            node = node[idx]
            continue
        if part not in node or node[part] is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        idx = int(last)
        if idx >= len(node):
            raise UserError(f"config key '{dotted}': index {idx} is out of range ({len(node)} items)")
        node[idx] = value
    else:
        node[last] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        if "=" not in item:
            raise UserError(f"override '{item}' must look like key.sub=value")
        key, raw = item.split("=", 1)
        out.append((key.strip(), yaml.safe_load(raw) if raw != "" else ""))
    return out


def load_recipe(path: str | Path | None = None, overrides: list[str] | None = None) -> Recipe:
    """Defaults <- YAML file (if any) <- key=value overrides, validated."""
    tree: dict[str, Any] = to_dict(Recipe())
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"recipe file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise UserError(f"{path}: a recipe must be a mapping of keys")
        _validate_keys(loaded, Recipe, "")
        if "stages" in loaded:
            tree["stages"] = []  # a recipe's stage list replaces the default list
        tree = _deep_merge(tree, loaded)
    for key, value in parse_overrides(overrides or []):
        _validate_dotted(key)
        _set_dotted(tree, key, value)
    recipe = _from_dict(Recipe, tree)
    validate(recipe)
    return recipe


def _validate_keys(data: dict[str, Any], cls: type, where: str) -> None:
    hints = _hints(cls)
    for key, value in data.items():
        if key not in hints:
            raise _unknown_key(cls, key, where)
        tp = hints[key]
        sub = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            _validate_keys(value, typing.cast(type, tp), sub)


def _validate_dotted(key: str) -> None:
    cls: Any = Recipe
    walked: list[str] = []
    parts = key.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        if cls is dict:  # a stage's trainer override block
            if walked and walked[-1] == "stage_trainer" and i + 1 < len(parts):  # arm: stage name, then key
                walked.append(part)
                i += 1
                part = parts[i]
            if part not in _hints(TrainerSpec):
                raise _unknown_key(TrainerSpec, part, ".".join(walked))
            return
        hints = _hints(cls)
        if part not in hints:
            raise _unknown_key(cls, part, ".".join(walked))
        tp = hints[part]
        walked.append(part)
        if typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            if i + 1 < len(parts):
                if not parts[i + 1].isdigit():
                    raise UserError(f"config key '{key}': '{part}' is a list; use {part}.N.<key>")
                walked.append(parts[i + 1])
                i += 1
            cls = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            cls = dict
        else:
            cls = tp
        i += 1


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- semantics


_CHOICES = {
    "trainer.kind": ("grpo", "sft"),
    "trainer.loss_type": ("grpo", "dapo", "dr_grpo", "bnpo"),
    "trainer.optim": ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "rmsprop"),
    # transformers schedulers that need no extra arguments
    "trainer.lr_scheduler": ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
                             "polynomial", "inverse_sqrt"),
    "model.dtype": ("float32", "bfloat16", "float16"),
}


def stage_trainer(recipe: Recipe, stage: StageSpec) -> TrainerSpec:
    """A stage's trainer settings: recipe defaults with the stage's overrides on top."""
    return dataclasses.replace(recipe.trainer, **stage.trainer)


class _Checker:
    """Range checks whose messages name the key, the allowed range and the value given."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, why: str) -> UserError:
        full = f"{self.where}.{key}" if self.where else key
        return UserError(f"config key '{full}': {why}")

    def number(self, key: str, value: float, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False, hi_open: bool = False) -> None:
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value}")
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            if hi is None:
                rng = f"{'>' if lo_open else '>='} {lo:g}"
            elif lo is None:
                rng = f"{'<' if hi_open else '<='} {hi:g}"
            else:
                rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
            raise self.fail(key, f"must be {rng}, got {value:g}")

    def choice(self, key: str, value: str, choices: tuple[str, ...]) -> None:
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}; got {value!r}")


def _check_trainer(t: TrainerSpec, where: str) -> None:
    c = _Checker(where)
    c.choice("kind", t.kind, _CHOICES["trainer.kind"])
    c.choice("loss_type", t.loss_type, _CHOICES["trainer.loss_type"])
    c.choice("lr_scheduler", t.lr_scheduler, _CHOICES["trainer.lr_scheduler"])
    c.choice("optim", t.optim, _CHOICES["trainer.optim"])
    c.number("adam_epsilon", t.adam_epsilon, 0, lo_open=True)
    if not (math.isfinite(t.learning_rate) and 0 < t.learning_rate < 1):
        raise c.fail("learning_rate", f"must be > 0 and < 1, got {t.learning_rate}")
    c.number("max_steps", t.max_steps, 0)
    c.number("num_epochs", t.num_epochs, 0)
    if t.max_steps == 0 and t.num_epochs <= 0:
        raise c.fail("max_steps", "must be > 0 (or set num_epochs > 0 with max_steps=0)")
    c.number("warmup_ratio", t.warmup_ratio, 0, 1, hi_open=True)
    c.number("batch_size", t.batch_size, 1)
    if t.kind == "grpo" and t.group_size < 2:
        raise c.fail("group_size", f"GRPO needs at least 2 completions per prompt, got {t.group_size}")
    c.number("group_size", t.group_size, 1)
    c.number("beta", t.beta, 0)
    c.number("temperature", t.temperature, 0, 5, lo_open=True)
    c.number("top_p", t.top_p, 0, 1, lo_open=True)
    c.number("max_prompt_length", t.max_prompt_length, 1)
    c.number("max_completion_length", t.max_completion_length, 1)
    c.number("logging_steps", t.logging_steps, 1)
    c.number("save_steps", t.save_steps, 0)
    c.number("gradient_accumulation_steps", t.gradient_accumulation_steps, 1)
    c.number("rollout_batch_size", t.rollout_batch_size, 0)
    if t.kind == "grpo" and t.rollout_batch_size % t.batch_size:
        raise c.fail("rollout_batch_size", f"must be 0 (= batch_size) or a multiple of batch_size ({t.batch_size}): "
                     f"each generation feeds whole optimizer steps; got {t.rollout_batch_size}")
    c.number("num_iterations", t.num_iterations, 1)
    c.choice("importance_sampling_level", t.importance_sampling_level, ("token", "sequence"))
    c.number("epsilon", t.epsilon, 0, 1, lo_open=True, hi_open=True)
    if t.epsilon_high is not None:
        c.number("epsilon_high", t.epsilon_high, 0, lo_open=True)
    c.choice("scale_rewards", t.scale_rewards, ("group", "batch", "none"))
    c.number("weight_decay", t.weight_decay, 0, 1)
    c.number("max_grad_norm", t.max_grad_norm, 0)


def _check_name(name: str, where: str) -> None:
    """Stage names become folder names in the run directory."""
    if not name.strip() or name in (".", "..") or any(ch in name for ch in "/\\\0"):
        raise UserError(f"config key '{where}': {name!r} cannot name a folder; use letters, digits, '-', '_'")


def _check_scaling(t: TrainerSpec, where: str) -> None:
    """LoRA and vLLM settings of a stage."""

    def bad(key: str, why: str) -> UserError:
        return UserError(f"config key '{where}.{key}': {why}")

    if t.lora_r < 0:
        raise bad("lora_r", f"must be >= 0 (0 = no LoRA), got {t.lora_r}")
    if t.lora_r and t.lora_alpha <= 0:
        raise bad("lora_alpha", f"must be > 0, got {t.lora_alpha}")
    if not 0 <= t.lora_dropout < 1:
        raise bad("lora_dropout", f"must be in [0, 1), got {t.lora_dropout}")
    if t.vllm_mode not in ("colocate", "server"):
        raise bad("vllm_mode", f"must be one of colocate, server; got {t.vllm_mode!r}")
    if t.use_vllm and t.kind != "grpo":
        raise bad("use_vllm", "vLLM rollouts are for GRPO stages only")
    if not 0 < t.vllm_gpu_memory_utilization <= 1:
        raise bad("vllm_gpu_memory_utilization", f"must be in (0, 1], got {t.vllm_gpu_memory_utilization}")
    if t.vllm_tensor_parallel_size < 1:
        raise bad("vllm_tensor_parallel_size", f"must be >= 1, got {t.vllm_tensor_parallel_size}")
    if not 0 < t.vllm_server_port < 65536:
        raise bad("vllm_server_port", f"must be a TCP port (1-65535), got {t.vllm_server_port}")
    if t.vllm_server_timeout <= 0:
        raise bad("vllm_server_timeout", f"must be > 0, got {t.vllm_server_timeout}")
    if t.vllm_max_model_length < 0:
        raise bad("vllm_max_model_length", f"must be >= 0 (0 = vLLM's default), got {t.vllm_max_model_length}")


def validate(recipe: Recipe) -> None:
    """Range and choice checks that types alone cannot express; each message names its key."""
    top = _Checker("")
    top.number("seed", recipe.seed, 0)
    top.number("threads", recipe.threads, 0)
    top.number("parallel", recipe.parallel, 0)
    if not recipe.model.path.strip():
        raise UserError("config key 'model.path': give a local model directory, or 'toy'")
    _Checker("model").choice("dtype", recipe.model.dtype, _CHOICES["model.dtype"])
    for v in recipe.variants:
        if v not in VARIANTS:
            raise UserError(f"config key 'variants': unknown variant {v!r}; choose from {VARIANTS}")
    if not recipe.variants:
        raise UserError(f"config key 'variants': give at least one of {VARIANTS}")
    if not recipe.stages:
        raise UserError("config key 'stages': at least one stage is needed")
    _check_trainer(recipe.trainer, "trainer")
    _check_scaling(recipe.trainer, "trainer")
    names = set()
    for i, stage in enumerate(recipe.stages):
        if not stage.tasks and not stage.data:
            raise UserError(f"config key 'stages.{i}.tasks': a stage needs at least one task (or a data file)")
        _check_name(stage.name, f"stages.{i}.name")
        if stage.name in names:
            raise UserError(f"config key 'stages.{i}.name': duplicate stage name {stage.name!r}")
        names.add(stage.name)
        if stage.items_per_task < 1:
            raise UserError(f"config key 'stages.{i}.items_per_task': must be >= 1, got {stage.items_per_task}")
        if isinstance(stage.replay, bool) or not isinstance(stage.replay, (int, float)) \
                or not 0.0 <= stage.replay < 1.0:
            raise UserError(f"config key 'stages.{i}.replay': must be a share in [0, 1), got {stage.replay!r}")
        if i == 0 and stage.replay:
            raise UserError("config key 'stages.0.replay': the first stage has no earlier stage to replay")
        _check_trainer(stage_trainer(recipe, stage), f"stages.{i}.trainer")
        _check_scaling(stage_trainer(recipe, stage), f"stages.{i}.trainer")
    modes = ("", "none", "difficulty", "capability", "capability_x_difficulty")
    if recipe.curriculum.mode not in modes:
        raise UserError(f"config key 'curriculum.mode': must be one of {modes[1:]}, got {recipe.curriculum.mode!r}")
    if recipe.curriculum.mode and not recipe.curriculum.inputs:
        raise UserError("config key 'curriculum.inputs': give capability=FILE entries for the curriculum")
    _Checker("curriculum").number("seed", recipe.curriculum.seed, 0)
    _check_reward(recipe)
    _check_toy(recipe)
    _check_experiment(recipe)
    for i, name in enumerate(recipe.logging.report_to):
        _Checker("logging").choice(f"report_to.{i}", name, ("tensorboard", "wandb", "mlflow"))
    e = _Checker("eval")
    e.number("items_per_capability", recipe.eval.items_per_capability, 1)
    e.number("batch_size", recipe.eval.batch_size, 1)
    e.number("max_new_tokens", recipe.eval.max_new_tokens, 1)
    e.number("seed", recipe.eval.seed, 0)
    e.number("samples", recipe.eval.samples, 0)
    e.number("temperature", recipe.eval.temperature, 0, lo_open=True)
    e.number("top_p", recipe.eval.top_p, 0, 1, lo_open=True)
    from seethink.eval.settings import check_eval_spec

    check_eval_spec(recipe.eval)  # benchmarks, protocol, device, dtype, backend, during_training


def _check_reward(recipe: Recipe) -> None:
    r = recipe.reward
    c = _Checker("reward")
    c.number("accuracy_weight", r.accuracy_weight)
    c.number("format_weight", r.format_weight)
    for i, w in enumerate(r.extra_weights):
        c.number(f"extra_weights.{i}", w)
    if len(r.extra_weights) not in (0, len(r.extra)):
        raise UserError("config key 'reward.extra_weights': give one weight per reward.extra entry")
    c.number("timeout_s", r.timeout_s, 0, 3600, lo_open=True)
    for i, spec in enumerate(r.extra):
        path_s, colon, attr = spec.rpartition(":")
        if colon and path_s.endswith(".py") and not attr.strip():
            raise UserError(f"config key 'reward.extra.{i}': {spec!r} names no function; use path/to/file.py:function")
    weights = [r.accuracy_weight, r.format_weight, *(r.extra_weights or [1.0] * len(r.extra))]
    grpo = any(stage_trainer(recipe, s).kind == "grpo" for s in recipe.stages)
    if grpo and not any(weights):
        raise UserError("config key 'reward.accuracy_weight': every reward weight is 0, so GRPO would get no signal")


def _check_experiment(recipe: Recipe) -> None:
    x = recipe.experiment
    c = _Checker("experiment")
    c.choice("budget", x.budget, ("paper", "equal"))
    c.number("passk_k", x.passk_k, 1)
    c.number("passk_batch_size", x.passk_batch_size, 1)
    c.number("workers", x.workers, 0)
    if not x.seeds:
        raise c.fail("seeds", "give at least one seed")
    for i, s in enumerate(x.seeds):
        c.number(f"seeds.{i}", s, 0)
    if len(set(x.seeds)) != len(x.seeds):
        raise c.fail("seeds", f"a seed is listed twice: {x.seeds}")
    names: set[str] = set()
    for i, arm in enumerate(x.arms):
        _check_name(arm.name, f"experiment.arms.{i}.name")
        if arm.name in names or arm.name == "base":
            why = "'base' is always evaluated and cannot name an arm" if arm.name == "base" else "listed twice"
            raise c.fail(f"arms.{i}.name", f"{arm.name!r}: {why}")
        names.add(arm.name)
        _check_trainer(dataclasses.replace(recipe.trainer, **arm.trainer), f"experiment.arms.{i}.trainer")
    seen_settings: set[str] = set()
    for i, st in enumerate(x.settings):
        _check_name(st.name, f"experiment.settings.{i}.name")
        if st.name in seen_settings:
            raise c.fail(f"settings.{i}.name", f"{st.name!r} listed twice")
        seen_settings.add(st.name)
        for o in st.overrides:
            if "=" not in o or o.split("=", 1)[0].strip().startswith("experiment."):
                raise c.fail(f"settings.{i}.overrides", f"{o!r}: give key.sub=value pairs outside 'experiment'")
    cap = x.caption_stage
    _check_name(cap.name, "experiment.caption_stage.name")
    if cap.name in {s.name for s in recipe.stages}:
        raise c.fail("caption_stage.name", f"{cap.name!r} is also the name of a stage in 'stages'")


def _check_toy(recipe: Recipe) -> None:
    t = recipe.toy
    c = _Checker("toy")
    for key in ("grid", "cell_px", "text_steps_min", "text_max_operand"):
        c.number(key, getattr(t, key), 1)
    if t.min_shapes < 1 or t.max_shapes > t.grid**2 or t.min_shapes > t.max_shapes:
        raise UserError("config key 'toy.min_shapes'/'toy.max_shapes': need 1 <= min <= max <= grid^2, "
                        f"got {t.min_shapes}, {t.max_shapes} (grid {t.grid})")
    if t.text_steps_max < t.text_steps_min:
        raise c.fail("text_steps_max", f"must be >= text_steps_min ({t.text_steps_min}), got {t.text_steps_max}")
    # Perception knobs. Images are tiled by 28 px merged tokens; a side that is not
    # a multiple of 28 would be resized by the image processor, blurring every render.
    from seethink.data.toyworld.scenes import ALL_SHAPES, MIN_OBJECT_PX, RGB, SIZE_SCALE, min_palette_distance

    if (t.grid * t.cell_px) % 28:
        raise c.fail("cell_px", f"grid * cell_px must be a multiple of 28 (one merged image token), "
                                f"got {t.grid} * {t.cell_px} = {t.grid * t.cell_px}")
    c.number("object_scale", t.object_scale, 0, 1, lo_open=True)
    c.number("jitter_px", t.jitter_px, 0, (t.cell_px - 1) // 2)  # an object's centre stays in its cell
    c.number("rotate", t.rotate, 0, 180)
    c.number("distractors", t.distractors, 0, 50)
    c.number("noise", t.noise, 0, 128)
    c.number("color_distance", t.color_distance, 0, round(min_palette_distance(RGB), 1), lo_open=True)
    if len(t.shapes) < 2 or len(set(t.shapes)) != len(t.shapes) or len(t.shapes) > 10:
        raise c.fail("shapes", f"give 2 to 10 different shapes, got {t.shapes}")
    for s in t.shapes:
        c.choice("shapes", s, ALL_SHAPES)
    if len(t.sizes) == 1 or len(set(t.sizes)) != len(t.sizes):
        raise c.fail("sizes", f"give no sizes, or 2 or 3 different ones, got {t.sizes}")
    for s in t.sizes:
        c.choice("sizes", s, tuple(SIZE_SCALE))
    # The smallest object must be big enough to tell its shape (scenes.MIN_OBJECT_PX across).
    smallest = (t.cell_px - 2 * max(2, t.cell_px // 7)) * t.object_scale * min(
        [SIZE_SCALE[s] for s in t.sizes] or [1.0])
    if smallest < MIN_OBJECT_PX:
        raise c.fail("object_scale", f"the smallest object would be {smallest:.1f} px across; shapes need "
                                     f"at least {MIN_OBJECT_PX} (raise cell_px or object_scale, or drop small sizes)")
    m = recipe.toy_model
    mc = _Checker("toy_model")
    for f in dataclasses.fields(m):
        value = getattr(m, f.name)
        if isinstance(value, int) and not isinstance(value, bool):
            mc.number(f.name, value, 1)
    if m.hidden_size % m.num_heads or m.num_heads % m.num_kv_heads:
        raise mc.fail("num_heads", "hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
    w = recipe.warmstart
    wc = _Checker("warmstart")
    for key in ("vision_steps", "sft_steps", "sft2_steps"):
        wc.number(key, getattr(w, key), 0)
    for key in ("vision_batch", "sft_batch", "items_per_capability"):
        wc.number(key, getattr(w, key), 1)
    for key in ("vision_lr", "sft_lr", "sft2_lr"):
        wc.number(key, getattr(w, key), 0, lo_open=True)
    wc.number("direct_fraction", w.direct_fraction, 0, 1)
    wc.choice("vision_heads", w.vision_heads, ("joint", "factored", "words"))
    wc.number("vision_lr_scale", w.vision_lr_scale, 0)
    wc.number("seed", w.seed, 0)
    if w.task_weights and len(w.task_weights) != len(w.tasks):
        raise wc.fail("task_weights", f"give one weight per task ({len(w.tasks)}), got {len(w.task_weights)}")
    for i, x in enumerate(w.task_weights):
        wc.number(f"task_weights[{i}]", x, 0, lo_open=True)


def with_overrides(recipe: Recipe, overrides: list[str]) -> Recipe:
    """A resolved recipe with `key.sub=value` overrides applied on top (validated like the CLI's)."""
    tree = yaml.safe_load(dump_recipe(recipe))
    for key, value in parse_overrides(overrides):
        _validate_dotted(key)
        _set_dotted(tree, key, value)
    out = _from_dict(Recipe, tree)
    validate(out)
    return out


def dump_recipe(recipe: Recipe) -> str:
    data = to_dict(recipe)
    # Save each stage's fully resolved trainer so the file alone says what ran.
    data["stages"] = [
        {**to_dict(s), "trainer": to_dict(stage_trainer(recipe, s))} for s in recipe.stages
    ]
    return yaml.safe_dump(data, sort_keys=False)
