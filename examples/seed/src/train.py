"""Data-parallel SGD with MPI: every rank fits y = 3x + 2 on its own shard of the `cifar10`
input, and the ranks average their parameters after each epoch with an MPI allreduce. Runs
single-process too (without mpirun, mpi4py or the input: it then makes up its points), so the
same script works on a laptop."""

import argparse
import csv
import json
import os
import random
import tempfile

from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--num_epochs", type=int, default=30)
parser.add_argument("--lr", type=float, default=0.05)
args = parser.parse_args()

try:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
except ImportError:
    comm, rank, size = None, 0, 1

run = Run.get_context()
dataset = getattr(run, "input_datasets", {}).get("cifar10")  # direct mode: the dataset itself
if dataset is not None:
    points = []
    for path in dataset.download(tempfile.mkdtemp()):
        with open(path) as fh:
            points += [(float(row["x"]), float(row["y"])) for row in csv.DictReader(fh)]
else:
    rng = random.Random(0)
    points = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(200))]
shard = points[rank::size]
w = b = 0.0
for _ in range(args.num_epochs):
    for x, y in shard:
        err = (w * x + b) - y
        w, b = w - args.lr * err * x, b - args.lr * err
    if comm is not None:
        w, b = comm.allreduce(w) / size, comm.allreduce(b) / size
    loss = sum(((w * x + b) - y) ** 2 for x, y in shard) / len(shard)
    if rank == 0:
        run.log("loss", loss)
print(f"rank {rank}/{size} on node {os.environ.get('OMPI_COMM_WORLD_NODE_RANK', '0')}: "
      f"{len(shard)} points of {'cifar10' if dataset is not None else 'made-up data'}, w={w:.3f} b={b:.3f}")
if rank == 0:
    run.log("ranks", size)
    with open("outputs/model.json", "w") as fh:
        json.dump({"w": w, "b": b, "ranks": size}, fh)
