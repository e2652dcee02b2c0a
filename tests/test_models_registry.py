"""The agent side of v1's model registry on a real MLflow store: register from a run's
artifacts and from a local file, integer versions, tags and properties, list, get, download."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptrun.agent.models import download_model, get_model, list_models, register_model
from scriptrun.agent.protocol import DownloadModel, GetModel, ListModels, RegisterModel
from scriptrun.errors import RunError
from scriptrun.models import _filters


@pytest.fixture
def client(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_register_list_get_download(client, tmp_path: Path):
    artifacts = tmp_path / "artifacts"
    experiment = client.create_experiment("e", artifact_location=artifacts.as_uri())
    run_id = client.create_run(experiment).info.run_id
    model_file = tmp_path / "model.pkl"
    model_file.write_text("weights")
    client.log_artifact(run_id, str(model_file), "outputs")

    first = register_model(client, RegisterModel(name="clf", model_path="outputs/model.pkl", run_id=run_id,
                                                 tags={"area": "iris"}, properties={"accuracy": "0.9"}),
                           artifact_root=artifacts)
    assert (first["id"], first["version"], first["run_id"]) == ("clf:1", 1, run_id)
    assert first["tags"] == {"area": "iris"} and first["properties"] == {"accuracy": "0.9"}
    second = register_model(client, RegisterModel(name="clf", model_path=str(model_file)), artifact_root=artifacts)
    assert second["version"] == 2 and second["run_id"] is None
    model_file.write_text("changed later")  # a registered version keeps its own copy

    assert [m["version"] for m in list_models(client, ListModels(name="clf"))] == [2, 1]
    assert [m["id"] for m in list_models(client, ListModels(latest=True))] == ["clf:2"]
    assert [m["version"] for m in list_models(client, ListModels(tags={"area": None}))] == [1]
    assert [m["version"] for m in list_models(client, ListModels(properties={"accuracy": "0.9"}))] == [1]
    assert get_model(client, GetModel(name="clf"))["version"] == 2
    path = download_model(client, DownloadModel(name="clf", version=2, target_dir=str(tmp_path / "dl")))
    assert Path(path).read_text() == "weights"
    with pytest.raises(RunError, match="exist_ok=True"):
        download_model(client, DownloadModel(name="clf", version=2, target_dir=str(tmp_path / "dl")))
    with pytest.raises(RunError, match="no model named 'nope'"):
        get_model(client, GetModel(name="nope"))
    with pytest.raises(RunError, match="has no artifact"):
        register_model(client, RegisterModel(name="clf", model_path="outputs/missing.pkl", run_id=run_id),
                       artifact_root=artifacts)


def test_v1_filter_shapes():
    assert _filters([["area", "iris"], "flag"]) == {"area": "iris", "flag": None}
    assert _filters({"k": 1}) == {"k": "1"} and _filters(None) == {}
