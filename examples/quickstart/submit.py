"""The quick-start job from Python: configure once, submit, wait, read the metrics."""

from pathlib import Path

from scriptrun import Experiment, ScriptRunConfig, Workspace

here = Path(__file__).parent
ws = Workspace.resolve()  # ./.scriptrun, created on first use

src = ScriptRunConfig(source_directory=here, script="train.py", arguments=["--epochs", 10, "--lr", 0.05])
run = Experiment(ws, "quickstart").submit(src)
run.wait_for_completion(show_output=True)

metrics = run.get_metrics()
print(f"final loss {metrics['loss'][-1]:.5f}, w={metrics['final_w']:.3f}, b={metrics['final_b']:.3f}")
print("files:", run.get_file_names())

# The same job as YAML, and back: the canonical form round-trips.
src.to_yaml(here / "generated-job.yml")
assert ScriptRunConfig.from_yaml(here / "generated-job.yml").to_job_spec() == src.to_job_spec()
(here / "generated-job.yml").unlink()
