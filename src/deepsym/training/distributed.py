"""Data-parallel training under ``torchrun``: process group, sharded order, averaging.

Started by ``torchrun --nproc_per_node=N`` (or ``python -m torch.distributed.run``), each
process reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment and joins
the process group (nccl on CUDA, gloo on the CPU). Each step, the seeded order of the
epoch is cut into global batches of ``batch_size * world_size`` items and process
``rank`` takes items ``[rank * batch_size, (rank + 1) * batch_size)`` of each, so N
processes see exactly the items one process would see with N times the batch.

After each backward pass the gradients (and the loss) are averaged over the processes
in one flat all-reduce, before clipping and the optimizer step. Doing it in the trainer's
update rather than through a ``DistributedDataParallel`` wrapper keeps every trainer
working unchanged (several optimizers over parts of one model, steps that skip their
update, custom methods on the model), at the cost of not overlapping communication with
the backward pass. Every process draws the same random numbers (same seeds), so rank
0's checkpoint resumes all of them; only rank 0 writes logs and checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deepsym.errors import DeepsymError

if TYPE_CHECKING:
    import torch

SHUFFLE = 1  # the entropy word of an epoch's order, as deepsym.data.loaders.EpochSampler


@dataclass(frozen=True)
class Context:
    """This process's place: ``rank`` of ``world_size`` processes, ``local_rank`` on its
    machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes logs and checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def context_from_env() -> Context:
    """The context torchrun's environment variables describe (one process without them)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DeepsymError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (as torchrun "
                           "sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise DeepsymError(f"RANK {rank} is not in 0..WORLD_SIZE-1 ({world})")
    return Context(rank, world, local)


def start(context: Context, device: torch.device) -> None:
    """Join the process group (nccl for CUDA, gloo otherwise); nothing for one process."""
    if not context.distributed:
        return
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def stop(context: Context) -> None:
    """Leave the process group once every process is done."""
    if not context.distributed:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The seeded order of ``n`` items in ``epoch``: a permutation from ``(seed, epoch)``."""
    return np.random.default_rng((seed, epoch, SHUFFLE)).permutation(n)


def shard(order: np.ndarray, batch_size: int, context: Context) -> list[list[int]]:
    """This process's batches of one epoch's order: global batches of ``batch_size *
    world_size`` items (a partial last one is dropped), this rank's slice of each."""
    width = batch_size * context.world_size
    begin = context.rank * batch_size
    return [order[i + begin:i + begin + batch_size].tolist()
            for i in range(0, len(order) - width + 1, width)]


def average_gradients(grads: list[torch.Tensor], loss: torch.Tensor) -> torch.Tensor:
    """Replace ``grads`` by their mean over the processes (one flat all-reduce, the loss
    riding along) and return the mean loss."""
    import torch
    import torch.distributed as dist

    world = dist.get_world_size()
    flat = torch.cat([g.reshape(-1).float() for g in grads] + [loss.reshape(1).float()])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
    return flat[-1]


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over the processes (itself for one process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(values)
    return values


def broadcast_module(module: torch.nn.Module) -> None:
    """Give every process rank 0's parameters and buffers."""
    import torch.distributed as dist

    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def any_process(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process (for decisions all must share)."""
    import torch

    return bool(all_sum(torch.tensor([float(flag)], device=device)).item())


__all__ = ["Context", "all_sum", "any_process", "average_gradients", "broadcast_module",
           "context_from_env", "epoch_order", "shard", "start", "stop"]
