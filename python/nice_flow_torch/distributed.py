"""Process-group helpers: the same code runs alone or under torchrun (gloo on CPU, NCCL on GPUs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str = "auto") -> Dist:
    """Joins the process group torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT), if any, and
    picks this process's device: cuda:LOCAL_RANK when CUDA is there (and not --device cpu), else the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: CUDA is not available to this PyTorch")
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(rank, world, local_rank, dev)


def all_reduce_(t: torch.Tensor) -> torch.Tensor:
    """Sums t over the processes in place (a no-op alone); moves through the GPU when the backend is NCCL."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    if dist.get_backend() == "nccl" and t.device.type != "cuda":
        g = t.to("cuda")
        dist.all_reduce(g)
        t.copy_(g.cpu())
    else:
        dist.all_reduce(t)
    return t


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def read_shared(path: str) -> bytes:
    """A file's bytes on every process, read by rank 0 alone and broadcast: a checkpoint or model on rank 0's disk
    serves every machine. An error reading it is raised on every process (nobody waits for a broadcast forever)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        with open(path, "rb") as f:
            return f.read()
    box: list = [None]
    if dist.get_rank() == 0:
        try:
            with open(path, "rb") as f:
                box[0] = f.read()
        except OSError as e:
            box[0] = e
    dist.broadcast_object_list(box, src=0)
    if isinstance(box[0], OSError):
        raise box[0]
    return box[0]
