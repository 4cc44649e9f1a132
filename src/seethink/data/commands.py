"""`seethink data` commands for the capability data pipeline: convert, captions, passk, curriculum, export-easyr1.

Plain functions with typer annotations; `register(data_app)` adds them to the `data`
sub-app. Bad input raises `UserError`, which the CLI's `main` turns into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from seethink.errors import UserError


def data_convert(
    input: Annotated[Path, typer.Option("--input", help="a JSONL / JSON / parquet file, or a save_to_disk folder")],
    out: Annotated[Path, typer.Option(help="output seethink JSONL; inline images go to OUT_STEM_images/")],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl | json | parquet | hf | easyr1 (default: from the path)")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN (fields: id, question, answer, images, options, capability); repeat")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="skip invalid rows (counted, first reasons shown) instead of stopping")] = False,
    capability: Annotated[str | None, typer.Option(help="capability for rows without one")] = None,
    dedup: Annotated[bool, typer.Option(help="drop repeated items (same question text and images)")] = True,
    decontam: Annotated[list[Path] | None, typer.Option(help="evaluation file(s) to remove overlapping items against")] = None,
    decontam_mode: Annotated[str, typer.Option(help="both: question and images match; either: question or any image")] = "both",
    image_root: Annotated[Path | None, typer.Option(help="folder relative image paths are resolved against")] = None,
    split: Annotated[str | None, typer.Option(help="split of a save_to_disk DatasetDict (default train)")] = None,
) -> None:
    """Validate a dataset and convert it to seethink JSONL (dedup, decontamination, image checks)."""
    from seethink.data.loaders import convert, format_stats, load_eval_items

    eval_items: list[dict] = []
    for p in decontam or []:
        eval_items += load_eval_items(p)
    stats = convert(
        input, out, fmt=fmt, mapping=map_ or None, skip_bad_rows=skip_bad_rows, capability=capability,
        dedup=dedup, eval_items=eval_items or None, decontam=decontam_mode, image_root=image_root, split=split,
    )
    if not stats["items"]:
        raise UserError(f"{input}: no valid items ({stats['bad_rows']} bad rows); first: "
                        + "; ".join(stats["bad_row_examples"][:1]))
    typer.echo(format_stats(stats))
    typer.echo(f"wrote {stats['items']} items to {out}")


def data_captions(
    input: Annotated[Path, typer.Option("--input", help="caption JSONL: DOCCI (image_file, description) or "
                                        "PixMo-Cap / generic (image | image_path, caption | text)")],
    out: Annotated[Path, typer.Option(help="output seethink JSONL of caption items (image paths relative to it)")],
    image_root: Annotated[Path | None, typer.Option(help="folder relative image paths are resolved against "
                                                    "(default: the input's folder, then the working directory)")] = None,
    split: Annotated[str | None, typer.Option(help="keep only rows whose 'split' field is this (DOCCI: train, test, ...)")] = None,
) -> None:
    """Convert image-caption data into caption items for caption SFT (a stage with trainer.kind=sft)."""
    from seethink.data.captions import convert_captions

    stats = convert_captions(input, out, image_root=image_root, split=split)
    extra = f", {stats['other_split']} of other splits" if split is not None else ""
    typer.echo(f"{stats['items']} caption items from {stats['rows']} rows ({stats['duplicates']} duplicates{extra})")
    typer.echo(f"wrote {stats['items']} items to {out}")


def data_passk(
    model: Annotated[str, typer.Option(help="local HF model directory, or 'toy'")],
    input: Annotated[Path, typer.Option("--input", help="seethink JSONL (e.g. from `seethink data toy`)")],
    k: Annotated[int, typer.Option("--k", help="samples per item")],
    out: Annotated[Path, typer.Option(help="output JSONL (rows + predictions, correctness, pass_rate); rerun to resume")],
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 1.0,
    top_p: Annotated[float, typer.Option(help="nucleus sampling p")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(help="tokens per sample")] = 256,
    batch_size: Annotated[int, typer.Option(help="prompts per generate call (each sampled K times)")] = 8,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    save_every: Annotated[float, typer.Option(help="seconds between atomic saves of the output")] = 30.0,
) -> None:
    """Sample K answers per item, grade them, and record pass_rate (difficulty) per row."""
    from seethink.data.passk import pass_at_k

    stats = pass_at_k(model, input, out, k=k, temperature=temperature, top_p=top_p,
                      max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, save_every_s=save_every)
    typer.echo(f"pass@{k}: {stats['rows']} rows ({stats['reused']} reused, {stats['sampled']} sampled), "
               f"mean pass rate {stats['mean_pass_rate']:.3f}, {stats['solved']} always solved, "
               f"{stats['unsolved']} never solved -> {out}")


def data_curriculum(
    mode: Annotated[str, typer.Option(help="none | difficulty | capability | capability_x_difficulty")],
    input: Annotated[list[str], typer.Option("--input", help="NAME=FILE, one per capability; repeat")],
    out: Annotated[Path, typer.Option(help="output folder for stage1.jsonl, stage2.jsonl, ...")],
    order: Annotated[str | None, typer.Option(help="comma list of input names in training order (default: as given)")] = None,
    drop_solved: Annotated[bool, typer.Option("--drop-solved", help="drop items with pass_rate 1")] = False,
    drop_unsolved: Annotated[bool, typer.Option("--drop-unsolved", help="drop items with pass_rate 0")] = False,
    seed: Annotated[int, typer.Option(help="shuffle seed")] = 0,
) -> None:
    """Order per-capability data into curriculum stage files."""
    from seethink.data.curriculum import build_curriculum, parse_inputs

    names = [s.strip() for s in order.split(",") if s.strip()] if order else None
    manifest = build_curriculum(parse_inputs(input), mode, out, order=names, drop_solved=drop_solved,
                                drop_unsolved=drop_unsolved, seed=seed)
    for st in manifest["stages"]:
        rate = "-" if st["mean_pass_rate"] is None else f"{st['mean_pass_rate']:.3f}"
        typer.echo(f"{out / st['file']}: {st['items']} items from {','.join(st['inputs'])} (mean pass rate {rate})")
    d = manifest["dropped"]
    if d["solved"] or d["unsolved"]:
        typer.echo(f"dropped {d['solved']} solved and {d['unsolved']} unsolved items")


def data_export_easyr1(
    input: Annotated[Path, typer.Option("--input", help="seethink JSONL (e.g. a curriculum stage file)")],
    out: Annotated[Path, typer.Option(help="output folder")],
    val: Annotated[Path | None, typer.Option(help="held-out seethink JSONL for EasyR1's val_files")] = None,
    group_size: Annotated[int, typer.Option(help="GRPO group size (worker.rollout.n)")] = 5,
    lr: Annotated[float, typer.Option(help="actor learning rate (worker.actor.optim.lr)")] = 1e-6,
    kl: Annotated[float, typer.Option(help="KL coefficient (algorithm.kl_coef)")] = 1e-2,
    model: Annotated[str | None, typer.Option(help="model path written into the config (optional)")] = None,
) -> None:
    """Export items to EasyR1 JSONL plus a matching EasyR1 config."""
    from seethink.data.easyr1 import export_easyr1

    info = export_easyr1(input, out, val_path=val, group_size=group_size, lr=lr, kl_coef=kl, model_path=model)
    typer.echo(json.dumps(info, indent=2))


def data_synth(
    out: Annotated[Path, typer.Option(help="output folder for train.jsonl, val.jsonl, test.jsonl (+ images)")],
    n_scenes: Annotated[int, typer.Option(help="scenes to draw questions from")] = 200,
    per_scene: Annotated[int | None, typer.Option(help="at most this many questions per scene")] = 3,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    filter_model: Annotated[list[str] | None, typer.Option(
        "--filter-model", help="keep items this model gets wrong from the image and right from the caption "
        "(PATH or toy; repeat to intersect several)")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="tokens per filter answer")] = 64,
) -> None:
    """Perception data from captions: template questions, caption filter, 85/5/10 split."""
    from seethink.data.synth import caption_filter, synthesize, write_splits
    from seethink.models.load import load_model
    from seethink.models.resolve import resolve_model
    from seethink.utils import pin_threads

    if n_scenes < 1:
        raise UserError("--n-scenes must be >= 1")
    items = synthesize(n_scenes, seed, per_scene=per_scene)
    typer.echo(f"synthesized {len(items)} questions from {n_scenes} scenes")
    if filter_model:
        pin_threads()
        models = [load_model(resolve_model(m)) for m in filter_model]
        items, stats = caption_filter(items, models, max_new_tokens=max_new_tokens)
        for name, f in zip(filter_model, stats["filters"], strict=True):
            typer.echo(f"  filter {name}: image acc {f['image_accuracy']:.2f}, caption acc "
                       f"{f['caption_accuracy']:.2f}, passed {f['passed']}")
        typer.echo(f"kept {stats['kept']} of {stats['items']} (intersection of {len(models)} filter(s))")
    paths = write_splits(items, out)
    typer.echo(", ".join(f"{k}: {p}" for k, p in paths.items()))


def register(data_app: typer.Typer) -> None:
    """Add `convert`, `captions`, `synth`, `passk`, `curriculum` and `export-easyr1` to `seethink data`."""
    data_app.command("convert")(data_convert)
    data_app.command("captions")(data_captions)
    data_app.command("synth")(data_synth)
    data_app.command("passk")(data_passk)
    data_app.command("curriculum")(data_curriculum)
    data_app.command("export-easyr1")(data_export_easyr1)
