"""YAML reading with line numbers, and the canonical YAML form of a :class:`JobSpec`.

Every scriptrun YAML file (job files, ``.runconfig`` files, environment files) is read by
:func:`load_yaml_with_lines`: the file is parsed **once** into an event stream (by libyaml
when PyYAML is built with it; a file libyaml refuses is read again by PyYAML's own parser,
the reference, so files PyYAML accepted stay accepted), composed and constructed here with
no recursion beyond the depth limit, and every failure becomes a :class:`ConfigError`
naming the file, the line and, for a limit, which one. The limits (module constants):

* ``MAX_FILE_BYTES`` (16 MiB): larger files are refused before they are parsed;
* ``MAX_DEPTH`` (64): lists and mappings nested deeper are refused;
* ``MAX_VALUES`` (1,000,000): the number of values (scalars, lists, mappings) in the file,
  counting each alias as many times as the values it stands for;
* ``MAX_ALIAS_VALUES`` (10,000): anchors and aliases (``&defaults`` / ``*defaults``,
  ``<<: *defaults``) are allowed, but all the aliases of a file together may stand for at
  most this many values, so a small file cannot expand into gigabytes (an "alias bomb");
  an alias to a list or mapping that contains it (``a: &r [*r]``) is refused.

Also refused, each with file and line: bytes that are not UTF-8, a key given twice in one
mapping (at the second occurrence), more than one document, a value that does not fit its
tag (``node_count: !!float x``), tags other than YAML's standard scalar tags and plain
lists and mappings (``!!python/object``, ``!!set``, ``!custom``), and lists or mappings used
as mapping keys.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from scriptrun.errors import ConfigError, Problem
from scriptrun.spec.checks import check_source_and_script, check_spec
from scriptrun.spec.job import JobSpec
from scriptrun.spec.problems import Loc, _line_of, format_path, validate_model

MAX_FILE_BYTES = 16 * 2**20
MAX_DEPTH = 64
MAX_VALUES = 1_000_000
MAX_ALIAS_VALUES = 10_000

# Event parsers, fastest first: libyaml (when PyYAML is built with it), then PyYAML's own parser, which
# stays the reference: libyaml refuses some files PyYAML reads (`{address:, username:}` in v1 runconfig
# files), so a libyaml syntax error is retried with PyYAML and reported only if PyYAML agrees.
_PARSERS: tuple[Any, ...] = tuple(dict.fromkeys([getattr(yaml, "CSafeLoader", yaml.SafeLoader),
                                                  yaml.SafeLoader]))
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_STD_TAG_PREFIX = "tag:yaml.org,2002:"
_SYNTAX_HINT = "check indentation and that every `key: value` pair has a space after the colon"


def load_yaml_with_lines(path: str | os.PathLike[str]) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file once; return the data and a map from key path to 1-based line.

    Raises :class:`ConfigError` (file, line, what is wrong) for anything that is not a
    readable, well-formed YAML file within the limits of this module.
    """
    file = str(path)
    return parse_yaml_with_lines(_read(file), file=file)


def parse_yaml_with_lines(content: str | bytes, *, file: str | None = None) -> tuple[Any, dict[Loc, int]]:
    """:func:`load_yaml_with_lines` for text already in memory (``file`` names it in errors)."""
    if isinstance(content, bytes):
        content = _decode(content, file)
    if len(content) > MAX_FILE_BYTES:  # characters, a lower bound of the bytes
        raise _too_big(len(content), file)
    root = _Composer(file).compose(content)
    lines: dict[Loc, int] = {}
    if root is None:
        return None, lines
    return _Constructor(file, lines).construct(root, ()), lines


def _read(file: str) -> bytes:
    try:
        size = os.stat(file).st_size
        if size > MAX_FILE_BYTES:
            raise _too_big(size, file)
        with open(file, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(Problem(path="", message="file not found", file=file,
                                  hint="check the path; relative paths start from the current directory"))
    except IsADirectoryError:
        raise ConfigError(Problem(path="", message="is a folder, not a YAML file", file=file))
    except OSError as exc:
        raise ConfigError(Problem(path="", message=f"cannot read file: {exc.strerror}", file=file))
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(len(data), file)
    return data


def _too_big(size: int, file: str | None) -> ConfigError:
    return ConfigError(Problem(
        path="", message=f"file is {size / 2**20:.1f} MiB, over the limit of {MAX_FILE_BYTES // 2**20} MiB "
        "for a YAML configuration file (MAX_FILE_BYTES)", file=file,
        hint="keep data out of the job file: put long values in a file in the source directory"))


def _decode(data: bytes, file: str | None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(Problem(
            path="", message=f"not valid UTF-8: byte 0x{data[exc.start]:02x} at column {column}",
            file=file, line=line, hint="save the file as UTF-8 text"))


def _problem(file: str | None, mark: Any, message: str, hint: str | None = None,
             loc: Loc = ()) -> ConfigError:
    line = mark.line + 1 if mark is not None else None
    return ConfigError(Problem(path=format_path(loc), message=message, file=file, line=line, hint=hint,
                               code="SR-YAML"))


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_STD_TAG_PREFIX):] if tag.startswith(_STD_TAG_PREFIX) else tag


class _Alias:
    """One occurrence of ``*name``: the anchored node and where the alias is written."""

    __slots__ = ("node", "mark")

    def __init__(self, node: Node, mark: Any):
        self.node, self.mark = node, mark


class _Composer:
    """Events → nodes without recursion, enforcing depth, value and alias limits as it goes."""

    def __init__(self, file: str | None):
        self.file = file
        self.resolver = Resolver()

    def compose(self, text: str) -> Node | None:
        error: Any = None
        for parser in _PARSERS:
            try:
                return self._compose(text, parser)
            except yaml.YAMLError as exc:
                error = exc
        mark = getattr(error, "problem_mark", None)
        raise _problem(self.file, mark, f"not valid YAML: {getattr(error, 'problem', None) or error}",
                       _SYNTAX_HINT)

    def _compose(self, text: str, parser: Any) -> Node | None:
        self.sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
        self.values = 0
        self.alias_values = 0
        anchors: dict[str, Node] = {}
        open_anchors: dict[str, Any] = {}
        stack: list[list[Any]] = []  # [node, items, anchor, size]
        root: Node | None = None
        documents = 0
        for event in yaml.parse(text, Loader=parser):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _problem(self.file, event.start_mark, "more than one YAML document (`---`)",
                                   "a configuration file holds one document; remove the extra `---`")
                continue
            if isinstance(event, (yaml.CollectionEndEvent)):
                node, items, anchor, size = stack.pop()
                if isinstance(node, MappingNode):
                    items = list(zip(items[0::2], items[1::2], strict=True))
                node.value, node.end_mark = items, event.end_mark
                self.sizes[id(node)] = size
                if anchor is not None:
                    anchors[anchor] = node
                    open_anchors.pop(anchor, None)
                item: Any = node
            elif isinstance(event, yaml.AliasEvent):
                item, size = self._alias(event, anchors, open_anchors)
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)
                item = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                size = 1
                self._count(1, event.start_mark)
                if event.anchor is not None:
                    anchors[event.anchor] = item
                    self.sizes[id(item)] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise _problem(self.file, event.start_mark,
                                   f"lists and mappings nest more than {MAX_DEPTH} deep (MAX_DEPTH)",
                                   "a configuration needs only a few levels; flatten the structure")
                self._count(1, event.start_mark)
                kind = MappingNode if isinstance(event, yaml.MappingStartEvent) else SequenceNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolver.resolve(kind, None, event.implicit)
                node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if event.anchor is not None:
                    open_anchors[event.anchor] = event.start_mark
                stack.append([node, [], event.anchor, 1])
                continue
            else:
                continue
            if stack:
                stack[-1][1].append(item)
                stack[-1][3] += size
            else:
                root = item.node if isinstance(item, _Alias) else item
        return root

    def _alias(self, event: Any, anchors: dict[str, Node],
               open_anchors: dict[str, Any]) -> tuple[_Alias, int]:
        name = event.anchor
        if name in open_anchors:
            raise _problem(self.file, event.start_mark,
                           f"recursive alias *{name}: it refers to a list or mapping that contains it",
                           "write the value out instead of referring to its own anchor")
        node = anchors.get(name)
        if node is None:
            raise _problem(self.file, event.start_mark, f"alias *{name} refers to no anchor &{name} above it",
                           f"define `&{name}` before using `*{name}`")
        size = self.sizes[id(node)]
        self.alias_values += size
        if self.alias_values > MAX_ALIAS_VALUES:
            raise _problem(self.file, event.start_mark,
                           f"aliases expand to more than {MAX_ALIAS_VALUES:,} values (MAX_ALIAS_VALUES); "
                           f"*{name} alone stands for {size:,}",
                           "write the values out, or use fewer aliases of large anchors")
        self._count(size, event.start_mark)
        return _Alias(node, event.start_mark), size

    def _count(self, n: int, mark: Any) -> None:
        self.values += n
        if self.values > MAX_VALUES:
            raise _problem(self.file, mark, f"more than {MAX_VALUES:,} values in the file (MAX_VALUES)",
                           "keep data out of the job file: put long lists in a file in the source directory")


class _Constructor:
    """Nodes → Python data (PyYAML's safe scalar types), recording each key path's line."""

    def __init__(self, file: str | None, lines: dict[Loc, int]):
        self.file = file
        self.lines = lines
        self.scalars = SafeConstructor()
        self.done: dict[int, Any] = {}  # anchored collections constructed once, then shared

    def construct(self, item: Node | _Alias, loc: Loc) -> Any:
        if isinstance(item, _Alias):
            self.lines.setdefault(loc, item.mark.line + 1)  # keys below fall back to this line
            node = item.node
            if id(node) in self.done:
                return self.done[id(node)]
        else:
            node = item
            self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node, loc)
        if node.tag == _SEQ_TAG and isinstance(node, SequenceNode):
            value: Any = [self.construct(child, loc + (i,)) for i, child in enumerate(node.value)]
        elif node.tag == _MAP_TAG and isinstance(node, MappingNode):
            value = self._mapping(node, loc)
        else:
            raise _problem(self.file, node.start_mark, f"unsupported tag {_short_tag(node.tag)}",
                           "use a plain list `[...]` or mapping `{...}` without a tag", loc)
        self.done[id(node)] = value
        return value

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        if node.tag == _STR_TAG:  # the common case, as SafeConstructor would
            return node.value
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            message = getattr(exc, "problem", None) or str(exc)
        except Exception as exc:  # PyYAML's scalar constructors raise ValueError, KeyError, …
            message = f"{type(exc).__name__}: {exc}"
        value = node.value if len(node.value) <= 60 else node.value[:57] + "..."
        raise _problem(self.file, node.start_mark,
                       f"cannot read {value!r} as {_short_tag(node.tag)} ({message})",
                       "remove the tag or write a value of that type", loc)

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        explicit: dict[Any, Any] = {}
        for key_item, value_item in node.value:
            key_node = key_item.node if isinstance(key_item, _Alias) else key_item
            if not isinstance(key_node, ScalarNode):
                raise _problem(self.file, key_node.start_mark, "a list or mapping is used as a mapping key",
                               "keys are plain names such as `script:`", loc)
            if key_node.tag == _MERGE_TAG:
                self._merge(value_item, loc, merged, key_node.start_mark)
                continue
            key = self._scalar(key_node, loc)
            path = loc + (key_node.value,)
            if key in explicit:
                first = self._first_line(node, key, loc)
                raise _problem(self.file, key_node.start_mark,
                               f"key {key_node.value!r} given twice in one mapping (first on line {first})",
                               "remove one of them", path)
            self.lines[path] = key_node.start_mark.line + 1
            explicit[key] = self.construct(value_item, path)
        if not merged:
            return explicit
        return {**merged, **explicit}

    def _merge(self, item: Any, loc: Loc, merged: dict[Any, Any], mark: Any) -> None:
        """``<<: *a`` or ``<<: [*a, *b]``: earlier mappings win over later ones, and the
        mapping's own keys over all of them (PyYAML's rule)."""
        node = item.node if isinstance(item, _Alias) else item
        sources = node.value if isinstance(node, SequenceNode) else [item]
        for source in reversed(sources):
            source_node = source.node if isinstance(source, _Alias) else source
            if not isinstance(source_node, MappingNode):
                raise _problem(self.file, mark, "`<<` merges a mapping or a list of mappings",
                               "write `<<: *anchor` where `&anchor` names a mapping", loc)
            data = self.construct(source, loc)
            for key in data:
                self.lines.setdefault(loc + (key,), mark.line + 1)
            merged.update(data)

    def _first_line(self, node: MappingNode, key: Any, loc: Loc) -> int | None:
        for key_item, _ in node.value:
            key_node = key_item.node if isinstance(key_item, _Alias) else key_item
            if (isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG
                    and self._scalar(key_node, loc) == key):
                return key_node.start_mark.line + 1
        return None


def job_spec_from_yaml(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> JobSpec:
    """Load a job YAML file into a :class:`JobSpec`, after applying ``KEY=VALUE`` overrides.

    ``source_directory`` is resolved relative to the YAML file's folder (default: that folder).
    """
    return load_job_yaml(path, overrides)[0]


def load_job_yaml(path: str | os.PathLike[str],
                  overrides: Sequence[str] = ()) -> tuple[JobSpec, dict[Loc, int]]:
    """:func:`job_spec_from_yaml` and the file's line map, from one parse of the file."""
    file = str(path)
    data, lines = load_yaml_with_lines(file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(Problem(path="", message=f"expected a mapping of job keys, got {kind}",
                                  file=file, line=1, hint="a job file starts with keys such as `script:`"))
    spec = job_spec_from_mapping(apply_overrides(data, overrides), base_dir=Path(file).resolve().parent,
                                 file=file, lines=lines, overrides=overrides)
    return spec, lines


def job_spec_from_mapping(data: dict[str, Any], *, base_dir: str | os.PathLike[str], file: str | None = None,
                          lines: dict[Loc, int] | None = None, overrides: Sequence[str] = ()) -> JobSpec:
    """Validate a job mapping; a relative ``source_directory`` is taken from ``base_dir``.

    ``overrides`` are the ``--set KEY=VALUE`` items already applied to ``data``: a problem in
    a key they set is reported at that ``--set`` argument, not at the file's line, and their
    keys are dropped from ``lines`` (so later checks do not point into the file either). When
    some keys are invalid, the rules that need only the valid rest (entry point, source folder
    and script, …) still run, so every independent problem is reported at once.
    """
    source = data.get("source_directory", ".")
    if isinstance(source, str) and "\x00" not in source:  # a NUL is the spec's to refuse, with its line
        data = {**data, "source_directory": str((Path(base_dir) / os.path.expanduser(source)).resolve())}
    set_keys = _override_keys(overrides)
    if lines:
        for loc in [loc for loc in lines if any(loc[:len(key)] == key for key, _ in set_keys)]:
            del lines[loc]
    try:
        return validate_model(JobSpec, data, file=file, lines=lines)
    except ConfigError as exc:
        problems = exc.problems + _checks_of_the_rest(data, exc.problems, file, lines)
        raise ConfigError([_at_override(p, set_keys) for p in problems]) from None


def _override_keys(overrides: Sequence[str]) -> list[tuple[Loc, str]]:
    """Each ``--set`` item's key path, and the item itself."""
    keys = []
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key:
            keys.append((tuple(key.split(".")), item))
    return keys


def _at_override(problem: Problem, set_keys: list[tuple[Loc, str]]) -> Problem:
    for key, item in reversed(set_keys):  # the last --set of a key wins
        dotted = format_path(key)
        inside = problem.path.startswith((dotted + ".", dotted + "["))
        around = bool(problem.path) and dotted.startswith((problem.path + ".", problem.path + "["))
        if problem.path == dotted or inside or around:
            return dataclasses.replace(problem, file=f"--set {item}", line=None)
    return problem


def _top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _checks_of_the_rest(data: dict[str, Any], problems: list[Problem], file: str | None,
                        lines: dict[Loc, int] | None) -> list[Problem]:
    """The rule checks of the job without the keys that failed validation (their problems are
    already reported): what else is wrong, found in the same pass."""
    failed = {_top_key(p.path) for p in problems}
    rest = {k: v for k, v in data.items() if k not in failed}
    try:
        spec = JobSpec.model_validate(rest)
    except ValidationError:
        return []
    found = [p for p in (*check_spec(spec), *check_source_and_script(spec)) if _top_key(p.path) not in failed]
    return [dataclasses.replace(p, file=file, line=_line_of(lines, _loc(p.path))) if file else p for p in found]


def _loc(path: str) -> Loc:
    return tuple(int(part) if part.isdigit() else part
                 for part in path.replace("[", ".").replace("]", "").split(".") if part)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML scalars) to a copy of ``data``."""
    if not overrides:
        return dict(data)
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(Problem(path="--set", message=f"{item!r} is not KEY=VALUE",
                                      hint="e.g. --set node_count=2 or --set environment_variables.SEED=1"))
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(Problem(path=".".join(parts[: i + 1]), message=f"--set {key}: "
                                          f"`{'.'.join(parts[: i + 1])}` is not a mapping",
                                          hint="set the whole value instead"))
            node = child
        node[parts[-1]] = value
    return data


def job_spec_to_yaml_dict(spec: JobSpec, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The canonical YAML mapping of ``spec``: defaults left out, ``source_directory`` made
    relative to ``base_dir`` (where the YAML file lives) when it is below it."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data["schema_version"] = spec.schema_version
    if spec.distributed_job_config is not None:  # the discriminator is a default, but must be kept
        data["distributed_job_config"] = {"type": spec.distributed_job_config.type,
                                          **data.get("distributed_job_config", {})}
    if base_dir is not None:
        rel = os.path.relpath(spec.source_directory, Path(base_dir).resolve())
        data["source_directory"] = rel.replace(os.sep, "/")
    ordered = {"schema_version": data.pop("schema_version"), "source_directory": data.pop("source_directory")}
    ordered.update(data)
    return ordered


def job_spec_to_yaml(spec: JobSpec, path: str | os.PathLike[str] | None = None) -> str:
    """Serialise ``spec`` as canonical YAML; write it to ``path`` when given."""
    base = Path(path).resolve().parent if path is not None else None
    text = yaml.safe_dump(job_spec_to_yaml_dict(spec, base), sort_keys=False, default_flow_style=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
