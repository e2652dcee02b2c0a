"""The public surface: one facade with a sorted ``__all__``, and ``import scriptrun`` stays light."""

from __future__ import annotations

import subprocess
import sys

import scriptrun


def test_all_is_sorted_and_complete():
    assert scriptrun.__all__ == sorted(scriptrun.__all__)
    for name in scriptrun.__all__:
        assert getattr(scriptrun, name) is not None
    public = {n for n in vars(scriptrun) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(scriptrun.__all__), f"exported but not in __all__: {public - set(scriptrun.__all__)}"


def test_import_does_not_load_mlflow_or_ray():
    code = ("import sys, scriptrun; from scriptrun import Run; Run.get_context(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('mlflow', 'ray', 'torch')]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_offline_context_prints_and_records(capsys):
    run = scriptrun.Run.get_context()
    assert run.id.startswith("OfflineRun_")
    run.log("loss", 0.5)
    run.log("loss", 0.25, step=1)  # v1's offline run raised TypeError on step=
    run.log_row("t", a=1)
    run.tag("k", "v")
    assert "Attempted to log scalar metric loss:\n0.5" in capsys.readouterr().out
    assert run.get_metrics() == {"loss": [0.5, 0.25], "t": {"a": 1}}
    assert run.get_tags() == {"k": "v"}
    with run as same:
        assert same is run
    child = run.child_run("fold1")
    assert child.id == f"{run.id}.fold1"


def test_offline_context_can_be_refused():
    import pytest

    with pytest.raises(scriptrun.RunError, match="allow_offline"):
        scriptrun.Run.get_context(allow_offline=False)
