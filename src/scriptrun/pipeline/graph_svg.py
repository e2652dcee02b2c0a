"""The picture of a pipeline run: its step graph as SVG, drawn by Graphviz.

Steps are boxes coloured by status (reused steps say so and are drawn dashed), data edges
are labelled with the output → input they carry, ordering-only edges are dotted. Without
Graphviz's ``dot`` program the DOT source is stored instead, so a pipeline never fails for
want of a picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

GRAPH_FILE = "pipeline_graph.svg"
DOT_FILE = "pipeline_graph.dot"
COLOURS = {"Completed": "#c8e6c9", "Failed": "#ffcdd2", "Canceled": "#e0e0e0", "NotStarted": "#ffffff",
           "Running": "#bbdefb", "Queued": "#fff9c4", "Preparing": "#fff9c4", "Starting": "#fff9c4",
           "Finalizing": "#bbdefb", "CancelRequested": "#e0e0e0"}


def pipeline_dot(steps: Sequence[Mapping[str, Any]], title: str | None = None) -> Any:
    """A ``graphviz.Digraph`` of the steps (the per-step summary of a pipeline controller)."""
    import graphviz

    dot = graphviz.Digraph("pipeline", graph_attr={"rankdir": "LR", "fontname": "Helvetica", "fontsize": "12",
                                                   **({"label": title, "labelloc": "t"} if title else {})},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "11"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for step in steps:
        status = step.get("status", "NotStarted")
        label = f"{step['name']}\n{status}"
        style = "rounded,filled"
        if step.get("reused_from"):
            label += "\n(reused)"
            style += ",dashed"
        elif step.get("skipped"):
            label += "\n(not started)"
        dot.node(step["name"], label, fillcolor=COLOURS.get(status, "#ffffff"), style=style,
                 tooltip=step.get("reused_from") or step.get("run_id") or step["name"])
    for step in steps:
        data_from: dict[str, list[str]] = {}
        for input_name, source in (step.get("inputs") or {}).items():
            producer, _, output = source.partition(".")
            data_from.setdefault(producer, []).append(output if output == input_name else f"{output} → {input_name}")
        for producer, labels in data_from.items():
            dot.edge(producer, step["name"], label=", ".join(sorted(labels)))
        for producer in step.get("upstream") or []:
            if producer not in data_from:
                dot.edge(producer, step["name"], style="dotted")
    return dot


def render_pipeline(steps: Sequence[Mapping[str, Any]], title: str | None = None) -> dict[str, str]:
    """``{"pipeline_graph.svg": svg}``, or ``{"pipeline_graph.dot": source}`` when Graphviz's
    ``dot`` is not installed (``apt-get install graphviz``)."""
    try:
        dot = pipeline_dot(steps, title)
    except ImportError:
        return {}
    import graphviz

    try:
        return {GRAPH_FILE: dot.pipe(format="svg", encoding="utf-8")}
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError):
        return {DOT_FILE: dot.source}
