"""``scriptrun migrate``: rewrite Azure ML v1 code to scriptrun with LibCST.

The rule is one sentence — *replace ``azureml`` with ``scriptrun`` in imports* — applied to
``import``/``from … import`` statements and to ``azureml.…`` references in code, in ``.py``
files and the code cells of notebooks. Calls that need a human get a ``# scriptrun:`` comment
above their statement and are listed with file:line:

* **attention** — runs, but differently from Azure (cluster provisioning, Azure-only
  arguments, deprecated estimators);
* **unsupported** — will not run (a v1 module or name scriptrun does not provide).

Code that does not parse is never changed (it is reported). LibCST keeps every comment and
blank line, so the diff holds only the rewritten names and the added comments.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

PREFIX = "# scriptrun: "
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".scriptrun", ".ipynb_checkpoints", "node_modules"}
_MAGIC = re.compile(r"^\s*[%!?]")
_MAGIC_MARK = "# __scriptrun_magic_{}__"

_PROVISIONING = ("nothing is provisioned locally: map the cluster name in .scriptrun/config.yaml "
                 "(`compute_aliases: {NAME: local}`), attach one (`scriptrun compute attach-ray NAME "
                 "--address http://HEAD:8265`), or use compute_target='local'")
_AZURE_ARGS = "Azure arguments are ignored: the local workspace (.scriptrun/) is used"
_ESTIMATOR = ("estimators are deprecated: this runs, and its warning prints the equivalent "
              "ScriptRunConfig to paste in")
# (callee as written, ending) → (kind, message)
_CALLS: dict[str, tuple[str, str]] = {
    "AmlCompute.provisioning_configuration": ("attention", _PROVISIONING),
    "ComputeTarget.create": ("attention", _PROVISIONING),
    "InteractiveLoginAuthentication": ("attention", "Azure login is not needed: this is accepted and ignored"),
    "ServicePrincipalAuthentication": ("attention", "Azure login is not needed: this is accepted and ignored"),
    "Estimator": ("attention", _ESTIMATOR), "PyTorch": ("attention", _ESTIMATOR),
    "TensorFlow": ("attention", _ESTIMATOR), "SKLearn": ("attention", _ESTIMATOR),
    "Chainer": ("unsupported", "the Chainer estimator is not supported: use ScriptRunConfig with an "
                               "Environment that installs chainer"),
    "Model.deploy": ("unsupported", "model deployment (web services) is not part of scriptrun"),
    "Webservice": ("unsupported", "web services are not part of scriptrun"),
    "AciWebservice.deploy_configuration": ("unsupported", "web services are not part of scriptrun"),
}
_AZURE_KEYWORDS = {"subscription_id", "resource_group", "auth"}


@dataclass(frozen=True)
class Finding:
    """A call or import that needs a human: where, what kind, and why."""

    file: str
    line: int
    kind: str  # "attention" | "unsupported" | "error"
    message: str

    def render(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass
class FileResult:
    """The migration of one file."""

    path: str
    old: str
    new: str
    rewrites: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new != self.old

    def diff(self) -> str:
        old, new = _diffable(self.path, self.old), _diffable(self.path, self.new)
        return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                            f"a/{self.path.lstrip('/')}", f"b/{self.path.lstrip('/')}"))


@dataclass
class MigrationReport:
    """Every file's result, and the summary the CLI prints."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.files for f in result.findings]

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def rewrites(self) -> int:
        return sum(r.rewrites for r in self.files)

    def summary(self, written: bool) -> str:
        changed = sum(1 for r in self.files if r.changed)
        verb = "changed" if written else "would change"
        lines = [f"{len(self.files)} file(s) scanned, {changed} {verb}, {self.rewrites} import(s)/reference(s) "
                 f"rewritten, {self.count('attention')} call(s) need attention, {self.count('unsupported')} "
                 f"unsupported, {self.count('error')} could not be parsed"]
        lines += ["  " + f.render() for f in self.findings]
        return "\n".join(lines)


# -- the rewrite ----------------------------------------------------------------------------


def _dotted(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def _module_node(dotted: str) -> cst.Attribute | cst.Name:
    parts = dotted.split(".")
    node: cst.Attribute | cst.Name = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _target(module: str) -> str:
    return "scriptrun" + module[len("azureml"):]


def _missing(module: str, names: Iterable[str]) -> list[str]:
    """What of ``module`` (a scriptrun path) and ``names`` scriptrun does not provide."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return [f"module {module}"]
    return [f"{module}.{n}" for n in names if n != "*" and not hasattr(mod, n)]


class _Rewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, file: str, line_of: Callable[[int], int] = lambda n: n) -> None:
        super().__init__()
        self.file = file
        self.line_of = line_of
        self.rewrites = 0
        self.findings: list[Finding] = []
        self._pending: list[tuple[str, str]] = []  # (kind, message) for the current statement

    # statements collect their calls' notes and carry them as comments above themselves
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._pending = []

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        return self._annotate(updated)

    def _annotate(self, updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        notes, self._pending = self._pending, []
        present = {line.comment.value for line in updated.leading_lines if line.comment is not None}
        extra = [cst.EmptyLine(indent=True, comment=cst.Comment(f"{PREFIX}{kind}: {message}"))
                 for kind, message in dict.fromkeys(notes) if f"{PREFIX}{kind}: {message}" not in present]
        return updated.with_changes(leading_lines=[*updated.leading_lines, *extra]) if extra else updated

    def _note(self, node: cst.CSTNode, kind: str, message: str) -> None:
        line = self.line_of(self.get_metadata(PositionProvider, node).start.line)
        self.findings.append(Finding(self.file, line, kind, message))
        self._pending.append((kind, message))

    # imports (their dotted names are rewritten here, not by leave_Attribute)
    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = []
        for alias in updated.names:
            dotted = _dotted(alias.name)
            if dotted and (dotted == "azureml" or dotted.startswith("azureml.")):
                target = _target(dotted)
                for what in _missing(target, []):
                    self._note(original, "unsupported", f"scriptrun has no {what}")
                alias = alias.with_changes(name=_module_node(target))
                self.rewrites += 1
            names.append(alias)
        return updated.with_changes(names=names)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        dotted = _dotted(updated.module) if updated.module is not None and not updated.relative else None
        if not dotted or not (dotted == "azureml" or dotted.startswith("azureml.")):
            return updated
        target = _target(dotted)
        names = [] if isinstance(updated.names, cst.ImportStar) else [_dotted(a.name) or "" for a in updated.names]
        for what in _missing(target, names):
            self._note(original, "unsupported", f"scriptrun has no {what}")
        self.rewrites += 1
        return updated.with_changes(module=_module_node(target))

    # azureml.core.VERSION and friends in code
    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if isinstance(updated.value, cst.Name) and updated.value.value == "azureml":
            self.rewrites += 1
            return updated.with_changes(value=cst.Name("scriptrun"))
        return updated

    # calls that need a human
    def visit_Call(self, node: cst.Call) -> None:
        callee = _dotted(node.func) or ""
        for suffix, (kind, message) in _CALLS.items():
            if callee == suffix or callee.endswith("." + suffix):
                self._note(node, kind, message)
                return
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        workspace = callee.split(".")[-1] == "Workspace"
        azure_keywords = (workspace or callee.endswith("Workspace.get")) and keywords & _AZURE_KEYWORDS
        v1_positional = workspace and len(node.args) >= 3 and not keywords  # (subscription, group, name)
        if azure_keywords or v1_positional:
            self._note(node, "attention", _AZURE_ARGS)


def migrate_source(code: str, file: str = "<string>", line_of: Callable[[int], int] = lambda n: n) -> FileResult:
    """Rewrite one module's code; unparseable code is returned unchanged with an error finding."""
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        return FileResult(file, code, code, findings=[Finding(file, line_of(exc.raw_line), "error",
                                                              f"not changed: cannot parse ({exc.message})")])
    rewriter = _Rewriter(file, line_of)
    new = MetadataWrapper(module).visit(rewriter).code
    return FileResult(file, code, new, rewriter.rewrites, rewriter.findings)


def migrate_notebook(text: str, file: str) -> FileResult:
    """Rewrite the code cells of a notebook (IPython magics are kept as they are)."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        return FileResult(file, text, text, findings=[Finding(file, exc.lineno, "error",
                                                              "not changed: not a notebook (invalid JSON)")])
    result = FileResult(file, text, text)
    changed = False
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        lines = source.split("\n")
        magics = {i: line for i, line in enumerate(lines) if _MAGIC.match(line)}
        masked = "\n".join(_MAGIC_MARK.format(i) if i in magics else line for i, line in enumerate(lines))
        cell_result = migrate_source(masked, f"{file}[cell {index + 1}]")
        result.rewrites += cell_result.rewrites
        result.findings += cell_result.findings
        if cell_result.changed:
            new = cell_result.new
            for i, line in magics.items():
                new = new.replace(_MAGIC_MARK.format(i), line, 1)
            cell["source"] = new.splitlines(True)
            changed = True
    if changed:
        result.new = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    return result


def _diffable(path: str, text: str) -> str:
    """A notebook's code cells as text (for a readable diff); other files as they are."""
    if not path.endswith(".ipynb"):
        return text
    try:
        cells = json.loads(text).get("cells", [])
    except json.JSONDecodeError:
        return text
    return "".join(f"# [cell {i + 1}]\n" + "".join(c.get("source", [])) + "\n"
                   for i, c in enumerate(cells) if c.get("cell_type") == "code")


def python_files(paths: Iterable[str | Path]) -> list[Path]:
    """The ``.py`` and ``.ipynb`` files under ``paths`` (folders are searched recursively)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file()
                          and not _SKIP_DIRS & set(p.relative_to(path).parts))
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return out


def migrate_paths(paths: Iterable[str | Path], *, write: bool = False) -> MigrationReport:
    """Migrate every ``.py``/``.ipynb`` file under ``paths``; write the changes when ``write``."""
    report = MigrationReport()
    for path in python_files(paths):
        text = path.read_text(encoding="utf-8")
        result = migrate_notebook(text, str(path)) if path.suffix == ".ipynb" else migrate_source(text, str(path))
        report.files.append(result)
        if write and result.changed:
            path.write_text(result.new, encoding="utf-8")
    return report


def import_coverage(paths: Iterable[str | Path]) -> tuple[int, int, list[str]]:
    """How many ``azureml`` import lines under ``paths`` resolve under the one-sentence rule:
    (resolved, total, the lines that do not, with what is missing)."""
    resolved, total, failures = 0, 0, []
    for path in python_files(paths):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", [])) for c in cells if c.get("cell_type") == "code")
        for line in text.splitlines():
            match = re.match(r"^\s*(?:from\s+(azureml[\w.]*)\s+import\s+(.+)|import\s+(azureml[\w.]*))", line)
            if not match:
                continue
            total += 1
            module = _target(match[1] or match[3])
            names = [n.split(" as ")[0].strip(" ()") for n in (match[2] or "").split("#")[0].split(",") if n.strip()]
            missing = _missing(module, [n for n in names if n])
            if missing:
                failures.append(f"{path}: {line.strip()} ({', '.join(missing)})")
            else:
                resolved += 1
    return resolved, total, failures
