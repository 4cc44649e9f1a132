"""Benchmark generation on vLLM (optional extra `vllm`, GPU machines).

The same contract as `seethink.eval.engine.generate`: for each conversation, `n` decoded
completions, in input order. Prompts are rendered with the model's own processor (chat
template with image placeholders), and images travel as vLLM multi-modal data, so the text
the model sees is the text the HF back end would feed it. vLLM batches and schedules itself;
our chunks only set how often finished responses are saved for resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seethink.errors import UserError

BACKENDS = ("auto", "hf", "vllm")


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(backend: str) -> str:
    """`auto` means vLLM when it is installed and a GPU is present, else the HF engine."""
    if backend not in BACKENDS:
        raise UserError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "vllm" if vllm_available() else "hf"
    if backend == "vllm" and not vllm_available():
        raise UserError("--backend vllm needs the `vllm` extra installed and a CUDA GPU "
                        "(pip install 'seethink[vllm]'); use --backend hf on this machine")
    return backend


class VLLMEngine:
    """A vLLM `LLM` over a local model directory, with our prompt rendering."""

    def __init__(self, model_path: str | Path, processor: Any, *, max_images: int = 1, dtype: str = "auto",
                 trust_remote_code: bool = False, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, tensor_parallel_size: int = 1) -> None:
        from vllm import LLM

        self.processor = processor
        kwargs: dict[str, Any] = {
            "model": str(model_path),
            "dtype": dtype,
            "trust_remote_code": trust_remote_code,
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "limit_mm_per_prompt": {"image": max(1, max_images)},
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)

    def render(self, conv: list[dict], n_images: int) -> str:
        from seethink.eval.engine import _with_placeholders

        msgs = _with_placeholders(conv, n_images)
        return str(self.processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))

    def generate(self, conversations: Sequence[list[dict]], images: Sequence[list[Any]], *,
                 max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 num_return_sequences: int = 1, seed: int | None = None) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(n=num_return_sequences, temperature=max(0.0, temperature),
                                top_p=top_p if temperature > 0 else 1.0, max_tokens=max_new_tokens, seed=seed)
        requests: list[dict[str, Any]] = []
        for conv, imgs in zip(conversations, images, strict=True):
            req: dict[str, Any] = {"prompt": self.render(conv, len(imgs))}
            if imgs:
                req["multi_modal_data"] = {"image": imgs[0] if len(imgs) == 1 else list(imgs)}
            requests.append(req)
        outs = self.llm.generate(requests, params, use_tqdm=False)
        if len(outs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outs)} results for {len(requests)} prompts")
        return [[c.text for c in o.outputs] for o in outs]
