# A training script in v1 style: logs through Run.get_context(), writes ./outputs.
import argparse
import os

from azureml.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--learning-rate", type=float, default=0.1)
args = parser.parse_args()

run = Run.get_context()
loss = 1.0
for _ in range(args.epochs):
    loss *= 1 - args.learning_rate
    run.log("loss", loss)
run.log("final_loss", loss)
os.makedirs("outputs", exist_ok=True)
with open(os.path.join("outputs", "model.txt"), "w") as f:
    f.write(f"loss={loss}\n")
print("done", args.epochs, "epochs")
