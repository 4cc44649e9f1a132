"""Where and in what precision evaluation runs: `eval.device`, `eval.dtype`, and moving the model.

* device `auto`: `cuda` when a GPU is visible (`cuda:LOCAL_RANK` under a multi-process launcher),
  else `cpu`; `cpu`, `cuda`, `cuda:N` as given (a CUDA device on a machine without one is an error).
* dtype `auto`: bfloat16 on a CUDA device that computes it natively (the trainer's own test,
  `seethink.hardware.native_bf16`), else the model's load dtype (`model.dtype`, float32
  by default). A CPU stays at the load dtype even where it has native bf16: casting the tiny
  toy models' weights to bf16 flips greedy answers, and every toy number in README was measured
  in float32. `eval.dtype=bfloat16` asks for bf16 anywhere.

`load_for_eval` loads a checkpoint in the chosen dtype and moves it to the chosen device.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from seethink.errors import UserError

DEVICES = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str = "auto") -> str:
    """The torch device string evaluation runs on."""
    import torch

    device = (device or "auto").strip()
    if not DEVICES.match(device):
        raise UserError(f"device must be auto, cpu, cuda or cuda:N; got {device!r}")
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        local = int(os.environ.get("LOCAL_RANK", "0") or 0)
        return f"cuda:{local}" if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 else "cuda"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r}: no CUDA GPU is visible on this machine; use cpu or auto")
    return device


def resolve_dtype(dtype: str = "auto", device: str = "cpu", load_dtype: str = "float32") -> str:
    """The weight dtype evaluation runs in (a name load_model takes)."""
    dtype = (dtype or "auto").strip()
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        from seethink.hardware import native_bf16

        return "bfloat16" if native_bf16() else load_dtype
    return load_dtype


def placement(device: str = "auto", dtype: str = "auto", load_dtype: str = "float32") -> tuple[str, str]:
    """(device, dtype) for settings that may say auto."""
    dev = resolve_device(device)
    return dev, resolve_dtype(dtype, dev, load_dtype)


def move(model: Any, device: str) -> Any:
    """The model on `device` (a no-op where it already is)."""
    current = next(iter(model.parameters())).device if hasattr(model, "parameters") else None
    if current is not None and str(current) == device:
        return model
    return model.to(device)


def load_for_eval(path: str | Path, *, device: str = "auto", dtype: str = "auto", load_dtype: str = "float32",
                  trust_remote_code: bool = False, log: Any = None) -> tuple[Any, Any, str, str]:
    """(model, processor, device, dtype): the checkpoint loaded in the chosen dtype, on the chosen
    device, in eval mode."""
    from seethink.models.load import load_model

    dev, dt = placement(device, dtype, load_dtype)
    model, processor = load_model(path, trust_remote_code=trust_remote_code, dtype=dt)
    model = move(model, dev)
    model.eval()
    if log is not None:
        log(f"[eval] {path}: {dt} on {dev}")
    return model, processor, dev, dt


__all__ = ["DTYPES", "load_for_eval", "move", "placement", "resolve_device", "resolve_dtype"]
