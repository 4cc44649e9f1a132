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
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seethink.data.loaders import rebase_images
from seethink.errors import UserError
from seethink.utils import read_jsonl, write_jsonl

ADDED = ("predictions", "correctness", "pass_rate")


def _read_finished(out: Path, k: int) -> dict[str, dict]:
    """Rows of an earlier run that are complete for this K; a torn last line is ignored."""
    done: dict[str, dict] = {}
    if not out.is_file():
        return done
    with open(out, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if (
                isinstance(row, dict)
                and "id" in row
                and isinstance(row.get("predictions"), list)
                and len(row["predictions"]) == k
                and isinstance(row.get("correctness"), list)
                and len(row["correctness"]) == k
                and "pass_rate" in row
            ):
                done[str(row["id"])] = row
    return done


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
    cell_px: int = 28,
    progress: bool = True,
) -> dict[str, Any]:
    """Annotate every row of `input_path` with predictions / correctness / pass_rate into `out`.

    `model`: a local HF model directory or "toy". `batch_size` counts prompts: one
    generate call holds batch_size x K sequences. Returns counts and the mean pass rate.
    """
    import torch
    from tqdm.auto import tqdm

    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.eval.engine import generate
    from seethink.rewards.core import build_reward

    if k < 1:
        raise UserError("--k must be >= 1")
    if k > 1 and temperature <= 0:
        raise UserError("--temperature must be > 0 when --k > 1 (greedy decoding gives K identical answers)")
    if batch_size < 1 or max_new_tokens < 1:
        raise UserError("--batch-size and --max-new-tokens must be >= 1")
    src = Path(input_path)
    out = Path(out)
    if src.resolve() == out.resolve():
        raise UserError("--out must differ from --input")
    rows = read_jsonl(src)
    _check_ids(rows, src)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _read_finished(out, k)
    reward = reward or build_reward()
    todo = [r for r in rows if str(r["id"]) not in done]

    results: dict[str, dict] = {rid: row for rid, row in done.items()}

    def save() -> None:
        write_jsonl(out, [results[str(r["id"])] for r in rows if str(r["id"]) in results])

    stats: dict[str, Any] = {"rows": len(rows), "reused": len(rows) - len(todo), "sampled": len(todo), "k": k}
    if todo:
        if model_and_processor is None:
            from seethink.models.load import load_model
            from seethink.models.resolve import resolve_model
            from seethink.utils import pin_threads

            pin_threads()
            m, processor = load_model(resolve_model(str(model)))
            if torch.cuda.is_available():
                m = m.to("cuda")
        else:
            m, processor = model_and_processor
        torch.manual_seed(seed)
        last = time.monotonic()
        with tqdm(total=len(rows), initial=len(rows) - len(todo), desc=f"pass@{k}",
                  disable=not progress) as bar:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                convs = [[{"role": "user", "content": render_prompt(r)}] for r in chunk]
                imgs = [item_images(r, src.parent, cell_px=cell_px) for r in chunk]
                outs = generate(
                    m, processor, convs, imgs, max_new_tokens=max_new_tokens, batch_size=len(chunk),
                    temperature=temperature, top_p=top_p, num_return_sequences=k,
                )
                for row, samples in zip(chunk, outs, strict=True):
                    new = rebase_images(row, src.parent, out.parent)
                    new.update(score_samples(samples, row, reward))
                    results[str(row["id"])] = new
                bar.update(len(chunk))
                if time.monotonic() - last >= save_every_s:
                    save()
                    last = time.monotonic()
    save()
    rates = [results[str(r["id"])]["pass_rate"] for r in rows]
    stats["mean_pass_rate"] = sum(rates) / len(rates) if rates else 0.0
    stats["solved"] = sum(1 for x in rates if x >= 1.0)
    stats["unsolved"] = sum(1 for x in rates if x <= 0.0)
    stats["output"] = str(out)
    return stats
