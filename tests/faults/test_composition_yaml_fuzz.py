"""Property-based fuzz of pipeline YAML and v1's HyperDrive YAML, like the job YAML fuzz
(tests/faults/test_yaml_fuzz.py): generated and byte-mutated documents each end in success or a
ConfigError within a time and memory bound, never another exception. A pipeline that loads is
also validated (its steps lowered to job specs), as ``scriptrun validate`` does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import strategies as st

from faults import test_yaml_fuzz as fuzz
from scriptrun.errors import ConfigError
from scriptrun.hyperdrive.yamlfile import load_hyperdrive_yaml
from scriptrun.pipeline.pipeline import Pipeline
from scriptrun.workspace import Workspace

pytestmark = pytest.mark.faults

_PIPELINE_SEEDS = [
    "description: prep then train\ninputs: {lr: 0.1}\njobs:\n"
    "  prep:\n    source_directory: src\n    script: train.py\n"
    "    arguments: [--out, \"${{outputs.prepped}}\"]\n    outputs: {prepped: {}}\n"
    "  train:\n    source_directory: src\n    script: train.py\n"
    "    arguments: [--inp, \"${{inputs.inp}}\", --lr, \"${{parent.inputs.lr}}\"]\n"
    "    inputs: {inp: \"${{parent.jobs.prep.outputs.prepped}}\"}\n",
    "jobs:\n  a: {source_directory: src, script: train.py}\n  b: job.yml\n",
    "jobs:\n  a: &j {source_directory: src, script: train.py, allow_reuse: false}\n  b: *j\n",
    "inputs: {n: 3, name: x, flag: true}\njobs:\n  a:\n    source_directory: src\n    command: python train.py --n ${{parent.inputs.n}}\n",
]
_SWEEP_SEEDS = [
    "sampling:\n  type: random\n  properties: {rng_seed: 7}\n  parameter_space:\n"
    "  - name: --lr\n    expression: loguniform\n    values: [-6, -1]\n"
    "  - name: --epochs\n    expression: choice\n    values: [4, 8]\n"
    "policy:\n  type: BanditPolicy\n  evaluation_interval: 1\n  slack_factor: 0.5\n"
    "primary_metric_name: loss\nprimary_metric_goal: Minimize\nmax_total_runs: 6\nmax_concurrent_runs: 2\n",
    "sampling:\n  type: grid\n  parameter_space:\n  - {name: --a, expression: choice, values: [1, 2]}\n"
    "primary_metric_name: acc\nprimary_metric_goal: maximize\nmax_total_runs: 4\n",
    "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: x, expression: uniform, values: [0, 1]}\n"
    "policy: {type: TruncationSelectionPolicy, truncation_percentage: 10}\n"
    "primary_metric_name: m\nprimary_metric_goal: Minimize\nmax_total_runs: 20\n",
]
_PIPELINE_KEYS = ["description", "inputs", "jobs", "outputs", "settings", "x"]
_STEP_KEYS = ["source_directory", "script", "command", "arguments", "inputs", "outputs", "allow_reuse",
              "environment", "compute_target", "node_count", "x"]
_SWEEP_KEYS = ["sampling", "policy", "primary_metric_name", "primary_metric_goal", "max_total_runs",
               "max_concurrent_runs", "max_duration_minutes", "type", "parameter_space", "name",
               "expression", "values", "evaluation_interval", "slack_factor", "x"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**40), st.floats(allow_nan=True),
                     st.text(max_size=20), st.sampled_from(["src", "train.py", "${{parent.inputs.lr}}",
                                                            "${{parent.jobs.a.outputs.o}}", "choice", "random"]))


def _tree(keys: list[str]) -> st.SearchStrategy[Any]:
    k = st.sampled_from(keys) | st.text(max_size=6)
    leaf = _SCALARS | st.lists(_SCALARS, max_size=4)
    level2 = leaf | st.dictionaries(k, leaf, max_size=4) | st.lists(st.dictionaries(k, leaf, max_size=3), max_size=3)
    return st.dictionaries(k, level2 | st.dictionaries(k, level2, max_size=3), max_size=6)


def _dumped(data: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda d, flow: yaml.safe_dump(d, default_flow_style=flow).encode(),
                     data, st.sampled_from([None, True, False]))


def _maybe(draw: st.DrawFn, valid: Any, keys: list[str]) -> Any:
    """Mostly the valid value; sometimes anything."""
    return valid if draw(st.integers(0, 7)) else draw(_tree(keys))


@st.composite
def _pipelines(draw: st.DrawFn) -> dict[str, Any]:
    """Pipeline-shaped documents: real keys and references, values sometimes wrong."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "prep", "train"]), min_size=1, max_size=4, unique=True))
    jobs: dict[str, Any] = {}
    for i, name in enumerate(names):
        ref = draw(st.sampled_from(["${{parent.inputs.lr}}", f"${{{{parent.jobs.{names[i - 1]}.outputs.o}}}}",
                                    "${{outputs.o}}", "${{inputs.i}}", "${{parent.jobs.zz.outputs.o}}", "plain"]))
        step = {"source_directory": _maybe(draw, "src", _STEP_KEYS), "script": _maybe(draw, "train.py", _STEP_KEYS),
                "arguments": ["--x", ref], "outputs": {"o": {}}}
        if i and draw(st.booleans()):
            step["inputs"] = {"i": f"${{{{parent.jobs.{names[i - 1]}.outputs.o}}}}"}
        if draw(st.booleans()):
            step[draw(st.sampled_from(_STEP_KEYS))] = draw(_SCALARS)
        jobs[name] = step if draw(st.integers(0, 5)) else draw(st.sampled_from(["job.yml", "missing.yml", 3]))
    doc: dict[str, Any] = {"jobs": jobs, "inputs": {"lr": draw(_SCALARS)}}
    if draw(st.booleans()):
        doc[draw(st.sampled_from(_PIPELINE_KEYS))] = draw(_SCALARS)
    return doc


@st.composite
def _sweeps(draw: st.DrawFn) -> dict[str, Any]:
    """HyperDrive-shaped documents: real keys, expressions and policies, values sometimes wrong."""
    space = [{"name": draw(st.sampled_from(["--lr", "--n", "x"])),
              "expression": draw(st.sampled_from(["choice", "uniform", "quniform", "loguniform", "randint",
                                                  "normal", "qlognormal", "bogus"])),
              "values": _maybe(draw, [1, 3], _SWEEP_KEYS)}
             for _ in range(draw(st.integers(0, 3)))]
    policy = {"type": draw(st.sampled_from(["BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
                                            "NoTerminationPolicy", "Bogus"])),
              "evaluation_interval": _maybe(draw, 1, _SWEEP_KEYS), "slack_factor": _maybe(draw, 0.2, _SWEEP_KEYS)}
    doc = {"sampling": {"type": _maybe(draw, "random", _SWEEP_KEYS),
                        "parameter_space": _maybe(draw, space, _SWEEP_KEYS)},
           "policy": _maybe(draw, policy, _SWEEP_KEYS),
           "primary_metric_name": _maybe(draw, "loss", _SWEEP_KEYS),
           "primary_metric_goal": _maybe(draw, "Minimize", _SWEEP_KEYS),
           "max_total_runs": _maybe(draw, 4, _SWEEP_KEYS), "max_concurrent_runs": _maybe(draw, 2, _SWEEP_KEYS)}
    if draw(st.booleans()):
        doc.pop(draw(st.sampled_from(sorted(doc))))
    return doc


class _Harness(fuzz._Harness):
    """The job fuzz's harness (time and memory bounds, outcome counts) over another loader."""

    def __init__(self, tmp: Path, load: Callable[[Workspace, Path], object]):
        super().__init__(tmp)
        (tmp / "job.yml").write_text("source_directory: src\nscript: train.py\n")  # a step may name it
        self.file, self.load = tmp / "doc.yml", load

    def _load(self) -> str:
        try:
            self.load(self.ws, self.file)
            return "ok"
        except ConfigError as exc:
            assert exc.problems and all(p.message for p in exc.problems)
            return "ConfigError"

    def run(self, strategy: st.SearchStrategy[bytes]) -> None:
        fuzz._run(self, strategy, allowed={"ok", "ConfigError"})


def _load_pipeline(ws: Workspace, file: Path) -> None:
    pipeline = Pipeline.from_yaml(ws, file)
    problems = pipeline.validate()
    assert isinstance(problems, list)


def _load_sweep(ws: Workspace, file: Path) -> None:
    load_hyperdrive_yaml(file)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["generated", "mutated"])
def test_fuzz_pipeline_yaml(tmp_path: Path, strategy: str) -> None:
    _Harness(tmp_path, _load_pipeline).run(_dumped(_pipelines()) if strategy == "generated"
                                           else fuzz._mutated(_PIPELINE_SEEDS))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["generated", "mutated"])
def test_fuzz_hyperdrive_yaml(tmp_path: Path, strategy: str) -> None:
    _Harness(tmp_path, _load_sweep).run(_dumped(_sweeps()) if strategy == "generated" else fuzz._mutated(_SWEEP_SEEDS))


def test_a_parameter_defined_twice_is_a_config_error(tmp_path: Path) -> None:
    """Found by the fuzz: two entries of one name passed validation with no problem, then crashed."""
    doc = tmp_path / "sweep.yml"
    doc.write_text(_SWEEP_SEEDS[1].replace("values: [1, 2]}\n", "values: [1, 2]}\n  - {name: --a, expression: choice, "
                                                               "values: [3]}\n"))
    with pytest.raises(ConfigError, match=r"parameter '--a' is already defined at sampling.parameter_space\[0\]"):
        load_hyperdrive_yaml(doc)
