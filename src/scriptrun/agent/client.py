"""Talking to the workspace agent: one JSON request per connection on its Unix socket.

The agent is started on demand by the first client that needs it (``python -m
scriptrun.agent <workspace>``, in its own session so it outlives the client). Concurrent
starters are harmless: the agent holds ``agent.lock`` and a second one exits at once.
Requests are the typed models of :mod:`scriptrun.agent.protocol`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scriptrun import errors
from scriptrun.agent.protocol import Request, Shutdown

START_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 300.0


def send_request(sock_path: str | os.PathLike[str], request: Request | dict[str, Any],
                 timeout: float | None = 60.0) -> Any:
    """Send one request and return the ``result`` of the answer (raising its error)."""
    data = request.model_dump(mode="json") if isinstance(request, Request) else request
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(os.fspath(sock_path))
        sock.sendall(json.dumps(data).encode() + b"\n")
        buf = bytearray()
        while not buf.endswith(b"\n"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionResetError("the agent closed the connection")
            buf += chunk
    answer = json.loads(buf)
    if answer.get("ok"):
        return answer.get("result")
    err = answer.get("error") or {}
    cls = getattr(errors, err.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.ScriptrunError)):
        cls = errors.AgentError
    raise cls(err.get("message", "the agent failed"))


class AgentClient:
    """A client of one workspace's agent, starting the agent when it is not running."""

    def __init__(self, workspace_root: str | os.PathLike[str], socket_path: str | os.PathLike[str]):
        self.root = Path(workspace_root)
        self.socket_path = Path(socket_path)

    def request(self, request: Request) -> Any:
        """Send ``request`` to the agent (starting it if needed) and return its result."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        started = False
        while True:
            try:
                return send_request(self.socket_path, request, timeout=REQUEST_TIMEOUT_SECONDS)
            except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
                if time.monotonic() > deadline:
                    raise errors.AgentError(
                        f"the scriptrun agent for {self.root} did not answer within {START_TIMEOUT_SECONDS:.0f} s; "
                        f"see {self.root / '.scriptrun' / 'agent.log'}") from None
                if not started:
                    self.start_agent()
                    started = True
                time.sleep(0.05)

    def shutdown(self, wait_seconds: float = 15.0) -> dict[str, Any] | None:
        """Ask the agent to stop and wait for it to be gone; None if it was not running.
        Runs keep running: the next agent adopts them."""
        try:
            info = send_request(self.socket_path, Shutdown(), timeout=10)
        except OSError:
            return None
        deadline = time.monotonic() + wait_seconds
        while self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return info

    def start_agent(self) -> None:
        print(f"scriptrun: starting the workspace agent for {self.root} (the first start takes a few seconds)",
              file=sys.stderr, flush=True)
        with open(self.root / ".scriptrun" / "agent.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "scriptrun.agent", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                cwd=str(self.root / ".scriptrun"),
            )
