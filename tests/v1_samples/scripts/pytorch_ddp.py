# Distributed PyTorch (Gloo): every rank all-reduces its rank; rank 0 logs the sum.
import os

import torch
import torch.distributed as dist
from azureml.core.run import Run

dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()
value = torch.tensor([float(rank)])
dist.all_reduce(value)
if rank == 0:
    Run.get_context().log("rank_sum", value.item())
    Run.get_context().log("world_size", world)
print(f"rank {rank}/{world} local {os.environ['LOCAL_RANK']}: sum {value.item()}")
dist.destroy_process_group()
