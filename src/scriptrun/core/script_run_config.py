"""v1's ``azureml.core.script_run_config`` (re-exported; no logic here)."""

from scriptrun.config import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
