"""v1's Azure-only calls give the documented local behaviour; ScriptRunConfig meets the seed
design's spellings; RunDetails prints a text table outside Jupyter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

from scriptrun import (
    DEFAULT_CPU_IMAGE,
    CondaDependencies,
    ConfigError,
    Environment,
    InteractiveLoginAuthentication,
    MpiConfiguration,
    Run,
    RunDetails,
    ScriptRunConfig,
    ServicePrincipalAuthentication,
    Workspace,
    set_diagnostics_collection,
)
from scriptrun.config.prepare import prepare_job
from scriptrun.core.compute import AmlCompute, ComputeTarget
from scriptrun.core.compute_target import ComputeTargetException
from scriptrun.train.dnn import Mpi
from scriptrun.workspace import azure


@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Workspace:
    monkeypatch.delenv("SCRIPTRUN_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(azure, "_noted", set())
    ws = Workspace.create(tmp_path)
    (tmp_path / "train.py").write_text("print('hi')\n")
    return ws


def test_workspace_v1_forms_give_the_local_workspace(ws, capsys):
    auth = InteractiveLoginAuthentication(tenant_id="t")
    assert Workspace.from_config(auth=auth) == ws
    assert Workspace.get("my-workspace", subscription_id="sub", resource_group="rg", auth=auth) == ws
    assert Workspace("sub-id", "rg", "my-workspace") == ws
    assert Workspace(subscription_id="s", resource_group="rg", workspace_name="w",
                     auth=ServicePrincipalAuthentication("t", "id", "secret")) == ws
    err = capsys.readouterr().err
    assert "Workspace.get(): Azure arguments (auth, name='my-workspace', resource_group, subscription_id) " \
           "are ignored" in err
    assert err.count("Workspace():") == 1, "the note is printed once"
    Workspace.from_config(auth=auth)
    assert "from_config" not in capsys.readouterr().err
    with pytest.raises(Exception, match="no scriptrun workspace at"):
        Workspace.get(str(ws.root / "missing" / "folder"))


def test_workspace_asset_views_and_identity(ws):
    assert ws.get_default_datastore().name == "workspaceblobstore"
    assert "workspaceblobstore" in ws.datastores
    assert "scriptrun-minimal" in ws.environments
    assert ws.datasets == {}
    assert list(ws.compute_targets) == ["local"]
    details = ws.get_details()
    assert details["name"] == ws.name and details["subscriptionId"] == ws.subscription_id
    assert ws.resource_group == "local" and ws.location == "local"
    ws.write_config()
    set_diagnostics_collection(send_diagnostics=True)
    assert DEFAULT_CPU_IMAGE.startswith("mcr.microsoft.com/azureml/")


V1_IDIOM = """
try:
    cluster = ComputeTarget(workspace=ws, name="cpu-cluster")
    print("Found existing cluster, use it.")
except ComputeTargetException:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    cluster = ComputeTarget.create(ws, "cpu-cluster", config)
cluster.wait_for_completion(show_output=True)
"""


def test_unmapped_cluster_name_says_how_to_map_it(ws):
    with pytest.raises(ComputeTargetException) as info:
        exec(V1_IDIOM, {"ws": ws, "ComputeTarget": ComputeTarget, "AmlCompute": AmlCompute,
                        "ComputeTargetException": ComputeTargetException})
    message = str(info.value)
    assert "cannot create compute target 'cpu-cluster'" in message
    assert "scriptrun compute attach-ray cpu-cluster --address" in message
    assert "compute_aliases: {cpu-cluster: local}" in message and "compute_target='local'" in message


def test_compute_aliases_map_cluster_names_to_local(ws, capsys):
    (ws.dir / "config.yaml").write_text(yaml.safe_dump({"compute_aliases": {"cpu-cluster": "local"}}))
    ws = Workspace.get(ws.root)
    namespace = {"ws": ws, "ComputeTarget": ComputeTarget, "AmlCompute": AmlCompute,
                 "ComputeTargetException": ComputeTargetException}
    exec(V1_IDIOM, namespace)
    assert "Found existing cluster" in capsys.readouterr().out
    cluster = namespace["cluster"]
    assert cluster.name == "cpu-cluster" and cluster.type == "local"
    spec = prepare_job(ScriptRunConfig(str(ws.root), "train.py", compute_target=cluster), ws)
    assert spec.compute_target == "local", "the spec records what runs"
    assert "cpu-cluster" in ws.compute_targets


def test_conda_packages_without_conda_install_with_pip(ws, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = Environment("v1-conda")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["pytorch=1.9", "cudatoolkit=11"],
                                                             pip_packages=["six"])
    with pytest.warns(UserWarning, match=r"conda packages pytorch=1.9, cudatoolkit=11 will be installed "
                                         r"with pip as torch==1.9.\*"):
        prepare_job(ScriptRunConfig(str(ws.root), "train.py", environment=env), ws)


def test_script_run_config_aliases(ws):
    by_alias = ScriptRunConfig(str(ws.root), entry_script="train.py", node_count=2,
                               distributed_training=Mpi(process_count_per_node=4))
    canonical = ScriptRunConfig(str(ws.root), script="train.py", node_count=2,
                                distributed_job_config=MpiConfiguration(process_count_per_node=4, node_count=2))
    assert by_alias.to_job_spec() == canonical.to_job_spec()
    seed = ScriptRunConfig(str(ws.root), entry_script="train.py", node_count=2,
                           communicator=MpiConfiguration(process_count_per_node=4))
    assert seed.to_job_spec() == canonical.to_job_spec()
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig(str(ws.root), script="a.py", entry_script="train.py", communicator="Mpi")
    assert info.value.paths() == ["entry_script", "communicator"]
    assert "distributed_job_config=MpiConfiguration(process_count_per_node=N)" in str(info.value)


SEED_EXAMPLE = """
pt_env = Environment.get(ws, name='AzureML-PyTorch-1-3-GPU')
src = ScriptRunConfig(source_directory=project_folder,
                        compute_target=compute_target,
                        entry_script='train.py',
                        arguments=['--num_epochs', '30'],
                        node_count=2,
                        communicator=MPI(process_count_per_node=4),
                        environment=pt_env,
                        inputs=[dataset.as_named_input('cifar10')])

# as an individual run
spec = prepare_job(src, ws)
"""


def test_the_seed_example_runs_or_says_what_to_change(ws):
    """The seed design's proposed example, with its syntax slips fixed (a ')' too many, a
    ':' for ','). Its `MPI` is no scriptrun or v1 name: Python names the fix (`Mpi`); with
    that one change the example validates as a 2-node × 4-rank MPI job."""
    from scriptrun import Dataset
    from scriptrun.train.dnn import Mpi

    data = ws.root / "cifar"
    data.mkdir()
    (data / "x.bin").write_bytes(b"0")
    dataset = Dataset.File.from_files(str(data))
    namespace = {"ws": ws, "Environment": Environment, "ScriptRunConfig": ScriptRunConfig, "Mpi": Mpi,
                 "project_folder": str(ws.root), "compute_target": "local", "dataset": dataset,
                 "prepare_job": prepare_job}
    with pytest.raises(NameError, match="'MPI' is not defined"):
        exec(textwrap.dedent(SEED_EXAMPLE), dict(namespace))
    shown = subprocess.run([sys.executable, "-c", "from scriptrun.train.dnn import Mpi\n"
                            "MPI(process_count_per_node=4)"], capture_output=True, text=True).stderr
    assert "Did you mean: 'Mpi'?" in shown, shown
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the AzureML curated name resolves to scriptrun-pytorch-cpu, with a warning
        exec(SEED_EXAMPLE.replace("MPI(", "Mpi("), namespace)
    spec = namespace["spec"]
    assert spec.node_count == 2 and spec.distributed_job_config.process_count_per_node == 4
    assert spec.script == "train.py" and list(spec.inputs) == ["cifar10"]
    assert spec.environment.name == "scriptrun-pytorch-cpu"


def test_run_details_outside_jupyter_prints_a_table(capsys):
    run = Run.get_context()
    run.log("loss", 0.5)
    run.log("loss", 0.25)
    run.log("accuracy", 0.9)
    capsys.readouterr()
    RunDetails(run).show()
    out = capsys.readouterr().out
    assert out.startswith(f"Run {run.id}: ")
    assert "loss      0.25 (last of 2)" in out and "accuracy  0.9" in out
