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
`out_dir/metrics.json` holds {name: metrics} for every benchmark evaluated there.

Prompts are the unified reasoning prompt (`render_prompt`; a template per benchmark may be
given); generation is greedy, batched and length-sorted (`seethink.eval.engine.generate`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from seethink.data.images import check_image_file, load_image
from seethink.data.prompts import render_prompt
from seethink.errors import UserError
from seethink.eval.benchmarks import BENCHMARKS, load, save_images, score_file
from seethink.eval.engine import count_tokens, generate
from seethink.storage import disk_errors
from seethink.utils import write_json, write_jsonl

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
# Item fields that reference an image in the benchmark's own files (empty `images` beside one of
# these means the image is missing locally; items with none of them are text-only by design).
_IMAGE_REFS = ("image", "image_path", "image_id", "image_source")


def _modules() -> dict[str, ModuleType]:
    from seethink.eval.benchmarks import MODULES

    return MODULES


def results_filename(name: str) -> str:
    """The results file name `evaluate_benchmarks` writes for a benchmark."""
    return str(getattr(_modules().get(name), "RESULTS_FILE", "results.jsonl"))


def write_results(name: str, items: list[dict], responses: list[str], path: str | Path) -> Path:
    """Predictions in the benchmark's official results format: the module's own `write_results`
    where its format is special (MATH-V, MathVista, We-Math), else JSONL rows `id`, `response`."""
    writer = getattr(_modules().get(name), "write_results", None)
    if writer is not None:
        return Path(writer(items, responses, path))
    write_jsonl(path, [{"id": it["id"], "response": r} for it, r in zip(items, responses, strict=True)])
    return Path(path)


def select_items(name: str, items: list[dict], limit: int | None) -> list[dict]:
    """The first `limit` items (We-Math rounds up to whole problem groups, which scoring needs)."""
    if limit is None:
        return items
    if limit < 1:
        raise UserError(f"limit must be a positive number of items, got {limit}")
    select = getattr(_modules().get(name), "select_items", None)
    return list(select(items, limit)) if select is not None else items[:limit]


# ------------------------------------------------------------------ responses file (resume)


def read_responses(path: Path) -> dict[str, str]:
    """{id: response} from a responses file; a torn (unparsable or unterminated) last line, left by
    a killed run, is cut off the file. A bad line elsewhere is an error."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    last = max((n for n, line in enumerate(lines) if line.strip()), default=-1)
    done: dict[str, str] = {}
    keep = 0  # bytes of the file that hold whole rows
    for n, line in enumerate(lines):
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("response"), str):
                    raise ValueError("not an object with id and response")
            except ValueError as exc:
                if n == last:
                    break
                raise UserError(f"{path}, line {n + 1}: not a responses row ({exc}); delete that line") from None
            done[str(row["id"])] = row["response"]
        keep += len(line) + 1
    fixed = raw[: min(keep, len(raw))]
    if fixed and not fixed.endswith(b"\n"):
        fixed += b"\n"
    if fixed != raw:
        path.write_bytes(fixed)
    return done


def _append_rows(path: Path, rows: list[dict]) -> None:
    # A write cut short by a full disk leaves a torn last line, which `read_responses` drops.
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            fh.flush()


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


def evaluate_benchmarks(
    model_path: str | Path | None,
    names: list[str],
    *,
    data_root: Path | None,
    data_paths: Mapping[str, Path] | None = None,
    limit: int | None = None,
    out_dir: Path,
    max_new_tokens: int = 512,
    batch_size: int = 16,
    template: str | Mapping[str, str] | None = None,
    split: str | None = None,
    model_and_processor: tuple[Any, Any] | None = None,
    dtype: str = "float32",
    device: str | None = None,
    trust_remote_code: bool = False,
    backend: str = "hf",
    log: Callable[[str], Any] = print,
) -> dict[str, dict]:
    """Generate, write official results files and score each benchmark; returns {name: metrics}.

    Data folder of a benchmark: `data_paths[name]`, else `data_root / name`. `template`: a prompt
    template name or .txt path for all benchmarks, or {name: template} (default: the unified
    reasoning prompt). `model_and_processor` skips loading `model_path`. `device` ("cuda", "cpu",
    "auto" = cuda when available) moves the loaded model; `dtype` as in `load_model`.
    `backend`: "hf" (batched HF generate), "vllm" (GPU, the `vllm` extra) or "auto" (vLLM when
    it is installed and a GPU is present).
    """
    from tqdm.auto import tqdm

    if not names:
        raise UserError("no benchmarks named")
    for name in names:
        BENCHMARKS.get(name)  # unknown names fail before the model loads
    if batch_size < 1 or max_new_tokens < 1:
        raise UserError("batch_size and max_new_tokens must be positive")
    out_root = Path(out_dir).expanduser()

    # Items first, so a missing folder or missing images fail before a model is loaded.
    plans: list[tuple[str, Path, list[dict]]] = []
    for name in names:
        if data_paths and name in data_paths:
            ddir = Path(data_paths[name]).expanduser()
        elif data_root is not None:
            ddir = Path(data_root).expanduser() / name
        else:
            raise UserError(f"{name}: no data folder: give data_root (DIR/{name}) or a path for {name}")
        items = select_items(name, load(name, ddir, split), limit)
        if any(it.get("image_bytes") for it in items):
            save_images(items, out_root / name / "images")
        _check_images(name, items, ddir)
        _verify_images(name, items)
        plans.append((name, ddir, items))

    from seethink.eval.vllm_engine import VLLMEngine, choose_backend

    engine: VLLMEngine | None = None
    if model_and_processor is None and choose_backend(backend) == "vllm":
        if model_path is None:
            raise UserError("no model: give model_path")
        from seethink.models.load import load_processor

        processor = load_processor(model_path, trust_remote_code=trust_remote_code)
        most = max((len(it.get("images") or []) for _, _, its in plans for it in its), default=1)
        engine = VLLMEngine(model_path, processor, max_images=most, trust_remote_code=trust_remote_code,
                            dtype="auto" if dtype == "float32" else dtype)
        model = None
        log(f"[eval] generating with vLLM ({model_path})")
    elif model_and_processor is not None:
        model, processor = model_and_processor
    else:
        if model_path is None:
            raise UserError("no model: give model_path")
        from seethink.models.load import load_model

        model, processor = load_model(model_path, trust_remote_code=trust_remote_code, dtype=dtype)
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device:
            model = model.to(device)

    all_path = out_root / "metrics.json"
    everything: dict[str, dict] = {}
    if all_path.is_file():
        try:
            everything = json.loads(all_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            everything = {}
    results: dict[str, dict] = {}
    for name, ddir, items in plans:
        bench_out = out_root / name
        bench_out.mkdir(parents=True, exist_ok=True)
        resp_path = bench_out / "responses.jsonl"
        tmpl = _pick(template, name)
        done = read_responses(resp_path)
        wanted = {it["id"] for it in items}
        pending = [it for it in items if it["id"] not in done]
        log(f"[eval] {name}: {len(items)} items from {ddir}, {len(items) - len(pending)} already in {resp_path}")
        # Similar sizes in a chunk pad little: sort by image pixels, then prompt length.
        prompts = {it["id"]: render_prompt(it, tmpl) for it in pending}
        pending.sort(key=lambda it: (_image_size(it), len(prompts[it["id"]])), reverse=True)
        with tqdm(total=len(items), initial=len(items) - len(pending), desc=f"eval {name}") as bar:
            for start in range(0, len(pending), batch_size):
                chunk = pending[start : start + batch_size]
                convs = [[{"role": "user", "content": prompts[it["id"]]}] for it in chunk]
                imgs = [[load_image(p, f"{name} item {it['id']}: ") for p in it.get("images") or []]
                        for it in chunk]
                if engine is not None:
                    outs = engine.generate(convs, imgs, max_new_tokens=max_new_tokens, temperature=0.0)
                else:
                    outs = generate(model, processor, convs, imgs, max_new_tokens=max_new_tokens,
                                    batch_size=batch_size, temperature=0.0)
                rows = [{"id": it["id"], "response": o[0]} for it, o in zip(chunk, outs, strict=True)]
                _append_rows(resp_path, rows)
                done.update({r["id"]: r["response"] for r in rows})
                bar.update(len(chunk))
        responses = [done[it["id"]] for it in items]
        res_path = write_results(name, items, responses, bench_out / results_filename(name))
        metrics = score_file(name, res_path, ddir)
        metrics["lengths"] = length_stats(processor, responses, max_new_tokens)
        metrics["run"] = {
            "model": str(model_path) if model_path is not None else None,
            "data_dir": str(ddir),
            "split": split,
            "limit": limit,
            "items": len(items),
            "template": tmpl or "reasoning",
            "max_new_tokens": max_new_tokens,
            "responses_file": str(resp_path),
            "extra_responses": len(set(done) - wanted),
        }
        write_json(bench_out / "metrics.json", metrics)
        log(f"[eval] {name}: accuracy {metrics['accuracy']}% ({metrics['correct']}/{metrics['total']}), "
            f"mean {metrics['lengths']['response_tokens']['mean']} tokens -> {bench_out / 'metrics.json'}")
        results[name] = metrics
        everything[name] = metrics
        write_json(all_path, everything)
    return results


__all__ = ["evaluate_benchmarks", "length_stats", "read_responses", "results_filename", "select_items",
           "write_results"]
