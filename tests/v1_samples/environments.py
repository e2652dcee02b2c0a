# Environments (v1 "using-environments" style): curated names, conda packages, registration.
from azureml.core import Environment, Experiment, ScriptRunConfig, Workspace
from azureml.core.conda_dependencies import CondaDependencies

ws = Workspace.from_config()

envs = Environment.list(workspace=ws)
for name in envs:
    if name.startswith("scriptrun"):
        print("curated:", name)
curated = Environment.get(workspace=ws, name="AzureML-Minimal")
print("AzureML-Minimal resolves to", curated.name)

myenv = Environment(name="myenv")
conda_dep = CondaDependencies()
conda_dep.add_conda_package("six")
myenv.python.conda_dependencies = conda_dep
myenv = myenv.register(workspace=ws)
print("registered", myenv.name, myenv.version)

src = ScriptRunConfig(source_directory="./scripts", script="check_six.py", compute_target="local",
                      environment=Environment.get(ws, "myenv"))
run = Experiment(ws, "environments").submit(src)
run.wait_for_completion(show_output=True)
assert run.get_status() == "Completed", run.get_details()
print(run.get_metrics())
