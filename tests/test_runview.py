"""How runs read in MLflow, as pure functions: params from a spec, the error text, tables."""

from scriptrun.agent.runview import (
    MAX_PARAM_VALUE,
    argument_params,
    description_with_error,
    error_text,
    run_params,
    snapshot_mentions,
    table_columns,
)


def test_arguments_become_name_value_params():
    args = ["--lr", 0.1, "--flag", "--x=3", "data.csv", 5, "-n", "-1", "--last"]
    assert argument_params(args) == {"lr": "0.1", "flag": "true", "x": "3", "arg_0": "data.csv", "arg_1": "5",
                                     "n": "-1", "last": "true"}
    assert argument_params(["--w", True]) == {"w": "true"}


def test_spec_params_and_limits():
    spec = {"arguments": ["--node_count", "7", "--long", "x" * 10000], "node_count": 2,
            "distributed_job_config": {"type": "pytorch", "process_count": 4, "communication_backend": "gloo"},
            "environment": {"name": "env", "version": "3"},
            "inputs": {"d": {"dataset": "ds:2"}, "e": {"dataset": {"name": "reg", "version": 5}}}}
    params = run_params(spec)
    assert params["node_count"] == "7"  # the script's own argument wins
    assert params["distributed_type"] == "pytorch" and params["process_count"] == "4"
    assert params["environment"] == "env:3" and params["input.d"] == "ds:2" and params["input.e"] == "reg:5"
    assert params["compute_target"] == "local" and len(params["long"]) == MAX_PARAM_VALUE


def test_error_text_and_description():
    error = {"code": "UserError", "message": "process 0 exited with code 3: boom", "exit_code": 3,
             "process": "rank 0", "stderr_tail": "Traceback\nValueError: boom\n"}
    text = error_text(error)
    assert "exit code: 3" in text and "failed process: rank 0" in text and "ValueError: boom" in text
    assert description_with_error("My run", error).startswith("My run\n\n**UserError**")


def test_rows_and_tables_become_columns():
    records = [{"k": "r", "n": "t", "v": {"a": 1}}, {"k": "r", "n": "t", "v": {"a": 2, "b": 3}},
               {"k": "tb", "n": "u", "v": {"x": [1, 2]}}, {"k": "m", "n": "loss", "v": 0.1}]
    assert table_columns(records) == {"t": {"a": [1, 2], "b": [None, 3]}, "u": {"x": [1, 2]}}


def test_snapshot_mentions(tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    assert not snapshot_mentions(tmp_path, (b"mlflow",))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "log.py").write_text("import MLflow\n")
    assert snapshot_mentions(tmp_path, (b"mlflow",))
