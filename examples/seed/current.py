"""The seed design's "current" example, corrected to valid Python and run end to end.

This is the v1 style: a RunConfiguration built by hand and mutated after the
ScriptRunConfig is created. It keeps working unchanged (only the imports differ) — but
prefer the "proposed" style in proposed.py, which needs no RunConfiguration at all.
Differences from the seed's text: `arguments` is a list (the seed had a dict/list mix),
`Environment.get` names an environment registered below (the seed's
`AzureML-PyTorch-1-3-GPU` would resolve to scriptrun's curated PyTorch CPU environment, which
takes a while to build the first time), the dataset is a small stand-in registered by
sample_data.py, and the pipeline half is left out (pipelines are not part of scriptrun yet).
"""

from pathlib import Path

from sample_data import cifar10

from scriptrun import (
    Data,
    DataLocation,
    Environment,
    Experiment,
    RunConfiguration,
    ScriptRunConfig,
    Workspace,
)

project_folder = Path(__file__).parent / "src"
ws = Workspace.resolve()
experiment = Experiment(ws, "seed-current")
compute_target = "local"

env = Environment("pytorch-local")  # the interpreter scriptrun runs in, registered by name
env.python.user_managed_dependencies = True
env.register(ws)
dataset = cifar10(ws)


def build() -> ScriptRunConfig:
    src = ScriptRunConfig(source_directory=project_folder,
                          script="train.py",
                          arguments=["--num_epochs", "30"],
                          run_config=RunConfiguration(framework="python", communicator="Mpi"))

    pt_env = Environment.get(ws, name="pytorch-local")

    src.run_config.environment = pt_env
    src.run_config.node_count = 2
    src.run_config.target = compute_target
    src.run_config.data = Data(data_location=DataLocation(dataset=dataset),
                               mechanism="direct",
                               environment_variable_name="cifar10")
    return src


if __name__ == "__main__":
    # as an individual run
    run = experiment.submit(build())
    run.wait_for_completion(show_output=True)
    print("metrics:", run.get_metrics())
