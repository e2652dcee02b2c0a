"""A small PyTorch DDP (gloo, CPU) training loop: each rank fits y = 3x + 2 on its own data
shard; gradients are averaged by DistributedDataParallel's all-reduce."""

import gc
import json
import os

import torch
import torch.distributed as dist

from scriptrun import Run

dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(rank)
x = torch.rand(256, 1) * 2 - 1
y = 3 * x + 2 + 0.05 * torch.randn_like(x)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
run = Run.get_context()
for _ in range(50):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    if rank == 0:
        run.log("loss", loss.item())
w, b = model.module.weight.item(), model.module.bias.item()
print(f"rank {rank}/{world} node {os.environ.get('NODE_RANK')} ray node {os.environ.get('SCRIPTRUN_NODE_ID', '')[:8]}: "
      f"w={w:.3f} b={b:.3f}", flush=True)
if rank == 0:
    with open("outputs/model.json", "w") as fh:
        json.dump({"w": w, "b": b, "world_size": world}, fh)
del model
gc.collect()
dist.barrier()
dist.destroy_process_group()
