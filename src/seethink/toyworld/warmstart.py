"""Warm start of the embedded toy model: vision pretraining, then SFT on worked solutions.

Why two phases: SFT alone from random init teaches the tiny model to ignore its image
(the merged image features grow a constant offset and answers do not change when the
image is swapped). Pretraining the vision tower to classify the content of each grid
cell from its own merged token first gives the language model features worth reading.
The classification head is temporary and discarded.

The result is cached under $SEETHINK_CACHE (default ~/.cache/seethink) keyed by every
setting that affects it, so a second demo reuses it. It is built in `KEY.partial/` under a
lock (`KEY.lock`; a second process wants the same base: it waits) and renamed into place
when complete. A killed build resumes: the vision-pretrained model is kept as a finished
unit (`vision/`), SFT continues from its newest checkpoint (`sft/checkpoint-N`, or
`sft2/checkpoint-N` in the second phase).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from seethink import __version__
from seethink.config import Recipe
from seethink.data.tasks import get_task
from seethink.errors import UserError
from seethink.toyworld.scenes import COLORS, SHAPES, render_scene, sample_world_scene
from seethink.training.resume import logged_train_loss
from seethink.utils import atomic_dir, seed_everything, write_json


def cache_root() -> Path:
    return Path(os.environ.get("SEETHINK_CACHE", Path.home() / ".cache" / "seethink")).expanduser()


# Bump when the warm-start procedure changes in a way no setting records (2: fp32 SFT
# without gradient checkpointing), so an older cached base is not reused.
PROCEDURE_REVISION = 2


# Settings added after bases were cached, with the value that reproduces the earlier build
# exactly: left out of the key at that value, so adding an option does not force every
# user's cached base to be rebuilt (14 minutes on 2 cores). Any other value is keyed.
_KEYED_ONLY_WHEN_SET: dict[str, dict[str, Any]] = {
    "toy_model": {"image_after_text": False},
    "warmstart": {"vision_heads": "joint", "direct_fraction": 0.0},
    # The perception-difficulty knobs: at these values the world is the original one.
    "toy": {"object_scale": 1.0, "jitter_px": 0, "rotate": 0, "shapes": ["circle", "square", "triangle"],
            "sizes": [], "shades": False, "color_distance": 40.0, "distractors": 0, "noise": 0.0},
}


def _key_section(name: str, spec: Any) -> dict:
    fields = asdict(spec)
    for key, old in _KEYED_ONLY_WHEN_SET.get(name, {}).items():
        if fields.get(key) == old:
            del fields[key]
    return fields


def cache_key(recipe: Recipe) -> str:
    blob = json.dumps(
        {
            "version": __version__,
            "procedure": PROCEDURE_REVISION,
            "toy_model": _key_section("toy_model", recipe.toy_model),
            "toy": _key_section("toy", recipe.toy),
            "warmstart": _key_section("warmstart", recipe.warmstart),
            # A fingerprint of the generated data, so a change to the generators or prompt
            # templates invalidates the cache even when no setting changed.
            "data": _data_fingerprint(recipe),
        },
        sort_keys=True,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _data_fingerprint(recipe: Recipe) -> str:
    from seethink.data.prompts import render_prompt

    h = hashlib.sha1()
    for name in recipe.warmstart.tasks:
        for it in get_task(name).generate(20, "train", 0, recipe.toy):
            h.update((render_prompt(it) + it.get("solution", "")).encode())
    return h.hexdigest()[:12]


def cached_base(recipe: Recipe) -> Path:
    return cache_root() / "toy" / cache_key(recipe)


def shipped_base() -> Path:
    """The warm toy base of the default settings that ships with the package (`seethink toy-base`)."""
    return Path(__file__).resolve().parents[1] / "models" / "toy_base"


def shipped_bases_dir() -> Path:
    """Further shipped bases, one folder each (`seethink toy-base RECIPE --out` here): the bases
    of the committed studies' worlds. A base built on another CPU differs in its last digits and
    then trains differently, so a study run over several machines needs its base to travel."""
    return Path(__file__).resolve().parents[1] / "models" / "toy_bases"


def _shipped_for(key: str) -> Path | None:
    """The shipped base recorded with cache key `key`, if any."""
    extra = sorted(shipped_bases_dir().glob("*/warmstart.json")) if shipped_bases_dir().is_dir() else []
    for marker in [shipped_base() / "warmstart.json", *extra]:
        if marker.is_file() and json.loads(marker.read_text()).get("cache_key") == key:
            return marker.parent
    return None


def _from_shipped(recipe: Recipe, out: Path, log: Any = print) -> bool:
    """Copy a shipped base into the cache when it was built with exactly these settings and
    data (its recorded cache key is this recipe's): a fresh machine then skips the 13-minute
    build and trains from the same weights as every other machine. Any other setting, or a
    change to the generators, builds as before."""
    key = cache_key(recipe)
    src = _shipped_for(key)
    if src is None:
        return False
    with atomic_dir(out) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    log(f"[warm start] using the shipped base {src.name} (cache key {key}) -> {out}")
    return True


def export_base(recipe: Recipe, dest: Path, log: Any = print) -> Path:
    """Build (or reuse) the base for `recipe` and write it to `dest` with its cache key, the
    artefact `seethink toy-base` ships; only the files loading needs (no optimizer state)."""
    base = ensure_toy_base(recipe, log=log)
    keep = [p for p in base.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".jinja", ".txt")]
    with atomic_dir(dest) as tmp:
        for p in keep:
            shutil.copy2(p, tmp / p.name)
        stats = json.loads((base / "warmstart.json").read_text())
        write_json(tmp / "warmstart.json", {**stats, "cache_key": cache_key(recipe)})
    return dest


def ensure_toy_base(recipe: Recipe, log: Any = print) -> Path:
    """Path of the warm-started toy base: cached, else shipped, else built (or finished) now."""
    from seethink.runlock import RunLock

    out = cached_base(recipe)
    if (out / "warmstart.json").is_file():
        log(f"[warm start] reusing cached base {out}")
        return out
    if _from_shipped(recipe, out, log=log):
        return out
    lock = RunLock(out.with_name(out.name + ".lock"), what="warm-start cache entry", wait=True, main_only=False,
                   log=log)
    with lock:
        if (out / "warmstart.json").is_file():  # built by the process we waited for
            log(f"[warm start] reusing cached base {out}")
            return out
        for old in out.parent.glob(out.name + ".tmp*"):  # builds of older versions, killed
            shutil.rmtree(old, ignore_errors=True)
        partial = out.with_name(out.name + ".partial")
        stats = build_warm_base(recipe, partial, log=log)
        write_json(partial / "final" / "warmstart.json", stats)  # the marker of a complete base
        shutil.rmtree(out, ignore_errors=True)  # a folder without the marker is an unfinished leftover
        os.replace(partial / "final", out)
        shutil.rmtree(partial, ignore_errors=True)
    return out


TOKEN_PX = 28  # one merged image token of Qwen2-VL (patch 14, merge 2) covers 28 x 28 pixels


def vision_layout(world: Any) -> tuple[int, int]:
    """(cells per token side, classes per cell) of the vision warm start for `world`.

    A token covers k x k cells (k = 28 / cell_px: 1 in the default world, 2 with 14 px cells), and
    a cell is empty or holds one of shapes x colours x sizes. The temporary head names every
    cell of every token, so a world with more cells than tokens is still read cell by cell."""
    if TOKEN_PX % world.cell_px or (world.grid * world.cell_px) % TOKEN_PX:
        raise UserError(f"toy.cell_px={world.cell_px} with toy.grid={world.grid}: the vision warm start needs "
                        f"cells that tile a {TOKEN_PX} px image token (cell_px 28, 14 or 7) and an image side "
                        f"that is a multiple of {TOKEN_PX} px")
    return TOKEN_PX // world.cell_px, 1 + len(world.shapes) * len(COLORS) * max(1, len(world.sizes))


def _cell_labels(scene: Any, world: Any = None) -> list[int]:
    """Per-cell class, token by token in raster order (the order of Qwen2-VL's merged tokens),
    the k x k cells of each token in raster order; 0 = empty. The default world's classes are
    1 + shape x 4 + colour."""
    shapes = list(world.shapes) if world is not None else list(SHAPES)
    sizes = list(world.sizes) if world is not None and world.sizes else [""]
    k = vision_layout(world)[0] if world is not None else 1
    labels = []
    for tr in range(scene.grid // k):
        for tc in range(scene.grid // k):
            for dr in range(k):
                for dc in range(k):
                    o = scene.at(tr * k + dr, tc * k + dc)
                    labels.append(0 if o is None else 1 + (shapes.index(o.shape) * len(COLORS)
                                                           + COLORS.index(o.color)) * len(sizes)
                                  + sizes.index(o.size or sizes[0]))
    return labels


def _factor_labels(labels: Any) -> tuple[Any, Any]:
    """(shape, colour) classes of joint cell classes; 0 = empty cell in both."""
    nonempty = labels > 0
    shape = ((labels - 1) // len(COLORS) + 1) * nonempty
    colour = ((labels - 1) % len(COLORS) + 1) * nonempty
    return shape, colour


class _WordHead:
    """Logits of a cell feature against the LM's own (frozen) embeddings of the attribute words.

    Aligns "this cell holds a circle" with the direction of the word " circle", which the
    language model sees in the question, so its attention can match the two without first
    learning a map between two unrelated spaces. Index 0 (empty cell) is a learned vector.
    """

    def __init__(self, model: Any, processor: Any, words: tuple[str, ...]) -> None:
        import torch
        import torch.nn.functional as F

        emb = model.get_input_embeddings().weight.detach()
        hidden = emb.shape[1]
        vecs = [emb[processor.tokenizer(" " + w, add_special_tokens=False)["input_ids"]].mean(0) for w in words]
        self.words = F.rms_norm(torch.stack(vecs), (hidden,))  # (n_words, hidden), fixed
        self.empty = torch.nn.Parameter(torch.zeros(1, hidden))
        self.scale = torch.nn.Parameter(torch.tensor(4.0))

    def parameters(self) -> list[Any]:
        return [self.empty, self.scale]

    def __call__(self, normed: Any) -> Any:
        import torch

        table = torch.cat([self.empty, self.words])  # (1 + n_words, hidden)
        return self.scale * normed @ table.T / normed.shape[-1] ** 0.5  # (cells, 1 + n_words)


def _attribute_heads(model: Any, processor: Any, kind: str) -> list[Any]:
    """Extra vision-pretraining heads: none ("joint"), learned shape/colour ("factored"), or word-tied ("words")."""
    import torch

    hidden = model.config.text_config.hidden_size
    if kind == "factored":
        return [torch.nn.Linear(hidden, 1 + len(SHAPES)), torch.nn.Linear(hidden, 1 + len(COLORS))]
    if kind == "words":
        return [_WordHead(model, processor, SHAPES), _WordHead(model, processor, COLORS)]
    return []


def _check_heads(world: Any, kind: str) -> None:
    """The shape/colour heads (`factored`, `words`) name one object per token of the default shapes."""
    if kind != "joint" and (vision_layout(world)[0] != 1 or list(world.shapes) != list(SHAPES) or world.sizes):
        raise UserError(f"warmstart.vision_heads={kind} needs one cell per image token and the default shapes "
                        "without sizes; use joint for this world")


def pretrain_vision(model: Any, processor: Any, recipe: Recipe, log: Any = print) -> float:
    """Train the vision tower (+ temporary head) to name each cell; returns final cell accuracy."""
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    ws, world = recipe.warmstart, recipe.toy
    k, classes = vision_layout(world)
    _check_heads(world, ws.vision_heads)
    visual = model.model.visual
    hidden = model.config.text_config.hidden_size
    head = torch.nn.Linear(hidden, k * k * classes)  # every cell of a token: (k*k, classes) per token
    params = list(visual.parameters()) + list(head.parameters())
    attr_heads = _attribute_heads(model, processor, ws.vision_heads)
    for h in attr_heads:
        params += [p for p in h.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=ws.vision_lr)
    rng = random.Random(ws.seed)
    acc = 0.0
    model.train()
    bar = tqdm(range(ws.vision_steps), desc="vision pretraining", leave=False, disable=ws.vision_steps < 5)
    for _ in bar:
        # The setting's own rendering (scale, shifts, shades, noise...); the default world draws
        # exactly what sample_scene did.
        scenes = [sample_world_scene(rng, world) for _ in range(ws.vision_batch)]
        images = [render_scene(s, world.cell_px) for s in scenes]
        enc = processor.image_processor(images=images, return_tensors="pt")
        out = visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"])
        feats = out.pooler_output  # (B * tokens, hidden): one merged token per 28 px block
        normed = F.rms_norm(feats, (hidden,))
        logits = head(normed).view(-1, classes)  # (B * tokens * k*k, classes): one row per cell
        labels = torch.tensor([lab for s in scenes for lab in _cell_labels(s, world)])
        loss = F.cross_entropy(logits, labels)
        if attr_heads:
            shape, colour = _factor_labels(labels)  # (B * cells,) each; 0 = empty
            loss = loss + F.cross_entropy(attr_heads[0](normed), shape) + F.cross_entropy(attr_heads[1](normed), colour)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = (logits.argmax(-1) == labels).float().mean().item()
        bar.set_postfix(loss=f"{loss.item():.3f}", cell_acc=f"{acc:.2f}")
    log(f"[warm start] vision pretraining: {ws.vision_steps} steps, cell accuracy {acc:.3f}")
    return acc


def sft_items(recipe: Recipe) -> list[dict]:
    ws = recipe.warmstart
    items: list[dict] = []
    weights = ws.task_weights or [1.0] * len(ws.tasks)
    for name, w in zip(ws.tasks, weights, strict=True):
        items += get_task(name).generate(max(1, round(ws.items_per_capability * w)), "train", ws.seed, recipe.toy)
    if ws.direct_fraction > 0:
        items = [_direct(it) if it.get("options") and _unit(it["id"]) < ws.direct_fraction else it for it in items]
    random.Random(ws.seed).shuffle(items)
    return items


def _unit(key: str) -> float:
    """A stable number in [0, 1) per item, so the same items answer directly in every build."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 16**8


def _direct(item: dict) -> dict:
    """The item with a worked solution that names the letter without reading the scene first.

    Like a real base VLM that sometimes answers a perception question at a glance: both habits
    are in the base, and RL can find out which one pays (docs/toy-world.md).
    """
    return {**item, "solution": f"<think> I answer {item['answer']}.</think> \\boxed{{{item['answer']}}}"}


def run_sft(model: Any, processor: Any, items: list[dict], recipe: Recipe, ckpt_dir: Path, *, steps: int,
            lr: float, log: Any = print) -> dict:
    """One SFT phase (TRL SFTTrainer) on worked solutions: a fresh AdamW, lr decaying linearly
    from `lr` to 0 over `steps`, the vision tower at `vision_lr_scale` x lr.

    Checkpoints ten times over the phase into `ckpt_dir` and continues from the newest one.
    """
    import torch
    from trl import SFTConfig, SFTTrainer

    from seethink.training.datasets import sft_dataset
    from seethink.training.resume import ResumeExactly, checkpoint_args, last_checkpoint, restore_weights

    ws = recipe.warmstart
    visual_ids = {id(p) for p in model.model.visual.parameters()}
    groups = [
        {"params": [p for p in model.parameters() if id(p) not in visual_ids], "lr": lr},
        {"params": list(model.model.visual.parameters()), "lr": lr * ws.vision_lr_scale},
    ]
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / max(1, steps)))
    args = SFTConfig(
        output_dir=str(ckpt_dir),
        max_steps=steps,
        per_device_train_batch_size=ws.sft_batch,
        logging_steps=max(1, steps // 20),
        report_to=[],
        **checkpoint_args(max(1, steps // 10)),
        use_cpu=not torch.cuda.is_available(),
        # TRL turns on bf16 autocast and gradient checkpointing by default; the tiny model
        # needs neither, trains faster without them, and fp32 keeps the base exact.
        bf16=False,
        gradient_checkpointing=False,
        max_length=None,
        completion_only_loss=True,
        seed=ws.seed,
        disable_tqdm=steps < 5,
    )
    resume_from = last_checkpoint(ckpt_dir)
    if resume_from is not None:
        log(f"[warm start] resuming SFT from {resume_from}")
        restore_weights(model, resume_from)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=sft_dataset(items),
        processing_class=processor,
        optimizers=(opt, sched),
        callbacks=[ResumeExactly()],
    )
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    return {"sft_loss": logged_train_loss(trainer.state, result.training_loss)}


def build_warm_base(recipe: Recipe, out_dir: Path, log: Any = print) -> dict:
    """Build the base into `out_dir/final`, resuming whatever an interrupted build left in `out_dir`.

    Units: `vision/` + `vision.json` (the built, vision-pretrained model), then SFT with its
    checkpoints in `sft/`; with a second phase, `phase1/` + `phase1.json` (the model after
    phase 1) and phase 2's checkpoints in `sft2/`; then `final/` (written via a temp folder).
    """
    t0 = time.time()
    vstats = _vision_unit(recipe, out_dir, t0, log)
    items = sft_items(recipe)
    t1 = time.time()
    model, processor, stats = _sft_units(recipe, out_dir, items, log)
    with atomic_dir(out_dir / "final") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
    import torch

    # The weights depend on the torch thread count (floating-point reduction order), so a
    # base is only bit-for-bit reproducible with the same count; recorded for that reason.
    stats.update({**vstats, "sft_seconds": time.time() - t1, "sft_items": len(items),
                  "torch_threads": torch.get_num_threads()})
    log(f"[warm start] done in {time.time() - t0:.0f}s (SFT loss {stats['sft_loss']:.3f})")
    return stats


def _vision_unit(recipe: Recipe, out_dir: Path, t0: float, log: Any) -> dict:
    """The built, vision-pretrained model in `out_dir/vision` (unless done); `vision.json`'s stats.
    A new vision model drops the SFT units built on another one."""
    from seethink.models.load import load_model
    from seethink.toyworld.model import build_toy

    vision, vision_done = out_dir / "vision", out_dir / "vision.json"
    if not vision_done.is_file():
        for stale in ("sft", "sft2", "phase1"):  # SFT units of another vision model
            shutil.rmtree(out_dir / stale, ignore_errors=True)
        (out_dir / "phase1.json").unlink(missing_ok=True)
        with atomic_dir(vision) as tmp:
            seed_everything(recipe.warmstart.seed)
            log(f"[warm start] building tiny Qwen2-VL in {out_dir}")
            build_toy(tmp, recipe.toy_model, recipe.toy, seed=recipe.warmstart.seed)
            model, processor = load_model(tmp)
            cell_acc = pretrain_vision(model, processor, recipe, log=log)
            model.save_pretrained(tmp, safe_serialization=True)
            processor.save_pretrained(tmp)
        write_json(vision_done, {"cell_accuracy": cell_acc, "vision_seconds": time.time() - t0})
    else:
        log(f"[warm start] resuming the build in {out_dir} (vision pretraining done)")
    return json.loads(vision_done.read_text())


def _sft_units(recipe: Recipe, out_dir: Path, items: list[dict], log: Any) -> tuple[Any, Any, dict]:
    """SFT of `out_dir/vision` on the worked solutions, in one phase or two (phase 1 saved as
    `phase1/` + `phase1.json`): (model, processor, stats)."""
    from seethink.models.load import load_model

    ws = recipe.warmstart
    phase1, phase1_done = out_dir / "phase1", out_dir / "phase1.json"
    if not phase1_done.is_file():
        shutil.rmtree(out_dir / "sft2", ignore_errors=True)  # phase-2 checkpoints of another phase 1
        model, processor = load_model(out_dir / "vision")
        log(f"[warm start] SFT on {len(items)} worked solutions, {ws.sft_steps} steps")
        stats = run_sft(model, processor, items, recipe, out_dir / "sft", steps=ws.sft_steps, lr=ws.sft_lr, log=log)
        if ws.sft2_steps:
            with atomic_dir(phase1) as tmp:
                model.save_pretrained(tmp, safe_serialization=True)
                processor.save_pretrained(tmp)
            write_json(phase1_done, stats)
    if ws.sft2_steps:
        # Phase 2 restarts the lr (lower) with a fresh optimizer: continuing after the format
        # is learned is what taught the tiny model to read single objects (docs/toy-world.md).
        model, processor = load_model(phase1)
        log(f"[warm start] SFT phase 2: {ws.sft2_steps} steps from lr {ws.sft2_lr:g}")
        stats = run_sft(model, processor, items, recipe, out_dir / "sft2", steps=ws.sft2_steps, lr=ws.sft2_lr,
                        log=log)
        stats["sft_phase1_loss"] = json.loads(phase1_done.read_text())["sft_loss"]
    return model, processor, stats
