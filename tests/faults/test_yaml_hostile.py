"""Hostile and broken YAML: each ends in a ConfigError naming the file, line and limit, fast."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scriptrun.config import ScriptRunConfig
from scriptrun.config.command_line import script_run_config_from_args
from scriptrun.config.runconfig import RunConfiguration
from scriptrun.errors import ConfigError
from scriptrun.spec import yamlio

pytestmark = pytest.mark.faults


@pytest.fixture
def job(tmp_path: Path) -> Callable[[str | bytes], Path]:
    """Write a job file next to a ``src/train.py``; return its path."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")

    def write(content: str | bytes) -> Path:
        file = tmp_path / "job.yml"
        if isinstance(content, bytes):
            file.write_bytes(content)
        else:
            file.write_text(content, encoding="utf-8")
        return file

    return write


def _error(file: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        ScriptRunConfig.from_yaml(file)
    # the CLI's `scriptrun validate`/`submit-script` path reads the file the same way
    with pytest.raises(ConfigError):
        script_run_config_from_args(str(file))
    return info.value


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["source_directory: src", "script: train.py", "a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"arguments: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_within_time_and_memory(job, load_bounded: Callable[..., Any]) -> None:
    file = job(_alias_bomb())
    assert file.stat().st_size < 600  # 9**9 = 387 M values if expanded
    result = load_bounded(file, timeout=20, memory_mb=2048)
    assert result["outcome"] == "ConfigError", result
    assert "MAX_ALIAS_VALUES" in result["message"] and "job.yml:" in result["message"]
    assert result["seconds"] < 1.0 and result["max_rss_mb"] < 300, result


def test_small_aliases_and_merge_keys_still_work(job) -> None:
    file = job("""
defaults: &defaults {OMP_NUM_THREADS: "1", SEED: "0"}
source_directory: src
script: train.py
arguments: &args [--lr, 0.1]
environment_variables:
  <<: *defaults
  SEED: "7"
""".replace("defaults: &defaults", "x_defaults: &defaults"))
    err = _error(file)  # the extra top-level key is reported, with its line: aliases were read fine
    assert err.paths() == ["x_defaults"] and err.problems[0].line == 2
    file = job("""
source_directory: src
script: train.py
environment_variables: &env {A: "1"}
arguments: [--x, 1]
""")
    spec = ScriptRunConfig.from_yaml(file).to_job_spec()
    assert spec.environment_variables == {"A": "1"}


def test_merge_key_keeps_explicit_keys(tmp_path: Path) -> None:
    file = tmp_path / "m.yml"
    file.write_text("base: &b {a: 1, b: 2}\nother: &o {b: 3, c: 4}\nm:\n  <<: [*b, *o]\n  c: 5\n")
    data, lines = yamlio.load_yaml_with_lines(file)
    assert data["m"] == {"a": 1, "b": 2, "c": 5}  # PyYAML's rule: earlier merges win, own keys win over all
    assert data["m"] == yaml.safe_load(file.read_text())["m"]
    assert lines[("m", "c")] == 5


@pytest.mark.parametrize("text", ["a: &r [*r]\n", "a: &r {k: *r}\n", "a: &r [1, [2, *r]]\n"])
def test_recursive_alias(job, text: str) -> None:
    err = _error(job("source_directory: src\nscript: train.py\n" + text))
    assert "recursive alias" in str(err) and err.problems[0].line == 3


def test_undefined_alias(job) -> None:
    err = _error(job("source_directory: src\nscript: train.py\narguments: *nope\n"))
    assert "*nope" in str(err) and err.problems[0].line == 3


@pytest.mark.parametrize("style", ["flow", "block", "mapping", "unclosed"])
def test_deep_nesting(job, style: str) -> None:
    depth = 500
    if style == "flow":
        body = "arguments: " + "[" * depth + "]" * depth
    elif style == "unclosed":
        body = "arguments: " + "[" * 200_000
    elif style == "block":
        body = "arguments:\n" + "".join("  " * i + "-\n" for i in range(depth))
    else:
        body = "environment_variables:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
    start = time.perf_counter()
    err = _error(job("source_directory: src\nscript: train.py\n" + body + "\n"))
    assert time.perf_counter() - start < 5
    assert "MAX_DEPTH" in str(err) or "not valid YAML" in str(err), str(err)
    assert err.problems[0].file and err.problems[0].line is not None


def test_invalid_utf8(job) -> None:
    err = _error(job(b"source_directory: src\nscript: tr\xffain.py\n"))
    assert "not valid UTF-8" in str(err) and "0xff" in str(err)
    assert err.problems[0].line == 2


def test_utf8_bom_and_non_ascii_are_fine(job) -> None:
    file = job("\ufeffsource_directory: src\nscript: train.py\narguments: [größe, 日本]\n".encode())
    assert ScriptRunConfig.from_yaml(file).to_job_spec().arguments == ["größe", "日本"]


@pytest.mark.parametrize("value", ["!!float x", "!!int x", "!!bool maybe", "!!timestamp x", "!!binary '@@'",
                                   "!!null x", "!!python/object:os.system x", "!custom x", "!!set {a}",
                                   "!!omap [a]", "!!str [a]", "!!int 1e99999", "1" + "0" * 5000])
def test_bad_tagged_scalars(job, value: str) -> None:
    err = _error(job(f"source_directory: src\nscript: train.py\nnode_count: {value}\n"))
    assert err.problems[0].line == 3, str(err)
    assert "Traceback" not in str(err)


@pytest.mark.parametrize("text, line, path", [
    ("source_directory: src\nscript: train.py\nscript: other.py\n", 3, "script"),
    ("source_directory: src\nscript: train.py\nenvironment_variables:\n  A: '1'\n  B: '2'\n  A: '3'\n", 6,
     "environment_variables.A"),
    ("source_directory: src\nscript: train.py\nenvironment_variables: {A: '1', A: '2'}\n", 3,
     "environment_variables.A"),
])
def test_duplicate_keys(job, text: str, line: int, path: str) -> None:
    err = _error(job(text))
    assert err.problems[0].line == line and err.problems[0].path == path
    assert "given twice" in str(err)


def test_duplicate_keys_in_runconfig_file(tmp_path: Path) -> None:
    file = tmp_path / "local.runconfig"
    file.write_text("script: train.py\ntarget: local\nscript: x.py\n")
    with pytest.raises(ConfigError) as info:
        RunConfiguration.load(file)
    assert info.value.problems[0].line == 3


def test_more_than_one_document(job) -> None:
    err = _error(job("source_directory: src\nscript: train.py\n---\nscript: x.py\n"))
    assert "more than one YAML document" in str(err) and err.problems[0].line == 3


def test_mapping_as_key(job) -> None:
    err = _error(job("source_directory: src\nscript: train.py\n? [a, b]\n: 1\n"))
    assert "mapping key" in str(err)


def test_file_size_limit(job) -> None:
    file = job("source_directory: src\n")
    with open(file, "r+b") as fh:  # sparse: big on paper, instant to write
        fh.truncate(yamlio.MAX_FILE_BYTES + 1)
    err = _error(file)
    assert "MAX_FILE_BYTES" in str(err)


def test_value_limit(job, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_VALUES", 1_000)
    err = _error(job("source_directory: src\nscript: train.py\narguments:\n" + "- a\n" * 2_000))
    assert "MAX_VALUES" in str(err) and err.problems[0].line is not None


def test_each_file_is_parsed_once(job, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("parse", "compose", "safe_load", "load"):
        original = getattr(yaml, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(yaml, name, counted)
    ScriptRunConfig.from_yaml(job("source_directory: src\nscript: train.py\narguments: [--n, 1]\n"))
    assert calls == ["parse"]


@pytest.mark.parametrize("kind", ["command", "arguments"])
def test_big_accepted_files_load_fast(job, kind: str) -> None:
    if kind == "command":  # an 8 MB command line
        file = job("source_directory: src\ncommand: " + "x" * (8 * 2**20) + "\n")
    else:  # 100,000 arguments
        items = "".join(f"- a{i}\n" for i in range(100_000))
        file = job("source_directory: src\nscript: train.py\narguments:\n" + items)
    start = time.perf_counter()
    src = ScriptRunConfig.from_yaml(file)
    seconds = time.perf_counter() - start
    assert (len(src.command) if kind == "command" else len(src.arguments)) in (8 * 2**20, 100_000)
    assert seconds < 5, f"{kind}: {seconds:.2f} s (was > 6 s when each file was parsed up to 4 times)"


@pytest.mark.parametrize("content", [
    _alias_bomb(), "a: &r [*r]\n",
    "arguments: " + "[" * 500 + "]" * 500 + "\n",
    "node_count: !!float x\n",
    b"script: \xff\n", "script: a.py\nscript: b.py\n",
], ids=["alias-bomb", "recursive-alias", "deep", "bad-tag", "utf8", "duplicate-key"])
def test_cli_validate_reports_without_traceback(job, content: str | bytes) -> None:
    """`scriptrun validate FILE` (every reader the CLI puts in front of the job loader
    included) answers a hostile file with the error and exit code 2, never a traceback."""
    file = job(content)
    proc = subprocess.run([sys.executable, "-m", "scriptrun", "validate", str(file)], capture_output=True,
                          text=True, timeout=60, cwd=file.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "job.yml:" in proc.stdout + proc.stderr


def test_files_pyyaml_reads_but_libyaml_refuses_still_load(tmp_path: Path) -> None:
    """v1 runconfig files hold `{address:, username:}`, which libyaml refuses and PyYAML reads."""
    text = "docker:\n  baseImageRegistry: {address:, username:, password:}\n  x: 1\n"
    file = tmp_path / "x.runconfig"
    file.write_text(text)
    data, lines = yamlio.load_yaml_with_lines(file)
    assert data == yaml.safe_load(text) and lines[("docker", "x")] == 3


@pytest.mark.parametrize("content", ['source_directory: "src\\0x"\nscript: train.py\n', 'script: "train\\0.py"\n'])
def test_a_nul_in_a_path_is_a_config_error(job, content: str) -> None:
    """Found by the fuzz: a NUL reached ``Path.resolve`` and escaped as ValueError."""
    err = _error(job(content))
    assert "NUL" in str(err) and "job.yml:1" in str(err)
