"""``Experiment``: a named group of runs in a workspace, and the one submission entry point.

``Experiment.submit(config)`` dispatches on the config's type through a small registry
(``register_submit_function``), as v1 does; every script run — standalone, pipeline step or
sweep trial — ends in :func:`scriptrun.runs.submit.submit_job`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from scriptrun.agent.protocol import Submit
from scriptrun.errors import ConfigError, Problem, SubmitError
from scriptrun.rundir import RunKind
from scriptrun.runs.run import Run, agent_client, new_run_id
from scriptrun.workspace import Workspace

SubmitFunction = Callable[..., "Run"]
_SUBMIT_FUNCTIONS: dict[type, SubmitFunction] = {}
_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")


def register_submit_function(config_class: type, function: SubmitFunction) -> None:
    """Register how ``Experiment.submit`` submits instances of ``config_class``.

    ``function(config, workspace, experiment_name, *, tags=None, **kwargs) -> Run``.
    """
    existing = _SUBMIT_FUNCTIONS.get(config_class)
    if existing is not None and existing is not function:
        raise ValueError(f"a different submit function is already registered for {config_class.__name__}")
    _SUBMIT_FUNCTIONS[config_class] = function


class Experiment:
    """A named group of runs (an MLflow experiment) in a workspace."""

    def __init__(self, workspace: Workspace | None = None, name: str = "Default"):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(Problem("name", f"invalid experiment name {name!r}",
                                      hint="1-255 characters: letters, digits, '_' or '-', starting with a "
                                           "letter or digit"))
        self.workspace = workspace if workspace is not None else Workspace.resolve()
        self.name = name

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Run:
        """Validate and submit ``config`` (a ``ScriptRunConfig``, …); return its run at once."""
        for cls in type(config).__mro__:
            function = _SUBMIT_FUNCTIONS.get(cls)
            if function is not None:
                return function(config, self.workspace, self.name, tags=tags, **kwargs)
        raise SubmitError(f"cannot submit a {type(config).__name__}: expected a ScriptRunConfig "
                          "(or another registered run configuration)")

    def get_runs(self, type: str | None = None, tags: dict[str, str] | str | None = None,
                 properties: dict[str, str] | str | None = None, include_children: bool = False) -> Iterator[Run]:
        """This experiment's runs, newest first."""
        yield from Run.list(self, type=type, tags=tags, properties=properties, include_children=include_children)

    def start_logging(self, *args: Any, outputs: str | bool | None = None, **kwargs: Any) -> Run:
        """Start an interactive run (no process) to log to from this Python session; end it
        with ``run.complete()``/``run.fail()`` or use it as a context manager. Files in
        ``./outputs`` (or the folder given as ``outputs``) are uploaded when it ends."""
        run_id = kwargs.get("run_id") or new_run_id(self.name)
        agent_client(self.workspace).request(Submit(run_id=run_id, experiment=self.name, kind=RunKind.INTERACTIVE,
                                                    parent_run_id=kwargs.get("_parent_run_id")))
        run = Run(self, run_id)
        if outputs is not False:
            run._outputs_dir = os.path.abspath(outputs if isinstance(outputs, str) else "outputs")
        return run

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace!r})"
