"""`seethink data` commands for the capability data pipeline: convert, captions, mcq, filter, passk, curriculum,
export-easyr1.

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
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl | json | parquet | hf | easyr1, or a published "
                                            "reasoning set: orz_math | clevr_math | geoqa170k | mathpuma | arxivqa "
                                            "(default: from the path)")] = None,
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
    device: Annotated[str, typer.Option(help="auto (cuda when available), cpu, cuda or cuda:N")] = "auto",
    dtype: Annotated[str, typer.Option(
        help="auto (bf16 on a GPU with native bf16, else float32), float32, bfloat16 or float16")] = "auto",
    backend: Annotated[str, typer.Option(help="auto (vLLM when installed and a GPU is present), hf or vllm")] = "auto",
    shard: Annotated[str | None, typer.Option(
        help="I/N: sample every N-th row from row I into OUT.shard-I-of-N.jsonl; the last shard to finish "
             "writes OUT (under accelerate launch: one shard per process, automatically)")] = None,
    merge: Annotated[int | None, typer.Option(
        help="N: only merge the N finished shard files into OUT (no model is loaded)")] = None,
) -> None:
    """Sample K answers per item, grade them, and record pass_rate (difficulty) per row."""
    from seethink.data.passk import merge_shards, parse_shard, pass_at_k
    from seethink.eval.device import DEVICES, DTYPES

    if merge is not None:
        if merge < 1:
            raise UserError("--merge expects the number of shards (>= 1)")
        res = merge_shards(input, out, k=k, shards=merge)
        if not res["merged"]:
            raise UserError(f"{res['missing']} rows are not finished in any of the {merge} shard files yet; "
                            "run (or re-run) the missing shards first")
        typer.echo(f"merged {merge} shards -> {out}")
        return
    if not DEVICES.match(device):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N; got {device!r}")
    if dtype not in DTYPES:
        raise UserError(f"--dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    stats = pass_at_k(model, input, out, k=k, temperature=temperature, top_p=top_p,
                      max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, save_every_s=save_every,
                      device=device, dtype=dtype, backend=backend, shard=parse_shard(shard) if shard else None)
    where = f"shard {stats['shard']}: " if "shard" in stats else ""
    typer.echo(f"{where}pass@{k}: {stats['rows']} rows ({stats['reused']} reused, {stats['sampled']} sampled), "
               f"mean pass rate {stats['mean_pass_rate']:.3f}, {stats['solved']} always solved, "
               f"{stats['unsolved']} never solved -> {stats['output']}")
    if "merged" in stats and not stats["merged"]:
        typer.echo(f"other shards are not finished yet; the last one to finish writes {out}")


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
    out: Annotated[Path, typer.Option(help="output folder (rows, images, reward.py, config, run.sh)")],
    val: Annotated[Path | None, typer.Option(help="held-out seethink JSONL for EasyR1's val_files")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs of the EasyR1 job (one node): batch sizes are sized for them")] = 8,
    group_size: Annotated[int, typer.Option(help="GRPO group size (worker.rollout.n)")] = 5,
    lr: Annotated[float, typer.Option(help="actor learning rate (worker.actor.optim.lr)")] = 1e-6,
    kl: Annotated[float, typer.Option(help="KL coefficient, k3 in the loss (algorithm.kl_coef; 0 = no KL)")] = 1e-2,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay (worker.actor.optim.weight_decay)")] = 1e-2,
    clip: Annotated[float, typer.Option(help="PPO clip, both sides (worker.actor.clip_ratio_low/high)")] = 0.2,
    max_prompt_length: Annotated[int, typer.Option(help="prompt tokens, images included (data.max_prompt_length)")] = 2048,
    max_response_length: Annotated[int, typer.Option(help="response tokens (data.max_response_length)")] = 2048,
    rollout_batch_size: Annotated[int, typer.Option(help="prompts per rollout, at most (fewer when the export is small)")] = 512,
    global_batch_size: Annotated[int, typer.Option(help="prompts per optimizer step, at most")] = 128,
    freeze_vision: Annotated[bool, typer.Option("--freeze-vision", help="freeze the vision tower")] = False,
    model: Annotated[str | None, typer.Option(help="model path written into the config and run.sh (a transformers 4 "
                                                   "checkpoint: docs/data.md)")] = None,
) -> None:
    """Export items to EasyR1: rows, images, reward.py and a config that starts as written."""
    from seethink.data.easyr1 import export_easyr1

    info = export_easyr1(input, out, val_path=val, group_size=group_size, lr=lr, kl_coef=kl, gpus=gpus,
                         weight_decay=weight_decay, clip=clip, max_prompt_length=max_prompt_length,
                         max_response_length=max_response_length, freeze_vision=freeze_vision,
                         rollout_batch=rollout_batch_size, global_batch=global_batch_size, model_path=model)
    for warning in info["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
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
    from seethink.models.load import load_model
    from seethink.models.resolve import resolve_model
    from seethink.toyworld.synth import caption_filter, synthesize, write_splits
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


def data_mcq(
    input: Annotated[Path, typer.Option("--input", help="caption JSONL: DOCCI (image_file, description) or "
                                        "PixMo-Cap / generic (image | image_path, caption | text)")],
    out: Annotated[Path, typer.Option(help="output seethink JSONL of perception MCQ items (image paths relative to it)")],
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")],
    model: Annotated[str, typer.Option(help="model name at that endpoint")],
    api_key_env: Annotated[str, typer.Option(help="NAME of the environment variable holding the key "
                                             "(the key itself is never written)")] = "OPENAI_API_KEY",
    template: Annotated[str, typer.Option(help="prompt template: a .txt file with {caption} and {n}, "
                                          "or a packaged name")] = "mcq_generate",
    per_caption: Annotated[int, typer.Option(help="questions asked for per caption")] = 3,
    max_attempts: Annotated[int, typer.Option(help="calls per caption before it is dropped")] = 3,
    image_root: Annotated[Path | None, typer.Option(help="folder relative image paths are resolved against")] = None,
    split: Annotated[str | None, typer.Option(help="keep only caption rows whose 'split' field is this")] = None,
    cache: Annotated[Path | None, typer.Option(help="per-caption cache (default: OUT.mcq_cache.jsonl); "
                                               "rerun to resume")] = None,
    workers: Annotated[int, typer.Option(help="requests in flight at once")] = 4,
    limit: Annotated[int | None, typer.Option(help="only the first N captions")] = None,
    shuffle_options: Annotated[bool, typer.Option(help="reorder options by a hash of the item id, so right "
                                                  "letters are spread evenly")] = True,
    max_tokens: Annotated[int, typer.Option(help="reply token budget per call")] = 1024,
) -> None:
    """Write multiple-choice perception questions from image captions with an LLM (cached, resumable)."""
    from seethink.data.mcq import generate_mcq

    stats = generate_mcq(input, out, base_url=base_url, model=model, api_key_env=api_key_env, template=template,
                         per_caption=per_caption, max_attempts=max_attempts, image_root=image_root, split=split,
                         cache=cache, workers=workers, limit=limit, shuffle_options=shuffle_options,
                         max_tokens=max_tokens, log=typer.echo)
    rej = ", ".join(f"{r}: {k}" for r, k in sorted(stats["rejected"].items(), key=lambda kv: -kv[1])) or "none"
    typer.echo(f"{stats['questions']} questions from {stats['captions']} captions ({stats['reused']} from the "
               f"cache, {stats['asked']} asked in {stats['calls']} calls, {stats['dropped_captions']} dropped); "
               f"rejected questions: {rej}")
    typer.echo(f"wrote {stats['questions']} items to {out}")


def data_filter(
    input: Annotated[Path, typer.Option("--input", help="seethink JSONL of perception items with a 'caption' "
                                        "(e.g. from `seethink data mcq`)")],
    out: Annotated[Path, typer.Option(help="output JSONL of the kept items; OUT_STEM_train/_val/_test beside it")],
    model: Annotated[list[str], typer.Option("--model", help="filter model: a local model directory or 'toy'; "
                                             "repeat: an item must pass every one")],
    split: Annotated[str, typer.Option(help="TRAIN,VAL,TEST weights of the hash split by item id, or 'none'")] = "85,5,10",
    backend: Annotated[str, typer.Option(help="auto (vLLM when installed and a GPU is present), hf or vllm")] = "auto",
    device: Annotated[str, typer.Option(help="HF back end: auto (cuda when available), cpu, cuda or cuda:N")] = "auto",
    dtype: Annotated[str, typer.Option(help="HF back end: auto (bf16 on a GPU), float32, bfloat16 or float16")] = "auto",
    batch_size: Annotated[int, typer.Option(help="prompts per generate call")] = 16,
    max_new_tokens: Annotated[int, typer.Option(help="tokens per answer")] = 256,
    caption_template: Annotated[str, typer.Option(help="prompt with the caption in place of the image: a .txt "
                                                  "file with {caption}, {question}, {options}")] = "filter_caption",
    trust_remote_code: Annotated[bool, typer.Option(help="allow model code shipped with the checkpoint")] = False,
) -> None:
    """Keep items every model answers wrong from the image and right from the caption; split 85/5/10."""
    from seethink.data.filter import filter_file
    from seethink.utils import pin_threads

    pin_threads()
    res = filter_file(input, out, model, split=split, backend=backend, device=device, dtype=dtype,
                      batch_size=batch_size, max_new_tokens=max_new_tokens, caption_template=caption_template,
                      trust_remote_code=trust_remote_code, log=typer.echo)
    typer.echo(f"kept {res['kept']} of {res['items']} items (every one of {len(res['filters'])} filter model(s)) "
               f"-> {out}")
    if res["split_files"]:
        typer.echo(", ".join(f"{n}: {res['split_counts'][n]} -> {p}" for n, p in res["split_files"].items()))


def register(data_app: typer.Typer) -> None:
    """Add `convert`, `captions`, `mcq`, `filter`, `synth`, `passk`, `curriculum` and `export-easyr1` to `seethink data`."""
    data_app.command("convert")(data_convert)
    data_app.command("captions")(data_captions)
    data_app.command("mcq")(data_mcq)
    data_app.command("filter")(data_filter)
    data_app.command("synth")(data_synth)
    data_app.command("passk")(data_passk)
    data_app.command("curriculum")(data_curriculum)
    data_app.command("export-easyr1")(data_export_easyr1)
