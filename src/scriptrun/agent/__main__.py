"""``python -m scriptrun.agent <workspace root>``: run the workspace agent in the foreground."""

import sys

from scriptrun.agent.server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
