# Logging API (v1 "logging-api" style): an interactive run from this process.
from azureml.core import Experiment, Workspace

ws = Workspace.from_config()
exp = Experiment(workspace=ws, name="logging-api-test")

run = exp.start_logging()
run.log("an int", 1)
run.log("a float", 2.5)
run.log_list("fibonacci", [0, 1, 1, 2, 3, 5, 8])
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
run.log_row("a table", x=1, y=2)
run.log_table("columns", {"a": [1, 2], "b": [3, 4]})
run.tag("purpose", "test")
run.complete()

metrics = run.get_metrics()
print(metrics)
assert metrics["an int"] == 1 and metrics["loss"][-1] == 1.0 / 3
assert run.get_status() == "Completed"
