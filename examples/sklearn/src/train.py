"""Train a classifier on the registered tabular dataset `iris`; write the model to the
output `model` (uploaded and registered as a new dataset version when the run completes)."""

import argparse
import os
import pickle

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from scriptrun import Run

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="the dataset id (direct mode)")
parser.add_argument("--model-dir", required=True)
parser.add_argument("--C", type=float, default=1.0)
args = parser.parse_args()

run = Run.get_context()
frame = run.input_datasets["iris"].to_pandas_dataframe()
print(f"dataset {args.data}: {frame.shape[0]} rows, columns {list(frame.columns)}")
X, y = frame.drop(columns=["species"]), frame["species"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model = LogisticRegression(C=args.C, max_iter=500).fit(X_train, y_train)
accuracy = model.score(X_test, y_test)
run.log("accuracy", accuracy)
print(f"accuracy {accuracy:.3f}")

os.makedirs(args.model_dir, exist_ok=True)
with open(os.path.join(args.model_dir, "model.pkl"), "wb") as fh:
    pickle.dump(model, fh)
print("model written to", args.model_dir)
