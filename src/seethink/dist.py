"""Which process am I: rank helpers for runs started by `accelerate launch` / torchrun.

The launchers describe the job in environment variables (RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE), so these answers are right before any process group exists.
Only the main process (global rank 0) writes run files; the others train and wait.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def world_size() -> int:
    """Processes in the whole job (all nodes); 1 when not launched distributed."""
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """Global rank of this process (0 when not launched distributed)."""
    return _env_int("RANK", 0)


def local_world_size() -> int:
    """Processes of this job on this machine."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", world_size()))


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (a no-op in a single process).

    Joins the launcher's process group first if no trainer has done so yet, with the
    same device choice the trainers make (CPU when there is no GPU).
    """
    if world_size() <= 1:
        return
    import torch
    import torch.distributed as torch_dist

    if not torch_dist.is_initialized():
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())
    torch_dist.barrier()
