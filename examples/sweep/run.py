"""A random-search sweep over the same ScriptRunConfig a standalone run would use.

    .venv/bin/python examples/sweep/run.py

Six trials, two at a time; each trial is an ordinary run of `src/train.py` with `--lr` and
`--epochs` appended. A Bandit policy stops trials whose loss is more than 50% worse than the
best trial's at an evaluation. The sampler is seeded, so the trials are the same every time.
The same sweep from the command line (`job.yml` + `sweep.yml` next to this file):

    scriptrun run submit-hyperdrive -c examples/sweep/job.yml --hyperdrive-configuration-name examples/sweep/sweep.yml
"""

import json
from pathlib import Path

from scriptrun import (
    BanditPolicy,
    Experiment,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Run,
    ScriptRunConfig,
    Workspace,
    choice,
    loguniform,
)

SRC = Path(__file__).resolve().parent / "src"
ws = Workspace.resolve()  # ./.scriptrun, created on first use

src = ScriptRunConfig(SRC, "train.py")  # standalone: Experiment(ws, "sweep-example").submit(src)

sampling = RandomParameterSampling(
    {"--lr": loguniform(-6, -1), "--epochs": choice(4, 8)},  # lr = exp(uniform(-6, -1)): 0.0025 .. 0.37
    properties={"rng_seed": 7},
)
policy = BanditPolicy(evaluation_interval=1, slack_factor=0.5, delay_evaluation=1)
hdc = HyperDriveConfig(
    run_config=src,
    hyperparameter_sampling=sampling,
    policy=policy,
    primary_metric_name="loss",
    primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
    max_total_runs=6,
    max_concurrent_runs=2,
)

sweep = Experiment(ws, "sweep-example").submit(hdc)
details = sweep.wait_for_completion(show_output=False)
print("sweep status:", details["status"])

hyperparameters = sweep.get_hyperparameters()
for row in sweep.get_children_sorted_by_primary_metric():
    values = json.loads(hyperparameters[row["run_id"]])
    best = row["best_primary_metric"]
    best_text = "-" if best is None else f"{best:.5f}"
    print(f"  {row['run_id']}  {row['status']:<9}  loss {best_text:>9}  {values}")
    if row["status"] == "Canceled":  # stopped by the policy: the reason is in the trial's details
        print("      ", Run(sweep.experiment, row["run_id"]).get_details()["error"]["message"])

best_run = sweep.get_best_run_by_primary_metric()
best_values = json.loads(hyperparameters[best_run.id])
print(f"best run: {best_run.id}  loss {min(best_run.get_metrics()['loss']):.5f}  hyperparameters {best_values}")
