"""A two-step pipeline: prep writes a data set, train reads it; the learning rate is a
pipeline parameter. The pipeline runs, is resubmitted unchanged (every step reused), and is
resubmitted with a new learning rate (prep reused, train re-run, and `why` says so).

    .venv/bin/python examples/pipeline/run.py

Each step is an ordinary ScriptRunConfig: the same object runs standalone with
`Experiment(ws, name).submit(src)`; `PythonScriptStep(name=..., script_run_config=src)` is the
one line that makes it a step.
"""

from pathlib import Path

from scriptrun import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
    ScriptRunConfig,
    Workspace,
)

SRC = Path(__file__).resolve().parent / "src"
ws = Workspace.resolve()  # ./.scriptrun, created on first use
experiment = Experiment(ws, "pipeline-example")


def build() -> Pipeline:
    prepped = OutputFileDatasetConfig("prepped")  # written by prep, read by train
    lr = PipelineParameter("lr", default_value=0.1)
    prep_src = ScriptRunConfig(SRC, "prep.py", arguments=["--out", prepped, "--rows", 200])
    train_src = ScriptRunConfig(SRC, "train.py", arguments=["--data", prepped.as_input("data"), "--lr", lr])
    prep = PythonScriptStep(name="prep", script_run_config=prep_src)
    train = PythonScriptStep(name="train", script_run_config=train_src)
    return Pipeline(ws, [prep, train], description="prep then train")


def show_reuse(run) -> None:
    for step, info in run.get_reuse_info().items():
        print(f"  {step}: reused={info['reused']} why={info['why']}")


pipeline = build()
assert pipeline.validate() == []

print("=== first run ===")
first = experiment.submit(pipeline)
print("status:", first.wait_for_completion(show_output=False)["status"])
for step in first.get_steps():
    print(f"  step {step.name}: {step.get_status()}")
train_run = first.find_step_run("train")[0]
metrics = train_run.get_metrics()
print(f"  train: w={metrics['final_w']:.3f} b={metrics['final_b']:.3f}")
show_reuse(first)

print("=== resubmitted unchanged ===")
second = experiment.submit(build())
print("status:", second.wait_for_completion(show_output=False)["status"])
show_reuse(second)
assert all(info["reused"] for info in second.get_reuse_info().values())

print("=== resubmitted with lr=0.05 ===")
third = experiment.submit(build(), pipeline_parameters={"lr": 0.05})
print("status:", third.wait_for_completion(show_output=False)["status"])
show_reuse(third)

graph = third.get_graph_svg() or ""
print("graph:", "svg" if "<svg" in graph else "missing", f"({len(graph)} chars)")
