"""A minimal v1 ``CondaDependencies``: the package lists of an environment.

Unlike v1, an empty ``CondaDependencies()`` lists nothing (v1 added python 3.8.13 and
``azureml-defaults``, which mean nothing here). Pip packages are built with uv into a cached
virtualenv (``builder.py``); conda packages need conda/micromamba on PATH, which submit-time
validation checks (``scriptrun.spec.checks.check_environment_capabilities``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.job import CondaSpec
from scriptrun.spec.problems import did_you_mean, validate_model

_TOP_LEVEL_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
# v1 added the SDK's runtime package to every environment; scriptrun replaces it, so drop it on load.
_V1_RUNTIME_PACKAGES = ("azureml-defaults",)


def _package_name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;@]", spec.strip(), maxsplit=1)[0].lower()


class CondaDependencies:
    """Conda channels, conda packages, pip packages and options, and a Python version."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None,
                 _underlying_structure: Mapping[str, Any] | None = None):
        self.python_version: str | None = None
        self._channels: list[str] = []
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._pip_options: list[str] = []
        data: Any = _underlying_structure
        file = str(conda_dependencies_file_path) if conda_dependencies_file_path is not None else None
        if file is not None:
            try:
                data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(Problem("conda_dependencies", "conda dependencies file not found", file=file))
            except yaml.YAMLError as exc:
                raise ConfigError(Problem("conda_dependencies", f"not valid YAML: {exc}", file=file))
        if data is not None:
            self._load(data, file)

    @staticmethod
    def create(pip_indexurl: str | None = None, pip_packages: Iterable[str] | None = None,
               conda_packages: Iterable[str] | None = None, python_version: str | None = None,
               pin_sdk_version: bool = True) -> CondaDependencies:
        """A new object with the given packages (v1 argument order; ``pin_sdk_version`` is ignored)."""
        deps = CondaDependencies()
        if python_version:
            deps.set_python_version(python_version)
        if pip_indexurl:
            deps.set_pip_option(f"--extra-index-url {pip_indexurl}")
        for package in pip_packages or ():
            deps.add_pip_package(package)
        for package in conda_packages or ():
            deps.add_conda_package(package)
        return deps

    # -- mutators (v1 names) --------------------------------------------------------------

    def add_pip_package(self, pip_package: str) -> None:
        """Add a pip requirement, replacing an existing entry for the same package."""
        if not isinstance(pip_package, str) or not pip_package.strip() or pip_package.startswith("-"):
            raise ConfigError(Problem("pip_packages", f"invalid pip package {pip_package!r}",
                                      hint="options such as --index-url go through set_pip_option()"))
        name = _package_name(pip_package)
        self._pip = [p for p in self._pip if _package_name(p) != name] + [pip_package]

    def remove_pip_package(self, pip_package: str) -> None:
        name = _package_name(pip_package)
        self._pip = [p for p in self._pip if _package_name(p) != name]

    def add_conda_package(self, conda_package: str) -> None:
        """Add a conda package; a ``python…`` spec sets the Python version instead."""
        if not isinstance(conda_package, str) or not conda_package.strip():
            raise ConfigError(Problem("conda_packages", f"invalid conda package {conda_package!r}"))
        name = _package_name(conda_package)
        if name == "python":
            self.set_python_version(conda_package.strip()[len("python"):].lstrip("=") or None)
            return
        self._conda = [p for p in self._conda if _package_name(p) != name] + [conda_package]

    def remove_conda_package(self, conda_package: str) -> None:
        name = _package_name(conda_package)
        self._conda = [p for p in self._conda if _package_name(p) != name]

    def add_channel(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.append(channel)

    def set_pip_option(self, pip_option: str) -> None:
        if not pip_option.startswith("-"):
            raise ConfigError(Problem("pip_options", f"invalid pip option {pip_option!r}",
                                      hint="pip options start with '-', e.g. '--extra-index-url URL'"))
        key = pip_option.split()[0]
        self._pip_options = [o for o in self._pip_options if o.split()[0] != key] + [pip_option]

    def set_python_version(self, version: str | None) -> None:
        self.python_version = version

    def get_python_version(self) -> str | None:
        return self.python_version

    # -- accessors --------------------------------------------------------------------------

    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def conda_channels(self) -> list[str]:
        return list(self._channels)

    @property
    def pip_options(self) -> list[str]:
        return list(self._pip_options)

    # -- conversion -------------------------------------------------------------------------

    def _spec_data(self) -> dict[str, Any]:
        return {"python_version": self.python_version, "channels": list(self._channels),
                "conda_packages": list(self._conda), "pip_packages": list(self._pip),
                "pip_options": list(self._pip_options)}

    def _to_spec(self) -> CondaSpec:
        return validate_model(CondaSpec, self._spec_data())

    @classmethod
    def _from_spec(cls, spec: CondaSpec) -> CondaDependencies:
        deps = cls()
        deps.python_version = spec.python_version
        deps._channels = list(spec.channels)
        deps._conda = list(spec.conda_packages)
        deps._pip = list(spec.pip_packages)
        deps._pip_options = list(spec.pip_options)
        return deps

    def as_dict(self) -> dict[str, Any]:
        """The conda environment file mapping (``name``, ``channels``, ``dependencies``)."""
        deps: list[Any] = []
        if self.python_version:
            deps.append(f"python={self.python_version}")
        deps += self._conda
        if self._pip or self._pip_options:
            deps.append({"pip": self._pip_options + self._pip})
        out: dict[str, Any] = {"name": "project_environment", "dependencies": deps}
        if self._channels:
            out["channels"] = list(self._channels)
        return out

    def serialize_to_string(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the conda environment file to ``path``; return the path."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.serialize_to_string(), encoding="utf-8")
        return str(path)

    def _load(self, data: Any, file: str | None) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(Problem("conda_dependencies", "expected a mapping with `dependencies:`", file=file))
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                raise ConfigError(Problem(f"conda_dependencies.{key}", "unknown key", file=file,
                                          hint=did_you_mean(str(key), list(_TOP_LEVEL_KEYS))))
        self._channels = [str(c) for c in data.get("channels") or []]
        for item in data.get("dependencies") or []:
            if isinstance(item, Mapping) and "pip" in item:
                for pip_item in item["pip"] or []:
                    pip_item = str(pip_item)
                    if pip_item.startswith("-"):
                        self._pip_options.append(pip_item)
                    elif _package_name(pip_item) not in _V1_RUNTIME_PACKAGES:
                        self._pip.append(pip_item)
            elif isinstance(item, str):
                if _package_name(item) == "pip":
                    continue  # pip itself is how pip packages get installed, not a package list
                self.add_conda_package(item)
            else:
                raise ConfigError(Problem("conda_dependencies.dependencies", f"unsupported entry {item!r}",
                                          file=file))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and other._spec_data() == self._spec_data()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CondaDependencies({self._spec_data()!r})"
