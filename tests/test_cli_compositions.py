"""The real ``scriptrun`` command in subprocesses for compositions: pipeline YAML submission,
reuse and ``why``, the graph, published pipelines; a HyperDrive sweep from v1's YAML and
``sweep show``; ``validate`` on pipeline and HyperDrive files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import cli, make_workspace, ok, stop_agent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("compositions")
    ws = make_workspace(root)
    (root / "src").mkdir()
    (root / "src" / "prep.py").write_text(textwrap.dedent("""
        import os, sys
        out = sys.argv[sys.argv.index("--out") + 1]
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "data.txt"), "w").write("42")
    """))
    (root / "src" / "train.py").write_text(textwrap.dedent("""
        import os, sys
        from scriptrun import Run
        inp = sys.argv[sys.argv.index("--inp") + 1]
        lr = float(sys.argv[sys.argv.index("--lr") + 1])
        Run.get_context().log("value", int(open(os.path.join(inp, "data.txt")).read()) * lr)
    """))
    (root / "src" / "sweep_train.py").write_text(textwrap.dedent("""
        import argparse
        from scriptrun import Run
        parser = argparse.ArgumentParser()
        parser.add_argument("--x", type=float)
        args = parser.parse_args()
        Run.get_context().log("accuracy", args.x * 2)
    """))
    (root / "pipeline.yml").write_text(textwrap.dedent("""
        description: prep then train
        inputs: {lr: 0.1}
        jobs:
          prep:
            source_directory: src
            script: prep.py
            arguments: [--out, "${{outputs.prepped}}"]
            outputs: {prepped: {}}
          train:
            source_directory: src
            script: train.py
            arguments: [--inp, "${{inputs.inp}}", --lr, "${{parent.inputs.lr}}"]
            inputs: {inp: "${{parent.jobs.prep.outputs.prepped}}"}
    """))
    (root / "job.yml").write_text("source_directory: src\nscript: sweep_train.py\n")
    (root / "sweep.yml").write_text(textwrap.dedent("""
        sampling:
          type: grid
          parameter_space:
          - name: --x
            expression: choice
            values: [0.1, 0.9, 0.5]
        primary_metric_name: accuracy
        primary_metric_goal: Maximize
        max_total_runs: 3
        max_concurrent_runs: 2
    """))
    yield root
    stop_agent(ws)


def test_pipeline_submit_resubmit_reused_why_graph_and_published(proj: Path):
    first = ok(cli("run", "submit-pipeline", "-c", "pipeline.yml", "-e", "pipe", cwd=proj))
    assert "step prep: Completed" in first.stdout and "step train: Completed" in first.stdout, first.stdout
    run_id = first.stdout.split()[-1]

    unknown = cli("run", "submit-pipeline", "-c", "pipeline.yml", "-e", "pipe", "--rerun", "trian", cwd=proj)
    assert unknown.returncode == 2 and "no step named 'trian'" in unknown.stderr and "train" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    again = ok(cli("run", "submit-pipeline", "-c", "pipeline.yml", "-e", "pipe", cwd=proj))
    second_id = again.stdout.split()[-1]
    assert second_id != run_id and again.stdout.count("(reused ") == 2, again.stdout
    why = ok(cli("pipeline", "why", second_id, cwd=proj))
    assert "prep: reused" in why.stdout and "train: reused" in why.stdout, why.stdout
    tree = ok(cli("run", "show", second_id, cwd=proj)).stdout  # the step tree: status, duration, reused
    steps = [line for line in tree.splitlines() if line.startswith(("├── ", "└── "))]
    assert len(steps) == 2 and all("Completed" in line and f"reused {run_id}_" in line for line in steps), tree
    assert "nothing in its key changed" in why.stdout

    changed = ok(cli("run", "submit-pipeline", "-c", "pipeline.yml", "-e", "pipe", "--set", "inputs.lr=0.5",
                     cwd=proj))
    why = ok(cli("pipeline", "why", changed.stdout.split()[-1], "train", cwd=proj))
    assert "train: ran" in why.stdout and "0.5" in why.stdout and "prep" not in why.stdout, why.stdout

    ok(cli("pipeline", "graph", second_id, "-o", "g.svg", cwd=proj))
    assert "<svg" in (proj / "g.svg").read_text()

    from scriptrun.pipeline.pipeline import Pipeline
    from scriptrun.workspace import Workspace

    Pipeline.from_yaml(Workspace.get(proj), proj / "pipeline.yml").publish("prep-train", description="demo")
    listed = ok(cli("pipeline", "list", cwd=proj))
    assert "prep-train" in listed.stdout and "prep, train" in listed.stdout
    shown = ok(cli("pipeline", "show", "prep-train", cwd=proj))
    assert "version 1" in shown.stdout and "prep.py" in shown.stdout


def test_hyperdrive_sweep_from_v1_yaml_and_sweep_show(proj: Path):
    proc = ok(cli("run", "submit-hyperdrive", "-c", "job.yml", "--hyperdrive-configuration-name", "sweep.yml",
                  "-e", "sweep", cwd=proj))
    run_id = proc.stdout.split()[-1]
    assert run_id.startswith("HD_") and proc.stdout.count(" started ") == 3, proc.stdout
    assert "best accuracy so far: 1.8" in proc.stdout, proc.stdout
    show = ok(cli("sweep", "show", run_id, cwd=proj))
    lines = [line for line in show.stdout.splitlines() if run_id + "_" in line]
    trials = [next(word for word in line.split() if word.startswith(run_id + "_")) for line in lines]
    assert trials == [f"{run_id}_1", f"{run_id}_2", f"{run_id}_0"], show.stdout
    assert "--x=0.9" in lines[0] and "1.8" in lines[0] and "Completed" in lines[0]


def test_validate_pipeline_and_hyperdrive_files(proj: Path):
    ok(cli("validate", "pipeline.yml", cwd=proj))
    ok(cli("validate", "sweep.yml", cwd=proj))
    (proj / "bad_pipeline.yml").write_text("inputs: {lr: 0.1}\njobs:\n  prep:\n    source_directory: src\n"
                                           "    scrpt: prep.py\n")
    bad = cli("validate", "bad_pipeline.yml", cwd=proj)
    assert bad.returncode == 2 and "bad_pipeline.yml:5" in bad.stderr and "script" in bad.stderr, bad.stderr
    (proj / "bad_sweep.yml").write_text("sampling:\n  type: grid\n  parameter_space:\n  - name: --x\n"
                                        "    expression: choice\n    values: [1, 2]\nprimary_metric_nme: acc\n"
                                        "primary_metric_goal: Maximize\nmax_total_runs: 0\n")
    bad = cli("validate", "bad_sweep.yml", cwd=proj)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "bad_sweep.yml:7" in bad.stderr and "primary_metric_name" in bad.stderr, bad.stderr
    assert "bad_sweep.yml:9" in bad.stderr and "max_total_runs" in bad.stderr, bad.stderr
    schema = ok(cli("schema", "--pipeline", cwd=proj))
    assert '"jobs"' in schema.stdout
