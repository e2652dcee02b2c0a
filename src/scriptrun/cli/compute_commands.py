"""``scriptrun compute …`` (attach and list compute targets) and ``scriptrun tracking serve``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from scriptrun.cli.common import Output, OutputOpt, WorkspaceOpt, emit, make_table, out
from scriptrun.cli.common import workspace as _workspace

compute_app = typer.Typer(no_args_is_help=True, help="Attach, list and detach compute targets (Ray clusters).")
tracking_app = typer.Typer(no_args_is_help=True, help="Serve the workspace's MLflow store to other machines.")



@compute_app.command("attach-ray")
def attach_ray(name: str = typer.Argument(..., help="Name to submit to, e.g. ray-dev."),
               address: str = typer.Option(..., "--address", help="The cluster's dashboard (Jobs API), "
                                                                   "e.g. http://127.0.0.1:8265."),
               workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Attach a Ray cluster as a compute target."""
    from scriptrun.compute.targets import ComputeTarget, RayCluster

    target = ComputeTarget.attach(_workspace(workspace, create=True), name, RayCluster.attach_configuration(address=address))
    out.print(f"attached {target.name} -> {target.address} (submit with -t {target.name})")


@compute_app.command("list")
def list_targets(output: Output = OutputOpt, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """List the workspace's compute targets."""
    from scriptrun.compute.targets import ComputeTarget

    rows = [{"name": "local", "type": "local", "address": None}]
    rows += [{"name": t.name, "type": t.type, "address": t.address}
             for t in ComputeTarget.list(_workspace(workspace, create=True))]

    def table() -> None:
        t = make_table("Name", "Type", "Address")
        for row in rows:
            t.add_row(row["name"], row["type"], row["address"] or ("this machine (built in)"
                                                                   if row["name"] == "local" else ""))
        t.print()

    emit(rows, output, table)


@compute_app.command("detach")
def detach(name: str, workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Detach a compute target (the cluster itself is not touched)."""
    from scriptrun.compute.targets import ComputeTarget

    ComputeTarget(_workspace(workspace, create=True), name).detach()
    out.print(f"detached {name}")


@tracking_app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for a cluster)."),
          port: int = typer.Option(5000, "--port"), workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Serve the workspace's tracking store as an MLflow server, so that a remote cluster can log to it.

    Then set ``tracking_uri: http://<this host>:<port>`` in .scriptrun/config.yaml.
    """
    ws = _workspace(workspace, create=True)
    argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", ws.tracking_uri,
            "--default-artifact-root", str(ws.artifact_root), "--serve-artifacts",
            "--host", host, "--port", str(port), "--workers", "1"]
    os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # ~0.5 GiB instead of ~3 GiB
    print(f"MLflow server for {ws.root} on http://{host}:{port}; set `tracking_uri: http://<host>:{port}` "
          "in .scriptrun/config.yaml to use it", file=sys.stderr)
    os.execv(sys.executable, argv)
