"""The cache of built virtual environments, keyed by a content hash of the resolved definition.

``ensure_environment(ws, env)`` returns the interpreter of the environment's virtualenv under
``.scriptrun/envs/<hash>/``, building it first if it is not cached:

* the hash covers what changes the result: the package lists and pip options, the base
  interpreter's version, the find-links passed to the installer, the scriptrun runtime
  packages added to every environment, and the builder's own format version;
* one build per hash at a time (an ``flock`` per hash), so two runs that need a new
  environment at the same moment build it once — the second waits, then reuses it;
* a build goes into a temporary folder next to the cache entry and is renamed into place
  only when it succeeded; a failure removes the folder and raises
  :class:`~scriptrun.errors.EnvironmentBuildError` with the tail of the build log.

Builds use ``uv`` (``uv venv --relocatable`` + ``uv pip install --compile-bytecode``; this
machine sets ``PYTHONDONTWRITEBYTECODE=1``, and without bytecode every import is 2–3× slower),
found from the ``uv`` package that scriptrun depends on, else on PATH. They fall back to
``python -m venv`` + ``pip`` + ``compileall`` when uv is absent, or when
``SCRIPTRUN_ENV_INSTALLER=pip``; a file that does not compile (torch ships one for a newer
Python) is logged, not a failure. A failed build's error leads with the installer's own error
lines; the resolved definition stays in the build log. Conda packages are built
with micromamba/mamba/conda when one is on PATH, and otherwise with pip under their pip names
(``scriptrun.spec.conda_pip``; a package with no pip equivalent is rejected by validation).

So that a script in a built environment can still ``from scriptrun import Run``, each
environment gets ``scriptrun_runtime.pth`` pointing at a folder holding a link to this
scriptrun package, and scriptrun's light runtime dependencies (pydantic, PyYAML, fsspec)
pinned to the versions installed here, unless the definition lists them itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import scriptrun
from scriptrun.errors import EnvironmentBuildError
from scriptrun.spec.checks import conda_tool, find_interpreter, needs_build
from scriptrun.spec.conda_pip import pip_requirements
from scriptrun.spec.job import EnvironmentSpec
from scriptrun.workspace import Workspace
from scriptrun.workspace.locking import atomic_write, file_lock

BUILDER_VERSION = 1
RUNTIME_PACKAGES = ("pydantic", "PyYAML", "fsspec", "pathspec")  # what `import scriptrun` + data access need
MANIFEST = "scriptrun-env.json"
LOG_TAIL_LINES = 25
CANCEL_POLL_SECONDS = 0.2  # how often a running build step checks for a cancel
STOP_GRACE_SECONDS = 5.0  # SIGTERM → SIGKILL of a canceled build step
INSTALLER_VARIABLE = "SCRIPTRUN_ENV_INSTALLER"  # auto (the default) | uv | pip
# where an installer's own error starts: pip's "ERROR:"/"error:", uv's "error:"/"×", a Python exception
_ERROR_START = re.compile(r"^\s*(ERROR\b|error\b|×|Traceback\b|[A-Za-z]*(Error|Exception)\b:)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready environment: its hash, folder and interpreter, and how it was obtained."""

    hash: str
    path: Path
    python: str
    cached: bool
    seconds: float


def envs_dir(workspace: Workspace) -> Path:
    return workspace.dir / "envs"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pip_packages: list[str]) -> list[str]:
    """scriptrun's runtime packages pinned to this machine's versions, minus those the
    definition already lists."""
    listed = {_normalise(m.group(1)) for p in pip_packages if (m := _NAME.match(p))}
    out = []
    for package in RUNTIME_PACKAGES:
        if _normalise(package) in listed:
            continue
        try:
            out.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(package)
    return out


def find_links() -> list[str]:
    """pip's ``PIP_FIND_LINKS`` (uv does not read pip's configuration: pass it on)."""
    return [item for item in os.environ.get("PIP_FIND_LINKS", "").split() if item]


def base_interpreter(env: EnvironmentSpec, client_python: str | None = None) -> str:
    conda = env.python.conda_dependencies
    version = conda.python_version if conda is not None else None
    if not version and client_python:
        return client_python
    found = find_interpreter(version)
    if found is None:
        raise EnvironmentBuildError(f"no Python {version} on this machine for environment {env.name!r}")
    return found


def _python_version(python: str) -> str:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return ".".join(map(str, sys.version_info[:3]))
    out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or python


def resolved_definition(env: EnvironmentSpec, base_python: str) -> dict[str, object]:
    """What the environment's content hash covers."""
    conda = env.python.conda_dependencies
    assert conda is not None
    return {
        "builder": BUILDER_VERSION,
        "python": _python_version(base_python),
        "channels": list(conda.channels),
        "conda_packages": list(conda.conda_packages),
        "pip_packages": list(conda.pip_packages),
        "pip_options": list(conda.pip_options),
        "runtime": runtime_requirements(list(conda.pip_packages)),
        "find_links": find_links(),
        "scriptrun": str(Path(scriptrun.__file__).resolve().parent),
    }


def environment_hash(definition: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:24]


class BuildCanceled(Exception):
    """The build was stopped because its run was canceled; nothing of it was kept."""


@dataclass(frozen=True)
class BuildControl:
    """How a run steers its environment's build: ``canceled`` is polled while a build step
    runs (true: the step's process group is stopped, the half-built folder removed and
    :class:`BuildCanceled` raised); the running step's process group id is kept in
    ``pid_file``, so that an agent that died mid-build is followed by one that stops the
    orphaned step (:func:`stop_orphaned_build`)."""

    canceled: Callable[[], bool] = lambda: False
    pid_file: Path | None = None


def stop_orphaned_build(pid_file: Path) -> None:
    """SIGKILL the build step recorded in ``pid_file`` (its builder died) and forget it."""
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    pid_file.unlink(missing_ok=True)


def ensure_environment(workspace: Workspace, env: EnvironmentSpec, *, log_file: str | os.PathLike[str],
                       client_python: str | None = None,
                       control: BuildControl = BuildControl()) -> BuiltEnvironment:
    """The built environment of ``env`` (from the cache, or built now), with its build log
    appended to ``log_file``; ``control`` lets the run cancel the build."""
    if not needs_build(env):
        raise ValueError("ensure_environment() needs an environment with package lists")
    started = time.perf_counter()
    base = base_interpreter(env, client_python)
    definition = resolved_definition(env, base)
    digest = environment_hash(definition)
    root = envs_dir(workspace)
    final = root / digest
    if (final / "bin" / "python").exists():  # the fast path: no lock needed to read a finished entry
        return BuiltEnvironment(digest, final, str(final / "bin" / "python"), True, time.perf_counter() - started)
    log_path = Path(log_file)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(root / ".locks" / f"{digest}.lock"):
        if (final / "bin" / "python").exists():  # someone built it while we waited
            with open(log_path, "a") as log:
                log.write(f"environment {digest} was built by a concurrent run; reusing it\n")
            return BuiltEnvironment(digest, final, str(final / "bin" / "python"), True,
                                    time.perf_counter() - started)
        if control.canceled():
            raise BuildCanceled()
        for abandoned in root.glob(f".{digest}.tmp-*"):  # left by a builder that died mid-build (we hold
            shutil.rmtree(abandoned, ignore_errors=True)  # the hash's lock: no live build of it exists)
        tmp = root / f".{digest}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        try:
            with open(log_path, "a") as log:
                log.write(f"building environment {env.name or '(unnamed)'} -> {digest}\n"
                          f"definition: {json.dumps(definition, indent=2)}\n")
                log.flush()
                _build(tmp, env, base, definition, log, control)
            atomic_write(tmp / MANIFEST, json.dumps({"hash": digest, "name": env.name, "definition": definition,
                                                     "built": time.time()}, indent=2))
            _relocate(tmp, final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    seconds = time.perf_counter() - started
    with open(log_path, "a") as log:
        log.write(f"environment {digest} built in {seconds:.1f} s\n")
    return BuiltEnvironment(digest, final, str(final / "bin" / "python"), False, seconds)


def _build(target: Path, env: EnvironmentSpec, base: str, definition: dict[str, object], log,
           control: BuildControl) -> None:
    conda = env.python.conda_dependencies
    assert conda is not None
    uv = find_uv()
    quiet_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_COMPILE_BYTECODE": "1",
                 "PYTHONDONTWRITEBYTECODE": ""}
    tool = conda_tool() if conda.conda_packages else None
    from_conda: list[str] = []
    if conda.conda_packages and tool is None:  # no conda: their pip equivalents (validation checked them)
        from_conda, missing = pip_requirements(list(conda.conda_packages))
        if missing:
            raise EnvironmentBuildError(f"conda packages {', '.join(missing)} need conda or micromamba, and "
                                        "neither is on PATH")
        log.write(f"no conda on PATH: installing conda packages {conda.conda_packages} with pip as {from_conda}\n")
    if tool is not None:
        python_pin = f"python={conda.python_version or definition['python']}"
        channels = [a for c in conda.channels for a in ("-c", c)]
        _run([tool, "create", "-y", "-p", str(target), *channels, python_pin, *conda.conda_packages],
             log, quiet_env, "conda create", control=control)
    elif uv:
        _run([uv, "venv", "--relocatable", "--python", base, str(target)], log, quiet_env, "uv venv", control=control)
    else:
        _run([base, "-m", "venv", str(target)], log, quiet_env, "python -m venv", control=control)
    python = str(target / "bin" / "python")
    requirements = target / "scriptrun-requirements.txt"
    runtime = [str(r) for r in definition["runtime"]]  # type: ignore[union-attr]
    requirements.write_text("\n".join([*from_conda, *conda.pip_packages, *runtime]) + "\n")
    options = [part for option in conda.pip_options for part in option.split()]
    links = [a for link in find_links() for a in ("--find-links", link)]
    if uv:
        _run([uv, "pip", "install", "--python", python, "--compile-bytecode", *links, *options,
              "-r", str(requirements)], log, quiet_env, "uv pip install", control=control)
    else:
        _run([python, "-m", "pip", "install", "--disable-pip-version-check", *links, *options,
              "-r", str(requirements)], log, quiet_env, "pip install", control=control)
        # pip compiles what it installs but not every file; a file that cannot compile on this
        # Python (torch ships one for 3.12) makes compileall exit 1: keep the bytecode, log the rest
        _run([python, "-m", "compileall", "-q", str(target / "lib")], log, quiet_env, "compileall",
             check=False, control=control)
    _install_runtime_link(target, python)


def find_uv() -> str | None:
    """The ``uv`` binary to build with: from the installed ``uv`` package (a dependency of
    scriptrun), else on PATH; None means the pip fallback (uv absent, or
    ``SCRIPTRUN_ENV_INSTALLER=pip``)."""
    choice = os.environ.get(INSTALLER_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in ("auto", "uv", "pip"):
        raise EnvironmentBuildError(f"{INSTALLER_VARIABLE}={choice!r} is not an installer: "
                                    "use auto (the default), uv or pip")
    if choice == "pip":
        return None
    try:
        import uv  # the PyPI package that ships the uv binary

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None and choice == "uv":
        raise EnvironmentBuildError(f"{INSTALLER_VARIABLE}=uv but uv is not installed: `pip install uv`, "
                                    f"or unset {INSTALLER_VARIABLE} to fall back to pip")
    return found


def _install_runtime_link(target: Path, python: str) -> None:
    """``scriptrun_runtime.pth`` → a folder whose only entry links to this scriptrun package."""
    runtime = target / "scriptrun-runtime"
    runtime.mkdir(exist_ok=True)
    (runtime / "scriptrun").symlink_to(Path(scriptrun.__file__).resolve().parent, target_is_directory=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # a relative path in a .pth is taken from the site-packages folder, so the entry survives the rename
    (Path(site) / "scriptrun_runtime.pth").write_text(os.path.relpath(runtime, site) + "\n")


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite absolute references to the temporary folder (script shebangs, activate)."""
    old, new = str(tmp).encode(), str(final).encode()
    for file in (tmp / "bin").iterdir():
        if file.is_symlink() or not file.is_file():
            continue
        data = file.read_bytes()
        if old in data[:4096] or (file.name.startswith("activate") and old in data):
            file.write_bytes(data.replace(old, new))


def _run(argv: list[str], log, env: dict[str, str], what: str, *, check: bool = True,
         control: BuildControl = BuildControl()) -> None:
    """Run one build step with its output appended to the log; a failure raises with the
    step's own error first (not the log's start, which holds the resolved definition). The
    step runs in its own process group, stopped as a whole when the run is canceled."""
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    start = os.fstat(log.fileno()).st_size  # where this step's output begins
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    if control.pid_file is not None:
        atomic_write(control.pid_file, str(proc.pid))
    try:
        while True:
            try:
                proc.wait(timeout=CANCEL_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if control.canceled():
                    _stop_group(proc)
                    log.write(f"({what} stopped: the run was canceled)\n")
                    log.flush()
                    raise BuildCanceled() from None
    finally:
        if control.pid_file is not None:
            control.pid_file.unlink(missing_ok=True)
    if proc.returncode == 0:
        return
    if not check:
        log.write(f"({what} exited with code {proc.returncode}; the build goes on)\n")
        log.flush()
        return
    raise EnvironmentBuildError(f"{what} failed (exit code {proc.returncode}):\n{_error_lines(log.name, start)}\n"
                                f"(the full build log, with the resolved definition: {log.name})")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the step's process group, SIGKILL what is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            if sig == signal.SIGTERM:  # the leader is gone; make sure nothing else in the group is
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _error_lines(path: str, start: int) -> str:
    """What a failed step printed from its first error line on (pip's ``ERROR: … <package>``,
    uv's ``×``), else its last lines; the middle of a long block is elided."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    first = next((i for i, line in enumerate(lines) if _ERROR_START.match(line)), None)
    shown = lines[first:] if first is not None else lines[-LOG_TAIL_LINES:]
    if len(shown) > LOG_TAIL_LINES:
        half = LOG_TAIL_LINES // 2
        shown = [*shown[:half], f"… ({len(shown) - 2 * half} lines, see the build log) …", *shown[-half:]]
    return "\n".join(line.rstrip() for line in shown)
