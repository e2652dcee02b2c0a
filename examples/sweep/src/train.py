"""Fit y = 3x + 2 by gradient descent; --lr and --epochs are the hyperparameters a sweep varies.

The loss is logged once per epoch: each logging is one *interval* for the early-termination
policy, which may stop a trial whose loss falls too far behind the best trial's.
"""

import argparse
import json
import os
import random
import time

from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--epochs", type=int, default=8)
args = parser.parse_args()

run = Run.get_context()
rng = random.Random(0)
points = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(100))]
w = b = 0.0
for _ in range(args.epochs):
    for x, y in points:
        err = w * x + b - y
        w -= args.lr * err * x
        b -= args.lr * err
    run.log("loss", sum((w * x + b - y) ** 2 for x, y in points) / len(points))
    time.sleep(0.1)  # a little training time, so the policy sees trials side by side
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as fh:
    json.dump({"w": w, "b": b}, fh)
print(f"lr={args.lr:.4f} epochs={args.epochs} -> w={w:.3f} b={b:.3f}")
