"""GPU check: a random-weight Qwen2.5-VL at the 7B shape through seethink's GRPO stage and benchmark
evaluation on one GPU, in at most 5 minutes, with nothing downloaded.

    .venv/bin/python benchmarks/gpu_check.py                      # on a GPU machine
    .venv/bin/python benchmarks/gpu_check.py --tiny --steps 1     # the same code path on a CPU

Parts, in this order (each in its own process on a GPU, so each gets the whole GPU and its own
peak-memory reading, and a part that hangs is stopped at the time budget):

1. build: a Qwen2.5-VL built from a `transformers` config (`Qwen2_5_VLConfig` ->
   `AutoModelForImageTextToText.from_config`), random weights, at the shape of Qwen2.5-VL-7B-Instruct
   (8.29 B parameters), or the 3B shape where the 7B one would not fit with room for training
   (`--shape auto`); `--tiny` builds hidden 128 x 2 layers, vision depth 2. The tokenizer is the
   packaged toy base's locally trained one (`seethink.models.build_tiny`), padded with filler tokens
   to the real vocabulary (152,064) so the LM head, the logits and the sampler have the real size.
   Saved to a temporary folder like a downloaded checkpoint.
2. grpo-hf: `seethink.training.stage.run_stage` with a `TrainerSpec` shaped like
   `recipes/qwen2_5_vl_7b` (group 5, KL 1e-2, lr 1e-6, weight decay 1e-2, bf16 weights and
   autocast, gradient checkpointing, full fine-tuning with AdamW and a reference model) on toy
   visual-reasoning items with 448 px images (256 image tokens each), rollouts in-process by
   seethink's lean decoding (`trainer.fast_generation`, the default).
2b. grpo-hf-generate: the same stage with rollouts by transformers' `generate`
   (`fast_generation=False`), for the ratio of the two decode loops at full size.
3. eval: `seethink.eval.bench_run.evaluate_benchmarks` on the first 32 MATH-Vision testmini items
   of `--data-root` (greedy, bf16 on the GPU, `--eval-backend hf` by default); skipped with the
   reason printed when the folder is absent.
4. grpo-vllm: the same stage with `use_vllm` colocate (vLLM inside the training process, 0.3 of
   the GPU as in the recipes) when `import vllm` works; skipped with the reason otherwise. Last,
   because vLLM's start-up (torch.compile and CUDA graph capture, minutes on a first run with an
   empty compile cache) is the least predictable part of the budget.

It prints, per part: seconds per GRPO step (mean of the steps after the first, which warms up),
generated tokens per second per GPU (over whole steps, and over generation alone), the time to
start the trainer and to save the checkpoint, and peak memory (`torch.cuda.max_memory_allocated`
and reserved on a GPU; peak RSS on a CPU), then a summary table; `--json` writes it all.

Budget (defaults on a GPU, measured for nothing yet: no GPU was at hand when this was written):
3 steps per GRPO part of 4 prompts x 5 completions and 128 new tokens (a random model never
stops early, so every completion is 128 tokens: 2,560 per step), eval 32 items x 128 new tokens
in one batch. Estimated on one H200 at the 7B shape: build 30-45 s, grpo-hf 70-100 s (two model
loads, 3 steps of 8-12 s, one checkpoint save), eval 25-40 s, grpo-vllm 90-150 s (vLLM start-up
dominates; its checkpoint is not saved, the HF part already saved one). Whatever runs past
`--budget-s` (285 s in all) is stopped and reported as timed out, so the whole check stays under
5 minutes. Peak memory of a GRPO part at 7B: about 10 bytes per parameter (bf16 weights, gradients,
two AdamW moments, the reference model) = 83 GB, plus activations, plus 0.3 of the GPU for vLLM.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "benchmarks"
PARTS = ("hf", "hfgen", "eval", "vllm")  # after build, in this order
PART_NAMES = {"build": "build", "hf": "grpo-hf", "hfgen": "grpo-hf-generate", "eval": "eval", "vllm": "grpo-vllm"}
GIB = 1024**3

# Qwen2.5-VL-7B-Instruct and -3B-Instruct as released (config.json), and a tiny one for CPUs.
VISION_FULL = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "window_size": 112,
               "fullatt_block_indexes": [7, 15, 23, 31]}
SHAPES: dict[str, dict[str, Any]] = {
    "7b": {"hidden": 3584, "intermediate": 18944, "layers": 28, "heads": 28, "kv_heads": 4, "vocab": 152064,
           "tie": False, "rope_theta": 1e6, "max_positions": 128000, "vision": VISION_FULL},
    "3b": {"hidden": 2048, "intermediate": 11008, "layers": 36, "heads": 16, "kv_heads": 2, "vocab": 151936,
           "tie": True, "rope_theta": 1e6, "max_positions": 128000, "vision": VISION_FULL},
    "tiny": {"hidden": 128, "intermediate": 256, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 0,  # 0: tokenizer's
             "tie": True, "rope_theta": 1e4, "max_positions": 2048,
             "vision": {"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 4, "window_size": 56,
                        "fullatt_block_indexes": [1]}},
}
# Bytes per parameter of full fine-tuning in bf16 with AdamW and a reference model: weights 2,
# gradients 2, two moments 4 (bf16 like the weights), reference 2.
TRAIN_BYTES_PER_PARAM = 10
HEADROOM_GIB = 16  # activations (gradient checkpointing), logits, CUDA context, allocator slack


# ---------------------------------------------------------------------------------- settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--tiny", action="store_true",
                    help="a tiny random Qwen2.5-VL (hidden 128, 2 layers, vision depth 2): the code path on a CPU")
    ap.add_argument("--shape", choices=("auto", "7b", "3b"), default="auto",
                    help="GPU shape; auto: 7b where it fits with room for training (and vLLM), else 3b")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help=f"comma-separated parts to run after build, from {','.join(PARTS)} (default: all)")
    ap.add_argument("--steps", type=int, default=None, help="GRPO steps per part (default 3; the first warms up)")
    ap.add_argument("--batch-size", type=int, default=None, help="prompts per step (default 4 on a GPU, 2 tiny)")
    ap.add_argument("--group-size", type=int, default=None, help="completions per prompt (default 5, tiny 4)")
    ap.add_argument("--max-completion-length", type=int, default=None, help="new tokens per completion "
                    "(default 128, tiny 16)")
    ap.add_argument("--eval-items", type=int, default=32, help="MATH-Vision testmini items to evaluate")
    ap.add_argument("--eval-max-new-tokens", type=int, default=None, help="default 128, tiny 16")
    ap.add_argument("--eval-batch-size", type=int, default=None, help="default 32, tiny 16")
    ap.add_argument("--eval-backend", choices=("hf", "vllm", "auto"), default="hf",
                    help="evaluation back end (default hf: a second vLLM start-up would not fit the budget)")
    ap.add_argument("--data-root", type=Path, default=None,
                    help=f"benchmark folder holding mathvision/testmini.jsonl (default {DEFAULT_DATA_ROOT}, "
                         "else REPO/shared/benchmarks)")
    ap.add_argument("--max-pixels", type=int, default=None,
                    help="image processor's pixel cap (default 512 x 28 x 28: at most 512 image tokens; tiny 112 x 112)")
    ap.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3, help="as in the recipes")
    ap.add_argument("--budget-s", type=float, default=285.0,
                    help="wall-clock budget of the whole check; a part still running then is stopped (GPU) or "
                         "the remaining parts are skipped")
    ap.add_argument("--isolate", choices=("auto", "yes", "no"), default="auto",
                    help="each part in its own process (auto: yes where CUDA is available)")
    ap.add_argument("--work-dir", type=Path, default=None, help="where the model and outputs go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (the random model and eval outputs)")
    ap.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)  # internal: run one part (child process)
    return ap.parse_args(argv)


def resolve_settings(args: argparse.Namespace, cuda: bool) -> dict[str, Any]:
    tiny = args.tiny

    def pick(value: Any, gpu: Any, small: Any) -> Any:
        return value if value is not None else (small if tiny else gpu)

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"--parts: unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    data_root = args.data_root
    if data_root is None:
        data_root = next((d for d in (DEFAULT_DATA_ROOT, REPO / "shared" / "benchmarks")
                          if (d / "mathvision" / "testmini.jsonl").is_file()), DEFAULT_DATA_ROOT)
    s = {
        "tiny": tiny,
        "shape": "tiny" if tiny else args.shape,
        "parts": [p for p in PARTS if p in parts],
        "cuda": cuda,
        "device": "cuda" if cuda else "cpu",
        # The recipes' model.dtype on a GPU; float32 on a CPU (seethink's CPU default).
        "weights_dtype": "bfloat16" if cuda else "float32",
        "steps": pick(args.steps, 3, 2),
        "batch_size": pick(args.batch_size, 4, 2),
        "group_size": pick(args.group_size, 5, 4),
        "max_completion_length": pick(args.max_completion_length, 128, 16),
        "max_prompt_length": 512,  # text tokens of a toy prompt (images are on top)
        # Toy scenes are 4 x 4 cells: 112 px cells -> 448 px images -> 256 image tokens (tiny: 16).
        "cell_px": 28 if tiny else 112,
        "max_pixels": pick(args.max_pixels, 512 * 28 * 28, 112 * 112),
        "eval_items": args.eval_items,
        "eval_max_new_tokens": pick(args.eval_max_new_tokens, 128, 16),
        "eval_batch_size": pick(args.eval_batch_size, 32, 16),
        "eval_backend": args.eval_backend,
        "data_root": str(data_root),
        "vllm_gpu_memory_utilization": args.vllm_gpu_memory_utilization,
        "budget_s": args.budget_s,
    }
    if min(s["steps"], s["batch_size"], s["group_size"], s["max_completion_length"], s["eval_items"]) < 1:
        raise SystemExit("--steps, --batch-size, --group-size, --max-completion-length and --eval-items must be >= 1")
    return s


# ---------------------------------------------------------------------------------- helpers


def _peak_memory(device: str) -> dict[str, Any]:
    import resource

    import torch

    out: dict[str, Any] = {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB, 3)}
    if device == "cuda" and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        out.update(peak_allocated_gib=round(torch.cuda.max_memory_allocated() / GIB, 2),
                   peak_reserved_gib=round(torch.cuda.max_memory_reserved() / GIB, 2),
                   used_at_end_gib=round((total - free) / GIB, 2), total_gib=round(total / GIB, 2))
    return out


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _free(device: str) -> None:
    import gc

    gc.collect()
    import torch

    if device == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _shipped_tokenizer_dir() -> Path | None:
    from seethink.toyworld.warmstart import shipped_base

    d = shipped_base()
    return d if (d / "tokenizer.json").is_file() else None


def _tokenizer(vocab: int, scratch: Path) -> Any:
    """The toy tokenizer (shipped with the package, else trained here as build_tiny does), padded
    with filler tokens to `vocab` entries, so every id the model can sample decodes (also in vLLM's
    detokenizer) and the LM head, logits and sampler have the real model's size."""
    from seethink.config import ToyModelSpec, ToyWorldSpec
    from seethink.models.build_tiny import _base_tokenizer

    tok = _base_tokenizer(_shipped_tokenizer_dir(), ToyWorldSpec(), ToyModelSpec().vocab_size)
    if vocab <= len(tok):
        return tok
    try:
        return _pad_vocab(tok, vocab, scratch / f"tokenizer-{vocab}")
    except (KeyError, ValueError, OSError) as exc:  # another tokenizer layout: the slow, general way
        print(f"[gpu_check] padding the vocabulary as added tokens ({type(exc).__name__}: {exc})")
        tok.add_tokens([f"<|filler{i}|>" for i in range(vocab - len(tok))])
        return tok


def _pad_vocab(tok: Any, vocab: int, folder: Path) -> Any:
    """Fillers as entries of the BPE vocabulary (no merge produces them, so ordinary text never
    encodes to one), the added tokens (<think>, ...) moved to the last ids. A tokenizer with
    150k *added* tokens takes seconds to load in every process; this one loads in a fraction."""
    from transformers import AutoTokenizer

    tok.save_pretrained(folder)
    f = folder / "tokenizer.json"
    data = json.loads(f.read_text(encoding="utf-8"))
    entries = data["model"]["vocab"]
    base = len(entries)
    if sorted(entries.values()) != list(range(base)):
        raise ValueError("BPE vocabulary ids are not 0..n-1")
    moved = [a for a in data["added_tokens"] if a["id"] >= base]
    fill = vocab - base - len(moved)
    for i in range(fill):
        entries[f"<|filler{i}|>"] = base + i
    for k, a in enumerate(moved):
        a["id"] = base + fill + k
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    ids = [out.convert_tokens_to_ids(a["content"]) for a in data["added_tokens"]]
    if len(out) != vocab or ids != [a["id"] for a in data["added_tokens"]]:
        raise ValueError(f"padded tokenizer has {len(out)} entries, added-token ids {ids}")
    return out


def _config(shape: str, tok: Any) -> Any:
    from transformers import Qwen2_5_VLConfig

    from seethink.models.build_tiny import _qwen_ids
    from seethink.models.qwen2vl import rope

    sh = SHAPES[shape]
    vocab = sh["vocab"] or len(tok)
    head_dim = sh["hidden"] // sh["heads"]
    text = {
        "vocab_size": vocab,
        "hidden_size": sh["hidden"],
        "intermediate_size": sh["intermediate"],
        "num_hidden_layers": sh["layers"],
        "num_attention_heads": sh["heads"],
        "num_key_value_heads": sh["kv_heads"],
        "max_position_embeddings": sh["max_positions"],
        "rms_norm_eps": 1e-6,
        "rope_parameters": rope(head_dim, sh["rope_theta"]),  # mrope [16, 24, 24] at head width 128
        "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tok.pad_token_id,
        "tie_word_embeddings": sh["tie"],
    }
    vision = {**sh["vision"], "hidden_act": "silu", "out_hidden_size": sh["hidden"], "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2, "tokens_per_second": 2}
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=sh["tie"], **_qwen_ids(tok))


def _count_params(config: Any) -> int:
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    return sum(p.numel() for p in model.parameters())


def _processor(tok: Any, max_pixels: int) -> Any:
    from transformers import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from seethink.models.processor import shim_class, torchvision_usable

    ip = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": max_pixels}, patch_size=14,
                                  merge_size=2, temporal_patch_size=2)
    cls = shim_class(Qwen2_5_VLProcessor)
    if torchvision_usable():  # a GPU machine: a complete processor, as a real checkpoint has
        try:
            from transformers import Qwen2VLVideoProcessor

            return cls(image_processor=ip, tokenizer=tok, video_processor=Qwen2VLVideoProcessor(),
                       chat_template=tok.chat_template)
        except Exception as exc:  # noqa: BLE001 - fall back to the image-only processor seethink builds on CPUs
            print(f"[gpu_check] no video processor ({type(exc).__name__}: {exc}); saving an image-only processor")
    return cls(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)


def _vllm_reason(cuda: bool) -> str | None:
    """Why the vLLM part cannot run here (None: it can try)."""
    if not cuda:
        return "vLLM rollouts need a CUDA GPU; this machine has none"
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed here (pip install 'seethink[vllm]')"
    return None


def _eval_reason(s: dict[str, Any]) -> str | None:
    f = Path(s["data_root"]) / "mathvision" / "testmini.jsonl"
    return None if f.is_file() else f"no MATH-Vision testmini at {f} (give --data-root DIR holding mathvision/)"


# ---------------------------------------------------------------------------------- parts


def part_build(s: dict[str, Any], work: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForImageTextToText

    t0 = time.perf_counter()
    device = s["device"]
    _reset_peak(device)
    want_vocab = SHAPES["7b"]["vocab"] if s["shape"] == "auto" else SHAPES[s["shape"]]["vocab"]
    tok = _tokenizer(want_vocab, work)
    shape, fit = s["shape"], {}  # type: tuple[str, dict[str, Any]]
    if shape == "auto":
        shape, fit = _choose_shape(s, tok)
        if shape != "7b":
            tok = _tokenizer(SHAPES[shape]["vocab"], work)  # vocab padded for the chosen shape
    config = _config(shape, tok)
    dtype = getattr(torch, s["weights_dtype"])
    torch.manual_seed(0)
    t_init = time.perf_counter()
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    init_s = time.perf_counter() - t_init
    gen = model.generation_config
    gen.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    gen.pad_token_id = tok.pad_token_id
    gen.bos_token_id = tok.convert_tokens_to_ids("<|endoftext|>")
    params = sum(p.numel() for p in model.parameters())
    vision = sum(p.numel() for p in model.model.visual.parameters())
    out = work / "model"
    t_save = time.perf_counter()
    model.save_pretrained(out)
    _processor(tok, s["max_pixels"]).save_pretrained(out)
    save_s = time.perf_counter() - t_save
    mem = _peak_memory(device)
    del model
    _free(device)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return {"status": "ok", "shape": shape, "params": params, "vision_params": vision, "vocab": len(tok),
            "model_dir": str(out), "init_s": round(init_s, 2), "save_s": round(save_s, 2),
            "model_gib": round(size / GIB, 2), "fit": fit, "memory": mem, "part_s": round(time.perf_counter() - t0, 2)}


def _choose_shape(s: dict[str, Any], tok: Any) -> tuple[str, dict[str, Any]]:
    """The largest shape whose GRPO part fits the GPU with room for training (and vLLM's share)."""
    import torch

    if not s["cuda"]:
        raise SystemExit("no CUDA GPU here: the 7B/3B shapes need one; run with --tiny on a CPU")
    total = torch.cuda.mem_get_info()[1]
    vllm_share = s["vllm_gpu_memory_utilization"] * total if ("vllm" in s["parts"] and not _vllm_reason(True)) else 0
    tried = {}
    for shape in ("7b", "3b"):
        params = _count_params(_config(shape, tok))
        need = params * TRAIN_BYTES_PER_PARAM + HEADROOM_GIB * GIB + vllm_share
        tried[shape] = {"params": params, "need_gib": round(need / GIB, 1)}
        if need <= total:
            return shape, {"gpu_gib": round(total / GIB, 1), "tried": tried}
    raise SystemExit(f"neither shape fits {total / GIB:.0f} GiB ({tried}); pass --shape 3b to try anyway, "
                     "or --tiny")


@contextlib.contextmanager
def _patched(obj: Any, name: str, make: Any) -> Iterator[bool]:
    """Replace obj.name by make(original) for the block; yields False (and patches nothing) when
    obj has no such attribute (another TRL/seethink version), so a timer is skipped, not fatal."""
    original = getattr(obj, name, None)
    if original is None:
        yield False
        return
    setattr(obj, name, make(original))
    try:
        yield True
    finally:
        setattr(obj, name, original)


def _stage_probes(rec: dict[str, Any], device: str, save: bool) -> tuple[Callable[[Any], Any], ...]:
    """Wrappers for `part_grpo` to patch into the stage: they record step, generation and save
    times into `rec` (and, with `save` false, skip the checkpoint save)."""
    from transformers import TrainerCallback

    class Probe(TrainerCallback):
        """seethink's metrics callback, plus wall-clock marks around every optimizer step."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            rec["train_begin"] = time.perf_counter()

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            _sync(device)
            rec["steps"].append(time.perf_counter() - self.t)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            if logs:
                rec["logs"].append({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            self.inner.on_log(args, state, control, logs=logs, **kw)

    def metrics_callback(original: Any) -> Any:
        return lambda *a, **k: Probe(original(*a, **k))

    def timed_generation(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            g0 = time.perf_counter()
            out = original(self, *args, **kwargs)
            _sync(device)
            rec["gen_s"].append(time.perf_counter() - g0)
            try:
                rec["gen_tokens"].append(sum(len(c) for c in out[0]))
            except (TypeError, IndexError):
                rec["gen_tokens"].append(None)
            return out

        return wrapper

    def saving(original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s0 = time.perf_counter()
            if not save:  # the HF part saved this model already; spare the budget
                return None
            out = original(*args, **kwargs)
            rec["save_s"] = time.perf_counter() - s0
            return out

        return wrapper

    return metrics_callback, timed_generation, saving


def part_grpo(s: dict[str, Any], work: Path, use_vllm: bool, lean: bool = True) -> dict[str, Any]:
    """One GRPO stage; rollouts by vLLM, or in-process by seethink's lean decoding (`lean`, the
    default) or by transformers' `generate`, so the two in-process loops compare at full size."""
    t0 = time.perf_counter()
    name = "vllm" if use_vllm else ("hf" if lean else "hfgen")
    if use_vllm:
        try:
            import vllm  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - any import failure is a reason to skip
            return {"status": "skipped", "reason": f"import vllm failed: {type(exc).__name__}: {exc}"}
    from trl import GRPOTrainer

    from seethink.config import RewardSpec, ToyWorldSpec, TrainerSpec
    from seethink.data.tasks import get_task
    from seethink.training import stage

    device = s["device"]
    _reset_peak(device)
    model_dir = work / "model"
    # The cell size travels in each item's facts, so the images are drawn at it wherever they are read.
    world = ToyWorldSpec(cell_px=s["cell_px"])
    items = get_task("toy_visual").generate(max(8, s["steps"] * s["batch_size"]), "train", 0, world)
    # One process, one GPU, one generation per optimizer step; the recipes' optimisation settings.
    t = TrainerSpec(max_steps=s["steps"], batch_size=s["batch_size"], group_size=s["group_size"],
                    learning_rate=1e-6, beta=1e-2, weight_decay=1e-2, temperature=1.0,
                    max_prompt_length=s["max_prompt_length"], max_completion_length=s["max_completion_length"],
                    gradient_checkpointing=True, bf16=None, save_steps=0, logging_steps=1,
                    use_vllm=use_vllm, vllm_mode="colocate",
                    vllm_gpu_memory_utilization=s["vllm_gpu_memory_utilization"],
                    vllm_max_model_length=4096 if use_vllm else 0, fast_generation=lean)
    rec: dict[str, Any] = {"steps": [], "gen_s": [], "gen_tokens": [], "logs": [], "train_begin": None,
                           "save_s": None}

    metrics_callback, timed_generation, saving = _stage_probes(rec, device, save=not use_vllm and lean)
    out_dir = work / f"stage-{name}"
    t_call = time.perf_counter()
    with _patched(stage, "_metrics_callback", metrics_callback), \
            _patched(GRPOTrainer, "_generate_single_turn", timed_generation) as gen_timed, \
            _patched(stage, "save_checkpoint", saving):
        result = stage.run_stage(model_dir, items, t, RewardSpec(), out_dir, stage=f"gpu-check-{name}",
                                 variant="gpu_check", metrics_path=out_dir / "metrics.jsonl", seed=0,
                                 dtype=s["weights_dtype"], report_to=[])
    wall_stage = time.perf_counter() - t_call
    mem = _peak_memory(device)
    shutil.rmtree(out_dir, ignore_errors=True)  # a 7B checkpoint is 16.6 GB of disk
    _free(device)
    return {"status": "ok", "stage_result": result, **_step_stats(rec, s, gen_timed),
            "init_s": round(rec["train_begin"] - t_call, 2) if rec["train_begin"] else None,
            "save_s": round(rec["save_s"], 2) if rec["save_s"] is not None else None,
            "checkpoint_saved": not use_vllm and lean, "stage_s": round(wall_stage, 2),
            "trl_step_time": [lg["step_time"] for lg in rec["logs"] if "step_time" in lg],
            "completion_length": [lg["completions/mean_length"] for lg in rec["logs"]
                                  if "completions/mean_length" in lg],
            "memory": mem, "part_s": round(time.perf_counter() - t0, 2)}


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _step_stats(rec: dict[str, Any], s: dict[str, Any], gen_timed: bool) -> dict[str, Any]:
    """Seconds per step and tokens per second per GPU, leaving out the first (warm-up) step
    when there are more; one process, so per GPU is the whole."""
    steps = rec["steps"]
    skip = 1 if len(steps) > 1 else 0
    out: dict[str, Any] = {"step_s": [round(x, 3) for x in steps], "warmup_steps_left_out": skip}
    timed = steps[skip:]
    if not timed:
        return out
    out["s_per_step"] = round(statistics.fmean(timed), 3)
    tokens = rec["gen_tokens"] if gen_timed and None not in rec["gen_tokens"] else []
    if len(tokens) != len(steps):  # fall back on TRL's logged mean completion length
        lengths = [lg["completions/mean_length"] for lg in rec["logs"] if "completions/mean_length" in lg]
        tokens = [round(x * s["batch_size"] * s["group_size"]) for x in lengths]
    if len(tokens) == len(steps):
        out["gen_tokens_per_step"] = tokens
        out["tokens_per_s_per_gpu"] = round(sum(tokens[skip:]) / sum(timed), 1)
        if gen_timed and len(rec["gen_s"]) == len(steps):
            gen = rec["gen_s"][skip:]
            out["gen_s_per_step"] = round(statistics.fmean(gen), 3)
            out["gen_tokens_per_s_per_gpu"] = round(sum(tokens[skip:]) / sum(gen), 1)
    return out


def part_eval(s: dict[str, Any], work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    from seethink.eval import bench_generate, bench_run

    device = s["device"]
    _reset_peak(device)
    rec = {"gen_s": 0.0}

    def timed(original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g0 = time.perf_counter()
            out = original(*args, **kwargs)
            rec["gen_s"] += time.perf_counter() - g0
            return out

        return wrapper

    patches = contextlib.ExitStack()
    with patches:
        patches.enter_context(_patched(bench_generate, "generate", timed))  # the HF engine
        _count_generated(patches, rec)
        if s["eval_backend"] != "hf":
            from seethink.eval import vllm_engine

            patches.enter_context(_patched(vllm_engine.VLLMEngine, "generate", timed))
        res = bench_run.evaluate_benchmarks(
            work / "model", ["mathvision"], data_root=Path(s["data_root"]), split="testmini", limit=s["eval_items"],
            out_dir=work / "eval", max_new_tokens=s["eval_max_new_tokens"], batch_size=s["eval_batch_size"],
            device="auto", dtype="auto", load_dtype=s["weights_dtype"], backend=s["eval_backend"])
    m = res["mathvision"]
    mem = _peak_memory(device)
    _free(device)
    # Tokens the model generated (counted from its output ids where the HF loop ran; otherwise the
    # re-tokenized response text, which a random model's byte soup inflates many times over).
    tokens = rec.get("new_tokens") or m["lengths"]["response_tokens"]["mean"] * m["total"]
    mean_tokens = round(tokens / m["total"], 1) if m["total"] else 0.0
    return {"status": "ok", "items": m["total"], "accuracy": m["accuracy"], "mean_response_tokens": mean_tokens,
            "tokens_counted": "generated ids" if rec.get("new_tokens") else "re-tokenized text",
            "gen_s": round(rec["gen_s"], 2),
            "gen_tokens_per_s_per_gpu": round(tokens / rec["gen_s"], 1) if rec["gen_s"] else None,
            "items_per_s": round(m["total"] / rec["gen_s"], 2) if rec["gen_s"] else None,
            "placed": {k: m["run"].get(k) for k in ("device", "dtype", "backend")},
            "memory": mem, "part_s": round(time.perf_counter() - t0, 2)}


def _count_generated(patches: contextlib.ExitStack, rec: dict[str, Any]) -> None:
    """Count the new tokens of every HF generation call (transformers' loop and the lean one) into
    rec["new_tokens"]: ids after the prompt that are not padding (a row's end-of-text included)."""
    from transformers.generation.utils import GenerationMixin

    from seethink.models import fastgen

    depth = {"n": 0}

    def counting(original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth["n"] += 1  # the lean loop may hand over to transformers': count the outer call only
            try:
                out = original(*args, **kwargs)
            finally:
                depth["n"] -= 1
            ids = kwargs.get("input_ids")
            if depth["n"]:
                return out
            seqs = getattr(out, "sequences", out)
            model = args[0] if args else None
            pad = getattr(getattr(model, "generation_config", None), "pad_token_id", None)
            if ids is not None and hasattr(seqs, "shape"):
                new = seqs[:, ids.shape[1]:]  # (rows, new tokens)
                rec["new_tokens"] = rec.get("new_tokens", 0) + int((new != pad).sum() if pad is not None
                                                                   else new.numel())
            return out

        return wrapper

    patches.enter_context(_patched(GenerationMixin, "generate", counting))
    patches.enter_context(_patched(fastgen, "generate", counting))


def run_part(part: str, s: dict[str, Any], work: Path) -> dict[str, Any]:
    if part == "build":
        return part_build(s, work)
    if part == "eval":
        return part_eval(s, work)
    return part_grpo(s, work, use_vllm=(part == "vllm"), lean=(part != "hfgen"))


# ---------------------------------------------------------------------------------- driver


def _child(part: str, work: Path) -> int:
    """One part in this process (isolated mode): settings from, and result to, the work dir."""
    s = json.loads((work / "settings.json").read_text())
    _setup(s)
    try:
        res = run_part(part, s, work)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, whatever it was
        res = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(res["traceback"], file=sys.stderr)
    (work / f"result-{part}.json").write_text(json.dumps(res, default=str))
    return 0


def _setup(s: dict[str, Any]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded, ever
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not s["cuda"]:
        from seethink.utils import pin_threads

        pin_threads()


def _run_isolated(part: str, work: Path, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--work-dir", str(work)]
    proc = subprocess.Popen(cmd, start_new_session=True)  # its own process group: stopped as one
    try:
        proc.wait(timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        return {"status": "timeout", "reason": f"stopped after {timeout:.0f} s at the time budget (--budget-s)"}
    f = work / f"result-{part}.json"
    if not f.is_file():
        return {"status": "failed", "reason": f"the part's process exited with {proc.returncode} and no result"}
    return json.loads(f.read_text())


def _fmt(x: Any, unit: str = "", nd: int = 2) -> str:
    if x is None:
        return "-"
    return f"{x:.{nd}f}{unit}" if isinstance(x, float) else f"{x}{unit}"


def _mem_text(mem: dict[str, Any] | None) -> str:
    if not mem:
        return "-"
    if "peak_allocated_gib" in mem:
        return f"{mem['peak_allocated_gib']:.1f} GiB alloc / {mem['peak_reserved_gib']:.1f} reserved"
    return f"{mem['peak_rss_gib']:.2f} GiB RSS"


def report(results: dict[str, dict[str, Any]], s: dict[str, Any], header: dict[str, Any], isolated: bool) -> None:
    b = results.get("build", {})
    print("\n=== seethink GPU check ===")
    shape = b.get("shape", s["shape"])
    n = b.get("params") or 0
    params = f"{n / 1e9:.2f} B parameters" if n >= 1e8 else f"{n / 1e6:.2f} M parameters" if n else "?"
    print(f"model: random Qwen2.5-VL, {shape} shape ({params}, vocabulary {b.get('vocab', '?')}), "
          f"weights {s['weights_dtype']}; device {header['device']}; {header['versions']}")
    print(f"GRPO: {s['steps']} steps x {s['batch_size']} prompts x {s['group_size']} completions, "
          f"<= {s['max_completion_length']} new tokens, toy images {4 * s['cell_px']} px; eval: {s['eval_items']} "
          f"MATH-Vision testmini items, <= {s['eval_max_new_tokens']} new tokens, back end {s['eval_backend']}")
    if not isolated and not s["cuda"]:
        print("memory on a CPU: peak RSS of the one process that ran every part so far")
    print("tok/s/GPU: generated tokens per second of whole GRPO steps; gen tok/s/GPU: of generation alone "
          "(one process on one GPU, or on the CPU)")
    print(f"{'part':<16} {'status':<8} {'wall s':>7} {'s/step':>7} {'tok/s/GPU':>10} {'gen tok/s/GPU':>14}  peak memory")
    for part in ("build", *PARTS):
        r = results.get(part)
        if r is None:
            continue
        print(f"{PART_NAMES[part]:<16} {r['status']:<8} {_fmt(r.get('wall_s'), nd=1):>7} "
              f"{_fmt(r.get('s_per_step'), nd=3):>7} {_fmt(r.get('tokens_per_s_per_gpu'), nd=1):>10} "
              f"{_fmt(r.get('gen_tokens_per_s_per_gpu'), nd=1):>14}  {_mem_text(r.get('memory'))}")
    for part in ("build", *PARTS):
        r = results.get(part)
        if r is None:
            continue
        name = PART_NAMES[part]
        if r["status"] != "ok":
            print(f"{name}: {r['status']}: {r.get('reason', '')}")
            continue
        if part == "build":
            print(f"build: init {r['init_s']} s, save {r['save_s']} s ({r['model_gib']} GiB) -> {r['model_dir']}"
                  + (f"; shape fit {r['fit']}" if r.get("fit") else ""))
        elif part == "eval":
            print(f"eval: {r['items']} items, accuracy {r['accuracy']}% (random weights), generation "
                  f"{r['gen_s']} s ({r['items_per_s']} items/s, {r['gen_tokens_per_s_per_gpu']} tok/s/GPU at "
                  f"{r['mean_response_tokens']} tokens per answer), on {r['placed']}")
        else:
            steps = ", ".join(f"{x:.2f}" for x in r.get("step_s", []))
            print(f"{name}: step times [{steps}] s (first left out: {bool(r.get('warmup_steps_left_out'))}), "
                  f"generation {_fmt(r.get('gen_s_per_step'), ' s/step', 3)}, tokens per step "
                  f"{r.get('gen_tokens_per_step')}, trainer start {r.get('init_s')} s, "
                  f"checkpoint save {r.get('save_s') if r.get('checkpoint_saved') else 'skipped'} s")
        mem = r.get("memory") or {}
        if "peak_allocated_gib" in mem:
            print(f"  memory: peak allocated {mem['peak_allocated_gib']} GiB, reserved {mem['peak_reserved_gib']} "
                  f"GiB, in use at the end {mem['used_at_end_gib']} of {mem['total_gib']} GiB; "
                  f"peak RSS {mem['peak_rss_gib']} GiB")


def _header(s: dict[str, Any]) -> dict[str, Any]:
    import torch
    import transformers
    import trl

    vllm = "not installed"
    if importlib.util.find_spec("vllm") is not None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            vllm = version("vllm")
        except PackageNotFoundError:
            vllm = "?"
    if s["cuda"]:
        props = torch.cuda.get_device_properties(0)
        device = f"{props.name} ({props.total_memory / GIB:.0f} GiB), {torch.cuda.device_count()} visible, 1 used"
    else:
        device = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return {"device": device, "versions": f"torch {torch.__version__}, transformers {transformers.__version__}, "
                                          f"trl {trl.__version__}, vllm {vllm}"}


def _run_parts(s: dict[str, Any], work: Path, skip: dict[str, str | None], isolated: bool,
               start: float) -> dict[str, dict[str, Any]]:
    """Build, then each selected part (in its own process when `isolated`), within the time budget."""
    results: dict[str, dict[str, Any]] = {}
    for part in ("build", *s["parts"]):
        if skip.get(part):
            results[part] = {"status": "skipped", "reason": skip[part]}
            print(f"[gpu_check] {PART_NAMES[part]}: skipped: {skip[part]}", flush=True)
            continue
        left = s["budget_s"] - (time.perf_counter() - start)
        if left < 5:
            results[part] = {"status": "skipped", "reason": f"time budget spent ({s['budget_s']:.0f} s, --budget-s)"}
            print(f"[gpu_check] {PART_NAMES[part]}: skipped: budget spent", flush=True)
            continue
        print(f"[gpu_check] {PART_NAMES[part]} ({left:.0f} s of budget left)", flush=True)
        p0 = time.perf_counter()
        if isolated:
            res = _run_isolated(part, work, left)
        else:
            try:
                res = run_part(part, s, work)
            except Exception as exc:  # noqa: BLE001 - reported, and the next part still runs
                traceback.print_exc()
                res = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        res["wall_s"] = round(time.perf_counter() - p0, 2)  # with process start-up and imports
        results[part] = res
        print(f"[gpu_check] {PART_NAMES[part]}: {res['status']} in {time.perf_counter() - p0:.1f} s"
              + (f": {res.get('reason')}" if res["status"] != "ok" else ""), flush=True)
        if part == "build" and res["status"] != "ok":
            break
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.part is not None:
        return _child(args.part, args.work_dir)
    start = time.perf_counter()
    import torch

    cuda = bool(torch.cuda.is_available())
    s = resolve_settings(args, cuda)
    if not cuda and not s["tiny"]:
        print("gpu_check: no CUDA GPU here; the 7B/3B shapes need one. Run with --tiny to check the code path.")
        return 2
    isolated = cuda if args.isolate == "auto" else args.isolate == "yes"
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="seethink-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "settings.json").write_text(json.dumps(s))
    _setup(s)
    header = _header(s) if not isolated else {"device": "?", "versions": "?"}
    print(f"[gpu_check] work dir {work}; parts: build, {', '.join(PART_NAMES[p] for p in s['parts'])}; "
          f"budget {s['budget_s']:.0f} s; {'one process per part' if isolated else 'one process'}", flush=True)

    skip = {"vllm": _vllm_reason(cuda), "eval": _eval_reason(s)}
    results = _run_parts(s, work, skip, isolated, start)
    if isolated:  # read here after the parts, so this process held no GPU memory while they ran
        header = _header(s)
    total = time.perf_counter() - start
    report(results, s, header, isolated)
    print(f"total {total:.1f} s (budget {s['budget_s']:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": s, "header": header, "results": results, "total_s": round(total, 2),
                                         "isolated": isolated}, indent=2, default=str))
    if not args.keep and args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    elif not args.keep:
        shutil.rmtree(work / "model", ignore_errors=True)
    bad = [PART_NAMES[p] for p, r in results.items() if r["status"] in ("failed", "timeout")]
    if bad:
        print(f"gpu_check: not passed: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
