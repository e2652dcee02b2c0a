"""The scriptrun command line (typer + rich): a thin adapter over the public API."""

import os as _os
import sys as _sys

# Not a terminal (CI logs, pipes): typer's usage errors and help as plain text, never boxed and
# hard-wrapped at 80 columns. Read by typer when it is imported, so set before that.
if not _sys.stderr.isatty():
    _os.environ.setdefault("TYPER_USE_RICH", "0")
