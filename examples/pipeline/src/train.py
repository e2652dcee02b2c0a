"""Step 2: fit y = w x + b by gradient descent on the data the prep step wrote."""

import argparse
import json
import os

from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()

with open(os.path.join(args.data, "data.json")) as fh:
    points = json.load(fh)
run = Run.get_context()
w = b = 0.0
for _ in range(args.epochs):
    for x, y in points:
        err = w * x + b - y
        w -= args.lr * err * x
        b -= args.lr * err
    run.log("loss", sum((w * x + b - y) ** 2 for x, y in points) / len(points))
run.log("final_w", w)
run.log("final_b", b)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as fh:
    json.dump({"w": w, "b": b}, fh)
print(f"lr={args.lr} -> w={w:.3f} b={b:.3f}")
