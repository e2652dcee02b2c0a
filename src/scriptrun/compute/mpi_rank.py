"""Run one MPI rank of a job: ``mpirun … python -S mpi_rank.py <logs dir> -- <argv…>``.

Stdlib only, executed as a file under ``mpirun``. It writes the rank's output to
``<logs dir>/rank_<n>.txt`` (``n`` from MPI's own ``OMPI_COMM_WORLD_RANK``/``PMI_RANK``),
expands ``$VAR`` tokens with the rank's environment, forwards SIGTERM/SIGINT, and records
its exit code in ``rank_<n>.exit`` so the supervisor can tell which rank failed first.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def main() -> int:
    logs, argv = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    rank = os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMI_RANK") or "0"
    env = os.environ
    argv = [_VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), a) for a in argv]
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, f"rank_{rank}.txt"), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda s, _f: proc.send_signal(s))
        code = proc.wait()
    with open(os.path.join(logs, f"rank_{rank}.exit"), "w") as fh:
        json.dump({"exit_code": code, "ended": time.time()}, fh)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
