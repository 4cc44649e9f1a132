"""Device and dtype of evaluation without a GPU: what `auto` picks, and that the model is moved.

A GPU is simulated by patching `torch.cuda.is_available` and recording `nn.Module.to` calls to
a CUDA device (which then leave the model where it is, so generation still runs on the CPU).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seethink.errors import UserError
from seethink.eval import device as dev

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A visible 'GPU' without bf16; `.to(cuda...)` is recorded and leaves the model on the CPU."""
    import torch

    from seethink import hardware

    moved: list[str] = []
    real_to = torch.nn.Module.to

    def to(self, *args, **kw):  # noqa: ANN001, ANN202
        target = args[0] if args else kw.get("device")
        if target is not None and str(target).startswith("cuda"):
            moved.append(f"{type(self).__name__}->{target}")
            return self
        return real_to(self, *args, **kw)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "native_bf16", lambda: False)
    monkeypatch.setattr(torch.nn.Module, "to", to)
    return moved


def test_auto_on_a_cpu_only_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.placement("auto", "auto") == ("cpu", "float32")
    assert dev.placement("auto", "auto", load_dtype="bfloat16") == ("cpu", "bfloat16")  # model.dtype kept
    assert dev.placement("cpu", "bfloat16") == ("cpu", "bfloat16")  # asked for: given
    with pytest.raises(UserError, match="no CUDA GPU is visible"):
        dev.resolve_device("cuda")
    with pytest.raises(UserError, match="device must be"):
        dev.resolve_device("gpu")
    with pytest.raises(UserError, match="dtype must be"):
        dev.resolve_dtype("fp8")


def test_auto_with_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from seethink import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "native_bf16", lambda: True)
    assert dev.placement("auto", "auto") == ("cuda", "bfloat16")
    assert dev.placement("cpu", "auto") == ("cpu", "float32")  # explicit CPU: no bf16 cast
    assert dev.placement("cuda:1", "float16") == ("cuda:1", "float16")
    monkeypatch.setattr(hardware, "native_bf16", lambda: False)  # e.g. a V100: no native bf16
    assert dev.placement("auto", "auto") == ("cuda", "float32")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dev.resolve_device("auto") == "cuda:1"  # each launched process on its own GPU


def test_toy_evaluation_moves_the_model(tiny_model_dir: Path, tmp_path: Path, fake_gpu: list[str]) -> None:
    from seethink.config import load_recipe
    from seethink.data.plan import eval_items
    from seethink.eval.run import evaluate_checkpoint

    r = load_recipe(None, ["eval.items_per_capability=1", "eval.ablation=false", "eval.max_new_tokens=2",
                           "stages.1.tasks=[toy_text]"])
    items = eval_items(r)[:2]
    evaluate_checkpoint(tiny_model_dir, items, r, tmp_path / "e", log=lambda *_: None)
    assert fake_gpu == ["Qwen2VLForConditionalGeneration->cuda"]
    import json

    assert json.loads((tmp_path / "e" / "eval_key.json").read_text())["placement"] == ["cuda", "float32"]

    fake_gpu.clear()  # eval.device=cpu: stays, and the key is the old CPU key
    r.eval.device = "cpu"
    evaluate_checkpoint(tiny_model_dir, items, r, tmp_path / "c", log=lambda *_: None)
    assert fake_gpu == []
    assert "placement" not in json.loads((tmp_path / "c" / "eval_key.json").read_text())


def test_benchmark_evaluation_moves_the_model(tiny_model_dir: Path, tmp_path: Path, fake_gpu: list[str]) -> None:
    if not (BENCH / "mathvision").is_dir():
        pytest.skip(f"real benchmark data not present: {BENCH / 'mathvision'}")
    from seethink.eval.bench_run import evaluate_benchmarks

    res = evaluate_benchmarks(tiny_model_dir, ["mathvision"], data_root=BENCH, limit=1, out_dir=tmp_path,
                              max_new_tokens=2, device="auto", dtype="auto", log=lambda *_: None)
    assert fake_gpu == ["Qwen2VLForConditionalGeneration->cuda"]
    assert (res["mathvision"]["run"]["device"], res["mathvision"]["run"]["dtype"]) == ("cuda", "float32")


def test_passk_moves_the_model(tiny_model_dir: Path, tmp_path: Path, fake_gpu: list[str]) -> None:
    from seethink.data.export import write_toy_items
    from seethink.data.passk import pass_at_k

    src = write_toy_items("text", 1, "train", 0, tmp_path / "t.jsonl")
    stats = pass_at_k(tiny_model_dir, src, tmp_path / "o.jsonl", k=2, max_new_tokens=2, progress=False)
    assert fake_gpu == ["Qwen2VLForConditionalGeneration->cuda"]
    assert (stats["device"], stats["dtype"], stats["backend"]) == ("cuda", "float32", "hf")
    fake_gpu.clear()
    stats = pass_at_k(tiny_model_dir, src, tmp_path / "c.jsonl", k=2, max_new_tokens=2, progress=False,
                      device="cpu", dtype="bfloat16")
    assert fake_gpu == [] and (stats["device"], stats["dtype"]) == ("cpu", "bfloat16")


def test_on_the_meta_device_nothing_is_loaded_twice(tiny_model_dir: Path) -> None:
    """`move` leaves a model already on the device alone (no copy) and moves one that is not."""
    import torch

    m = torch.nn.Linear(2, 2)
    assert dev.move(m, "cpu") is m
    meta = dev.move(m, "meta")
    assert next(meta.parameters()).device.type == "meta"
