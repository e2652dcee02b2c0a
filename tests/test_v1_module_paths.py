"""Every v1 module path in docs/v1-module-paths.md imports, with every name it lists, and each
name is scriptrun's own object (a re-export, never a second copy)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import scriptrun

TABLE = Path(__file__).resolve().parents[1] / "docs" / "v1-module-paths.md"


def _rows() -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`scriptrun"):
            names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[2])
            rows.append((cells[0].strip("`"), cells[1].strip("`"), names))
    return rows


ROWS = _rows()


def test_the_table_is_complete():
    assert len(ROWS) >= 24
    for v1, ours, _ in ROWS:
        assert ours == v1.replace("azureml", "scriptrun", 1), "the rule is one sentence: azureml → scriptrun"


@pytest.mark.parametrize(("module", "names"), [(r[1], r[2]) for r in ROWS], ids=[r[1] for r in ROWS])
def test_every_v1_path_imports_with_its_names(module: str, names: list[str]):
    mod = importlib.import_module(module)
    for name in names:
        value = getattr(mod, name)
        if hasattr(scriptrun, name):
            assert value is getattr(scriptrun, name), f"{module}.{name} is not scriptrun.{name}"


def test_reexport_modules_hold_no_logic():
    """A v1-path module only imports and lists names: no def, no class."""
    root = Path(scriptrun.__file__).parent
    for _, module, _ in ROWS:
        path = root.joinpath(*module.split(".")[1:])
        file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if module in ("scriptrun.data", "scriptrun.data.datapath"):
            continue  # the package itself (datapath.py is where DataPath lives)
        text = file.read_text()
        assert not re.search(r"^\s*(def|class) ", text, re.M), f"{file} holds logic"


def test_flat_names_and_version():
    import scriptrun.core

    assert scriptrun.core.VERSION == scriptrun.VERSION == scriptrun.__version__
    for name in ("Estimator", "PyTorch", "TensorFlow", "SKLearn", "AmlCompute", "ComputeTargetException",
                 "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "InteractiveLoginAuthentication",
                 "ServicePrincipalAuthentication", "set_diagnostics_collection", "RunDetails", "Mpi"):
        assert name in scriptrun.__all__
