"""A small registered dataset standing in for the seed's `cifar10`: noisy points of y = 3x + 2."""

import csv
import random
import tempfile
from pathlib import Path

from scriptrun import Dataset, Datastore, Workspace


def cifar10(ws: Workspace):
    """Upload the points to the default datastore and register them (same bytes, same version)."""
    store = Datastore.get_default(ws)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        with open(Path(tmp) / "points.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["x", "y"])
            for _ in range(200):
                x = rng.uniform(-1, 1)
                writer.writerow([round(x, 4), round(3 * x + 2 + rng.gauss(0, 0.1), 4)])
        store.upload(tmp, target_path="cifar10", overwrite=True, show_progress=False)
    return Dataset.File.from_files((store, "cifar10")).register(ws, "cifar10", create_new_version=True)
