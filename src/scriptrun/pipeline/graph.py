"""A planned pipeline as data: one :class:`StepNode` per step, and graph functions (order,
cycles, downstream closure). Pure and JSON-able: this is what a pipeline controller keeps in
its persisted state and what the submitting client builds from the builders."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Binding:
    """Input ``input`` of a step is output ``output`` of step ``step``."""

    step: str
    output: str


@dataclass(frozen=True)
class StepNode:
    """One planned step: its JobSpec template (JSON; pipeline parameters as
    ``${{parent.inputs.x}}`` placeholders, upstream inputs still empty), its snapshot, the
    reuse components known before the run, and its wiring."""

    name: str
    spec: dict[str, Any]
    snapshot_id: str
    components: dict[str, str] = field(default_factory=dict)
    allow_reuse: bool = True
    bindings: dict[str, Binding] = field(default_factory=dict)  # input name -> upstream output
    after: tuple[str, ...] = ()  # explicit ordering (run_after, StepSequence)
    parameters: tuple[str, ...] = ()  # pipeline parameters the step uses
    spec_parameters: dict[str, str] = field(default_factory=dict)  # spec field path -> parameter name
    # a HyperDriveStep: {"controller", "kind", "state" (without parent run id, base spec, snapshot),
    # "properties"}; the step runs as a sweep of ``spec``
    sweep: dict[str, Any] | None = None

    def upstream(self) -> list[str]:
        """The steps that must complete before this one starts."""
        return sorted({b.step for b in self.bindings.values()} | set(self.after))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["after"] = list(self.after)
        data["parameters"] = list(self.parameters)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepNode:
        body = dict(data)
        body["bindings"] = {k: Binding(**v) for k, v in (body.get("bindings") or {}).items()}
        body["after"] = tuple(body.get("after") or ())
        body["parameters"] = tuple(body.get("parameters") or ())
        return cls(**body)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in ``node -> upstream nodes`` as a list of names (first repeated last), or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for up in sorted(edges.get(node, ())):
            if state.get(up) == 1:
                return stack[stack.index(up):] + [up]
            if up not in state and up in edges:
                found = visit(up)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def topological_order(nodes: Iterable[StepNode]) -> list[str]:
    """Step names, every step after its upstream steps (ties in declaration order)."""
    nodes = list(nodes)
    done: list[str] = []
    remaining = [n.name for n in nodes]
    by_name = {n.name: n for n in nodes}
    while remaining:
        ready = [n for n in remaining if all(u in done or u not in by_name for u in by_name[n].upstream())]
        if not ready:  # a cycle: validation reports it; keep the rest in declaration order
            done += remaining
            break
        done += ready
        remaining = [n for n in remaining if n not in ready]
    return done


def downstream(nodes: Iterable[StepNode], roots: Iterable[str]) -> set[str]:
    """``roots`` and every step that depends on one of them, directly or not."""
    nodes = list(nodes)
    out = set(roots)
    grew = True
    while grew:
        grew = False
        for node in nodes:
            if node.name not in out and out.intersection(node.upstream()):
                out.add(node.name)
                grew = True
    return out


# ``${{parent.inputs.NAME}}``: a pipeline parameter inside a step's arguments, command or env vars
PARAMETER_PLACEHOLDER = re.compile(r"\$\{\{\s*parent\.inputs\.(\w+)\s*\}\}")


def parameter_placeholder(name: str) -> str:
    return "${{parent.inputs." + name + "}}"


def parameters_used(spec: Mapping[str, Any]) -> list[str]:
    """The pipeline parameters named in ``spec``'s arguments, command and environment variables."""
    texts: list[str] = [a for a in spec.get("arguments") or [] if isinstance(a, str)]
    command = spec.get("command")
    texts += [command] if isinstance(command, str) else [c for c in command or [] if isinstance(c, str)]
    texts += [v for v in (spec.get("environment_variables") or {}).values() if isinstance(v, str)]
    return sorted({m for text in texts for m in PARAMETER_PLACEHOLDER.findall(text)})


def fill_parameters(spec: Mapping[str, Any], values: Mapping[str, Any],
                    spec_parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``spec`` (JSON) with parameter placeholders replaced by ``values``; an argument that is
    exactly one placeholder takes the value itself (a number stays a number). ``spec_parameters``
    sets spec fields (``node_count``, ``distributed_job_config.process_count_per_node``) from values."""

    def text(item: str) -> str:
        return PARAMETER_PLACEHOLDER.sub(lambda m: _as_text(values[m.group(1)]), item)

    def argument(item: Any) -> Any:
        if not isinstance(item, str):
            return item
        whole = PARAMETER_PLACEHOLDER.fullmatch(item.strip())
        if whole:
            return values[whole.group(1)]
        return text(item)

    out = dict(spec)
    out["arguments"] = [argument(a) for a in spec.get("arguments") or []]
    command = spec.get("command")
    if isinstance(command, str):
        out["command"] = text(command)
    elif isinstance(command, list):
        out["command"] = [text(c) if isinstance(c, str) else c for c in command]
    out["environment_variables"] = {k: text(v) if isinstance(v, str) else v
                                    for k, v in (spec.get("environment_variables") or {}).items()}
    for path, name in (spec_parameters or {}).items():
        node = out
        *parents, last = path.split(".")
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[last] = values[name]
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
