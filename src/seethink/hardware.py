"""What this machine computes natively, asked by training (`trainer.bf16` unset) and evaluation
(`eval.dtype: auto`) alike, so both settle on the same answer."""

from __future__ import annotations


def native_bf16() -> bool:
    """Whether this machine computes bf16 natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    try:  # oneDNN's own check of the CPU's bf16 instructions (a private but long-stable op)
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
