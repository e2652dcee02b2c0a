"""The seed design's "proposed" example, corrected to valid Python and run end to end.

One ScriptRunConfig says everything: what to run, where, in which environment, on how many
nodes and processes. Corrections to the seed's text: `entry_script` → `script`,
`communicator=MPI(...)` → `distributed_job_config=MpiConfiguration(...)`, `arguments` is a
list, one process per node (so that it is the same job as current.py and fits a small
machine: 2 nodes x 1 process — the 2 nodes are emulated on this machine), the dataset is a
small stand-in registered by sample_data.py, and the pipeline half is left out (pipelines
are not part of scriptrun yet).
"""

from pathlib import Path

from sample_data import cifar10

from scriptrun import Environment, Experiment, MpiConfiguration, ScriptRunConfig, Workspace

project_folder = Path(__file__).parent / "src"
ws = Workspace.resolve()
experiment = Experiment(ws, "seed-proposed")
compute_target = "local"

env = Environment("pytorch-local")
env.python.user_managed_dependencies = True
env.register(ws)
dataset = cifar10(ws)


def build() -> ScriptRunConfig:
    pt_env = Environment.get(ws, name="pytorch-local")
    return ScriptRunConfig(source_directory=project_folder,
                           compute_target=compute_target,
                           script="train.py",
                           arguments=["--num_epochs", "30"],
                           node_count=2,
                           distributed_job_config=MpiConfiguration(process_count_per_node=1),
                           environment=pt_env,
                           inputs=[dataset.as_named_input("cifar10")])


if __name__ == "__main__":
    # as an individual run
    run = experiment.submit(build())
    run.wait_for_completion(show_output=True)
    print("metrics:", run.get_metrics())
