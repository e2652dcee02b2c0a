"""v1's ``run_config.data`` section (``Data``/``DataLocation``, or a .runconfig's mapping)
reduces to the same inputs as ``ScriptRunConfig(inputs=[...])``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scriptrun import (
    ConfigError,
    Data,
    DataLocation,
    Dataset,
    Datastore,
    RunConfiguration,
    ScriptRunConfig,
    Workspace,
)


@pytest.fixture
def setup(tmp_path: Path):
    ws = Workspace.create(tmp_path / "ws")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("a")
    store = Datastore.get_default(ws)
    store.upload(str(raw), target_path="imgs", show_progress=False)
    dataset = Dataset.File.from_files((store, "imgs")).register(ws, "cifar10")
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    (src_dir / "train.py").write_text("print(1)\n")
    return ws, dataset, src_dir


def test_data_section_equals_inputs(setup):
    ws, dataset, src_dir = setup
    legacy = ScriptRunConfig(str(src_dir), "train.py", run_config=RunConfiguration())
    legacy.run_config.data = {"cifar10": Data(data_location=DataLocation(dataset=dataset), mechanism="mount",
                                              environment_variable_name="cifar10", path_on_compute="/data")}
    new = ScriptRunConfig(str(src_dir), "train.py", inputs=[dataset.as_named_input("cifar10").as_mount("/data")])
    assert legacy.to_job_spec() == new.to_job_spec()
    assert legacy.to_job_spec().inputs["cifar10"].mode == "mount"


def test_data_section_from_a_runconfig_file(setup):
    ws, dataset, src_dir = setup
    (src_dir / ".azureml").mkdir()
    (src_dir / ".azureml" / "train.runconfig").write_text(textwrap.dedent("""
        script: train.py
        data:
          cifar10:
            dataLocation:
              dataset: {name: cifar10, version: 1}
            mechanism: download
            environmentVariableName: cifar10
    """))
    src = ScriptRunConfig(str(src_dir), run_config=RunConfiguration.load(str(src_dir), "train"))
    spec = src.to_job_spec()
    assert spec.inputs["cifar10"].dataset == "cifar10:1" and spec.inputs["cifar10"].mode == "download"


def test_bad_data_entries_name_their_field(setup):
    ws, dataset, src_dir = setup
    src = ScriptRunConfig(str(src_dir), "train.py", run_config=RunConfiguration())
    src.run_config.data = {
        "nothing": Data(data_location=DataLocation()),
        "odd": Data(data_location=DataLocation(dataset=dataset), mechanism="stream"),
    }
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["run_config.data.nothing.data_location", "run_config.data.odd.mechanism"]
    src.run_config.data = Data(data_location=DataLocation(dataset=dataset))
    with pytest.raises(ConfigError) as info:
        src.to_job_spec()
    assert info.value.paths() == ["run_config.data.environment_variable_name"]
