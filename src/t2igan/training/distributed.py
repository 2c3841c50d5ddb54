"""Training in several processes: `torchrun --nproc_per_node N -m t2igan train ...`.

torchrun starts N copies of the command and tells each its rank through the environment (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR...). Every process builds the same networks from the same seed;
DistributedDataParallel averages the gradients of each backward pass across them, so the weights
stay equal. How the work is shared:

- `--batch-size` stays the global batch: every process draws the same batch indices, noise and
  captions from the same saved random generators and keeps its own 1/N slice, reading only those
  images (from the memory-mapped cache). N processes at batch B make the step one process makes at
  batch B, which is also why a run resumes with any number of processes.
- Rank 0 alone logs, samples, evaluates and writes checkpoints.
- Every step the processes agree whether to stop (a signal or the time budget seen by any of
  them), so SIGTERM to the group saves once, at the same step everywhere.

CUDA devices use the NCCL backend, one device per process (cuda:LOCAL_RANK); CPUs use gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from t2igan.errors import UserError

# rank 0 may evaluate thousands of samples while the others wait at the next collective
TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Does this process write the run's files?"""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def share(self, batch_size: int) -> slice:
        """This process's slice of a global batch."""
        per_rank = batch_size // self.world
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def wrap(self, network: nn.Module, device: torch.device) -> nn.Module:
        """`network` whose backward passes average gradients across processes (itself alone)."""
        if not self.active:
            return network
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=ids)

    def maximum(self, values: list[float], device: torch.device) -> list[float]:
        """Each value's maximum over the processes (the values themselves with one process)."""
        if not self.active:
            return [float(v) for v in values]
        tensor = torch.tensor([float(v) for v in values], device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tensor.tolist()

    def from_main(self, value: int, device: torch.device) -> int:
        """Rank 0's `value` in every process, so that all take the same measured choice."""
        if not self.active:
            return value
        tensor = torch.tensor([value], device=device)
        dist.broadcast(tensor, src=0)
        return int(tensor.item())

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """Each logged value averaged over the processes, as floats."""
        if not values:
            return {}
        stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
        if self.active:
            dist.all_reduce(stacked)
            stacked /= self.world
        return dict(zip(values, stacked.tolist()))


def join(device_name: str) -> tuple[Group, str]:
    """Join the process group torchrun set up (if any); returns the group and the device this
    process trains on (cuda:LOCAL_RANK for CUDA with several processes)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group(), device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device_name}: no CUDA device is available here")
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"{torch.cuda.device_count()} CUDA devices for "
                            f"{os.environ.get('LOCAL_WORLD_SIZE', world)} processes per machine: "
                            "start at most one process per device")
        device_name = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    return Group(rank, world), device_name


def leave(group: Group) -> None:
    if group.active and dist.is_initialized():
        dist.destroy_process_group()
