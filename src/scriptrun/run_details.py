"""``RunDetails`` (v1's ``azureml.widgets``): a view of a run — status, metrics, children.

Outside Jupyter ``RunDetails(run).show()`` prints a text table (and, with ``wait=True``,
refreshes it until the run ends). In Jupyter it renders the same content as HTML, refreshed in
place while the run is active. It only reads the run through its public ``Run`` methods.
"""

from __future__ import annotations

import sys
import time
from typing import Any

_TERMINAL = ("Completed", "Failed", "Canceled")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) and value else value


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return f"{_format(_last(value))} (last of {len(value)})"
    return str(value)


class RunDetails:
    """A view of ``run``: its status, its metrics (last value of each series) and its children."""

    def __init__(self, run_instance: Any):
        self.run = run_instance

    def rows(self) -> dict[str, Any]:
        """What the view shows, as data."""
        run = self.run
        children = []
        try:
            children = [{"id": c.id, "status": c.get_status(),
                         "metrics": {k: _last(v) for k, v in c.get_metrics().items()}}
                        for c in run.get_children()]
        except Exception:  # noqa: BLE001 - an offline run has no children to list
            children = []
        return {"id": run.id, "status": run.get_status(), "metrics": run.get_metrics(), "children": children}

    def text(self) -> str:
        """The view as a text table."""
        data = self.rows()
        lines = [f"Run {data['id']}: {data['status']}"]
        if data["metrics"]:
            width = max(len(k) for k in data["metrics"])
            lines += ["", f"{'metric'.ljust(width)}  value"]
            lines += [f"{k.ljust(width)}  {_format(v)}" for k, v in sorted(data["metrics"].items())]
        if data["children"]:
            lines += ["", "children:"]
            for child in data["children"]:
                metrics = ", ".join(f"{k}={_format(v)}" for k, v in sorted(child["metrics"].items()))
                lines.append(f"  {child['id']}  {child['status']}  {metrics}")
        return "\n".join(lines)

    def _html(self) -> str:
        import html

        return "<pre>" + html.escape(self.text()) + "</pre>"

    def show(self, wait: bool = False, refresh_seconds: float = 2.0) -> None:
        """Print the view (HTML in Jupyter); with ``wait=True`` refresh it until the run ends."""
        notebook = _in_notebook()
        handle = None
        while True:
            if notebook:
                from IPython.display import HTML, display

                if handle is None:
                    handle = display(HTML(self._html()), display_id=True)
                else:
                    handle.update(HTML(self._html()))
            else:
                print(self.text(), flush=True)
            if not wait or self.run.get_status() in _TERMINAL:
                return
            time.sleep(refresh_seconds)
            if not notebook:
                print()

    def get_widget_data(self) -> dict[str, Any]:
        return self.rows()
