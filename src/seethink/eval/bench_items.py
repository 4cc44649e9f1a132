"""Per-item verdicts on real benchmarks, from the official scorers, as prediction rows.

The verdict of an item is the official scorer's own (`seethink.eval.benchmarks.judge_file`, the
function behind `seethink score`'s numbers), read off the results file written in the
benchmark's official format; the aggregate metrics are `score_file` on the same file, so the
in-run accuracy is exactly what `seethink score BENCHMARK RESULTS_FILE` prints.

Protocol paper adds the official LLM step for MathVista (extraction), MathVerse (extract and
match) and HallusionBench (yes/no reading) through a `seethink.eval.judge.Judge`: the judged
file (`judged_<results file>`) is written beside the results file and scored instead.

Sampled answers (n per item) are scored the same way, one results file per sample index
(`samples/J/<results file>`); an item's `sampled_correct` is its fraction of correct samples.

Prediction rows have the toy predictions' schema (`seethink.toyworld.evaluate`), so intervals,
`seethink compare` and the study's contrasts read them unchanged: `id` (namespaced
`bench:NAME:ITEM`, unique across benchmarks), `item_id`, `capability` (`bench:NAME`), `answer`,
`response`, `correct` (greedy), `sampled_correct` (with samples), `format`, `response_tokens`,
`think_tokens`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seethink.errors import UserError


def capability(name: str) -> str:
    return f"bench:{name}"


def judge_step(benchmark: str) -> Any:
    """The official pipeline's LLM step for a benchmark (None: it has none)."""
    from seethink.eval import judge as j

    return {"mathvista": j.judge_mathvista, "mathverse": j.judge_mathverse,
            "hallusionbench": j.judge_hallusionbench}.get(benchmark)


def scored_file(benchmark: str, items: list[dict], responses: Sequence[str], path: Path, data_dir: Path,
                judge: Any = None) -> Path:
    """Write the official results file (and, with a judge, its judged copy); the file to score."""
    from seethink.eval.bench_run import write_results

    path.parent.mkdir(parents=True, exist_ok=True)
    res = write_results(benchmark, items, list(responses), path)
    step = judge_step(benchmark) if judge is not None else None
    if step is None:
        return res
    judged = res.with_name(f"judged_{res.name}")
    step(res, judged, judge, data_dir=data_dir)
    return judged


def item_verdicts(benchmark: str, path: Path, data_dir: Path) -> dict[str, bool]:
    """{item id: correct} by the official scorer's per-row verdicts."""
    from seethink.eval.benchmarks import judge_file

    out: dict[str, bool] = {}
    for v in judge_file(benchmark, path, data_dir):
        out[str(v["id"])] = bool(v["correct"])
    return out


def score(benchmark: str, items: list[dict], responses: Sequence[str], path: Path, data_dir: Path,
          judge: Any = None) -> tuple[dict, dict[str, bool]]:
    """(official metrics, per-item verdicts) of one set of responses, one per item."""
    from seethink.eval.benchmarks import score_file

    scored = scored_file(benchmark, items, responses, path, data_dir, judge)
    metrics = score_file(benchmark, scored, data_dir)
    verdicts = item_verdicts(benchmark, scored, data_dir)
    missing = [it["id"] for it in items if str(it["id"]) not in verdicts]
    if missing:
        raise UserError(f"{benchmark}: the official scorer gave no verdict for item {missing[0]} "
                        f"(+{len(missing) - 1}) of {scored}")
    return metrics, verdicts


def sampled_verdicts(benchmark: str, items: list[dict], samples: dict[str, list[str]], n: int, folder: Path,
                     results_name: str, data_dir: Path, judge: Any = None) -> dict[str, float]:
    """{item id: fraction of its n samples the official scorer counts correct}."""
    hits = {str(it["id"]): 0 for it in items}
    for j in range(n):
        _, v = score(benchmark, items, [samples[str(it["id"])][j] for it in items], folder / str(j) / results_name,
                     data_dir, judge)
        for k in hits:
            hits[k] += v[k]
    return {k: c / n for k, c in hits.items()}


def prediction_rows(name: str, items: list[dict], responses: Sequence[str], verdicts: dict[str, bool],
                    processor: Any, sampled: dict[str, float] | None = None) -> list[dict]:
    from seethink.eval.bench_run import think_part
    from seethink.eval.engine import count_tokens
    from seethink.rewards.core import format_reward

    rows = []
    for it, resp in zip(items, responses, strict=True):
        iid = str(it["id"])
        think = think_part(resp)
        row: dict[str, Any] = {
            "id": f"{capability(name)}:{iid}",
            "item_id": iid,
            "capability": capability(name),
            "answer": it.get("answer"),
            "response": resp,
            "correct": verdicts[iid],
            "format": float(format_reward(resp)["format"]),
            "response_tokens": count_tokens(processor, resp),
            "think_tokens": count_tokens(processor, think) if think else 0,
        }
        if sampled is not None:
            row["sampled_correct"] = sampled[iid]
        rows.append(row)
    return rows


__all__ = ["capability", "item_verdicts", "prediction_rows", "sampled_verdicts", "score", "scored_file"]
