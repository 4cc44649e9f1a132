"""benchmarks/gpu_check.py on the CPU: the GPU check's code path at the tiny shape.

The script runs each part in its own process on a GPU; `--isolate yes` takes that path here too
(about 25 s on 2 busy cores). vLLM is skipped with its reason (no GPU); the evaluation part runs
on real MATH-Vision items when ../shared/benchmarks is beside the clone and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
MATHVISION = REPO.parent / "shared" / "benchmarks" / "mathvision" / "testmini.jsonl"


def _env() -> dict[str, str]:
    # The CPU path even on a machine with a GPU; threads as the suite pins them.
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "SEETHINK_THREADS": os.environ.get("SEETHINK_THREADS", "2")}


@pytest.mark.slow
def test_gpu_check_tiny_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    cmd = [sys.executable, str(SCRIPT), "--tiny", "--steps", "1", "--isolate", "yes", "--json", str(out),
           "--data-root", str(MATHVISION.parents[1])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=_env(), cwd=REPO)
    log = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, log
    rep = json.loads(out.read_text())
    res = rep["results"]
    assert rep["isolated"] is True and rep["settings"]["device"] == "cpu"

    build = res["build"]
    assert build["status"] == "ok" and build["shape"] == "tiny"
    assert 1e5 < build["params"] < 5e6 and build["vision_params"] > 0
    assert not Path(build["model_dir"]).exists()  # the temporary work dir is removed

    hf = res["hf"]
    assert hf["status"] == "ok", hf
    assert hf["stage_result"]["steps"] == 1 and len(hf["step_s"]) == 1
    assert hf["s_per_step"] > 0 and hf["tokens_per_s_per_gpu"] > 0 and hf["gen_tokens_per_s_per_gpu"] > 0
    # one generation per step: batch 2 x group 4 completions of at most 16 tokens
    assert 0 < hf["gen_tokens_per_step"][0] <= 2 * 4 * 16
    assert hf["checkpoint_saved"] and hf["save_s"] is not None and hf["init_s"] > 0
    assert hf["memory"]["peak_rss_gib"] > 0 and "peak_allocated_gib" not in hf["memory"]

    vllm = res["vllm"]
    assert vllm["status"] == "skipped" and "GPU" in vllm["reason"]
    hfgen = res["hfgen"]  # the same stage with rollouts by transformers' generate
    assert hfgen["status"] == "ok", hfgen
    assert hfgen["stage_result"]["steps"] == 1 and not hfgen["checkpoint_saved"]

    ev = res["eval"]
    if MATHVISION.is_file():
        assert ev["status"] == "ok", ev
        assert ev["items"] == 32 and ev["gen_tokens_per_s_per_gpu"] > 0
        # Counted from the generated ids: never more than the cap of new tokens per answer.
        assert ev["tokens_counted"] == "generated ids" and 0 < ev["mean_response_tokens"] <= 16
        assert ev["placed"] == {"device": "cpu", "dtype": "float32", "backend": "hf"}
    else:
        assert ev["status"] == "skipped" and "MATH-Vision" in ev["reason"]

    for text in ("=== seethink GPU check ===", "s/step", "tok/s/GPU", "peak memory", "grpo-hf-generate ok",
                 "grpo-vllm        skipped"):
        assert text in proc.stdout, (text, log)


def test_gpu_check_stops_a_part_at_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part still running at the time budget is stopped (its whole process group) and reported."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    settings = gc.resolve_settings(gc.parse_args(["--tiny"]), cuda=False)
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    t0 = time.perf_counter()
    res = gc._run_isolated("build", tmp_path, timeout=0.3)  # importing torch alone takes longer
    assert res["status"] == "timeout" and "budget" in res["reason"]
    assert time.perf_counter() - t0 < 20
    assert not (tmp_path / "result-build.json").exists()
