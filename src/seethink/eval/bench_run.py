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
from seethink.eval.benchmarks import load, save_images
from seethink.eval.engine import count_tokens, generate
from seethink.utils import append_jsonl_rows, write_json, write_jsonl

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
    return read_rows(path, "response")


def _valid(row: Any, field: str) -> bool:
    value = row.get(field) if isinstance(row, dict) else None
    if field == "responses":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def read_rows(path: Path, field: str = "response") -> dict[str, Any]:
    """{id: row[field]} of a responses file (`response`: one greedy answer; `responses`: the
    sampled answers); a torn last line is cut off the file, a bad line elsewhere is an error."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    last = max((n for n, line in enumerate(lines) if line.strip()), default=-1)
    done: dict[str, Any] = {}
    keep = 0  # bytes of the file that hold whole rows
    for n, line in enumerate(lines):
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "id" not in row or not _valid(row, field):
                    raise ValueError(f"not an object with id and {field}")
            except ValueError as exc:
                if n == last:
                    break
                raise UserError(f"{path}, line {n + 1}: not a responses row ({exc}); delete that line") from None
            done[str(row["id"])] = row[field]
        keep += len(line) + 1
    fixed = raw[: min(keep, len(raw))]
    if fixed and not fixed.endswith(b"\n"):
        fixed += b"\n"
    if fixed != raw:
        path.write_bytes(fixed)
    return done


def _append_rows(path: Path, rows: list[dict]) -> None:
    # One write, rolled back if it fails (a full disk), so a resumed run never sees half a batch.
    append_jsonl_rows(path, rows, ensure_ascii=False)


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


# ------------------------------------------------------------------ sharing the items over processes


def rank_file(path: Path, rank: int) -> Path:
    """Where process `rank` of a multi-process evaluation appends its rows."""
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def _rank_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.stem}.rank*{path.suffix}"))


def _read_all(path: Path, field: str) -> dict[str, Any]:
    """Rows of the main file and of every rank file (a killed multi-process run leaves those)."""
    done: dict[str, Any] = {}
    for p in [*_rank_files(path), path]:
        done.update(read_rows(p, field))
    return done


def _fold(path: Path, field: str) -> dict[str, Any]:
    """Main process: append the rows of every rank file to the main file, then remove them."""
    done = read_rows(path, field)
    for p in _rank_files(path):
        rows = read_rows(p, field)
        new = [{"id": k, field: v} for k, v in rows.items() if k not in done]
        if new:
            _append_rows(path, new)
            done.update({r["id"]: r[field] for r in new})
        p.unlink(missing_ok=True)
    return done


def _reset_if_changed(bench_out: Path, key: dict, log: Callable[[str], Any]) -> None:
    """Main process: responses generated under other settings (model, prompt, lengths, sampling)
    are not reused. A folder written before keys existed is adopted as it is."""
    key_file = bench_out / "run_key.json"
    old: dict = {}
    if key_file.is_file():
        try:
            old = json.loads(key_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = {}
    for part, stem in (("greedy", "responses"), ("sampled", "sampled")):
        stale = list(bench_out.glob(f"{stem}*.jsonl")) if key_file.is_file() and old.get(part) != key.get(part) else []
        for p in stale:
            p.unlink()
        if stale:
            log(f"[eval] {bench_out.name}: {part} settings changed; generating its answers again")
    write_json(key_file, key)


# ------------------------------------------------------------------ main entry


def _pick(value: str | Mapping[str, str] | None, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get(name)


class _Generator:
    """The model (HF or vLLM), loaded on first use: a finished evaluation loads none."""

    def __init__(self, model_path: str | Path | None, model_and_processor: tuple[Any, Any] | None, *,
                 backend: str, device: str | None, dtype: str, load_dtype: str, trust_remote_code: bool,
                 max_images: int, batch_size: int, max_new_tokens: int, log: Callable[[str], Any]) -> None:
        self.model_path, self.given = model_path, model_and_processor
        self.backend, self.device, self.dtype, self.load_dtype = backend, device, dtype, load_dtype
        self.trust_remote_code, self.max_images = trust_remote_code, max_images
        self.batch_size, self.max_new_tokens, self.log = batch_size, max_new_tokens, log
        self.model: Any = None
        self.engine: Any = None
        self._processor: Any = model_and_processor[1] if model_and_processor is not None else None
        self.placed: dict[str, str] = {}

    @property
    def processor(self) -> Any:
        if self._processor is None:
            from seethink.models.load import load_processor

            if self.model_path is None:
                raise UserError("no model: give model_path")

            self._processor = load_processor(self.model_path, trust_remote_code=self.trust_remote_code)
        return self._processor

    def _load(self) -> None:
        if self.model is not None or self.engine is not None:
            return
        if self.given is not None:
            self.model = self.given[0]
            if self.device:
                from seethink.eval.device import move, resolve_device

                self.model = move(self.model, resolve_device(self.device))
            self.placed = {"device": str(next(iter(self.model.parameters())).device) if hasattr(
                self.model, "parameters") else "?", "dtype": "as given", "backend": "hf"}
            return
        if self.model_path is None:
            raise UserError("no model: give model_path")
        if self.backend == "vllm":
            from seethink.eval.vllm_engine import VLLMEngine

            self.engine = VLLMEngine(self.model_path, self.processor, max_images=self.max_images,
                                     trust_remote_code=self.trust_remote_code,
                                     dtype="auto" if self.dtype in ("auto", "float32") else self.dtype)
            self.placed = {"device": "cuda", "dtype": self.dtype, "backend": "vllm"}
            self.log(f"[eval] generating with vLLM ({self.model_path})")
            return
        from seethink.eval.device import load_for_eval, placement

        if self.device is None:  # the old contract: load in `dtype`, leave it where it loads
            from seethink.models.load import load_model

            dev, dt = "cpu", placement("cpu", self.dtype, self.load_dtype)[1]
            self.model, self._processor = load_model(self.model_path, trust_remote_code=self.trust_remote_code,
                                                     dtype=dt)
        else:
            self.model, self._processor, dev, dt = load_for_eval(
                self.model_path, device=self.device, dtype=self.dtype, load_dtype=self.load_dtype,
                trust_remote_code=self.trust_remote_code, log=self.log)
        self.placed = {"device": dev, "dtype": dt, "backend": "hf"}

    def close(self) -> None:
        """Free the model we loaded (a vLLM engine keeps its GPU memory until it is torn down)."""
        if self.given is not None or (self.model is None and self.engine is None):
            return
        self.model = self.engine = None
        import gc

        try:  # vLLM's own teardown, where this version has it (the next model builds a new engine)
            from vllm.distributed.parallel_state import destroy_model_parallel

            destroy_model_parallel()
        except Exception:  # noqa: BLE001 - not installed, or another layout: gc below still frees the HF model
            pass
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __call__(self, convs: list[list[dict]], imgs: list[list[Any]], *, n: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, seed: int = 0) -> list[list[str]]:
        self._load()
        if self.engine is not None:
            return self.engine.generate(convs, imgs, max_new_tokens=self.max_new_tokens, temperature=temperature,
                                        top_p=top_p, num_return_sequences=n, seed=seed if temperature > 0 else None)
        return generate(self.model, self.processor, convs, imgs, max_new_tokens=self.max_new_tokens,
                        batch_size=self.batch_size, temperature=temperature, top_p=top_p, num_return_sequences=n,
                        seed=seed)


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
    samples: int = 0,
    temperature: float = 0.6,
    top_p: float = 0.95,
    seed: int = 0,
    protocol: str = "unified",
    is_base: bool = False,
    system_prompt: str = "",
    judge: Any = None,
    load_dtype: str = "float32",
    shard: bool = True,
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
    from tqdm.auto import tqdm

    from seethink import dist
    from seethink.eval import bench_items, protocols

    if not names:
        raise UserError("no benchmarks named")
    sets = [protocols.resolve(name, protocol) for name in names]  # unknown names fail before the model loads
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
    out_root = Path(out_dir).expanduser()
    world, rank = (dist.world_size(), dist.rank()) if shard else (1, 0)
    main = rank == 0

    # Items first, so a missing folder or missing images fail before a model is loaded.
    plans = benchmark_items(sets, data_root=data_root, data_paths=data_paths, split=split, limit=limit,
                            images_to=out_root)

    from seethink.eval.vllm_engine import choose_backend

    chosen = "hf" if model_and_processor is not None else choose_backend(backend)
    if chosen == "vllm" and world > 1:
        if backend == "vllm":
            raise UserError("--backend vllm: run the vLLM evaluation in one process (vLLM spreads a model over "
                            "GPUs itself); under a multi-process launch use backend hf")
        chosen = "hf"
    most = max((len(it.get("images") or []) for _, _, its in plans for it in its), default=1)
    gen = _Generator(model_path, model_and_processor, backend=chosen, device=device, dtype=dtype,
                     load_dtype=load_dtype, trust_remote_code=trust_remote_code, max_images=most,
                     batch_size=batch_size, max_new_tokens=max_new_tokens, log=log)
    system = protocols.system_prompt(protocol, is_base, system_prompt)

    all_path = out_root / "metrics.json"
    everything: dict[str, dict] = {}
    if main and all_path.is_file():
        try:
            everything = json.loads(all_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            everything = {}
    results: dict[str, dict] = {}
    for st, ddir, items in plans:
        name = st.name
        bench_out = out_root / name
        bench_out.mkdir(parents=True, exist_ok=True)
        resp_path, samp_path = bench_out / "responses.jsonl", bench_out / "sampled.jsonl"
        tmpl = _pick(template, name) or protocols.template(protocol)
        model_id = str(Path(model_path).resolve()) if model_path is not None else None
        greedy_key: dict[str, Any] = {"model": model_id, "template": tmpl or "reasoning", "system": system,
                                      "max_new_tokens": max_new_tokens}
        sampled_key = ({**greedy_key, "samples": samples, "temperature": temperature, "top_p": top_p, "seed": seed}
                       if samples else None)
        key = {"greedy": greedy_key, "sampled": sampled_key}
        if main:
            _reset_if_changed(bench_out, key, log)
        dist.barrier()
        mine = items[rank::world]
        prompts = {it["id"]: render_prompt(it, tmpl) for it in mine}

        def conv(it: dict, prompts: dict = prompts) -> list[dict]:
            user = {"role": "user", "content": prompts[it["id"]]}
            return [{"role": "system", "content": system}, user] if system else [user]

        passes: list[tuple[str, Path, int]] = [("response", resp_path, 1)]
        if samples:
            passes.append(("responses", samp_path, samples))
        for field, path, n in passes:
            target = path if world == 1 else rank_file(path, rank)
            done = _read_all(path, field)
            if field == "responses":
                done = {k: v for k, v in done.items() if len(v) == samples}
            pending = [it for it in mine if it["id"] not in done]
            what = "answers" if n == 1 else f"x {n} sampled answers"
            log(f"[eval] {name}: {len(mine)} items {what} from {ddir}" + (f" (process {rank}/{world})" if world > 1 else "")
                + f", {len(mine) - len(pending)} already in {path.name}")
            # Similar sizes in a chunk pad little: sort by image pixels, then prompt length.
            pending.sort(key=lambda it: (_image_size(it), len(prompts[it["id"]])), reverse=True)
            with tqdm(total=len(mine), initial=len(mine) - len(pending), desc=f"eval {name}" + (
                    f" ({n} samples)" if n > 1 else ""), disable=not main) as bar:
                for start in range(0, len(pending), batch_size):
                    chunk = pending[start : start + batch_size]
                    imgs = [[load_image(p, f"{name} item {it['id']}: ") for p in it.get("images") or []]
                            for it in chunk]
                    if field == "response":
                        outs = gen([conv(it) for it in chunk], imgs)
                        rows = [{"id": it["id"], "response": o[0]} for it, o in zip(chunk, outs, strict=True)]
                    else:
                        outs = gen([conv(it) for it in chunk], imgs, n=n, temperature=temperature, top_p=top_p,
                                   seed=_chunk_seed(seed, chunk))
                        rows = [{"id": it["id"], "responses": list(o)} for it, o in zip(chunk, outs, strict=True)]
                    _append_rows(target, rows)
                    bar.update(len(chunk))
        dist.barrier()
        if not main:
            continue
        done = _fold(resp_path, "response")
        sampled_done = {k: v for k, v in _fold(samp_path, "responses").items() if len(v) == samples} if samples else {}
        lost = [it["id"] for it in items if it["id"] not in done or (samples and it["id"] not in sampled_done)]
        if lost:
            raise UserError(f"{name}: {len(lost)} items have no answers after generation (e.g. {lost[0]}); "
                            "re-run the same command to generate them")
        wanted = {it["id"] for it in items}
        responses = [done[it["id"]] for it in items]
        res_name = results_filename(st.benchmark)
        metrics, verdicts = bench_items.score(st.benchmark, items, responses, bench_out / res_name, ddir, judge)
        sampled = None
        if samples:
            sampled = bench_items.sampled_verdicts(st.benchmark, items, sampled_done, samples, bench_out / "samples",
                                                   res_name, ddir, judge)
            metrics["sampled_accuracy"] = round(100.0 * sum(sampled.values()) / len(sampled), 2)
        processor = gen.processor
        write_jsonl(bench_out / "predictions.jsonl",
                    bench_items.prediction_rows(name, items, responses, verdicts, processor, sampled))
        metrics["item_correct"] = sum(verdicts.values())
        metrics["lengths"] = length_stats(processor, responses, max_new_tokens)
        metrics["protocol"] = protocol
        metrics["run"] = {
            "model": str(model_path) if model_path is not None else None,
            "benchmark": st.benchmark,
            "data_dir": str(ddir),
            "split": split or st.split,
            "limit": limit,
            "items": len(items),
            "template": tmpl or "reasoning",
            "system_prompt": system,
            "judge": getattr(judge, "model", None) if judge is not None and bench_items.judge_step(st.benchmark) else None,
            "max_new_tokens": max_new_tokens,
            "samples": samples,
            **({"temperature": temperature, "top_p": top_p, "seed": seed} if samples else {}),
            "processes": world,
            **gen.placed,
            "responses_file": str(resp_path),
            "extra_responses": len(set(done) - wanted),
        }
        write_json(bench_out / "metrics.json", metrics)
        samp = f", sampled {metrics['sampled_accuracy']}%" if samples else ""
        log(f"[eval] {name}: accuracy {metrics['accuracy']}% ({metrics['correct']}/{metrics['total']}){samp}, "
            f"mean {metrics['lengths']['response_tokens']['mean']} tokens -> {bench_out / 'metrics.json'}")
        results[name] = metrics
        everything[name] = metrics
        write_json(all_path, everything)
    gen.close()
    return results


__all__ = ["benchmark_items", "check_benchmarks", "evaluate_benchmarks", "length_stats", "rank_file", "read_responses", "read_rows", "results_filename",
           "select_items", "write_results"]
