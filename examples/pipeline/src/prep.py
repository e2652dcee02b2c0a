"""Step 1: make a small synthetic data set (y = 3x + 2 plus noise) and write it to --out."""

import argparse
import json
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--rows", type=int, default=200)
args = parser.parse_args()

rng = random.Random(0)
points = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(args.rows))]
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "data.json"), "w") as fh:
    json.dump(points, fh)
print(f"wrote {len(points)} rows to {args.out}")
