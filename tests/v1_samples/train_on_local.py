# Train on the local machine (v1 "train-on-local" style).
import azureml.core
from azureml.core import Experiment, ScriptRunConfig, Workspace
from azureml.core.environment import Environment

print("Azure ML SDK version:", azureml.core.VERSION)

ws = Workspace.from_config()
print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\n")

experiment = Experiment(workspace=ws, name="train-on-local")

myenv = Environment("user-managed-env")
myenv.python.user_managed_dependencies = True

src = ScriptRunConfig(source_directory="./scripts", script="train.py", arguments=["--epochs", 4],
                      compute_target="local", environment=myenv)
run = experiment.submit(src)
run.wait_for_completion(show_output=True)
assert run.get_status() == "Completed", run.get_status()
metrics = run.get_metrics()
print(metrics)
assert len(metrics["loss"]) == 4
assert "outputs/model.txt" in run.get_file_names()
