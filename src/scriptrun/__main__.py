"""``python -m scriptrun``: the command line."""

from scriptrun.cli.main import main

main()
