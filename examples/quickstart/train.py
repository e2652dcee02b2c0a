"""Fit y = 3x + 2 with stochastic gradient descent — a tiny, dependency-free training script.

It reads its hyperparameters from the command line, logs the loss of every epoch with
``Run.get_context()`` (which also works outside scriptrun: it then just prints), and
saves the model to ./outputs, which scriptrun uploads with the run.
"""

import argparse
import json
import random

from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

run = Run.get_context()
rng = random.Random(args.seed)
data = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(200))]
w, b = 0.0, 0.0
for epoch in range(args.epochs):
    rng.shuffle(data)
    for x, y in data:
        err = (w * x + b) - y
        w -= args.lr * err * x
        b -= args.lr * err
    loss = sum(((w * x + b) - y) ** 2 for x, y in data) / len(data)
    run.log("loss", loss)
    print(f"epoch {epoch:3d}  loss {loss:.5f}  w {w:.3f}  b {b:.3f}")

run.log("final_w", w)
run.log("final_b", b)
with open("outputs/model.json", "w") as fh:
    json.dump({"w": w, "b": b}, fh)
