"""Evaluate a model on real benchmarks: generate, write official results files, score.

    from seethink.eval.bench_run import evaluate_benchmarks
    metrics = evaluate_benchmarks("ckpt/", ["mathvision", "wemath"], data_root=Path("../shared/benchmarks"),
                                  out_dir=Path("runs/eval"), limit=50)

Per benchmark NAME, under `out_dir/NAME/`:
* `responses.jsonl`: one row per item (`id`, `response`), appended after each generated chunk.
  A rerun skips the ids already there (a torn last line, from a killed run, is dropped), so a
  long evaluation can be stopped and resumed.
* `results.jsonl` / `results.json`: the predictions in the benchmark's official results format,
  which the official tools and `seethink score` / `score_file` read.
* `metrics.json`: `score_file`'s metrics plus response-length statistics (`lengths`).
`out_dir/metrics.json` holds {name: metrics} for every benchmark evaluated there. Reading,
appending and resuming those files: `seethink.eval.bench_files`.

Prompts are the unified reasoning prompt (`render_prompt`; a template per benchmark may be
given); generation is greedy, batched and length-sorted (`seethink.eval.engine.generate`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from seethink.data.images import check_image_file, load_image
from seethink.data.prompts import render_prompt
from seethink.errors import UserError
from seethink.eval.bench_files import (
    append_rows,
    fold,
    rank_file,
    read_all,
    read_responses,
    read_rows,
    reset_if_changed,
)
from seethink.eval.bench_generate import Generator, generation_backend
from seethink.eval.benchmarks import get_benchmark, load, save_images
from seethink.eval.engine import count_tokens
from seethink.utils import write_json, write_jsonl

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
# Item fields that reference an image in the benchmark's own files (empty `images` beside one of
# these means the image is missing locally; items with none of them are text-only by design).
_IMAGE_REFS = ("image", "image_path", "image_id", "image_source")


def results_filename(name: str) -> str:
    """The results file name `evaluate_benchmarks` writes for a benchmark."""
    return get_benchmark(name).results_file


def write_results(name: str, items: list[dict], responses: list[str], path: str | Path) -> Path:
    """Predictions in the benchmark's official results format (its own where the format is
    special: MathVista, We-Math; else JSONL rows `id`, `response`)."""
    return Path(get_benchmark(name).write_results(items, responses, path))


def select_items(name: str, items: list[dict], limit: int | None) -> list[dict]:
    """The first `limit` items (We-Math rounds up to whole problem groups, which scoring needs)."""
    if limit is None:
        return items
    if limit < 1:
        raise UserError(f"limit must be a positive number of items, got {limit}")
    return list(get_benchmark(name).select_items(items, limit))


# ------------------------------------------------------------------ stats


def _stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "max": 0}
    return {"mean": round(statistics.fmean(values), 2), "median": float(statistics.median(values)),
            "max": max(values)}


def think_part(response: str) -> str:
    """The text inside <think>...</think>; an unclosed <think> (clipped response) runs to the end."""
    m = _THINK.search(response)
    if m:
        return m.group(1)
    if "<think>" in response:
        return response.split("<think>", 1)[1]
    return ""


def length_stats(processor: Any, responses: list[str], max_new_tokens: int) -> dict:
    """Response lengths in tokens (whole response and `<think>` part: mean, median, max) and the
    share of responses that hit `max_new_tokens`. Lengths are of the decoded text re-tokenized,
    so `clipped` is approximate (special tokens are dropped at decoding)."""
    whole = [count_tokens(processor, r) for r in responses]
    think = [count_tokens(processor, think_part(r)) if think_part(r) else 0 for r in responses]
    clipped = sum(n >= max_new_tokens for n in whole)
    return {
        "response_tokens": _stats(whole),
        "think_tokens": _stats(think),
        "with_think": sum("<think>" in r for r in responses),
        "clipped": clipped,
        "clipped_ratio": round(clipped / len(responses), 4) if responses else 0.0,
        "max_new_tokens": max_new_tokens,
    }


# ------------------------------------------------------------------ images


def _check_images(name: str, items: list[dict], data_dir: Path) -> None:
    missing = [it for it in items if not it.get("images") and any(it.get(k) for k in _IMAGE_REFS)]
    if missing:
        it = missing[0]
        ref = next(it[k] for k in _IMAGE_REFS if it.get(k))
        raise UserError(
            f"{name}: {len(missing)} of {len(items)} items have no image on disk (e.g. item {it['id']}: "
            f"{ref!r} under {data_dir}); this copy of {name} holds annotations only. Put the benchmark's "
            f"images in {data_dir} (as the official release lays them out) or point --data-root at a "
            "complete copy."
        )


def _verify_images(name: str, items: list[dict]) -> None:
    """Every image present and readable, before the model loads (not mid-way through generation)."""
    for it in items:
        for p in it.get("images") or []:
            check_image_file(p, f"{name}: item {it['id']}, field 'images': ")


def _image_size(item: dict) -> int:
    total = 0
    for p in item.get("images") or []:
        try:
            with Image.open(p) as im:
                total += im.width * im.height
        except OSError:
            pass
    return total


# ------------------------------------------------------------------ main entry


def _pick(value: str | Mapping[str, str] | None, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get(name)


def benchmark_items(sets: list[Any], *, data_root: Path | None, data_paths: Mapping[str, Path] | None = None,
                    split: str | None = None, limit: int | None = None,
                    images_to: Path | None = None) -> list[tuple[Any, Path, list[dict]]]:
    """(set, data folder, items) of each `seethink.eval.protocols.Split`, every image checked.
    Images embedded in a release are written to IMAGES_TO/NAME/images (None: only checked to be
    there), so a run can check its benchmarks before training (`check_benchmarks`)."""
    plans: list[tuple[Any, Path, list[dict]]] = []
    for st in sets:
        paths = data_paths or {}
        if st.name in paths or st.benchmark in paths:
            ddir = Path(paths.get(st.name) or paths[st.benchmark]).expanduser()
        elif data_root is not None:
            ddir = Path(data_root).expanduser() / st.benchmark
        else:
            raise UserError(f"{st.name}: no data folder: give data_root (DIR/{st.benchmark}) or a path for {st.name}")
        items = st.select(load(st.benchmark, ddir, split or st.split))
        if not items:
            raise UserError(f"{st.name}: no items in {ddir} (split {split or st.split or 'default'})")
        items = select_items(st.benchmark, items, limit)
        embedded = [it for it in items if it.get("image_bytes")]
        if embedded and images_to is not None:
            save_images(items, images_to / st.name / "images")
        _check_images(st.name, [it for it in items if images_to is not None or not it.get("image_bytes")], ddir)
        _verify_images(st.name, items)
        plans.append((st, ddir, items))
    return plans


def check_benchmarks(names: list[str], *, data_root: Path | None, protocol: str = "unified",
                     limit: int | None = None) -> None:
    """Fail now (not after training) when a benchmark's folder, items or images are missing."""
    from seethink.eval import protocols

    benchmark_items([protocols.resolve(n, protocol) for n in names], data_root=data_root, limit=limit)


def _chunk_seed(seed: int, chunk: list[dict]) -> int:
    """A sampling seed fixed by the chunk's items (not by its position), so resumed chunks reseed alike."""
    import zlib

    return (seed * 1_000_003 + zlib.crc32("|".join(str(it["id"]) for it in chunk).encode())) % (2**31)


@dataclass(frozen=True)
class _Run:
    """The settings every benchmark of one `evaluate_benchmarks` call shares."""

    model_path: str | Path | None
    out_root: Path
    protocol: str
    system: str | None
    template: str | Mapping[str, str] | None
    split: str | None
    limit: int | None
    max_new_tokens: int
    batch_size: int
    samples: int
    temperature: float
    top_p: float
    seed: int
    judge: Any
    world: int
    rank: int
    log: Callable[[str], Any]

    @property
    def main(self) -> bool:
        return self.rank == 0


def evaluate_benchmarks(
    model_path: str | Path | None, names: list[str], *, data_root: Path | None,
    data_paths: Mapping[str, Path] | None = None, limit: int | None = None, out_dir: Path,
    max_new_tokens: int = 512, batch_size: int = 16, template: str | Mapping[str, str] | None = None,
    split: str | None = None, model_and_processor: tuple[Any, Any] | None = None, dtype: str = "float32",
    device: str | None = None, trust_remote_code: bool = False, backend: str = "hf",
    log: Callable[[str], Any] = print, samples: int = 0, temperature: float = 0.6, top_p: float = 0.95,
    seed: int = 0, protocol: str = "unified", is_base: bool = False, system_prompt: str = "",
    judge: Any = None, load_dtype: str = "float32", shard: bool = True,
) -> dict[str, dict]:
    """Generate, write official results files and score each benchmark; returns {name: metrics}.

    Data folder of a benchmark: `data_paths[name]`, else `data_root / name`. `template`: a prompt
    template name or .txt path for all benchmarks, or {name: template} (default: the protocol's:
    our reasoning prompt under `unified`). `model_and_processor` skips loading `model_path`.
    `device` ("auto" = cuda when available, "cpu", "cuda[:N]"; None = leave the model where it
    loads) and `dtype` ("auto" = bf16 on a GPU with native bf16, else `load_dtype`; or a dtype
    name) place the loaded model (`seethink.eval.device`). `backend`: "hf" (batched HF
    generate), "vllm" (GPU, the `vllm` extra) or "auto" (vLLM when installed and a GPU is present).

    Greedy answers always; with `samples` > 0 also `samples` answers per item at `temperature` /
    `top_p` (seeded by `seed`), whose per-item fraction correct is `sampled_correct` and its mean
    `sampled_accuracy`. Every verdict is the official scorer's (`seethink.eval.bench_items`);
    `OUT/NAME/predictions.jsonl` holds one row per item in the toy predictions' schema.

    `protocol` "paper" (`seethink.eval.protocols`): the paper's splits (names such as
    MathVista_MINI), no system prompt when `is_base`, the reasoning instruction as system prompt
    otherwise (`system_prompt`, or ours), and `judge` (a `seethink.eval.judge.Judge`) for the LLM
    step of MathVista, MathVerse and HallusionBench.

    Under a multi-process launch (WORLD_SIZE > 1, `shard`) every process answers its share of
    the items (every WORLD_SIZE-th, from its rank) into its own rank file; the main process folds
    them into the responses files, scores and writes; the other processes return {}.
    """
    from seethink import dist
    from seethink.eval import protocols

    sets = _checked_sets(names, protocol, batch_size=batch_size, max_new_tokens=max_new_tokens, samples=samples,
                         temperature=temperature, judge=judge)
    out_root = Path(out_dir).expanduser()
    world, rank = (dist.world_size(), dist.rank()) if shard else (1, 0)
    # Items first, so a missing folder or missing images fail before a model is loaded.
    plans = benchmark_items(sets, data_root=data_root, data_paths=data_paths, split=split, limit=limit,
                            images_to=out_root)
    most = max((len(it.get("images") or []) for _, _, its in plans for it in its), default=1)
    gen = Generator(model_path, model_and_processor, backend=generation_backend(backend, model_and_processor, world),
                    device=device, dtype=dtype, load_dtype=load_dtype, trust_remote_code=trust_remote_code,
                    max_images=most, batch_size=batch_size, max_new_tokens=max_new_tokens, log=log)
    system = protocols.system_prompt(protocol, is_base, system_prompt)
    run = _Run(model_path, out_root, protocol, system, template, split, limit, max_new_tokens, batch_size,
               samples, temperature, top_p, seed, judge, world, rank, log)
    results = _evaluate_plans(run, gen, plans)
    gen.close()
    return results


def _checked_sets(names: list[str], protocol: str, *, batch_size: int, max_new_tokens: int, samples: int,
                  temperature: float, judge: Any) -> list[Any]:
    """The protocol's splits of `names`, once the settings are known to be usable: every refusal
    comes before any data or model loads."""
    from seethink.eval import protocols

    if not names:
        raise UserError("no benchmarks named")
    sets = [protocols.resolve(name, protocol) for name in names]
    if batch_size < 1 or max_new_tokens < 1:
        raise UserError("batch_size and max_new_tokens must be positive")
    if samples < 0:
        raise UserError(f"samples must be >= 0, got {samples}")
    if samples and not 0 < temperature:
        raise UserError(f"sampled answers need a temperature > 0, got {temperature}")
    if protocol == "paper" and judge is None:
        needing = protocols.needs_judge(list(names), protocol)
        if needing:
            raise UserError(f"protocol paper judges {', '.join(needing)} with an LLM: give a judge endpoint "
                            "(eval.judge_base_url, eval.judge_model)")
    return sets


def _evaluate_plans(run: _Run, gen: Generator, plans: list[tuple[Any, Path, list[dict]]]) -> dict[str, dict]:
    """{name: metrics} of each benchmark in the main process ({} in the others, which only answer
    their share); OUT/metrics.json gathers the metrics of every benchmark evaluated there."""
    all_path = run.out_root / "metrics.json"
    everything = _read_metrics(all_path) if run.main else {}
    results: dict[str, dict] = {}
    for st, ddir, items in plans:
        metrics = _evaluate_one(run, gen, st, ddir, items)
        if metrics is None:
            continue
        results[st.name] = everything[st.name] = metrics
        write_json(all_path, everything)
    return results


def _read_metrics(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}


def _evaluate_one(run: _Run, gen: Generator, st: Any, ddir: Path, items: list[dict]) -> dict | None:
    """Answer this process's share of one benchmark's items; the main process then scores them all."""
    from seethink import dist
    from seethink.eval import protocols

    bench_out = run.out_root / st.name
    bench_out.mkdir(parents=True, exist_ok=True)
    tmpl = _pick(run.template, st.name) or protocols.template(run.protocol)
    if run.main:
        reset_if_changed(bench_out, _run_key(run, tmpl), run.log)
    dist.barrier()
    _answer_items(run, gen, st.name, ddir, items[run.rank :: run.world], tmpl, bench_out)
    dist.barrier()
    if not run.main:
        return None
    return _score_answers(run, gen, st, ddir, items, tmpl, bench_out)


def _run_key(run: _Run, tmpl: str | None) -> dict:
    """The settings the answers are generated under, greedy and sampled (`bench_files.reset_if_changed`)."""
    model_id = str(Path(run.model_path).resolve()) if run.model_path is not None else None
    greedy: dict[str, Any] = {"model": model_id, "template": tmpl or "reasoning", "system": run.system,
                              "max_new_tokens": run.max_new_tokens}
    sampled = ({**greedy, "samples": run.samples, "temperature": run.temperature, "top_p": run.top_p,
                "seed": run.seed} if run.samples else None)
    return {"greedy": greedy, "sampled": sampled}


def _answer_items(run: _Run, gen: Generator, name: str, ddir: Path, mine: list[dict], tmpl: str | None,
                  bench_out: Path) -> None:
    """Generate the answers `mine` still lacks: the greedy pass, then the sampled one."""
    prompts = {it["id"]: render_prompt(it, tmpl) for it in mine}
    _answer_pass(run, gen, name, ddir, mine, prompts, "response", bench_out / "responses.jsonl")
    if run.samples:
        _answer_pass(run, gen, name, ddir, mine, prompts, "responses", bench_out / "sampled.jsonl")


def _answer_pass(run: _Run, gen: Generator, name: str, ddir: Path, mine: list[dict], prompts: dict[str, str],
                 field: str, path: Path) -> None:
    """One pass (`response`: a greedy answer; `responses`: the sampled answers) over the items
    without it yet, appended a chunk at a time to this process's file."""
    from tqdm.auto import tqdm

    n = 1 if field == "response" else run.samples
    target = path if run.world == 1 else rank_file(path, run.rank)
    done = read_all(path, field)
    if field == "responses":
        done = {k: v for k, v in done.items() if len(v) == run.samples}
    pending = [it for it in mine if it["id"] not in done]
    what = "answers" if n == 1 else f"x {n} sampled answers"
    process = f" (process {run.rank}/{run.world})" if run.world > 1 else ""
    run.log(f"[eval] {name}: {len(mine)} items {what} from {ddir}{process}, "
            f"{len(mine) - len(pending)} already in {path.name}")
    # Similar sizes in a chunk pad little: sort by image pixels, then prompt length.
    pending.sort(key=lambda it: (_image_size(it), len(prompts[it["id"]])), reverse=True)
    desc = f"eval {name}" + (f" ({n} samples)" if n > 1 else "")
    with tqdm(total=len(mine), initial=len(mine) - len(pending), desc=desc, disable=not run.main) as bar:
        for start in range(0, len(pending), run.batch_size):
            chunk = pending[start : start + run.batch_size]
            append_rows(target, _answer_chunk(run, gen, name, chunk, prompts, field))
            bar.update(len(chunk))


def _answer_chunk(run: _Run, gen: Generator, name: str, chunk: list[dict], prompts: dict[str, str],
                  field: str) -> list[dict]:
    """The responses rows of one chunk of items."""
    imgs = [[load_image(p, f"{name} item {it['id']}: ") for p in it.get("images") or []] for it in chunk]
    convs = [_conversation(prompts[it["id"]], run.system) for it in chunk]
    if field == "response":
        outs = gen(convs, imgs)
        return [{"id": it["id"], "response": o[0]} for it, o in zip(chunk, outs, strict=True)]
    outs = gen(convs, imgs, n=run.samples, temperature=run.temperature, top_p=run.top_p,
               seed=_chunk_seed(run.seed, chunk))
    return [{"id": it["id"], "responses": list(o)} for it, o in zip(chunk, outs, strict=True)]


def _conversation(prompt: str, system: str | None) -> list[dict]:
    user = {"role": "user", "content": prompt}
    return [{"role": "system", "content": system}, user] if system else [user]


def _score_answers(run: _Run, gen: Generator, st: Any, ddir: Path, items: list[dict], tmpl: str | None,
                   bench_out: Path) -> dict:
    """Main process: the official scores of the answers, with `predictions.jsonl` and
    `metrics.json` written beside them."""
    from seethink.eval import bench_items

    done, sampled_done = _gathered_answers(run, st.name, items, bench_out)
    responses = [done[it["id"]] for it in items]
    res_name = results_filename(st.benchmark)
    metrics, verdicts = bench_items.score(st.benchmark, items, responses, bench_out / res_name, ddir, run.judge)
    sampled = None
    if run.samples:
        sampled = bench_items.sampled_verdicts(st.benchmark, items, sampled_done, run.samples, bench_out / "samples",
                                               res_name, ddir, run.judge)
        metrics["sampled_accuracy"] = round(100.0 * sum(sampled.values()) / len(sampled), 2)
    processor = gen.processor
    write_jsonl(bench_out / "predictions.jsonl",
                bench_items.prediction_rows(st.name, items, responses, verdicts, processor, sampled))
    metrics["item_correct"] = sum(verdicts.values())
    metrics["lengths"] = length_stats(processor, responses, run.max_new_tokens)
    metrics["protocol"] = run.protocol
    metrics["run"] = _run_record(run, gen, st, ddir, items, tmpl, extra=len(set(done) - {it["id"] for it in items}))
    write_json(bench_out / "metrics.json", metrics)
    samp = f", sampled {metrics['sampled_accuracy']}%" if run.samples else ""
    run.log(f"[eval] {st.name}: accuracy {metrics['accuracy']}% ({metrics['correct']}/{metrics['total']}){samp}, "
            f"mean {metrics['lengths']['response_tokens']['mean']} tokens -> {bench_out / 'metrics.json'}")
    return metrics


def _gathered_answers(run: _Run, name: str, items: list[dict], bench_out: Path) -> tuple[dict, dict]:
    """Main process: every process's answers, folded into the responses files; each item must
    have its greedy answer (and its samples)."""
    done = fold(bench_out / "responses.jsonl", "response")
    sampled_done: dict[str, Any] = {}
    if run.samples:
        sampled_done = {k: v for k, v in fold(bench_out / "sampled.jsonl", "responses").items()
                        if len(v) == run.samples}
    lost = [it["id"] for it in items if it["id"] not in done or (run.samples and it["id"] not in sampled_done)]
    if lost:
        raise UserError(f"{name}: {len(lost)} items have no answers after generation (e.g. {lost[0]}); "
                        "re-run the same command to generate them")
    return done, sampled_done


def _run_record(run: _Run, gen: Generator, st: Any, ddir: Path, items: list[dict], tmpl: str | None,
                extra: int) -> dict:
    """What `metrics.json` records of how the answers were made (`run`)."""
    from seethink.eval import bench_items

    judged = run.judge is not None and bench_items.judge_step(st.benchmark)
    return {
        "model": str(run.model_path) if run.model_path is not None else None,
        "benchmark": st.benchmark,
        "data_dir": str(ddir),
        "split": run.split or st.split,
        "limit": run.limit,
        "items": len(items),
        "template": tmpl or "reasoning",
        "system_prompt": run.system,
        "judge": getattr(run.judge, "model", None) if judged else None,
        "max_new_tokens": run.max_new_tokens,
        "samples": run.samples,
        **({"temperature": run.temperature, "top_p": run.top_p, "seed": run.seed} if run.samples else {}),
        "processes": run.world,
        **gen.placed,
        "responses_file": str(run.out_root / st.name / "responses.jsonl"),
        "extra_responses": extra,
    }


__all__ = ["benchmark_items", "check_benchmarks", "evaluate_benchmarks", "length_stats", "rank_file", "read_responses", "read_rows", "results_filename",
           "select_items", "write_results"]
