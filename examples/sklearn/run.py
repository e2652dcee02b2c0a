"""End-to-end example: a scikit-learn model trained in a built (uv, cached) environment on a
registered tabular dataset; the model is written to an output that is uploaded to the default
datastore and registered as a new version of the dataset `iris-model` when the run completes.

    .venv/bin/python examples/sklearn/run.py

The first run builds the environment (scikit-learn + pandas, ~10-60 s depending on the uv
cache); later runs reuse it from `.scriptrun/envs/<hash>/`.
"""

import csv
import math
import random
import tempfile
from pathlib import Path

from scriptrun import (
    Dataset,
    Datastore,
    Environment,
    Experiment,
    OutputFileDatasetConfig,
    ScriptRunConfig,
    Workspace,
)

HERE = Path(__file__).resolve().parent


def make_iris_like_csv(folder: Path) -> Path:
    """Three separable classes of 4-feature flowers (stdlib only, deterministic)."""
    rng = random.Random(0)
    path = folder / "iris.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
        for label, centre in enumerate([(5.0, 3.4, 1.5, 0.2), (5.9, 2.8, 4.3, 1.3), (6.6, 3.0, 5.6, 2.0)]):
            for _ in range(50):
                writer.writerow([round(c + rng.gauss(0, 0.3 + 0.05 * math.sqrt(label)), 2) for c in centre]
                                + [["setosa", "versicolor", "virginica"][label]])
    return path


def main() -> None:
    ws = Workspace.resolve()  # ./.scriptrun, created on first use
    store = Datastore.get_default(ws)
    with tempfile.TemporaryDirectory() as tmp:
        make_iris_like_csv(Path(tmp))
        store.upload(tmp, target_path="iris", overwrite=True, show_progress=False)
    iris = Dataset.Tabular.from_delimited_files((store, "iris/iris.csv")).register(
        ws, "iris", description="iris-like flowers", create_new_version=True)
    print(f"registered {iris.id} (fingerprint {iris.fingerprint})")

    env = Environment.get(ws, "scriptrun-sklearn")  # curated: built with uv, cached by content hash
    data = iris.as_named_input("iris")
    model = OutputFileDatasetConfig("model", destination=(store, "models/{run-id}")).register_on_complete(
        "iris-model", description="LogisticRegression trained on iris")
    src = ScriptRunConfig(source_directory=str(HERE / "src"), script="train.py",
                          arguments=["--data", data, "--model-dir", model, "--C", 0.5], environment=env)
    run = Experiment(ws, "sklearn-iris").submit(src)
    run.wait_for_completion(show_output=True, raise_on_error=True)

    details = run.get_details()
    print("metrics:", run.get_metrics())
    for entry in details["inputDatasets"]:  # entry["dataset"] is the Dataset the run read (v1)
        dataset = entry["dataset"]
        print("input :", entry["consumptionDetails"]["inputName"], f"{dataset.name}:{dataset.version}")
    for entry in details["outputDatasets"]:
        print("output:", entry["outputDetails"]["outputName"], entry["outputDetails"]["url"], entry["dataset"])
    registered = Dataset.get_by_name(ws, "iris-model")
    print(f"registered model dataset {registered.id}: {registered.to_path()}")


if __name__ == "__main__":
    main()
