"""The recipe schema: every setting, its default, and the values it may take.

Each dataclass field holds its default; `setting(...)` declares beside it what the field allows
(choices, a range, a folder name), and `seethink.config.validate` checks every declared field
the same way. Rules that tie several fields together live in `validate` as named functions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any


@dataclass(frozen=True)
class Allowed:
    """What one field may hold (for a list field: what each item may hold)."""

    choices: tuple[str, ...] = ()
    ge: float | None = None  # value >= ge
    gt: float | None = None  # value > gt
    le: float | None = None  # value <= le
    lt: float | None = None  # value < lt
    number: bool = False  # a finite number, whatever its size
    what: str = ""  # names the value in messages: "must be a share in [0, 1)"
    note: str = ""  # what a special value means: "must be >= 0 (0 = no LoRA)"
    folder: bool = False  # becomes a folder name in the run directory

    @property
    def numeric(self) -> bool:
        return self.number or any(b is not None for b in (self.ge, self.gt, self.le, self.lt))


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None,
            **allowed: Any) -> Any:
    """A dataclass field with its default and, in its metadata, what it allows (`Allowed`'s fields)."""
    meta = {"allowed": Allowed(**allowed)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def allowed_of(f: dataclasses.Field[Any]) -> Allowed | None:
    return f.metadata.get("allowed")


# ---------------------------------------------------------------- the toy world's vocabulary
# What `toy.*` may choose from; the renderer (seethink.toyworld.scenes) draws exactly these.

RGB = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 200, 30)}
# Every shape the renderer can draw (`toy.shapes` picks from these). Plurals are name + "s".
# Shapes new to the default three are regular outlines in the circle that fits the cell's box,
# pointing up; the diamond is a narrow rhombus (half as wide as tall, give or take), so that it is
# never a rotated square.
ALL_SHAPES = ("circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star")
# `toy.sizes`: an object's size names the fraction of the world's object size it is drawn at.
SIZE_SCALE = {"small": 0.5, "medium": 0.75, "large": 1.0}
# The smallest box an object may be drawn in (pixels across); below it shapes blur together.
MIN_OBJECT_PX = 8


def min_palette_distance(palette: dict[str, tuple[int, int, int]]) -> float:
    return min(math.dist(a, b) for a, b in combinations(palette.values(), 2))


# ---------------------------------------------------------------- the recipe


@dataclass
class ModelSpec:
    path: str = "toy"  # a local HF model directory, or "toy" for the embedded default
    trust_remote_code: bool = False  # only when the user opts in
    dtype: str = setting("float32", choices=("float32", "bfloat16", "float16"))


@dataclass
class ToyModelSpec:
    """Architecture of the embedded tiny Qwen2-VL (random init, local tokenizer)."""

    vocab_size: int = setting(512, ge=1)
    hidden_size: int = setting(128, ge=1)
    num_layers: int = setting(4, ge=1)
    # 8 heads of width 16 (not 4 of 32): text reasoning 69.5 against 31.5 on the same warm
    # start without scene inventories (docs/toy-world.md, "h8"); each extra head is one more
    # look-up per layer. With inventories the model searches its own text for the answer.
    num_heads: int = setting(8, ge=1)
    num_kv_heads: int = setting(8, ge=1)
    intermediate_size: int = setting(384, ge=1)
    vision_depth: int = setting(3, ge=1)
    vision_width: int = setting(96, ge=1)
    vision_heads: int = setting(4, ge=1)
    tie_embeddings: bool = True
    # Put each message's images after its text in the chat template, so that image tokens
    # can attend to the question (an experiment on the look-up; docs/toy-world.md).
    image_after_text: bool = False


@dataclass
class ToyWorldSpec:
    """Difficulty knobs of the procedural world (see toyworld and docs/toy-world.md).

    The defaults are the original world, item for item and pixel for pixel. The perception
    knobs below make the image harder to read without changing what a question means: every
    item stays exactly answerable from its image, and whatever a knob drew (shifts, angles,
    distractors, the noise seed) is recorded in the item's facts, so the image can be drawn
    again from them.
    """

    grid: int = setting(4, ge=1)  # scenes are grid x grid cells
    # One merged image token per cell at 28 (patch 14 x merge 2). Smaller cells with a larger
    # grid (grid 8, cell_px 14: the same 112 px image) put several cells, so up to 4 objects,
    # in one token: more cells than image tokens. grid * cell_px must be a multiple of 28.
    cell_px: int = setting(28, ge=1)
    min_shapes: int = 2
    max_shapes: int = 6
    text_steps_min: int = setting(2, ge=1)  # arithmetic steps in a word problem
    text_steps_max: int = 3
    text_max_operand: int = setting(9, ge=1)
    # Worked solutions of image items open with an inventory of the scene, by colour
    # ("red: circle, square. blue: triangle."), and the answer is then worked out from that
    # text. The tiny model reads scenes this way almost perfectly (99.8% exact inventories)
    # while it could not look an object up in the image directly: perception 68.7 against
    # 45.8 (docs/toy-world.md, on the scene inventory). Off, the model must see while it reasons.
    inventory: bool = True
    # ---- perception difficulty: the defaults draw the original world.
    # Objects smaller than a token: shapes drawn at this fraction of their size (20 px in a
    # 28 px cell), centred in the cell, so an object fills less of its merged token. (0, 1].
    object_scale: float = setting(1.0, gt=0, le=1)
    # Objects straddling token boundaries: each object shifted by up to this many pixels in x
    # and y, so it crosses into the neighbouring merged tokens. Its centre stays in its own
    # cell (< cell_px / 2), so rows, columns and left-of stay exact; objects never touch.
    jitter_px: int = 0
    # Rotation: each object turned by a random whole angle in [-rotate, rotate] degrees (0-180).
    # With rotation on, squares and triangles are drawn in the circle that fits their box (a
    # regular square and triangle), so they fit at any angle and stay what they are.
    rotate: int = setting(0, ge=0, le=180)
    # More shapes: the kinds objects are drawn from, any of circle, square, triangle, diamond
    # (a narrow rhombus, never a rotated square), pentagon, hexagon, star. Questions name them.
    shapes: list[str] = setting(factory=lambda: ["circle", "square", "triangle"], choices=ALL_SHAPES)
    # Sizes: each object gets one of these (small 0.5, medium 0.75, large 1.0 of object_scale),
    # named in the caption and the inventory ("red: small circle.") and asked by a perception
    # family "What size is the red circle?". Empty: no sizes (all objects one size).
    sizes: list[str] = setting(factory=list, choices=tuple(SIZE_SCALE))
    # Near colours: the four colours pulled toward their mean until the closest two are
    # color_distance apart in RGB (today's palette: 161), each keeping its direction (red stays
    # the reddest), so telling them apart needs finer colour than a saturated palette.
    shades: bool = False
    color_distance: float = setting(40.0, gt=0, le=round(min_palette_distance(RGB), 1))
    # Clutter: up to this many grey outline shapes per scene, smaller than the objects, in free
    # space. Objects are filled and coloured, distractors are thin and grey: never counted.
    distractors: int = setting(0, ge=0, le=50)
    # Noise: std of Gaussian pixel noise (0-255), seeded by the item, so renders repeat.
    noise: float = setting(0.0, ge=0, le=128)


@dataclass
class WarmStartSpec:
    """Turns the random toy model into a base with pass rates strictly between 0 and 1."""

    vision_steps: int = setting(200, ge=0)  # vision-tower pretraining on per-cell classification
    vision_lr: float = setting(3e-3, gt=0)
    vision_batch: int = setting(16, ge=1)
    # Heads of vision pretraining besides the joint cell class: "joint" (none), "factored"
    # (learned shape and colour heads, so each attribute is a direction of the merged token),
    # "words" (shape and colour scored against the LM's own embeddings of those words).
    vision_heads: str = setting("joint", choices=("joint", "factored", "words"))
    sft_steps: int = setting(1200, ge=0)
    sft_lr: float = setting(2e-3, gt=0)
    sft_batch: int = setting(16, ge=1)
    vision_lr_scale: float = setting(0.1, ge=0)  # vision tower learns slower during SFT
    # A second SFT phase on the same items: a fresh optimizer, the lr restarting at sft2_lr
    # and decaying again over sft2_steps (0 = one phase).
    sft2_steps: int = setting(1200, ge=0)
    sft2_lr: float = setting(1e-3, gt=0)
    items_per_capability: int = setting(2000, ge=1)
    tasks: list[str] = field(default_factory=lambda: ["toy_perception", "toy_text", "toy_visual"])
    # Items per task = items_per_capability x weight (one weight per task; empty = all 1).
    task_weights: list[float] = field(default_factory=list)
    # Fraction of multiple-choice items (perception) whose worked solution names the answer
    # at once instead of listing what the image shows first (a base that sometimes guesses).
    direct_fraction: float = setting(0.0, ge=0, le=1)
    seed: int = setting(1234, ge=0)


# transformers schedulers that need no extra arguments
LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
                 "polynomial", "inverse_sqrt")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "rmsprop")


@dataclass
class TrainerSpec:
    kind: str = setting("grpo", choices=("grpo", "sft"))
    max_steps: int = setting(20, ge=0)  # optimizer steps; 0 means use num_epochs
    num_epochs: float = setting(1.0, ge=0)
    learning_rate: float = setting(1e-6, gt=0, lt=1)
    lr_scheduler: str = setting("constant", choices=LR_SCHEDULERS)
    warmup_ratio: float = setting(0.0, ge=0, lt=1)
    # The optimizer (transformers' names). Adam scales every weight's step to about the lr, also
    # where the gradient is only noise; plain SGD moves weights in proportion to their gradient
    # (docs/toy-world.md, on optimizers). adam_epsilon applies to the Adam family only.
    optim: str = setting("adamw_torch", choices=OPTIMIZERS)
    adam_epsilon: float = setting(1e-8, gt=0)
    # Prompts per optimizer step for the whole job, whatever the process count and the
    # accumulation: each process runs gradient_accumulation_steps micro-steps of
    # batch_size x group_size / (processes x gradient_accumulation_steps) completions
    # (TRL's per_device_train_batch_size) before one optimizer step.
    batch_size: int = setting(4, ge=1)
    gradient_accumulation_steps: int = setting(1, ge=1)
    # GRPO: prompts per generation (the rollout batch) for the whole job, a multiple of batch_size;
    # 0 = batch_size (one generation per optimizer step). Each generation then feeds
    # rollout_batch_size / batch_size optimizer steps (TRL's steps_per_generation =
    # gradient_accumulation_steps x rollout_batch_size / batch_size micro-steps).
    rollout_batch_size: int = setting(0, ge=0)
    group_size: int = setting(5, ge=1)  # completions per prompt (GRPO's G)
    beta: float = setting(1e-2, ge=0)  # KL coefficient
    loss_type: str = setting("grpo", choices=("grpo", "dapo", "dr_grpo", "bnpo"))
    # GRPO policy loss (TRL's names): passes over each generation (mu), the importance ratio per
    # token or per sequence (GSPO), its clip range [1 - epsilon, 1 + epsilon_high] (unset:
    # epsilon_high = epsilon), advantage scaling by the reward std (group | batch | none), and
    # truncated completions left out of the loss.
    num_iterations: int = setting(1, ge=1)
    importance_sampling_level: str = setting("token", choices=("token", "sequence"))  # token | sequence (GSPO)
    epsilon: float = setting(0.2, gt=0, lt=1)
    epsilon_high: float | None = setting(None, gt=0)
    scale_rewards: str = setting("group", choices=("group", "batch", "none"))
    mask_truncated_completions: bool = False
    weight_decay: float = setting(0.0, ge=0, le=1)  # AdamW's decoupled weight decay (the paper: 1e-2)
    max_grad_norm: float = setting(1.0, ge=0)  # gradient clipping by global norm; 0 = no clipping
    temperature: float = setting(1.0, gt=0, le=5)
    top_p: float = setting(1.0, gt=0, le=1)
    max_prompt_length: int = setting(512, ge=1)
    max_completion_length: int = setting(64, ge=1)
    freeze_vision: bool = False
    gradient_checkpointing: bool = False
    shuffle: bool = True  # False keeps the dataset order (curricula)
    logging_steps: int = setting(1, ge=1)
    # A resumable checkpoint (weights, optimizer, RNG) every N optimizer steps, newest kept; 0 = none
    # (a killed stage then restarts from its beginning).
    save_steps: int = setting(50, ge=0)
    # bf16 mixed precision (autocast, TRL's default); false computes in float32. Unset (null) =
    # auto: on where the hardware computes bf16 natively (CUDA with bf16, or a CPU with
    # AVX512-BF16/AMX), off elsewhere: on an AVX2-only CPU bf16 autocast emulates every matmul
    # and made a tiny model's GRPO step about 7x slower (benchmarks/stage_overhead.py).
    bf16: bool | None = None
    # LoRA via PEFT: lora_r > 0 trains rank-r adapters; the stage checkpoint is saved merged.
    lora_r: int = setting(0, ge=0, note="0 = no LoRA")
    lora_alpha: int = 16
    lora_dropout: float = setting(0.0, ge=0, lt=1)
    lora_target_modules: list[str] = field(default_factory=list)  # layers in the language model; [] = attn + MLP
    # vLLM rollouts for GRPO (the vllm extra and a GPU): colocate (in each process) | server (trl vllm-serve)
    use_vllm: bool = False
    vllm_mode: str = setting("colocate", choices=("colocate", "server"))
    vllm_server_host: str = "0.0.0.0"
    vllm_server_port: int = setting(8000, ge=1, le=65535, what="a TCP port")
    vllm_server_base_url: str = ""  # e.g. http://10.0.0.5:8000; overrides host and port
    vllm_server_timeout: float = setting(240.0, gt=0)
    vllm_gpu_memory_utilization: float = setting(0.3, gt=0, le=1)  # colocate only
    vllm_tensor_parallel_size: int = setting(1, ge=1)  # colocate only
    vllm_max_model_length: int = setting(0, ge=0, note="0 = vLLM's default")  # colocate only
    vllm_enable_sleep_mode: bool = False  # colocate only
    # GRPO rollouts without vLLM: decode with seethink's lean loop (seethink.models.fastgen: the
    # same tokens for the same seed as transformers' generate, less Python per token) on the
    # models it supports. Unset: on a CPU only, where it was measured faster (a GPU's decode step
    # is arithmetic, and there generate was faster: docs/performance.md); true: on any device;
    # false: transformers' generate.
    fast_generation: bool | None = None
    # GRPO log-probabilities (policy and reference) with each distinct prompt run once for its
    # whole group (seethink.models.shared_prompt: the full pass's values and gradients up to float
    # rounding) on the models it supports. Unset: on a CPU only (it materialises the completion
    # logits, small for a small vocabulary); true: on any device; false: TRL's own pass.
    shared_prompt: bool | None = None


@dataclass
class StageSpec:
    name: str = setting("stage", folder=True)
    tasks: list[str] = field(default_factory=list)
    items_per_task: int = setting(200, ge=1)
    data: str = ""  # a seethink JSONL file (e.g. a curriculum stage file), used in its order
    trainer: dict[str, Any] = field(default_factory=dict)  # overrides of Recipe.trainer
    # Staged variant only: this share of the stage's items is replayed from earlier stages'
    # items (0.2 -> 1 in 5), so a later stage does not wear away what an earlier one taught.
    # Merged is unaffected: it already pools every stage's items.
    replay: float = setting(0.0, ge=0, lt=1, what="a share")


@dataclass
class CurriculumSpec:
    """Build the stages from per-capability data files with pass rates (`seethink data passk`)."""

    mode: str = setting("", choices=("", "none", "difficulty", "capability", "capability_x_difficulty"),
                        note="'' = off")
    inputs: dict[str, str] = field(default_factory=dict)  # capability -> JSONL with pass_rate
    order: list[str] = field(default_factory=list)  # stage order for the capability modes
    drop_solved: bool = False
    drop_unsolved: bool = False
    seed: int = setting(0, ge=0)


@dataclass
class RewardSpec:
    accuracy_weight: float = setting(0.9, number=True)
    format_weight: float = setting(0.1, number=True)
    extra: list[str] = field(default_factory=list)  # "path/file.py:fn" or registered names
    extra_weights: list[float] = setting(factory=list, number=True)
    # time limit per reward call (the math check, each user reward); a slower call is cut off and scores 0
    timeout_s: float = setting(5.0, gt=0, le=3600)


@dataclass
class EvalSpec:
    items_per_capability: int = setting(200, ge=1)
    batch_size: int = setting(32, ge=1)
    max_new_tokens: int = setting(64, ge=1)
    ablation: bool = True  # also score with blank and shuffled images
    # Sampled evaluation as in the reference recipe: `samples` answers per item at this
    # temperature / top-p, scored by the fraction correct (0 = greedy only).
    samples: int = setting(0, ge=0)
    temperature: float = setting(0.6, gt=0)
    top_p: float = setting(0.95, gt=0, le=1)
    stages: bool = False  # also evaluate every intermediate stage checkpoint (per-stage effects)
    seed: int = setting(777, ge=0)  # held-out items come from a seed range disjoint from training
    # Toy held-out evaluation: None = auto (on where a stage trains toy tasks, or a data file's rows
    # carry toy capabilities); a real-model recipe gets none unless it sets true.
    toy: bool | None = None
    # Real benchmarks (seethink.eval.benchmarks names; protocol paper also takes the paper's split
    # names, e.g. MathVista_MINI), read from data_root/NAME, scored by the official rules.
    # These and the settings below are checked by seethink.eval.settings, which knows the names.
    benchmarks: list[str] = field(default_factory=list)
    data_root: str = ""
    benchmark_limit: int = 0  # first N items of each benchmark; 0 = all
    benchmark_max_new_tokens: int = 2048
    protocol: str = "unified"  # unified (our reasoning prompt for every model) | paper (seethink.eval.protocols)
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on a GPU that computes it natively, else model.dtype) | float32 | bfloat16 | float16
    backend: str = "auto"  # benchmarks: auto (vLLM when installed and a GPU is present) | hf | vllm
    # Decode with seethink's lean loop (seethink.models.fastgen: HF's math and random draws, less
    # Python per token) on the models it supports; unset = on a CPU only, as trainer.fast_generation.
    fast_generation: bool | None = None
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

    name: str = setting("", folder=True)
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

    name: str = setting("", folder=True)
    overrides: list[str] = field(default_factory=list)  # key.sub=value, as on the command line


@dataclass
class ExperimentSpec:
    """`seethink experiment`: arms x seeds from one base, all scored on the same held-out items."""

    arms: list[ArmSpec] = field(default_factory=list)
    seeds: list[int] = setting(factory=lambda: [0], ge=0)
    # paper: every stage keeps its own steps and a merged arm gets their sum (the reference rule);
    # equal: every arm trains as many steps in total as the reference stages together.
    budget: str = setting("paper", choices=("paper", "equal"))
    # The `caption_sft` arm's perception stage: image in, caption out, trained by SFT. Empty
    # tasks and data = not configured (the toy recipes use the toy_caption task).
    caption_stage: StageSpec = field(
        default_factory=lambda: StageSpec(name="caption", tasks=[], trainer={"kind": "sft"})
    )
    passk_k: int = setting(16, ge=1)  # samples per item for the pass rates that order the difficulty arms
    passk_batch_size: int = setting(8, ge=1)  # prompts per generate call (each expanded to passk_k samples)
    # processes training units at once; 0 = one per core on a CPU, 1 on a GPU
    workers: int = setting(0, ge=0)
    # Ask every model the sub-questions of its visual-reasoning items (perception-error attribution)
    attribution: bool = True
    contrasts: list[str] = field(default_factory=list)  # extra contrasts as "arm_a - arm_b"
    # A sweep (e.g. the toy world's perception difficulty): the whole grid runs once per setting,
    # each in EXP/settings/NAME with its own base; the report adds a table across settings.
    settings: list[SettingSpec] = field(default_factory=list)


TRACKERS = ("tensorboard", "wandb", "mlflow")


@dataclass
class LoggingSpec:
    # Training loggers: tensorboard (event files in each stage's folder), wandb, mlflow (when
    # installed); [] = none.
    report_to: list[str] = setting(factory=lambda: ["tensorboard"], choices=TRACKERS)


VARIANTS = ("staged", "merged")


@dataclass
class Recipe:
    name: str = "toy"
    seed: int = setting(0, ge=0)
    # torch threads (per process); 0 = min(2, cores), or cores / processes when parallel
    threads: int = setting(0, ge=0)
    # Variants trained at once, each in its own process with its own threads, which evaluates
    # its own models. 0 = auto: one process per variant on a CPU-only machine with a core for
    # each (tiny models use 2 threads poorly: two 1-thread processes did the quick recipe in
    # 36 min against 56 in one 2-thread process); 1 = one variant after another.
    parallel: int = setting(0, ge=0)
    variants: list[str] = setting(factory=lambda: ["staged", "merged"], choices=VARIANTS)
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


def stage_trainer(recipe: Recipe, stage: StageSpec) -> TrainerSpec:
    """A stage's trainer settings: recipe defaults with the stage's overrides on top."""
    return dataclasses.replace(recipe.trainer, **stage.trainer)
