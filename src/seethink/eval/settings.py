"""Checks of the `eval.*` settings beyond their types (called by `seethink.config.validate`).

Every message names its key, e.g. `config key 'eval.device': must be auto, cpu, cuda or cuda:N; got 'gpu'`.
"""

from __future__ import annotations

from typing import Any

from seethink.errors import UserError


def _fail(key: str, why: str) -> UserError:
    return UserError(f"config key 'eval.{key}': {why}")


def check_eval_spec(e: Any) -> None:
    _check_settings(e)
    _check_benchmarks(e)
    _check_during_training(e)
    _check_sources(e)


def _check_settings(e: Any) -> None:
    from seethink.eval.device import DEVICES, DTYPES
    from seethink.eval.protocols import PROTOCOLS
    from seethink.eval.vllm_engine import BACKENDS

    if e.toy is not None and not isinstance(e.toy, bool):
        raise _fail("toy", f"must be true, false or null (auto); got {e.toy!r}")
    if e.protocol not in PROTOCOLS:
        raise _fail("protocol", f"must be one of {', '.join(PROTOCOLS)}; got {e.protocol!r}")
    if not DEVICES.match(str(e.device)):
        raise _fail("device", f"must be auto, cpu, cuda or cuda:N; got {e.device!r}")
    if e.dtype not in DTYPES:
        raise _fail("dtype", f"must be one of {', '.join(DTYPES)}; got {e.dtype!r}")
    if e.backend not in BACKENDS:
        raise _fail("backend", f"must be one of {', '.join(BACKENDS)}; got {e.backend!r}")
    if isinstance(e.benchmark_limit, bool) or e.benchmark_limit < 0:
        raise _fail("benchmark_limit", f"must be >= 0 (0 = every item), got {e.benchmark_limit!r}")
    if e.benchmark_max_new_tokens < 1:
        raise _fail("benchmark_max_new_tokens", f"must be >= 1, got {e.benchmark_max_new_tokens}")


def _check_benchmarks(e: Any) -> None:
    from seethink.eval.protocols import resolve

    seen: set[str] = set()
    for i, name in enumerate(e.benchmarks):
        try:
            split = resolve(name, e.protocol)
        except UserError as exc:
            raise _fail(f"benchmarks.{i}", str(exc)) from None
        if split.name in seen:
            raise _fail(f"benchmarks.{i}", f"{name!r} is listed twice")
        seen.add(split.name)


def _check_during_training(e: Any) -> None:
    from seethink.eval.protocols import resolve

    d = e.during_training
    if isinstance(d.every, bool) or d.every < 0:
        raise _fail("during_training.every", f"must be >= 0 optimizer steps (0 = off), got {d.every!r}")
    if isinstance(d.limit, bool) or d.limit < 0:
        raise _fail("during_training.limit", f"must be >= 0 (0 = every item), got {d.limit!r}")
    for i, name in enumerate(d.benchmarks):
        try:
            resolve(name, e.protocol)
        except UserError as exc:
            raise _fail(f"during_training.benchmarks.{i}", str(exc)) from None
    if d.every and not (d.benchmarks or e.benchmarks):
        raise _fail("during_training.benchmarks", "validation during training needs benchmarks: set "
                    "eval.during_training.benchmarks (or eval.benchmarks)")


def _check_sources(e: Any) -> None:
    """Where benchmark items and (for judged benchmarks) the judge come from."""
    from seethink.eval.protocols import needs_judge

    d = e.during_training
    if (e.benchmarks or (d.every and d.benchmarks)) and not str(e.data_root).strip():
        raise _fail("data_root", "benchmarks are read from DATA_ROOT/NAME: give the folder holding one "
                    "sub-folder per benchmark (e.g. eval.data_root=../shared/benchmarks)")
    judged = needs_judge(list(e.benchmarks), e.protocol)
    if judged and not (str(e.judge_base_url).strip() and str(e.judge_model).strip()):
        key = "judge_base_url" if not str(e.judge_base_url).strip() else "judge_model"
        raise _fail(key, f"protocol paper judges {', '.join(judged)} with an LLM: set eval.judge_base_url "
                    "(an OpenAI-compatible endpoint) and eval.judge_model, or use protocol unified "
                    "(rule-based extraction)")
