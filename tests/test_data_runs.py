"""Inputs and outputs of real runs (real agent, MLflow store and subprocesses): every delivery
channel (argument, embedded placeholder, environment variable, ``input_datasets`` /
``output_datasets``), every mode, outputs uploaded only on completion, ``resume_from``, and
lineage in ``get_details()`` and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scriptrun import (
    ConfigError,
    DataPath,
    Dataset,
    Datastore,
    Experiment,
    OutputFileDatasetConfig,
    ScriptRunConfig,
    Workspace,
)
from scriptrun.config import prepare_job

pytestmark = pytest.mark.slow  # real runs (a few of the checks are fast)

REPORT = """
import json, os, sys
from scriptrun import Run
run = Run.get_context()
inputs = {k: (v if isinstance(v, str) else {"id": v.id, "rows": len(v.to_pandas_dataframe())}
              if hasattr(v, "to_pandas_dataframe") else {"id": v.id})
          for k, v in run.input_datasets.items()}
report = {"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in ("files", "table", "copy", "model",
          "AZUREML_DATAREFERENCE_files", "AZUREML_DATASET_ENVIRONMENT_VARS", "AZUREML_DATASET_FILE_OUTPUTS")},
          "inputs": inputs, "outputs": run.output_datasets,
          "walk": {k: sorted(os.path.relpath(os.path.join(d, f), v) for d, _, fs in os.walk(v) for f in fs)
                   for k, v in inputs.items() if isinstance(v, str) and os.path.isdir(v)}}
out = run.output_datasets.get("model")
if out:
    with open(os.path.join(out, "model.txt"), "w") as fh:
        fh.write("trained")
print("REPORT " + json.dumps(report))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


def _report(run) -> dict:
    text = "".join(Path(p).read_text() for p in run.get_details()["logFiles"].values())
    line = next(line for line in text.splitlines() if line.startswith("REPORT "))
    return json.loads(line[len("REPORT "):])


@pytest.fixture
def datasets(shared_ws: Workspace, tmp_path: Path):
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (raw / "sub" / "b.txt").write_text("b")
    store = Datastore.get_default(shared_ws)
    prefix = f"test-{tmp_path.name}"
    store.upload(str(raw), target_path=prefix, show_progress=False)
    files = Dataset.File.from_files((store, prefix)).register(shared_ws, f"files-{tmp_path.name}")
    table = Dataset.Tabular.from_delimited_files((store, f"{prefix}/a.csv")).register(
        shared_ws, f"table-{tmp_path.name}")
    return store, prefix, files, table


def test_every_input_and_output_channel(shared_ws: Workspace, project, datasets) -> None:
    store, prefix, files, table = datasets
    src_dir = project(train=REPORT)
    files_in = files.as_named_input("files").as_mount()
    table_in = table.as_named_input("table")
    copy_in = files.as_named_input("copy").as_download()
    model = OutputFileDatasetConfig("model", destination=(store, "models/{run-id}/{output-name}")) \
        .register_on_complete(f"model-{Path(prefix).name}")
    src = ScriptRunConfig(str(src_dir), "train.py",
                          arguments=["--files", files_in, f"--table={table_in}", "--copy", copy_in, "--model", model],
                          inputs=[table_in])
    run = Experiment(shared_ws, "data").submit(src)
    run.wait_for_completion(raise_on_error=True)
    report = _report(run)
    store_root = Path(store.url) / prefix
    # argv: whole arguments and a placeholder inside a larger string
    argv = report["argv"]
    mounted = Path(argv[1])  # the run's own read-only copy of the datastore folder, never the folder itself
    assert mounted != store_root and mounted.is_relative_to(shared_ws.run_dir(run.id))
    assert argv[2] == f"--table={table.id}"  # direct mode: the dataset id
    copy_dir = Path(argv[4])
    assert copy_dir != store_root and copy_dir != mounted  # a downloaded copy (deleted when the run ends)
    assert report["walk"]["copy"] == report["walk"]["files"] == ["a.csv", "sub/b.txt"]
    model_dir = argv[6]
    # environment variables, v1 names included
    env = report["env"]
    assert env["files"] == argv[1] and env["copy"] == argv[4] and env["model"] == model_dir
    assert env["table"] == table.id and env["AZUREML_DATAREFERENCE_files"] == argv[1]
    assert set(env["AZUREML_DATASET_ENVIRONMENT_VARS"].split(",")) == {"files:mount", "table:direct", "copy:download"}
    assert env["AZUREML_DATASET_FILE_OUTPUTS"] == "model"
    # Run.get_context().input_datasets / output_datasets
    assert report["inputs"]["files"] == argv[1] and report["inputs"]["copy"] == argv[4]
    assert report["inputs"]["table"] == {"id": table.id, "rows": 2}
    assert report["outputs"] == {"model": model_dir}
    # the output was uploaded and registered
    dest = Path(store.url) / "models" / run.id / "model" / "model.txt"
    assert dest.read_text() == "trained"
    details = run.get_details()
    registered = Dataset.get_by_name(shared_ws, f"model-{Path(prefix).name}")
    assert registered.to_path() == ["/model.txt"]
    # lineage: name, version and fingerprint of every input and output
    lineage = {e["consumptionDetails"]["inputName"]: e for e in details["inputDatasets"]}
    seen = lineage["files"]["dataset"]  # a Dataset object, as in v1
    assert (seen.id, seen.name, seen.version, seen.fingerprint) == (files.id, files.name, 1, files.fingerprint)
    assert seen.to_path() == files.to_path()
    assert lineage["table"]["dataset"].fingerprint == table.fingerprint
    assert lineage["copy"]["consumptionDetails"]["mechanism"] == "download"
    (output,) = details["outputDatasets"]
    assert output["dataset"].id == registered.id and output["dataset"].fingerprint == registered.fingerprint
    assert output["outputDetails"]["path"] == f"models/{run.id}/model"
    # and in MLflow
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(shared_ws.tracking_uri).get_run(details["mlflowRunId"]).data.tags
    assert tags["scriptrun.input.files"] == f"{files.id} fingerprint={files.fingerprint} mode=mount"
    assert tags["scriptrun.output.model"].startswith(registered.id)


def test_outputs_not_uploaded_when_the_run_fails(shared_ws: Workspace, project, datasets) -> None:
    store, prefix, _, _ = datasets
    model = OutputFileDatasetConfig("model", destination=(store, f"failed/{prefix}/{{run-id}}")).as_upload() \
        .register_on_complete(f"never-{Path(prefix).name}")
    src = ScriptRunConfig(str(project(train=REPORT)), "train.py", arguments=["--out", model])
    src.run_config.environment_variables = {"EXIT_CODE": "3"}
    run = Experiment(shared_ws, "data").submit(src)
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    assert Path(_report(run)["outputs"]["model"], "model.txt").is_file()  # the script wrote it…
    assert not (Path(store.url) / "failed" / prefix).exists()  # …but nothing was uploaded
    assert run.get_details()["outputDatasets"] == []
    assert f"never-{Path(prefix).name}" not in Dataset.get_all(shared_ws)


def test_command_list_and_download_to_path_on_compute(shared_ws: Workspace, project, datasets) -> None:
    _, _, files, _ = datasets
    data = files.as_named_input("files").as_download(path_on_compute="inputs/files")
    src = ScriptRunConfig(str(project(train=REPORT)), command=["python", "train.py", "--data", data])
    run = Experiment(shared_ws, "data").submit(src)
    run.wait_for_completion(raise_on_error=True)
    report = _report(run)
    assert report["argv"][1].endswith("/wd/inputs/files")
    assert report["inputs"]["files"] == report["argv"][1]


def test_resume_from(shared_ws: Workspace, project, tmp_path: Path) -> None:
    store = Datastore.get_default(shared_ws)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "step-10.pt").write_text("weights")
    store.upload(str(ckpt), target_path=f"checkpoints/{tmp_path.name}", show_progress=False)
    script = ("import sys, os\nargs = sys.argv[1:]\ni = args.index('--resume-from')\n"
              "print('FOUND', os.listdir(args[i + 1]), args[:i])\n")
    arguments = ["--epochs", 3]
    src = ScriptRunConfig(str(project(train=script)), "train.py", arguments=arguments,
                          resume_from=DataPath(store, f"checkpoints/{tmp_path.name}"))
    assert arguments == ["--epochs", 3]  # v1 mutated the caller's list; we don't
    run = Experiment(shared_ws, "data").submit(src)
    run.wait_for_completion(raise_on_error=True)
    text = "".join(Path(p).read_text() for p in run.get_details()["logFiles"].values())
    assert "FOUND ['step-10.pt'] ['--epochs', '3']" in text


def test_bad_inputs_at_submit_name_their_field(shared_ws: Workspace, project, tmp_path: Path) -> None:
    src_dir = project(train="")
    store = Datastore.get_default(shared_ws)
    missing = Dataset.File.from_files((store, f"not-there-{tmp_path.name}"), validate=False)
    src = ScriptRunConfig(str(src_dir), "train.py", arguments=[missing.as_named_input("gone").as_mount()])
    with pytest.raises(ConfigError) as info:
        prepare_job(src, shared_ws)
    (problem,) = info.value.problems
    assert problem.path == "inputs.gone.dataset.paths[0]"
    assert f"not-there-{tmp_path.name} does not exist" in problem.message
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(src_dir), "train.py", arguments=["--x=${{inputs.undeclared}}"]), shared_ws)
    assert info.value.paths() == ["arguments[0]"]
    assert "inputs.undeclared" in str(info.value) and "also pass it in `inputs=[...]`" in str(info.value)
    unregistered = ScriptRunConfig(str(src_dir), "train.py", arguments=["${{inputs.x}}"],
                                   inputs=[_registered_reference("x", "no-such-dataset")])
    with pytest.raises(ConfigError) as info:
        prepare_job(unregistered, shared_ws)
    assert info.value.paths() == ["inputs.x.dataset"]
    assert "no dataset named 'no-such-dataset'" in str(info.value)
    other_store = OutputFileDatasetConfig("out", destination=("no-such-store", "x"))
    with pytest.raises(ConfigError) as info:
        prepare_job(ScriptRunConfig(str(src_dir), "train.py", outputs=[other_store]), shared_ws)
    assert info.value.paths() == ["outputs.out.datastore"]


def _registered_reference(name: str, dataset: str):
    from scriptrun.data.consumption import DatasetConsumptionConfig

    return DatasetConsumptionConfig(name, dataset)
