"""Difficulty by pass@K: sample K answers per item and record how many are right.

Each input row is written back with three more fields:
  predictions  the K sampled responses (strings)
  correctness  K booleans: the accuracy part of the recipe's default reward (`build_reward()`)
  pass_rate    their mean, 0.0 (never solved) .. 1.0 (always solved)

The K samples of one item come from one encoded prompt expanded K times inside a single
`generate(..., num_return_sequences=K)` call, so they share the prompt's encoding (and its
image features). The output is rewritten atomically every `save_every_s` seconds and at the
end; a rerun with the same output keeps the rows already finished (matched by `id`) and
samples only the rest. Image paths are rewritten to resolve relative to the output file.

At scale (`seethink.eval.device`, `seethink.eval.vllm_engine`):
* `device` / `dtype`: auto = a CUDA GPU in bf16 where it computes bf16 natively, else the CPU
  in float32; or as given;
* `backend`: `hf` (batched HF generate), `vllm` (the `vllm` extra, a GPU; K samples per prompt
  from vLLM's own batching) or `auto` (vLLM when installed and a GPU is present);
* sharding: `shard=(i, n)` samples every n-th row from row i into `OUT.shard-i-of-n.jsonl`
  (resumable like OUT); whichever shard finishes last, or `merge_shards`, writes OUT from the
  complete shard files, in input order. Under a multi-process launch (WORLD_SIZE > 1) without
  a shard, each process takes the shard of its rank and the main process merges. One process
  per GPU with vLLM: `CUDA_VISIBLE_DEVICES=i seethink data passk ... --shard i/8`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seethink.data.loaders import rebase_images
from seethink.errors import UserError
from seethink.utils import read_appended_jsonl, read_jsonl, write_jsonl

ADDED = ("predictions", "correctness", "pass_rate")


def _is_finished(row: dict, k: int) -> bool:
    """Whether `row` carries all K samples and their grades."""
    return (
        "id" in row
        and isinstance(row.get("predictions"), list)
        and len(row["predictions"]) == k
        and isinstance(row.get("correctness"), list)
        and len(row["correctness"]) == k
        and "pass_rate" in row
    )


def _read_finished(out: Path, k: int) -> dict[str, dict]:
    """Rows of an earlier run that are complete for this K, by id; a torn last line is ignored."""
    return {str(row["id"]): row for row in read_appended_jsonl(out) if _is_finished(row, k)}


def _check_ids(rows: list[dict], path: Path) -> None:
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        if "id" not in row or row["id"] in (None, ""):
            raise UserError(f"{path}, row {n}, field 'id': missing (pass@K resumes by id; "
                            "`seethink data convert` adds ids)")
        rid = str(row["id"])
        if rid in seen:
            raise UserError(f"{path}, row {n}, field 'id': duplicate id {rid!r}")
        seen.add(rid)
        for f in ("question", "answer"):
            if f not in row:
                raise UserError(f"{path}, row {n}, field '{f}': missing")


def score_samples(samples: list[str], item: dict, reward: Callable[[str, dict], dict[str, float]]) -> dict:
    correct = [bool(reward(s, item).get("accuracy", 0.0) >= 1.0) for s in samples]
    return {
        "predictions": list(samples),
        "correctness": correct,
        "pass_rate": sum(correct) / len(correct) if correct else 0.0,
    }


def shard_path(out: Path, shard: tuple[int, int]) -> Path:
    """The file shard (i, n) of `out` writes."""
    i, n = shard
    return out.with_name(f"{out.stem}.shard-{i}-of-{n}{out.suffix}")


def parse_shard(text: str) -> tuple[int, int]:
    """`i/n` (0 <= i < n) -> (i, n)."""
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise UserError(f"--shard expects I/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(f"--shard {text}: need 0 <= I < N")
    return i, n


def merge_shards(input_path: str | Path, out: str | Path, *, k: int, shards: int) -> dict[str, Any]:
    """Write `out` from its `shards` shard files once every row of the input is finished there
    (input order); returns {"merged": bool, "missing": rows not finished yet}."""
    src, out = Path(input_path), Path(out)
    rows = read_jsonl(src)
    done: dict[str, dict] = _read_finished(out, k)
    for i in range(shards):
        done.update(_read_finished(shard_path(out, (i, shards)), k))
    missing = [str(r["id"]) for r in rows if str(r["id"]) not in done]
    if missing:
        return {"merged": False, "missing": len(missing)}
    write_jsonl(out, [done[str(r["id"])] for r in rows])
    return {"merged": True, "missing": 0}


# One generate call: (conversations, images, offset of the chunk in the work list) -> K samples each.
Sampler = Callable[[list[list[dict]], list[list[Any]], int], list[list[str]]]


@dataclass
class _Job:
    """The rows this process samples, the file it writes, and the rows finished so far (by id)."""

    src: Path
    final: Path
    out: Path
    rows: list[dict]
    results: dict[str, dict]

    def save(self) -> None:
        write_jsonl(self.out, [self.results[str(r["id"])] for r in self.rows if str(r["id"]) in self.results])


def _check_args(k: int, temperature: float, batch_size: int, max_new_tokens: int, src: Path, final: Path) -> None:
    if k < 1:
        raise UserError("--k must be >= 1")
    if k > 1 and temperature <= 0:
        raise UserError("--temperature must be > 0 when --k > 1 (greedy decoding gives K identical answers)")
    if batch_size < 1 or max_new_tokens < 1:
        raise UserError("--batch-size and --max-new-tokens must be >= 1")
    if src.resolve() == final.resolve():
        raise UserError("--out must differ from --input")


def _open_job(src: Path, final: Path, k: int, shard: tuple[int, int] | None) -> _Job:
    """Read and check the input, take this shard's rows, and pick up what an earlier run finished."""
    rows = read_jsonl(src)
    _check_ids(rows, src)
    out = final
    if shard is not None:
        i, n = shard
        if not (n >= 1 and 0 <= i < n):
            raise UserError(f"shard {i}/{n}: need 0 <= i < n")
        rows = rows[i::n]
        out = shard_path(final, shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _read_finished(out, k)
    if shard is not None:  # rows an earlier unsharded run finished count too
        done.update({rid: r for rid, r in _read_finished(final, k).items() if rid not in done})
    return _Job(src, final, out, rows, dict(done))


def _load_vllm(model: str | Path, todo: list[dict], dtype: str, trust_remote_code: bool) -> Any:
    from seethink.eval.vllm_engine import VLLMEngine
    from seethink.models.load import load_processor

    processor = load_processor(model, trust_remote_code=trust_remote_code)
    most = max((len(r.get("images") or []) for r in todo), default=1)
    return VLLMEngine(model, processor, max_images=most, trust_remote_code=trust_remote_code,
                      dtype="auto" if dtype == "auto" else dtype)


def _load_sampler(
    model: str | Path,
    todo: list[dict],
    stats: dict[str, Any],
    gen: dict[str, Any],
    *,
    seed: int,
    backend: str,
    launched: bool,
    model_and_processor: tuple[Any, Any] | None,
    device: str,
    dtype: str,
    trust_remote_code: bool,
) -> Sampler:
    """Load the model on the chosen backend (recorded in `stats`) and return its generate call."""
    from seethink.eval.engine import generate
    from seethink.eval.vllm_engine import choose_backend

    chosen = "hf" if model_and_processor is not None else choose_backend(backend)
    if chosen == "vllm" and launched:
        raise UserError("--backend vllm: under a multi-process launch every process would share one GPU; "
                        "start one process per GPU instead (CUDA_VISIBLE_DEVICES=i ... --shard i/N)")
    if model_and_processor is not None:
        m, processor = model_and_processor
    else:
        from seethink.models.resolve import resolve_model
        from seethink.utils import pin_threads

        pin_threads()
        path = resolve_model(str(model))
        if chosen == "vllm":
            engine = _load_vllm(path, todo, dtype, trust_remote_code)
            stats.update(backend="vllm", device="cuda", dtype=dtype)
            return lambda convs, imgs, start: engine.generate(convs, imgs, **gen, seed=seed + start)
        from seethink.eval.device import load_for_eval

        m, processor, dev, dt = load_for_eval(path, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        stats.update(backend="hf", device=dev, dtype=dt)
    return lambda convs, imgs, start: generate(m, processor, convs, imgs, batch_size=len(convs), **gen)


def _sample_all(
    job: _Job,
    todo: list[dict],
    sample: Sampler,
    reward: Callable[[str, dict], dict[str, float]],
    *,
    k: int,
    batch_size: int,
    save_every_s: float,
    progress: bool,
) -> None:
    """Sample and grade `todo` chunk by chunk into `job.results`, saving every `save_every_s` seconds."""
    from tqdm.auto import tqdm

    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt

    rows, src = job.rows, job.src
    last = time.monotonic()
    with tqdm(total=len(rows), initial=len(rows) - len(todo), desc=f"pass@{k}", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            convs = [[{"role": "user", "content": render_prompt(r)}] for r in chunk]
            imgs = [item_images(r, src.parent) for r in chunk]
            outs = sample(convs, imgs, start)
            for row, samples in zip(chunk, outs, strict=True):
                new = rebase_images(row, src.parent, job.final.parent)
                new.update(score_samples(samples, row, reward))
                job.results[str(row["id"])] = new
            bar.update(len(chunk))
            if time.monotonic() - last >= save_every_s:
                job.save()
                last = time.monotonic()


def _summarize(job: _Job, stats: dict[str, Any]) -> None:
    rates = [job.results[str(r["id"])]["pass_rate"] for r in job.rows]
    stats["mean_pass_rate"] = sum(rates) / len(rates) if rates else 0.0
    stats["solved"] = sum(1 for x in rates if x >= 1.0)
    stats["unsolved"] = sum(1 for x in rates if x <= 0.0)
    stats["output"] = str(job.out)


def _merge_shard_files(job: _Job, stats: dict[str, Any], *, k: int, shards: int, launched: bool) -> None:
    """After a shard: write the final file when every shard is done (the main process, once all
    processes of a launch got here)."""
    from seethink import dist

    if launched:
        dist.barrier()
    if not launched or dist.is_main_process():
        merged = merge_shards(job.src, job.final, k=k, shards=shards)
        stats["merged"] = merged["merged"]
        if merged["merged"]:
            stats["output"] = str(job.final)
    if launched:
        dist.barrier()


def pass_at_k(
    model: str | Path,
    input_path: str | Path,
    out: str | Path,
    *,
    k: int = 8,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    seed: int = 0,
    save_every_s: float = 30.0,
    reward: Callable[[str, dict], dict[str, float]] | None = None,
    model_and_processor: tuple[Any, Any] | None = None,
    progress: bool = True,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "hf",
    shard: tuple[int, int] | None = None,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Annotate every row of `input_path` with predictions / correctness / pass_rate into `out`.

    `model`: a local HF model directory or "toy". `batch_size` counts prompts: one
    generate call holds batch_size x K sequences. `device`, `dtype`, `backend` and `shard`: see
    the module docstring. Returns counts and the mean pass rate (over the rows of this shard
    when sharded; `merged` says whether `out` was written from every shard).
    """
    import torch

    from seethink import dist
    from seethink.rewards.core import build_reward

    src, final = Path(input_path), Path(out)
    _check_args(k, temperature, batch_size, max_new_tokens, src, final)
    launched = shard is None and dist.world_size() > 1
    if launched:
        shard = (dist.rank(), dist.world_size())
    job = _open_job(src, final, k, shard)
    reward = reward or build_reward()
    todo = [r for r in job.rows if str(r["id"]) not in job.results]
    stats: dict[str, Any] = {"rows": len(job.rows), "reused": len(job.rows) - len(todo), "sampled": len(todo), "k": k}
    if shard is not None:
        stats["shard"] = f"{shard[0]}/{shard[1]}"
    if todo:
        gen = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "num_return_sequences": k}
        sample = _load_sampler(model, todo, stats, gen, seed=seed, backend=backend, launched=launched,
                               model_and_processor=model_and_processor, device=device, dtype=dtype,
                               trust_remote_code=trust_remote_code)
        torch.manual_seed(seed)
        _sample_all(job, todo, sample, reward, k=k, batch_size=batch_size,
                    save_every_s=save_every_s, progress=progress)
    job.save()
    _summarize(job, stats)
    if shard is not None:
        _merge_shard_files(job, stats, k=k, shards=shard[1], launched=launched)
    return stats
