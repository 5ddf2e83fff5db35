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

The update minimizes the mean over the processes of the losses they return. That is
the one-process loss on the combined batch when the loss is a mean over items and the
slices are equal; other steps follow three rules to stay exact (the Trainer methods
``local_rows``, ``global_sum`` and ``global_mean`` wrap the functions here):

- Draws per item (a GAN's noise): draw for the global batch and keep this rank's rows,
  ``local_rows(torch.rand(batch * world_size, ..., generator=rng))``; drawing for the
  local batch would give every process the same fakes. Where the processes hold
  different numbers of rows (the items a step kept), ``row_offset`` says which rows of
  the global draw are this process's (``Trainer.draw_rows``).
- Batch statistics (feature matching's mean features, a masked mean whose count of real
  steps differs between processes): compute them from ``global_sum``, whose backward
  pass sums the gradient over the processes. A loss ``F(global_sum(s) / global_sum(n))``
  is then the same on every process and ``average_gradients`` (dividing by
  ``world_size`` what the all-reduces summed ``world_size`` times) gives exactly its
  one-process gradient.
- Decisions (a step returning no loss to skip its update): decide from global values so
  every process decides alike; the trainer checks that they agree before the gradient
  all-reduce and raises a DeepsymError where they do not (rather than deadlocking).
"""
from __future__ import annotations

import functools
import gc
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        # a process group still referenced (from a reference cycle, say) is destroyed at
        # the interpreter's teardown, where gloo's threads can abort the process ("terminate
        # called without an active exception"): in 1 of 6 two-process runs on a loaded
        # machine, none of 8 with this collection
        gc.collect()


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


def global_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the processes, differentiably: the gradient of each process's
    input is the sum of the gradients of every process's output (``tensor`` itself for
    one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    return _global_sum_function().apply(tensor)


@functools.cache
def _global_sum_function() -> type[torch.autograd.Function]:
    """The autograd function of ``global_sum`` (defined lazily: torch is imported lazily)."""
    import torch
    import torch.distributed as dist

    class GlobalSum(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
            total = tensor.clone(memory_format=torch.contiguous_format)
            dist.all_reduce(total)
            return total

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            total = grad.clone(memory_format=torch.contiguous_format)
            dist.all_reduce(total)
            return total

    return GlobalSum


def local_rows(tensor: torch.Tensor, context: Context) -> torch.Tensor:
    """This rank's rows of ``tensor``, drawn for the global batch (first dimension
    ``batch_size * world_size``): rows ``[rank * batch_size, (rank + 1) * batch_size)``,
    the items ``shard`` gives this rank."""
    rows = tensor.shape[0] if tensor.dim() else None
    if rows is None or rows % context.world_size:
        raise DeepsymError(f"local_rows: the first dimension ({rows}) is not a multiple of "
                           f"the {context.world_size} processes; draw batch_size * "
                           "world_size rows")
    if not context.distributed:
        return tensor
    size = rows // context.world_size
    return tensor[context.rank * size:(context.rank + 1) * size]


def row_offset(rows: int, context: Context, device: torch.device) -> tuple[int, int]:
    """Where this process's ``rows`` rows begin in the global batch, and how many rows it
    has, when the processes hold different numbers of them (the items a step kept): the
    rows of lower ranks first, as one process holds the combined batch's. ``(0, rows)``
    for one process."""
    if not context.distributed:
        return 0, rows
    import torch
    import torch.distributed as dist

    counts = [torch.zeros(1, dtype=torch.int64, device=device)
              for _ in range(context.world_size)]
    dist.all_gather(counts, torch.tensor([rows], dtype=torch.int64, device=device))
    sizes = [int(count.item()) for count in counts]
    return sum(sizes[:context.rank]), sum(sizes)


def global_rows(tensor: torch.Tensor, context: Context) -> torch.Tensor:
    """The global batch's rows: every process's ``tensor`` (the same shape on each) in rank
    order, the inverse of ``local_rows``; not differentiable (for statistics a model
    keeps, say), ``tensor`` itself for one process."""
    if not context.distributed:
        return tensor
    import torch
    import torch.distributed as dist

    parts = [torch.empty_like(tensor) for _ in range(context.world_size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


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
           "context_from_env", "epoch_order", "global_rows", "global_sum", "local_rows",
           "row_offset", "shard", "start", "stop"]
