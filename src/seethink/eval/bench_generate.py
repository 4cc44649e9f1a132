"""Answers to benchmark prompts: the model (HF or vLLM) behind `seethink.eval.bench_run`.

`Generator` loads the model on first use, so an evaluation whose answers are all saved loads
none; HF generation goes through `seethink.eval.engine.generate` (batched, length-sorted).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.eval.engine import generate


def generation_backend(backend: str, model_and_processor: tuple[Any, Any] | None, world: int) -> str:
    """The generation backend: a model given in memory generates with HF; vLLM spreads a model
    over GPUs itself, so a multi-process launch generates with HF."""
    from seethink.eval.vllm_engine import choose_backend

    chosen = "hf" if model_and_processor is not None else choose_backend(backend)
    if chosen == "vllm" and world > 1:
        if backend == "vllm":
            raise UserError("--backend vllm: run the vLLM evaluation in one process (vLLM spreads a model over "
                            "GPUs itself); under a multi-process launch use backend hf")
        chosen = "hf"
    return chosen


class Generator:
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
