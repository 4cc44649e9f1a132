"""Real benchmarks, read from their official local files and scored by their official rules.

    from seethink.eval.benchmarks import BENCHMARKS, load, score_file
    items = load("mathvision", "../shared/benchmarks/mathvision")           # testmini, with images
    metrics = score_file("mathvision", "../shared/benchmarks/mathvision/outputs/Gemini-Pro-CoT.jsonl")

Also registered: mathverse, realworldqa, mmstar, pope, aokvqa, hallusionbench, cvbench and
vlmeval_tsv (any VLMEvalKit multiple-choice TSV), read from their official files or their HF
parquet / `save_to_disk` releases (local paths only); their results files are JSONL rows with
`id` and `response` (see docs/benchmarks.md).

`score_file` takes a results file in the benchmark's official results format and returns
JSON-serialisable metrics: `correct`, `total`, `accuracy` (percent), `breakdown` (per category),
plus benchmark-specific fields (see each module and docs/benchmarks.md). `judge_file` gives the
per-row verdicts behind those numbers.
"""

from __future__ import annotations

from pathlib import Path

from seethink.errors import UserError
from seethink.registry import Registry

from . import (
    aokvqa,
    cvbench,
    hallusionbench,
    mathverse,
    mathvision,
    mathvista,
    mmstar,
    pope,
    realworldqa,
    vlmeval_tsv,
    wemath,
)
from ._common import Benchmark, find_data_dir
from ._formats import save_images

BENCHMARKS: Registry[Benchmark] = Registry("benchmark")
for _mod in (mathvision, mathvista, wemath, mathverse, realworldqa, mmstar, pope, aokvqa, hallusionbench,
             cvbench, vlmeval_tsv):
    BENCHMARKS.add(_mod.BENCHMARK.name, _mod.BENCHMARK)


def get_benchmark(name: str) -> Benchmark:
    """The registered Benchmark record (or a `file.py:NAME` one), else UserError."""
    bench = BENCHMARKS.get(name)
    if not isinstance(bench, Benchmark):
        raise UserError(f"benchmark {name!r} does not name a seethink Benchmark")
    return bench


def load(name: str, data_dir: str | Path, split: str | None = None) -> list[dict]:
    """Items with `id`, `question`, `options`, `answer`, `images` (absolute paths of the images
    present locally; empty when the release ships none) and the fields scoring needs. Images
    embedded in parquet / save_to_disk / TSV releases come as encoded bytes in `image_bytes`;
    `save_images(items, folder)` writes them out and fills `images`. `data_dir` may also be a
    single `.parquet` or `.tsv` file."""
    bench = get_benchmark(name)
    root = find_data_dir(Path(data_dir), data_dir, bench.markers, bench.name)
    if root is None:  # not reached: a folder that is given is found or refused
        raise UserError(f"{bench.name}: data folder not found: {data_dir}")
    return bench.load(root, split)


def rules(name: str) -> tuple[str, ...]:
    """The answer-reading rules a benchmark offers; the first is its default (the official or
    pinned field-standard evaluator's, see docs/benchmarks.md)."""
    return get_benchmark(name).rules


def _rule(bench: Benchmark, rule: str | None) -> str:
    if rule is None:
        return bench.rules[0]
    if rule not in bench.rules:
        raise UserError(
            f"{bench.name}: unknown rule {rule!r}; choose from {', '.join(bench.rules)}"
            f" (default {bench.rules[0]})"
        )
    return rule


def _run(bench: Benchmark, fn: str, results_path: str | Path, data_dir: str | Path | None, rule: str | None):  # noqa: ANN202
    path = Path(results_path).expanduser()
    chosen = _rule(bench, rule)
    if not path.is_file():
        raise UserError(f"{bench.name}: results file not found: {path}")
    root = find_data_dir(path, data_dir, bench.markers, bench.name, optional=bench.data_optional)
    call = bench.judge if fn == "judge" else bench.score
    out = call(path, root, rule=chosen) if len(bench.rules) > 1 else call(path, root)
    return path, chosen, out


def judge_file(
    name: str, results_path: str | Path, data_dir: str | Path | None = None, *, rule: str | None = None
) -> list[dict]:
    """Per-row verdicts (`id`, the extracted/normalised answer, `correct`, ...) in file order.
    `rule` picks one of `rules(name)` (default: the first, the official reading)."""
    return _run(get_benchmark(name), "judge", results_path, data_dir, rule)[2]


def score_file(
    name: str, results_path: str | Path, data_dir: str | Path | None = None, *, rule: str | None = None
) -> dict:
    """Re-score an official-format results file; `data_dir` defaults to the folder holding the
    benchmark's annotation file next to the results file (or one level up). `rule` picks one of
    `rules(name)` (default: the first, the official reading); the metrics name it in `rule`."""
    bench = get_benchmark(name)
    path, chosen, metrics = _run(bench, "score", results_path, data_dir, rule)
    metrics["rule"] = chosen
    metrics["results_file"] = str(path)
    return metrics


__all__ = ["BENCHMARKS", "Benchmark", "get_benchmark", "judge_file", "load", "rules", "save_images", "score_file"]
