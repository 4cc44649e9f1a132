"""The vLLM back end of `seethink eval`, against a stand-in `vllm` module (no GPU here).

What is checked is our side of the contract: which back end is chosen, the LLM settings, the
prompts (rendered by the model's own processor, images as multi-modal data), sampling
parameters, and that outputs come back in input order into official results files.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval import vllm_engine
from seethink.eval.vllm_engine import VLLMEngine, choose_backend

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


class _Out:
    def __init__(self, text: str) -> None:
        self.text = text


class _Result:
    def __init__(self, texts: list[str]) -> None:
        self.outputs = [_Out(t) for t in texts]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> dict:
    seen: dict = {"requests": []}

    class SamplingParams:
        def __init__(self, **kw: object) -> None:
            self.kw = kw

    class LLM:
        def __init__(self, **kw: object) -> None:
            seen["llm"] = kw

        def generate(self, requests: list[dict], params: SamplingParams, use_tqdm: bool = True) -> list[_Result]:
            seen["requests"] += requests
            seen["params"] = params.kw
            n = int(params.kw["n"])  # type: ignore[call-overload]
            # Echo something that depends on the request, so order mistakes show.
            return [_Result([f"\\boxed{{{len(r['prompt'])}-{k}}}" for k in range(n)]) for r in requests]

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = LLM, SamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return seen


def test_backend_choice(monkeypatch: pytest.MonkeyPatch, fake_vllm: dict) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_backend("auto") == "hf"  # installed, but no GPU
    with pytest.raises(UserError, match="needs the `vllm` extra installed and a CUDA GPU"):
        choose_backend("vllm")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_backend("auto") == "vllm" and choose_backend("hf") == "hf"
    with pytest.raises(UserError, match="--backend must be one of"):
        choose_backend("tgi")


def test_engine_prompts_images_and_order(tiny_model_dir: Path, fake_vllm: dict) -> None:
    from PIL import Image

    from seethink.eval.engine import _with_placeholders
    from seethink.models.load import load_processor

    proc = load_processor(tiny_model_dir)
    eng = VLLMEngine(tiny_model_dir, proc, max_images=2, dtype="bfloat16")
    assert fake_vllm["llm"]["model"] == str(tiny_model_dir)
    assert fake_vllm["llm"]["limit_mm_per_prompt"] == {"image": 2} and fake_vllm["llm"]["trust_remote_code"] is False
    img = Image.new("RGB", (112, 112))
    convs = [[{"role": "user", "content": "short?"}], [{"role": "user", "content": "a longer question?"}],
             [{"role": "user", "content": "two images?"}]]
    outs = eng.generate(convs, [[img], [], [img, img]], max_new_tokens=7, temperature=0.6, top_p=0.9,
                        num_return_sequences=2, seed=3)
    reqs = fake_vllm["requests"]
    expected = proc.apply_chat_template(_with_placeholders(convs[0], 1), add_generation_prompt=True, tokenize=False)
    assert reqs[0]["prompt"] == expected and "<|image_pad|>" in expected
    assert reqs[0]["multi_modal_data"] == {"image": img}
    assert "multi_modal_data" not in reqs[1] and "<|image_pad|>" not in reqs[1]["prompt"]
    assert reqs[2]["multi_modal_data"]["image"] == [img, img]
    assert fake_vllm["params"] == {"n": 2, "temperature": 0.6, "top_p": 0.9, "max_tokens": 7, "seed": 3}
    assert outs == [[f"\\boxed{{{len(r['prompt'])}-{k}}}" for k in range(2)] for r in reqs]


def test_evaluate_benchmarks_on_vllm(tiny_model_dir: Path, tmp_path: Path, fake_vllm: dict,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if not (BENCH / "mathvision").is_dir():
        pytest.skip(f"real benchmark data not present: {BENCH / 'mathvision'}")
    from seethink.eval.bench_run import evaluate_benchmarks

    monkeypatch.setattr(vllm_engine, "vllm_available", lambda: True)
    res = evaluate_benchmarks(tiny_model_dir, ["mathvision"], data_root=BENCH, limit=5, out_dir=tmp_path,
                              batch_size=2, backend="auto", log=lambda *_: None)
    assert res["mathvision"]["total"] == 5
    assert len(fake_vllm["requests"]) == 5 and fake_vllm["params"]["temperature"] == 0.0
    rows = (tmp_path / "mathvision" / "responses.jsonl").read_text().splitlines()
    assert len(rows) == 5 and all("\\\\boxed{" in r for r in rows)
