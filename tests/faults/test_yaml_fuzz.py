"""Property-based fuzz of job YAML: generated and mutated documents each end in success or a
ConfigError, within a time and memory bound, through both readers of job files
(``ScriptRunConfig.from_yaml`` and the ``scriptrun validate`` path: ``script_run_config_from_args``
then ``prepare_job``). Never another exception."""

from __future__ import annotations

import os
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriptrun.config import ScriptRunConfig, prepare_job
from scriptrun.config.command_line import script_run_config_from_args
from scriptrun.errors import ConfigError
from scriptrun.spec.job import JobSpec
from scriptrun.workspace import Workspace

pytestmark = [pytest.mark.faults, pytest.mark.slow]  # thousands of documents: the inner loop skips them

SECONDS_PER_DOCUMENT = 2.0
MEMORY_PER_DOCUMENT = 64 * 2**20
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "800"))  # per test; 3 tests
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))

_KEYS = sorted(JobSpec.model_fields) + ["type", "process_count_per_node", "node_count", "name", "python",
                                        "docker", "<<", "entry_script", "x"]
_VALID = """\
source_directory: src
script: train.py
arguments: [--lr, 0.1, --epochs, 3, --flag, true]
compute_target: local
node_count: 1
max_run_duration_seconds: 600
environment_variables: {SEED: "1", OMP_NUM_THREADS: "2"}
"""
_SEEDS = [
    _VALID,
    "source_directory: src\ncommand: python train.py --n 1\n",
    "source_directory: src\nscript: train.py\n"
    "distributed_job_config: {type: mpi, process_count_per_node: 2}\n"
    "node_count: 2\n",
    "source_directory: src\nscript: train.py\ndistributed_job_config:\n  type: pytorch\n  process_count: 4\n"
    "  node_count: 2\n",
    "defaults: &d {A: '1'}\nsource_directory: src\nscript: train.py\nenvironment_variables:\n  <<: *d\n"
    "  B: '2'\narguments: &a [x, y]\n",
    "source_directory: src\nscript: train.py\nenvironment:\n  name: e\n  python:\n"
    "    user_managed_dependencies: true\n  environment_variables: {X: y}\n",
    "a0: &a0 [x, x, x]\na1: &a1 [*a0, *a0, *a0]\na2: &a2 [*a1, *a1, *a1]\narguments: *a2\n",
    "a: &r [*r]\n",
    "node_count: !!float x\nscript: !!binary aGk=\n"
    "arguments: [!!int 3, !!bool yes, !!timestamp 2024-01-01]\n",
    "script: |\n  multi\n  line\narguments: >\n  folded\n  text\n",
    "? complex\n: value\n[a]: b\n{x: 1}: c\n",
    "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\nscript: !e!foo x\n...\n",
    "'quoted': \"dq \\u00e9 \\x41\"\nplain: -1.5e3\noct: 0o17\nhex: 0x1F\nsexa: 1:30:00\nnull_: ~\n",
]
_TOKENS = ["\n", "  ", " ", "- ", ": ", ":", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "<<: ",
           "!!str ", "!!int ", "!!float ", "!!map ", "!!seq ", "!!binary ", "!x ", "? ", "|", ">", "#", "'",
           '"', "---", "...", "%YAML 1.1", "\t", "\\", "@", "`", "~", "null", "true", "1", "-1", "0x1", "1e400",
           ".nan", "script", "source_directory", "arguments", "node_count", "command", "src", "train.py",
           "environment_variables", "distributed_job_config", "type", "mpi", "\x00", "\x85", "\ufeff", "é"]


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                     st.text(max_size=30),
                     st.sampled_from(["src", "train.py", "local", "mpi", "pytorch", "--lr"]))


def _values() -> st.SearchStrategy[Any]:
    """Scalars, lists and mappings two levels deep (flat strategies: Hypothesis draws them fast)."""
    keys = st.sampled_from(_KEYS) | st.text(max_size=8)
    leaf = _scalars() | st.lists(_scalars(), max_size=4)
    return leaf | st.dictionaries(keys, leaf | st.dictionaries(keys, leaf, max_size=3), max_size=4)


@st.composite
def _generated(draw: st.DrawFn) -> bytes:
    """A job-shaped mapping (real and wrong keys, any values) dumped in a random YAML style."""
    data = draw(st.dictionaries(st.sampled_from(_KEYS), _values(), max_size=8))
    if draw(st.booleans()):
        data.setdefault("source_directory", "src")
        data.setdefault("script", "train.py")
    text = yaml.safe_dump(data, default_flow_style=draw(st.sampled_from([None, True, False])),
                          allow_unicode=draw(st.booleans()), sort_keys=draw(st.booleans()))
    return text.encode("utf-8")


@st.composite
def _mutated(draw: st.DrawFn, seeds: list[str] = _SEEDS) -> bytes:
    """A seed document (valid, hostile or odd) with byte-level edits: YAML tokens inserted,
    ranges deleted or duplicated, raw bytes (often not UTF-8) written in."""
    data = bytearray(draw(st.sampled_from(seeds)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "bytes", "replace"]))
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(_TOKENS)).encode("utf-8")
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif op == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 40))] * draw(st.integers(1, 4))
        elif op == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            data[at:at + 1] = draw(st.sampled_from(_TOKENS)).encode("utf-8")
    return bytes(data)


_tokens = st.lists(st.sampled_from(_TOKENS), max_size=60).map(lambda parts: "".join(parts).encode("utf-8"))


class _Harness:
    """Loads one document through both readers under the bounds; counts the outcomes."""

    def __init__(self, tmp: Path):
        (tmp / "src").mkdir(exist_ok=True)
        (tmp / "src" / "train.py").write_text("print('hi')\n")
        self.file = tmp / "job.yml"
        self.ws = Workspace.create(tmp / "project")
        self.outcomes: Counter[str] = Counter()

    def check(self, document: bytes) -> None:
        self.file.write_bytes(document)
        tracemalloc.start()  # traced only while loading: Hypothesis' own work stays fast
        try:
            start = time.perf_counter()
            outcome = self._load()
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.outcomes[outcome] += 1
        assert seconds < SECONDS_PER_DOCUMENT, f"{seconds:.2f} s for {document[:300]!r}"
        assert peak < MEMORY_PER_DOCUMENT, f"{peak / 2**20:.0f} MiB for {document[:300]!r}"

    def _load(self) -> str:
        results = []
        for read in (lambda: ScriptRunConfig.from_yaml(self.file),
                     lambda: prepare_job(script_run_config_from_args(str(self.file)), self.ws)):
            try:
                read()
                results.append("ok")
            except ConfigError as exc:
                assert exc.problems and all(p.message for p in exc.problems)
                results.append("ConfigError")
        return "/".join(results)


@pytest.fixture
def harness(tmp_path: Path) -> _Harness:
    return _Harness(tmp_path)


JOB_OUTCOMES = {"ok/ok", "ok/ConfigError", "ConfigError/ConfigError"}  # (from_yaml, validate path)


def _run(harness: _Harness, strategy: st.SearchStrategy[bytes], allowed: set[str] = JOB_OUTCOMES) -> None:
    @FUZZ
    @given(strategy)
    def check(document: bytes) -> None:
        harness.check(document)

    start = time.perf_counter()
    check()
    total = sum(harness.outcomes.values())
    print(f"{total} documents in {time.perf_counter() - start:.1f} s: {dict(harness.outcomes)}")
    assert total >= 0.9 * EXAMPLES
    assert set(harness.outcomes) <= allowed


def test_fuzz_generated_job_documents(harness: _Harness) -> None:
    _run(harness, _generated())


def test_fuzz_mutated_job_documents(harness: _Harness) -> None:
    _run(harness, _mutated())


def test_fuzz_token_soup(harness: _Harness) -> None:
    _run(harness, _tokens)
