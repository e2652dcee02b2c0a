"""The scriptrun command line (typer + rich): a thin adapter over the public API."""
