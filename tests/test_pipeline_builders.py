"""Pipeline builders: each step reduces to the JobSpec a standalone run of its ScriptRunConfig
produces (both PythonScriptStep forms, CommandStep, the seed's two examples), data between
steps, parameters, validation problems, and the YAML form."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_workspace
from scriptrun.config.prepare import prepare_job
from scriptrun.config.runconfig import RunConfiguration
from scriptrun.config.script_run_config import ScriptRunConfig
from scriptrun.data.output import OutputFileDatasetConfig
from scriptrun.errors import ConfigError
from scriptrun.pipeline.core import Pipeline, PipelineData, PipelineParameter, StepSequence
from scriptrun.pipeline.graph import Binding
from scriptrun.pipeline.steps import CommandStep, PythonScriptStep

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def ws(tmp_path: Path):
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("prep", "train", "report"):
        (folder / f"{name}.py").write_text("print('hi')\n")
    return folder


def plan(pipeline: Pipeline) -> dict:
    nodes, _ = pipeline._plan(snapshot=False)
    return {n.name: n for n in nodes}


def test_seed_form_step_is_the_standalone_job(ws, src_dir):
    src = ScriptRunConfig(source_directory=src_dir, script="train.py", arguments=["--num_epochs", "30"],
                          max_run_duration_seconds=600)
    nodes = plan(Pipeline(ws, [PythonScriptStep(name="train", script_run_config=src)]))
    assert nodes["train"].spec == prepare_job(src, ws).model_dump(mode="json")


def test_legacy_form_step_is_the_standalone_job(ws, src_dir):
    rc = RunConfiguration()
    rc.environment_variables = {"A": "1"}
    step = PythonScriptStep("train.py", name="train", arguments=["--x", 1], compute_target="local", runconfig=rc,
                            source_directory=str(src_dir))
    standalone = ScriptRunConfig(source_directory=src_dir, script="train.py", arguments=["--x", 1], run_config=rc)
    assert plan(Pipeline(ws, [step]))["train"].spec == prepare_job(standalone, ws).model_dump(mode="json")
    assert rc.environment_variables == {"A": "1"}  # the user's run config is not changed


def test_params_become_aml_parameter_variables(ws, src_dir):
    lr = PipelineParameter("lr", 0.1)
    step = PythonScriptStep("train.py", arguments=["--lr", lr], params={"my-alpha": 2, "rate": lr},
                            source_directory=str(src_dir))
    node = plan(Pipeline(ws, [step]))["train.py"]
    assert node.spec["environment_variables"] == {"AML_PARAMETER_my_alpha": "2",
                                                  "AML_PARAMETER_rate": "${{parent.inputs.lr}}"}
    assert node.spec["arguments"] == ["--lr", "${{parent.inputs.lr}}"] and node.parameters == ("lr",)


def test_seed_examples_as_pipelines_reduce_to_their_standalone_jobs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCRIPTRUN_WORKSPACE", raising=False)
    monkeypatch.syspath_prepend(str(EXAMPLES / "seed"))
    modules = {}
    for name in ("current", "proposed"):
        spec = importlib.util.spec_from_file_location(f"seed_{name}", EXAMPLES / "seed" / f"{name}.py")
        modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[name])
    ws, dataset = modules["proposed"].ws, modules["proposed"].dataset
    src = modules["current"].build()
    legacy = PythonScriptStep(script_name=src.script, name="train", arguments=src.arguments,
                              compute_target=src.run_config.target, runconfig=src.run_config,
                              inputs=[dataset.as_named_input("cifar10")], source_directory=src.source_directory)
    new_src = modules["proposed"].build()
    new = PythonScriptStep(name="train", script_run_config=new_src, inputs=[dataset.as_named_input("cifar10")])
    legacy_spec = plan(Pipeline(ws, [legacy]))["train"].spec
    new_spec = plan(Pipeline(ws, [new]))["train"].spec
    assert legacy_spec == prepare_job(src, ws).model_dump(mode="json")
    assert new_spec == prepare_job(new_src, ws).model_dump(mode="json")
    assert legacy_spec == new_spec and list(new_spec["inputs"]) == ["cifar10"]
    sys.modules.pop("sample_data", None)


def test_seed_form_rejects_what_the_script_run_config_already_carries(src_dir):
    src = ScriptRunConfig(source_directory=src_dir, script="train.py")
    with pytest.raises(ConfigError) as err:
        PythonScriptStep(name="train", script_run_config=src, arguments=["--x"], source_directory=str(src_dir))
    assert err.value.paths() == ["PythonScriptStep.arguments", "PythonScriptStep.source_directory"]
    assert "already carries it" in str(err.value)


def test_command_step_takes_a_script_run_config(ws, src_dir):
    src = ScriptRunConfig(source_directory=src_dir, command=["python", "train.py", "--x", "1"])
    nodes = plan(Pipeline(ws, [CommandStep(runconfig=src, name="cmd")]))
    assert nodes["cmd"].spec == prepare_job(src, ws).model_dump(mode="json")
    assert CommandStep(command="python train.py", source_directory=str(src_dir)).name == "CommandStep_python"
    with pytest.raises(ConfigError, match="command is required"):
        CommandStep(runconfig=ScriptRunConfig(source_directory=src_dir, script="train.py"))


def test_data_between_steps_and_ordering(ws, src_dir):
    prepped = OutputFileDatasetConfig("prepped")
    legacy_data = PipelineData("model")
    prep = PythonScriptStep(name="prep", script_run_config=ScriptRunConfig(
        src_dir, "prep.py", arguments=["--out", prepped]))
    PythonScriptStep("train.py", name="train", arguments=["--data", prepped.as_input("data"),
                                                                  "--model", legacy_data],
                             inputs=[prepped.as_input("data")], outputs=[legacy_data], source_directory=str(src_dir))
    report = PythonScriptStep("report.py", name="report", arguments=["--model", legacy_data],
                              inputs=[legacy_data], source_directory=str(src_dir))
    other = PythonScriptStep("report.py", name="other", source_directory=str(src_dir))
    other.run_after(report)
    nodes = plan(Pipeline(ws, [other, prep]))  # train and report are pulled in (run_after, PipelineData)
    assert nodes["train"].bindings == {"data": Binding("prep", "prepped")}
    assert nodes["report"].bindings == {"model": Binding("train", "model")}
    assert nodes["train"].spec["arguments"] == ["--data", "${{inputs.data}}", "--model", "${{outputs.model}}"]
    assert nodes["report"].spec["arguments"] == ["--model", "${{inputs.model}}"]
    assert nodes["other"].upstream() == ["report"]
    seq = StepSequence([PythonScriptStep("prep.py", name="a", source_directory=str(src_dir)),
                        [PythonScriptStep("train.py", name="b", source_directory=str(src_dir)),
                         PythonScriptStep("report.py", name="c", source_directory=str(src_dir))]])
    assert {n: s.upstream() for n, s in plan(Pipeline(ws, seq)).items()} == {"a": [], "b": ["a"], "c": ["a"]}


def test_validate_reports_every_problem(ws, src_dir):
    orphan = PipelineData("orphan")
    unbound = PipelineData("unbound")
    a = PythonScriptStep("missing.py", name="a", source_directory=str(src_dir))
    b = PythonScriptStep("train.py", name="b", inputs=[orphan], arguments=["--x", unbound],
                         source_directory=str(src_dir))
    dup = PythonScriptStep("train.py", name="b", source_directory=str(src_dir))
    c = PythonScriptStep("prep.py", name="c", source_directory=str(src_dir))
    d = PythonScriptStep("prep.py", name="d", source_directory=str(src_dir))
    c.run_after(d)
    d.run_after(c)
    problems = Pipeline(ws, [a, b, dup, c, d], resolve_closure=False).validate()
    text = "\n".join(problems)
    assert "steps[2].name: two steps are named 'b'" in text
    assert "steps.a.script: 'missing.py' not found in " + str(src_dir) in text
    assert "steps.b.inputs.orphan: reads PipelineData 'orphan', which no step of this pipeline produces" in text
    assert "steps.b.arguments[1]: PipelineData 'unbound' is in the arguments but in neither" in text
    assert "the steps form a cycle: c → d → c" in text
    assert Pipeline(ws, [PythonScriptStep("train.py", source_directory=str(src_dir))]).validate() == []


def test_bad_builder_inputs_are_clear_errors(ws, src_dir):
    with pytest.raises(ValueError, match="not a valid name"):
        PipelineData("bad-name")
    with pytest.raises(ValueError, match="unsupported type list"):
        PipelineParameter("p", [1, 2])
    with pytest.raises(ConfigError, match="parameter.s. not recognized: colour"):
        Pipeline(ws, [PythonScriptStep("train.py", source_directory=str(src_dir))], colour="red")
    with pytest.raises(ConfigError, match="expected a pipeline step"):
        Pipeline(ws, ["train.py"])
    step = PythonScriptStep("train.py", source_directory=str(src_dir), arguments=[PipelineParameter("lr", 0.1)])
    from scriptrun.pipeline.parameter import resolve_parameters

    _, defaults = Pipeline(ws, [step])._plan(snapshot=False)
    assert resolve_parameters(defaults, {"lr": 1}) == {"lr": 1.0}
    with pytest.raises(ConfigError, match="did you mean `lr`"):
        resolve_parameters(defaults, {"lrr": 0.5})
    with pytest.raises(ConfigError, match="expected a float"):
        resolve_parameters(defaults, {"lr": "fast"})


PIPELINE_YAML = """\
description: prep then train
inputs: {lr: 0.1}
jobs:
  prep:
    source_directory: src
    script: prep.py
    arguments: [--out, "${{outputs.prepped}}"]
    outputs: {prepped: {}}
  train: train.yml
  consume:
    source_directory: src
    script: report.py
    arguments: [--inp, "${{inputs.inp}}", --lr, "${{parent.inputs.lr}}"]
    inputs: {inp: "${{parent.jobs.prep.outputs.prepped}}"}
    run_after: [train]
"""


def test_yaml_round_trip(ws, tmp_path, src_dir):
    (tmp_path / "pipeline.yml").write_text(PIPELINE_YAML)
    (tmp_path / "train.yml").write_text("source_directory: src\nscript: train.py\nallow_reuse_not_here: 1\n"
                                        .replace("allow_reuse_not_here: 1\n", ""))
    pipeline = Pipeline.from_yaml(ws, tmp_path / "pipeline.yml")
    nodes = plan(pipeline)
    assert nodes["consume"].bindings == {"inp": Binding("prep", "prepped")}
    assert nodes["consume"].after == ("train",) and nodes["consume"].parameters == ("lr",)
    text = pipeline.to_yaml(tmp_path / "out" / "again.yml")
    assert "${{parent.jobs.prep.outputs.prepped}}" in text and "source_directory: ../src" in text
    again = plan(Pipeline.from_yaml(ws, tmp_path / "out" / "again.yml"))
    assert {n: (s.spec, s.bindings, s.after, s.parameters) for n, s in again.items()} == \
        {n: (s.spec, s.bindings, s.after, s.parameters) for n, s in nodes.items()}


def test_yaml_errors_point_at_file_and_line_with_a_hint(ws, tmp_path, src_dir):
    file = tmp_path / "bad.yml"
    file.write_text(textwrap.dedent("""\
        inputs: {lr: 0.1}
        jobs:
          prep:
            source_directory: src
            scriptt: prep.py
          consume:
            source_directory: src
            script: report.py
            arguments: [--lr, "${{parent.inputs.lrr}}"]
            inputs: {inp: "${{parent.jobs.prepp.outputs.prepped}}"}
        """))
    with pytest.raises(ConfigError) as err:
        Pipeline.from_yaml(ws, file)
    rendered = [p.render() for p in err.value.problems]
    assert any(r.startswith(f"{file}:5: jobs.prep.scriptt: unknown key") and "did you mean `script`?" in r
               for r in rendered), rendered
    assert any(f"{file}:9: jobs.consume.arguments[1]" in r and "did you mean `lr`?" in r for r in rendered), rendered
    assert any(f"{file}:10: jobs.consume.inputs.inp" in r and "did you mean `prep`?" in r for r in rendered), rendered
