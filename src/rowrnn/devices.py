"""Where training runs: one device, or one rank of a torchrun job.

    get_device()                          # 'cuda', 'mps' or 'cpu', the course helper's order
    with distributed_context("auto") as place:
        place.device, place.rank, place.world_size, place.is_main
"""
from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from datetime import timedelta

import torch

from .errors import RowrnnError

DEVICES = ("auto", "cpu", "cuda", "mps")
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def get_device() -> str:
    """'cuda', 'mps' or 'cpu': the first one available, as the course helper picks."""
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    """A torch.device for a --device choice; under torchrun, CUDA ranks take their LOCAL_RANK's GPU.
    Raises RowrnnError for an unknown name, or cuda/mps where PyTorch sees no such GPU."""
    if name not in DEVICES:
        raise RowrnnError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)}")
    if name == "auto":
        name = get_device()
    if name == "cuda" and not torch.cuda.is_available():
        raise RowrnnError("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu (or auto)")
    if name == "mps" and not _mps_available():
        raise RowrnnError("--device mps: PyTorch sees no Apple GPU here; use --device cpu (or auto)")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", _env_int("LOCAL_RANK"))
    return torch.device(name)


def is_distributed() -> bool:
    """Whether this process is in a torch.distributed process group (a torchrun job)."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its device, and its rank in a job of world_size processes (0 of 1 alone)."""
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 prints and writes the run directory."""
        return self.rank == 0


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise RowrnnError(f"{name}={value!r} is not an integer: unset it, or launch with torchrun") from None


def launch_world_size() -> int:
    """The job size torchrun announced (1 without torchrun); refuses a half-set torchrun environment.

    RANK or WORLD_SIZE left in a shell without torchrun's MASTER_ADDR/MASTER_PORT would otherwise
    wait for peers that never come, or silence a single process that believes it is not rank 0.
    """
    present = [v for v in TORCHRUN_VARIABLES if v in os.environ]
    if not present:
        return 1
    world = _env_int("WORLD_SIZE") if "WORLD_SIZE" in os.environ else 1
    rank = _env_int("RANK") if "RANK" in os.environ else 0
    if world == 1 and rank == 0:
        return 1
    missing = [v for v in TORCHRUN_VARIABLES if v not in os.environ]
    if missing or not 0 <= rank < world:
        found = " ".join(f"{v}={os.environ[v]}" for v in present)
        raise RowrnnError(f"{found} is set, but this is not a torchrun launch (missing {' '.join(missing) or 'a valid RANK'}"
                          "): unset those variables, or start with `torchrun --nproc-per-node=N -m rowrnn train ...`")
    return world


def launch_rank() -> int:
    """This process's rank as torchrun announced it (0 without torchrun), checked like launch_world_size."""
    return _env_int("RANK") if launch_world_size() > 1 else 0


@contextlib.contextmanager
def distributed_context(device_name: str = "auto"):
    """Yield this process's Placement; under torchrun, join the process group (gloo on CPU, NCCL on GPU)."""
    world = launch_world_size()
    if world == 1 or is_distributed():
        device = resolve_device(device_name)
        yield (Placement(device, torch.distributed.get_rank(), torch.distributed.get_world_size())
               if is_distributed() else Placement(device))
        return
    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    timeout = timedelta(seconds=int(os.environ.get("ROWRNN_DIST_TIMEOUT", "300")))
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    try:
        yield Placement(device, torch.distributed.get_rank(), torch.distributed.get_world_size())
        # every rank leaves together: one that tore its group down while rank 0 still finished the run
        # (its test metrics, figures) aborted now and then ("terminate called without an active exception")
        # (a rank that failed instead is stopped by torchrun; the others would wait here at most `timeout`)
        torch.distributed.barrier()
    finally:
        gc.collect()  # DistributedDataParallel's reducer keeps the group alive through reference cycles
        torch.distributed.destroy_process_group()
