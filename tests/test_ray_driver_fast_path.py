"""The Ray driver's fast path: a single-process job planned by the agent, so the driver imports
only the shim — and gives the processes exactly what planning on the node would have."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scriptrun.compute import ray_driver
from scriptrun.compute.local import plan_launch, write_launch
from scriptrun.spec import JobSpec


def test_the_driver_module_imports_neither_the_spec_nor_pydantic() -> None:
    code = ("import sys, scriptrun.compute.ray_driver; "
            "print(sorted(m for m in ('pydantic', 'scriptrun.spec', 'ray', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


@pytest.mark.parametrize("job_path", [None, "/opt/job/bin:/usr/bin"])
def test_the_agent_s_plan_on_the_node_equals_planning_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             job_path: str | None) -> None:
    monkeypatch.setenv("PATH", "/node/bin:/usr/bin")
    monkeypatch.setenv("RAY_NODE_THING", "1")
    monkeypatch.setenv(ray_driver.JOB_VAR, "{}")  # the job itself never reaches the processes
    monkeypatch.setenv(ray_driver.SECRETS_VAR, '{"TOKEN": "s3cret"}')  # nor the secrets (the shim adds them)
    spec = JobSpec(source_directory=str(tmp_path), script="train.py", arguments=["--lr", "$LR"],
                   environment_variables={"LR": "0.1"})
    env = {"SCRIPTRUN_RUN_ID": "r1", "LR": "0.1", **({"PATH": job_path} if job_path else {})}
    python = "/envs/job/bin/python"
    run_dir, workdir = tmp_path / "run", tmp_path / "run" / "wd"
    run_dir.mkdir()
    on_node = write_launch(run_dir, workdir, spec, {**ray_driver._driver_env(), **env}, python,
                           grace_seconds=ray_driver.GRACE_SECONDS)
    planned = plan_launch(run_dir, workdir, spec, env, python, grace_seconds=ray_driver.GRACE_SECONDS)
    fast = ray_driver._on_this_node(json.loads(json.dumps(planned)), {"env": env, "python": python})
    assert fast == on_node
    process_env = fast["processes"][0]["env"]
    assert process_env["PATH"].startswith("/envs/job/bin:") and process_env["RAY_NODE_THING"] == "1"
    assert ray_driver.JOB_VAR not in process_env and ray_driver.SECRETS_VAR not in process_env
