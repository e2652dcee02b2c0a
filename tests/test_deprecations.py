"""Deprecated v1 paths keep working, warn with DeprecationWarning and name the replacement."""

from __future__ import annotations

import pytest

from scriptrun import Environment, Run, RunConfiguration, RunError


def test_environment_docker_runtime_fields_point_at_docker_configuration():
    env = Environment("legacy")
    with pytest.warns(DeprecationWarning, match="docker_runtime_config=DockerConfiguration\\(shm_size="):
        env.docker.shm_size = "8g"
    assert env.docker.shm_size == "8g"
    with pytest.warns(DeprecationWarning, match="use_docker"):
        env.docker.enabled = False


def test_run_get_submitted_run_points_at_get_context():
    with pytest.warns(DeprecationWarning, match="get_context\\(allow_offline=False\\)"), \
            pytest.raises(RunError):
        Run.get_submitted_run()


def test_auto_prepare_environment_is_a_no_op():
    rc = RunConfiguration()
    with pytest.warns(DeprecationWarning, match="no effect"):
        rc.auto_prepare_environment = False
    with pytest.warns(DeprecationWarning):
        assert rc.auto_prepare_environment is True
