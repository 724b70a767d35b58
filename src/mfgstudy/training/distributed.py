"""Where a training run computes: its device, rank and world size (torchrun), and the
collective operations of data-parallel training."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from mfgstudy.training.checkpoint import Checkpointer

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Where a training run executes: its device, its rank among ``world`` processes, and its
    checkpointing (None: none)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world: int = 1
    ckpt: Checkpointer | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device: torch.device) -> Runtime:
        """The runtime of this process: single-process, or, under torchrun (WORLD_SIZE > 1),
        one rank of a process group (NCCL on ``cuda:LOCAL_RANK`` or gloo on the CPU)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device=torch.device(device))
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(device)
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        log.info("rank %d of %d on %s (%s)", rank, world, device, dist.get_backend())
        return cls(device=device, rank=rank, world=world)

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def default_runtime() -> Runtime:
    from mfgstudy.device import current

    return Runtime(device=current())


def rank_seed(seed: int, rank: int) -> int:
    """Seed of rank ``rank``'s loss-noise generator (independent streams per rank)."""
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1)[0])


def local_batch(batch_size: int, world: int) -> int:
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is the global batch and must divide by the number of "
            f"processes ({world}); choose a multiple of {world} or another number of GPUs"
        )
    return batch_size // world


def reduce_terms(run: Runtime, values: dict, stop: bool) -> tuple[dict, bool]:
    """Loss terms averaged over ranks and the stop flag or-ed over ranks (one all-reduce)."""
    if run.world == 1:
        return values, stop
    vec = torch.tensor([*values.values(), float(stop)], dtype=torch.float64, device=run.device)
    dist.all_reduce(vec)
    out = vec.cpu().tolist()
    return {k: v / run.world for k, v in zip(values, out[:-1], strict=True)}, out[-1] > 0


def average_gradients(net: torch.nn.Module, world: int) -> None:
    """Average the gradients over ranks (what DDP does), in one flat all-reduce."""
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= world
    for g, avg in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(avg)


def gather_states(run: Runtime, gen: torch.Generator) -> list[torch.Tensor]:
    """Every rank's state of ``gen`` (a collective: all ranks call it)."""
    if run.world == 1:
        return [gen.get_state()]
    states = [None] * run.world
    dist.all_gather_object(states, gen.get_state())
    return states


# --- the shared loop ------------------------------------------------------------------------
